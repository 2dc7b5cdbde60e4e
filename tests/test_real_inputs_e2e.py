"""Real-format inputs end to end through the CLI: ERA5 Zarr (WeatherBench2 and ARCO layouts) as initial conditions
and verification, and checkpoint packages in makani's on-disk layout (zenith, grid, orography, land-mask inputs)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import xarray as xr

from hens.models.makani_package import write_makani_package
from tests.helpers.cli import run_hens
from tests.helpers.era5 import analytic, write_arco_fixture, write_wb2_fixture
from tests.helpers.makani import CONFIG as MAKANI_CONFIG

pytestmark = pytest.mark.e2e

H, W = 16, 32
CHANNELS = ["u10m", "v10m", "t2m", "msl", "z500", "t850"]
FIELDS = {  # channel → (ERA5 variable, level) for the statistics
    "u10m": ("10m_u_component_of_wind", None),
    "v10m": ("10m_v_component_of_wind", None),
    "t2m": ("2m_temperature", None),
    "msl": ("mean_sea_level_pressure", None),
    "z500": ("geopotential", 500),
    "t850": ("temperature", 850),
}
START = np.datetime64("2023-06-01T00:00", "ns")
N_STEPS = 4
AMPLITUDE = "{u10m: 1.0, v10m: 1.0, t2m: 0.5, msl: 60.0, z500: 40.0, t850: 0.5}"


def _config() -> dict:
    """The makani config of tests/test_makani_sfno.py (HENS options, tiny sizes) with this test's 6 channels on
    H×W: 6 state + zenith + 4 sine grid features + orography + 2 one-hot land-mask channels = 14 inputs."""
    return {
        **MAKANI_CONFIG,
        "channel_names": CHANNELS,
        "in_channels": list(range(6)),
        "out_channels": list(range(6)),
        "N_in_channels": 14,
        "N_out_channels": 6,
        "img_shape_x": H,
        "img_shape_y": W,
    }


def _statistics(times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lat = np.linspace(90.0, -90.0, H)
    lon = np.arange(W) * (360.0 / W)
    fields = [analytic(var, level, times, lat, lon) for var, level in FIELDS.values()]
    means = np.array([f.mean() for f in fields], dtype=np.float32)
    stds = np.array([max(f.std(), 1e-3 * abs(f.mean()) + 1e-3) for f in fields], dtype=np.float32)
    return means, stds


def _write_packages(root, times: np.ndarray, n: int = 2) -> list:
    """``n`` makani packages with different random weights (small, so forecasts stay near the big skip)."""
    from hens.models.makani_package import read_makani_package
    from hens.models.network import build_network

    means, stds = _statistics(times)
    rng = np.random.default_rng(0)
    orography = (rng.random((H, W)) * 3e4).astype(np.float32)
    land = (rng.random((H, W)) > 0.6).astype(np.float32)
    paths = []
    for seed in range(n):
        path = root / f"seed{seed}"
        probe = write_makani_package(
            path, config=_config(), state_dict={}, means=means, stds=stds, orography=orography, land_mask=land
        )
        pkg = read_makani_package(probe)
        torch.manual_seed(seed)
        net = build_network(pkg.architecture, pkg.model_kwargs)
        state = {k: 0.05 * v for k, v in net.state_dict().items()}  # keys already as makani saves them
        paths.append(
            write_makani_package(
                path, config=_config(), state_dict=state, means=means, stds=stds, orography=orography, land_mask=land
            )
        )
    return paths


def _times(step_hours: int) -> np.ndarray:
    first = START - np.timedelta64(18, "h")
    last = START + np.timedelta64(6 * N_STEPS, "h")
    return np.arange(first, last + np.timedelta64(1, "h"), np.timedelta64(step_hours, "h")).astype("datetime64[ns]")


@pytest.mark.parametrize("layout", ["wb2", "arco"])
def test_generate_and_diagnose_on_era5_and_makani_packages(tmp_path, cache_dir, layout):
    if layout == "wb2":
        era5 = write_wb2_fixture(tmp_path / "era5.zarr", times=_times(6), lat_n=H, lon_n=W, lat_ascending=True)
    else:
        era5 = write_arco_fixture(tmp_path / "era5.zarr", times=_times(1), lat_n=H, lon_n=W)
    _write_packages(tmp_path / "checkpoints", _times(6))
    store = tmp_path / "real.zarr"
    common = [
        f"model.checkpoint_dir={tmp_path / 'checkpoints'}",
        "ic=era5",
        f"ic.path={era5}",
        "ic.start_dates=[2023-06-01T00:00]",
        "ensemble.n_perturbations=2",
        "ensemble.batch_size=4",
        f"ensemble.n_steps={N_STEPS}",
        f"ensemble.bred_vector.amplitude={AMPLITUDE}",
        "output.lead_chunk=2",
        "threads=1",
        "progress=false",
    ]
    run_hens(["generate", *common, f"output.path={store}"], cache_dir)
    ds = xr.open_zarr(store).load()
    assert ds.sizes == {"init_time": 1, "member": 8, "lead_time": N_STEPS + 1, "lat": H, "lon": W}
    assert list(ds.checkpoint.values) == ["seed0"] * 4 + ["seed1"] * 4
    np.testing.assert_allclose(ds["lat"].values, np.linspace(90.0, -90.0, H), atol=1e-4)
    # the control member (member 0) starts from the ERA5 state, mapped onto the checkpoint's channels, north → south
    lat, lon = ds["lat"].values, ds["lon"].values
    for name, (var, level) in FIELDS.items():
        expected = analytic(var, level, np.array([START]), lat, lon)[0]
        np.testing.assert_allclose(ds[name].isel(init_time=0, member=0, lead_time=0).values, expected, rtol=1e-5)
    assert np.isfinite(ds["z500"].values).all()
    assert float(ds["z500"].isel(lead_time=-1).std("member").mean()) > 0
    info = json.loads(ds.attrs["hens_initial_conditions"])
    assert info["source"] == "era5" and info["layout"] == layout

    # a member regenerated alone (zenith angle at each valid time) equals the stored one
    one = tmp_path / "m3.nc"
    run_hens(["member", *common, "--init-time", "2023-06-01T00:00", "--member", "7", "--out", str(one)], cache_dir)
    np.testing.assert_array_equal(xr.open_dataset(one)["t2m"].values, ds["t2m"].isel(init_time=0, member=7).values)

    out = tmp_path / "diag"
    run_hens(["diagnose", str(store), f"diagnose.output_dir={out}", "diagnose.extremes.enabled=false"], cache_dir)
    scores = xr.open_zarr(out / "scores.zarr").load()
    assert set(map(str, scores["variable"].values)) == set(CHANNELS)
    rmse = scores["scores"].sel(metric="rmse", region="global", variable="t2m").values
    assert rmse[0] < 1e-3 * 280 and np.isfinite(rmse).all()  # verified against the same ERA5 store
    assert (out / "report.md").is_file()


def test_missing_era5_channel_and_missing_amplitudes_are_one_line_errors(tmp_path, cache_dir):
    era5 = write_wb2_fixture(
        tmp_path / "era5.zarr",
        times=_times(6),
        lat_n=H,
        lon_n=W,
        variables=("10m_u_component_of_wind", "2m_temperature", "geopotential"),
    )
    _write_packages(tmp_path / "checkpoints", _times(6), n=1)
    base = [
        f"model.checkpoint_dir={tmp_path / 'checkpoints'}",
        "ic=era5",
        f"ic.path={era5}",
        "ic.start_dates=[2023-06-01T00:00]",
        f"output.path={tmp_path / 'x.zarr'}",
        "progress=false",
    ]
    proc = run_hens(["generate", *base, f"ensemble.bred_vector.amplitude={AMPLITUDE}"], cache_dir, check=False)
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1 and "v10m" in line and "msl" in line and "t850" in line
    assert not (tmp_path / "x.zarr").exists()
