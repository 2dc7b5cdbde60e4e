"""The demo world: deterministic cached truth, CF dataset, bounded climate, chaos, and usable checkpoints."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from hens.demo.shipped import describe_shipped, shipped_packages
from hens.demo.world import DEMO_CHANNELS, DemoWorldSpec, truth_dataset, truth_states
from hens.errors import HensError
from hens.models.forecaster import load_forecaster

SPEC = DemoWorldSpec()
T0 = np.datetime64("2000-01-06T00:00", "ns")


@pytest.mark.e2e
def test_truth_is_deterministic_and_cache_equals_fresh(cache_dir, tmp_path, monkeypatch):
    times = T0 + np.arange(0, 40, 3) * np.timedelta64(6, "h")
    cached = truth_states(SPEC, times)  # from the session cache (computed there if needed)
    assert cached.shape == (len(times), 3, 33, 64) and cached.dtype == np.float32
    monkeypatch.setenv("HENS_CACHE_DIR", str(tmp_path / "fresh"))
    fresh = truth_states(SPEC, times)
    np.testing.assert_array_equal(cached, fresh)
    assert any((tmp_path / "fresh").rglob("block_00000.npz"))


def test_truth_is_a_turbulent_bounded_climate(cache_dir):
    ds = truth_dataset(SPEC, "2000-01-01T00:00", "2000-01-30T18:00")
    assert ds.sizes == {"time": 120, "lat": 33, "lon": 64}
    assert ds.z500.attrs["units"] == "m2 s-2" and ds.u500.attrs["standard_name"] == "eastward_wind"
    assert ds.lat.values[0] == 90 and ds.lat.values[-1] == -90
    z = ds.z500.values
    assert 4.0e4 < z.mean() < 6.5e4
    wind = np.hypot(ds.u500.values, ds.v500.values)
    assert 5 < wind.max() < 150  # active weather, not blowing up
    day = ds.z500.isel(time=slice(0, None, 4))
    assert float(np.abs(day.diff("time")).mean()) > 50  # the flow changes from day to day


def test_bad_times_are_rejected():
    with pytest.raises(HensError, match="no state at 1999-12-31T18:00"):
        truth_states(SPEC, [np.datetime64("1999-12-31T18:00")])
    with pytest.raises(HensError, match="sampled every 6 h"):
        truth_states(SPEC, [np.datetime64("2000-01-02T03:00")])


def test_other_world_parameters_spin_up_their_own_trajectory(tmp_path, monkeypatch):
    monkeypatch.setenv("HENS_CACHE_DIR", str(tmp_path))
    small = replace(
        SPEC, spin_up_days=2, block_days=1, solver_nlat=32, solver_nlon=64, solver_lmax=21, solver_dt_s=1800
    )
    out = truth_states(small, [np.datetime64(small.epoch), np.datetime64("2000-01-02T06:00")])
    assert np.isfinite(out).all() and small.fingerprint() != SPEC.fingerprint()


def test_shipped_checkpoints_load_and_beat_persistence(cache_dir):
    packages = shipped_packages()
    assert len(packages) >= 4
    times = T0 + np.arange(0, 20) * np.timedelta64(6, "h")
    truth = torch.as_tensor(truth_states(SPEC, times))
    weights = torch.as_tensor(np.cos(np.deg2rad(SPEC.lat())), dtype=torch.float32).view(1, 1, -1, 1)
    for path in packages:
        fc = load_forecaster(path)
        assert fc.channels == DEMO_CHANNELS and fc.timestep_hours == 6
        assert set(fc.package.extra["rmse_48h"]) == set(DEMO_CHANNELS)
        x = truth[:-4]
        with torch.no_grad():
            for _ in range(4):
                x = fc(x)
        model = ((x - truth[4:]) ** 2 * weights).mean().sqrt()
        persistence = ((truth[:-4] - truth[4:]) ** 2 * weights).mean().sqrt()
        assert model < 0.85 * persistence, path.name  # 24-h z500 RMSE: ≈150 vs ≈215 for persistence
    assert "demo_sfno_s0" in describe_shipped()
