"""CF metadata for channel names used by SFNO checkpoints and the demo world.

Channel names follow the makani / earth2studio convention: a surface name (``t2m``) or a variable letter and
a pressure level in hPa (``z500``).  :func:`channel_attrs` returns ``standard_name``, ``long_name`` and
``units`` for a channel; unknown names get a neutral long name and no units rather than a wrong guess.
"""

from __future__ import annotations

import re

DERIVED_FROM = "derived_from"
"""Attribute of a derived variable (``ivt`` …): its input channels, space-separated, as `hens generate` computed it
and as `hens diagnose` computes the verification's copy."""

SURFACE: dict[str, tuple[str, str, str]] = {
    "u10m": ("eastward_wind", "10 m eastward wind", "m s-1"),
    "v10m": ("northward_wind", "10 m northward wind", "m s-1"),
    "u100m": ("eastward_wind", "100 m eastward wind", "m s-1"),
    "v100m": ("northward_wind", "100 m northward wind", "m s-1"),
    "t2m": ("air_temperature", "2 m temperature", "K"),
    "d2m": ("dew_point_temperature", "2 m dew point temperature", "K"),
    "sp": ("surface_air_pressure", "surface pressure", "Pa"),
    "msl": ("air_pressure_at_mean_sea_level", "mean sea level pressure", "Pa"),
    "tcwv": ("atmosphere_mass_content_of_water_vapor", "total column water vapour", "kg m-2"),
    "ws10m": ("wind_speed", "10 m wind speed", "m s-1"),
    "r2m": ("relative_humidity", "2 m relative humidity", "%"),
}

DERIVED: dict[str, dict[str, str]] = {
    "wind_speed_10m": {"standard_name": "wind_speed", "long_name": "10 m wind speed", "units": "m s-1"},
    "ivt": {
        "long_name": "integrated vapour transport, magnitude of (1/g) ∫ q V dp over the available pressure levels",
        "units": "kg m-1 s-1",
    },
    "heat_index": {"long_name": "heat index (NOAA: Rothfusz regression, Steadman below 80 F)", "units": "K"},
}
"""Derived channels (:mod:`hens.data.derived`): CF has no standard name for IVT or the heat index."""

PRESSURE_LEVEL: dict[str, tuple[str, str, str]] = {
    "u": ("eastward_wind", "eastward wind", "m s-1"),
    "v": ("northward_wind", "northward wind", "m s-1"),
    "z": ("geopotential", "geopotential", "m2 s-2"),
    "t": ("air_temperature", "temperature", "K"),
    "q": ("specific_humidity", "specific humidity", "kg kg-1"),
    "r": ("relative_humidity", "relative humidity", "%"),
    "vo": ("atmosphere_relative_vorticity", "relative vorticity", "s-1"),
    "d": ("divergence_of_wind", "divergence", "s-1"),
}

_LEVEL = re.compile(r"^([a-z]+?)(\d+)$")


def channel_attrs(name: str) -> dict[str, str]:
    """CF attributes of a channel (see module docstring)."""
    if name in DERIVED:
        return dict(DERIVED[name])
    if name in SURFACE:
        standard, long, units = SURFACE[name]
        return {"standard_name": standard, "long_name": long, "units": units}
    match = _LEVEL.match(name)
    if match and match.group(1) in PRESSURE_LEVEL:
        standard, long, units = PRESSURE_LEVEL[match.group(1)]
        level = match.group(2)
        return {"standard_name": standard, "long_name": f"{long} at {level} hPa", "units": units}
    return {"long_name": name}
