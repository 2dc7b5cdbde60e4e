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
    "diagnose-kernels",
    "diagnose",
]


def test_dry_run_lists_every_step_and_runs_nothing(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path / "out")}
    proc = subprocess.run(["bash", str(SCRIPT), "--dry-run"], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    listed = [line.split("]")[0].lstrip("[") for line in proc.stdout.splitlines() if line.startswith("[")]
    assert [s for s in listed if not s.startswith("throughput")] == STEPS
    assert {"throughput-fcn2-small", "throughput-hens", "throughput-compile"} <= set(listed)
    assert "--device cuda" in proc.stdout and not (tmp_path / "out").exists()
    compile_row = (
        "--size fcn2-small --members 8 --batch 4 --steps 4 --repeats 2 --modes fp32 --compile default,reduce-overhead"
    )
    assert compile_row in proc.stdout and "diagnose.device=cuda" in proc.stdout
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
    throughput = ("throughput-small", "throughput-compile")
    assert [s for s in status if s not in throughput] == STEPS and all(status[s] == "ok" for s in throughput)
    assert all(status[s] == "ok" for s in STEPS if s not in ("install", "ranks2"))
    assert {"writer", "throughput-small", "throughput-compile", "kernels"} <= set(results["benchmarks"])
    rows = results["benchmarks"]["throughput-compile"]["rows"]
    assert [r["compile"] for r in rows if r["engine"] == "hens"] == ["none", "default"]  # eager, then compiled
    assert all(r["ok"] for r in results["benchmarks"]["kernels"]["rows"])
    assert (tmp_path / "out" / "diagnose" / "scores.zarr").is_dir()
    assert (tmp_path / "out" / "results.md").read_text().startswith("| step |")
    assert (tmp_path / "out" / "gen1.zarr" / "zarr.json").is_file() and not (tmp_path / "out" / "gen_off.zarr").exists()
