"""The `hens climatology --from-hindcasts` config schema (``configs/mclimate.yaml``): which hindcast stores, channels,
window and daily aggregates make the M-climate Zarr that `hens diagnose` reads with ``diagnose.climatology.mclimate``
(layout: hens/diagnostics/verification/mclimate.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig

from hens.config.compose import resolved_yaml
from hens.config.fields import Choice, Flag, Group, Int, ListOf, Number, Text, derived, group, setting
from hens.errors import ConfigError

__all__ = ["MClimateBuildSpec", "MClimateRunSpec", "mclimate_spec"]

AGGREGATES = ("mean", "max", "min")
SCHEDULERS = ("threads", "synchronous")
VERIFY_LEVELS = ("full", "size", "none")


@dataclass(frozen=True, kw_only=True)
class MClimateBuildSpec(Group):
    """``mclimate``: the hindcast stores and the statistics of the M-climate Zarr."""

    hindcasts: tuple[str, ...] = setting(
        ListOf(Text()),
        "Hindcast stores written by hens generate: paths or glob patterns ('runs/*.zarr').",
        fix="set {key}=['runs/*.zarr'] or pass hens climatology --from-hindcasts 'runs/*.zarr'",
    )
    variables: tuple[str, ...] | None = setting(
        ListOf(Text(), duplicates="error"),
        "Channels; null = every channel of the stores.",
        default=None,
        null=None,
    )
    window_days: int = setting(
        Int(0), "Start dates within ± this many days of year of a centre are pooled (every year).", default=15
    )
    centres: tuple[str, ...] | None = setting(
        ListOf(Text(), duplicates="drop"),
        "Calendar days (MM-DD) the M-climate is made for; null = every calendar day of a hindcast start date.",
        default=None,
        null=None,
    )
    aggregates: tuple[str, ...] = setting(
        ListOf(Choice(AGGREGATES), duplicates="drop"),
        "Daily aggregates: mean | max | min (max/min e.g. for 2-m temperature).",
        default=("mean",),
    )
    n_quantiles: int = setting(
        Int(3), "Quantile levels evenly spaced from 0 to 1 (101 = every percentile, as the SOT needs).", default=101
    )
    output: str = setting(Text(), "The M-climate Zarr to write (must not exist).", fix="set {key}=<path>.zarr")
    memory_gb: float = setting(
        Number(0, low_open=True), "Memory budget of one task (GiB): sets the latitude band.", default=2.0
    )
    workers: int = setting(Int(1), "Dask worker threads (each runs one task of memory_gb).", default=1)
    scheduler: str = setting(Choice(SCHEDULERS), "Dask scheduler: threads | synchronous.", default="threads")
    verify: str = setting(
        Choice(VERIFY_LEVELS), "Check each store against its manifest first: full | size | none.", default="size"
    )

    def check(self) -> None:
        """Centres are MM-DD calendar days."""
        import re

        for c in self.centres or ():
            if not re.fullmatch(r"(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", c):
                raise ConfigError(f"mclimate.centres: {c!r} is not a calendar day MM-DD; e.g. mclimate.centres=[07-15]")


@dataclass(frozen=True, kw_only=True)
class MClimateRunSpec(Group):
    """Everything an M-climate build needs, validated; ``resolved`` is the composed config as YAML."""

    mclimate: MClimateBuildSpec = group(MClimateBuildSpec, "The M-climate.")
    progress: bool = setting(Flag(), "Show a progress bar while the Dask graph runs.", default=True)
    resolved: str = derived("The composed config as plain YAML (recorded in the M-climate).")

    @classmethod
    def derive(cls, values: dict[str, Any], extras: dict[str, Any], cfg: DictConfig, prefix: str) -> dict[str, Any]:
        """Record the resolved YAML."""
        return {**values, "resolved": resolved_yaml(cfg)}


def mclimate_spec(cfg: DictConfig) -> MClimateRunSpec:
    """Validate a composed ``mclimate`` config (ConfigError naming the key and the fix)."""
    return MClimateRunSpec.from_config(cfg)
