"""Ensemble-size sums of a block against brute force (O(M²) CRPS, loops), the graph against one big block, and the
finish step (size M = the full-ensemble scores; the sufficient size)."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr

from hens.diagnostics.aggregate.block import BlockOptions, block_statistics
from hens.diagnostics.aggregate.scores import METRIC_NAMES, mean_scores
from hens.diagnostics.aggregate.subsample import (
    SubsampleOptions,
    subsample_block_statistics,
    subsample_graph,
)
from hens.diagnostics.aggregate.subsample_scores import SUBSET_METRICS, SubsampleSettings, subsample_dataset
from hens.diagnostics.metrics.subsample import member_subsets

M, L, NLAT, NLON = 12, 3, 5, 6
LAT = np.linspace(80.0, -80.0, NLAT)


def _options(sizes=(3, 7, M), draws=2, seed=1) -> SubsampleOptions:
    return SubsampleOptions(M, tuple(sizes), member_subsets(M, sizes, draws, seed), (1.0, 2.0))


def _data(seed=0):
    rng = np.random.default_rng(seed)
    fc = rng.normal(size=(M, L, NLAT, NLON)).astype(np.float32)
    obs = 1.5 * rng.normal(size=(L, NLAT, NLON))
    fc[4, 1, 2, 3] = np.nan  # one missing member value: that point is left out for every sub-ensemble
    obs[2, 0, 0] = np.nan
    masks = np.stack([np.ones((NLAT, NLON), bool), np.broadcast_to((LAT > 0)[:, None], (NLAT, NLON))])
    return fc, obs, masks


def _brute(x: np.ndarray, y: float) -> dict[str, float]:
    """Per-point values of one sub-ensemble by direct loops in float64 (pairwise O(M²) CRPS)."""
    x = [float(v) for v in x]
    m = len(x)
    skill = sum(abs(v - y) for v in x) / m
    pairs = sum(abs(a - b) for a in x for b in x)
    mean = sum(x) / m
    var = sum((v - mean) ** 2 for v in x) / (m - 1)
    side = (y > mean) - (y < mean)
    return {
        "crps": skill - pairs / (2 * m * (m - 1)),
        "ecdf_crps": skill - pairs / (2 * m * m),
        "variance": var,
        "squared_error": (mean - y) ** 2,
        "outlier": float(y < min(x) or y > max(x)),
        "z": abs(y - mean) / var**0.5,
        "beyond": sum(1 for v in x if (v - y) * side > 0) / m,
    }


def test_block_sums_against_brute_force():
    fc, obs, masks = _data()
    opts = _options()
    got = subsample_block_statistics(fc, obs, LAT, masks, opts)
    w_lat = np.cos(np.deg2rad(LAT))
    for lead in range(L):
        for r in range(2):
            for k, size in enumerate(opts.sizes):
                for d in range(opts.draws):
                    want = dict.fromkeys(("crps", "ecdf_crps", "variance", "squared_error", "outlier"), 0.0)
                    weight = cases = 0.0
                    count, beyond = np.zeros(2), np.zeros(2)
                    for a in range(NLAT):
                        for b in range(NLON):
                            col = fc[:, lead, a, b]
                            if not masks[r, a, b] or np.isnan(obs[lead, a, b]) or np.isnan(col).any():
                                continue
                            p = _brute(col[opts.subsets[k, d, :size]], float(obs[lead, a, b]))
                            weight += w_lat[a]
                            cases += 1
                            for key in want:
                                want[key] += w_lat[a] * p[key]
                            for i, sig in enumerate(opts.sigma_thresholds):
                                if p["z"] > sig:
                                    count[i] += 1
                                    beyond[i] += p["beyond"]
                    assert got["weight"][lead, r] == pytest.approx(weight, rel=1e-12)
                    assert got["cases"][lead, r] == cases
                    for key, value in want.items():
                        assert got[key][lead, r, k, d] == pytest.approx(value, rel=1e-9, abs=1e-12), key
                    np.testing.assert_array_equal(got["sigma_count"][lead, r, k, d], count)
                    np.testing.assert_allclose(got["beyond"][lead, r, k, d], beyond, rtol=1e-12, atol=1e-12)
    assert got["sigma_count"][:, 0, 0].sum() > 0  # the kσ branch was exercised


def test_full_size_matches_the_full_ensemble_scores():
    fc, obs, masks = _data(1)
    opts = _options(draws=3)  # 3 draws, 2 σ thresholds: a reduction over the wrong axis cannot pass
    sums = subsample_block_statistics(fc, obs, LAT, masks, opts)
    block = block_statistics(fc, obs, None, LAT, masks, BlockOptions(M, (-np.inf, 0.0, np.inf), 4, (0.5,)))
    full = mean_scores(block, M)  # (metric, lead, region)
    ds = subsample_dataset(
        {"x": sums},
        lead_time=np.arange(L) * np.timedelta64(6, "h"),
        regions=["global", "north"],
        options=opts,
        settings=SubsampleSettings(seed=1, tolerance=0.05, criterion="ecdf"),
    )
    for name in ("crps", "rmse", "spread", "ssr", "outlier_fraction"):
        mine = ds["subset_scores"].sel(subset_metric=name, variable="x", subset_size=M)
        for d in range(opts.draws):
            np.testing.assert_allclose(mine.isel(draw=d).values, full[METRIC_NAMES.index(name)], rtol=1e-12)
    assert float(ds["subset_scores_spread"].sel(subset_size=M).max()) == 0.0  # one distinct draw
    # a smaller sub-ensemble's ecdf CRPS exceeds its fair CRPS by E|X-X'|/(2M) > 0
    small = ds["subset_scores"].sel(variable="x", subset_size=3)
    assert (small.sel(subset_metric="ecdf_crps") > small.sel(subset_metric="crps")).all()
    means = ds[["subset_beyond_truth", "subset_sigma_count"]].mean("draw", skipna=True)
    np.testing.assert_allclose(ds["subset_beyond_truth_mean"], means["subset_beyond_truth"], rtol=1e-12)
    np.testing.assert_allclose(ds["subset_sigma_count_mean"], means["subset_sigma_count"], rtol=1e-12)
    assert np.isfinite(ds["subset_beyond_truth_mean"].sel(sigma_threshold=1.0)).all()
    assert ds.attrs["ensemble_size_draws"] == 3 and ds.attrs["ensemble_size_seed"] == 1
    assert list(ds["subset_metric"].values) == list(SUBSET_METRICS)
    assert ds["sufficient_size"].dims == ("variable", "region")
    np.testing.assert_array_equal(ds["subset_members"].values, opts.subsets)


def test_sufficient_size_in_the_dataset_uses_the_lead_mean_of_the_criterion():
    opts = _options(sizes=(3, 7, M), draws=1)
    n_lead = 2
    sums = {
        "weight": np.ones((n_lead, 1)),
        "cases": np.ones((n_lead, 1)),
        "crps": np.ones((n_lead, 1, 3, 1)),
        "ecdf_crps": np.array([[1.5, 1.04, 1.0], [1.5, 1.04, 1.0]]).reshape(n_lead, 1, 3, 1),
        "variance": np.ones((n_lead, 1, 3, 1)),
        "squared_error": np.ones((n_lead, 1, 3, 1)),
        "outlier": np.zeros((n_lead, 1, 3, 1)),
        "sigma_count": np.zeros((n_lead, 1, 3, 1, 2)),
        "beyond": np.zeros((n_lead, 1, 3, 1, 2)),
    }
    sums["ecdf_crps"][0, 0, 1, 0] = 9.0  # lead 0 (the initial time) is left out of the lead mean
    lead = np.array([0, 6], dtype="timedelta64[h]")
    for criterion, want in (("ecdf", 7), ("fair", 3)):
        ds = subsample_dataset(
            {"x": sums},
            lead_time=lead,
            regions=["global"],
            options=opts,
            settings=SubsampleSettings(0, 0.05, criterion),
        )
        assert float(ds["sufficient_size"].sel(variable="x", region="global")) == want
    assert ds["sufficient_size_by_lead"].sel(variable="x", region="global").values.tolist() == [3, 3]
    assert np.isnan(ds["subset_beyond_truth"]).all()  # no kσ event: NaN, not 0


def test_graph_over_dates_and_tiles_equals_the_summed_blocks():
    rng = np.random.default_rng(5)
    n_init = 2
    fc = rng.normal(size=(n_init, M, 4, NLAT, NLON)).astype(np.float32)
    obs = rng.normal(size=(n_init, 4, NLAT, NLON))
    masks = np.ones((1, NLAT, NLON), bool)
    coords = {"lat": LAT, "lon": np.arange(NLON) * 60.0}
    fx = xr.DataArray(
        da.from_array(fc, chunks=(1, 4, 2, NLAT, NLON)),
        dims=("init_time", "member", "lead_time", "lat", "lon"),
        coords=coords,
        name="x",
    )
    ox = xr.DataArray(obs, dims=("init_time", "lead_time", "lat", "lon"), coords=coords)
    opts = _options()
    got = subsample_graph(fx, ox, masks, opts, lead_chunk=3, lat_chunk=2, lon_chunk=4).compute()
    want = [subsample_block_statistics(fc[i], obs[i], LAT, masks, opts) for i in range(n_init)]
    for key in want[0]:
        np.testing.assert_allclose(got[key], want[0][key] + want[1][key], rtol=1e-12, atol=1e-12, err_msg=key)
