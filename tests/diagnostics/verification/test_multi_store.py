"""Several stores as one set of start dates: paths and globs, compatibility and overlap checks, the combined
dataset and its tile-wise reads; the per-date scores and the paired difference interval of a diagnosis."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from hens.diagnostics.aggregate.bootstrap import resample_counts
from hens.diagnostics.aggregate.intervals import difference_interval
from hens.diagnostics.aggregate.tiles import tiled_forecast
from hens.diagnostics.run import run_diagnose
from hens.diagnostics.verification.multi_store import check_compatible, expand_stores, open_stores
from hens.diagnostics.verification.store import open_store
from hens.errors import HensError
from hens.io.manifest import Manifest
from hens.io.store import StoreLayout, StoreWriter, create_store
from hens.io.zarr_open import open_zarr_quiet
from tests.diagnostics.test_run import INITS, NLAT, NLON, _overrides, make_store


def _store(path, dates, *, variables=("a", "b"), nlat=5, n_members=4, seed=0):
    """A small store of random values for ``dates`` (day numbers of January 2001), 3 lead times."""
    inits = np.array([f"2001-01-{d:02d}T00" for d in dates], dtype="datetime64[ns]")
    layout = StoreLayout(
        variables=tuple(variables),
        init_times=inits,
        lead_times=(np.arange(3) * np.timedelta64(6, "h")).astype("timedelta64[ns]"),
        lat=np.linspace(90.0, -90.0, nlat),
        lon=np.arange(8) * 45.0,
        member_coords={"checkpoint": np.array(["c"] * n_members, dtype=object)},
        batch_size=2,
        lead_chunk=2,
    )
    create_store(path, layout)
    writer = StoreWriter(path, tuple(variables))
    rng = np.random.default_rng(seed)
    for i in range(inits.size):
        for v in variables:
            for b in range(0, n_members, 2):
                writer.write_block(v, i, slice(b, b + 2), slice(0, 3), rng.normal(size=(2, 3, nlat, 8)).astype("f4"))
        writer.write_nonfinite(i, slice(0, n_members), np.full(n_members, -1))
    return path


def test_stores_open_as_one_dataset_in_date_order(tmp_path):
    late = _store(tmp_path / "late.zarr", [11, 21], seed=1)
    early = _store(tmp_path / "early.zarr", [1], seed=2)
    stores = open_stores([late, early], "full", False)
    assert stores.paths == (early, late)
    ds = stores.dataset
    assert ds["init_time"].values.tolist() == sorted(ds["init_time"].values.tolist()) and ds.sizes["init_time"] == 3
    for path, index in ((early, [0]), (late, [1, 2])):
        alone = open_store(path)
        np.testing.assert_array_equal(ds["a"].isel(init_time=index).values, alone["a"].values)
        for t in alone["init_time"].values:
            assert stores.store_of[np.datetime64(t, "ns")] == path
    # tile-wise reads take every date from its own store
    tiled = tiled_forecast(stores.source, ds["b"], {"init_time": 1, "member": -1, "lead_time": 2, "lat": 2, "lon": 3})
    np.testing.assert_array_equal(tiled.values, ds["b"].values)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [({"nlat": 7}, "lat"), ({"variables": ("a", "c")}, "variables"), ({"n_members": 6}, "member")],
)
def test_incompatible_store_is_named_with_its_key(tmp_path, kwargs, key):
    first = _store(tmp_path / "first.zarr", [1])
    other = _store(tmp_path / "other.zarr", [2], **kwargs)
    with pytest.raises(HensError, match=rf"store {other} does not match {first}: {key} differs") as err:
        open_stores([first, other], "full", False)
    assert "\n" not in str(err.value)


def test_run_identity_must_agree_apart_from_dates_and_execution(tmp_path):
    paths = [_store(tmp_path / f"s{k}.zarr", [k + 1]) for k in range(2)]
    base = {"seed": 1, "model.checkpoints": ["x"], "ic.start_dates": ["d0"], "device_type": "cuda"}
    Manifest(paths[0]).write_run({"identity": base})
    Manifest(paths[1]).write_run({"identity": {**base, "ic.start_dates": ["d1"], "device_type": "cpu"}})
    datasets = [open_store(p) for p in paths]
    check_compatible(datasets, paths)  # other start dates and another device: one ensemble
    Manifest(paths[1]).write_run({"identity": {**base, "seed": 2}})
    with pytest.raises(HensError, match=rf"store {paths[1]} does not match .*: seed differs \(2 vs 1\)"):
        check_compatible(datasets, paths)


def test_overlapping_start_dates_are_refused(tmp_path):
    a = _store(tmp_path / "a.zarr", [1, 2])
    b = _store(tmp_path / "b.zarr", [2, 3])
    with pytest.raises(HensError, match=rf"start date 2001-01-02T00:00 is in both {a} and {b}"):
        open_stores([a, b], "full", False)


def test_paths_and_globs(tmp_path):
    for name in ("r_2.zarr", "r_1.zarr", "other.zarr"):
        (tmp_path / name).mkdir()
    got = expand_stores([tmp_path / "other.zarr", str(tmp_path / "r_*.zarr"), str(tmp_path / "r_1.zarr")])
    assert [p.name for p in got] == ["other.zarr", "r_1.zarr", "r_2.zarr"]  # pattern sorted, r_1 once
    with pytest.raises(HensError, match="matches no path"):
        expand_stores([str(tmp_path / "none_*.zarr")])
    with pytest.raises(HensError, match="at least one store"):
        expand_stores([])


def test_per_date_scores_match_brute_force(tmp_path):
    store, truth, clim, fields = make_store(tmp_path, n_members=6, n_lead=4, batch=3, lead_chunk=2)
    extra = ("diagnose.spectral.enabled=false", "diagnose.extremes.enabled=false", "diagnose.regions=[global]")
    result = run_diagnose(store, _overrides(truth, clim, *extra))
    ds = open_zarr_quiet(result.scores).load()
    tr = open_zarr_quiet(truth).load()
    w = np.cos(np.deg2rad(np.linspace(90.0, -90.0, NLAT)))
    w[[0, -1]] = 0.0
    for var in ("z500", "u500"):
        f = fields[var].astype(np.float64)
        obs = np.stack([tr[var].sel(time=t0 + ds["lead_time"].values).values for t0 in INITS]).astype(np.float64)
        mse = (((f.mean(axis=1) - obs) ** 2) * w[:, None]).sum(axis=(-2, -1)) / (w.sum() * NLON)  # (init, lead)
        got = ds["scores_by_init_time"].sel(metric="rmse", variable=var, region="global")
        np.testing.assert_allclose(got.transpose("init_time", "lead_time"), np.sqrt(mse), rtol=1e-6)
    assert ds["init_time"].values.tolist() == INITS.tolist()


def _unit_scores(rng, n_units, scale):
    names = ["weight", "squared_error", "error", "crps", "variance", "outlier", "abs_error", "best_member_error"]
    data = rng.uniform(0.5, 1.5, size=(n_units, len(names), 1, 2, 1)) * scale
    data[:, 0] = 1.0 + rng.uniform(size=(n_units, 1, 2, 1))  # weights
    ds = xr.Dataset(
        {"unit_statistics": (("unit", "statistic", "variable", "lead_time", "region"), data)},
        coords={"statistic": names, "metric": ["rmse", "bias", "crps", "spread", "ssr", "outlier_fraction", "x"]},
        attrs={"n_members": 5, "bootstrap_n_resamples": 300, "bootstrap_confidence": 0.9, "bootstrap_seed": 3},
    )
    return ds, {n: data[:, k, 0, :, 0] for k, n in enumerate(names)}


def test_difference_interval_matches_brute_force_paired_resampling():
    rng = np.random.default_rng(0)
    main, a = _unit_scores(rng, 12, 1.0)
    base, b = _unit_scores(rng, 12, 1.3)
    got = difference_interval(main, base)  # (2, metric, variable, lead, region)
    counts = resample_counts(12, 300, 3)
    diffs = {"crps": [], "rmse": []}
    for c in counts:  # one resample at a time, the same draws for both ensembles
        ra = {k: (c[:, None] * v).sum(axis=0) for k, v in a.items()}
        rb = {k: (c[:, None] * v).sum(axis=0) for k, v in b.items()}
        diffs["crps"].append(ra["crps"] / ra["weight"] - rb["crps"] / rb["weight"])
        diffs["rmse"].append(np.sqrt(ra["squared_error"] / ra["weight"]) - np.sqrt(rb["squared_error"] / rb["weight"]))
    order = ["rmse", "bias", "crps"]
    for name, samples in diffs.items():
        expected = np.percentile(np.array(samples), [5.0, 95.0], axis=0)
        np.testing.assert_allclose(got[:, order.index(name), 0, :, 0], expected, rtol=1e-10)
    same = difference_interval(main, main)
    assert np.all(same[np.isfinite(same)] == 0.0)


def test_cli_takes_stores_first_then_overrides():
    from typer.testing import CliRunner

    from hens.cli import app

    out = CliRunner().invoke(app, ["diagnose", "a.zarr", "b.zarr", "diagnose.variables=[z500]", "c.zarr"])
    assert out.exit_code == 2 and "'c.zarr' after the overrides" in out.output
