"""Ensemble stores written by other tools, seen in hens' store layout (a layout adapter for `hens diagnose`).

`hens diagnose` reads variables ``(init_time, member, lead_time, lat, lon)`` named by channel.  Two other layouts
are mapped onto that one, lazily (renames, a transpose, a latitude flip, one variable per pressure level — no
values are read or copied, so tile-wise reads stay cheap):

* **earth2studio** (its Zarr backend with an ensemble perturbation): dims ``ensemble``, ``time``, ``lead_time``,
  ``lat``, ``lon``; variables already named by channel (``t2m``, ``z500``).  ``time`` → ``init_time``,
  ``ensemble`` → ``member``.
* **WeatherBench2** forecasts: dims ``time``, ``prediction_timedelta``, a member dim (``number``, ``realization``
  or ``member``), ``latitude``, ``longitude`` and, for upper-air variables, ``level`` (hPa); variables by ERA5
  long name (``geopotential``, ``2m_temperature``).  Each (variable, level) becomes a channel (``z500``) through
  :mod:`hens.data.channels`; variables without a hens channel are left out; latitudes stored south → north are
  flipped to north → south like hens stores.

Member labels are kept as stored (WB2's ``number`` may start at 1).  Foreign stores carry no hens manifest, so
the integrity check against it and the non-finite flags of `hens generate` do not apply: :func:`adapt_store`
says so in a log line, and non-finite members are not excluded (their scores would be NaN).
"""

from __future__ import annotations

import logging
from pathlib import Path

import xarray as xr

from hens.data.channels import channel_name
from hens.errors import StoreError

__all__ = ["FOREIGN_LAYOUTS", "adapt_store", "detect_layout"]

log = logging.getLogger("hens.diagnose")

HENS_DIMS = ("init_time", "member", "lead_time", "lat", "lon")
_E2S = {"time": "init_time", "ensemble": "member", "lead_time": "lead_time", "lat": "lat", "lon": "lon"}
_WB2_MEMBER = ("number", "realization", "member")
_WB2 = {"time": "init_time", "prediction_timedelta": "lead_time", "latitude": "lat", "longitude": "lon"}

#: Layout name → (what it is called in messages, the dims it needs in words).
FOREIGN_LAYOUTS = {
    "earth2studio": ("an earth2studio ensemble store", "ensemble, time, lead_time, lat, lon"),
    "wb2": ("a WeatherBench2 forecast", "time, prediction_timedelta, number|realization|member, latitude, longitude"),
}


def _wb2_member(ds: xr.Dataset) -> str | None:
    return next((d for d in _WB2_MEMBER if d in ds.dims), None)


def _lacking(ds: xr.Dataset, layout: str) -> list[str]:
    """The dims (and for WB2 the member dim) that ``ds`` lacks for ``layout``."""
    if layout == "earth2studio":
        return [d for d in _E2S if d not in ds.dims]
    lacking = [d for d in _WB2 if d not in ds.dims]
    return lacking + ([] if _wb2_member(ds) else ["a member dim (number|realization|member)"])


def detect_layout(ds: xr.Dataset) -> str | None:
    """``"earth2studio"`` or ``"wb2"`` when ``ds`` has all the dims of that layout, else ``None``."""
    for layout in FOREIGN_LAYOUTS:
        if not _lacking(ds, layout):
            return layout
    return None


def _from_earth2studio(ds: xr.Dataset) -> xr.Dataset:
    out = {}
    for name, var in ds.data_vars.items():
        if set(var.dims) == set(_E2S):
            out[str(name)] = var.rename({k: v for k, v in _E2S.items() if k != v}).transpose(*HENS_DIMS)
    return xr.Dataset(out, attrs=dict(ds.attrs))


def _from_wb2(ds: xr.Dataset) -> xr.Dataset:
    member = _wb2_member(ds)
    dims = {**_WB2, member: "member"}
    out = {}
    for name, var in ds.data_vars.items():
        plain = set(var.dims) - {"level"}
        if plain != set(dims):
            continue
        if "level" in var.dims:
            for level in var["level"].values:
                channel = channel_name(str(name), float(level))
                if channel is not None:
                    out[channel] = var.sel(level=level, drop=True)
        elif (channel := channel_name(str(name))) is not None:
            out[channel] = var
    out = {k: v.rename({a: b for a, b in dims.items() if a != b}).transpose(*HENS_DIMS) for k, v in out.items()}
    adapted = xr.Dataset(out, attrs=dict(ds.attrs))
    lat = adapted["lat"].values if "lat" in adapted.coords else None
    if lat is not None and lat.size > 1 and lat[0] < lat[-1]:
        adapted = adapted.isel(lat=slice(None, None, -1))
    return adapted


def adapt_store(ds: xr.Dataset, path: str | Path, *, announce: bool = True) -> xr.Dataset:
    """``ds`` (a store without hens' layout) mapped onto it, or a one-line StoreError naming what it lacks;
    ``announce`` logs that the store has no manifest to check.

    Raises:
        StoreError: the store matches no known layout (naming the layout it is closest to and the dims it lacks), or
            it matches one but holds no variable with hens' channel names.
    """
    layout = detect_layout(ds)
    if layout is None:
        closest = min(FOREIGN_LAYOUTS, key=lambda name: len(_lacking(ds, name)))
        what, needs = FOREIGN_LAYOUTS[closest]
        raise StoreError(
            f"store {path} has no variables with dims {HENS_DIMS} (a hens store) and is not {what} either: it lacks "
            f"{', '.join(_lacking(ds, closest))} (needs {needs}); it has dims {', '.join(map(str, ds.dims)) or 'none'}"
        )
    adapted = _from_earth2studio(ds) if layout == "earth2studio" else _from_wb2(ds)
    what = FOREIGN_LAYOUTS[layout][0]
    if not adapted.data_vars:
        raise StoreError(
            f"store {path} is {what} but none of its variables ({', '.join(map(str, ds.data_vars))}) has all of its "
            "dims and a hens channel name (see hens/data/channels.py)"
        )
    if announce:
        log.info(
            "hens diagnose: %s is %s; it has no hens manifest, so its chunks are not checked against one "
            "(diagnose.verify does not apply) and no members are flagged non-finite",
            path,
            what,
        )
    for variable in adapted.variables.values():  # the foreign store's codecs (Zarr v2 Blosc …) must not leak into
        variable.encoding = {}  # the scores hens writes (Zarr v3)
    adapted.attrs["hens_store_layout"] = layout
    return adapted
