"""Climatologies for the extreme diagnostics: percentile thresholds and the model climate (M-climate) of the EFI.

A climatology dataset (built here for the demo world, or read from ``diagnose.climatology.path`` for real
data) holds, for every channel ``<var>``:

* ``<var>_percentiles(percentile, month, hour, lat, lon)`` — climatological percentiles (e.g. 95th, 99th) per
  calendar month and hour of day: the thresholds of the "value above the percentile" events of the
  reliability diagram, ROC and Brier score;
* ``<var>_quantiles(quantile, month, lat, lon)`` — the M-climate: quantiles at levels ``quantile`` ∈ [0, 1]
  (default 0, 0.01, …, 1) per calendar month, all hours pooled, against which the EFI compares the ensemble.

``month`` is 1 … 12, or the single value 0 meaning "all months pooled"; ``hour`` is the hours of day present
(e.g. 0, 6, 12, 18), or the single value −1 meaning "all hours pooled". :func:`month_hour_index` maps valid
times onto these axes. Real data need the calendar grouping (seasonal and diurnal cycles); a climatology Zarr
built from ERA5 or from reforecasts in this layout is read with :func:`load_climatology`.

**The demo world's climatology, and its M-climate.** The demo truth is a two-layer baroclinic model with
time-independent forcing by default (perpetual equinox): it has no seasons and no diurnal cycle, so grouping by
month or hour would only divide the sample, and months and hours are pooled. By default `hens diagnose` uses the
climatology shipped with hens (:data:`SHIPPED_DEMO_CLIMATOLOGY`, written by ``scripts/train_demo.py`` from a year of
an independent truth trajectory of the same physics: 1,460 samples per grid point) whenever the store's world has
the default physics (:func:`shipped_matches`). For other worlds :func:`demo_climatology` builds one from ``days`` of
the store's own truth from ``start`` (cached; about 6–16 s of simulation per 30 days on 2 cores), optionally pooling
longitudes (``pool_longitude``, valid only for zonally symmetric worlds — the default world's mountains are not).

ECMWF (and HENS) build the M-climate from reforecasts of the same model at the same lead time. The demo SFNOs are
trained on this truth, so their climate is the truth's climate up to model drift; we take the truth's own
distribution as the M-climate. The demo EFI therefore measures how unusual a forecast is relative to the
world's climate (drift included), not relative to the model's. For real data give a Zarr built from
reforecasts in the layout above.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from hens.errors import HensError

__all__ = [
    "SHIPPED_DEMO_CLIMATOLOGY",
    "build_climatology",
    "demo_climatology",
    "load_climatology",
    "month_hour_index",
    "percentile_name",
    "quantile_name",
    "shipped_demo_climatology",
    "shipped_matches",
]

ALL_MONTHS = 0
ALL_HOURS = -1

#: Written by ``scripts/train_demo.py`` from a year of an independent truth trajectory (another seed and epoch)
#: of the default demo world's physics: percentiles and 101 M-climate quantiles per grid point, pooled over
#: months and hours.
SHIPPED_DEMO_CLIMATOLOGY = Path(__file__).resolve().parents[2] / "demo" / "climatology.npz"

# DemoWorldSpec fields that choose a trajectory or the analyses, not the physics or grid: a climatology of the
# default world applies to any world that differs from it only in these.
_TRAJECTORY_FIELDS = (
    "seed",
    "epoch",
    "spin_up_days",
    "block_days",
    "analysis_error_z500",
    "analysis_error_peak_l",
    "analysis_error_width_l",
)


def percentile_name(var: str) -> str:
    return f"{var}_percentiles"


def quantile_name(var: str) -> str:
    return f"{var}_quantiles"


def build_climatology(
    truth: xr.Dataset,
    *,
    percentiles: Sequence[float] = (95.0, 99.0),
    quantile_levels: Sequence[float] | None = None,
    by_month: bool = True,
    by_hour: bool = True,
    pool_longitude: bool = False,
    window_days: int | None = None,
    doy_step: int = 1,
) -> xr.Dataset:
    """Percentiles per calendar month (and hour) and M-climate quantiles per month, at every grid point.

    With ``window_days`` the season axis is ``dayofyear`` instead of ``month``: centres 1, 1 + ``doy_step``, … of
    the 365-day year (29 February counts as 28 February), each pooling every time whose day of year is within
    ± ``window_days`` of it (circularly, over all years) — :func:`season_groups`.

    Args:
        truth: variables ``(time, lat, lon)`` over a long period (e.g. years of reanalysis).
        percentiles: thresholds in percent, e.g. ``(95, 99)``.
        quantile_levels: M-climate levels in [0, 1], increasing; default ``linspace(0, 1, 101)``.
        by_month: group by calendar month (else pool all months, ``month = [0]``).
        by_hour: group the percentiles by hour of day (else pool, ``hour = [-1]``).
        pool_longitude: pool all longitudes of a latitude (for zonally symmetric statistics, as in the demo
            world); the result is the same at every longitude.
        window_days, doy_step: day-of-year windows (see above); None = calendar months (``by_month``).

    Returns:
        Dataset in the layout of the module docstring, float32, with attribute ``n_samples_min`` (the
        smallest number of truth values behind one percentile).

    Raises:
        HensError: when a month (or hour) group is empty, i.e. the truth period is too short.
    """
    levels = np.linspace(0.0, 1.0, 101) if quantile_levels is None else np.asarray(quantile_levels, dtype=np.float64)
    pct = np.asarray(percentiles, dtype=np.float64)
    times = truth["time"].to_index()
    season, month_axis, groups = season_groups(times.values, by_month=by_month, window_days=window_days, step=doy_step)
    hours = np.asarray(times.hour) if by_hour else np.full(len(times), ALL_HOURS, dtype=np.int64)
    hour_axis = np.unique(hours)
    n_lat, n_lon = truth.sizes["lat"], truth.sizes["lon"]
    data_vars: dict[str, Any] = {}
    n_min = np.inf
    for var in truth.data_vars:
        values = np.asarray(truth[var].transpose("time", "lat", "lon").values, dtype=np.float64)
        if pool_longitude:  # [time, lat, lon] → [time × lon, lat, 1]
            values = np.moveaxis(values, 2, 1).reshape(-1, n_lat, 1)
            groups_v, hours_v = np.repeat(groups, n_lon, axis=1), np.repeat(hours, n_lon)
        else:
            groups_v, hours_v = groups, hours
        width = 1 if pool_longitude else n_lon
        p_out = np.empty((pct.size, month_axis.size, hour_axis.size, n_lat, width), dtype=np.float32)
        q_out = np.empty((levels.size, month_axis.size, n_lat, width), dtype=np.float32)
        for mi, month in enumerate(month_axis):
            in_month = groups_v[mi]
            if not in_month.any():
                raise HensError(
                    f"the climatology period has no data in {season} {month}; lengthen the period (at least a "
                    "year) or set by_month=false"
                )
            q_out[:, mi] = np.quantile(values[in_month], levels, axis=0)
            for hi, hour in enumerate(hour_axis):
                sel = in_month & (hours_v == hour)
                if not sel.any():
                    raise HensError(
                        f"the climatology period has no data in {season} {month} at hour {hour}; lengthen "
                        "diagnose.climatology.days or set diagnose.climatology.by_hour=false"
                    )
                n_min = min(n_min, int(sel.sum()))
                p_out[:, mi, hi] = np.quantile(values[sel], pct / 100.0, axis=0)
        if pool_longitude:
            p_out = np.broadcast_to(p_out, p_out.shape[:-1] + (n_lon,)).copy()
            q_out = np.broadcast_to(q_out, q_out.shape[:-1] + (n_lon,)).copy()
        data_vars[str(var)] = (p_out, q_out, dict(truth[var].attrs))
    ds = climatology_dataset(
        data_vars, pct, levels, month_axis, hour_axis, truth["lat"].values, truth["lon"].values, season=season
    )
    ds.attrs.update(
        {
            "n_samples_min": int(n_min),
            "period_start": str(times.min()),
            "period_end": str(times.max()),
            "pool_longitude": int(pool_longitude),
            "comment": f"percentiles per {season} and hour; quantiles per {season}",
            **({"window_days": int(window_days)} if window_days is not None else {}),
        }
    )
    return ds


def season_groups(
    times: np.ndarray, *, by_month: bool, window_days: int | None, step: int = 1
) -> tuple[str, np.ndarray, np.ndarray]:
    """The season axis of a climatology and which times each of its entries pools.

    Returns:
        ``(name, axis, members)``: ``"month"`` with 1 … 12 (or ``[0]``, all pooled, when not ``by_month``) and a
        time in the group of its calendar month; or, with ``window_days``, ``"dayofyear"`` with the centres 1,
        1 + step, … ≤ 365 and a time in every group whose centre is within ± ``window_days`` of its day of year
        (circular, 365-day year). ``members`` is boolean ``[group, time]``.
    """
    from hens.diagnostics.verification.mclimate import day_of_year, doy_distance

    t = np.asarray(times, dtype="datetime64[ns]")
    if window_days is not None:
        axis = np.arange(1, 366, int(step), dtype=np.int64)
        return "dayofyear", axis, doy_distance(axis, day_of_year(t)) <= int(window_days)
    import pandas as pd

    if not by_month:
        return "month", np.array([ALL_MONTHS]), np.ones((1, t.size), dtype=bool)
    months = np.asarray(pd.DatetimeIndex(t).month)
    axis = np.arange(1, 13)
    return "month", axis, months[None, :] == axis[:, None]


def climatology_dataset(
    fields: dict[str, tuple[Any, Any, dict[str, Any]]],
    percentiles: np.ndarray,
    levels: np.ndarray,
    months: np.ndarray,
    hours: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    season: str = "month",
) -> xr.Dataset:
    """The climatology layout `hens diagnose` reads: per variable ``<var>_percentiles`` (percentile, month, hour,
    lat, lon) and ``<var>_quantiles`` (quantile, month, lat, lon) from ``fields[var] = (percentiles, quantiles,
    attrs)`` (NumPy or Dask arrays, units of the variable); percentiles in %, quantile levels in [0, 1]."""
    data_vars: dict[str, Any] = {}
    for var, (p, q, attrs) in fields.items():
        data_vars[percentile_name(var)] = (("percentile", season, "hour", "lat", "lon"), p, attrs)
        data_vars[quantile_name(var)] = (("quantile", season, "lat", "lon"), q, attrs)
    coords = {"percentile": percentiles, "quantile": levels, season: months, "hour": hours, "lat": lat, "lon": lon}
    return xr.Dataset(data_vars, coords=coords)


def month_hour_index(clim: xr.Dataset, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of valid times in the climatology's ``month`` and ``hour`` axes.

    Args:
        clim: a climatology dataset.
        valid: valid times (datetime64), any shape.

    Returns:
        ``(month_index, hour_index)``, int64 arrays of ``valid``'s shape.

    Raises:
        HensError: when a valid time's month or hour is not in the climatology.
    """
    t = np.asarray(valid, dtype="datetime64[ns]")
    import pandas as pd

    idx = pd.DatetimeIndex(t.ravel())
    months = np.asarray(clim["month"].values)
    hours = np.asarray(clim["hour"].values)

    def positions(axis: np.ndarray, wanted: np.ndarray, pooled: int, what: str) -> np.ndarray:
        if axis.size == 1 and axis[0] == pooled:
            return np.zeros(wanted.shape, dtype=np.int64)
        lookup = {int(v): k for k, v in enumerate(axis)}
        missing = sorted({int(w) for w in wanted if int(w) not in lookup})
        if missing:
            raise HensError(
                f"the climatology has no {what} {missing[0]} (it has {', '.join(map(str, axis))}); rebuild it "
                f"covering the forecast's valid times or set diagnose.climatology.by_{what}=false"
            )
        return np.array([lookup[int(w)] for w in wanted], dtype=np.int64)

    if clim.attrs.get("season_axis") == "dayofyear":  # a day-of-year climatology: the nearest centre
        from hens.diagnostics.verification.mclimate import day_of_year, doy_distance

        mi = np.argmin(doy_distance(day_of_year(t.ravel()), months), axis=1).astype(np.int64)
    else:
        mi = positions(months, np.asarray(idx.month), ALL_MONTHS, "month")
    hi = positions(hours, np.asarray(idx.hour), ALL_HOURS, "hour")
    return mi.reshape(t.shape), hi.reshape(t.shape)


def load_climatology(path: str | Path, variables: Sequence[str], lat: np.ndarray, lon: np.ndarray) -> xr.Dataset:
    """Open a climatology Zarr (layout of the module docstring) and check its variables and grid.

    Raises:
        HensError: naming ``diagnose.climatology.path`` and what is wrong.
    """
    from hens.io.zarr_open import open_zarr_quiet

    p = Path(path)
    if not p.exists():
        raise HensError(f"diagnose.climatology.path={path} does not exist; build one or set it to null")
    try:
        clim = open_zarr_quiet(p, consolidated=None)
    except Exception as err:  # noqa: BLE001
        raise HensError(f"diagnose.climatology.path={path} cannot be opened as Zarr ({err})") from err
    if "dayofyear" in clim.dims:  # day-of-year windows: the pipeline indexes the season axis as ``month``
        clim = clim.rename({"dayofyear": "month"})
        clim.attrs["season_axis"] = "dayofyear"
    missing = [n for v in variables for n in (percentile_name(v), quantile_name(v)) if n not in clim]
    if missing:
        raise HensError(
            f"diagnose.climatology.path={path} lacks {', '.join(missing)}; see hens/diagnostics/climatology.py for "
            "the layout"
        )
    if (
        clim.sizes.get("lat") != lat.size
        or clim.sizes.get("lon") != lon.size
        or not (np.allclose(clim["lat"].values, lat, atol=1e-4) and np.allclose(clim["lon"].values, lon, atol=1e-4))
    ):
        raise HensError(f"diagnose.climatology.path={path} is on another grid than the forecast; regrid it")
    return clim


def shipped_matches(demo_world: dict[str, Any]) -> bool:
    """True when the store's demo world has the physics and grid of the default world (the shipped climatology's)."""
    from dataclasses import asdict

    from hens.demo.world import DemoWorldSpec, demo_world_spec

    try:
        mine = asdict(demo_world_spec(demo_world))
    except (HensError, TypeError):
        return False
    default = asdict(DemoWorldSpec())
    return all(mine[k] == default[k] for k in default if k not in _TRAJECTORY_FIELDS)


def shipped_demo_climatology(path: Path = SHIPPED_DEMO_CLIMATOLOGY) -> xr.Dataset:
    """The climatology shipped with hens (``<var>_percentiles``, ``<var>_quantiles``, ``coord_<name>``) as a Dataset.

    Raises:
        HensError: when the file is missing (a partial installation).
    """
    if not Path(path).is_file():
        raise HensError(
            f"the shipped demo climatology {path} is missing; reinstall hens or set diagnose.climatology.source=truth"
        )
    with np.load(path, allow_pickle=False) as z:
        coords = {k[len("coord_") :]: z[k] for k in z.files if k.startswith("coord_")}
        data = {k: z[k] for k in z.files if not k.startswith("coord_")}
    dims = {
        "percentiles": ("percentile", "month", "hour", "lat", "lon"),
        "quantiles": ("quantile", "month", "lat", "lon"),
    }
    data_vars = {k: (dims[k.rsplit("_", 1)[1]], v) for k, v in data.items()}
    return xr.Dataset(data_vars, coords=coords, attrs={"source": f"shipped: {Path(path).name}"})


def _cache_root() -> Path:
    try:
        from hens.demo.world import demo_cache_dir

        return Path(demo_cache_dir())
    except ImportError:
        pass
    env = os.environ.get("HENS_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "hens"


def demo_climatology(
    demo_world: dict[str, Any],
    *,
    start: str | None,
    days: float,
    percentiles: Sequence[float],
    quantile_levels: Sequence[float],
    by_month: bool = False,
    by_hour: bool = False,
    pool_longitude: bool = False,
    fingerprint: str | None = None,
    cache: bool = True,
) -> xr.Dataset:
    """The demo world's climatology from a truth run (see the module docstring), cached next to the demo truth.

    Args:
        demo_world: ``DemoWorldSpec`` fields (from the store's ``hens_initial_conditions``).
        start: first time of the climatology period (ISO 8601); ``None`` = the demo world's epoch.
        days: length of the period in days.
        percentiles, quantile_levels, by_month, by_hour, pool_longitude: see :func:`build_climatology`.
        fingerprint: the demo world's fingerprint (cache key); ``None`` hashes ``demo_world``.
        cache: read/write the cache (``<cache>/climatology/<key>.zarr``).

    Returns:
        The climatology dataset (in memory).
    """
    from hens.demo.world import demo_world_spec

    spec = demo_world_spec(demo_world)
    t0 = np.datetime64(start if start is not None else spec.epoch, "ns")
    step = np.timedelta64(int(spec.sample_hours), "h")
    t1 = t0 + np.timedelta64(int(round(days * 24)), "h")  # exclusive end: samples t0, t0 + step, …, t1 − step
    key_fields = {
        "world": fingerprint or demo_world,
        "start": str(t0),
        "end": str(t1),
        "percentiles": list(map(float, percentiles)),
        "levels": list(map(float, quantile_levels)),
        "by_month": by_month,
        "by_hour": by_hour,
        "pool_longitude": pool_longitude,
    }
    key = hashlib.sha256(json.dumps(key_fields, sort_keys=True, default=str).encode()).hexdigest()[:16]
    path = _cache_root() / "climatology" / f"{key}.zarr"
    if cache and (path / "zarr.json").is_file():
        from hens.io.zarr_open import open_zarr_quiet

        return open_zarr_quiet(path, consolidated=None).load()
    from hens.diagnostics.verification.truth import demo_truth

    truth = demo_truth(demo_world, t0, t1 - step)
    clim = build_climatology(
        truth,
        percentiles=percentiles,
        quantile_levels=quantile_levels,
        by_month=by_month,
        by_hour=by_hour,
        pool_longitude=pool_longitude,
    )
    if cache:
        from hens.io.zarr_open import quiet_zarr

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        with quiet_zarr():
            clim.to_zarr(str(tmp), mode="w", zarr_format=3, consolidated=True)
        try:
            os.replace(tmp, path)
        except OSError:  # another process cached it first
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    return clim
