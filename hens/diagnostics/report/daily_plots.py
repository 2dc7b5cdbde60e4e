"""Maps of the daily EFI and SOT of one start date (``efi_daily``, ``sot_upper``, ``sot_lower`` of the scores)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from hens.diagnostics.report.style import plt, save

__all__ = ["plot_daily_extremes"]

_PANELS = (
    ("efi_daily", "EFI", -1.0, 1.0),
    ("sot_upper", "SOT upper", -2.0, 2.0),
    ("sot_lower", "SOT lower", -2.0, 2.0),
)


def plot_daily_extremes(ds: xr.Dataset, path: Path, init_index: int = 0, max_days: int = 3) -> Path:
    """One row per (variable, lead day) of the first aggregate: EFI, SOT upper and SOT lower of start date
    ``init_index`` against the M-climate of the same lead day (a forecast product, not a score: no interval)."""
    agg = str(ds["aggregate"].values[0])
    days = [int(d) for d in ds["lead_day"].values[:max_days]]
    variables = [str(v) for v in ds["variable"].values]
    rows = [(v, d) for v in variables for d in days]
    init = np.datetime_as_string(ds["init_time"].values[init_index], unit="h")
    lon, lat = ds["lon"].values, ds["lat"].values
    fig, axes = plt.subplots(len(rows), 3, figsize=(17.0, 3.0 * len(rows)), squeeze=False, layout="constrained")
    for i, (var, day) in enumerate(rows):
        for j, (name, label, lo, hi) in enumerate(_PANELS):
            ax = axes[i, j]
            values = ds[name].sel(variable=var, aggregate=agg, lead_day=day).isel(init_time=init_index).values
            mesh = ax.pcolormesh(lon, lat, values, cmap="RdBu_r", vmin=lo, vmax=hi, shading="nearest")
            ax.set_title(f"{var} daily {agg}: {label}, lead day {day}", fontsize=9)
            ax.set_xlabel("longitude [°E]")
            ax.set_ylabel("latitude [°N]")
            if i == len(rows) - 1:
                fig.colorbar(mesh, ax=axes[:, j], shrink=0.6, label=f"{label} [1]")
    fig.suptitle(
        f"Daily {agg} EFI and SOT, start date {init} ({init_index + 1} of {ds.sizes['init_time']}), "
        f"M = {int(ds.attrs.get('n_members', 0))} members, vs the M-climate of the same lead day: "
        f"{ds.attrs.get('mclimate', '')}\nSOT > 0: at least 10 % of the members beyond the M-climate's 99th (upper) or "
        "1st (lower) percentile; one forecast, not a verification score (no interval)",
        fontsize=9,
    )
    return save(fig, path)
