"""``output.derived`` end to end through the CLI: a makani-layout checkpoint with 10-m winds, 2-m temperature and dew
point and q/u/v at 500 and 850 hPa, started from a WeatherBench2-layout ERA5 store; the stored derived channels
equal the formulas applied to the stored channels bit for bit, `hens member` reproduces them, `hens verify` checks
their chunks, and a resume with other derived channels or a checkpoint lacking an input is a one-line error."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

from hens.data.derived import compute_derived, derived_inputs
from hens.models.makani_package import read_makani_package, write_makani_package
from hens.models.network import build_network
from tests.helpers.cli import run_hens
from tests.helpers.era5 import analytic, write_wb2_fixture
from tests.helpers.makani import CONFIG as MAKANI_CONFIG

pytestmark = pytest.mark.e2e

H, W = 16, 32
FIELDS = {  # channel → (ERA5 variable, level)
    "u10m": ("10m_u_component_of_wind", None),
    "v10m": ("10m_v_component_of_wind", None),
    "t2m": ("2m_temperature", None),
    "d2m": ("2m_dewpoint_temperature", None),
    "q500": ("specific_humidity", 500),
    "u500": ("u_component_of_wind", 500),
    "v500": ("v_component_of_wind", 500),
    "q850": ("specific_humidity", 850),
    "u850": ("u_component_of_wind", 850),
    "v850": ("v_component_of_wind", 850),
    "z500": ("geopotential", 500),  # the bred vectors' seed channel
}
CHANNELS = list(FIELDS)
DERIVED = ("heat_index", "ivt", "wind_speed_10m")
START = np.datetime64("2023-06-01T00:00", "ns")
TIMES = np.arange(START - np.timedelta64(18, "h"), START + np.timedelta64(19, "h"), np.timedelta64(6, "h"))
AMPLITUDE = ("{u10m: 1.0, v10m: 1.0, t2m: 0.5, d2m: 0.5, q500: 1e-4, u500: 1.0, v500: 1.0, q850: 1e-4, u850: 1.0, "
             "v850: 1.0, z500: 40.0}")


def _package(path, channels: list[str]):
    """A makani package of ``channels`` with small random weights (forecasts stay near the big skip)."""
    n = len(channels)
    config = {**MAKANI_CONFIG, "channel_names": channels, "in_channels": list(range(n)),
              "out_channels": list(range(n)), "N_in_channels": n + 8, "N_out_channels": n}  # fmt: skip
    lat, lon = np.linspace(90.0, -90.0, H), np.arange(W) * (360.0 / W)
    fields = [analytic(*FIELDS[c], TIMES.astype("datetime64[ns]"), lat, lon) for c in channels]
    means = np.array([f.mean() for f in fields], dtype=np.float32)
    stds = np.array([max(f.std(), 1e-3 * abs(f.mean()) + 1e-6) for f in fields], dtype=np.float32)
    rng = np.random.default_rng(0)
    extra = {"orography": (rng.random((H, W)) * 3e4).astype(np.float32),
             "land_mask": (rng.random((H, W)) > 0.6).astype(np.float32)}  # fmt: skip
    probe = write_makani_package(path, config=config, state_dict={}, means=means, stds=stds, **extra)
    pkg = read_makani_package(probe)
    torch.manual_seed(0)
    state = {k: 0.05 * v for k, v in build_network(pkg.architecture, pkg.model_kwargs).state_dict().items()}
    return write_makani_package(path, config=config, state_dict=state, means=means, stds=stds, **extra)


def test_generate_stores_derived_channels_equal_to_the_formulas_of_the_stored_inputs(tmp_path, cache_dir):
    variables = sorted({v for v, _ in FIELDS.values()})
    era5 = write_wb2_fixture(tmp_path / "era5.zarr", times=TIMES.astype("datetime64[ns]"), lat_n=H, lon_n=W,
                             variables=variables, levels=(500, 850))  # fmt: skip
    _package(tmp_path / "ckpt" / "tiny", CHANNELS)
    store = tmp_path / "run.zarr"
    common = [f"model.checkpoint_dir={tmp_path / 'ckpt'}", "model.checkpoints=[tiny]", "ic=era5", f"ic.path={era5}",
              "ic.start_dates=[2023-06-01T00:00]", "ensemble.n_perturbations=2", "ensemble.batch_size=4",
              "ensemble.n_steps=3", f"ensemble.bred_vector.amplitude={AMPLITUDE}", "output.lead_chunk=2",
              "threads=1", "progress=false", f"output.path={store}"]  # fmt: skip
    derived = f"output.derived=[{','.join(DERIVED)}]"
    run_hens(["generate", *common, derived], cache_dir)
    ds = xr.open_zarr(store).load()
    assert set(ds.data_vars) == {*CHANNELS, *DERIVED, "nonfinite_lead"}
    assert float(ds["t2m"].isel(lead_time=-1).std("member").mean()) > 0  # the members differ
    plan = derived_inputs(DERIVED, CHANNELS)
    for name in DERIVED:
        want = compute_derived(name, plan[name], [ds[c].values for c in plan[name]]).astype(np.float32)
        assert np.isfinite(want).all() and float(np.std(want)) > 0
        np.testing.assert_array_equal(ds[name].values, want)
        assert ds[name].attrs["derived_from"] == " ".join(plan[name])
    assert ds["ivt"].attrs["units"] == "kg m-1 s-1"

    one = tmp_path / "m3.nc"  # a member regenerated alone carries the same derived channels
    run_hens(["member", *common, derived, "--init-time", "2023-06-01T00:00", "--member", "3", "--out", str(one)],
             cache_dir)  # fmt: skip
    np.testing.assert_array_equal(xr.open_dataset(one)["ivt"].values, ds["ivt"].isel(init_time=0, member=3).values)
    assert run_hens(["verify", str(store)], cache_dir).returncode == 0

    proc = run_hens(["generate", *common, "output.derived=[ivt]"], cache_dir, check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "output.derived: " in proc.stderr and "choose a new output.path" in proc.stderr

    _package(tmp_path / "dry" / "tiny", ["u10m", "v10m", "t2m", "z500"])  # no dew point, no humidity
    fresh = [*common[2:-1], f"model.checkpoint_dir={tmp_path / 'dry'}", "model.checkpoints=[tiny]",
             "ensemble.bred_vector.amplitude={u10m: 1.0, v10m: 1.0, t2m: 0.5, z500: 40.0}",
             f"output.path={tmp_path / 'dry.zarr'}"]
    proc = run_hens(["generate", *fresh, "output.derived=[heat_index,wind_speed_10m]"], cache_dir, check=False)
    line = proc.stderr.strip()
    assert proc.returncode == 2 and len(line.splitlines()) == 1, line
    assert "heat_index needs t2m and d2m" in line and "checkpoint tiny lacks d2m (or r2m)" in line
    assert not (tmp_path / "dry.zarr").exists()
