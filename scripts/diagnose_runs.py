"""One timed `hens diagnose` subprocess, shared by the diagnose benchmarks (bench_diagnose_scale, bench_ensemble_size,
bench_diagnose_report): wall seconds, the seconds hens reports itself, and the run's peak resident memory."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["timed_diagnose"]

WRAPPER = (
    "import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
    "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)"
)
"""Runs the command given as arguments and prints its peak RSS: a process of its own per run, so runs do not mix."""


def timed_diagnose(
    store: Path, out: Path, overrides: Sequence[str] = (), *, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``python -m hens diagnose STORE progress=false diagnose.output_dir=OUT *overrides`` in a subprocess.

    Returns:
        ``wall_s`` (the subprocess, imports included), ``hens_s`` (the ``… lead times in X s`` hens prints; NaN
        if absent) and ``peak_rss_gb`` (``getrusage(RUSAGE_CHILDREN).ru_maxrss`` in a wrapper process, GB).

    Raises:
        RuntimeError: with the end of hens' stderr, when the run fails.
    """
    cmd = [sys.executable, "-m", "hens", "diagnose", str(store), "progress=false", f"diagnose.output_dir={out}"]
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, *cmd, *overrides],
        capture_output=True,
        text=True,
        env=None if env is None else dict(env),
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"hens diagnose failed:\n{proc.stderr[-3000:]}")
    peak_kb = int(re.search(r"PEAK_RSS_KB (\d+)", proc.stdout).group(1))
    own = re.search(r"lead times in ([0-9.]+) s", proc.stdout + proc.stderr)
    return {"wall_s": wall, "hens_s": float(own.group(1)) if own else float("nan"), "peak_rss_gb": peak_kb * 1024 / 1e9}
