"""Process settings under ``diagnose.memory_gb`` (hens.diagnostics.memory) and the phased compute (cluster.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import dask
import zarr

from hens.diagnostics.cluster import compute_in_phases
from hens.diagnostics.memory import ZARR_CONCURRENCY, bounded_memory


def test_zarr_concurrency_is_lowered_only_under_a_budget_and_restored():
    default = zarr.config.get("async.concurrency")
    with bounded_memory(None):
        assert zarr.config.get("async.concurrency") == default
    assert default != ZARR_CONCURRENCY  # else the next check proves nothing
    # in a child process: the mmap threshold is fixed for the rest of that process (and exported to its children)
    code = (
        "import os, zarr\n"
        "from hens.diagnostics.memory import bounded_memory, ZARR_CONCURRENCY, MMAP_THRESHOLD_BYTES\n"
        "before = zarr.config.get('async.concurrency')\n"
        "with bounded_memory(0.5):\n"
        "    assert zarr.config.get('async.concurrency') == ZARR_CONCURRENCY\n"
        "assert zarr.config.get('async.concurrency') == before\n"
        "assert os.environ['MALLOC_MMAP_THRESHOLD_'] == str(MMAP_THRESHOLD_BYTES)\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_phases_compute_the_named_graphs_first_and_give_the_same_results():
    calls: list[list[str]] = []

    def compute(graphs):
        calls.append(sorted(graphs))
        return dict(zip(graphs, dask.compute(*graphs.values()), strict=True))

    graphs = {
        "stats/z500": dask.delayed(sum)([1, 2]),
        "spectra/z500": dask.delayed(max)([3, 4]),
        "spectra/t850": dask.delayed(min)([5, 6]),
        "maps/z500": dask.delayed(len)([7]),
    }
    phased = compute_in_phases(compute, graphs, ("spectra/",))
    assert calls == [["spectra/t850", "spectra/z500"], ["maps/z500", "stats/z500"]]
    calls.clear()
    assert compute_in_phases(compute, graphs) == phased == {"stats/z500": 3, "spectra/z500": 4, "spectra/t850": 5,
                                                              "maps/z500": 1}  # fmt: skip
    assert calls == [sorted(graphs)]  # no phases: one pass
