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
    "BAND_ALPHA",
    "DPI",
    "LEAD_COLORS",
    "LINESTYLES",
    "MIN_BIN_CASES",
    "REGION_COLORS",
    "band",
    "interval",
    "legend_outside",
    "sample_note",
    "lead_hours",
    "pick_leads",
    "pick_region",
    "plt",
    "region_label",
    "save",
    "variable_units",
]

DPI = 110
#: Okabe & Ito's colour-blind-safe palette (black first), ordered so neighbours also differ in greyscale lightness.
REGION_COLORS = ["#000000", "#E69F00", "#0072B2", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442"]
LEAD_COLORS = ["#0072B2", "#E69F00", "#000000", "#CC79A7", "#009E73"]
#: Line styles paired with the colours, so curves stay apart in greyscale prints.
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1))]
#: Shading of the bootstrap bands.
BAND_ALPHA = 0.18
#: Reliability bins with fewer (equivalent) cases are drawn hollow.
MIN_BIN_CASES = 100

plt.rcParams.update({"axes.titlesize": 9, "axes.labelsize": 8, "xtick.labelsize": 7, "ytick.labelsize": 7})


def interval(ds: xr.Dataset, name: str, **sel: object) -> np.ndarray | None:
    """``<name>_interval`` of ``ds`` at ``sel`` as ``(2, …)`` (lower, upper), or ``None`` when the dataset has none."""
    key = f"{name}_interval"
    if key not in ds:
        return None
    return np.asarray(ds[key].sel(sel).transpose("bound", ...).values, dtype=np.float64)


def band(ax: plt.Axes, x: np.ndarray, bounds: np.ndarray | None, color: str) -> None:
    """Shade the interval ``bounds`` ``(2, n)`` over ``x`` (nothing when ``None``)."""
    if bounds is not None:
        ax.fill_between(x, bounds[0], bounds[1], color=color, alpha=BAND_ALPHA, lw=0)


def legend_outside(ax: plt.Axes, **kw: object) -> None:
    """The legend of ``ax`` to the right of its data, so it never hides a curve."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=7, **kw)  # type: ignore[arg-type]


def sample_note(ds: xr.Dataset, region: str | None = None) -> str:
    """ "N = dates × members × grid points; 90 % bootstrap over U units (what a unit is)" for a panel or a figure."""
    n_init = int(ds.attrs.get("n_init_times", ds.sizes.get("init_time", 0)))
    m = int(ds.attrs.get("n_members", 0))
    text = f"{n_init} start date{'' if n_init == 1 else 's'} × M = {m} members"
    if region is not None and "n_points" in ds:
        text += f" × {int(ds['n_points'].sel(region=region))} grid points ({region})"
    if "bootstrap_unit" in ds.attrs:
        conf = float(ds.attrs.get("bootstrap_confidence", 0.9))
        unit = str(ds.attrs["bootstrap_unit"]).split(" (")[0]
        text += f"; bands: {conf:.0%} bootstrap over {int(ds.attrs.get('n_units', 0))} units ({unit})"
    if "plotted_variables_note" in ds.attrs:
        text += f"\n{ds.attrs['plotted_variables_note']}"
    return text


def region_label(ds: xr.Dataset, region: str) -> str:
    """ "region (N grid points)" when the dataset records the region's size, else the region's name."""
    if "n_points" not in ds:
        return str(region)
    return f"{region} ({int(ds['n_points'].sel(region=region))} pts)"


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
