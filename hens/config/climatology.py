"""The `hens climatology` config schema: which ERA5 store, channels, years and statistics make the climatology Zarr
that `hens diagnose` reads with ``diagnose.climatology.path`` (layout: hens/diagnostics/verification/climatology.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig

from hens.config.compose import resolved_yaml
from hens.config.fields import Choice, Flag, Group, Int, ListOf, Number, Text, derived, group, setting
from hens.data.channels import LAYOUTS
from hens.data.derived import DERIVED
from hens.errors import ConfigError

__all__ = ["ClimatologyBuildSpec", "ClimatologyRunSpec", "climatology_spec"]

SCHEDULERS = ("threads", "synchronous")


@dataclass(frozen=True, kw_only=True)
class ClimatologyBuildSpec(Group):
    """``climatology``: the ERA5 period and the statistics of the climatology Zarr."""

    path: str = setting(
        Text(), "ERA5 Zarr (WB2 / ARCO / hens layout) on the forecast grid.", fix="set {key}=<ERA5 Zarr>"
    )
    layout: str = setting(Choice(LAYOUTS), "The ERA5 store's layout: auto | wb2 | arco | hens.", default="auto")
    variables: tuple[str, ...] | None = setting(
        ListOf(Text(), duplicates="error"),
        "Channels (hens names, e.g. t2m, z500); null = every channel the store provides.",
        default=None,
        null=None,
    )
    derived_channels: tuple[str, ...] = setting(
        ListOf(Choice(tuple(DERIVED)), nonempty=False, duplicates="drop"),
        "Derived channels computed from the store's channels, given percentiles and quantiles too; [] = none.",
        key="derived",
        default=(),
        null=(),
        fix="e.g. {key}=[wind_speed_10m,ivt,heat_index]",
    )
    start: int = setting(Int(1), "First year of the period (inclusive).", fix="e.g. {key}=1990")
    end: int = setting(Int(1), "Last year of the period (inclusive).", fix="e.g. {key}=2019")
    percentiles: tuple[float, ...] = setting(
        ListOf(Number(0, 100, low_open=True, high_open=True), duplicates="drop"),
        "Threshold percentiles per calendar month and hour of day.",
        default=(90.0, 95.0, 99.0),
    )
    n_quantiles: int = setting(
        Int(3),
        "M-climate quantile levels for the EFI, evenly spaced from 0 to 1 (101 = every percentile).",
        default=101,
    )
    by_month: bool = setting(Flag(), "Group by calendar month (else pool all months).", default=True)
    window_days: int | None = setting(
        Int(0),
        "Day-of-year windows of ± this many days instead of calendar months (e.g. 15); null = months.",
        default=None,
        null=None,
    )
    doy_step: int = setting(Int(1), "Days between day-of-year window centres (1 = every day).", default=1)
    by_hour: bool = setting(Flag(), "Group the percentiles by hour of day (else pool all hours).", default=True)
    output: str = setting(Text(), "The climatology Zarr to write (must not exist).", fix="set {key}=<path>.zarr")
    memory_gb: float = setting(
        Number(0, low_open=True),
        "Memory budget of one task (GiB): sets the latitude band and time block.",
        default=2.0,
    )
    workers: int = setting(Int(1), "Dask worker threads (each runs one task of memory_gb).", default=1)
    scheduler: str = setting(Choice(SCHEDULERS), "Dask scheduler: threads | synchronous.", default="threads")

    def check(self) -> None:
        """The period runs forward; a derived channel is not also listed as a channel."""
        if self.end < self.start:
            raise ConfigError(
                f"climatology.end={self.end} is before climatology.start={self.start}; give the first and last year"
            )
        both = sorted(set(self.derived_channels) & set(self.variables or ()))
        if both:
            raise ConfigError(
                f"climatology.derived and climatology.variables both name {', '.join(both)}; list it in "
                "climatology.derived only"
            )


@dataclass(frozen=True, kw_only=True)
class ClimatologyRunSpec(Group):
    """Everything `hens climatology` needs, validated; ``resolved`` is the composed config as YAML."""

    climatology: ClimatologyBuildSpec = group(ClimatologyBuildSpec, "The climatology.")
    progress: bool = setting(Flag(), "Show a progress bar while the Dask graph runs.", default=True)
    resolved: str = derived("The composed config as plain YAML (recorded in the climatology).")

    @classmethod
    def derive(cls, values: dict[str, Any], extras: dict[str, Any], cfg: DictConfig, prefix: str) -> dict[str, Any]:
        """Record the resolved YAML."""
        return {**values, "resolved": resolved_yaml(cfg)}


def climatology_spec(cfg: DictConfig) -> ClimatologyRunSpec:
    """Validate a composed ``climatology`` config (ConfigError naming the key and the fix)."""
    return ClimatologyRunSpec.from_config(cfg)
