"""Fault injection: damaged chunks, two writers, swapped weights, a full disk, signals, outputs over existing data.

Runnable alone (``python3 -m pytest tests/test_faults.py``); the tests that run whole commands are marked ``e2e``.
Every e2e case ends by comparing the repaired or resumed store with a clean run of the same configuration.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from hens.distributed import default_threads
from hens.errors import HensError, StoreError, os_error_line
from hens.io.lock import RunLock, lock_path
from hens.io.safe_write import write_text_atomic
from tests.helpers.cli import SMALL, hens_env, run_hens

LONG = [a for a in SMALL if not a.startswith("ensemble.n_steps")] + [
    "ensemble.n_steps=24",
    "ensemble.n_perturbations=4",
]
"""A run long enough (16 items) for a signal to land mid-run."""


def _values(path: Path) -> dict[str, np.ndarray]:
    with xr.open_zarr(path) as ds:
        return {str(k): ds[k].values for k in ds.data_vars}


def _assert_same_values(a: Path, b: Path) -> None:
    va, vb = _values(a), _values(b)
    assert va.keys() == vb.keys()
    for name in va:
        np.testing.assert_array_equal(va[name], vb[name], err_msg=name)


def _one_error_line(proc: subprocess.CompletedProcess, needle: str) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("warning:")]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("hens: error:") and needle in lines[0], proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def clean(tmp_path_factory, cache_dir) -> Path:
    """A clean SMALL run: the reference every repaired store must equal."""
    path = tmp_path_factory.mktemp("faults") / "clean.zarr"
    run_hens(["generate", *SMALL, f"output.path={path}"], cache_dir)
    return path


# ---- fast: the pieces ------------------------------------------------------------------------------------------


def test_lock_refuses_a_live_holder_and_takes_over_a_dead_one(tmp_path):
    store = tmp_path / "s.zarr"
    with RunLock(store):
        assert json.loads(lock_path(store).read_text())["pid"] == os.getpid()
        with pytest.raises(StoreError, match="being written by another hens generate"):
            RunLock(store).acquire()
    assert not lock_path(store).exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock_path(store).write_text(json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout), "started": 0}))
    with RunLock(store):  # stale: its process is gone
        pass
    lock_path(store).write_text(json.dumps({"host": "elsewhere", "pid": 1, "started": 0}))
    with pytest.raises(StoreError, match="host elsewhere"):
        RunLock(store).acquire()  # another host: never taken over


def test_atomic_text_write_refuses_existing_and_keeps_it(tmp_path):
    target = tmp_path / "job.sbatch"
    target.write_text("mine")
    with pytest.raises(HensError, match="exists"):
        write_text_atomic(target, "new", overwrite=False)
    assert target.read_text() == "mine"
    write_text_atomic(target, "new", overwrite=True)
    assert target.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["job.sbatch"]
    with pytest.raises(HensError, match="is a file"):
        write_text_atomic(target / "x.sbatch", "new", overwrite=False)


def test_os_errors_of_the_environment_are_one_line():
    full = os_error_line(OSError(errno.ENOSPC, "No space left on device", "/s.zarr/z500/c/0"))
    assert full is not None and "no space left" in full and "resume" in full
    assert "writable" in os_error_line(OSError(errno.EROFS, "Read-only file system", "/ro/s.zarr"))
    assert "is a file" in os_error_line(NotADirectoryError(errno.ENOTDIR, "Not a directory", "/f/s.zarr"))
    assert os_error_line(OSError(errno.EBADF, "Bad file descriptor")) is None  # a bug keeps its traceback


def test_default_threads_share_the_cores_between_local_ranks():
    assert default_threads(cores=16, local_processes=1) == 16
    assert default_threads(cores=16, local_processes=4) == 4
    assert default_threads(cores=2, local_processes=2) == 1
    assert default_threads(cores=2, local_processes=8) == 1


# ---- e2e: whole commands ---------------------------------------------------------------------------------------


def _damage(store: Path) -> dict[str, str]:
    """Delete one chunk, truncate another, flip three bytes of a third (other work items)."""
    deleted, truncated, flipped = "z500/c/0/1/0/0/0", "u500/c/1/0/0/0/0", "v500/c/1/2/1/0/0"
    (store / deleted).unlink()
    with open(store / truncated, "r+b") as handle:
        handle.truncate(100)
    data = bytearray((store / flipped).read_bytes())
    for k in (200, 700, 1500):
        data[k] ^= 0x5A
    (store / flipped).write_bytes(bytes(data))
    return {"missing": deleted, "truncated": truncated, "mismatch": flipped}


@pytest.mark.e2e
def test_damaged_chunks_are_detected_by_verify_diagnose_and_resume(tmp_path, cache_dir, clean):
    store = tmp_path / "damaged.zarr"
    shutil.copytree(clean, store)
    damage = _damage(store)

    proc = run_hens(["verify", str(store)], cache_dir, check=False)
    assert proc.returncode == 1
    for kind, chunk in damage.items():
        assert f"{kind}: {chunk}" in proc.stdout, proc.stdout
    quick = run_hens(["verify", str(store), "--quick"], cache_dir, check=False)  # sizes only: not the flip
    assert quick.returncode == 1 and "mismatch" not in quick.stdout and "truncated" in quick.stdout

    out = tmp_path / "diag"
    line = _one_error_line(
        run_hens(["diagnose", str(store), "progress=false", f"diagnose.output_dir={out}"], cache_dir, check=False),
        "damaged chunk(s)",
    )
    assert "hens verify" in line and not out.exists()

    # a plain resume recomputes what the size check finds; --verify also the flipped chunk
    first = run_hens(["generate", *SMALL, f"output.path={store}"], cache_dir)
    assert damage["missing"] in first.stderr and damage["truncated"] in first.stderr
    assert run_hens(["verify", str(store)], cache_dir, check=False).returncode == 1
    second = run_hens(["generate", *SMALL, f"output.path={store}", "--verify"], cache_dir)
    assert damage["mismatch"] in second.stderr and "1 chunk(s), " in second.stderr
    assert run_hens(["verify", str(store)], cache_dir).returncode == 0
    _assert_same_values(clean, store)


@pytest.mark.e2e
def test_unfinished_store_is_not_generated_rather_than_non_finite(tmp_path, cache_dir, clean):
    store = tmp_path / "half.zarr"
    shutil.copytree(clean, store)
    done = sorted((store / ".hens" / "done").glob("*.json"))
    for record in done[1::2]:  # as if the run had stopped half way (its chunks stay: harmless)
        record.unlink()
    assert run_hens(["verify", str(store)], cache_dir, check=False).returncode == 1
    _one_error_line(run_hens(["diagnose", str(store), "progress=false"], cache_dir, check=False), "not finished")
    proc = run_hens(
        [
            "diagnose",
            str(store),
            "progress=false",
            "diagnose.allow_incomplete=true",
            "diagnose.spectral.enabled=false",
            "diagnose.extremes.enabled=false",
            f"diagnose.output_dir={tmp_path / 'd'}",
        ],
        cache_dir,
    )
    assert "excluded: not generated" in proc.stderr and "non-finite" not in proc.stderr


@pytest.mark.e2e
def test_second_generate_on_the_same_path_is_refused(tmp_path, cache_dir):
    store = tmp_path / "busy.zarr"
    first = subprocess.Popen(
        [sys.executable, "-m", "hens", "generate", *LONG, f"output.path={store}"],
        env=hens_env(cache_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not lock_path(store).exists():
        time.sleep(0.05)
    second = run_hens(["generate", *LONG, f"output.path={store}"], cache_dir, check=False)
    _one_error_line(second, "being written by another hens generate")
    assert first.wait(timeout=600) == 0, first.stderr.read()
    assert not lock_path(store).exists()
    reference = tmp_path / "reference.zarr"
    run_hens(["generate", *LONG, f"output.path={reference}"], cache_dir)
    _assert_same_values(reference, store)


@pytest.mark.e2e
def test_swapped_checkpoint_weights_refuse_the_resume(tmp_path, cache_dir):
    from hens.demo.shipped import shipped_checkpoint_dir

    folder = tmp_path / "ckpts"
    shutil.copytree(shipped_checkpoint_dir(), folder)
    args = ["generate", *SMALL, f"model.checkpoint_dir={folder}", f"output.path={tmp_path / 's.zarr'}"]
    run_hens(args, cache_dir)
    weights = folder / "demo_sfno_s0" / "training_checkpoints" / "best_ckpt_mp0.tar"
    other = folder / "demo_sfno_s1" / "training_checkpoints" / "best_ckpt_mp0.tar"
    assert weights.stat().st_size == other.stat().st_size  # same size: the old fingerprint could not tell
    shutil.copyfile(other, weights)
    _one_error_line(run_hens(args, cache_dir, check=False), "checkpoint.demo_sfno_s0.weights_sha256")


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _mid_run(store: Path, cache_dir: Path, signum: int) -> subprocess.CompletedProcess:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hens", "generate", *LONG, f"output.path={store}"],
        env=hens_env(cache_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a shell that starts the test run in the background (`pytest … &`) hands its children SIGINT ignored, and
        # Python then installs no KeyboardInterrupt handler: give the run SIGINT's default, as a terminal user has
        preexec_fn=_default_sigint,
    )
    done = store / ".hens" / "done"
    deadline = time.time() + 120
    while time.time() < deadline and not (done.is_dir() and any(done.glob("*.json"))):
        time.sleep(0.05)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.e2e
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_run_says_what_is_saved_and_resumes(tmp_path, cache_dir, signum):
    store = tmp_path / "sig.zarr"
    proc = _mid_run(store, cache_dir, signum)
    lines = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("warning:")]
    assert proc.returncode == 128 + signum, proc.stderr
    assert "Traceback" not in proc.stderr and len(lines) == 1, proc.stderr
    assert signal.Signals(signum).name in lines[0] and "resume" in lines[0] and str(store) in lines[0]
    assert not lock_path(store).exists()
    run_hens(["generate", *LONG, f"output.path={store}"], cache_dir)
    reference = tmp_path / "reference.zarr"
    run_hens(["generate", *LONG, f"output.path={reference}"], cache_dir)
    _assert_same_values(reference, store)


def _can_mount() -> str | None:
    """Why a tmpfs cannot be mounted here (None: it can)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return "needs root and mount(8) to mount a small tmpfs"
    return None


@pytest.mark.e2e
def test_full_disk_is_one_line_and_resumes_when_space_returns(tmp_path, cache_dir, clean):
    why = _can_mount()
    if why:
        pytest.skip(why)
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"mount -t tmpfs failed here: {mounted.stderr.decode().strip()}")
    try:
        store = disk / "s.zarr"
        _one_error_line(run_hens(["generate", *SMALL, f"output.path={store}"], cache_dir, check=False), "no space left")
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        run_hens(["generate", *SMALL, f"output.path={store}"], cache_dir)
        assert run_hens(["verify", str(store)], cache_dir).returncode == 0
        _assert_same_values(clean, store)
        ro = subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True)
        if ro.returncode == 0:
            proc = run_hens(["generate", *SMALL, f"output.path={disk / 'other.zarr'}"], cache_dir, check=False)
            _one_error_line(proc, "cannot write")
    finally:
        subprocess.run(["umount", str(disk)], check=False)


@pytest.mark.e2e
def test_out_over_existing_files_and_stores_is_refused(tmp_path, cache_dir, clean):
    existing = tmp_path / "member.nc"
    existing.write_bytes(b"precious")
    member = ["member", "--init-time", "2000-01-16T00:00", "--member", "1", *SMALL]
    proc = run_hens([*member[:5], "--out", str(existing), *member[5:]], cache_dir, check=False)
    _one_error_line(proc, "exists")
    assert existing.read_bytes() == b"precious"

    store = tmp_path / "store.zarr"
    shutil.copytree(clean, store)
    before = _values(store)
    for args in (
        [*member[:5], "--out", str(store), *member[5:]],
        ["demo", "truth", "--start", "2000-01-01T00:00", "--end", "2000-01-02T00:00", "--out", str(store)],
    ):
        _one_error_line(run_hens(args, cache_dir, check=False), "--overwrite")
    after = _values(store)
    assert all(np.array_equal(before[k], after[k], equal_nan=True) for k in before)

    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep")
    _one_error_line(
        run_hens(["diagnose", str(clean), f"diagnose.output_dir={folder}"], cache_dir, check=False),
        "not written by hens diagnose",
    )
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]

    truth = tmp_path / "truth.zarr"
    args = ["demo", "truth", "--start", "2000-01-01T00:00", "--end", "2000-01-02T00:00", "--out", str(truth)]
    run_hens(args, cache_dir)
    run_hens([*args, "--overwrite"], cache_dir)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.e2e
def test_items_saved_in_a_statistics_partial_but_not_recorded_are_recomputed(tmp_path, cache_dir):
    """A kill between saving a statistics partial and writing its items' manifest records: the resume recomputes
    those items with their partial, so the store verifies and equals a clean run (statistics counted once)."""
    stats = [*SMALL, "output.statistics.enabled=true", "output.statistics.flush_items=2"]
    clean, store = tmp_path / "clean.zarr", tmp_path / "killed.zarr"
    run_hens(["generate", *stats, f"output.path={clean}"], cache_dir)
    run_hens(["generate", *stats, f"output.path={store}"], cache_dir)
    records = sorted((store / ".hens" / "done").glob("*.json"))
    records[-1].unlink()  # the last item: saved in a partial, its record never written
    assert run_hens(["verify", str(store)], cache_dir, check=False).returncode == 1
    run_hens(["generate", *stats, f"output.path={store}"], cache_dir)
    assert run_hens(["verify", str(store)], cache_dir).returncode == 0
    _assert_same_values(clean, store)
