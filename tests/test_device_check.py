"""scripts/device_check.sh: the one-call GPU check lists its steps (--dry-run) and runs end to end on CPU."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.helpers.cli import REPO, hens_env

SCRIPT = REPO / "scripts" / "device_check.sh"
STEPS = [
    "env",
    "install",
    "tests",
    "writer",
    "inputs",
    "generate-output-on",
    "generate-output-off",
    "ranks2",
    "diagnose",
]


def test_dry_run_lists_every_step_and_runs_nothing(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path / "out")}
    proc = subprocess.run(["bash", str(SCRIPT), "--dry-run"], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    listed = [line.split("]")[0].lstrip("[") for line in proc.stdout.splitlines() if line.startswith("[")]
    assert [s for s in listed if not s.startswith("throughput")] == STEPS
    assert {"throughput-fcn2-small", "throughput-hens"} <= set(listed)
    assert "--device cuda" in proc.stdout and not (tmp_path / "out").exists()
    bad = subprocess.run(["bash", str(SCRIPT), "--device", "tpu"], cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 2 and "--device must be cuda or cpu" in bad.stderr


@pytest.mark.e2e
def test_cpu_run_writes_results_for_every_step(tmp_path, cache_dir):
    env = {**hens_env(cache_dir), "OUT": str(tmp_path / "out")}
    cmd = ["bash", str(SCRIPT), "--device", "cpu", "--no-install"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    status = {r["step"]: r["status"] for r in results["steps"]}
    assert [s for s in status if s != "throughput-small"] == STEPS and status["throughput-small"] == "ok"
    assert all(status[s] == "ok" for s in STEPS if s not in ("install", "ranks2", "diagnose"))
    assert {"writer", "throughput-small"} <= set(results["benchmarks"])
    assert (tmp_path / "out" / "results.md").read_text().startswith("| step |")
    assert (tmp_path / "out" / "gen1.zarr" / "zarr.json").is_file() and not (tmp_path / "out" / "gen_off.zarr").exists()
