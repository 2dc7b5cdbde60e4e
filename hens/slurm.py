"""Render sbatch scripts from the composed config (``launcher=slurm`` keys) and the template in ``slurm/``."""

from __future__ import annotations

import shlex
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from hens.errors import ConfigError


def template_dir() -> Path:
    """Installed templates (package data ``hens.slurm_templates``) first, then the checkout's ``slurm/``."""
    installed = Path(__file__).resolve().parent / "slurm_templates"
    if (installed / "generate.sbatch").is_file():
        return installed
    return Path(__file__).resolve().parent.parent / "slurm"


def render_generate(cfg: DictConfig, overrides: list[str]) -> str:
    """The sbatch script that runs `hens generate` with ``overrides`` on the configured allocation."""
    launcher = cfg.launcher
    for key in ("nodes", "gpus_per_node", "cpus_per_task"):
        value = launcher.get(key)
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"launcher.{key}={value!r} must be a positive integer")
    run_overrides = [o for o in overrides if not o.startswith(("launcher.", "launcher="))]
    text = (template_dir() / "generate.sbatch").read_text()
    setup = OmegaConf.to_container(launcher.setup) if launcher.get("setup") else []
    return text.format(
        job_name=launcher.job_name,
        nodes=launcher.nodes,
        gpus_per_node=launcher.gpus_per_node,
        cpus_per_task=launcher.cpus_per_task,
        time=launcher.time,
        account_line=f"#SBATCH --account={launcher.account}" if launcher.account else "",
        partition_line=f"#SBATCH --partition={launcher.partition}" if launcher.partition else "",
        setup="\n".join(str(line) for line in setup),
        overrides=" ".join(shlex.quote(o) for o in run_overrides),
    )
