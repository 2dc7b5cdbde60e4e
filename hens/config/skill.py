"""The `hens skill` config schema: deterministic RMSE per channel and lead of each checkpoint against a truth
(ERA5 or the demo world) over start dates — the 48-h RMSE behind the bred-vector amplitudes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from omegaconf import DictConfig

from hens.config.compose import resolved_yaml
from hens.config.fields import DateTime, Flag, Group, Int, ListOf, Pattern, Text, derived, group, setting
from hens.config.generate import ICSpec, ModelSpec

__all__ = ["SkillRunSpec", "SkillSpec", "skill_spec"]


@dataclass(frozen=True, kw_only=True)
class SkillSpec(Group):
    """``skill``: the start dates, the number of steps and where the RMSE table goes."""

    start_dates: tuple[np.datetime64, ...] = setting(
        ListOf(DateTime(), duplicates="error"),
        "Start dates (UTC, ISO 8601) of the deterministic forecasts.",
        fix="e.g. {key}=[2020-01-01T00:00,2020-01-08T00:00]",
    )
    n_steps: int = setting(Int(1), "Model steps per forecast (≥ 48 h for the bred-vector amplitudes).", default=8)
    pooled: bool = setting(
        Flag(),
        "true: one RMSE table for every checkpoint (MSE averaged over checkpoints); false: one per checkpoint.",
        default=True,
    )
    output: str = setting(Text(), "The JSON file written (ensemble.bred_vector.amplitude_file reads it).")


@dataclass(frozen=True, kw_only=True)
class SkillRunSpec(Group):
    """Everything `hens skill` needs, validated (``ic`` names the truth; its start dates are ``skill.start_dates``)."""

    model: ModelSpec = group(ModelSpec, "The checkpoints.")
    ic: ICSpec = group(ICSpec, "The truth: initial states and verification (demo or era5).")
    skill: SkillSpec = group(SkillSpec, "The forecasts and the output.")
    seed: int = setting(Int(0), "Seed of the dynamics' options (used by stochastic dynamics only).", default=2024)
    device: str = setting(
        Pattern(r"auto|cpu|cuda(:\d+)?", what="auto, cpu, cuda or cuda:N"),
        "auto | cpu | cuda | cuda:N.",
        default="auto",
    )
    threads: int | None = setting(Int(1), "CPU threads for torch; null = torch's default.", default=None, null=None)
    progress: bool = setting(Flag(), "Show a progress bar.", default=True)
    resolved: str = derived("The composed config as plain YAML (recorded in the output).")

    @classmethod
    def derive(cls, values: dict[str, Any], extras: dict[str, Any], cfg: DictConfig, prefix: str) -> dict[str, Any]:
        """Record the resolved YAML."""
        return {**values, "resolved": resolved_yaml(cfg)}


def skill_spec(cfg: DictConfig) -> SkillRunSpec:
    """Validate a composed ``skill`` config (ConfigError naming the key and the fix)."""
    return SkillRunSpec.from_config(cfg)
