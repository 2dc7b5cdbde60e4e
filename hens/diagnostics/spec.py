"""Validate a composed ``diagnose`` config into a frozen :class:`DiagnoseSpec`.

Every problem is a one-line :class:`~hens.errors.ConfigError` naming the key and the fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from hens.data.channels import LAYOUTS
from hens.diagnostics.weights import REGIONS
from hens.errors import ConfigError

__all__ = ["ClimatologySpec", "DaskSpec", "DiagnoseSpec", "ExtremesSpec", "diagnose_spec"]

FORMATS = ("zarr", "netcdf")
SCHEDULERS = ("threads", "processes", "synchronous", "distributed")
TIE_BREAKS = ("random", "low", "high")
GRIDS = ("equiangular", "legendre-gauss", "lobatto")
CLIMATOLOGY_SOURCES = ("auto", "shipped", "truth")


@dataclass(frozen=True)
class ClimatologySpec:
    path: str | None
    source: str  #: auto | shipped | truth (demo world only)
    start: str | None
    days: float
    by_month: bool
    by_hour: bool
    pool_longitude: bool
    n_quantiles: int


@dataclass(frozen=True)
class ExtremesSpec:
    enabled: bool
    percentiles: tuple[float, ...]
    reliability_bins: int
    roc_thresholds: int | None  #: None = every k/M (when M ≤ 100)
    sigma_edges: tuple[float, ...]  #: including ±inf at the ends
    map_lead_hours: tuple[float, ...] | None


@dataclass(frozen=True)
class DaskSpec:
    scheduler: str
    address: str | None
    n_workers: int | None
    threads_per_worker: int
    jobqueue: dict[str, Any] | None


@dataclass(frozen=True)
class DiagnoseSpec:
    """Everything `hens diagnose` needs, validated. Regions are ``(name, named region or box tuple)``."""

    output_dir: str | None
    format: str
    variables: tuple[str, ...] | None
    lead_hours: tuple[float, ...] | None
    start_dates: tuple[np.datetime64, ...] | None
    regions: tuple[tuple[str, str | tuple[float, float, float, float]], ...]
    verification_path: str | None
    climatology: ClimatologySpec
    tie_break: str
    spectral: bool
    grid: str
    extremes: ExtremesSpec
    dask: DaskSpec
    lead_chunk: int | None
    lat_chunk: int | None
    lon_chunk: int | None
    seed: int
    progress: bool
    resolved: str
    baseline_path: str | None = None
    baseline_label: str = "baseline"
    verification_layout: str = "auto"  #: auto | wb2 | arco | hens (see hens.data.era5)


def _get(cfg: DictConfig, key: str, default: Any = None) -> Any:
    value = OmegaConf.select(cfg, key, default=default)
    if isinstance(value, DictConfig) or OmegaConf.is_list(value):
        return OmegaConf.to_container(value, resolve=True)
    return value


def _str_list(cfg: DictConfig, key: str) -> tuple[str, ...] | None:
    value = _get(cfg, key)
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{key}={value!r} must be a non-empty list (e.g. {key}=[a,b]) or null for all")
    return tuple(str(v) for v in value)


def _number_list(cfg: DictConfig, key: str, *, allow_empty: bool = False) -> tuple[float, ...] | None:
    value = _get(cfg, key)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or (not value and not allow_empty):
        raise ConfigError(f"{key}={value!r} must be a non-empty list of numbers (e.g. {key}=[24,120]) or null")
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{key}={value!r} must hold numbers only") from err
    if any(math.isnan(v) for v in out):
        raise ConfigError(f"{key} must not contain NaN")
    return out


def _bool(cfg: DictConfig, key: str, default: bool) -> bool:
    value = _get(cfg, key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{key}={value!r} must be true or false")
    return value


def _optional_int(cfg: DictConfig, key: str, minimum: int = 1) -> int | None:
    value = _get(cfg, key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key}={value!r} must be an integer ≥ {minimum} or null")
    return int(value)


def _choice(cfg: DictConfig, key: str, choices: tuple[str, ...], default: str) -> str:
    value = str(_get(cfg, key, default))
    if value not in choices:
        raise ConfigError(f"{key}={value!r} must be one of {', '.join(choices)}")
    return value


def _regions(cfg: DictConfig) -> tuple[tuple[str, str | tuple[float, float, float, float]], ...]:
    names = _str_list(cfg, "diagnose.regions") or ()
    out: list[tuple[str, str | tuple[float, float, float, float]]] = []
    for name in names:
        if name.lower() not in REGIONS:
            raise ConfigError(
                f"diagnose.regions: unknown region {name!r}; use {', '.join(REGIONS)} or add a box with "
                f"+diagnose.boxes.{name}=[lat_min,lat_max,lon_min,lon_max]"
            )
        out.append((name.lower(), name.lower()))
    boxes = _get(cfg, "diagnose.boxes") or {}
    if not isinstance(boxes, dict):
        raise ConfigError("diagnose.boxes must be a mapping name: [lat_min, lat_max, lon_min, lon_max]")
    for name, box in boxes.items():
        key = f"diagnose.boxes.{name}"
        if not isinstance(box, list) or len(box) != 4:
            raise ConfigError(f"{key}={box!r} must be [lat_min, lat_max, lon_min, lon_max] in degrees")
        try:
            lat0, lat1, lon0, lon1 = (float(v) for v in box)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{key}={box!r} must hold 4 numbers") from err
        if not (-90 <= lat0 <= lat1 <= 90):
            raise ConfigError(f"{key}: need -90 ≤ lat_min ≤ lat_max ≤ 90, got {lat0}, {lat1}")
        if str(name) in [n for n, _ in out]:
            raise ConfigError(f"{key}: a region named {name!r} already exists; choose another name")
        out.append((str(name), (lat0, lat1, lon0, lon1)))
    if not out:
        raise ConfigError("diagnose.regions is empty and no diagnose.boxes are given; name at least one region")
    return tuple(out)


def _start_dates(cfg: DictConfig) -> tuple[np.datetime64, ...] | None:
    dates = _str_list(cfg, "diagnose.start_dates")
    if dates is None:
        return None
    out = []
    for d in dates:
        try:
            t = np.datetime64(d, "ns")
        except ValueError as err:
            raise ConfigError(
                f"diagnose.start_dates: {d!r} is not an ISO 8601 date-time (e.g. 2000-03-01T00:00)"
            ) from err
        if np.isnat(t):
            raise ConfigError(f"diagnose.start_dates: {d!r} is not a date-time")
        out.append(t)
    return tuple(out)


def _sigma_edges(cfg: DictConfig) -> tuple[float, ...]:
    edges = _number_list(cfg, "diagnose.extremes.sigma_edges")
    if edges is None or len(edges) < 1 or any(b <= a for a, b in zip(edges[:-1], edges[1:], strict=True)):
        raise ConfigError(
            "diagnose.extremes.sigma_edges must be an increasing list of numbers, e.g. [-3,-2,-1,0,1,2,3]"
        )
    if any(math.isinf(e) for e in edges):
        raise ConfigError("diagnose.extremes.sigma_edges: give finite edges; ±inf are added at the ends")
    return (-math.inf, *edges, math.inf)


def diagnose_spec(cfg: DictConfig) -> DiagnoseSpec:
    """Validate a composed ``diagnose`` config into a :class:`DiagnoseSpec`."""
    if OmegaConf.select(cfg, "diagnose.verification", default=None) is not None and OmegaConf.is_missing(
        cfg.diagnose.verification, "path"
    ):
        raise ConfigError(
            "verification=era5 needs diagnose.verification.path=<ERA5 Zarr>; set it (or use verification=store)"
        )
    if OmegaConf.select(cfg, "diagnose", default=None) is None:
        raise ConfigError("config group diagnose is missing; keep `- diagnose: default` in configs/diagnose.yaml")
    fmt = _choice(cfg, "diagnose.format", FORMATS, "zarr")
    lead_hours = _number_list(cfg, "diagnose.lead_times")
    if lead_hours is not None and any(h < 0 for h in lead_hours):
        raise ConfigError("diagnose.lead_times must be non-negative hours")

    days = _get(cfg, "diagnose.climatology.days", 90)
    if isinstance(days, bool) or not isinstance(days, (int, float)) or not days >= 1:
        raise ConfigError(f"diagnose.climatology.days={days!r} must be a number of days ≥ 1")
    n_quantiles = _optional_int(cfg, "diagnose.climatology.n_quantiles", minimum=3) or 101
    start = _get(cfg, "diagnose.climatology.start")
    if start is not None:
        try:
            np.datetime64(str(start), "ns")
        except ValueError as err:
            raise ConfigError(f"diagnose.climatology.start={start!r} is not an ISO 8601 date-time or null") from err
    clim = ClimatologySpec(
        path=_get(cfg, "diagnose.climatology.path"),
        source=_choice(cfg, "diagnose.climatology.source", CLIMATOLOGY_SOURCES, "auto"),
        start=None if start is None else str(start),
        days=float(days),
        by_month=_bool(cfg, "diagnose.climatology.by_month", False),
        by_hour=_bool(cfg, "diagnose.climatology.by_hour", False),
        pool_longitude=_bool(cfg, "diagnose.climatology.pool_longitude", False),
        n_quantiles=n_quantiles,
    )

    percentiles = _number_list(cfg, "diagnose.extremes.percentiles", allow_empty=True) or ()
    if any(not 0 < p < 100 for p in percentiles):
        raise ConfigError(f"diagnose.extremes.percentiles={list(percentiles)} must lie strictly between 0 and 100")
    bins = _optional_int(cfg, "diagnose.extremes.reliability_bins") or 10
    roc = _get(cfg, "diagnose.extremes.roc_thresholds", "members")
    if roc == "members":
        roc_n = None
    elif isinstance(roc, int) and not isinstance(roc, bool) and roc >= 2:
        roc_n = int(roc)
    else:
        raise ConfigError(f"diagnose.extremes.roc_thresholds={roc!r} must be 'members' or an integer ≥ 2")
    map_leads = _number_list(cfg, "diagnose.extremes.map_lead_times")
    extremes = ExtremesSpec(
        enabled=_bool(cfg, "diagnose.extremes.enabled", True),
        percentiles=tuple(sorted(set(percentiles))),
        reliability_bins=bins,
        roc_thresholds=roc_n,
        sigma_edges=_sigma_edges(cfg),
        map_lead_hours=map_leads,
    )

    jobqueue = _get(cfg, "diagnose.dask.jobqueue")
    if jobqueue is not None and not isinstance(jobqueue, dict):
        raise ConfigError(
            "diagnose.dask.jobqueue must be a mapping like {kind: slurm, jobs: 4, cores: 32, memory: 128GB}"
        )
    address = _get(cfg, "diagnose.dask.address")
    dask_spec = DaskSpec(
        scheduler=_choice(cfg, "diagnose.dask.scheduler", SCHEDULERS, "threads"),
        address=None if address is None else str(address),
        n_workers=_optional_int(cfg, "diagnose.dask.n_workers"),
        threads_per_worker=_optional_int(cfg, "diagnose.dask.threads_per_worker") or 1,
        jobqueue=jobqueue,
    )
    seed = _get(cfg, "diagnose.seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"diagnose.seed={seed!r} must be a non-negative integer")
    output_dir = _get(cfg, "diagnose.output_dir")
    return DiagnoseSpec(
        output_dir=None if output_dir is None else str(output_dir),
        format=fmt,
        variables=_str_list(cfg, "diagnose.variables"),
        lead_hours=lead_hours,
        start_dates=_start_dates(cfg),
        regions=_regions(cfg),
        verification_path=_get(cfg, "diagnose.verification.path"),
        verification_layout=_choice(cfg, "diagnose.verification.layout", LAYOUTS, "auto"),
        baseline_path=_get(cfg, "diagnose.baseline.path"),
        baseline_label=str(_get(cfg, "diagnose.baseline.label") or "baseline"),
        climatology=clim,
        tie_break=_choice(cfg, "diagnose.mean.tie_break", TIE_BREAKS, "random"),
        spectral=_bool(cfg, "diagnose.spectral.enabled", True),
        grid=_choice(cfg, "diagnose.spectral.grid", GRIDS, "equiangular"),
        extremes=extremes,
        dask=dask_spec,
        lead_chunk=_optional_int(cfg, "diagnose.chunks.lead_time"),
        lat_chunk=_optional_int(cfg, "diagnose.chunks.lat"),
        lon_chunk=_optional_int(cfg, "diagnose.chunks.lon"),
        seed=int(seed),
        progress=_bool(cfg, "progress", True),
        resolved=OmegaConf.to_yaml(cfg, resolve=True),
    )
