"""EFI and SOT as ECMWF and HENS compute them (lazy): daily aggregates of the ensemble against the model climate of
the same lead day.

For every start date, lead day and daily aggregate, the members' daily values
(:func:`hens.diagnostics.metrics.daily.daily_aggregate`) meet the M-climate quantiles of that lead day at the
centre nearest the start date (:mod:`hens.diagnostics.verification.mclimate`):
:func:`~hens.diagnostics.metrics.extremes.efi` and :func:`~hens.diagnostics.metrics.extremes.sot` at the 90th
(upper tail, against the 99th) and 10th (lower tail, against the 1st) percentiles.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from hens.diagnostics.metrics.daily import daily_aggregate
from hens.diagnostics.metrics.extremes import efi, sot

__all__ = ["daily_extremes_lazy"]


def daily_extremes_lazy(
    forecast: xr.DataArray,
    mclimate: xr.DataArray,
    *,
    centre_index: np.ndarray,
    days: dict[int, np.ndarray],
    aggregates: Sequence[str],
) -> xr.Dataset:
    """Daily EFI and SOT maps per start date and lead day (lazy).

    Args:
        forecast: ``(init_time, member, lead_time, lat, lon)`` (any chunks; members are gathered per chunk).
        mclimate: ``(aggregate, quantile, centre, lead_day, lat, lon)`` with coordinate ``quantile`` (levels).
        centre_index: ``(init_time,)`` positions along ``centre`` for each start date.
        days: the lead days to score and their positions along ``lead_time``
            (:func:`hens.diagnostics.metrics.daily.lead_days`), all present in ``mclimate["lead_day"]``.
        aggregates: daily aggregates, all present in ``mclimate["aggregate"]``.

    Returns:
        Lazy float64 dataset ``efi_daily``, ``sot_upper``, ``sot_lower``, each ``(aggregate, init_time, lead_day,
        lat, lon)`` (dimensionless).
    """
    levels = np.asarray(mclimate["quantile"].values, dtype=np.float64)
    sel = xr.DataArray(np.asarray(centre_index), dims="init_time", coords={"init_time": forecast["init_time"]})
    products: dict[str, list[xr.DataArray]] = {"efi_daily": [], "sot_upper": [], "sot_lower": []}
    for how in aggregates:
        daily = daily_aggregate(forecast, how, days).chunk({"member": -1})
        tile = {d: daily.variable.chunksizes[d] for d in ("init_time", "lead_day", "lat", "lon")}
        clim = mclimate.sel(aggregate=how, lead_day=list(days)).chunk({"quantile": -1, "centre": 1})
        q = clim.isel(centre=sel).transpose("init_time", "lead_day", "lat", "lon", "quantile")
        q = q.drop_vars([c for c in q.coords if c not in ("init_time", "lead_day", "lat", "lon", "quantile")])
        q = q.assign_coords(lead_day=daily["lead_day"].values).chunk(tile | {"quantile": -1})
        common = {"input_core_dims": [["quantile"], ["member"]], "dask": "parallelized", "output_dtypes": [np.float64]}
        base = {"member_axis": -1, "quantile_axis": -1, "quantile_levels": levels}
        products["efi_daily"].append(xr.apply_ufunc(efi, q, daily, kwargs=base, **common))
        products["sot_upper"].append(xr.apply_ufunc(sot, q, daily, kwargs=base | {"percentile": 90.0}, **common))
        products["sot_lower"].append(xr.apply_ufunc(sot, q, daily, kwargs=base | {"percentile": 10.0}, **common))
    out = xr.Dataset(
        {
            name: xr.concat(parts, dim="aggregate", coords="minimal", compat="override")
            .assign_coords(aggregate=list(aggregates))
            .transpose("aggregate", "init_time", "lead_day", "lat", "lon")
            for name, parts in products.items()
        }
    )
    return out
