"""Per-block statistics: additive over tiles, and equal to `scores` on the same (weighted) data."""

from __future__ import annotations

import operator

import numpy as np
import pytest
import xarray as xr

from hens.diagnostics.aggregate.block import BlockOptions, add_stats, block_statistics
from hens.diagnostics.metrics.probability import (
    ReliabilityCounts,
    RocCounts,
    brier_decomposition,
    roc_curve_from_counts,
)
from hens.diagnostics.metrics.registry import STATISTICS
from hens.diagnostics.weights import latitude_weights, region_mask

scores_probability = pytest.importorskip("scores.probability")

M, L, NLAT, NLON = 10, 2, 9, 12
LAT = np.linspace(90.0, -90.0, NLAT)
LON = np.arange(NLON) * 30.0


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    centre = rng.normal(size=(L, NLAT, NLON))
    fc = (centre + rng.normal(size=(M, L, NLAT, NLON))).astype(np.float32)
    obs = (centre + 1.2 * rng.normal(size=(L, NLAT, NLON))).astype(np.float32)
    thr = np.stack([np.full((NLAT, NLON), 0.8), np.full((NLAT, NLON), 1.5)])  # [P, lat, lon]
    thr = np.broadcast_to(thr, (L, 2, NLAT, NLON)).copy()
    masks = np.stack([region_mask(LAT, LON, "global"), region_mask(LAT, LON, "tropics")])
    return fc, obs, thr, masks


OPTIONS = BlockOptions(
    n_members=M,
    sigma_edges=(-np.inf, -2.0, -1.0, 0.0, 1.0, 2.0, np.inf),
    n_prob_bins=5,
    prob_thresholds=tuple(np.arange(M + 1) / M),
)


def test_tiles_add_up_to_the_whole():
    fc, obs, thr, masks = _data()
    whole = block_statistics(fc, obs, thr, LAT, masks, OPTIONS)
    parts = []
    for a0, a1 in ((0, 4), (4, 9)):
        for b0, b1 in ((0, 5), (5, 12)):
            parts.append(
                block_statistics(
                    fc[..., a0:a1, b0:b1],
                    obs[..., a0:a1, b0:b1],
                    thr[..., a0:a1, b0:b1],
                    LAT[a0:a1],
                    masks[:, a0:a1, b0:b1],
                    OPTIONS,
                )
            )
    total = parts[0]
    for p in parts[1:]:
        total = add_stats(total, p)
    for key in whole:
        np.testing.assert_allclose(total[key], whole[key], rtol=1e-12, atol=1e-12, err_msg=key)


def _weights() -> xr.DataArray:
    w = latitude_weights(LAT, normalize=False)
    return xr.DataArray(np.broadcast_to(w[:, None], (NLAT, NLON)), dims=("lat", "lon"))


def _xr(fc: np.ndarray, obs: np.ndarray, lead: int) -> tuple[xr.DataArray, xr.DataArray]:
    f = xr.DataArray(fc[:, lead].astype(np.float64), dims=("member", "lat", "lon"))
    o = xr.DataArray(obs[lead].astype(np.float64), dims=("lat", "lon"))
    return f, o


def test_rank_histogram_and_scores_match_scores_library():
    fc, obs, thr, masks = _data(1)
    stats = block_statistics(fc, obs, thr, LAT, masks, OPTIONS)
    for lead in range(L):
        f, o = _xr(fc, obs, lead)
        ref = scores_probability.rank_histogram(f, o, "member", weights=_weights())
        got = stats["rank"][lead, 0] / stats["rank"][lead, 0].sum()
        np.testing.assert_allclose(got, ref.values, rtol=1e-6)
        crps = scores_probability.crps_for_ensemble(f, o, "member", method="fair", weights=_weights())
        np.testing.assert_allclose(stats["crps"][lead, 0] / stats["weight"][lead, 0], crps.values, rtol=1e-6)


def test_brier_and_roc_match_scores_library():
    fc, obs, thr, masks = _data(2)
    stats = block_statistics(fc, obs, thr, LAT, masks, OPTIONS)
    for lead in range(L):
        f, o = _xr(fc, obs, lead)
        for p, t in enumerate((0.8, 1.5)):
            fair = scores_probability.brier_score_for_ensemble(
                f, o, "member", t, fair_correction=True, event_threshold_operator=operator.gt, weights=_weights()
            )
            np.testing.assert_allclose(
                stats["fair_brier"][lead, 0, p] / stats["weight"][lead, 0], fair.values, rtol=1e-6
            )
            plain = scores_probability.brier_score_for_ensemble(
                f, o, "member", t, fair_correction=False, event_threshold_operator=operator.gt, weights=_weights()
            )
            dec = brier_decomposition(ReliabilityCounts(*stats["rel"][lead, 0, p]))
            np.testing.assert_allclose(dec.brier_score, plain.values, rtol=1e-6)

            prob = (f > t).mean("member")
            event = (o > t).astype(float)
            ref = scores_probability.roc_curve_data(
                prob, event, thresholds=list(OPTIONS.prob_thresholds), weights=_weights()
            )
            curve = roc_curve_from_counts(RocCounts(np.asarray(OPTIONS.prob_thresholds), *stats["roc"][lead, 0, p]))
            np.testing.assert_allclose(curve.auc, float(ref["AUC"]), rtol=1e-6)
            np.testing.assert_allclose(curve.pod, ref["POD"].values[: curve.pod.size], rtol=1e-6)  # scores adds (0, 0)


def test_missing_values_and_sigma_bins():
    fc, obs, _, masks = _data(3)
    fc[2, 0, 3, 4] = np.nan
    obs[1, 5, 6] = np.nan
    stats = block_statistics(fc, obs, None, LAT, masks, OPTIONS)
    w = latitude_weights(LAT, normalize=False)
    assert stats["weight"][0, 0] == pytest.approx(w.sum() * NLON - w[3])
    assert stats["weight"][1, 0] == pytest.approx(w.sum() * NLON - w[5])
    for stat in STATISTICS:
        assert np.isfinite(stats[stat.name]).all(), stat.name
    assert stats["rel"].shape == (L, 2, 0, 5, 5)
    # σ-distance: counts sum to the valid weight, and agree with a direct binning
    np.testing.assert_allclose(stats["sigma"].sum(axis=-1), stats["weight"], rtol=1e-12)
    f = fc[:, 1].astype(np.float64)
    z = (obs[1] - f.mean(0)) / f.std(0, ddof=1)
    ok = np.isfinite(z)
    direct = np.histogram(z[ok], bins=np.array(OPTIONS.sigma_edges), weights=np.broadcast_to(w[:, None], z.shape)[ok])[
        0
    ]
    np.testing.assert_allclose(stats["sigma"][1, 0], direct, rtol=1e-12)


def test_unit_sums_add_up_to_the_unchanged_totals():
    from hens.diagnostics.aggregate.block import block_statistics_with_units
    from hens.diagnostics.aggregate.intervals import BootstrapSettings, unit_masks

    fc, obs, thr, masks = _data(3)
    units_mask, label = unit_masks(2, LAT, LON, BootstrapSettings(longitude_blocks=4))
    assert units_mask is not None and units_mask.shape == (4, NLAT, NLON) and "90° longitude sector" in label
    assert np.all(units_mask.sum(axis=0) == 1)  # a partition
    plain = block_statistics(fc, obs, thr, LAT, masks, OPTIONS, seed_key=(5,))
    total, units = block_statistics_with_units(fc, obs, thr, LAT, masks, units_mask, OPTIONS, seed_key=(5,))
    for key in plain:
        np.testing.assert_array_equal(total[key], plain[key])  # the scores do not change
        assert units[key].shape[:3] == (L, 2, 4)
        np.testing.assert_allclose(units[key].sum(axis=2), plain[key], rtol=1e-12, atol=1e-9)
    assert unit_masks(30, LAT, LON, BootstrapSettings())[0] is None
