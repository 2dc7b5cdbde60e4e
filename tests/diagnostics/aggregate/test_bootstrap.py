"""The bootstrap against brute-force resampling in float64 loops, and the vectorised count finishes."""

import numpy as np
import pytest

from hens.diagnostics.aggregate.bootstrap import bootstrap_interval, resample_counts
from hens.diagnostics.aggregate.intervals import brier_skill_from_counts, roc_auc_from_counts
from hens.diagnostics.metrics.probability import (
    ReliabilityCounts,
    RocCounts,
    brier_decomposition,
    reliability_counts,
    roc_counts,
    roc_curve_from_counts,
)


def _ratio(s):
    return np.sqrt(s["num"] / s["den"])


def test_interval_matches_brute_force_resampling() -> None:
    rng = np.random.default_rng(1)
    units = {"num": rng.gamma(2.0, size=(7, 5, 3)), "den": rng.uniform(1, 2, size=(7, 5, 3))}
    got = bootstrap_interval(units, _ratio, n_resamples=300, confidence=0.8, seed=11, batch=64)
    # brute force: the same draws, each resample summed unit by unit in a Python loop, then the percentiles
    draws = np.random.default_rng(11).integers(0, 7, size=(300, 7))
    values = np.empty((300, 5, 3))
    for b in range(300):
        num = np.zeros((5, 3))
        den = np.zeros((5, 3))
        for u in draws[b]:
            num += units["num"][u]
            den += units["den"][u]
        values[b] = np.sqrt(num / den)
    expected = np.percentile(values, [10.0, 90.0], axis=0)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    again = bootstrap_interval(units, _ratio, n_resamples=300, confidence=0.8, seed=11, batch=300)
    np.testing.assert_array_equal(got, again)  # same seed → same intervals, whatever the batch
    other = bootstrap_interval(units, _ratio, n_resamples=300, confidence=0.8, seed=12)
    assert not np.array_equal(got, other)


def test_interval_brackets_the_total_and_shrinks_with_units() -> None:
    rng = np.random.default_rng(2)
    few = {"num": rng.normal(1.0, 0.3, size=(5,)), "den": np.ones(5)}
    many = {"num": rng.normal(1.0, 0.3, size=(500,)), "den": np.ones(500)}
    mean = lambda s: s["num"] / s["den"]  # noqa: E731
    lo_f, hi_f = bootstrap_interval(few, mean, n_resamples=2000, confidence=0.9, seed=0)
    lo_m, hi_m = bootstrap_interval(many, mean, n_resamples=2000, confidence=0.9, seed=0)
    assert lo_f < few["num"].mean() < hi_f and lo_m < many["num"].mean() < hi_m
    assert hi_m - lo_m < 0.3 * (hi_f - lo_f)
    assert (hi_m - lo_m) / 2 == pytest.approx(1.645 * 0.3 / np.sqrt(500), rel=0.15)


def test_resample_counts_rows_sum_to_units_and_errors() -> None:
    counts = resample_counts(9, 50, seed=3)
    assert counts.shape == (50, 9) and np.all(counts.sum(axis=1) == 9)
    with pytest.raises(ValueError):
        resample_counts(0, 5, seed=0)
    with pytest.raises(ValueError):
        bootstrap_interval(
            {"a": np.ones((3,)), "b": np.ones((4,))}, lambda s: s["a"], n_resamples=5, confidence=0.9, seed=0
        )


def test_vectorised_brier_skill_and_roc_area_match_the_scalar_ones() -> None:
    rng = np.random.default_rng(4)
    rel, roc, bss, auc = [], [], [], []
    thresholds = np.linspace(0, 1, 9)
    for _ in range(6):
        prob = rng.integers(0, 9, size=400) / 8.0
        event = (rng.uniform(size=400) < 0.2 + 0.5 * prob).astype(float)
        w = rng.uniform(0.2, 1.0, size=400)
        rc = reliability_counts(prob, event, n_bins=10, weights=w)
        dec = brier_decomposition(rc)
        bss.append(1.0 - dec.brier_score / dec.uncertainty)
        oc = roc_counts(prob, event, thresholds=thresholds, weights=w)
        auc.append(roc_curve_from_counts(oc).auc)
        rel.append(np.stack(rc))
        roc.append(np.stack(oc[1:]))
    np.testing.assert_allclose(brier_skill_from_counts(np.stack(rel)), bss, rtol=1e-12)
    np.testing.assert_allclose(roc_auc_from_counts(np.stack(roc)), auc, rtol=1e-12)
    empty = np.zeros((5, 10))
    assert np.isnan(brier_skill_from_counts(empty))
    assert isinstance(ReliabilityCounts(*empty), tuple) and isinstance(RocCounts, type)


def test_percentile_interval_skips_nan_like_numpy() -> None:
    from hens.diagnostics.aggregate.bootstrap import percentile_interval

    rng = np.random.default_rng(5)
    values = rng.normal(size=(101, 4, 3))
    values[rng.uniform(size=values.shape) < 0.3] = np.nan
    values[:, 0, 0] = np.nan
    values[:100, 1, 1] = np.nan  # a single finite resample
    got = percentile_interval(values, 0.9)
    with np.errstate(all="ignore"), __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore")
        expected = np.nanpercentile(values, [5.0, 95.0], axis=0)
    np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)
    with pytest.raises(ValueError):
        percentile_interval(values, 1.0)
