"""Checkpoint channel names ↔ ERA5 variables in WeatherBench2 / ARCO-ERA5 Zarr stores (a pure mapping).

SFNO checkpoints (makani / earth2studio convention) name channels either by a surface short name (``t2m``) or
by a variable letter followed by a pressure level in hPa (``z500``, ``q700``). ERA5 Zarr stores name
variables by ECMWF's long (CDS) names and put pressure levels on a ``level`` dimension in hPa. Both the
WeatherBench2 ERA5 stores (``gs://weatherbench2/datasets/era5/…``) and ARCO-ERA5
(``gs://gcp-public-data-arco-era5/ar/full_37-1h-0p25deg-chunk-1.zarr-v3``) use these names.

Surface channels (``level`` is ``None``):

=========  ================================  ==============  ==========================================
channel    ERA5 variable                     units (ERA5)    note
=========  ================================  ==============  ==========================================
u10m       10m_u_component_of_wind           m s**-1
v10m       10m_v_component_of_wind           m s**-1
u100m      100m_u_component_of_wind          m s**-1
v100m      100m_v_component_of_wind          m s**-1
t2m        2m_temperature                    K
d2m        2m_dewpoint_temperature           K
sp         surface_pressure                  Pa
msl        mean_sea_level_pressure           Pa
tcwv       total_column_water_vapour         kg m**-2
sst        sea_surface_temperature           K               NaN over land
=========  ================================  ==============  ==========================================

Pressure-level channels ``<letter><hPa>`` (e.g. ``z500`` → ``geopotential`` at level 500):

======  =====================  =============  ==============================================================
letter  ERA5 variable          hens units     note
======  =====================  =============  ==============================================================
u       u_component_of_wind    m s**-1
v       v_component_of_wind    m s**-1
w       vertical_velocity      Pa s**-1
z       geopotential           m**2 s**-2     not geopotential height; a store in metres is converted ×g₀
t       temperature            K
q       specific_humidity      kg kg**-1
r       relative_humidity      %              WB2 stores a fraction (0–1): converted ×100
======  =====================  =============  ==============================================================

The layout names used across hens: ``wb2`` (WeatherBench2 ERA5), ``arco`` (ARCO-ERA5), ``hens`` (a Zarr whose
``(time, lat, lon)`` variables are already named by channel, like the demo truth), and ``auto`` (detect).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hens.errors import HensError

__all__ = [
    "LAYOUTS",
    "PRESSURE_VARIABLES",
    "SURFACE_VARIABLES",
    "ChannelSpec",
    "channel_name",
    "parse_channel",
]

#: Store layouts understood by :mod:`hens.data.era5` (``auto`` detects one of the others).
LAYOUTS: tuple[str, ...] = ("auto", "wb2", "arco", "hens")

#: Surface channel → (ERA5 long variable name, hens units).
SURFACE_VARIABLES: dict[str, tuple[str, str]] = {
    "u10m": ("10m_u_component_of_wind", "m s**-1"),
    "v10m": ("10m_v_component_of_wind", "m s**-1"),
    "u100m": ("100m_u_component_of_wind", "m s**-1"),
    "v100m": ("100m_v_component_of_wind", "m s**-1"),
    "t2m": ("2m_temperature", "K"),
    "d2m": ("2m_dewpoint_temperature", "K"),
    "sp": ("surface_pressure", "Pa"),
    "msl": ("mean_sea_level_pressure", "Pa"),
    "tcwv": ("total_column_water_vapour", "kg m**-2"),
    "sst": ("sea_surface_temperature", "K"),
}

#: Pressure-level variable letter → (ERA5 long variable name, hens units).
PRESSURE_VARIABLES: dict[str, tuple[str, str]] = {
    "u": ("u_component_of_wind", "m s**-1"),
    "v": ("v_component_of_wind", "m s**-1"),
    "w": ("vertical_velocity", "Pa s**-1"),
    "z": ("geopotential", "m**2 s**-2"),
    "t": ("temperature", "K"),
    "q": ("specific_humidity", "kg kg**-1"),
    "r": ("relative_humidity", "%"),
}

_LEVEL_CHANNEL = re.compile(r"^([a-z])(\d+)$")


@dataclass(frozen=True)
class ChannelSpec:
    """One checkpoint channel resolved to an ERA5 variable.

    Attributes:
        name: the channel name, e.g. ``"z500"``.
        variable: the ERA5 long variable name, e.g. ``"geopotential"``.
        level: the pressure level in hPa, or ``None`` for a surface (single-level) channel.
        units: the units hens uses for the channel (ERA5's, except relative humidity in %).
    """

    name: str
    variable: str
    level: int | None
    units: str

    @property
    def is_surface(self) -> bool:
        return self.level is None

    def describe(self) -> str:
        """``"geopotential at 500 hPa"`` / ``"2m_temperature"``: how error messages name the source field."""
        return self.variable if self.level is None else f"{self.variable} at {self.level} hPa"


def parse_channel(name: str) -> ChannelSpec:
    """Resolve a channel name (``t2m``, ``z500``, ``r850``) to its ERA5 variable and level.

    Raises:
        HensError: for a name that is neither a known surface channel nor ``<u|v|w|z|t|q|r><hPa>``.
    """
    if name in SURFACE_VARIABLES:
        variable, units = SURFACE_VARIABLES[name]
        return ChannelSpec(name, variable, None, units)
    match = _LEVEL_CHANNEL.match(name)
    if match and match.group(1) in PRESSURE_VARIABLES and int(match.group(2)) > 0:
        variable, units = PRESSURE_VARIABLES[match.group(1)]
        return ChannelSpec(name, variable, int(match.group(2)), units)
    raise HensError(
        f"channel {name!r} has no ERA5 mapping; use a surface channel ({', '.join(SURFACE_VARIABLES)}) or "
        f"<{'|'.join(PRESSURE_VARIABLES)}><level in hPa> such as z500 (see hens/data/channels.py)"
    )


def channel_name(variable: str, level: int | float | None = None) -> str | None:
    """The channel name of an ERA5 variable (and level in hPa), or ``None`` when hens has no channel for it."""
    if level is None:
        for name, (var, _) in SURFACE_VARIABLES.items():
            if var == variable:
                return name
        return None
    for letter, (var, _) in PRESSURE_VARIABLES.items():
        if var == variable and float(level).is_integer() and level > 0:
            return f"{letter}{int(level)}"
    return None
