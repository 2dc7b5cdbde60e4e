"""Shared fixtures: an isolated demo-truth cache and small, fast generate configurations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One demo-truth cache for the whole session (CI sets HENS_CACHE_DIR; otherwise a temp folder)."""
    existing = os.environ.get("HENS_CACHE_DIR")
    path = Path(existing) if existing else tmp_path_factory.mktemp("hens-cache")
    os.environ["HENS_CACHE_DIR"] = str(path)
    return path


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
