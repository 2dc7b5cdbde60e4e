"""The `hens diagnose` config schema: ``configs/diagnose.yaml`` with its groups ``diagnose/`` and
``verification/`` (at ``diagnose.verification``), validated into a frozen :class:`DiagnoseSpec`.

:class:`DiagnoseSpec` is flat where its readers want it flat (``spec.tie_break`` is ``diagnose.mean.tie_break``);
each field names its key.  Every problem is a one-line :class:`~hens.errors.ConfigError` naming the key and fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from omegaconf import DictConfig, OmegaConf

from hens.config.compose import resolved_yaml
from hens.config.fields import (
    Choice,
    DateTime,
    Flag,
    Group,
    Int,
    Invalid,
    Kind,
    ListOf,
    MapOf,
    Number,
    Setting,
    Text,
    derived,
    group,
    setting,
)
from hens.constants import KERNEL_DEVICES
from hens.data.channels import LAYOUTS
from hens.data.derived import DERIVED
from hens.errors import ConfigError
from hens.regions import REGIONS

__all__ = [
    "BootstrapSpec",
    "ClimatologySpec",
    "DaskSpec",
    "DiagnoseSpec",
    "EnsembleSizeSpec",
    "ExtremesSpec",
    "diagnose_spec",
]

FORMATS = ("zarr", "netcdf")
VERIFY_LEVELS = ("full", "size", "none")
SCHEDULERS = ("threads", "processes", "synchronous", "distributed")
TIE_BREAKS = ("random", "low", "high")
GRIDS = ("equiangular", "legendre-gauss", "lobatto")
CLIMATOLOGY_SOURCES = ("auto", "shipped", "truth")
CRPS_KINDS = ("ecdf", "fair")

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class _BoxKind(Kind):
    """A lat/lon box ``[lat_min, lat_max, lon_min, lon_max]`` in degrees → tuple of floats."""

    what: str = "[lat_min, lat_max, lon_min, lon_max] in degrees"

    def read(self, value: Any, key: str) -> Box:
        if not isinstance(value, list) or len(value) != 4:
            raise Invalid(key, value, self.what)
        lat0, lat1, lon0, lon1 = (Number().read(v, key) for v in value)
        if not -90 <= lat0 <= lat1 <= 90:
            raise ConfigError(f"{key}: need -90 ≤ lat_min ≤ lat_max ≤ 90, got {lat0}, {lat1}")
        return (lat0, lat1, lon0, lon1)


@dataclass(frozen=True)
class _SigmaEdges(Kind):
    """Increasing finite histogram edges → with ±inf added at the ends."""

    what: str = "an increasing list of numbers, e.g. [-3,-2,-1,0,1,2,3]"

    def read(self, value: Any, key: str) -> tuple[float, ...]:
        edges = ListOf(Number()).read(value, key)
        if any(b <= a for a, b in zip(edges[:-1], edges[1:], strict=True)):
            raise Invalid(key, value, self.what)
        if any(math.isinf(e) for e in edges):
            raise ConfigError(f"{key}: give finite edges; ±inf are added at the ends")
        return (-math.inf, *edges, math.inf)


@dataclass(frozen=True, kw_only=True)
class ClimatologySpec(Group):
    """``diagnose.climatology``: the climatology of the extremes scores (a Zarr, the shipped demo one, or one
    built from a demo truth run)."""

    path: str | None = setting(
        Text(), "Zarr of <var>_percentiles / <var>_quantiles; null = the demo world's.", default=None, null=None
    )
    source: str = setting(Choice(CLIMATOLOGY_SOURCES), "auto | shipped | truth (demo world only).", default="auto")
    start: str | None = setting(
        DateTime(as_text=True),
        "Truth-run build: start of the period (null = the world's epoch).",
        default=None,
        null=None,
    )
    days: float = setting(Number(1), "Truth-run build: length of the period in days.", default=90.0)
    by_month: bool = setting(Flag(), "Truth-run build: group by calendar month.", default=False)
    by_hour: bool = setting(Flag(), "Truth-run build: group by hour of day.", default=False)
    pool_longitude: bool = setting(Flag(), "Truth-run build: pool all longitudes of a latitude.", default=False)
    mclimate: str | None = setting(
        Text(),
        "M-climate Zarr (hens climatology --from-hindcasts): daily EFI and SOT per lead day; null = none.",
        default=None,
        null=None,
    )
    n_quantiles: int = setting(
        Int(3), "Truth-run build: M-climate quantile levels for the EFI (null = 101).", default=101, null=101
    )


@dataclass(frozen=True, kw_only=True)
class ExtremesSpec(Group):
    """``diagnose.extremes``: EFI, reliability, ROC, outliers and σ-distances."""

    enabled: bool = setting(Flag(), "Score extremes (needs a climatology).", default=True)
    percentiles: tuple[float, ...] = setting(
        ListOf(Number(0, 100, low_open=True, high_open=True), nonempty=False, duplicates="drop"),
        "Events: value above these climatological percentiles; null = none.",
        default=(95.0, 99.0),
        null=(),
    )
    reliability_bins: int = setting(Int(1), "Reliability-diagram bins (null = 10).", default=10, null=10)
    roc_thresholds: int | None = setting(
        Int(2), "ROC probability thresholds: members (every k/M) or a number.", default=None, words={"members": None}
    )
    sigma_edges: tuple[float, ...] = setting(
        _SigmaEdges(), "Edges (ensemble σ) of the (truth − mean)/σ histogram; ±inf are added at the ends."
    )
    daily_aggregates: tuple[str, ...] = setting(
        ListOf(Choice(("mean", "max", "min")), duplicates="drop"),
        "Daily aggregates of the daily EFI/SOT (need diagnose.climatology.mclimate): mean | max | min.",
        default=("mean",),
    )
    efi_lead_days: tuple[int, ...] | None = setting(
        ListOf(Int(1), duplicates="drop"),
        "Lead days of the daily EFI/SOT maps; null = every complete lead day the M-climate has.",
        default=None,
        null=None,
    )
    map_lead_hours: tuple[float, ...] | None = setting(
        ListOf(Number()),
        "Lead times (h) of the EFI and best-member maps; null = about day 3 and the last.",
        key="map_lead_times",
        default=None,
        null=None,
    )


@dataclass(frozen=True, kw_only=True)
class BootstrapSpec(Group):
    """``diagnose.bootstrap``: the percentile-bootstrap intervals of the scores."""

    n_resamples: int = setting(Int(20), "Bootstrap resamples (null = 1000).", default=1000, null=1000)
    confidence: float = setting(
        Number(0, 1, low_open=True, high_open=True), "Central coverage of the intervals.", default=0.9
    )
    seed: int = setting(Int(0), "Seed of the resamples.", default=0)
    min_start_dates: int = setting(
        Int(1), "Below this many start dates a unit is a start date × a longitude sector.", default=20
    )
    longitude_blocks: int = setting(Int(1), "Longitude sectors per start date then (1: dates only).", default=8)


@dataclass(frozen=True, kw_only=True)
class EnsembleSizeSpec(Group):
    """``diagnose.ensemble_size``: scores of seeded sub-ensembles against their size M (HENS Part II)."""

    enabled: bool = setting(Flag(), "Score sub-ensembles of several sizes.", default=True)
    sizes: tuple[int, ...] = setting(
        ListOf(Int(2), duplicates="drop"),
        "Sub-ensemble sizes; those ≥ the store's M are dropped and M is always added.",
        default=(5, 10, 20, 50, 100, 500),
    )
    draws: int = setting(Int(1), "Seeded draws (without replacement) per size.", default=3)
    seed: int = setting(Int(0), "Seed of the draws.", default=0)
    crps_tolerance: float = setting(
        Number(0), "Sufficient size: CRPS within this fraction of the full ensemble's.", default=0.05
    )
    criterion: str = setting(
        Choice(CRPS_KINDS), "The CRPS of the sufficient size: ecdf (the M-member score) | fair.", default="ecdf"
    )
    sigma_thresholds: tuple[float, ...] = setting(
        ListOf(Number(0, low_open=True), duplicates="drop"),
        "k of the counts of truth values beyond k σ of the ensemble mean.",
        default=(3.0, 4.0),
    )


@dataclass(frozen=True, kw_only=True)
class DaskSpec(Group):
    """``diagnose.dask``: where the Dask graph runs."""

    scheduler: str = setting(
        Choice(SCHEDULERS), "threads | processes | synchronous | distributed (local cluster).", default="threads"
    )
    address: str | None = setting(Text(), "A scheduler address (tcp://host:8786).", default=None, null=None)
    n_workers: int | None = setting(
        Int(1), "Workers of the local distributed cluster; null = one per core.", default=None, null=None
    )
    threads_per_worker: int = setting(Int(1), "Threads per worker (null = 1).", default=1, null=1)
    jobqueue: dict[str, Any] | None = setting(
        MapOf(what="a mapping like {kind: slurm, jobs: 4, cores: 32, memory: 128GB}"),
        "dask-jobqueue cluster settings; null = none.",
        default=None,
        null=None,
    )


_REGION_FIX = "add other regions as boxes: +diagnose.boxes.NAME=[lat_min,lat_max,lon_min,lon_max]"


@dataclass(frozen=True, kw_only=True)
class DiagnoseSpec(Group):
    """Everything `hens diagnose` needs, validated. Regions are ``(name, named region or box tuple)``."""

    output_dir: str | None = setting(
        Text(),
        "Output folder; null = <store name>.diagnostics beside the store.",
        key="diagnose.output_dir",
        default=None,
        null=None,
    )
    format: str = setting(Choice(FORMATS), "Scores dataset: zarr | netcdf.", key="diagnose.format", default="zarr")
    overwrite: bool = setting(
        Flag(),
        "Write into an output folder that hens diagnose did not create (otherwise refused).",
        key="diagnose.overwrite",
        default=False,
    )
    variables: tuple[str, ...] | None = setting(
        ListOf(Text()),
        "Channels to diagnose; null = all.",
        key="diagnose.variables",
        default=None,
        null=None,
        fix="e.g. {key}=[z500,t850]",
    )
    plot_variables: tuple[str, ...] | None = setting(
        ListOf(Text()),
        "Variables drawn in the plots (in this order, among those scored); null = all; none scored = all.",
        key="diagnose.plot_variables",
        default=("z500", "t850", "u500", "v500"),
        null=None,
        fix="e.g. {key}=[z500,t850] or {key}=null",
    )
    derived_channels: tuple[str, ...] = setting(
        ListOf(Choice(tuple(DERIVED)), nonempty=False),
        "Derived channels computed from the store's channels and scored too; [] = none.",
        key="diagnose.derived",
        default=(),
        null=(),
        fix="e.g. {key}=[wind_speed_10m,ivt,heat_index]",
    )
    lead_hours: tuple[float, ...] | None = setting(
        ListOf(Number(0)), "Lead times in hours; null = all.", key="diagnose.lead_times", default=None, null=None
    )
    start_dates: tuple[np.datetime64, ...] | None = setting(
        ListOf(DateTime()),
        "Start dates among the store's init_time; null = all.",
        key="diagnose.start_dates",
        default=None,
        null=None,
    )
    regions: tuple[tuple[str, str | Box], ...] = setting(
        ListOf(Choice(tuple(REGIONS), lower=True)),
        "Named regions (then the boxes of diagnose.boxes); null = none.",
        key="diagnose.regions",
        default=tuple(REGIONS),
        null=(),
        fix=_REGION_FIX,
    )
    verification_path: str | None = setting(
        Text(),
        "Verification Zarr; null = the one the store names.",
        key="diagnose.verification.path",
        default=None,
        null=None,
        fix="set {key}=<ERA5 Zarr> (or use verification=store)",
    )
    climatology: ClimatologySpec = group(ClimatologySpec, "The climatology.", key="diagnose.climatology")
    tie_break: str = setting(
        Choice(TIE_BREAKS), "Rank-histogram ties: random | low | high.", key="diagnose.mean.tie_break", default="random"
    )
    spectral: bool = setting(Flag(), "Score angular power spectra.", key="diagnose.spectral.enabled", default=True)
    grid: str = setting(
        Choice(GRIDS),
        "torch-harmonics grid of the store's latitudes.",
        key="diagnose.spectral.grid",
        default="equiangular",
    )
    spectral_max_members: int | None = setting(
        Int(1),
        "Members whose spectra are averaged (a seeded subset); all | null = every member.",
        key="diagnose.spectral.max_members",
        default=64,
        null=None,
        words={"all": None},
    )
    memory_gb: float | None = setting(
        Number(0, low_open=True),
        "Memory (GB) one statistics block may use; lat/lon tiles are chosen to fit; null = no budget.",
        key="diagnose.memory_gb",
        default=None,
        null=None,
    )
    extremes: ExtremesSpec = group(ExtremesSpec, "The extremes scores.", key="diagnose.extremes")
    dask: DaskSpec = group(DaskSpec, "The Dask scheduler.", key="diagnose.dask")
    bootstrap: BootstrapSpec = group(BootstrapSpec, "The bootstrap intervals.", key="diagnose.bootstrap")
    ensemble_size: EnsembleSizeSpec = group(
        EnsembleSizeSpec, "Scores against the ensemble size.", key="diagnose.ensemble_size"
    )
    lead_chunk: int | None = setting(
        Int(1),
        "Lead times per block; null = the store's lead chunk.",
        key="diagnose.chunks.lead_time",
        default=None,
        null=None,
    )
    lat_chunk: int | None = setting(
        Int(1), "Latitudes per block; null = all.", key="diagnose.chunks.lat", default=None, null=None
    )
    lon_chunk: int | None = setting(
        Int(1), "Longitudes per block; null = all.", key="diagnose.chunks.lon", default=None, null=None
    )
    seed: int = setting(Int(0), "Seed of the rank-histogram random tie-break.", key="diagnose.seed", default=0)
    device: str = setting(
        Choice(KERNEL_DEVICES),
        "Where the spectral transforms and the fair CRPS run (torch): cpu | cuda.",
        key="diagnose.device",
        default="cpu",
    )
    verify: str = setting(
        Choice(VERIFY_LEVELS),
        "Check the store's chunks against the manifest first: full (CRC32C) | size | none.",
        key="diagnose.verify",
        default="full",
    )
    allow_incomplete: bool = setting(
        Flag(),
        "Score a store with damaged or not-yet-generated chunks, leaving those member-dates out.",
        key="diagnose.allow_incomplete",
        default=False,
    )
    progress: bool = setting(Flag(), "Show a progress bar while the Dask graph runs.", default=True)
    resolved: str = derived("The composed config as plain YAML (recorded in the scores).")
    baseline_path: str | None = setting(
        Text(),
        "A second store (or glob pattern) compared side by side.",
        key="diagnose.baseline.path",
        default=None,
        null=None,
    )
    baseline_label: str = setting(
        Text(),
        "The baseline's name in plots and the report.",
        key="diagnose.baseline.label",
        default="baseline",
        null="baseline",
    )
    verification_layout: str = setting(
        Choice(LAYOUTS),
        "Verification layout: auto | wb2 | arco | hens.",
        key="diagnose.verification.layout",
        default="auto",
    )

    EXTRA_KEYS: ClassVar[dict[str, Setting]] = {
        "boxes": Setting(
            MapOf(_BoxKind(), what="a mapping name: [lat_min, lat_max, lon_min, lon_max]"),
            "Extra lat/lon boxes by name, added to the regions (+diagnose.boxes.europe=[35,70,-10,40]).",
            key="diagnose.boxes",
            default={},
            null={},
        )
    }

    @classmethod
    def from_config(cls, cfg: DictConfig, prefix: str = "") -> DiagnoseSpec:
        """Validate a composed ``diagnose`` config (the ``diagnose`` group must be there)."""
        if OmegaConf.select(cfg, "diagnose", default=None) is None:
            raise ConfigError("config group diagnose is missing; keep `- diagnose: default` in configs/diagnose.yaml")
        return super().from_config(cfg, prefix)

    @classmethod
    def derive(cls, values: dict[str, Any], extras: dict[str, Any], cfg: DictConfig, prefix: str) -> dict[str, Any]:
        """Regions: the named ones, then the boxes (names unique); and the resolved YAML."""
        regions: list[tuple[str, str | Box]] = [(name, name) for name in values["regions"]]
        for name, box in extras["boxes"].items():
            if name in [n for n, _ in regions]:
                raise ConfigError(f"diagnose.boxes.{name}: a region named {name!r} already exists; choose another name")
            regions.append((name, box))
        if not regions:
            raise ConfigError("diagnose.regions is empty and no diagnose.boxes are given; name at least one region")
        return {**values, "regions": tuple(regions), "resolved": resolved_yaml(cfg)}


def diagnose_spec(cfg: DictConfig) -> DiagnoseSpec:
    """Validate a composed ``diagnose`` config into a :class:`DiagnoseSpec` (ConfigError naming key and fix)."""
    return DiagnoseSpec.from_config(cfg)
