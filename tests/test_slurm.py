"""`hens slurm render|submit`: sbatch scripts for generate (srun / torchrun, job arrays over dates) and diagnose.

The rendered scripts are checked with ``bash -n`` and run under fake ``srun`` / ``scontrol`` / ``hens`` commands
that record their arguments, so the quoting of overrides is tested the way SLURM's shell will see it.
"""

from __future__ import annotations

import importlib.util
import os
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hens.config import compose_config, generate_spec
from hens.errors import ConfigError, HensError
from hens.slurm import render, split_arguments
from tests.helpers.cli import run_hens

DATE_PATH = 'output.path="/scratch/run_{date}.zarr"'


def _fake(bin_dir: Path, name: str, body: str) -> Path:
    """An executable shell script ``bin_dir/name`` (a stand-in for a SLURM command)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def _run_script(script: str, tmp_path: Path, env_extra: dict[str, str]) -> list[str]:
    """Run a rendered script with fake srun/scontrol/hens first on PATH; the arguments srun or hens received."""
    bin_dir = tmp_path / "bin"
    record = tmp_path / "args.txt"
    _fake(bin_dir, "module", "exit 0\n")  # environment modules, as on most clusters
    for name in ("srun", "hens"):
        _fake(bin_dir, name, f'printf "%s\\n" "$@" > {record}\n')
    _fake(bin_dir, "scontrol", "echo node001\necho node002\n")
    path = tmp_path / "job.sh"
    path.write_text(script)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "SLURM_JOB_ID": "4242"}
    env.update({"SLURM_JOB_NODELIST": "node[001-002]", "SLURM_NNODES": "2", "SLURM_CPUS_PER_TASK": "8", **env_extra})
    subprocess.run(["bash", str(path)], env=env, check=True, capture_output=True, text=True, timeout=60)
    return record.read_text().splitlines()


def test_split_arguments():
    assert split_arguments([]) == ("generate", None, [])
    assert split_arguments(["a=1"]) == ("generate", None, ["a=1"])
    assert split_arguments(["generate", "a=1"]) == ("generate", None, ["a=1"])
    assert split_arguments(["diagnose", "a=1", "run.zarr"]) == ("diagnose", "run.zarr", ["a=1"])
    with pytest.raises(HensError, match="needs the store"):
        split_arguments(["diagnose", "a=1"])


@pytest.mark.e2e
def test_render_generate_srun_to_stdout_and_file(tmp_path, cache_dir):
    args = ["launcher.nodes=3", "launcher.account=proj", "launcher.partition=gpu", "output.path=/scratch/r.zarr"]
    args += ['launcher.setup=["module load cuda", "export HENS_SETUP_RAN=1"]']
    proc = run_hens(["slurm", "render", *args], cache_dir)
    script = proc.stdout
    for line in (
        "#SBATCH --nodes=3",
        "#SBATCH --ntasks-per-node=4",
        "#SBATCH --gpus-per-node=4",
        "#SBATCH --account=proj",
        "#SBATCH --partition=gpu",
        "#SBATCH --requeue",
        "#SBATCH --signal=B:USR1@120",
        "module load cuda",
        "export HENS_SETUP_RAN=1",
        'trap \'echo "hens: requeueing $SLURM_JOB_ID"; scontrol requeue "$SLURM_JOB_ID"\' USR1',
    ):
        assert line in script.splitlines(), line
    assert "--array" not in script and "launcher." not in script.split("srun", 1)[1]
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)
    out = tmp_path / "job.sh"
    proc = run_hens(["slurm", "render", "generate", "--out", str(out), *args], cache_dir)
    assert out.read_text() == script and proc.stdout == "" and f"sbatch {out}" in proc.stderr
    # under fake srun/scontrol: srun starts hens generate with the run's overrides only
    recorded = _run_script(script, tmp_path, {})
    assert recorded == ["--kill-on-bad-exit=1", "hens", "generate", "output.path=/scratch/r.zarr"]


def test_render_generate_torchrun_array_over_dates(tmp_path):
    dates = "ic.start_dates=[2000-01-06T00:00,2000-01-16T00:00,2000-01-26T00:00]"
    _, script = render(
        [
            "generate",
            "launcher=slurm",
            "launcher.launch=torchrun",
            "launcher.nodes=2",
            "launcher.gpus_per_node=4",
            "launcher.cpus_per_task=6",
            "launcher.array_over_dates=true",
            "launcher.array_parallel=2",
            'launcher.extra_sbatch=["--qos=high"]',
            dates,
            DATE_PATH,
            "ensemble.n_perturbations=2",
            "ensemble.batch_size=4",
        ]
    )
    lines = script.splitlines()
    for line in (
        "#SBATCH --array=0-2%2",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --cpus-per-task=24",
        "#SBATCH --gpus-per-node=4",
        "#SBATCH --qos=high",
        "export OMP_NUM_THREADS=6",
    ):
        assert line in lines, line
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)
    recorded = _run_script(script, tmp_path, {"SLURM_ARRAY_TASK_ID": "2"})
    assert recorded[:2] == ["--ntasks-per-node=1", "--kill-on-bad-exit=1"]
    assert recorded[2] == "torchrun" and "--nnodes=2" in recorded and "--nproc-per-node=4" in recorded
    assert "--rdzv-endpoint=node001:" + str(20000 + 4242 % 20000) in recorded and "--no-python" in recorded
    overrides = recorded[recorded.index("generate") + 1 :]
    assert overrides[-1] == "++ic.date_index=2"
    # what array task 2 runs: the third start date alone, into its own store
    spec = generate_spec(compose_config("generate", overrides))
    assert spec.ic.start_dates == (np.datetime64("2000-01-26T00:00", "ns"),)
    assert spec.output.path == "/scratch/run_20000126T0000.zarr"
    assert spec.ensemble.n_perturbations == 2


@pytest.mark.e2e
def test_array_over_dates_needs_a_per_date_store(cache_dir):
    proc = run_hens(["slurm", "render", "launcher.array_over_dates=true"], cache_dir, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("hens: error: launcher.array_over_dates=true") and "{date}" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["launcher.launch=mpirun"], "launcher.launch='mpirun' must be one of srun, torchrun"),
        (["launcher.nodes=0"], "launcher.nodes=0 must be an integer"),
        (["ensemble.batch_size=3"], "ensemble.batch_size=3 must divide"),
        (["launcher.array_over_dates=true", DATE_PATH, "launcher.array_parallel=0"], "launcher.array_parallel=0"),
    ],
)
def test_render_generate_errors_name_the_key(args, needle):
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(").replace("[", r"\[")):
        render(["generate", *args])


def test_date_index_selects_one_start_date_and_names_the_store():
    base = ["ic.start_dates=[2000-01-06T00:00,2000-01-16T00:00]"]
    spec = generate_spec(compose_config("generate", [*base, "++ic.date_index=1", DATE_PATH]))
    assert spec.ic.start_dates == (np.datetime64("2000-01-16T00:00", "ns"),)
    assert spec.output.path == "/scratch/run_20000116T0000.zarr"
    # without an index the store path stays as given; {date} needs exactly one start date
    assert generate_spec(compose_config("generate", base)).output.path == "hens_ensemble.zarr"
    with pytest.raises(ConfigError, match=r"output.path=.*has \{date\} but the run has 2 start dates"):
        generate_spec(compose_config("generate", [*base, DATE_PATH]))
    for bad in ("2", "-1", "true"):
        with pytest.raises(ConfigError, match=f"ic.date_index={bad if bad != 'true' else 'True'} must be"):
            generate_spec(compose_config("generate", [*base, f"++ic.date_index={bad}"]))


@pytest.mark.e2e
def test_render_diagnose_one_node(tmp_path, cache_dir):
    args = ["slurm", "render", "diagnose", "/scratch/run.zarr", "diagnose.variables=[z500]", "launcher.account=p"]
    args += ["launcher.diagnose.cpus_per_task=16", "launcher.diagnose.mem=64G"]
    script = run_hens(args, cache_dir).stdout
    lines = script.splitlines()
    for line in ("#SBATCH --nodes=1", "#SBATCH --cpus-per-task=16", "#SBATCH --mem=64G", "#SBATCH --account=p"):
        assert line in lines, line
    assert "--gpus" not in script and "--array" not in script
    recorded = _run_script(script, tmp_path, {"SLURM_CPUS_PER_TASK": "16"})
    assert recorded == ["diagnose", "/scratch/run.zarr", "diagnose.variables=[z500]", "diagnose.dask.n_workers=16"]
    compose_config("diagnose", recorded[2:])  # the job's overrides compose


@pytest.mark.e2e
def test_diagnose_with_jobqueue_needs_dask_jobqueue(cache_dir):
    if importlib.util.find_spec("dask_jobqueue") is not None:
        pytest.skip("dask-jobqueue is installed here")
    proc = run_hens(
        ["slurm", "render", "diagnose", "run.zarr", "diagnose.dask.jobqueue={kind: slurm, jobs: 2}"],
        cache_dir,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("hens: error: diagnose.dask.jobqueue") and "pip install dask-jobqueue" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.e2e
def test_submit_calls_sbatch_and_prints_the_job_id(tmp_path, cache_dir, monkeypatch):
    bin_dir = tmp_path / "bin"
    _fake(bin_dir, "sbatch", f'printf "%s\\n" "$@" > {tmp_path}/sbatch_args.txt\necho "Submitted batch job 123"\n')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    work = tmp_path / "work"
    work.mkdir()
    proc = run_hens(["slurm", "submit", "launcher.nodes=2", "output.path=/scratch/r.zarr"], cache_dir, cwd=work)
    assert proc.stdout.strip() == "123"
    script = work / "hens_generate.sbatch"
    assert (tmp_path / "sbatch_args.txt").read_text().splitlines() == [str(script)]
    assert "#SBATCH --nodes=2" in script.read_text()
    assert "job 123" in proc.stderr
    out = tmp_path / "diag.sh"
    proc = run_hens(["slurm", "submit", "diagnose", "run.zarr", "--out", str(out)], cache_dir, cwd=work)
    assert proc.stdout.strip() == "123" and (tmp_path / "sbatch_args.txt").read_text().strip() == str(out)
    assert "hens diagnose run.zarr" in out.read_text()


@pytest.mark.e2e
def test_submit_reports_a_failing_sbatch(tmp_path, cache_dir, monkeypatch):
    bin_dir = tmp_path / "bin"
    _fake(bin_dir, "sbatch", 'echo "sbatch: error: Invalid account" >&2\nexit 1\n')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    proc = run_hens(["slurm", "submit"], cache_dir, check=False, cwd=tmp_path)
    assert proc.returncode == 2
    assert "exit 1" in proc.stderr and "Invalid account" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.e2e
def test_submit_without_sbatch_is_a_one_line_error(tmp_path, cache_dir, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    proc = run_hens(["slurm", "submit", "launcher.nodes=2"], cache_dir, check=False, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == (
        "hens: error: sbatch not found on PATH; run on a SLURM login node or use 'hens slurm render --out job.sh'\n"
    )
    assert not list(tmp_path.glob("*.sbatch"))


def test_diagnose_with_jobqueue_leaves_the_workers_to_dask_jobqueue(monkeypatch):
    import sys
    import types

    monkeypatch.setitem(sys.modules, "dask_jobqueue", types.ModuleType("dask_jobqueue"))
    _, script = render(["diagnose", "run.zarr", "diagnose.dask.jobqueue={kind: slurm, jobs: 2}"])
    assert "dask-jobqueue jobs from diagnose.dask.jobqueue" in script
    assert "n_workers" not in script
    assert "hens diagnose run.zarr 'diagnose.dask.jobqueue={kind: slurm, jobs: 2}'" in script.splitlines()
