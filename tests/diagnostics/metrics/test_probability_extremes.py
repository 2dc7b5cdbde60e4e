"""Tests of hens.diagnostics.metrics.probability and .extremes against independent references (scores,
earthkit-meteo, loops)."""

from __future__ import annotations

import operator

import numpy as np
import pytest
import xarray as xr
from scipy.stats import norm

from hens.diagnostics.metrics.extremes import (
    best_member_error,
    efi,
    expected_outlier_fraction,
    outlier_fraction,
    sigma_distance,
    twcrps,
)
from hens.diagnostics.metrics.probability import (
    brier_decomposition,
    brier_score,
    exceedance_probability,
    fair_brier_score,
    reliability_counts,
    reliability_curve,
    reliability_curve_from_counts,
    roc_counts,
    roc_curve,
    roc_curve_from_counts,
)

scores_probability = pytest.importorskip("scores.probability")

RTOL = 1e-6


def _ensemble(seed: int, m: int = 20, shape: tuple[int, ...] = (30, 40)):
    rng = np.random.default_rng(seed)
    centre = rng.normal(size=shape)
    fcst = centre + rng.normal(size=(m,) + shape)
    obs = centre + rng.normal(size=shape)
    return fcst, obs


def _to_xr(fcst: np.ndarray, obs: np.ndarray) -> tuple[xr.DataArray, xr.DataArray]:
    return xr.DataArray(fcst, dims=("member", "y", "x")), xr.DataArray(obs, dims=("y", "x"))


# --------------------------------------------------------------------------------------- probability, Brier


def test_exceedance_probability_matches_loop_and_threshold_shapes():
    fcst, _ = _ensemble(0, m=7, shape=(5, 6))
    thr = np.linspace(-1, 1, 30).reshape(5, 6)
    got = exceedance_probability(fcst, thr)
    for j in range(5):
        for k in range(6):
            assert got[j, k] == sum(fcst[i, j, k] > thr[j, k] for i in range(7)) / 7
    last = exceedance_probability(np.moveaxis(fcst, 0, -1), thr, member_axis=-1)
    np.testing.assert_array_equal(last, got)
    np.testing.assert_array_equal(exceedance_probability(fcst, 0.5), (fcst > 0.5).mean(axis=0))
    holed = fcst.copy()
    holed[2, 1, 1] = np.nan
    assert np.isnan(exceedance_probability(holed, thr)[1, 1])


@pytest.mark.parametrize("fair", [False, True])
def test_brier_matches_scores(fair):
    fcst, obs = _ensemble(1, m=12)
    t = 0.7
    prob = exceedance_probability(fcst, t)
    event = (obs > t).astype(float)
    got = fair_brier_score(prob, event, n_members=12) if fair else brier_score(prob, event)
    xf, xo = _to_xr(fcst, obs)
    ref = scores_probability.brier_score_for_ensemble(
        xf, xo, "member", t, fair_correction=fair, event_threshold_operator=operator.gt, preserve_dims="all"
    )
    np.testing.assert_allclose(got, ref.squeeze().transpose("y", "x").values, rtol=RTOL, atol=1e-12)
    with pytest.raises(ValueError):
        fair_brier_score(prob, event, n_members=1)


# --------------------------------------------------------------------------------------- reliability


def test_reliability_matches_bruteforce_loop():
    rng = np.random.default_rng(2)
    prob = rng.uniform(size=(50, 40))
    event = (rng.uniform(size=prob.shape) < prob**1.5).astype(float)
    w = rng.uniform(0.2, 1.0, size=prob.shape)
    curve = reliability_curve(prob, event, n_bins=10, weights=w)
    n = np.zeros(10)
    sp = np.zeros(10)
    se = np.zeros(10)
    for p, o, wi in zip(prob.ravel(), event.ravel(), w.ravel(), strict=True):
        for b in range(10):
            lo, hi = b / 10, (b + 1) / 10
            if lo <= p < hi or (b == 9 and p == 1.0):
                n[b] += wi
                sp[b] += wi * p
                se[b] += wi * o
    np.testing.assert_allclose(curve.counts, n, rtol=1e-12)
    np.testing.assert_allclose(curve.mean_prob, sp / n, rtol=1e-12)
    np.testing.assert_allclose(curve.obs_frequency, se / n, rtol=1e-12)
    np.testing.assert_allclose(curve.bin_centres, np.arange(0.05, 1.0, 0.1), rtol=1e-12)


def test_reliability_counts_are_additive_and_bin_edges_consistent():
    fcst, obs = _ensemble(3, m=10)
    prob = exceedance_probability(fcst, 0.0)
    event = obs > 0.0
    whole = reliability_counts(prob, event)
    halves = reliability_counts(prob[:13], event[:13]) + reliability_counts(prob[13:], event[13:])
    for a, b in zip(whole, halves, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    # with 10 members and 10 bins each value k/10 is in bin k (k = 10 in the last bin)
    for k in range(11):
        sel = np.isclose(prob, k / 10)
        assert whole.counts[min(k, 9)] >= sel.sum()
    assert whole.counts.sum() == prob.size
    curve = reliability_curve_from_counts(whole)
    np.testing.assert_allclose(curve.mean_prob[:9], np.arange(9) / 10, atol=1e-12)
    # NaN points are skipped; empty bins give NaN
    p2 = np.array([0.05, np.nan, 0.95])
    c2 = reliability_curve(p2, np.array([0.0, 1.0, 1.0]), n_bins=2)
    np.testing.assert_array_equal(c2.counts, [1.0, 1.0])
    assert np.isnan(reliability_curve(np.array([0.1]), np.array([1.0]), n_bins=2).mean_prob[1])


def test_brier_decomposition_is_exact():
    rng = np.random.default_rng(4)
    prob = rng.uniform(size=5000)
    event = (rng.uniform(size=5000) < prob).astype(float)
    dec = brier_decomposition(reliability_counts(prob, event, n_bins=10))
    bs = brier_score(prob, event).mean()
    np.testing.assert_allclose(dec.brier_score, bs, rtol=1e-12)
    recon = dec.reliability - dec.resolution + dec.uncertainty + dec.within_bin_variance
    np.testing.assert_allclose(recon - dec.within_bin_covariance, bs, rtol=1e-10)
    np.testing.assert_allclose(dec.uncertainty, event.mean() * (1 - event.mean()), rtol=1e-12)


# --------------------------------------------------------------------------------------- ROC


@pytest.mark.parametrize("thresholds", [np.linspace(0, 1, 11), np.array([0.05, 0.2, 0.5, 0.8, 0.95])])
def test_roc_matches_scores(thresholds):
    fcst, obs = _ensemble(5, m=20)
    prob = exceedance_probability(fcst, 0.5)
    event = (obs > 0.5).astype(float)
    curve = roc_curve(prob, event, thresholds=thresholds)
    ref = scores_probability.roc_curve_data(
        xr.DataArray(prob, dims=("y", "x")), xr.DataArray(event, dims=("y", "x")), thresholds
    )
    ref_thr = ref["threshold"].values
    for i, t in enumerate(thresholds):
        j = int(np.flatnonzero(ref_thr == t)[0])
        np.testing.assert_allclose(curve.pod[i], ref["POD"].values[j], rtol=RTOL, atol=1e-12)
        np.testing.assert_allclose(curve.pofd[i], ref["POFD"].values[j], rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(curve.auc, float(ref["AUC"]), rtol=RTOL)
    assert 0.5 < curve.auc <= 1.0


def test_roc_counts_additive_and_loop():
    rng = np.random.default_rng(6)
    prob = rng.uniform(size=400).round(2)
    event = rng.uniform(size=400) < prob
    thr = [0.0, 0.1, 0.25, 0.25, 0.5, 1.0]
    c = roc_counts(prob, event, thresholds=thr)
    for i, t in enumerate(thr):
        yes = prob >= t
        assert c.hits[i] == np.sum(yes & event)
        assert c.false_alarms[i] == np.sum(yes & ~event)
        assert c.misses[i] == np.sum(~yes & event)
        assert c.correct_negatives[i] == np.sum(~yes & ~event)
    halves = roc_counts(prob[:150], event[:150], thresholds=thr) + roc_counts(prob[150:], event[150:], thresholds=thr)
    assert roc_curve_from_counts(halves).auc == pytest.approx(roc_curve_from_counts(c).auc, rel=1e-12)
    with pytest.raises(ValueError):
        roc_counts(prob, event, thresholds=[0.5, 0.2])


# --------------------------------------------------------------------------------------- EFI


def _efi_bruteforce(clim: np.ndarray, ens: np.ndarray, levels: np.ndarray, n: int = 400_000) -> np.ndarray:
    """Float64 numerical integration with the substitution p = sin²θ (dp/√(p(1−p)) = 2 dθ), midpoint rule.

    F_f at the stored levels by direct counting, linear in p between them, constant beyond them.
    """
    theta = (np.arange(n) + 0.5) * (np.pi / 2) / n
    p = np.sin(theta) ** 2
    out = np.empty(clim.shape[1])
    for j in range(clim.shape[1]):
        frac = np.array([np.sum(ens[:, j] <= q) for q in clim[:, j]]) / ens.shape[0]
        f_p = np.interp(p, levels, frac)  # np.interp holds the end values beyond the levels
        out[j] = (2 / np.pi) * np.sum((p - f_p) * 2.0) * (np.pi / 2) / n
    return out


def test_efi_matches_bruteforce_integration():
    rng = np.random.default_rng(7)
    k, m, n = 21, 15, 12
    clim = np.sort(rng.gamma(2.0, size=(k, n)), axis=0)
    ens = rng.gamma(2.0, size=(m, n)) * rng.uniform(0.3, 3.0, size=n)
    levels = np.linspace(0, 1, k)
    got = efi(clim, ens)
    np.testing.assert_allclose(got, _efi_bruteforce(clim, ens, levels), rtol=RTOL, atol=1e-7)
    # uneven levels that do not reach 0 and 1
    levels2 = np.sort(np.concatenate([[0.02, 0.98], rng.uniform(0.05, 0.95, size=k - 2)]))
    got2 = efi(clim, ens, quantile_levels=levels2)
    np.testing.assert_allclose(got2, _efi_bruteforce(clim, ens, levels2), rtol=RTOL, atol=1e-7)


def test_efi_matches_earthkit():
    ek = pytest.importorskip("earthkit.meteo.extreme")
    rng = np.random.default_rng(8)
    k, m, n = 101, 51, 300
    clim = np.sort(rng.normal(size=(k, n)), axis=0)
    ens = rng.normal(loc=rng.normal(size=n), scale=rng.uniform(0.2, 2, size=n), size=(m, n))
    # same argument order (clim, ens); earthkit assumes levels linspace(0, 1, K); its default eps=-0.1
    np.testing.assert_allclose(efi(clim, ens), ek.efi(clim, ens), rtol=RTOL, atol=1e-9)
    # members tied with quantiles: both count "at or below"
    tied = clim[rng.integers(0, k, size=(m, n)), np.arange(n)]
    np.testing.assert_allclose(efi(clim, tied), ek.efi(clim, tied), rtol=RTOL, atol=1e-9)


def test_efi_properties_and_axes():
    rng = np.random.default_rng(9)
    k, m, n = 101, 50, 8
    levels = np.linspace(0, 1, k)
    base = np.sort(rng.normal(size=(k, n)), axis=0)
    # members at the climate's own quantiles (midpoints): same distribution
    mids = (np.arange(m) + 0.5) / m
    same = np.stack([np.interp(mids, levels, base[:, j]) for j in range(n)], axis=1)
    assert np.all(np.abs(efi(base, same)) < 0.02)
    above = base[-1] + 1.0 + rng.uniform(size=(m, n))
    below = base[0] - 1.0 - rng.uniform(size=(m, n))
    np.testing.assert_allclose(efi(base, above), 1.0, atol=1e-12)
    np.testing.assert_allclose(efi(base, below), -1.0, atol=1e-12)
    shifted = same + 0.5
    assert np.all(efi(base, shifted) > 0.2)
    # axes: quantiles last, members last; blocking does not change results
    ref = efi(base, shifted)
    np.testing.assert_allclose(efi(base.T, shifted.T, member_axis=-1, quantile_axis=-1), ref, rtol=1e-12)
    np.testing.assert_allclose(efi(base, shifted, block_elements=200), ref, rtol=1e-12)
    holed = shifted.copy()
    holed[0, 3] = np.nan
    out = efi(base, holed)
    assert np.isnan(out[3]) and np.isfinite(np.delete(out, 3)).all()


def test_efi_large_ensemble_fast():
    rng = np.random.default_rng(10)
    levels = np.linspace(0, 1, 101)
    clim = np.repeat(norm.ppf(np.clip(levels, 1e-6, 1 - 1e-6))[:, None], 50, axis=1)
    ens = rng.normal(size=(7424, 50))
    out = efi(clim, ens)
    assert np.all(np.abs(out) < 0.05)
    np.testing.assert_allclose(out[:2], _efi_bruteforce(clim[:, :2], ens[:, :2], levels), rtol=RTOL, atol=1e-7)


# --------------------------------------------------------------------------------------- outliers etc.


def test_outlier_fraction_loop_and_calibrated_rate():
    fcst, obs = _ensemble(11, m=9, shape=(200, 250))
    ind = outlier_fraction(fcst, obs)
    lo, hi = fcst.min(axis=0), fcst.max(axis=0)
    np.testing.assert_array_equal(ind, ((obs < lo) | (obs > hi)).astype(float))
    assert abs(ind.mean() - expected_outlier_fraction(9)) < 0.01
    assert expected_outlier_fraction(7424) == pytest.approx(2 / 7425)


def test_best_member_error_and_sigma_distance():
    fcst, obs = _ensemble(12, m=6, shape=(4, 5))
    bme = best_member_error(fcst, obs)
    sd = sigma_distance(fcst, obs)
    for j in range(4):
        for k in range(5):
            x = fcst[:, j, k]
            assert bme[j, k] == pytest.approx(min(abs(v - obs[j, k]) for v in x), rel=1e-12)
            mu = sum(x) / 6
            s = np.sqrt(sum((v - mu) ** 2 for v in x) / 5)
            assert sd[j, k] == pytest.approx((obs[j, k] - mu) / s, rel=1e-10)
    np.testing.assert_allclose(best_member_error(np.moveaxis(fcst, 0, -1), obs, member_axis=-1), bme)
    assert np.isinf(sigma_distance(np.ones((3, 1)), np.array([2.0]))[0])


@pytest.mark.parametrize("fair", [True, False])
def test_twcrps_matches_scores(fair):
    fcst, obs = _ensemble(13, m=15)
    t = 0.8
    got = twcrps(fcst, obs, t, fair=fair)
    xf, xo = _to_xr(fcst, obs)
    ref = scores_probability.tw_crps_for_ensemble(
        xf,
        xo,
        "member",
        lambda x: np.maximum(x, t),
        method="fair" if fair else "ecdf",
        preserve_dims="all",
    )
    np.testing.assert_allclose(got, ref.transpose("y", "x").values, rtol=RTOL, atol=1e-12)
    # all mass below the threshold and obs below: no penalty
    assert np.all(twcrps(fcst - 100.0, obs - 100.0, t) == 0.0)
    # per-point threshold
    thr = np.full(obs.shape, t)
    np.testing.assert_allclose(twcrps(fcst, obs, thr, fair=fair), got, rtol=1e-12)
