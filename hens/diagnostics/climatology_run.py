"""`hens climatology`: read ERA5 over a range of years and write the climatology Zarr `hens diagnose` reads
(``diagnose.climatology.path``) — percentiles per calendar month (or day-of-year window, ``climatology.window_days``)
and hour, quantiles per month (or window).

Orchestration only: the ERA5 reader is :func:`hens.data.era5.era5_verification_dataset`, the statistics and the
layout are :func:`hens.diagnostics.verification.climatology.build_climatology`, applied band by band in bounded
memory by :func:`hens.diagnostics.verification.climatology_blocks.build_climatology_zarr`.  The M-climate of the
daily EFI/SOT comes from hindcasts: ``hens climatology --from-hindcasts`` (:mod:`hens.diagnostics.mclimate_run`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hens.config.climatology import ClimatologyRunSpec
from hens.diagnostics.verification.climatology_blocks import BlockPlan, build_climatology_zarr

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
    truth = era5_verification_dataset(c.path, c.variables, layout=c.layout, where=f"climatology.path={c.path}")
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
