"""Tests of hens.diagnostics.weights and the metrics crps, ensemble and rank against independent references."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from hens.diagnostics.metrics.crps import ecdf_crps, fair_crps
from hens.diagnostics.metrics.ensemble import (
    ensemble_mean,
    ensemble_mean_squared_error,
    ensemble_variance,
    spread_skill_ratio,
)
from hens.diagnostics.metrics.rank import obs_rank, rank_counts, rank_histogram_counts
from hens.diagnostics.weights import lat_weighted_mean, lat_weighted_sums, latitude_weights, region_mask

scores_probability = pytest.importorskip("scores.probability")
properscoring = pytest.importorskip("properscoring")

RTOL = 1e-6


def _data(seed: int = 0, m: int = 17, shape: tuple[int, ...] = (6, 9), offset: float = 0.0):
    rng = np.random.default_rng(seed)
    fcst = offset + rng.normal(size=(m,) + shape) * rng.uniform(0.5, 2.0, size=shape)
    obs = offset + rng.normal(size=shape) * 1.3
    return fcst, obs


def _pairwise_crps(fcst: np.ndarray, obs: np.ndarray, fair: bool) -> np.ndarray:
    """Brute-force O(M²) float64 reference, members on axis 0."""
    f = fcst.astype(np.float64)
    m = f.shape[0]
    skill = np.abs(f - obs[None]).mean(axis=0)
    pair = np.abs(f[:, None] - f[None, :]).sum(axis=(0, 1))
    k = m * (m - 1) if fair else m * m
    return skill - pair / (2.0 * k)


def _to_xr(fcst: np.ndarray, obs: np.ndarray) -> tuple[xr.DataArray, xr.DataArray]:
    dims = ("y", "x")[: obs.ndim]
    return xr.DataArray(fcst, dims=("member",) + dims), xr.DataArray(obs, dims=dims)


# --------------------------------------------------------------------------------------- weights


def test_latitude_weights_mean_one_and_poles_zero():
    lat = np.linspace(90, -90, 721)
    w = latitude_weights(lat)
    assert w.shape == (721,)
    np.testing.assert_allclose(w.mean(), 1.0, rtol=1e-12)
    assert w[0] == 0.0 and w[-1] == 0.0
    np.testing.assert_allclose(w[360] / w[240], 1.0 / np.cos(np.deg2rad(30.0)), rtol=1e-12)
    raw = latitude_weights(lat, normalize=False)
    np.testing.assert_allclose(raw, np.cos(np.deg2rad(lat)), atol=1e-15)
    with pytest.raises(ValueError):
        latitude_weights([95.0])


def test_region_masks_partition_globe():
    lat = np.linspace(90, -90, 721)
    lon = np.arange(0, 360, 0.25)
    trop = region_mask(lat, lon, "tropics")
    north = region_mask(lat, lon, "northern_extratropics")
    south = region_mask(lat, lon, "Southern_Extratropics")
    glob = region_mask(lat, lon, "global")
    assert trop.shape == (721, 1440) and glob.all()
    total = trop.astype(int) + north + south
    assert (total == 1).all()
    assert trop[lat == 20.0].all() and trop[lat == -20.0].all()
    assert north[lat == 20.25].all() and not north[lat == 20.0].any()
    with pytest.raises(ValueError):
        region_mask(lat, lon, "arctic")


@pytest.mark.parametrize("lon", [np.arange(0, 360, 1.0), np.arange(-180, 180, 1.0)])
def test_region_box_wraps_longitude(lon):
    lat = np.arange(-90, 91, 1.0)
    for box in [(30, 60, 350, 10), (30, 60, -10, 10)]:
        mask = region_mask(lat, lon, box)
        lon_sel = np.mod(lon, 360)
        expected_lon = (lon_sel >= 350) | (lon_sel <= 10)
        expected_lat = (lat >= 30) & (lat <= 60)
        np.testing.assert_array_equal(mask, expected_lat[:, None] & expected_lon[None, :])
    plain = region_mask(lat, lon, (-10, 10, 100, 120))
    assert plain.sum() == 21 * 21
    assert region_mask(lat, lon, (0, 0, -180, 180)).sum() == lon.size
    with pytest.raises(ValueError):
        region_mask(lat, lon, (10, -10, 0, 20))


def test_lat_weighted_mean_matches_loop_and_is_additive():
    rng = np.random.default_rng(3)
    lat = np.linspace(90, -90, 19)
    lon = np.arange(0, 360, 20.0)
    field = rng.normal(size=(3, 19, 18))
    mask = region_mask(lat, lon, (-40, 50, 300, 40))
    got = lat_weighted_mean(field, lat, mask=mask)
    for t in range(3):
        num = den = 0.0
        for j in range(19):
            for k in range(18):
                if mask[j, k]:
                    wj = np.cos(np.deg2rad(lat[j]))
                    num += wj * field[t, j, k]
                    den += wj
        np.testing.assert_allclose(got[t], num / den, rtol=1e-12)
    # chunk additivity over latitude
    s1, w1 = lat_weighted_sums(field[:, :7], lat[:7], mask=mask[:7])
    s2, w2 = lat_weighted_sums(field[:, 7:], lat[7:], mask=mask[7:])
    np.testing.assert_allclose((s1 + s2) / (w1 + w2), got, rtol=1e-12)
    # other axis layout and NaN skipping
    moved = np.moveaxis(field, 0, -1)
    np.testing.assert_allclose(lat_weighted_mean(moved, lat, mask=mask, lat_axis=0, lon_axis=1), got)
    holed = field.copy()
    holed[:, 5, 3] = np.nan
    assert np.isnan(lat_weighted_mean(holed, lat)).all()
    assert np.isfinite(lat_weighted_mean(holed, lat, skipna=True)).all()


# --------------------------------------------------------------------------------------- mean / variance


def test_mean_variance_mse():
    fcst, obs = _data(1)
    np.testing.assert_allclose(ensemble_mean(fcst), fcst.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(ensemble_variance(fcst), fcst.var(axis=0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(ensemble_mean_squared_error(fcst, obs), (fcst.mean(axis=0) - obs) ** 2, rtol=1e-12)
    last = np.moveaxis(fcst, 0, -1)
    np.testing.assert_allclose(ensemble_variance(last, member_axis=-1), ensemble_variance(fcst), rtol=1e-12)
    with pytest.raises(ValueError):
        ensemble_variance(fcst[:1])


# --------------------------------------------------------------------------------------- CRPS


@pytest.mark.parametrize("m", [2, 3, 17, 64])
def test_fair_crps_matches_pairwise_and_scores(m):
    fcst, obs = _data(m, m=m)
    got = fair_crps(fcst, obs)
    np.testing.assert_allclose(got, _pairwise_crps(fcst, obs, fair=True), rtol=RTOL, atol=1e-12)
    xf, xo = _to_xr(fcst, obs)
    ref = scores_probability.crps_for_ensemble(xf, xo, "member", method="fair", preserve_dims="all")
    np.testing.assert_allclose(got, ref.transpose("y", "x").values, rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("m", [1, 5, 40])
def test_ecdf_crps_matches_properscoring_and_scores(m):
    fcst, obs = _data(100 + m, m=m)
    got = ecdf_crps(fcst, obs)
    np.testing.assert_allclose(got, _pairwise_crps(fcst, obs, fair=False), rtol=RTOL, atol=1e-12)
    ref_ps = properscoring.crps_ensemble(obs, np.moveaxis(fcst, 0, -1), axis=-1)
    np.testing.assert_allclose(got, ref_ps, rtol=RTOL, atol=1e-12)
    xf, xo = _to_xr(fcst, obs)
    ref = scores_probability.crps_for_ensemble(xf, xo, "member", method="ecdf", preserve_dims="all")
    np.testing.assert_allclose(got, ref.transpose("y", "x").values, rtol=RTOL, atol=1e-12)


def test_crps_member_axis_offsets_float32_and_nan():
    fcst, obs = _data(7, m=33, offset=290.0)
    ref = _pairwise_crps(fcst, obs, fair=True)
    # large offset (K) does not cost accuracy because members are centred on obs before sorting
    np.testing.assert_allclose(fair_crps(fcst, obs), ref, rtol=1e-9)
    last = np.moveaxis(fcst, 0, -1)
    np.testing.assert_allclose(fair_crps(last, obs, member_axis=-1), ref, rtol=1e-9)
    mid = np.moveaxis(fcst, 0, 1)
    np.testing.assert_allclose(fair_crps(mid, obs, member_axis=1), ref, rtol=1e-9)
    f32 = fair_crps(fcst.astype(np.float32), obs.astype(np.float32))
    assert f32.dtype == np.float64
    np.testing.assert_allclose(f32, ref, rtol=1e-3)
    holed = fcst.copy()
    holed[3, 2, 2] = np.nan
    out = fair_crps(holed, obs)
    assert np.isnan(out[2, 2]) and np.isfinite(np.delete(out.ravel(), 2 * 9 + 2)).all()
    with pytest.raises(ValueError):
        fair_crps(fcst[:1], obs)


def test_fair_crps_large_ensemble_is_fast_and_exact():
    rng = np.random.default_rng(11)
    m = 7424
    fcst = rng.normal(size=(m, 40))
    obs = rng.normal(size=40)
    got = fair_crps(fcst, obs)
    # reference: pairwise sum in float64 on two points (O(M²) per point, in row blocks)
    for j in (0, 39):
        x = fcst[:, j]
        pair = sum(np.abs(x[i : i + 1024, None] - x[None, :]).sum() for i in range(0, m, 1024))
        ref = np.abs(x - obs[j]).mean() - pair / (2.0 * m * (m - 1))
        np.testing.assert_allclose(got[j], ref, rtol=1e-9)


# --------------------------------------------------------------------------------------- rank histogram


def test_rank_histogram_matches_scores_without_ties():
    fcst, obs = _data(21, m=9, shape=(40, 30))
    counts = rank_histogram_counts(fcst, obs)
    assert counts.shape == (10,)
    assert counts.sum() == obs.size
    xf, xo = _to_xr(fcst, obs)
    ref = scores_probability.rank_histogram(xf, xo, "member")
    np.testing.assert_allclose(counts / counts.sum(), ref.values, rtol=RTOL, atol=1e-12)
    ranks = obs_rank(fcst, obs)
    np.testing.assert_array_equal(ranks, (fcst < obs[None]).sum(axis=0))
    np.testing.assert_array_equal(rank_counts(ranks, 9), counts)


def test_rank_histogram_ties_split_matches_scores_and_weights():
    rng = np.random.default_rng(5)
    fcst = rng.integers(0, 4, size=(6, 50, 20)).astype(float)
    obs = rng.integers(0, 4, size=(50, 20)).astype(float)
    xf, xo = _to_xr(fcst, obs)
    ref = scores_probability.rank_histogram(xf, xo, "member")
    split = rank_histogram_counts(fcst, obs, tie_break="split")
    np.testing.assert_allclose(split / split.sum(), ref.values, rtol=RTOL, atol=1e-12)
    w = latitude_weights(np.linspace(-80, 80, 50))[:, None] * np.ones((1, 20))
    ref_w = scores_probability.rank_histogram(xf, xo, "member", weights=xr.DataArray(w, dims=("y", "x")))
    split_w = rank_histogram_counts(fcst, obs, tie_break="split", weights=w)
    np.testing.assert_allclose(split_w / split_w.sum(), ref_w.values, rtol=RTOL, atol=1e-12)


def test_rank_random_tie_break_is_seeded_and_unbiased():
    m = 4
    fcst = np.zeros((m, 20000))
    obs = np.zeros(20000)
    r1 = obs_rank(fcst, obs, seed=42)
    r2 = obs_rank(fcst, obs, seed=42)
    np.testing.assert_array_equal(r1, r2)
    assert r1.min() == 0 and r1.max() == m
    freq = rank_counts(r1, m) / r1.size
    np.testing.assert_allclose(freq, 1.0 / (m + 1), atol=0.02)
    assert (obs_rank(fcst, obs, tie_break="low") == 0).all()
    assert (obs_rank(fcst, obs, tie_break="high") == m).all()
    holed = fcst.copy()
    holed[0, 0] = np.nan
    ranks = obs_rank(holed, obs, seed=0)
    assert ranks[0] == -1
    assert rank_counts(ranks, m).sum() == obs.size - 1
    with pytest.raises(ValueError):
        obs_rank(fcst, obs, tie_break="middle")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------- spread–skill


def test_spread_skill_ratio_formula():
    np.testing.assert_allclose(spread_skill_ratio(4.0, 4.0 * 11 / 10, 10), 1.0, rtol=1e-12)
    np.testing.assert_allclose(spread_skill_ratio(1.0, 4.0, 3), np.sqrt(4 / 3) / 2.0, rtol=1e-12)


@pytest.mark.parametrize("m", [5, 50])
def test_spread_skill_ratio_calibrated_ensemble_is_one(m):
    rng = np.random.default_rng(m)
    n = 400_000 // m
    # truth and members exchangeable: drawn from the same (point-dependent) distribution
    centre = rng.normal(size=n) * 3.0
    scale = rng.uniform(0.5, 2.0, size=n)
    fcst = centre + scale * rng.normal(size=(m, n))
    truth = centre + scale * rng.normal(size=n)
    var = ensemble_variance(fcst).mean()
    mse = ensemble_mean_squared_error(fcst, truth).mean()
    ssr = spread_skill_ratio(var, mse, m)
    assert abs(ssr - 1.0) < 0.02
    # without the correction a small ensemble looks under-dispersive
    if m == 5:
        assert np.sqrt(var / mse) < 0.95


def test_fair_crps_maps_over_dask_chunks_with_apply_ufunc():
    pytest.importorskip("dask")
    fcst, obs = _data(31, m=12, shape=(8, 10))
    xf, xo = _to_xr(fcst, obs)
    out = xr.apply_ufunc(
        fair_crps,
        xf.chunk({"y": 3, "x": 5}),
        xo.chunk({"y": 3, "x": 5}),
        input_core_dims=[["member"], []],
        kwargs={"member_axis": -1},
        dask="parallelized",
        output_dtypes=[np.float64],
    )
    np.testing.assert_allclose(out.compute().values, fair_crps(fcst, obs), rtol=1e-12)
