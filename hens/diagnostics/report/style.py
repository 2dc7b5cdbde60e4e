"""What every figure and table of the report shares: the Agg backend, colours, lead hours, units, regions, saving.

Importing this module selects matplotlib's non-interactive Agg backend before ``pyplot`` is imported; the plotting
modules take ``plt`` from here so that holds whatever their import order.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

__all__ = [
    "DPI",
    "LEAD_COLORS",
    "REGION_COLORS",
    "lead_hours",
    "pick_leads",
    "pick_region",
    "plt",
    "save",
    "variable_units",
]

DPI = 110
REGION_COLORS = ["black", "tab:orange", "tab:blue", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:gray"]
LEAD_COLORS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]


def lead_hours(ds: xr.Dataset, dim: str = "lead_time") -> np.ndarray:
    """The timedelta coordinate ``dim`` of ``ds`` in hours, float64."""
    return ds[dim].values.astype("timedelta64[s]").astype(np.int64) / 3600.0


def variable_units(ds: xr.Dataset, var: str) -> str:
    """The units of variable ``var`` from the ``units(variable)`` coordinate, or "units of the data"."""
    if "units" in ds.coords:
        u = str(ds["units"].sel(variable=var).values)
        return u if u else "units of the data"
    return "units of the data"


def pick_region(ds: xr.Dataset, wanted: str = "global") -> str:
    """``wanted`` if the dataset has that region, else its first region."""
    regions = [str(r) for r in ds["region"].values]
    return wanted if wanted in regions else regions[0]


def pick_leads(hours: np.ndarray, n: int = 3) -> list[int]:
    """Up to ``n`` lead indices spread over the range, skipping t = 0 when there are others."""
    start = 1 if hours.size > 1 and hours[0] == 0 else 0
    cand = np.unique(np.linspace(start, hours.size - 1, n).round().astype(int))
    return [int(c) for c in cand]


def save(fig: plt.Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG at :data:`DPI` to ``path`` (creating its folder), close it, return ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path
