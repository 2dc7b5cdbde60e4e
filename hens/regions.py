"""Named latitude bands used to aggregate scores (a leaf module: the config schema checks region names against
it without importing the diagnostics, and :func:`hens.diagnostics.weights.region_mask` draws the masks)."""

from __future__ import annotations

__all__ = ["REGIONS"]

#: Named regions understood by :func:`hens.diagnostics.weights.region_mask`:
#: (lat_min, lat_max, lat_min inclusive, lat_max inclusive), degrees north.
REGIONS: dict[str, tuple[float, float, bool, bool]] = {
    "global": (-90.0, 90.0, True, True),
    "tropics": (-20.0, 20.0, True, True),
    "northern_extratropics": (20.0, 90.0, False, True),
    "southern_extratropics": (-90.0, -20.0, True, False),
}
