"""ERA5 from Zarr: initial conditions (:class:`Era5Source`) and verification (:func:`era5_verification_dataset`).

Two public layouts of ERA5 on a regular lat/lon grid are read, plus hens' own:

* ``wb2`` — WeatherBench2 (``gs://weatherbench2/datasets/era5/1959-2023_01_10-wb13-6h-1440x721_with_derived_variables
  .zarr`` and its regridded siblings): ECMWF long variable names (``2m_temperature``, ``geopotential``), dims
  ``(time, [level,] latitude, longitude)``, float32 data, ``level`` in hPa (int), 6-hourly. The 0.25° ERA5 store has
  latitude 90 → −90; other WB2 stores (HRES t=0, ERA5 forecasts, regridded ones) have −90 → 90, and some
  low-resolution ones put longitude before latitude. ``relative_humidity`` is a derived *fraction* (0–1).
* ``arco`` — ARCO-ERA5 (``gs://gcp-public-data-arco-era5/ar/full_37-1h-0p25deg-chunk-1.zarr-v3``): the same long
  names, dims ``(time, [level,] latitude, longitude)``, latitude 90 → −90, longitude 0 → 359.75, 37 levels
  1 … 1000 hPa ascending, hourly from 1900-01-01 with data only between the global attributes
  ``valid_time_start`` and ``valid_time_stop`` (dates; NaN outside). It has no ``relative_humidity``.
* ``hens`` — a Zarr of ``(time, lat, lon)`` variables already named by channel (like the demo truth).

Whatever the store's order, output grids are the hens checkpoint convention: latitude north → south (90 → −90),
longitude ascending in [0, 360) — a −180 … 180 store is rolled. Units are ERA5's (geopotential ``z`` in
m² s⁻², not geopotential height); two conversions are applied and recorded in :meth:`Era5Source.describe`:

* a geopotential stored as height in metres (``geopotential`` with units ``m``/``gpm``, or a
  ``geopotential_height`` variable) is multiplied by g₀ = 9.80665 m s⁻²;
* relative humidity without ``%`` units (WB2's fraction) is multiplied by 100, giving %.

Stores are opened once, lazily; :meth:`Era5Source.states` reads only the requested times and levels.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from hens.data.channels import LAYOUTS, PRESSURE_VARIABLES, SURFACE_VARIABLES, channel_name, parse_channel
from hens.errors import HensError

__all__ = [
    "G0",
    "Era5Source",
    "FieldPlan",
    "available_channels",
    "detect_layout",
    "era5_verification_dataset",
    "open_era5_zarr",
    "plan_fields",
]

#: Standard gravity (m s⁻²): geopotential = g₀ × geopotential height.
G0 = 9.80665

_LAT_NAMES = ("latitude", "lat")
_LON_NAMES = ("longitude", "lon")
_LEVEL_NAMES = ("level", "pressure_level", "isobaricInhPa")
_HEIGHT_UNITS = ("m", "gpm", "metre", "metres", "meter", "meters", "m**1")
_PERCENT_UNITS = ("%", "percent")


def _first(names: Sequence[str], ds: xr.Dataset) -> str | None:
    return next((n for n in names if n in ds.dims or n in ds.coords), None)


def open_era5_zarr(path: str | Path, *, dask: bool = True) -> xr.Dataset:
    """Open an ERA5 Zarr store lazily (metadata only).

    Args:
        path: a local store folder, or a URL (``gs://…``) that fsspec can open.
        dask: ``True`` gives Dask arrays with the store's chunks (for diagnostics); ``False`` gives lazily indexed
            arrays that read only what is indexed (for initial conditions, without Dask overhead).

    Raises:
        HensError: if the path does not exist or is not a Zarr store.
    """
    from hens.io.zarr_open import quiet_zarr

    text = os.fspath(path)
    if "://" not in text and not Path(text).exists():
        raise HensError(f"ERA5 store {text} does not exist; point ic.path (or the verification path) at a Zarr store")
    try:
        with quiet_zarr():
            ds = xr.open_zarr(text, chunks={} if dask else None, consolidated=None)
    except Exception as err:  # noqa: BLE001 - any failure to open is the same user-facing problem
        reason = " ".join(str(err).split())
        raise HensError(f"cannot open ERA5 store {text} as Zarr ({reason}); point it at a Zarr store") from err
    if "time" not in ds.dims and "valid_time" in ds.dims:
        ds = ds.rename({"valid_time": "time"})
    return ds


def detect_layout(ds: xr.Dataset) -> str:
    """Which layout a store has: ``"arco"``, ``"wb2"`` or ``"hens"``.

    ``latitude``/``longitude`` coordinates mean ERA5 long names: ARCO when the store carries ARCO's
    ``valid_time_start``/``valid_time_stop`` attributes or the full 37 pressure levels, else WeatherBench2.
    ``lat``/``lon`` coordinates mean a hens-layout store (variables named by channel).

    Raises:
        HensError: when the store has neither pair of coordinates.
    """
    if "latitude" in ds.variables and "longitude" in ds.variables:
        if "valid_time_start" in ds.attrs or "valid_time_stop" in ds.attrs:
            return "arco"
        level = _first(_LEVEL_NAMES, ds)
        if level is not None and ds.sizes.get(level, 0) == 37:
            return "arco"
        return "wb2"
    if "lat" in ds.variables and "lon" in ds.variables:
        return "hens"
    raise HensError(
        "cannot tell the store's layout: it has neither latitude/longitude (WeatherBench2 / ARCO ERA5) nor lat/lon "
        f"(hens) coordinates (it has {', '.join(map(str, ds.coords)) or 'none'}); use an ERA5 Zarr on a lat/lon grid"
    )


def _resolve_layout(ds: xr.Dataset, layout: str, key: str) -> str:
    if layout not in LAYOUTS:
        raise HensError(f"{key}={layout!r} is not a layout; use one of {', '.join(LAYOUTS)}")
    return detect_layout(ds) if layout == "auto" else layout


@dataclass(frozen=True)
class FieldPlan:
    """Where one channel comes from in a store.

    Attributes:
        channel: the channel name (``z500``).
        variable: the store variable read (``geopotential``).
        level_index: index on the store's level dimension, or ``None`` for a surface field.
        scale: factor applied to the stored values to get hens units (1.0 when none).
        note: the conversion applied, for :meth:`Era5Source.describe` (``""`` when none).
    """

    channel: str
    variable: str
    level_index: int | None
    scale: float = 1.0
    note: str = ""


@dataclass(frozen=True)
class _Grid:
    """The store's coordinate names and the reordering to hens' grid (lat 90 → −90, lon ascending in [0, 360))."""

    time: str
    lat_name: str
    lon_name: str
    level_name: str | None
    lat_index: np.ndarray  # positions in the store giving north → south
    lon_index: np.ndarray  # positions in the store giving ascending longitude in [0, 360)
    lat: np.ndarray  # float64, north → south
    lon: np.ndarray  # float64, [0, 360) ascending
    levels_hpa: np.ndarray | None


def _grid(ds: xr.Dataset, where: str) -> _Grid:
    lat_name, lon_name = _first(_LAT_NAMES, ds), _first(_LON_NAMES, ds)
    if lat_name is None or lon_name is None or "time" not in ds.dims:
        raise HensError(f"{where} has dims {dict(ds.sizes)}; an ERA5 store needs time, latitude and longitude")
    lat = np.asarray(ds[lat_name].values, dtype=np.float64)
    lat_index = np.argsort(-lat, kind="stable")
    lat_out = lat[lat_index]
    if lat.size > 1 and not np.all(np.diff(lat_out) < 0):
        raise HensError(f"{where}: latitudes repeat; a regular lat/lon grid is needed")
    lon = np.mod(np.asarray(ds[lon_name].values, dtype=np.float64), 360.0)
    lon_index = np.argsort(lon, kind="stable")
    lon_out = lon[lon_index]
    if lon.size > 1 and not np.all(np.diff(lon_out) > 0):
        raise HensError(f"{where}: longitudes repeat modulo 360 (e.g. both −180 and 180); drop the duplicate column")
    level_name = _first(_LEVEL_NAMES, ds)
    levels = None
    if level_name is not None:
        levels = np.asarray(ds[level_name].values, dtype=np.float64)
        units = str(ds[level_name].attrs.get("units", "")).strip()
        if units == "Pa" or (units == "" and levels.size and levels.max() > 1100.0):
            levels = levels / 100.0  # stored in Pa
    return _Grid("time", lat_name, lon_name, level_name, lat_index, lon_index, lat_out, lon_out, levels)


def _source_variable(ds: xr.Dataset, variable: str, layout: str) -> tuple[str | None, float, str]:
    """The store variable for an ERA5 variable, the factor to hens units, and a note on the conversion."""
    if variable in ds.data_vars:
        units = str(ds[variable].attrs.get("units", "")).strip()
        if variable == "geopotential" and units in _HEIGHT_UNITS:
            return variable, G0, f"geopotential stored as height ({units}) × {G0}"
        if variable == "relative_humidity":
            if units in _PERCENT_UNITS or (units == "" and layout != "wb2"):
                return variable, 1.0, ""
            return variable, 100.0, f"relative_humidity stored as a fraction ({units or 'no units'}) × 100"
        if units == "hPa" and variable in ("surface_pressure", "mean_sea_level_pressure"):
            return variable, 100.0, f"{variable} stored in hPa × 100"
        return variable, 1.0, ""
    if variable == "geopotential" and "geopotential_height" in ds.data_vars:
        return "geopotential_height", G0, f"geopotential_height (m) × {G0}"
    return None, 1.0, ""


def _field_dims(grid: _Grid, level: bool) -> set[str]:
    dims = {grid.time, grid.lat_name, grid.lon_name}
    if level and grid.level_name is not None:
        dims.add(grid.level_name)
    return dims


def plan_fields(ds: xr.Dataset, channels: Sequence[str], layout: str, where: str) -> list[FieldPlan]:
    """Resolve every channel to a store variable (and level), or raise one error naming all that are missing.

    Args:
        ds: the opened store.
        channels: channel names in the wanted order.
        layout: ``wb2``, ``arco`` or ``hens`` (already resolved).
        where: how messages name the store, e.g. ``"ERA5 store /data/era5.zarr"``.

    Raises:
        HensError: one line naming every missing channel (with the ERA5 field it needs) and the layout.
    """
    grid = _grid(ds, where)
    plans: list[FieldPlan] = []
    missing: list[str] = []
    bad_dims: list[str] = []
    for name in channels:
        if layout == "hens":
            if name in ds.data_vars and set(ds[name].dims) == _field_dims(grid, level=False):
                plans.append(FieldPlan(name, name, None))
            else:
                missing.append(name)
            continue
        try:
            spec = parse_channel(name)
        except HensError:
            missing.append(f"{name} (no ERA5 mapping)")
            continue
        variable, scale, note = _source_variable(ds, spec.variable, layout)
        if variable is None:
            missing.append(f"{name} ({spec.variable})")
            continue
        dims = set(ds[variable].dims)
        if spec.level is None:
            if dims != _field_dims(grid, level=False):
                bad_dims.append(f"{variable}{tuple(ds[variable].dims)}")
                continue
            plans.append(FieldPlan(name, variable, None, scale, note))
            continue
        if grid.level_name is None or grid.levels_hpa is None or dims != _field_dims(grid, level=True):
            if grid.level_name is None:
                missing.append(f"{name} ({spec.describe()}; the store has no level dimension)")
            else:
                bad_dims.append(f"{variable}{tuple(ds[variable].dims)}")
            continue
        hit = np.flatnonzero(np.isclose(grid.levels_hpa, spec.level))
        if hit.size == 0:
            missing.append(f"{name} ({spec.describe()})")
            continue
        plans.append(FieldPlan(name, variable, int(hit[0]), scale, note))
    if missing or bad_dims:
        parts = []
        if missing:
            levels = ""
            if grid.levels_hpa is not None:
                levels = f" (its levels: {', '.join(f'{v:g}' for v in grid.levels_hpa)} hPa)"
            parts.append(f"lacks channel(s) {', '.join(missing)}{levels}")
        if bad_dims:
            parts.append(
                f"has variables with unexpected dims {', '.join(dict.fromkeys(bad_dims))} "
                "(ERA5 variables must be (time, [level,] latitude, longitude))"
            )
        raise HensError(
            f"{where} (layout {layout}) {' and '.join(parts)}; "
            "use a store with these variables/levels or a checkpoint without these channels"
        )
    return plans


def available_channels(ds: xr.Dataset, layout: str) -> tuple[str, ...]:
    """Every channel the store can provide, surface channels first (table order), then levels per variable."""
    grid = _grid(ds, "the store")
    if layout == "hens":
        dims = _field_dims(grid, level=False)
        return tuple(str(n) for n, v in ds.data_vars.items() if set(v.dims) == dims)
    out: list[str] = []
    for name, (variable, _) in SURFACE_VARIABLES.items():
        source, _, _ = _source_variable(ds, variable, layout)
        if source is not None and set(ds[source].dims) == _field_dims(grid, level=False):
            out.append(name)
    if grid.levels_hpa is not None:
        for variable, _ in PRESSURE_VARIABLES.values():
            source, _, _ = _source_variable(ds, variable, layout)
            if source is None or set(ds[source].dims) != _field_dims(grid, level=True):
                continue
            for level in grid.levels_hpa:
                name = channel_name(variable, float(level))
                if name is not None:
                    out.append(name)
    return tuple(out)


def _valid_window(ds: xr.Dataset) -> tuple[np.datetime64 | None, np.datetime64 | None]:
    """ARCO's ``valid_time_start`` / ``valid_time_stop`` as [start, stop) (a date-only stop includes that day)."""

    def parse(key: str) -> np.datetime64 | None:
        value = ds.attrs.get(key)
        if value in (None, ""):
            return None
        try:
            return np.datetime64(str(value), "ns")
        except ValueError:
            return None

    start, stop = parse("valid_time_start"), parse("valid_time_stop")
    if stop is not None:
        date_only = len(str(ds.attrs["valid_time_stop"]).strip()) <= 10
        stop = stop + (np.timedelta64(1, "D") if date_only else np.timedelta64(1, "ns"))
    return start, stop


def _store_times(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """The store's times (datetime64[ns]) and a mask of those inside ARCO's valid window (all True elsewhere)."""
    times = np.asarray(ds["time"].values).astype("datetime64[ns]")
    start, stop = _valid_window(ds)
    ok = np.ones(times.shape, dtype=bool)
    if start is not None:
        ok &= times >= start
    if stop is not None:
        ok &= times < stop
    return times, ok


def _missing_time_error(where: str, wanted: np.ndarray, have: np.ndarray, fix: str) -> HensError | None:
    """A HensError naming the first of ``wanted`` not in ``have`` (sorted), or ``None`` if all are present."""
    missing = np.setdiff1d(np.unique(wanted), have)
    if missing.size == 0:
        return None
    span = "no valid times"
    if have.size:
        step = ""
        if have.size > 1:
            hours = float(np.median(np.diff(have)) / np.timedelta64(1, "h"))
            step = f" every {hours:g} h"
        span = f"{np.datetime_as_string(have[0], unit='m')} … {np.datetime_as_string(have[-1], unit='m')}{step}"
    return HensError(
        f"{where} has no data at {np.datetime_as_string(missing[0], unit='m')} "
        f"({missing.size} of {np.unique(wanted).size} requested times missing; it covers {span}); {fix}"
    )


class Era5Source:
    """Initial conditions (and breeding analyses) from an ERA5 Zarr store — the ``StateSource`` protocol.

    Args:
        path: the store (local folder or fsspec URL).
        channels: channel names in the order :meth:`states` returns them (normally the checkpoint's list);
            ``None`` exposes every channel the store can provide (reads can then be large: pass the checkpoint's).
        layout: ``auto`` (detect), ``wb2``, ``arco`` or ``hens``.

    Attributes:
        channels: the channel names, length C.
        lat: latitudes in degrees, shape (nlat,), north → south.
        lon: longitudes in degrees east, shape (nlon,), ascending in [0, 360).
        layout: the layout read (detected when ``auto``).

    Raises:
        HensError: if the store cannot be opened, or lacks channels (one message naming all of them).
    """

    def __init__(self, path: str | Path, channels: Sequence[str] | None = None, layout: str = "auto") -> None:
        self.path = os.fspath(path)
        self._ds = open_era5_zarr(self.path, dask=False)
        self.layout = _resolve_layout(self._ds, layout, "ic.layout")
        self._where = f"ERA5 store {self.path}"
        self._grid = _grid(self._ds, self._where)
        self.channels: tuple[str, ...] = tuple(
            available_channels(self._ds, self.layout) if channels is None else channels
        )
        if not self.channels:
            raise HensError(
                f"{self._where} (layout {self.layout}) provides no known channel; see hens/data/channels.py"
            )
        self._plans = plan_fields(self._ds, self.channels, self.layout, self._where)
        self.lat: np.ndarray = self._grid.lat
        self.lon: np.ndarray = self._grid.lon
        times, ok = _store_times(self._ds)
        self._times = times
        self._valid = times[ok]

    def available_times(self) -> np.ndarray:
        """The store's times with data (datetime64[ns]; inside ARCO's valid window)."""
        return self._valid

    def check_available(self, times: np.ndarray) -> None:
        """Raise a HensError naming the first requested time the store does not hold."""
        error = _missing_time_error(
            self._where,
            np.asarray(times, dtype="datetime64[ns]").ravel(),
            self._valid,
            "choose ic.start_dates inside it (breeding also reads analyses up to n_cycles steps before each start)",
        )
        if error is not None:
            raise error

    def states(self, times: np.ndarray) -> np.ndarray:
        """Physical states at ``times``: float32 ``[T, C, nlat, nlon]``, channels in :attr:`channels` order.

        Each store variable is read once for all requested times and levels; only those chunks are loaded.

        Raises:
            HensError: for a time the store lacks, or for non-finite values (e.g. WeatherBench2's
                ``2m_dewpoint_temperature``, which earth2studio reports to be all NaN), naming the channels.
        """
        t = np.asarray(times, dtype="datetime64[ns]").ravel()
        self.check_available(t)
        unique, inverse = np.unique(t, return_inverse=True)
        positions = _positions(self._times, unique)
        out = np.empty((t.size, len(self.channels), self.lat.size, self.lon.size), dtype=np.float32)
        by_variable: dict[str, list[tuple[int, FieldPlan]]] = defaultdict(list)
        for c, plan in enumerate(self._plans):
            by_variable[plan.variable].append((c, plan))
        g = self._grid
        for variable, entries in by_variable.items():
            da = self._ds[variable]
            index: dict[str, Any] = {g.time: positions}
            levels: list[int] = []
            if entries[0][1].level_index is not None and g.level_name is not None:
                levels = sorted({p.level_index for _, p in entries if p.level_index is not None})
                index[g.level_name] = levels
                da = da.isel(index).transpose(g.time, g.level_name, g.lat_name, g.lon_name)
            else:
                da = da.isel(index).transpose(g.time, g.lat_name, g.lon_name)
            data = np.asarray(da.values)
            data = data[..., _as_slice(g.lat_index), :][..., _as_slice(g.lon_index)]
            for c, plan in entries:
                field = data[:, levels.index(plan.level_index)] if levels else data
                field = field[inverse].astype(np.float32, copy=False)
                out[:, c] = field * np.float32(plan.scale) if plan.scale != 1.0 else field
        bad = ~np.isfinite(out).all(axis=(2, 3))  # [T, C]
        if bad.any():
            ti, ci = np.argwhere(bad)[0]
            names = [self.channels[c] for c in np.flatnonzero(bad.any(axis=0))]
            raise HensError(
                f"{self._where} (layout {self.layout}) has NaN/Inf in {', '.join(names)} "
                f"(first at {np.datetime_as_string(t[ti], unit='m')}, {self.channels[ci]}); initial conditions "
                "must be finite — use a store with valid data for these channels and times"
            )
        return out

    def truth(self, times: np.ndarray) -> np.ndarray:
        """The verifying states at ``times``: the reanalysis itself (:meth:`states`)."""
        return self.states(times)

    def describe(self) -> dict[str, Any]:
        """JSON-able description (stored with the ensemble and part of the run fingerprint)."""
        valid = self._valid
        return {
            "source": "era5",
            "path": str(Path(self.path).resolve()) if "://" not in self.path else self.path,
            "layout": self.layout,
            "channels": list(self.channels),
            "fields": {p.channel: self._field_label(p) for p in self._plans},
            "conversions": {p.channel: p.note for p in self._plans if p.note},
            "times": [str(np.datetime_as_string(t, unit="m")) for t in (valid[[0, -1]] if valid.size else [])],
        }

    def _field_label(self, plan: FieldPlan) -> str:
        """``"geopotential@500hPa"`` / ``"2m_temperature"``: the store field behind a channel."""
        if plan.level_index is None or self._grid.levels_hpa is None:
            return plan.variable
        return f"{plan.variable}@{float(self._grid.levels_hpa[plan.level_index]):g}hPa"


def era5_verification_dataset(
    path: str | Path | xr.Dataset,
    variables: Sequence[str] | None,
    times: np.ndarray | None = None,
    layout: str = "auto",
    *,
    where: str | None = None,
) -> xr.Dataset:
    """ERA5 as a verification dataset for ``hens diagnose``, lazily (Dask).

    Args:
        path: the store, or a dataset already opened from it (with Dask chunks).
        variables: channel names to provide; ``None`` gives every channel the store can provide.
        times: valid times that must be present (datetime64, any shape); ``None`` keeps every time with data.
        layout: ``auto``, ``wb2``, ``arco`` or ``hens``.
        where: how messages name the store (default ``"ERA5 store <path>"``).

    Returns:
        One float32 variable per channel with dims ``(time, lat, lon)``: ``lat`` north → south, ``lon`` ascending in
        [0, 360), units as in :mod:`hens.data.channels`, CF attributes; Dask chunks of one time step. With
        ``times``, only those (sorted, unique) times. The store is opened without Dask and only the selection
        is wrapped in Dask, so the task graph stays small even for ARCO's million hourly steps.

    Raises:
        HensError: naming every missing channel (and the layout), or the first missing time.
    """
    if isinstance(path, xr.Dataset):
        ds = path
        label = where or "the ERA5 verification store"
    else:
        ds = open_era5_zarr(path, dask=False)
        label = where or f"ERA5 store {os.fspath(path)}"
    if "time" not in ds.dims and "valid_time" in ds.dims:
        ds = ds.rename({"valid_time": "time"})
    kind = _resolve_layout(ds, layout, "diagnose.verification.layout")
    grid = _grid(ds, label)
    names = tuple(available_channels(ds, kind) if variables is None else variables)
    plans = plan_fields(ds, names, kind, label)
    store_times, ok = _store_times(ds)
    if times is not None:
        wanted = np.asarray(times, dtype="datetime64[ns]").ravel()
        error = _missing_time_error(label, wanted, store_times[ok], "supply a store covering the valid times")
        if error is not None:
            raise error
        time_index = _positions(store_times, np.unique(wanted))
    else:
        time_index = np.flatnonzero(ok)
    time_sel = _as_slice(time_index)
    from hens.io.cf import channel_attrs

    lat_index = _as_slice(grid.lat_index)
    lon_index = _as_slice(grid.lon_index)
    fields: dict[str, xr.DataArray] = {}
    for plan in plans:
        da = ds[plan.variable]
        index: dict[str, Any] = {grid.time: time_sel, grid.lat_name: lat_index, grid.lon_name: lon_index}
        if plan.level_index is not None and grid.level_name is not None:
            index[grid.level_name] = plan.level_index
        var = da.variable.isel(index).transpose(grid.time, grid.lat_name, grid.lon_name)
        var = xr.Variable(("time", "lat", "lon"), var.data)
        if not var.chunks:
            var = var.chunk({"time": 1})
        if plan.scale != 1.0:
            var = var * np.float32(plan.scale)
        attrs = channel_attrs(plan.channel)
        if plan.note:
            attrs["comment"] = plan.note
        var = var.astype(np.float32)
        var.attrs = attrs
        fields[plan.channel] = var
    coords = {
        "time": ("time", store_times[time_index]),
        "lat": ("lat", grid.lat, {"units": "degrees_north", "standard_name": "latitude"}),
        "lon": ("lon", grid.lon, {"units": "degrees_east", "standard_name": "longitude"}),
    }
    return xr.Dataset(fields, coords=coords, attrs={"hens_era5_layout": kind})


def _as_slice(index: np.ndarray) -> slice | np.ndarray:
    """An index array as a slice when it is a contiguous forward or reversed range (cheaper for Dask and Zarr)."""
    n = index.size
    if n == 0:
        return index
    start = int(index[0])
    if np.array_equal(index, np.arange(start, start + n)):
        return slice(start, start + n)
    if start == n - 1 and np.array_equal(index, np.arange(n - 1, -1, -1)):
        return slice(None, None, -1)
    return index


def _positions(have: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Positions of ``wanted`` times in ``have`` (all present; ``have`` need not be sorted)."""
    import pandas as pd

    return pd.Index(have).get_indexer(wanted)
