"""The physics-ensemble baseline: grid ↔ model maps, batch consistency, determinism, and the CLI side by side."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import xarray as xr

from hens.demo.physics import PhysicsModel, PhysicsRollout
from hens.demo.world import DEMO_CHANNELS, DemoWorldSpec, spin_up, world_model
from hens.errors import HensError
from tests.helpers.cli import SMALL, run_hens

T0 = np.datetime64("2000-01-06T00:00", "ns")


@pytest.fixture(scope="module")
def world_state():
    spec = DemoWorldSpec()
    return spec, spin_up(spec), world_model(spec.physics)


def test_grid_model_round_trip_of_the_truth(world_state):
    spec, state, model = world_state
    grid = torch.from_numpy(model.to_channels(state))  # the truth as the SFNOs see it, [1, 9, 33, 64]
    physics = PhysicsModel(spec, DEMO_CHANNELS, 6.0)
    back = physics.to_grid(physics.to_state(grid, T0))
    # winds are exact for the resolved band; heights and t850 are diagnostic (balance couples l = 16 and 17)
    winds = [DEMO_CHANNELS.index(c) for c in DEMO_CHANNELS if c[0] in "uv"]
    scale = grid.abs().amax(dim=(0, 2, 3))
    err = (back - grid).abs().amax(dim=(0, 2, 3))
    assert torch.all(err[winds] <= 1e-4 * scale[winds]), (err, scale)
    spread = grid.std(dim=(2, 3))[0]
    assert torch.all(err <= 0.1 * spread * 3), (err, spread)
    # the model state's own channels are the truth's (same operator)
    np.testing.assert_array_equal(physics.to_grid(state).numpy(), grid.numpy())


def test_channel_order_is_respected(world_state):
    spec, state, model = world_state
    grid = torch.from_numpy(model.to_channels(state))
    order = tuple(reversed(DEMO_CHANNELS))
    permuted = grid[:, [DEMO_CHANNELS.index(c) for c in order]]
    physics = PhysicsModel(spec, order, 6.0)
    reference = PhysicsModel(spec, DEMO_CHANNELS, 6.0)
    back = physics.to_grid(physics.to_state(permuted, T0))
    ref = reference.to_grid(reference.to_state(grid, T0))
    torch.testing.assert_close(back, ref[:, [DEMO_CHANNELS.index(c) for c in order]], rtol=0, atol=0)


def test_member_alone_matches_its_batch_and_dynamics_are_deterministic(world_state):
    spec, state, model = world_state
    x0 = torch.from_numpy(model.to_channels(state)).repeat(3, 1, 1, 1)
    x0[2] = x0[2] * 1.01  # one member differs
    physics = PhysicsModel(spec, DEMO_CHANNELS, 6.0)
    batch = PhysicsRollout(physics, x0, T0, [0, 1, 2])
    alone = PhysicsRollout(physics, x0[1:2], T0, [1])
    for _ in range(3):
        out_batch, out_alone = batch(x0), alone(x0[1:2])
    torch.testing.assert_close(out_alone[0], out_batch[1], rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(out_batch[0], out_batch[1], rtol=0, atol=0)  # identical starts stay identical
    assert not torch.allclose(out_batch[0], out_batch[2])
    # 18 h later the flow has moved: the rollout is not persistence
    assert (out_batch[0] - x0[0]).abs().amax() > 10.0


def test_bad_physics_options_are_errors():
    with pytest.raises(HensError, match="demo channels"):
        PhysicsModel(DemoWorldSpec(), ("z500", "t850", "u500"), 6.0)
    with pytest.raises(HensError, match="cannot step"):
        PhysicsModel(DemoWorldSpec(), DEMO_CHANNELS, 1.0)


@pytest.mark.e2e
def test_physics_store_side_by_side_with_the_ml_store(tmp_path, cache_dir):
    small = [o for o in SMALL if not o.startswith("ensemble.n_steps")] + [
        "ensemble.n_steps=4",
        "ic.start_dates=[2000-01-06T00:00]",
    ]
    ml, phys = tmp_path / "ml.zarr", tmp_path / "phys.zarr"
    run_hens(["generate", *small, f"output.path={ml}"], cache_dir)
    run_hens(["generate", *small, "model=demo_physics", f"output.path={phys}"], cache_dir)
    a, b = xr.open_zarr(ml).load(), xr.open_zarr(phys).load()
    assert b.attrs["hens_dynamics"] == "demo_physics" and a.attrs["hens_dynamics"] == "network"
    assert "physics" in b.attrs["title"]
    for name in a.coords:  # the same layout, member for member
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    # the same initial states (lead 0), then different dynamics
    np.testing.assert_array_equal(a["z500"].isel(lead_time=0).values, b["z500"].isel(lead_time=0).values)
    assert not np.allclose(a["z500"].isel(lead_time=-1).values, b["z500"].isel(lead_time=-1).values)
    assert np.isfinite(b["z500"].values).all()
    # a physics member regenerated alone matches the stored one (batched transforms: to rounding)
    one = tmp_path / "member.nc"
    run_hens(
        ["member", *small, "model=demo_physics", "--init-time", "2000-01-06T00:00", "--member", "5", "--out", str(one)],
        cache_dir,
    )
    alone = xr.open_dataset(one).load()
    np.testing.assert_allclose(alone["z500"].values, b["z500"].isel(init_time=0, member=5).values, rtol=1e-5, atol=0.1)

    out = tmp_path / "diag"
    proc = run_hens(
        [
            "diagnose",
            str(ml),
            f"diagnose.output_dir={out}",
            f"diagnose.baseline.path={phys}",
            "diagnose.baseline.label=physics",
            "diagnose.extremes.enabled=false",
        ],
        cache_dir,
    )
    assert "vs physics [CRPSS" in proc.stdout + proc.stderr
    report = (out / "report.md").read_text()
    assert "## Comparison with the baseline" in report and "CRPS physics" in report
    assert (out / "plots" / "baseline_comparison.png").stat().st_size > 10_000
    main_scores = xr.open_zarr(out / "scores.zarr")
    base_scores = xr.open_zarr(out / "baseline" / "scores.zarr")
    np.testing.assert_array_equal(main_scores["lead_time"].values, base_scores["lead_time"].values)
    crps_phys = base_scores["scores"].sel(metric="crps", region="global", variable="z500").values
    # the baseline's scores are those of its own diagnosis against the same truth
    alone_dir = tmp_path / "diag_phys"
    run_hens(["diagnose", str(phys), f"diagnose.output_dir={alone_dir}", "diagnose.extremes.enabled=false"], cache_dir)
    own = xr.open_zarr(alone_dir / "scores.zarr")["scores"].sel(metric="crps", region="global", variable="z500")
    np.testing.assert_allclose(crps_phys, own.values, rtol=1e-12)
    assert json.loads(main_scores.attrs["excluded_members"]) == {}


@pytest.mark.e2e
def test_baseline_errors(tmp_path, cache_dir):
    small = [o for o in SMALL if not o.startswith("ensemble.n_steps")] + [
        "ensemble.n_steps=2",
        "ic.start_dates=[2000-01-06T00:00]",
    ]
    ml = tmp_path / "ml.zarr"
    run_hens(["generate", *small, f"output.path={ml}"], cache_dir)
    same = run_hens(["diagnose", str(ml), f"diagnose.baseline.path={ml}"], cache_dir, check=False)
    assert same.returncode == 2 and "is the store itself" in same.stderr
    absent = run_hens(["diagnose", str(ml), f"diagnose.baseline.path={tmp_path / 'nope.zarr'}"], cache_dir, check=False)
    assert absent.returncode == 2 and "does not exist" in absent.stderr
    other = tmp_path / "other.zarr"
    run_hens(["generate", *small, "ic.start_dates=[2000-01-16T00:00]", f"output.path={other}"], cache_dir)
    dates = run_hens(["diagnose", str(ml), f"diagnose.baseline.path={other}"], cache_dir, check=False)
    assert dates.returncode == 2 and "lacks init_time" in dates.stderr
    bad = run_hens(
        ["generate", *small, "model.dynamics=magic", f"output.path={tmp_path / 'x.zarr'}"], cache_dir, check=False
    )
    assert bad.returncode == 2 and "model.dynamics" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
