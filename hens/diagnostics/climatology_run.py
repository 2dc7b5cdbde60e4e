"""`hens climatology`: read ERA5 over a range of years and write the climatology Zarr `hens diagnose` reads
(``diagnose.climatology.path``) — percentiles per calendar month (or day-of-year window, ``climatology.window_days``)
and hour, quantiles per month (or window).

Orchestration only: the ERA5 reader is :func:`hens.data.era5.era5_verification_dataset`, the statistics and the
layout are :func:`hens.diagnostics.verification.climatology.build_climatology`, applied band by band in bounded
memory by :func:`hens.diagnostics.verification.climatology_blocks.build_climatology_zarr`.  Derived channels
(``climatology.derived``) are computed lazily from the ERA5 channels by the formulas `hens diagnose` and `hens
generate` use (:mod:`hens.data.derived`), element-wise per Dask chunk, and treated like any channel.  The M-climate
of the daily EFI/SOT comes from hindcasts: ``hens climatology --from-hindcasts`` (:mod:`hens.diagnostics.mclimate_run`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from hens.config.climatology import ClimatologyBuildSpec, ClimatologyRunSpec
from hens.data.derived import derived_inputs
from hens.diagnostics.verification.climatology_blocks import BlockPlan, build_climatology_zarr
from hens.diagnostics.verification.derived_fields import add_derived
from hens.errors import HensError

__all__ = ["ClimatologyResult", "run_climatology"]


@dataclass(frozen=True)
class ClimatologyResult:
    """What a build wrote: the Zarr, its channels and times, the block plan and the wall time."""

    output: Path
    variables: tuple[str, ...]
    n_times: int
    plan: BlockPlan
    seconds: float

    def summary(self) -> str:
        return (
            f"hens climatology: {len(self.variables)} channel(s) × {self.n_times} times in {self.plan.n_bands} "
            f"latitude band(s) of {self.plan.rows} rows, {self.seconds:.1f} s → {self.output}"
        )


def run_climatology(spec: ClimatologyRunSpec) -> ClimatologyResult:
    """Build the climatology of ``spec`` (HensError naming the key at the first problem; nothing half-written)."""
    from hens.data.era5 import era5_verification_dataset

    c = spec.climatology
    start = time.perf_counter()
    truth = _with_derived(c, era5_verification_dataset)
    period = slice(np.datetime64(f"{c.start:04d}-01-01T00:00"), np.datetime64(f"{c.end + 1:04d}-01-01T00:00"))
    truth = truth.sel(time=period)
    truth = truth.isel(time=np.flatnonzero(truth["time"].values < period.stop))  # the end year, inclusive
    levels = np.linspace(0.0, 1.0, c.n_quantiles)
    plan = build_climatology_zarr(
        truth,
        c.output,
        percentiles=c.percentiles,
        quantile_levels=levels,
        by_month=c.by_month,
        by_hour=c.by_hour,
        window_days=c.window_days,
        doy_step=c.doy_step,
        memory_bytes=c.memory_gb * 2**30,
        workers=c.workers,
        scheduler=c.scheduler,
        progress=spec.progress,
        attrs={
            "source": json.dumps({"path": c.path, "layout": truth.attrs.get("hens_era5_layout", c.layout)}),
            "years": f"{c.start}-{c.end}",
            "hens_config": spec.resolved,
        },
    )
    return ClimatologyResult(
        Path(c.output), tuple(str(v) for v in truth.data_vars), truth.sizes["time"], plan, time.perf_counter() - start
    )


def _with_derived(c: ClimatologyBuildSpec, reader: Callable[..., xr.Dataset]) -> xr.Dataset:
    """The ERA5 channels ``climatology.variables`` (lazily, by ``reader``:
    :func:`hens.data.era5.era5_verification_dataset`), then the derived channels ``climatology.derived`` computed
    lazily from the channels the store provides (their inputs are read, not kept).

    Raises:
        HensError: one line naming the derived channels whose inputs the store lacks.
    """
    where = f"climatology.path={c.path}"
    if not c.derived_channels:
        return reader(c.path, c.variables, layout=c.layout, where=where)
    available = reader(c.path, None, layout=c.layout, where=where)  # lazy: which channels the store can provide
    try:
        plan = derived_inputs(c.derived_channels, list(available.data_vars))
    except HensError as err:
        lacks = str(err).replace("the data lack", "the ERA5 store lacks")
        raise HensError(f"climatology.derived: {lacks}; drop it from climatology.derived") from None
    kept = list(c.variables) if c.variables is not None else list(available.data_vars)
    inputs = sorted({i for names in plan.values() for i in names} | set(kept))
    truth = add_derived(reader(c.path, inputs, layout=c.layout, where=where), plan)
    return truth[[*kept, *plan]]
