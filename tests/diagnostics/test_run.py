"""End-to-end `run_diagnose` on small synthetic stores: outputs, known answers, excluded members."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from hens.diagnostics.run import default_output_dir, run_diagnose
from hens.diagnostics.verification.climatology import build_climatology
from hens.io.store import StoreLayout, StoreWriter, create_store
from hens.io.zarr_open import open_zarr_quiet, quiet_zarr

VARIABLES = ("z500", "u500")
SCALE = {"z500": 300.0, "u500": 5.0}
NLAT, NLON = 9, 16
INITS = np.array(["2000-03-01T00", "2000-03-15T00"], dtype="datetime64[ns]")


def make_store(
    root: Path,
    *,
    n_members: int = 8,
    n_lead: int = 5,
    batch: int = 4,
    lead_chunk: int = 3,
    mode: str = "calibrated",
    nan_member: int | None = None,
    demo_attrs: bool = False,
    seed: int = 0,
) -> tuple[Path, Path, Path, dict[str, np.ndarray]]:
    """A store, its verification Zarr and a climatology Zarr on a 9×16 equiangular grid.

    ``mode``: ``"calibrated"`` (truth and members exchangeable), ``"perfect"`` (members equal the truth).
    ``nan_member``: that member of the first start date is NaN from lead index 2 and flagged non-finite.
    Returns the paths and the member fields per variable ``[init, member, lead, lat, lon]``.
    """
    rng = np.random.default_rng(seed)
    lat = np.linspace(90.0, -90.0, NLAT)
    lon = np.arange(NLON) * 360.0 / NLON
    leads = (np.arange(n_lead) * np.timedelta64(6, "h")).astype("timedelta64[ns]")
    times = np.arange(np.datetime64("1999-01-01T00"), np.datetime64("2000-06-01T00"), np.timedelta64(6, "h"))
    times = times.astype("datetime64[ns]")
    smooth = np.cos(np.deg2rad(lat))[:, None] * np.sin(np.deg2rad(lon))[None, :]
    truth = {
        v: (SCALE[v] * (2.0 * smooth + rng.normal(size=(times.size, NLAT, NLON)))).astype(np.float32) for v in VARIABLES
    }
    units = {"z500": "m2 s-2", "u500": "m s-1"}
    tds = xr.Dataset(
        {v: (("time", "lat", "lon"), truth[v], {"units": units[v]}) for v in VARIABLES},
        coords={"time": times, "lat": lat, "lon": lon},
    )
    truth_path, clim_path = root / "truth.zarr", root / "clim.zarr"
    with quiet_zarr():
        tds.to_zarr(truth_path, mode="w", zarr_format=3, consolidated=False)
        build_climatology(
            tds, percentiles=(90.0, 99.0), quantile_levels=np.linspace(0, 1, 21), by_month=True, by_hour=False
        ).to_zarr(clim_path, mode="w", zarr_format=3, consolidated=False)
    attrs = {"hens_fingerprint": "synthetic"}
    if demo_attrs:
        attrs["hens_initial_conditions"] = json.dumps({"source": "demo", "demo_world": {}, "fingerprint": "x"})
    layout = StoreLayout(
        variables=VARIABLES,
        init_times=INITS,
        lead_times=leads,
        lat=lat,
        lon=lon,
        member_coords={
            "checkpoint": np.array(["a"] * n_members, dtype=object),
            "sign": np.ones(n_members, dtype=np.int8),
        },
        batch_size=batch,
        lead_chunk=lead_chunk,
        attrs=attrs,
    )
    store = root / "ens.zarr"
    create_store(store, layout)
    writer = StoreWriter(store, VARIABLES)
    fields = {v: np.empty((INITS.size, n_members, n_lead, NLAT, NLON), dtype=np.float32) for v in VARIABLES}
    for i, t0 in enumerate(INITS):
        idx = np.searchsorted(times, t0 + leads)
        for v in VARIABLES:
            obs = truth[v][idx].astype(np.float64)
            if mode == "perfect":
                f = np.broadcast_to(obs, (n_members, *obs.shape)).copy()
            else:
                # truth y = μ + d with d ~ N(0, S²). Draw the "signal" s from its law given y when s ~ N(μ, S²/2)
                # and y | s ~ N(s, S²/2): s | y ~ N(μ + d/2, S²/4); members are s + N(0, S²/2), exchangeable with y.
                mu = 2.0 * SCALE[v] * smooth
                sig = mu + 0.5 * (obs - mu) + rng.normal(size=obs.shape) * SCALE[v] / 2.0
                f = sig + rng.normal(size=(n_members, *obs.shape)) * SCALE[v] / np.sqrt(2.0)
            f = f.astype(np.float32)
            if nan_member is not None and i == 0:
                f[nan_member, 2:] = np.nan
            fields[v][i] = f
            for b in range(0, n_members, batch):
                for l0 in range(0, n_lead, lead_chunk):
                    sl = slice(l0, min(n_lead, l0 + lead_chunk))
                    writer.write_block(v, i, slice(b, b + batch), sl, f[b : b + batch, sl])
        flags = np.full(n_members, -1)
        if nan_member is not None and i == 0:
            flags[nan_member] = 2
        for b in range(0, n_members, batch):
            writer.write_nonfinite(i, slice(b, b + batch), flags[b : b + batch])
    return store, truth_path, clim_path, fields


def _overrides(truth: Path, clim: Path, *extra: str) -> list[str]:
    return [
        f"diagnose.verification.path={truth}",
        f"diagnose.climatology.path={clim}",
        "progress=false",
        "diagnose.extremes.percentiles=[90,99]",
        *extra,
    ]


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    root = tmp_path_factory.mktemp("calibrated")
    store, truth, clim, fields = make_store(root, n_members=16, n_lead=9, mode="calibrated")
    result = run_diagnose(store, _overrides(truth, clim))
    return store, truth, clim, fields, result


def test_outputs_dims_and_files(calibrated):
    store, _, _, _, result = calibrated
    assert result.output_dir == default_output_dir(store) == store.parent / "ens.diagnostics"
    assert result.scores.name == "scores.zarr" and result.scores.is_dir()
    assert result.report.is_file() and result.html.is_file()
    names = {p.name for p in result.plots}
    assert {
        "scores_vs_lead.png",
        "rank_histograms.png",
        "spectra.png",
        "reliability.png",
        "roc.png",
        "efi_map.png",
        "outliers_sigma.png",
    } <= names
    assert all(p.stat().st_size > 10_000 for p in result.plots)
    text = result.report.read_text()
    assert "calibrated" in text and "plots/spectra.png" in text

    ds = open_zarr_quiet(result.scores)
    assert ds["scores"].dims == ("metric", "variable", "lead_time", "region")
    assert list(ds["metric"].values) == ["rmse", "bias", "crps", "spread", "ssr", "outlier_fraction", "best_member_mae"]
    assert set(ds["variable"].values) == set(VARIABLES)
    assert list(ds["region"].values) == ["global", "tropics", "northern_extratropics", "southern_extratropics"]
    assert ds.sizes["lead_time"] == 9 and ds["lead_time"].dtype.kind == "m"
    assert ds["rank_histogram"].dims == ("variable", "lead_time", "region", "rank") and ds.sizes["rank"] == 17
    assert ds["power_spectrum"].dims == ("spectrum", "variable", "lead_time", "degree")
    assert list(ds["spectrum"].values) == ["members", "ensemble_mean", "truth"]
    assert ds["roc_auc"].dims == ("percentile", "variable", "lead_time", "region")
    assert ds["efi"].dims == ("variable", "init_time", "map_lead_time", "lat", "lon")
    assert ds.attrs["n_members"] == 16
    np.testing.assert_allclose(ds["rank_histogram"].sum("rank"), 1.0)
    assert np.isfinite(ds["efi"]).all() and (np.abs(ds["efi"]) <= 1).all()
    assert result.n_members == 16 and result.n_excluded == 0 and "hens diagnose: 2 start date(s)" in result.summary()


def test_scores_match_brute_force(calibrated):
    """RMSE, bias, spread, CRPS (vs properscoring's fair-corrected form) and SSR recomputed directly."""
    store, truth_path, _, fields, result = calibrated
    ds = open_zarr_quiet(result.scores).load()
    truth = open_zarr_quiet(truth_path).load()
    lat = np.linspace(90.0, -90.0, NLAT)
    w = np.cos(np.deg2rad(lat))
    w[[0, -1]] = 0.0
    w2 = np.broadcast_to(w[:, None], (NLAT, NLON))
    m = 16
    for v in VARIABLES:
        f = fields[v].astype(np.float64)  # [init, member, lead, lat, lon]
        lead = ds["lead_time"].values
        obs = np.stack([truth[v].sel(time=t0 + lead).values for t0 in INITS]).astype(np.float64)
        mean = f.mean(axis=1)
        wmean = lambda x: (x * w2).sum(axis=(-2, -1)).sum(axis=0) / (w2.sum() * x.shape[0])  # noqa: E731
        mse = wmean((mean - obs) ** 2)
        var = wmean(f.var(axis=1, ddof=1))
        pair = np.abs(f[:, :, None] - f[:, None, :]).sum(axis=(1, 2)) / (2 * m * (m - 1))
        crps = wmean(np.abs(f - obs[:, None]).mean(axis=1) - pair)
        s = ds["scores"].sel(variable=v, region="global")
        np.testing.assert_allclose(s.sel(metric="rmse"), np.sqrt(mse), rtol=1e-6)
        np.testing.assert_allclose(s.sel(metric="bias"), wmean(mean - obs), rtol=1e-6, atol=1e-9 * SCALE[v])
        np.testing.assert_allclose(s.sel(metric="spread"), np.sqrt(var), rtol=1e-6)
        np.testing.assert_allclose(s.sel(metric="crps"), crps, rtol=1e-6)
        np.testing.assert_allclose(s.sel(metric="ssr"), np.sqrt((m + 1) / m * var / mse), rtol=1e-6)
        outside = (obs < f.min(axis=1)) | (obs > f.max(axis=1))
        np.testing.assert_allclose(s.sel(metric="outlier_fraction"), wmean(outside.astype(float)), rtol=1e-6)


def test_calibrated_ensemble_is_judged_calibrated(calibrated):
    *_, result = calibrated
    ds = open_zarr_quiet(result.scores).load()
    ssr = ds["scores"].sel(metric="ssr", region="global").mean("lead_time")
    assert np.all(np.abs(ssr - 1.0) < 0.1), ssr.values
    assert result.verdicts[0].startswith("calibrated [global]: yes")
    # members keep the truth's spectrum; the ensemble mean has less small-scale power
    # (the truth's spectrum is one sample per start date and lead: compare power summed over degrees ≥ 2)
    spec = ds["power_spectrum"].isel(degree=slice(2, None)).sum(["degree", "lead_time"])
    ratio = spec.sel(spectrum="members") / spec.sel(spectrum="truth")
    assert np.all(np.abs(np.log(ratio)) < 0.3), ratio.values
    assert np.all(spec.sel(spectrum="ensemble_mean") < 0.8 * spec.sel(spectrum="members"))


def test_perfect_ensemble_scores_zero(tmp_path):
    store, truth, clim, _ = make_store(tmp_path, n_members=4, n_lead=3, batch=2, lead_chunk=2, mode="perfect")
    result = run_diagnose(
        store,
        _overrides(
            truth,
            clim,
            "diagnose.spectral.enabled=false",
            f"diagnose.output_dir={tmp_path / 'out'}",
            "diagnose.format=netcdf",
        ),
    )
    assert result.output_dir == tmp_path / "out" and result.scores.name == "scores.nc"
    ds = xr.open_dataset(result.scores, engine="scipy").load()
    for metric in ("rmse", "bias", "crps", "spread", "best_member_mae"):
        np.testing.assert_allclose(ds["scores"].sel(metric=metric).values, 0.0, atol=1e-6)
    assert "power_spectrum" not in ds


def test_nan_member_is_excluded(tmp_path):
    store, truth, clim, fields = make_store(tmp_path, n_members=6, n_lead=4, batch=2, lead_chunk=2, nan_member=1)
    result = run_diagnose(
        store,
        _overrides(
            truth, clim, "diagnose.spectral.enabled=false", "diagnose.variables=[z500]", "diagnose.regions=[global]"
        ),
    )
    assert result.n_members == 5 and result.n_excluded == 2  # the NaN member, and one surplus at date 2
    ds = open_zarr_quiet(result.scores).load()
    assert np.isfinite(ds["scores"]).all()
    assert ds.sizes["rank"] == 6
    excluded = json.loads(ds.attrs["excluded_members"])
    assert excluded == {"2000-03-01T00:00": {"1": "non-finite from lead index 2"}, "2000-03-15T00:00": {"5": "surplus"}}
    # known answer: the ensemble-mean RMSE of the kept members
    f = fields["z500"].astype(np.float64)
    kept = np.stack([f[0, [0, 2, 3, 4, 5]], f[1, :5]])
    tr = open_zarr_quiet(truth).load()["z500"]
    obs = np.stack([tr.sel(time=t0 + ds["lead_time"].values).values for t0 in INITS]).astype(np.float64)
    w = np.cos(np.deg2rad(np.linspace(90.0, -90.0, NLAT)))
    w[[0, -1]] = 0.0
    err = (kept.mean(axis=1) - obs) ** 2
    mse = (err * w[:, None]).sum(axis=(-2, -1)).mean(axis=0) / (w.sum() * NLON)
    np.testing.assert_allclose(
        ds["scores"].sel(metric="rmse", variable="z500", region="global"), np.sqrt(mse), rtol=1e-6
    )


@pytest.mark.e2e
def test_chunking_and_scheduler_do_not_change_results(tmp_path):
    store, truth, clim, _ = make_store(tmp_path, n_members=6, n_lead=5, batch=3, lead_chunk=3)
    base = _overrides(truth, clim, "diagnose.spectral.enabled=false", "+diagnose.boxes.box=[-30,60,350,90]")
    a = run_diagnose(store, [*base, f"diagnose.output_dir={tmp_path / 'a'}"])
    b = run_diagnose(
        store,
        [
            *base,
            f"diagnose.output_dir={tmp_path / 'b'}",
            "diagnose.chunks.lead_time=2",
            "diagnose.chunks.lat=4",
            "diagnose.chunks.lon=5",
            "diagnose.dask.scheduler=synchronous",
        ],
    )
    da_, db = open_zarr_quiet(a.scores).load(), open_zarr_quiet(b.scores).load()
    assert "box" in da_["region"].values
    for name in (
        "scores",
        "rank_histogram",
        "sigma_histogram",
        "brier_score",
        "roc_auc",
        "reliability_count",
        "efi",
        "best_member_error_map",
    ):
        xr.testing.assert_allclose(da_[name], db[name], rtol=1e-9)


def test_selection(tmp_path):
    store, truth, clim, _ = make_store(tmp_path, n_members=4, n_lead=5, batch=2, lead_chunk=2)
    result = run_diagnose(
        store,
        _overrides(
            truth,
            clim,
            "diagnose.variables=[u500]",
            "diagnose.lead_times=[6,24]",
            "diagnose.start_dates=['2000-03-15T00:00']",
            "diagnose.regions=[tropics]",
            "diagnose.extremes.enabled=false",
        ),
    )
    ds = open_zarr_quiet(result.scores)
    assert list(ds["variable"].values) == ["u500"] and list(ds["region"].values) == ["tropics"]
    assert (ds["lead_time"].values / np.timedelta64(1, "h")).tolist() == [6.0, 24.0]
    assert result.n_init_times == 1 and "efi" not in ds and ds.sizes["percentile"] == 0


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return make_store(root, n_members=4, n_lead=3, batch=2, lead_chunk=2)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["diagnose.variables=[t2m]"], "diagnose.variables"),
        (["diagnose.lead_times=[7]"], "diagnose.lead_times"),
        (["diagnose.start_dates=['2001-01-01T00:00']"], "diagnose.start_dates"),
        (["+diagnose.boxes.nowhere=[1,2,3,4]", "diagnose.regions=[global]"], "diagnose.boxes.nowhere"),
        (["diagnose.extremes.map_lead_times=[5]"], "diagnose.extremes.map_lead_times"),
        (["diagnose.extremes.percentiles=[50]"], "diagnose.extremes.percentiles"),
        (["diagnose.spectral.grid=legendre-gauss"], "diagnose.spectral"),
    ],
)
def test_selection_errors_name_the_key(tiny, extra, needle):
    from hens.errors import HensError

    store, truth, clim, _ = tiny
    with pytest.raises(HensError) as err:
        run_diagnose(store, _overrides(truth, clim, *extra))
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_missing_inputs_are_explained(tiny, tmp_path):
    from hens.errors import HensError, StoreError

    store, truth, clim, _ = tiny
    with pytest.raises(StoreError, match="does not exist"):
        run_diagnose(tmp_path / "nope.zarr", [])
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError, match="not a Zarr store"):
        run_diagnose(tmp_path / "empty", [])
    with pytest.raises(HensError, match="diagnose.verification.path"):
        run_diagnose(store, ["progress=false"])  # not a demo-world store: no verification is known
    with pytest.raises(HensError, match="diagnose.climatology.path"):
        run_diagnose(store, [f"diagnose.verification.path={truth}", "progress=false"])
    short = open_zarr_quiet(truth).isel(time=slice(0, 10))
    with quiet_zarr():
        short.to_zarr(tmp_path / "short.zarr", mode="w", zarr_format=3, consolidated=False)
    with pytest.raises(HensError, match="no data at valid time"):
        run_diagnose(
            store,
            [
                f"diagnose.verification.path={tmp_path / 'short.zarr'}",
                "progress=false",
                "diagnose.extremes.enabled=false",
            ],
        )


@pytest.mark.parametrize("source", ["auto", "truth"])
def test_demo_world_store_finds_its_truth_and_climatology(cache_dir, tmp_path, source):
    """A store whose metadata names the demo world needs no overrides: truth and climatology come from it
    (the shipped climatology for the default world, or one built from its truth)."""
    from dataclasses import asdict

    from hens.demo.world import DemoWorldSpec, truth_dataset

    spec = DemoWorldSpec()
    init = np.array(["2000-01-03T00"], dtype="datetime64[ns]")
    leads = (np.arange(3) * np.timedelta64(6, "h")).astype("timedelta64[ns]")
    truth = truth_dataset(spec, init[0], init[0] + leads[-1])
    info = {"source": "demo", "demo_world": asdict(spec), "fingerprint": spec.fingerprint()}
    m = 4
    layout = StoreLayout(
        variables=("z500",),
        init_times=init,
        lead_times=leads,
        lat=spec.lat(),
        lon=spec.lon(),
        member_coords={"sign": np.ones(m, dtype=np.int8)},
        batch_size=m,
        lead_chunk=3,
        attrs={"hens_fingerprint": "demo-test", "hens_initial_conditions": json.dumps(info)},
    )
    store = tmp_path / "demo.zarr"
    create_store(store, layout)
    writer = StoreWriter(store, ("z500",))
    rng = np.random.default_rng(0)
    obs = truth["z500"].values
    writer.write_block("z500", 0, slice(0, m), slice(0, 3), (obs + 50.0 * rng.normal(size=(m, *obs.shape))))
    writer.write_nonfinite(0, slice(0, m), np.full(m, -1))
    result = run_diagnose(
        store, ["progress=false", f"diagnose.climatology.source={source}", "diagnose.climatology.days=10"]
    )
    ds = open_zarr_quiet(result.scores).load()
    assert np.isfinite(ds["scores"].sel(metric=["rmse", "crps", "spread"])).all()
    assert float(ds["scores"].sel(metric="rmse", region="global").max()) < 100.0
    assert np.isfinite(ds["efi"]).all() and "efi_map.png" in {p.name for p in result.plots}
    # the demo world has no hindcast M-climate: the report says plainly that its climate is the truth's
    assert "the truth's climate, not the model's M-climate" in result.report.read_text()
    assert "efi_daily" not in ds
