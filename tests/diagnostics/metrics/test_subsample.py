"""Ensemble-size science: subset sizes, seeded draws, kσ events, members beyond the truth, the sufficient size —
each against a direct float64 loop."""

from __future__ import annotations

import numpy as np
import pytest

from hens.diagnostics.metrics.subsample import (
    fraction_beyond_truth,
    member_subsets,
    sigma_exceedance,
    subset_sizes,
    sufficient_size,
)


def test_subset_sizes_clip_to_the_ensemble_and_add_it():
    assert subset_sizes([10, 50, 100, 500], 64) == (10, 50, 64)
    assert subset_sizes([500, 10, 10, 1], 7424) == (10, 500, 7424)
    assert subset_sizes([10, 50], 8) == (8,)
    assert subset_sizes([8], 8) == (8,)
    with pytest.raises(ValueError, match="at least 2"):
        subset_sizes([2], 1)


def test_member_subsets_are_seeded_distinct_and_stable_under_other_sizes():
    a = member_subsets(40, (5, 12, 40), draws=4, seed=7)
    b = member_subsets(40, (5, 12, 40), draws=4, seed=7)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (3, 4, 40) and a.dtype == np.int64
    for k, size in enumerate((5, 12, 40)):
        for d in range(4):
            row = a[k, d]
            chosen = row[:size]
            assert np.all(row[size:] == -1)
            assert np.unique(chosen).size == size and chosen.min() >= 0 and chosen.max() < 40
            assert np.all(np.diff(chosen) > 0)
    np.testing.assert_array_equal(a[2], np.broadcast_to(np.arange(40), (4, 40)))
    assert len({tuple(a[0, d, :5]) for d in range(4)}) > 1  # the draws differ
    other = member_subsets(40, (5, 12, 40), draws=4, seed=8)
    assert not np.array_equal(a[0], other[0])
    only = member_subsets(40, (12,), draws=4, seed=7)
    np.testing.assert_array_equal(only[0, :, :12], a[1, :, :12])  # adding sizes does not change a size's draws


def test_member_subsets_reject_bad_arguments():
    with pytest.raises(ValueError, match="draws"):
        member_subsets(10, (5,), draws=0, seed=0)
    with pytest.raises(ValueError, match="sizes"):
        member_subsets(10, (11,), draws=1, seed=0)


def _loop_stats(x: np.ndarray) -> tuple[float, float]:
    """Mean and unbiased standard deviation by plain Python sums."""
    m = x.size
    mean = sum(float(v) for v in x) / m
    var = sum((float(v) - mean) ** 2 for v in x) / (m - 1)
    return mean, var**0.5


def test_sigma_exceedance_and_fraction_beyond_truth_against_loops():
    rng = np.random.default_rng(3)
    m, n = 9, 400
    x = rng.normal(size=(m, n)).astype(np.float32)
    y = rng.normal(scale=3.0, size=n)
    x[:, 0] = 1.0  # zero spread, truth elsewhere: beyond every k
    x[:, 1], y[1] = np.linspace(-2.0, 2.0, m), 0.0  # truth exactly at the mean: f = 0
    x[:, 2], y[2] = 2.0, 2.0  # zero spread, truth at the mean: not beyond
    y[3] = np.nan
    exceed = sigma_exceedance(x, y, (3.0, 4.0))
    frac = fraction_beyond_truth(x, y)
    assert exceed.shape == (2, n) and exceed.dtype == bool
    for j in range(n):
        if np.isnan(y[j]):
            assert not exceed[:, j].any() and np.isnan(frac[j])
            continue
        mean, std = _loop_stats(x[:, j].astype(np.float64))
        dist = abs(y[j] - mean)
        for i, k in enumerate((3.0, 4.0)):
            want = dist > k * std if std > 0 else dist > 0
            assert exceed[i, j] == want, (j, k)
        side = (float(y[j]) > mean) - (float(y[j]) < mean)
        count = sum(1 for v in x[:, j] if (float(v) - y[j]) * side > 0)
        assert frac[j] == pytest.approx(count / m, abs=1e-15)
    assert exceed[:, 0].all() and frac[1] == 0.0 and not exceed[:, 2].any()
    assert 0 < exceed[0].sum() < n  # the data have both kinds


def test_fraction_beyond_truth_member_axis_and_nan_member():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 6, 5))
    y = rng.normal(size=(4, 6))
    np.testing.assert_array_equal(
        fraction_beyond_truth(x, y, member_axis=-1), fraction_beyond_truth(np.moveaxis(x, -1, 0), y)
    )
    x[0, 0, 2] = np.nan
    assert np.isnan(fraction_beyond_truth(x, y, member_axis=-1)[0, 0])


def test_sufficient_size_smallest_from_which_on_all_are_within():
    sizes = (10, 50, 100, 500)
    # 10 is 20 % worse, 50 within 5 %, 100 and 500 within: 50
    assert sufficient_size(sizes, np.array([1.2, 1.04, 1.01, 1.0]), 0.05) == 50
    # 10 within by chance but 50 is not: 100 (every larger size must be within too)
    assert sufficient_size(sizes, np.array([1.01, 1.2, 1.03, 1.0]), 0.05) == 100
    # a smaller ensemble scoring better than the full one counts as within
    assert sufficient_size(sizes, np.array([0.9, 0.95, 0.99, 1.0]), 0.0) == 10
    # tolerance 0 and strictly improving: only the full ensemble
    assert sufficient_size(sizes, np.array([1.3, 1.2, 1.1, 1.0]), 0.0) == 500
    # the boundary is inclusive
    assert sufficient_size(sizes, np.array([1.1, 1.1, 1.1, 1.0]), 0.1 + 1e-12) == 10
    batch = np.array([[1.2, 1.04, 1.01, 1.0], [1.0, 1.0, 1.0, np.nan]])
    got = sufficient_size(sizes, batch, 0.05)
    assert got[0] == 50 and np.isnan(got[1])


def test_sufficient_size_rejects_bad_input():
    with pytest.raises(ValueError, match="one value per size"):
        sufficient_size((10, 50), np.ones(3), 0.1)
    with pytest.raises(ValueError, match="increasing"):
        sufficient_size((50, 10), np.ones(2), 0.1)
    with pytest.raises(ValueError, match="tolerance"):
        sufficient_size((10, 50), np.ones(2), -0.1)


@pytest.mark.parametrize(("m", "k", "possible"), [(8, 3.0, False), (10, 3.0, False), (11, 3.0, True), (17, 4.0, False)])
def test_no_member_beyond_a_k_sigma_truth_below_samuelsons_bound(m, k, possible):
    """(M − 1)/√M bounds every member's distance from the mean in s: below k no member is beyond a kσ truth."""
    rng = np.random.default_rng(m)
    x = rng.standard_t(df=2, size=(m, 20000))
    y = x.mean(axis=0) + rng.normal(scale=8.0, size=20000) * x.std(axis=0, ddof=1)
    events = sigma_exceedance(x, y, (k,))[0]
    assert events.sum() > 1000
    assert (((m - 1) / np.sqrt(m)) > k) == possible
    if not possible:
        assert fraction_beyond_truth(x, y)[events].max() == 0.0
