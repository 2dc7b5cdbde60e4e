"""A climatology Zarr from years of (lazy) truth in bounded memory: the blocked form of :func:`build_climatology`.

Exact quantiles need every time of a grid point at once, so the work is split over space, never over time:

1. **Transpose.** The truth (ERA5 stores are chunked one time step per chunk) is copied, one block of
   ``time_block`` steps at a time, into a scratch Zarr chunked ``(time_block, rows, lon)``; each block read
   holds ``time_block × lat × lon`` values of every channel.
2. **Bands.** For every channel and latitude band of ``rows`` rows, all times of the band are read (from
   ``n_times / time_block`` scratch chunks) and :func:`~hens.diagnostics.verification.climatology.build_climatology`
   — the one definition of the layout and of the statistics — computes that band's percentiles and M-climate
   quantiles, which are written into their own chunks of the output.

Both passes are Dask graphs of independent tasks (``workers`` threads) sized by :func:`plan_blocks` so that one
task's arrays fit the budget.  Measured (``scripts/bench_climatology.py``, docs/benchmarks.md): pass 2 keeps to
it, but the process's peak still grows with the data (≈ the float32 size of one channel over the period), because
pass 1 leaves memory resident — not yet bounded; see docs/benchmarks.md.  The
output is written under ``<output>.partial`` and renamed when complete, so an interrupted build leaves no Zarr
that `hens diagnose` could mistake for a climatology.
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

from hens.diagnostics.verification.climatology import (
    ALL_HOURS,
    build_climatology,
    climatology_dataset,
    percentile_name,
    quantile_name,
    season_groups,
)
from hens.errors import HensError

__all__ = ["BYTES_PER_VALUE", "BlockPlan", "build_climatology_zarr", "compute_tasks", "check_period", "plan_blocks"]

BYTES_PER_VALUE = 32
"""Working bytes per (time, lat, lon) value of a band in :func:`build_climatology`: the float32 read (4), its
float64 copy (8), a month's selection (8 × 1/12 … 1) and :func:`numpy.quantile`'s sorted copy of it (8), rounded up."""


@dataclass(frozen=True)
class BlockPlan:
    """How the build is split: ``rows`` latitudes per band (pass 2) and ``time_block`` steps per read (pass 1)."""

    rows: int
    time_block: int
    n_bands: int
    n_time_blocks: int
    band_bytes: int
    block_bytes: int


def plan_blocks(n_times: int, n_lat: int, n_lon: int, n_vars: int, memory_bytes: float) -> BlockPlan:
    """The largest band and time block within ``memory_bytes`` per task.

    A band holds ``n_times × rows × n_lon`` values at :data:`BYTES_PER_VALUE`; a time block holds
    ``time_block × n_lat × n_lon × n_vars`` float32 values twice (read and write buffers).

    Raises:
        HensError: when one latitude row of every time does not fit (raise ``climatology.memory_gb``).
    """
    row_bytes = n_times * n_lon * BYTES_PER_VALUE
    rows = min(n_lat, int(memory_bytes // row_bytes))
    if rows < 1:
        raise HensError(
            f"climatology.memory_gb={memory_bytes / 2**30:g} holds less than one latitude row of all {n_times} times "
            f"({row_bytes / 2**20:.1f} MiB); raise climatology.memory_gb or shorten the period"
        )
    step_bytes = n_lat * n_lon * n_vars * 4 * 2
    time_block = int(max(1, min(n_times, memory_bytes // step_bytes)))
    return BlockPlan(
        rows=rows,
        time_block=time_block,
        n_bands=math.ceil(n_lat / rows),
        n_time_blocks=math.ceil(n_times / time_block),
        band_bytes=rows * row_bytes,
        block_bytes=time_block * step_bytes,
    )


def check_period(
    times: np.ndarray, *, by_month: bool, by_hour: bool, window_days: int | None = None, doy_step: int = 1
) -> tuple[str, np.ndarray, np.ndarray]:
    """The season axis (name, values) and hour axis of the climatology, after checking that every (season, hour)
    group has data (seasons: :func:`~hens.diagnostics.verification.climatology.season_groups`).

    Raises:
        HensError: naming the first empty month or day-of-year window (or with its hour) and the keys that fix it.
    """
    import pandas as pd

    idx = pd.DatetimeIndex(np.asarray(times, dtype="datetime64[ns]"))
    if idx.size == 0:
        raise HensError("the ERA5 period has no data in climatology.start … climatology.end; choose years it covers")
    season, axis, groups = season_groups(idx.values, by_month=by_month, window_days=window_days, step=doy_step)
    hours = np.asarray(idx.hour) if by_hour else np.full(idx.size, ALL_HOURS)
    hour_axis = np.unique(hours)
    fix = "widen climatology.window_days" if window_days is not None else "set climatology.by_month=false"
    for value, members in zip(axis, groups, strict=True):
        present = set(hours[members].tolist())
        if not present:
            raise HensError(f"the ERA5 period has no data in {season} {value}; widen climatology.start/end or {fix}")
        missing = [int(h) for h in hour_axis if int(h) not in present]
        if missing:
            raise HensError(
                f"the ERA5 period has no data in {season} {value} at hour {missing[0]}; widen climatology.start/end or "
                "set climatology.by_hour=false"
            )
    return season, axis, hour_axis


def compute_tasks(tasks: list[Any], *, workers: int, scheduler: str, progress: bool, label: str) -> list[Any]:
    """Run Dask delayed tasks on ``workers`` threads (or synchronously), with a progress bar when asked."""
    import contextlib

    import dask
    from dask.diagnostics import ProgressBar

    bar = ProgressBar(dt=0.5) if progress else contextlib.nullcontext()
    kwargs: dict[str, Any] = {"scheduler": scheduler}
    if scheduler == "threads":
        kwargs["num_workers"] = workers
    if progress:
        print(f"hens climatology: {label} ({len(tasks)} tasks)", flush=True)
    with bar:
        return list(dask.compute(*tasks, **kwargs))


def _transpose(truth: xr.Dataset, scratch: Path, plan: BlockPlan, run: dict[str, Any]) -> None:
    """Pass 1: copy the truth into ``scratch`` chunked ``(time_block, rows, lon)``, one time block per task."""
    import dask
    import dask.array as da

    from hens.io.zarr_open import quiet_zarr

    n_times, n_lat, n_lon = truth.sizes["time"], truth.sizes["lat"], truth.sizes["lon"]
    chunks = (plan.time_block, plan.rows, n_lon)
    template = xr.Dataset(
        {
            v: (("time", "lat", "lon"), da.zeros((n_times, n_lat, n_lon), chunks=chunks, dtype=np.float32))
            for v in truth
        },
        coords={"time": truth["time"].values, "lat": truth["lat"].values, "lon": truth["lon"].values},
    )
    with quiet_zarr():
        template.to_zarr(str(scratch), mode="w", zarr_format=3, compute=False, consolidated=False)

    def copy(start: int, stop: int) -> None:
        # Read each channel's block with Dask's synchronous scheduler and write it with the Zarr API: going through
        # xarray's to_zarr(region=…) and a threaded nested compute left memory resident that grew with the period
        # (docs/benchmarks.md); this path holds about two blocks whatever the period.
        import zarr

        with quiet_zarr():
            group = zarr.open_group(str(scratch), mode="r+")
            for var in truth.data_vars:
                data = truth[var].variable.data[start:stop]
                block = data.compute(scheduler="synchronous") if hasattr(data, "dask") else np.asarray(data)
                group[str(var)][start:stop] = np.asarray(block, dtype=np.float32)
                del block

    starts = range(0, n_times, plan.time_block)
    tasks = [dask.delayed(copy)(s, min(s + plan.time_block, n_times)) for s in starts]
    compute_tasks(tasks, label="pass 1/2, copying time blocks", **run)


def _template(
    truth: xr.Dataset,
    percentiles: np.ndarray,
    levels: np.ndarray,
    months: np.ndarray,
    hours: np.ndarray,
    rows: int,
    season: str = "month",
) -> xr.Dataset:
    """The output's metadata: every ``<var>_percentiles`` / ``<var>_quantiles`` as lazy zeros chunked by band."""
    import dask.array as da

    n_lat, n_lon = truth.sizes["lat"], truth.sizes["lon"]
    data_vars: dict[str, Any] = {}
    for var in truth.data_vars:
        p_shape = (percentiles.size, months.size, hours.size, n_lat, n_lon)
        q_shape = (levels.size, months.size, n_lat, n_lon)
        p = da.zeros(p_shape, chunks=(*p_shape[:3], rows, n_lon), dtype=np.float32)
        q = da.zeros(q_shape, chunks=(*q_shape[:2], rows, n_lon), dtype=np.float32)
        data_vars[str(var)] = (p, q, dict(truth[var].attrs))
    lat, lon = truth["lat"].values, truth["lon"].values
    return climatology_dataset(data_vars, percentiles, levels, months, hours, lat, lon, season=season)


def _bands(
    scratch: Path,
    partial: Path,
    variables: list[str],
    n_lat: int,
    plan: BlockPlan,
    options: dict[str, Any],
    run: dict[str, Any],
) -> int:
    """Pass 2: every (channel, latitude band) → its percentiles and quantiles, written into ``partial``.

    Returns the smallest number of truth values behind one percentile (over all bands).
    """
    import dask

    from hens.io.zarr_open import open_zarr_quiet, quiet_zarr

    def band(var: str, start: int, stop: int) -> int:
        values = open_zarr_quiet(scratch, consolidated=False)[[var]].isel(lat=slice(start, stop)).load()
        clim = build_climatology(values, **options)
        keep = [percentile_name(var), quantile_name(var)]
        with quiet_zarr():
            clim[keep].drop_vars(list(clim[keep].coords)).to_zarr(
                str(partial), region={"lat": slice(start, stop)}, zarr_format=3
            )
        return int(clim.attrs["n_samples_min"])

    tasks = [dask.delayed(band)(v, s, min(s + plan.rows, n_lat)) for v in variables for s in range(0, n_lat, plan.rows)]
    return min(compute_tasks(tasks, label="pass 2/2, percentiles per latitude band", **run))


def build_climatology_zarr(
    truth: xr.Dataset,
    output: str | Path,
    *,
    percentiles: Sequence[float],
    quantile_levels: Sequence[float],
    by_month: bool = True,
    by_hour: bool = True,
    window_days: int | None = None,
    doy_step: int = 1,
    memory_bytes: float = 2 * 2**30,
    workers: int = 1,
    scheduler: str = "threads",
    progress: bool = False,
    attrs: dict[str, Any] | None = None,
) -> BlockPlan:
    """Write the climatology of ``truth`` to ``output`` (see the module docstring).

    Args:
        truth: lazy float32 variables ``(time, lat, lon)``, one per channel (e.g. from
            :func:`hens.data.era5.era5_verification_dataset`), already restricted to the period.
        output: the Zarr to write; must not exist.
        percentiles, quantile_levels, by_month, by_hour, window_days, doy_step: as :func:`build_climatology`.
        memory_bytes: budget of one task (:func:`plan_blocks`).
        workers, scheduler, progress: the Dask run (threads or synchronous).
        attrs: extra global attributes (e.g. the source and the resolved config).

    Returns:
        The block plan used.

    Raises:
        HensError: ``output`` exists, an empty (month, hour) group, or a budget below one latitude row.
    """
    out = Path(output)
    if out.exists():
        raise HensError(f"climatology.output={output} exists; remove it or choose another path (nothing was changed)")
    season, months, hours = check_period(
        truth["time"].values, by_month=by_month, by_hour=by_hour, window_days=window_days, doy_step=doy_step
    )
    pct = np.asarray(percentiles, dtype=np.float64)
    levels = np.asarray(quantile_levels, dtype=np.float64)
    variables = [str(v) for v in truth.data_vars]
    n_times, n_lat, n_lon = truth.sizes["time"], truth.sizes["lat"], truth.sizes["lon"]
    plan = plan_blocks(n_times, n_lat, n_lon, len(variables), memory_bytes)
    partial = out.with_name(out.name + ".partial")
    scratch = out.with_name(out.name + ".scratch")
    for leftover in (partial, scratch):
        shutil.rmtree(leftover, ignore_errors=True)
    run = {"workers": workers, "scheduler": scheduler, "progress": progress}
    options = {
        "percentiles": pct,
        "quantile_levels": levels,
        "by_month": by_month,
        "by_hour": by_hour,
        "window_days": window_days,
        "doy_step": doy_step,
    }
    from hens.io.zarr_open import quiet_zarr

    try:
        template = _template(truth, pct, levels, months, hours, plan.rows, season)
        times = truth["time"].to_index()
        template.attrs = {
            "period_start": str(times.min()),
            "period_end": str(times.max()),
            "pool_longitude": 0,
            "comment": f"percentiles per {season} and hour; quantiles per {season}",
            **({"window_days": int(window_days)} if window_days is not None else {}),
            **(attrs or {}),
        }
        with quiet_zarr():
            template.to_zarr(str(partial), mode="w", zarr_format=3, compute=False, consolidated=False)
        _transpose(truth, scratch, plan, run)
        n_min = _bands(scratch, partial, variables, n_lat, plan, options, run)
        _finish(partial, n_min)
        os.replace(partial, out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(partial, ignore_errors=True)
    return plan


def _finish(partial: Path, n_samples_min: int) -> None:
    """Record ``n_samples_min`` and consolidate the metadata of the completed climatology."""
    import zarr

    from hens.io.zarr_open import quiet_zarr

    with quiet_zarr():
        root = zarr.open_group(str(partial), mode="r+")
        root.attrs["n_samples_min"] = int(n_samples_min)
        zarr.consolidate_metadata(str(partial))
