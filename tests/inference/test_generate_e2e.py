"""End-to-end `hens generate` on the demo world, through the real CLI in subprocesses."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from hens.demo.world import DEMO_CHANNELS
from tests.helpers.cli import SMALL, hens_env, run_hens

pytestmark = pytest.mark.e2e  # every test here runs `hens generate` end to end

DIMS = ("init_time", "member", "lead_time", "lat", "lon")


def _open(path: Path) -> xr.Dataset:
    return xr.open_zarr(path).load()


def _assert_same_store(a: Path, b: Path) -> None:
    da, db = _open(a), _open(b)
    assert set(da.data_vars) == set(db.data_vars)
    for name in da.data_vars:
        np.testing.assert_array_equal(da[name].values, db[name].values, err_msg=name)
    for name in da.coords:
        np.testing.assert_array_equal(da[name].values, db[name].values, err_msg=name)
    # identical attributes, except that each store records its own output.path in the resolved config
    assert {k: v for k, v in da.attrs.items() if k != "hens_config"} == {
        k: v for k, v in db.attrs.items() if k != "hens_config"
    }
    strip = lambda text: [line for line in text.splitlines() if not line.strip().startswith("path:")]  # noqa: E731
    assert strip(da.attrs["hens_config"]) == strip(db.attrs["hens_config"])


def test_small_run_layout_and_spread(tmp_path, cache_dir):
    out = tmp_path / "small.zarr"
    proc = run_hens(["generate", *SMALL, f"output.path={out}"], cache_dir)
    assert "member-steps/s" in proc.stderr
    ds = xr.open_zarr(out)
    for name in ("z500", "u500", "v500"):
        assert ds[name].dims == DIMS
        assert "units" in ds[name].attrs and "standard_name" in ds[name].attrs
    assert ds.sizes == {"init_time": 2, "member": 8, "lead_time": 7, "lat": 33, "lon": 64}
    assert ds.attrs["Conventions"].startswith("CF")
    values = ds["z500"].values
    assert np.isfinite(values).all()
    assert (ds["nonfinite_lead"].values == -1).all()
    assert json.loads(ds.attrs["hens_nonfinite_members"]) == []
    # members differ (perturbations are real); one control for the whole ensemble (member 0, as HENS), whose
    # − partner (member 1) keeps its perturbation
    assert ds["z500"].isel(lead_time=0).std("member").mean() > 0
    assert list(ds.sign.values) == [0, -1, 1, -1, 1, -1, 1, -1]
    assert list(ds.checkpoint.values[:4]) == ["demo_sfno_s0"] * 4


def test_spread_grows_with_lead_time(tmp_path, cache_dir):
    out = tmp_path / "spread.zarr"
    run_hens(
        [
            "generate",
            "model.checkpoints=[demo_sfno_s0,demo_sfno_s1]",
            "ensemble.n_steps=40",
            "ic.start_dates=[2000-01-06T00:00]",
            "threads=2",
            "progress=false",
            f"output.path={out}",
        ],
        cache_dir,
    )
    ds = xr.open_zarr(out)
    weights = np.cos(np.deg2rad(ds.lat))
    spread = ds["z500"].std("member").weighted(weights).mean(("lat", "lon")).isel(init_time=0).values
    assert spread[40] > 3 * spread[1] > 0
    assert spread[20] > spread[4]


def test_kill_minus_nine_then_resume_gives_identical_store(tmp_path, cache_dir):
    args = [
        "generate",
        "model.checkpoints=[demo_sfno_s0,demo_sfno_s1]",
        "ensemble.n_perturbations=4",
        "ensemble.batch_size=2",
        "ensemble.n_steps=24",
        "output.lead_chunk=8",
        "threads=1",
        "progress=false",
    ]
    reference = tmp_path / "reference.zarr"
    run_hens([*args, f"output.path={reference}"], cache_dir)

    resumed = tmp_path / "resumed.zarr"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hens", *args, f"output.path={resumed}"],
        env=hens_env(cache_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    done_dir = resumed / ".hens" / "done"
    deadline = time.time() + 120
    while time.time() < deadline and not (done_dir.is_dir() and any(done_dir.glob("*.json"))):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    n_done = len(list(done_dir.glob("*.json")))
    assert 1 <= n_done < 16, f"the kill must land mid-run, {n_done} of 16 chunks were done"

    second = run_hens([*args, f"output.path={resumed}"], cache_dir)
    assert f"{n_done} chunk(s) already done" in second.stderr
    _assert_same_store(reference, resumed)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_ranks_equal_one_rank(tmp_path, cache_dir):
    one = tmp_path / "one.zarr"
    two = tmp_path / "two.zarr"
    run_hens(["generate", *SMALL, f"output.path={one}"], cache_dir)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-port",
        str(_free_port()),
        "-m",
        "hens",
        "generate",
        *SMALL,
        f"output.path={two}",
    ]
    proc = subprocess.run(cmd, env=hens_env(cache_dir), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _assert_same_store(one, two)


def _chunk_files(store: Path) -> dict[str, bytes]:
    """Every file of a store's arrays (chunks and array metadata) by relative path; not the group metadata (which
    records the run's config) nor the run's .hens/ records."""
    return {
        str(f.relative_to(store)): f.read_bytes()
        for f in sorted(store.rglob("*"))
        if f.is_file() and ".hens" not in f.parts and f.parent != store
    }


def test_writer_threads_write_byte_identical_stores(tmp_path, cache_dir):
    from hens.io.manifest import Manifest

    stores = {}
    for threads in (1, 3):
        stores[threads] = tmp_path / f"t{threads}.zarr"
        args = ["generate", *SMALL, "output.keepbits=10", "output.max_pending_writes=1"]
        run_hens([*args, f"output.writer_threads={threads}", f"output.path={stores[threads]}"], cache_dir)
    one, three = _chunk_files(stores[1]), _chunk_files(stores[3])
    assert len([k for k in one if "/c/" in k]) >= 8 and one.keys() == three.keys()
    assert [k for k in one if one[k] != three[k]] == []
    finished = [Manifest(s).finished() for s in stores.values()]
    assert len(finished[0]) >= 4 and finished[0] == finished[1]


def test_member_regenerated_alone_is_bit_identical(tmp_path, cache_dir):
    full = tmp_path / "full.zarr"
    run_hens(["generate", *SMALL, f"output.path={full}"], cache_dir)
    ds = xr.open_zarr(full)
    for member in (0, 1, 6):  # the control, its unpaired − partner, and a + member of the other checkpoint
        out = tmp_path / f"m{member}.nc"
        run_hens(
            ["member", "--init-time", "2000-01-16T00:00", "--member", str(member), "--out", str(out), *SMALL], cache_dir
        )
        alone = xr.open_dataset(out)
        for name in ("z500", "u500", "v500"):
            np.testing.assert_array_equal(alone[name].values, ds[name].isel(init_time=1, member=member).values)
        assert int(alone.sign) == int(ds.sign[member])


def test_nonfinite_members_are_recorded_and_do_not_stop_the_others(tmp_path, cache_dir):
    out = tmp_path / "blowup.zarr"
    others = ", ".join(f"{c}: 0.0" for c in DEMO_CHANNELS if c != "z500")
    amplitude = f"ensemble.bred_vector.amplitude={{z500: 1.0e38, {others}}}"  # every channel named
    proc = run_hens(["generate", *SMALL, amplitude, f"output.path={out}"], cache_dir)
    assert "non-finite" in proc.stderr
    ds = xr.open_zarr(out)
    bad = json.loads(ds.attrs["hens_nonfinite_members"])
    control = np.flatnonzero(ds.sign.values == 0)
    assert bad and all(entry["member"] not in control for entry in bad)
    assert np.isfinite(ds["z500"].isel(member=control).values).all()
    first_bad = ds["nonfinite_lead"].values
    assert (first_bad[:, control] == -1).all() and (first_bad >= 0).sum() == len(bad)


def test_user_errors_are_one_line_and_keep_the_store(tmp_path, cache_dir):
    out = tmp_path / "keep.zarr"
    run_hens(["generate", *SMALL, f"output.path={out}"], cache_dir)
    before = _open(out)
    for args, needle in [
        (["generate", *SMALL, "ensemble.n_steps=3", f"output.path={out}"], "different configuration"),
        (["generate", "ensemble.bogus=1"], "unknown config key"),
        (["generate", *SMALL, "model.checkpoints=[nope]", f"output.path={tmp_path / 'x.zarr'}"], "does not exist"),
        (["generate", *SMALL, "output.variables=[t2m]", f"output.path={tmp_path / 'y.zarr'}"], "t2m"),
        (
            ["generate", *SMALL, "ic.start_dates=[1990-01-01T00:00]", f"output.path={tmp_path / 'z.zarr'}"],
            "no state at 1989",
        ),
    ]:
        proc = run_hens(args, cache_dir, check=False)
        assert proc.returncode == 2, proc.stderr
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("hens: error:") and needle in lines[0], proc.stderr
        assert "Traceback" not in proc.stderr
    _assert_same_store_data(before, _open(out))


def _assert_same_store_data(a: xr.Dataset, b: xr.Dataset) -> None:
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values)
