"""Write an M-climate Zarr (layout: :mod:`hens.diagnostics.verification.mclimate`) from hindcast stores, in blocks.

One task per (channel, lead day, latitude band): it reads that day's steps of every hindcast start date and
member for the band, forms the daily aggregates (:mod:`hens.diagnostics.metrics.daily`), takes the quantiles
of every centre's window (:func:`~hens.diagnostics.verification.mclimate.window_quantiles`) and writes its own
chunks.  The band height follows from the memory budget (:func:`plan_mclimate`), so one task holds at most
about ``memory_bytes`` whatever the number of lead days, channels or centres; tasks run on ``workers`` Dask
threads.  A band of a store chunked over the whole globe reads each chunk once per band (read amplification =
number of bands; one band when the budget holds a whole lead day).  The output is written under
``<output>.partial`` and renamed when complete.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from hens.diagnostics.metrics.daily import daily_values, lead_days
from hens.diagnostics.verification.climatology_blocks import compute_tasks
from hens.diagnostics.verification.mclimate import day_of_year, mclimate_name, window_members, window_quantiles
from hens.errors import HensError

__all__ = ["MClimatePlan", "build_mclimate_zarr", "plan_mclimate"]

BYTES_PER_STEP_VALUE = 12
"""Working bytes per read value (float32 read + its float64 copy in :func:`daily_values`)."""
BYTES_PER_DAILY_VALUE = 24
"""Per daily value and aggregate: the float64 aggregate and :func:`numpy.quantile`'s pooled copy and sort."""


@dataclass(frozen=True)
class MClimatePlan:
    """How the build is split: ``rows`` latitudes per task, ``n_bands`` bands, ``task_bytes`` estimated per task."""

    rows: int
    n_bands: int
    task_bytes: int


def plan_mclimate(
    n_dates: int, n_members: int, steps_per_day: int, n_lat: int, n_lon: int, n_aggregates: int, memory_bytes: float
) -> MClimatePlan:
    """The largest latitude band whose task fits ``memory_bytes``.

    Raises:
        HensError: when one latitude row of every start date and member does not fit.
    """
    values = n_dates * n_members * n_lon
    row_bytes = values * (steps_per_day * BYTES_PER_STEP_VALUE + n_aggregates * BYTES_PER_DAILY_VALUE)
    rows = min(n_lat, int(memory_bytes // row_bytes))
    if rows < 1:
        raise HensError(
            f"mclimate.memory_gb={memory_bytes / 2**30:g} holds less than one latitude row of one lead day "
            f"({row_bytes / 2**20:.1f} MiB); raise mclimate.memory_gb"
        )
    return MClimatePlan(rows=rows, n_bands=math.ceil(n_lat / rows), task_bytes=rows * row_bytes)


def _centres(init_times: np.ndarray, centres: Sequence[str] | None) -> np.ndarray:
    """The centres as ``MM-DD``: as given, else every distinct calendar day of the hindcast start dates."""
    if centres is not None:
        return np.asarray([str(c) for c in centres], dtype=object)
    days = sorted({str(np.datetime_as_string(t, unit="D"))[5:] for t in np.asarray(init_times, "datetime64[D]")})
    return np.asarray(days, dtype=object)


def _template(
    hindcasts: xr.Dataset,
    aggregates: Sequence[str],
    levels: np.ndarray,
    centres: np.ndarray,
    days: list[int],
    rows: int,
) -> xr.Dataset:
    """The output's metadata: every ``<var>_mclimate`` as lazy zeros, one chunk per (aggregate, centre, lead day,
    band)."""
    import dask.array as da

    n_lat, n_lon = hindcasts.sizes["lat"], hindcasts.sizes["lon"]
    shape = (len(aggregates), levels.size, centres.size, len(days), n_lat, n_lon)
    chunks = (1, levels.size, 1, 1, rows, n_lon)
    dims = ("aggregate", "quantile", "centre", "lead_day", "lat", "lon")
    data_vars = {
        mclimate_name(str(v)): (dims, da.zeros(shape, chunks=chunks, dtype=np.float32), dict(hindcasts[v].attrs))
        for v in hindcasts.data_vars
    }
    coords = {
        "aggregate": np.asarray(list(aggregates), dtype=object),
        "quantile": levels,
        "centre": centres,
        "centre_doy": ("centre", day_of_year(centres.astype(str))),
        "lead_day": np.asarray(days, dtype=np.int64),
        "lat": hindcasts["lat"].values,
        "lon": hindcasts["lon"].values,
    }
    return xr.Dataset(data_vars, coords=coords)


def build_mclimate_zarr(
    hindcasts: xr.Dataset,
    output: str | Path,
    *,
    centres: Sequence[str] | None,
    window_days: int,
    aggregates: Sequence[str] = ("mean",),
    quantile_levels: Sequence[float] | np.ndarray | None = None,
    memory_bytes: float = 2 * 2**30,
    workers: int = 1,
    scheduler: str = "threads",
    progress: bool = False,
    attrs: dict[str, Any] | None = None,
) -> MClimatePlan:
    """Write the M-climate of ``hindcasts`` to ``output`` (see the module docstring).

    Args:
        hindcasts: lazy forecast variables ``(init_time, member, lead_time, lat, lon)`` (one or several stores
            opened as one, :func:`hens.diagnostics.verification.multi_store.open_stores`), bad members dropped.
        output: the Zarr to write; must not exist.
        centres: ``MM-DD`` calendar days the M-climate is made for; None = every calendar day of a start date.
        window_days: start dates within ± this many days of year of a centre are pooled (every year).
        aggregates: daily aggregates (``mean`` | ``max`` | ``min``).
        quantile_levels: levels in [0, 1], increasing (default 0, 0.01, …, 1 — what the EFI and SOT need).
        memory_bytes, workers, scheduler, progress: the blocks and their Dask run.
        attrs: extra global attributes.

    Raises:
        HensError: ``output`` exists, no complete lead day, a centre with no start date in its window.
    """
    out = Path(output)
    if out.exists():
        raise HensError(f"mclimate.output={output} exists; remove it or choose another path (nothing was changed)")
    hours = hindcasts["lead_time"].values.astype("timedelta64[s]").astype(np.int64) / 3600.0
    days = lead_days(hours)
    if not days:
        raise HensError("the hindcasts have no complete lead day (24 h of steps after +0 h); generate longer hindcasts")
    inits = hindcasts["init_time"].values
    centre_names = _centres(inits, centres)
    pooled = window_members(day_of_year(inits), day_of_year(centre_names.astype(str)), window_days)
    empty = np.flatnonzero(~pooled.any(axis=1))
    if empty.size:
        raise HensError(
            f"mclimate.centres: no hindcast start date within {window_days} days of {centre_names[empty[0]]}; "
            "drop that centre or widen mclimate.window_days"
        )
    levels = np.linspace(0.0, 1.0, 101) if quantile_levels is None else np.asarray(quantile_levels, dtype=np.float64)
    n_lat, n_lon = hindcasts.sizes["lat"], hindcasts.sizes["lon"]
    per_day = len(next(iter(days.values())))
    plan = plan_mclimate(inits.size, hindcasts.sizes["member"], per_day, n_lat, n_lon, len(aggregates), memory_bytes)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    from hens.io.zarr_open import quiet_zarr

    try:
        template = _template(hindcasts, aggregates, levels, centre_names, list(days), plan.rows)
        template["n_start_dates"] = ("centre", pooled.sum(axis=1).astype(np.int64))
        template.attrs = {
            "kind": "mclimate",
            "window_days": int(window_days),
            "n_members": int(hindcasts.sizes["member"]),
            "lead_day_definition": "lead day d = lead times in (24(d-1), 24d] h, every step present",
            **(attrs or {}),
        }
        with quiet_zarr():
            template.to_zarr(str(partial), mode="w", zarr_format=3, compute=False, consolidated=False)
        _write_bands(hindcasts, partial, days, pooled, aggregates, levels, plan, workers, scheduler, progress)
        _finish(partial)
        os.replace(partial, out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return plan


def _write_bands(
    hindcasts: xr.Dataset,
    partial: Path,
    days: dict[int, np.ndarray],
    pooled: np.ndarray,
    aggregates: Sequence[str],
    levels: np.ndarray,
    plan: MClimatePlan,
    workers: int,
    scheduler: str,
    progress: bool,
) -> None:
    """Every (channel, lead day, band) task: read, aggregate, quantiles, write its chunks."""
    import dask

    from hens.io.zarr_open import quiet_zarr

    n_lat = hindcasts.sizes["lat"]
    dims = ("aggregate", "quantile", "centre", "lead_day", "lat", "lon")

    def task(var: str, d_i: int, pos: np.ndarray, start: int, stop: int) -> None:
        x = hindcasts[var].transpose("init_time", "member", "lead_time", "lat", "lon")
        block = np.asarray(x.isel(lead_time=pos, lat=slice(start, stop)).values)
        q = np.stack([window_quantiles(daily_values(block, how, axis=2), pooled, levels) for how in aggregates])
        ds = xr.Dataset({mclimate_name(var): (dims, q[:, :, :, None])})
        with quiet_zarr():
            ds.to_zarr(str(partial), region={"lead_day": slice(d_i, d_i + 1), "lat": slice(start, stop)}, zarr_format=3)

    tasks = [
        dask.delayed(task)(str(v), d_i, pos, s, min(s + plan.rows, n_lat))
        for v in hindcasts.data_vars
        for d_i, pos in enumerate(days.values())
        for s in range(0, n_lat, plan.rows)
    ]
    label = "M-climate per lead day and band"
    compute_tasks(tasks, workers=workers, scheduler=scheduler, progress=progress, label=label)


def _finish(partial: Path) -> None:
    import zarr

    from hens.io.zarr_open import quiet_zarr

    with quiet_zarr():
        zarr.consolidate_metadata(str(partial))
