"""SLURM batch scripts for `hens generate` and `hens diagnose`, rendered from the config and ``slurm/`` templates.

``hens slurm render [generate|diagnose] [STORE] [overrides]`` composes the config with ``launcher=slurm`` and
fills the template; ``hens slurm submit …`` renders the same script, writes it and hands it to ``sbatch``.

generate
    ``launcher.nodes`` nodes × ``launcher.gpus_per_node`` GPUs.  ``launcher.launch=srun`` starts one process
    per GPU with srun (hens reads SLURM_PROCID / SLURM_LOCALID); ``torchrun`` starts one torchrun per node,
    which starts the per-GPU processes and does a c10d rendezvous on the first node.  With
    ``launcher.array_over_dates=true`` the job is an array with one task per start date; task K runs
    ``++ic.date_index=K`` alone into its own store ``output.path`` with ``{date}`` replaced by the start date.
    Per-date stores are required: concurrent tasks creating one shared store would race in
    :func:`hens.io.run_store.prepare_store` (a task that finds a store without a run record deletes it
    as an interrupted creation) and each task's fingerprint (its single date) would differ from the others'.
    Preemption or time-out sends USR1 two minutes early; the script requeues itself and the rerun resumes
    from the store's manifest.
diagnose
    One node running ``hens diagnose STORE``; the Dask thread pool gets the allocated cores.  With
    ``diagnose.dask.jobqueue`` set (e.g. ``{kind: slurm, jobs: 4, cores: 32, memory: 128GB}``) the job is the
    Dask client and dask-jobqueue submits the worker jobs; that needs the dask-jobqueue package.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from hens.config import LauncherSpec
from hens.errors import ConfigError, HensError

TARGETS = ("generate", "diagnose")
SBATCH_MISSING = "sbatch not found on PATH; run on a SLURM login node or use 'hens slurm render --out job.sh'"


def template_dir() -> Path:
    """Installed templates (package data ``hens.slurm_templates``) first, then the checkout's ``slurm/``."""
    installed = Path(__file__).resolve().parent / "slurm_templates"
    if (installed / "generate.sbatch").is_file():
        return installed
    return Path(__file__).resolve().parent.parent / "slurm"


def split_arguments(args: list[str]) -> tuple[str, str | None, list[str]]:
    """``[generate|diagnose] [STORE] [key=value …]`` → (target, store, overrides); the target defaults to generate.

    A store is only taken for diagnose: the first argument there that is not an override.
    """
    rest = list(args)
    target = rest.pop(0) if rest and rest[0] in TARGETS else "generate"
    store = None
    if target == "diagnose":
        plain = [a for a in rest if "=" not in a]
        if not plain:
            raise HensError("hens slurm render diagnose needs the store: hens slurm render diagnose STORE [overrides]")
        store = plain[0]
        rest.remove(store)
    return target, store, rest


def _is_launcher(override: str) -> bool:
    return override.lstrip("+~").startswith(("launcher.", "launcher="))


def _sbatch_lines(options: dict[str, object], extra: tuple[str, ...]) -> str:
    lines = [f"#SBATCH --{name}={value}" for name, value in options.items() if value not in (None, "")]
    lines += [f"#SBATCH {opt if opt.startswith('-') else '--' + opt}" for opt in extra]
    return "\n".join(lines)


def _quote(overrides: list[str]) -> str:
    return " ".join(shlex.quote(o) for o in overrides)


def render_generate(cfg: DictConfig, overrides: list[str]) -> str:
    """The sbatch script that runs `hens generate` with ``overrides`` on the allocation of ``cfg.launcher``.

    ``cfg`` is the generate config composed with ``launcher=slurm`` and ``overrides``; launcher overrides are
    dropped from the run's command line (they only shape the script).
    """
    launcher = LauncherSpec.from_config(cfg, "launcher")  # the schema validates every launcher key
    nodes, gpus, cpus, launch = launcher.nodes, launcher.gpus_per_node, launcher.cpus_per_task, launcher.launch
    run_overrides = [o for o in overrides if not _is_launcher(o)]
    options: dict[str, object] = {"account": launcher.account, "partition": launcher.partition, "mem": launcher.mem}
    date_note = ""
    if launcher.array_over_dates:
        dates = OmegaConf.select(cfg, "ic.start_dates", default=None)
        dates = [dates] if isinstance(dates, str) else list(dates or [])
        if not dates:
            raise ConfigError("launcher.array_over_dates=true needs ic.start_dates; list the start dates")
        path = str(OmegaConf.select(cfg, "output.path", default=""))
        if OmegaConf.select(cfg, "output.write", default=True) and "{date}" not in path:
            raise ConfigError(
                f"launcher.array_over_dates=true writes one store per start date, but output.path={path} has no "
                "{date}; set e.g. 'output.path=\"/scratch/hens_{date}.zarr\"'"
            )
        parallel = launcher.array_parallel
        options["array"] = f"0-{len(dates) - 1}" + (f"%{parallel}" if parallel else "")
        # Pin the dates the array was sized for, so later edits of the config files cannot shift the indices.
        pinned = "ic.start_dates=[" + ",".join(f'"{d}"' for d in dates) + "]"
        run_overrides = [o for o in run_overrides if not o.lstrip("+").startswith("ic.start_dates=")]
        run_overrides = [*run_overrides, pinned]
        date_note = (
            f"# Job array over {len(dates)} start dates: task K runs ic.start_dates[K] alone into its own store "
            f"({path})."
        )
    hens_cmd = f"hens generate {_quote(run_overrides)}".rstrip()
    if launcher.array_over_dates:
        hens_cmd += ' "++ic.date_index=${SLURM_ARRAY_TASK_ID}"'
    if launch == "srun":
        tasks_per_node, cpus_per_task = gpus, cpus
        command = f"srun --kill-on-bad-exit=1 {hens_cmd}"
        note = f"srun starts one process per GPU ({nodes} × {gpus} = {nodes * gpus} ranks)"
    else:
        tasks_per_node, cpus_per_task = 1, cpus * gpus
        command = (
            "srun --ntasks-per-node=1 --kill-on-bad-exit=1 torchrun "
            f'--nnodes="$SLURM_NNODES" --nproc-per-node={gpus} --rdzv-backend=c10d '
            '--rdzv-endpoint="$MASTER_ADDR:$MASTER_PORT" --rdzv-id="$SLURM_JOB_ID" '
            f"--no-python {hens_cmd}"
        )
        note = f"one torchrun per node starts one process per GPU ({nodes} × {gpus} = {nodes * gpus} ranks)"
    text = (template_dir() / "generate.sbatch").read_text()
    return text.format(
        job_name=launcher.job_name,
        nodes=nodes,
        tasks_per_node=tasks_per_node,
        gpus_per_node=gpus,
        cpus_per_task=cpus_per_task,
        omp_threads=cpus,
        time=launcher.time,
        launch_note=note,
        sbatch_lines=_sbatch_lines(options, launcher.extra_sbatch),
        setup="\n".join(launcher.setup),
        date_note=date_note,
        launch=command,
    )


def _check_jobqueue(diagnose_cfg: DictConfig) -> bool:
    """True when ``diagnose.dask.jobqueue`` is set; then dask-jobqueue must be importable where we render."""
    if OmegaConf.select(diagnose_cfg, "diagnose.dask.jobqueue", default=None) is None:
        return False
    try:
        import dask_jobqueue  # noqa: F401
    except ImportError as err:
        raise HensError(
            "diagnose.dask.jobqueue is set but dask-jobqueue is not installed; pip install dask-jobqueue "
            "(in the job's environment too)"
        ) from err
    return True


def render_diagnose(launcher: LauncherSpec, diagnose_cfg: DictConfig, store: str, overrides: list[str]) -> str:
    """The sbatch script that runs `hens diagnose STORE overrides` on one node (``launcher.diagnose.*`` keys)."""
    job = launcher.diagnose
    cpus, gpus = job.cpus_per_task, job.gpus
    jobqueue = _check_jobqueue(diagnose_cfg)
    run_overrides = [o for o in overrides if not _is_launcher(o)]
    if not jobqueue and not any(o.lstrip("+").startswith("diagnose.dask.n_workers=") for o in run_overrides):
        run_overrides.append("diagnose.dask.n_workers=${SLURM_CPUS_PER_TASK}")
    options: dict[str, object] = {
        "account": launcher.account,
        "partition": job.partition or launcher.partition,
        "mem": job.mem,
        "gpus-per-node": gpus or None,
    }
    note = (
        "Dask workers: dask-jobqueue jobs from diagnose.dask.jobqueue (this job is their client)."
        if jobqueue
        else "Dask: the allocated cores of this node."
    )
    args = " ".join(
        f'"{o}"' if "${SLURM" in o else shlex.quote(o)  # the SLURM variable is expanded by the job's shell
        for o in run_overrides
    )
    text = (template_dir() / "diagnose.sbatch").read_text()
    return text.format(
        job_name=job.job_name,
        cpus_per_task=cpus,
        time=job.time,
        sbatch_lines=_sbatch_lines(options, launcher.extra_sbatch),
        setup="\n".join(launcher.setup),
        dask_note=note,
        store=shlex.quote(store),
        overrides=args,
    ).replace(" \n", "\n")


def _validate_generate(cfg: DictConfig) -> None:
    """Validate the run's config now rather than in the job (as array task 0 will see it, for job arrays)."""
    from omegaconf import open_dict

    from hens.config import generate_spec

    if OmegaConf.select(cfg, "launcher.array_over_dates", default=False):
        cfg = cfg.copy()
        with open_dict(cfg):
            cfg.ic.date_index = 0
    generate_spec(cfg)


def render(args: list[str]) -> tuple[str, str]:
    """Compose the configs for ``args`` (``[generate|diagnose] [STORE] [overrides]``) → (target, script)."""
    from hens.config import compose_config

    target, store, overrides = split_arguments(args)
    launcher_overrides = [o for o in overrides if _is_launcher(o)]
    if target == "generate":
        cfg = compose_config("generate", ["launcher=slurm", *overrides])
        script = render_generate(cfg, overrides)
        _validate_generate(cfg)
        return target, script
    launcher = LauncherSpec.from_config(compose_config("generate", ["launcher=slurm", *launcher_overrides]), "launcher")
    diagnose_cfg = compose_config("diagnose", [o for o in overrides if not _is_launcher(o)])
    return target, render_diagnose(launcher, diagnose_cfg, str(store), overrides)


def submit(script: Path) -> str:
    """Submit ``script`` with ``sbatch`` and return the job id (from "Submitted batch job N" or --parsable)."""
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        raise HensError(SBATCH_MISSING)
    proc = subprocess.run([sbatch, str(script.resolve())], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["no message"]
        raise HensError(f"sbatch {script} failed (exit {proc.returncode}): {last[0]}; fix the script or the options")
    match = re.search(r"Submitted batch job (\d+)", proc.stdout) or re.match(r"\s*(\d+)", proc.stdout)
    if match is None:
        raise HensError(f"sbatch {script} printed no job id ({proc.stdout.strip()!r}); check squeue")
    return match.group(1)
