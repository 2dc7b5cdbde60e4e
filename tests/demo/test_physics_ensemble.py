"""The physics-ensemble baseline: transforms, stirring streams, batch consistency, and the CLI side by side."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import xarray as xr

from hens.demo.physics import PhysicsModel, PhysicsRollout, member_stirring_generator
from hens.demo.world import DEMO_CHANNELS, DemoWorldSpec, spin_up, world_model
from hens.errors import HensError
from tests.helpers.cli import SMALL, run_hens

T0 = np.datetime64("2000-01-06T00:00", "ns")


@pytest.fixture(scope="module")
def world_state():
    spec = DemoWorldSpec()
    solver, project = world_model(spec)
    return spec, spin_up(spec), project


def test_grid_spectral_round_trip_is_exact_to_float32(world_state):
    spec, state, project = world_state
    grid = torch.from_numpy(project(state))[None]  # the truth as the models see it, [1, 3, 33, 64]
    model = PhysicsModel(spec, DEMO_CHANNELS, 6.0)
    back = model.to_grid(model.to_spectral(grid))
    scale = grid.abs().amax(dim=(0, 2, 3))
    err = (back - grid).abs().amax(dim=(0, 2, 3))
    assert torch.all(err <= 4 * torch.finfo(torch.float32).eps * scale), (err, scale)
    # projecting the solver state directly gives the truth's own projection
    np.testing.assert_array_equal(model.to_grid(state[None]).numpy(), grid.numpy())


def test_channel_order_is_respected(world_state):
    spec, state, project = world_state
    grid = torch.from_numpy(project(state))[None]
    order = ("v500", "z500", "u500")
    permuted = grid[:, [DEMO_CHANNELS.index(c) for c in order]]
    model = PhysicsModel(spec, order, 6.0)
    back = model.to_grid(model.to_spectral(permuted))
    torch.testing.assert_close(back, permuted, rtol=1e-5, atol=1e-3)


def test_stirring_streams_are_pure_and_distinct():
    draw = lambda *a: torch.randn(4, generator=member_stirring_generator(*a))  # noqa: E731
    assert torch.equal(draw(0, T0, 3, 5), draw(0, T0, 3, 5))
    others = [draw(1, T0, 3, 5), draw(0, T0 + np.timedelta64(6, "h"), 3, 5), draw(0, T0, 4, 5), draw(0, T0, 3, 6)]
    assert all(not torch.equal(draw(0, T0, 3, 5), o) for o in others)


def test_member_alone_matches_its_batch_and_stirring_spreads_members(world_state):
    spec, state, project = world_state
    x0 = torch.from_numpy(project(state))[None].repeat(3, 1, 1, 1)  # three identical initial states
    model = PhysicsModel(spec, DEMO_CHANNELS, 6.0, stirring="independent", seed=7)
    batch = PhysicsRollout(model, x0, T0, [0, 1, 2])
    alone = PhysicsRollout(model, x0[1:2], T0, [1])
    for _ in range(3):
        out_batch, out_alone = batch(x0), alone(x0[1:2])
    torch.testing.assert_close(out_alone[0], out_batch[1], rtol=1e-5, atol=1e-3)
    # identical starts, independent stirring: members differ, but only by weather-sized amounts
    diff = (out_batch[0, 0] - out_batch[2, 0]).abs().max().item()
    assert 0.1 < diff < 2000.0
    deterministic = PhysicsModel(spec, DEMO_CHANNELS, 6.0, stirring="none")
    same = PhysicsRollout(deterministic, x0, T0, [0, 1, 2])
    out = same(x0)
    torch.testing.assert_close(out[0], out[2], rtol=0, atol=0)


def test_bad_physics_options_are_errors():
    with pytest.raises(HensError, match="physics_stirring"):
        PhysicsModel(DemoWorldSpec(), DEMO_CHANNELS, 6.0, stirring="sometimes")
    with pytest.raises(HensError, match="demo channels"):
        PhysicsModel(DemoWorldSpec(), ("z500", "t850", "u500"), 6.0)
    with pytest.raises(HensError, match="cannot step"):
        PhysicsModel(DemoWorldSpec(), DEMO_CHANNELS, 0.1)


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
