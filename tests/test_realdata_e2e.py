"""HENS Part II on real-format data, end to end through the CLI: `hens climatology` from a WeatherBench2-layout ERA5
store → `hens skill` (a makani package with identity dynamics, whose RMSE is known by hand) → `hens generate ic=era5`
with ``ensemble.bred_vector.amplitude_file`` → `hens diagnose verification=era5` with the built climatology and the
extremes on (reliability, ROC, Brier)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import xarray as xr

from hens.models.makani_package import read_makani_package, write_makani_package
from hens.models.network import build_network
from tests.helpers.cli import run_hens
from tests.helpers.era5 import write_wb2_fixture
from tests.test_real_inputs_e2e import CHANNELS, FIELDS, H, W, _config, _statistics, _write_packages

pytestmark = pytest.mark.e2e

START = np.datetime64("2023-06-01T00:00", "ns")
TIMES = np.arange(np.datetime64("2022-01-01T00:00"), np.datetime64("2023-06-03T12:00"), np.timedelta64(6, "h"))
SKILL_DATES = [START, START + np.timedelta64(6, "h")]


def _identity_package(root) -> None:
    """A makani package whose step returns its input: every weight 0 but the big skip, identity on the state."""
    means, stds = _statistics(TIMES.astype("datetime64[ns]"))
    rng = np.random.default_rng(0)
    extras = {"orography": (rng.random((H, W)) * 3e4).astype(np.float32),
              "land_mask": (rng.random((H, W)) > 0.6).astype(np.float32)}  # fmt: skip
    path = root / "identity"
    probe = write_makani_package(path, config=_config(), state_dict={}, means=means, stds=stds, **extras)
    pkg = read_makani_package(probe)
    state = {k: torch.zeros_like(v) for k, v in build_network(pkg.architecture, pkg.model_kwargs).state_dict().items()}
    for c in range(len(CHANNELS)):
        state["model.residual_transform.weight"][c, c, 0, 0] = 1.0
    write_makani_package(path, config=_config(), state_dict=state, means=means, stds=stds, **extras)


def _add_noise(era5) -> None:
    """Independent noise at every time and point (σ = 0.3 × the field's amplitude), so that exceedances of the
    climatological percentiles happen at some points and not others (the analytic fields move as a whole)."""
    ds = xr.open_zarr(era5)
    rng = np.random.default_rng(5)
    for name in list(ds.data_vars):
        sigma = 0.3 * float(ds[name].std())
        noisy = (ds[name].values + rng.normal(0.0, sigma, ds[name].shape)).astype(np.float32)
        xr.Dataset({name: ds[name].copy(data=noisy)}).to_zarr(era5, mode="r+")


def _rmse_48h_by_hand(era5) -> dict[str, float]:
    """Identity dynamics: the 48-h error is x(t0) − x(t0 + 48 h) of the stored fields; its cos(lat)-weighted RMS
    over the grid and the start dates, in float64, from the raw store (not through hens' reader)."""
    raw = xr.open_zarr(era5).sortby("latitude", ascending=False)
    lat = raw["latitude"].values.astype(np.float64)
    w = np.array([0.0 if abs(x) == 90 else math.cos(math.radians(x)) for x in lat])[:, None]
    out = {}
    for name, (var, level) in FIELDS.items():
        field = raw[var] if level is None else raw[var].sel(level=level)
        mse = []
        for t0 in SKILL_DATES:
            a = field.sel(time=t0).values.astype(np.float64)
            b = field.sel(time=t0 + np.timedelta64(48, "h")).values.astype(np.float64)
            mse.append(float((w * (a - b) ** 2).sum() / (w.sum() * a.shape[1])))
        out[name] = math.sqrt(sum(mse) / len(mse))
    return out


def test_climatology_skill_generate_diagnose_on_era5(tmp_path, cache_dir):
    variables = [v for v, _ in FIELDS.values()]
    era5 = write_wb2_fixture(tmp_path / "era5.zarr", times=TIMES, lat_n=H, lon_n=W, levels=(500, 850),
                             variables=tuple(dict.fromkeys(variables)))  # fmt: skip
    _add_noise(era5)
    ckpt = tmp_path / "checkpoints"
    _identity_package(ckpt)
    _write_packages(ckpt, TIMES.astype("datetime64[ns]"), n=1)  # seed0: a small random SFNO
    clim = tmp_path / "clim.zarr"
    run_hens(["climatology", f"climatology.path={era5}", "climatology.start=2022", "climatology.end=2022",
              "climatology.variables=[t2m,z500]", f"climatology.output={clim}", "progress=false"],
             cache_dir)  # fmt: skip
    assert set(xr.open_zarr(clim).data_vars) == {"t2m_percentiles", "t2m_quantiles", "z500_percentiles",
                                                  "z500_quantiles"}  # fmt: skip

    skill = tmp_path / "skill.json"
    dates = ",".join(str(np.datetime_as_string(t, unit="m")) for t in SKILL_DATES)
    era5_ic = ["ic=era5", f"ic.path={era5}", f"model.checkpoint_dir={ckpt}", "threads=1", "progress=false"]
    run_hens(["skill", *era5_ic, "model.checkpoints=[identity]", f"skill.start_dates=[{dates}]",
              f"skill.output={skill}"], cache_dir)  # fmt: skip
    content = json.loads(skill.read_text())
    assert content["lead_hours"][-1] == 48.0 and content["pooled"] is True
    for name, expected in _rmse_48h_by_hand(era5).items():
        got = content["rmse"]["pooled"][name]
        assert got[0] == 0.0 and math.isclose(got[-1], expected, rel_tol=2e-4), (name, got[-1], expected)
        assert content["rmse"]["checkpoints"]["identity"][name] == got

    store = tmp_path / "real.zarr"
    run_hens(["generate", *era5_ic, "ic.start_dates=[2023-06-01T00:00]", "ensemble.n_perturbations=2",
              "ensemble.batch_size=4", "ensemble.n_steps=4", f"ensemble.bred_vector.amplitude_file={skill}",
              "output.lead_chunk=2", f"output.path={store}"], cache_dir)  # fmt: skip
    ds = xr.open_zarr(store)
    assert ds.sizes["member"] == 8 and np.isfinite(ds["z500"].values).all()

    # the M-climate of the daily EFI/SOT from hindcast stores (here the store itself: the flow through the CLI; the
    # numbers are checked against earthkit-meteo in tests/diagnostics/test_daily_extremes_run.py)
    mclim = tmp_path / "mclim.zarr"
    run_hens(["climatology", "--from-hindcasts", str(store), f"mclimate.output={mclim}", "progress=false",
              "mclimate.variables=[t2m,z500]"], cache_dir)  # fmt: skip
    out = tmp_path / "diag"
    run_hens(["diagnose", str(store), "verification=era5", f"diagnose.verification.path={era5}",
              f"diagnose.climatology.path={clim}", "diagnose.extremes.enabled=true", "diagnose.variables=[t2m,z500]",
              "diagnose.extremes.percentiles=[90,99]", f"diagnose.output_dir={out}", "progress=false",
              f"diagnose.climatology.mclimate={mclim}"],
             cache_dir)  # fmt: skip
    scores = xr.open_zarr(out / "scores.zarr").load()
    brier = scores["brier_score"].sel(region="global")
    assert brier.sizes["percentile"] == 2 and np.isfinite(brier.values).all()
    assert np.isfinite(scores["roc_auc"].sel(region="global").values).any()
    assert str(era5) in scores.attrs["climatology"] and "2022-2022" in scores.attrs["climatology"]  # the built one
    assert "not the model's M-climate" in scores.attrs["climatology"] and str(mclim) in scores.attrs["mclimate"]
    assert list(scores["lead_day"].values) == [1] and np.isfinite(scores["efi_daily"].values).all()
    assert np.all(np.abs(scores["efi_daily"].values) <= 1.0)
