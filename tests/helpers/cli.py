"""Running the `hens` CLI in a real subprocess from tests, and the small, fast generate configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def hens_env(cache_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["HENS_CACHE_DIR"] = str(cache_dir)
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_hens(args: list[str], cache_dir: Path, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    """Run the CLI in a real subprocess (``python -m hens``)."""
    proc = subprocess.run(
        [sys.executable, "-m", "hens", *args], env=hens_env(cache_dir), capture_output=True, text=True, **kwargs
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"hens {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


SMALL = [
    "model.checkpoints=[demo_sfno_s0,demo_sfno_s1]",
    "ensemble.n_perturbations=2",
    "ensemble.batch_size=2",
    "ensemble.n_steps=6",
    "output.lead_chunk=4",
    "threads=1",
    "progress=false",
]
