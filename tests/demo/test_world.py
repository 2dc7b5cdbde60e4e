"""The demo world: deterministic cached truth, CF dataset, a bounded chaotic climate, analyses with errors, and
usable checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hens.demo.shipped import describe_shipped, shipped_packages
from hens.demo.world import (
    DEMO_CHANNELS,
    DemoWorldSpec,
    analysis_error_channels,
    analysis_states,
    demo_world_spec,
    extratropical_rms,
    truth_dataset,
    truth_states,
    with_changes,
)
from hens.errors import ConfigError, HensError
from hens.models.forecaster import load_forecaster

SPEC = DemoWorldSpec()
T0 = np.datetime64("2000-01-06T00:00", "ns")


@pytest.mark.e2e
def test_truth_is_deterministic_and_cache_equals_fresh(cache_dir, tmp_path, monkeypatch):
    times = T0 + np.arange(0, 40, 3) * np.timedelta64(6, "h")
    cached = truth_states(SPEC, times)  # from the session cache (computed there if needed)
    assert cached.shape == (len(times), len(DEMO_CHANNELS), 33, 64) and cached.dtype == np.float32
    monkeypatch.setenv("HENS_CACHE_DIR", str(tmp_path / "fresh"))
    fresh = truth_states(SPEC, times)
    np.testing.assert_array_equal(cached, fresh)
    assert any((tmp_path / "fresh").rglob("block_00000.npz"))


def test_truth_is_a_bounded_weather_like_climate(cache_dir):
    ds = truth_dataset(SPEC, "2000-01-01T00:00", "2000-01-30T18:00")
    assert ds.sizes == {"time": 120, "lat": 33, "lon": 64}
    assert set(DEMO_CHANNELS) == set(ds.data_vars)
    assert ds.z500.attrs["units"] == "m2 s-2" and ds.u500.attrs["standard_name"] == "eastward_wind"
    assert ds.lat.values[0] == 90 and ds.lat.values[-1] == -90
    assert 5.0e4 < float(ds.z500.mean()) < 6.0e4 and 230 < float(ds.t850.mean()) < 290
    wind = np.hypot(ds.u250.values, ds.v250.values)
    assert 20 < wind.max() < 150  # active jets, not blowing up
    day = ds.z500.isel(time=slice(0, None, 4))
    assert float(np.abs(day.diff("time")).mean()) > 50  # the flow changes from day to day


def test_bad_times_and_keys_are_rejected():
    with pytest.raises(HensError, match="no state at 1999-12-31T18:00"):
        truth_states(SPEC, [np.datetime64("1999-12-31T18:00")])
    with pytest.raises(HensError, match="sampled every 6 h"):
        truth_states(SPEC, [np.datetime64("2000-01-02T03:00")])
    with pytest.raises(ConfigError, match="stir_amplitude.*physics.nope"):
        demo_world_spec({"stir_amplitude": 1.0, "physics": {"nope": 1}})


def test_spec_round_trips_through_plain_values():
    from dataclasses import asdict

    spec = with_changes(SPEC, seed=3, physics={"deformation_radius_km": 500.0})
    assert demo_world_spec(asdict(spec)) == spec and spec.fingerprint() != SPEC.fingerprint()
    # the analysis error does not change the truth (same cache)
    assert with_changes(SPEC, analysis_error_z500=50.0).fingerprint() == SPEC.fingerprint()


def test_other_world_parameters_spin_up_their_own_trajectory(tmp_path, monkeypatch):
    monkeypatch.setenv("HENS_CACHE_DIR", str(tmp_path))
    small = with_changes(
        SPEC, spin_up_days=2, block_days=1, physics={"nlat": 32, "nlon": 64, "lmax": 21, "dt_s": 3600.0}
    )
    out = truth_states(small, [np.datetime64(small.epoch), np.datetime64("2000-01-02T06:00")])
    assert np.isfinite(out).all() and small.fingerprint() != SPEC.fingerprint()


def test_analysis_error_statistics(cache_dir):
    """Analyses = truth + a balanced, spatially correlated error of the documented amplitude, a pure function of
    (seed, time), independent from one time to the next, zero-mean."""
    times = T0 + np.arange(8) * np.timedelta64(6, "h")
    truth, analyses = truth_states(SPEC, times), analysis_states(SPEC, times)
    err = analyses.astype(np.float64) - truth
    z = DEMO_CHANNELS.index("z500")
    np.testing.assert_allclose(extratropical_rms(err[:, z], SPEC.lat()), SPEC.analysis_error_z500, rtol=1e-5)
    np.testing.assert_array_equal(analyses, analysis_states(SPEC, times))  # deterministic
    assert not np.allclose(analysis_states(with_changes(SPEC, seed=5), times[:1]), analyses[:1])
    # independent in time: the correlation of consecutive errors is small
    a, b = err[:-1, z].ravel(), err[1:, z].ravel()
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.2
    # spatially correlated: neighbouring points (5.6° apart) are strongly correlated, unlike white noise
    lag = np.corrcoef(err[:, z, 5:28, :-1].ravel(), err[:, z, 5:28, 1:].ravel())[0, 1]
    assert lag > 0.5
    # balanced: the t850 error is the hypsometric thickness of the height errors
    t = DEMO_CHANNELS.index("t850")
    z850 = DEMO_CHANNELS.index("z850")
    thickness = (err[:, z] - err[:, z850]) / (287.04 * np.log(850 / 500))
    np.testing.assert_allclose(err[:, t], thickness, atol=2e-3)
    # many samples: zero mean, and errors of winds of about 1 m/s (a realistic analysis error)
    many = analysis_error_channels(SPEC, range(40))
    assert abs(many[:, z].mean()) < 0.1 * SPEC.analysis_error_z500
    u = DEMO_CHANNELS.index("u500")
    assert 0.3 < float(np.sqrt((many[:, u] ** 2).mean())) < 3.0
    np.testing.assert_array_equal(analysis_states(with_changes(SPEC, analysis_error_z500=0.0), times), truth)


def test_shipped_checkpoints_load_and_beat_persistence(cache_dir):
    packages = shipped_packages()
    assert len(packages) >= 4
    times = T0 + np.arange(0, 20) * np.timedelta64(6, "h")
    truth = torch.as_tensor(truth_states(SPEC, times))
    analyses = torch.as_tensor(analysis_states(SPEC, times))
    weights = torch.as_tensor(np.cos(np.deg2rad(SPEC.lat())), dtype=torch.float32).view(1, 1, -1, 1)
    z = DEMO_CHANNELS.index("z500")
    for path in packages:
        fc = load_forecaster(path)
        assert fc.channels == DEMO_CHANNELS and fc.timestep_hours == 6
        assert set(fc.package.extra["rmse_48h"]) == set(DEMO_CHANNELS)
        x = analyses[:-8]
        with torch.no_grad():
            for _ in range(8):
                x = fc(x)
        model = ((x - truth[8:])[:, z] ** 2 * weights[:, 0]).mean().sqrt()
        persistence = ((analyses[:-8] - truth[8:])[:, z] ** 2 * weights[:, 0]).mean().sqrt()
        assert model < 0.8 * persistence, (path.name, model, persistence)  # 48-h z500 RMSE
    assert "demo_sfno_s0" in describe_shipped()
