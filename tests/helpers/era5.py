"""Small ERA5 Zarr stores in the real WeatherBench2 and ARCO-ERA5 layouts, with known analytic fields.

The layouts copy what the public stores hold (names, dim order, dtypes, coordinate order, attributes):

* WeatherBench2 ERA5 (``1959-2023_01_10-wb13-6h-1440x721_with_derived_variables.zarr``): Zarr v2, long names,
  ``(time, [level,] latitude, longitude)`` float32, ``latitude``/``longitude`` float32, ``level`` int64 in hPa
  ascending, 6-hourly. Its ERA5 0.25° store runs 90 → −90; other WB2 stores (HRES t=0, regridded ones) run
  −90 → 90 and some low-resolution ones are stored ``(time, longitude, latitude)`` — both are options here.
  No 100 m winds; ``relative_humidity`` is a derived fraction (0–1) without a ``units`` attribute.
* ARCO-ERA5 (``full_37-1h-0p25deg-chunk-1.zarr-v3``): Zarr v3, the same names and dims, latitude 90 → −90,
  longitude 0 → 359.75, levels ascending, hourly, data only between the ``valid_time_start`` /
  ``valid_time_stop`` global attributes (NaN after). 100 m winds; no ``relative_humidity``.

Variants that are not the two public layouts but occur in user-made stores: longitudes −180 … 180, levels
stored 1000 → 50, geopotential as height in metres (``units: m`` or a ``geopotential_height`` variable).

Every field is :func:`analytic` of (variable, level, time, lat, lon) in hens units, so a test can compute the
expected value on the hens grid (lat 90 → −90, lon 0 → 360) and check the reader's reordering and units.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

G0 = 9.80665

#: ERA5 variable → (offset, amplitude) of its analytic field, in hens units.
FIELD_PARAMS: dict[str, tuple[float, float]] = {
    "10m_u_component_of_wind": (1.0, 5.0),
    "10m_v_component_of_wind": (-1.0, 4.0),
    "100m_u_component_of_wind": (2.0, 6.0),
    "100m_v_component_of_wind": (-2.0, 5.0),
    "2m_temperature": (280.0, 20.0),
    "2m_dewpoint_temperature": (270.0, 15.0),
    "surface_pressure": (98000.0, 3000.0),
    "mean_sea_level_pressure": (101000.0, 2000.0),
    "total_column_water_vapour": (20.0, 10.0),
    "u_component_of_wind": (10.0, 8.0),
    "v_component_of_wind": (0.5, 6.0),
    "geopotential": (50000.0, 2000.0),
    "temperature": (250.0, 15.0),
    "specific_humidity": (0.004, 0.002),
    "relative_humidity": (60.0, 20.0),
}

#: ERA5 attributes as the public stores carry them: (long_name, short_name, units, standard_name or "").
ATTRS: dict[str, tuple[str, str, str, str]] = {
    "10m_u_component_of_wind": ("10 metre U wind component", "u10", "m s**-1", ""),
    "10m_v_component_of_wind": ("10 metre V wind component", "v10", "m s**-1", ""),
    "100m_u_component_of_wind": ("100 metre U wind component", "u100", "m s**-1", ""),
    "100m_v_component_of_wind": ("100 metre V wind component", "v100", "m s**-1", ""),
    "2m_temperature": ("2 metre temperature", "t2m", "K", ""),
    "2m_dewpoint_temperature": ("2 metre dewpoint temperature", "d2m", "K", ""),
    "surface_pressure": ("Surface pressure", "sp", "Pa", "surface_air_pressure"),
    "mean_sea_level_pressure": ("Mean sea level pressure", "msl", "Pa", "air_pressure_at_mean_sea_level"),
    "total_column_water_vapour": (
        "Total column vertically-integrated water vapour",
        "tcwv",
        "kg m**-2",
        "lwe_thickness_of_atmosphere_mass_content_of_water_vapor",
    ),
    "u_component_of_wind": ("U component of wind", "u", "m s**-1", "eastward_wind"),
    "v_component_of_wind": ("V component of wind", "v", "m s**-1", "northward_wind"),
    "geopotential": ("Geopotential", "z", "m**2 s**-2", "geopotential"),
    "temperature": ("Temperature", "t", "K", "air_temperature"),
    "specific_humidity": ("Specific humidity", "q", "kg kg**-1", "specific_humidity"),
}

SURFACE = (
    "10m_u_component_of_wind",
    "10m_v_component_of_wind",
    "100m_u_component_of_wind",
    "100m_v_component_of_wind",
    "2m_temperature",
    "2m_dewpoint_temperature",
    "surface_pressure",
    "mean_sea_level_pressure",
    "total_column_water_vapour",
)
PRESSURE = (
    "u_component_of_wind",
    "v_component_of_wind",
    "geopotential",
    "temperature",
    "specific_humidity",
    "relative_humidity",
)
#: The variables each public store has among those hens maps (WB2: no 100 m winds; ARCO: no relative humidity).
WB2_VARIABLES = tuple(v for v in SURFACE + PRESSURE if not v.startswith("100m_"))
ARCO_VARIABLES = tuple(v for v in SURFACE + PRESSURE if v != "relative_humidity")
#: WeatherBench2's 13 levels and ARCO's 37 (hPa).
WB13_LEVELS = (50, 100, 150, 200, 250, 300, 400, 500, 600, 700, 850, 925, 1000)
FULL37_LEVELS = (1, 2, 3, 5, 7, 10, 20, 30, 50, 70, 100, 125, 150, 175, 200, 225, 250, 300, 350, 400, 450, 500,
                 550, 600, 650, 700, 750, 775, 800, 825, 850, 875, 900, 925, 950, 975, 1000)  # fmt: skip

_EPOCH = np.datetime64("2000-01-01T00:00", "ns")


def analytic(variable: str, level: float | None, times: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """The fixture's field of ``variable`` at ``level`` (hPa or None), float64 ``[T, nlat, nlon]``, hens units.

    Smooth and asymmetric in latitude (sin φ), longitude (a phase-shifted sine, so a wrong roll or a mirrored
    axis shows) and time (a slow saw-tooth in hours), with a level-dependent offset so levels differ.
    """
    offset, amplitude = FIELD_PARAMS[variable]
    hours = (np.asarray(times, dtype="datetime64[ns]") - _EPOCH) / np.timedelta64(1, "h")
    phi = np.deg2rad(np.asarray(lat, dtype=np.float64))[None, :, None]
    lam = np.deg2rad(np.asarray(lon, dtype=np.float64))[None, None, :]
    h = np.asarray(hours, dtype=np.float64)[:, None, None]
    lvl = 0.0 if level is None else float(level)
    shape = np.sin(phi) + 0.5 * np.cos(phi) * np.sin(lam + 0.3) + 0.2 * np.cos(2 * lam)
    return offset * (1.0 + lvl / 5000.0) + amplitude * (shape + 0.001 * np.mod(h, 997.0))


def _grid(lat_n: int, lon_n: int, lat_ascending: bool, lon_convention: str) -> tuple[np.ndarray, np.ndarray]:
    lat = np.linspace(90.0, -90.0, lat_n)
    if lat_ascending:
        lat = lat[::-1]
    lon = np.arange(lon_n) * (360.0 / lon_n)
    if lon_convention == "-180..180":
        lon = lon - 180.0
    elif lon_convention != "0..360":
        raise ValueError(f"lon_convention={lon_convention!r}: use '0..360' or '-180..180'")
    return lat.astype(np.float32), lon.astype(np.float32)


def _dataset(
    *,
    times: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    levels: Sequence[int],
    variables: Sequence[str],
    lon_first: bool,
    geopotential: str,
    rh_fraction: bool,
    nan_from: int | None,
) -> xr.Dataset:
    t = np.asarray(times, dtype="datetime64[ns]")
    lev = np.asarray(levels, dtype=np.int64)
    horizontal = ("longitude", "latitude") if lon_first else ("latitude", "longitude")
    data_vars: dict[str, xr.Variable] = {}
    for name in variables:
        is_level = name in PRESSURE
        values = (
            np.stack([analytic(name, float(p), t, lat, lon) for p in lev], axis=1)
            if is_level
            else analytic(name, None, t, lat, lon)
        )
        attrs: dict[str, str] = {}
        if name in ATTRS:
            long_name, short, units, standard = ATTRS[name]
            attrs = {"long_name": long_name, "short_name": short, "units": units}
            if standard:
                attrs["standard_name"] = standard
        out_name = name
        if name == "geopotential" and geopotential != "geopotential":
            values = values / G0
            if geopotential == "height_units":
                attrs = {"long_name": "Geopotential height", "short_name": "gh", "units": "m"}
            elif geopotential == "geopotential_height":
                out_name = "geopotential_height"
                attrs = {"long_name": "Geopotential height", "short_name": "gh", "units": "m"}
            else:
                raise ValueError(f"geopotential={geopotential!r}")
        if name == "relative_humidity" and rh_fraction:
            values = values / 100.0  # WB2 derives RH as a fraction and writes no units
        if nan_from is not None:
            values[nan_from:] = np.nan
        dims: tuple[str, ...] = ("time", "level") if is_level else ("time",)
        values = values.astype(np.float32)
        if lon_first:
            values = np.swapaxes(values, -1, -2)
        data_vars[out_name] = xr.Variable((*dims, *horizontal), values, attrs)
    coords = {
        "time": ("time", t),
        "latitude": ("latitude", lat, {"long_name": "latitude", "units": "degrees_north"}),
        "longitude": ("longitude", lon, {"long_name": "longitude", "units": "degrees_east"}),
    }
    if any(v in PRESSURE for v in variables):
        coords["level"] = ("level", lev, {"long_name": "pressure_level", "units": "millibars"})
    return xr.Dataset(data_vars, coords=coords)


def _write(ds: xr.Dataset, path: str | Path, zarr_format: int, time_units: str) -> Path:
    import warnings

    encoding: dict[str, dict] = {"time": {"units": time_units, "calendar": "proleptic_gregorian", "dtype": "int64"}}
    for name, var in ds.data_vars.items():
        encoding[name] = {"chunks": tuple(1 if d == "time" else n for d, n in zip(var.dims, var.shape, strict=True))}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        ds.to_zarr(str(path), mode="w", zarr_format=zarr_format, consolidated=True, encoding=encoding)
    return Path(path)


def write_wb2_fixture(
    path: str | Path,
    *,
    times: Sequence[np.datetime64] | np.ndarray,
    lat_n: int = 19,
    lon_n: int = 36,
    levels: Sequence[int] = (50, 500, 850, 1000),
    variables: Sequence[str] = WB2_VARIABLES,
    lat_ascending: bool = True,
    lon_convention: str = "0..360",
    lon_first: bool = False,
    levels_descending: bool = False,
    geopotential: str = "geopotential",
) -> Path:
    """Write a WeatherBench2-layout ERA5 Zarr (v2, consolidated) and return its path.

    Args:
        times: the time axis (WB2 ERA5 is 6-hourly).
        lat_n, lon_n: equiangular grid with both poles (lon spacing 360/lon_n).
        levels: pressure levels in hPa (int64), ascending unless ``levels_descending``.
        variables: ERA5 long names (default: those of the WB2 ERA5 store that hens maps).
        lat_ascending: −90 → 90 (WB2 HRES t=0 / regridded stores) or 90 → −90 (WB2's 0.25° ERA5).
        lon_convention: ``"0..360"`` (WB2) or ``"-180..180"`` (user-made stores).
        lon_first: store dims ``(…, longitude, latitude)`` like some low-resolution WB2 stores.
        levels_descending: levels 1000 → 50 (like WB2's Pangu forecast stores).
        geopotential: ``"geopotential"`` (m² s⁻²), ``"height_units"`` (``geopotential`` in m) or
            ``"geopotential_height"`` (that variable, in m).
    """
    lat, lon = _grid(lat_n, lon_n, lat_ascending, lon_convention)
    lev = sorted(levels, reverse=levels_descending)
    ds = _dataset(
        times=np.asarray(times, dtype="datetime64[ns]"),
        lat=lat,
        lon=lon,
        levels=lev,
        variables=variables,
        lon_first=lon_first,
        geopotential=geopotential,
        rh_fraction=True,
        nan_from=None,
    )
    return _write(ds, path, zarr_format=2, time_units="hours since 1959-01-01")


def write_arco_fixture(
    path: str | Path,
    *,
    times: Sequence[np.datetime64] | np.ndarray,
    lat_n: int = 19,
    lon_n: int = 36,
    levels: Sequence[int] = (50, 500, 850, 1000),
    variables: Sequence[str] = ARCO_VARIABLES,
    nan_tail: int = 3,
    lon_convention: str = "0..360",
    geopotential: str = "geopotential",
) -> Path:
    """Write an ARCO-ERA5-layout Zarr (v3) and return its path.

    ``times`` get data; ``valid_time_start`` / ``valid_time_stop`` are their first and last dates, and like the
    real store the time axis runs on past ``valid_time_stop``: ``nan_tail`` hourly NaN times on the next day.

    Args:
        times: the valid times (hourly in the real store).
        lat_n, lon_n: grid size; latitude 90 → −90, longitude 0 → 360 − Δ (or −180 … 180 with ``lon_convention``).
        levels: pressure levels in hPa, ascending int64 (the real store has :data:`FULL37_LEVELS`).
        variables: ERA5 long names (default: those of ARCO-ERA5 that hens maps).
        nan_tail: number of NaN times after the valid window.
        lon_convention, geopotential: as in :func:`write_wb2_fixture`.
    """
    t = np.asarray(times, dtype="datetime64[ns]")
    last_day = t.max().astype("datetime64[D]")
    tail = (last_day + np.timedelta64(1, "D")).astype("datetime64[ns]") + np.arange(nan_tail) * np.timedelta64(1, "h")
    all_times = np.concatenate([t, tail.astype("datetime64[ns]")])
    lat, lon = _grid(lat_n, lon_n, False, lon_convention)
    ds = _dataset(
        times=all_times,
        lat=lat,
        lon=lon,
        levels=sorted(levels),
        variables=variables,
        lon_first=False,
        geopotential=geopotential,
        rh_fraction=False,
        nan_from=t.size if nan_tail else None,
    )
    ds.attrs = {
        "valid_time_start": str(t.min().astype("datetime64[D]")),
        "valid_time_stop": str(last_day),
    }
    return _write(ds, path, zarr_format=3, time_units="hours since 1900-01-01")


def write_hens_fixture(
    path: str | Path, *, times: np.ndarray, channels: Sequence[str], lat_n: int = 19, lon_n: int = 36
) -> Path:
    """A hens-layout Zarr: ``(time, lat, lon)`` variables named by channel, lat 90 → −90, lon 0 → 360 − Δ.

    Channel ``c`` holds ``analytic`` of its ERA5 variable and level (see :mod:`hens.data.channels`).
    """
    from hens.data.channels import parse_channel

    t = np.asarray(times, dtype="datetime64[ns]")
    lat, lon = _grid(lat_n, lon_n, False, "0..360")
    data = {}
    for c in channels:
        spec = parse_channel(c)
        data[c] = (("time", "lat", "lon"), analytic(spec.variable, spec.level, t, lat, lon).astype(np.float32))
    ds = xr.Dataset(data, coords={"time": t, "lat": lat.astype(np.float64), "lon": lon.astype(np.float64)})
    return _write(ds, path, zarr_format=3, time_units="hours since 2000-01-01")


def store_bytes(path: str | Path) -> int:
    """Total size of the files of a store on disk."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
