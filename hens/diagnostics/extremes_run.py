"""The daily EFI and SOT of `hens diagnose` (``diagnose.climatology.mclimate``) and the plain description of the
climatology the extremes scores were computed against.

Orchestration glue for :mod:`hens.diagnostics.run`: open and check the M-climate for the diagnosed start dates
and lead days (:func:`daily_setup`), build one lazy graph per channel (:func:`daily_graphs`) and put the computed
maps into the scores dataset (:func:`add_daily`).  The science is
:func:`hens.diagnostics.aggregate.daily_extremes.daily_extremes_lazy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from hens.config import DiagnoseSpec
from hens.diagnostics.aggregate.daily_extremes import daily_extremes_lazy
from hens.diagnostics.aggregate.tiles import block_chunks, block_forecast
from hens.diagnostics.metrics.daily import lead_days
from hens.diagnostics.verification.mclimate import centre_index, load_mclimate, mclimate_name
from hens.errors import HensError

__all__ = ["DailySetup", "add_daily", "daily_graphs", "daily_setup", "describe_climatology"]

DAILY_PRODUCTS = {
    "efi_daily": "Extreme Forecast Index of daily aggregates vs the M-climate of the same lead day",
    "sot_upper": "Shift of Tails, upper (forecast 90th vs M-climate 90th/99th percentiles)",
    "sot_lower": "Shift of Tails, lower (forecast 10th vs M-climate 10th/1st percentiles)",
}


@dataclass(frozen=True)
class DailySetup:
    """The opened M-climate, each start date's centre, the lead days to score and the daily aggregates."""

    mclimate: xr.Dataset
    centre_index: np.ndarray
    days: dict[int, np.ndarray]
    aggregates: tuple[str, ...]
    path: str


def daily_setup(
    spec: DiagnoseSpec, variables: list[str], lat: np.ndarray, lon: np.ndarray, inits: np.ndarray, hours: np.ndarray
) -> DailySetup | None:
    """The daily EFI/SOT set-up, or None without ``diagnose.climatology.mclimate`` (or with extremes off).

    Raises:
        HensError: the M-climate is missing, on another grid, lacks a channel, aggregate or lead day, or has no
            centre near a start date; or the store has no complete lead day.
    """
    path = spec.climatology.mclimate
    if path is None or not spec.extremes.enabled:
        return None
    mclim = load_mclimate(path, variables, lat, lon)
    have = [str(a) for a in mclim["aggregate"].values]
    missing = [a for a in spec.extremes.daily_aggregates if a not in have]
    if missing:
        raise HensError(
            f"diagnose.extremes.daily_aggregates: the M-climate {path} has no daily {missing[0]} (it has "
            f"{', '.join(have)}); rebuild it with mclimate.aggregates=[...] or choose among those"
        )
    mc_days = {int(d) for d in mclim["lead_day"].values}
    days = lead_days(hours)
    if spec.extremes.efi_lead_days is not None:
        absent = [d for d in spec.extremes.efi_lead_days if d not in days or d not in mc_days]
        if absent:
            raise HensError(
                f"diagnose.extremes.efi_lead_days: lead day {absent[0]} is not complete in the diagnosed lead times "
                f"(days {sorted(days)}) or not in the M-climate (days {sorted(mc_days)}); choose among both"
            )
        days = {d: days[d] for d in spec.extremes.efi_lead_days}
    days = {d: p for d, p in days.items() if d in mc_days}
    if not days:
        raise HensError(
            f"no lead day is both complete in the diagnosed lead times and in the M-climate {path} (days "
            f"{sorted(mc_days)}); diagnose longer lead times or set diagnose.climatology.mclimate=null"
        )
    return DailySetup(mclim, centre_index(mclim, inits), days, tuple(spec.extremes.daily_aggregates), str(path))


def daily_graphs(
    setup: DailySetup, spec: DiagnoseSpec, forecast: xr.Dataset, store: Any, n_members: int
) -> dict[str, Any]:
    """``daily/<var>``: one lazy dataset of daily EFI/SOT maps per channel, read in the statistics' memory tiles."""
    graphs: dict[str, Any] = {}
    for var in forecast.data_vars:
        chunks = block_chunks(forecast[var], n_members, spec.memory_gb, spec.lead_chunk, spec.lat_chunk, spec.lon_chunk)
        blocks = block_forecast(store, forecast[var], chunks)
        graphs[f"daily/{var}"] = daily_extremes_lazy(
            blocks,
            setup.mclimate[mclimate_name(str(var))],
            centre_index=setup.centre_index,
            days=setup.days,
            aggregates=setup.aggregates,
        )
    return graphs


def add_daily(scores: xr.Dataset, variables: list[str], results: dict[str, Any], setup: DailySetup) -> xr.Dataset:
    """Put ``efi_daily``, ``sot_upper``, ``sot_lower`` ``(variable, aggregate, init_time, lead_day, lat, lon)``
    (float32, dimensionless) into ``scores``, with the M-climate named in the attributes."""
    per_var = xr.concat([results[f"daily/{v}"] for v in variables], dim="variable", coords="minimal", compat="override")
    per_var = per_var.assign_coords(variable=variables)
    out = scores.copy()
    for name, long_name in DAILY_PRODUCTS.items():
        da = per_var[name].astype(np.float32).transpose("variable", "aggregate", "init_time", "lead_day", "lat", "lon")
        da.attrs = {"long_name": long_name, "units": "1"}
        out[name] = da
    mc = setup.mclimate
    out.attrs["mclimate"] = (
        f"{setup.path} (hindcasts of the model: ± {int(mc.attrs.get('window_days', 0))} days around "
        f"{mc.sizes['centre']} centre(s), {int(mc.attrs.get('n_members', 0))} members)"
    )
    return out


def describe_climatology(clim: xr.Dataset) -> str:
    """What the percentile thresholds and the 6-hourly EFI were computed against, said plainly."""
    source = str(clim.attrs.get("source", ""))
    if source.startswith("shipped"):
        return (
            f"the demo truth's own climate ({source}: a year of an independent truth run of the same physics) — the "
            "truth's climate, not the model's M-climate"
        )
    if "years" in clim.attrs:  # built by hens climatology from ERA5
        return f"ERA5 climatology of {clim.attrs['years']} ({source}) — the observed climate, not the model's M-climate"
    if source:
        return source
    if "period_start" in clim.attrs:
        return (
            f"the demo truth's own climate (truth run {clim.attrs['period_start']} … {clim.attrs['period_end']}) — "
            "the truth's climate, not the model's M-climate"
        )
    return "diagnose.climatology.path"
