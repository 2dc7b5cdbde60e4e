"""The verification of `hens diagnose`: find it from the store's metadata (or a path), and align it to the forecast.

* :func:`demo_world_info` / :func:`open_verification` find the verification: the demo world's truth from
  the store's own ``hens_initial_conditions`` attribute, any Zarr with ``(time, lat, lon)`` variables, or an
  ERA5 Zarr in the WeatherBench2 / ARCO-ERA5 layout (see :mod:`hens.data.era5`).
* :func:`align_verification` picks the verification at the valid times ``init_time + lead_time``.

Lazy (xarray over Dask) except small coordinate arrays.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from hens.diagnostics.verification.store import valid_times
from hens.errors import HensError, StoreError
from hens.io.zarr_open import open_zarr_quiet

__all__ = ["align_verification", "demo_truth", "demo_world_info", "open_verification"]

_GRID_ATOL_DEG = 1e-4


def demo_world_info(attrs: dict[str, Any]) -> dict[str, Any] | None:
    """The store's initial-condition description if it came from the demo world, else ``None``.

    Reads the global attribute ``hens_initial_conditions`` (a JSON string such as
    ``{"source": "demo", "demo_world": {...}, "fingerprint": "..."}``).
    """
    raw = attrs.get("hens_initial_conditions")
    if raw is None:
        return None
    try:
        info = json.loads(raw) if isinstance(raw, str) else dict(raw)
    except (TypeError, ValueError) as err:
        raise StoreError(f"the store's hens_initial_conditions attribute is not JSON ({err}); was it edited?") from err
    if info.get("source") != "demo":
        return None
    return info


def open_verification(
    attrs: dict[str, Any],
    times: np.ndarray,
    *,
    path: str | None = None,
    variables: Sequence[str] | None = None,
    layout: str = "auto",
) -> xr.Dataset:
    """The verification dataset covering ``times``, variables ``(time, lat, lon)``.

    Args:
        attrs: the store's global attributes (to find the demo world).
        times: the valid times needed (datetime64), any shape.
        path: a Zarr of the verification: either in the forecast's own layout (variables named by channel,
            ``time``, ``lat``, ``lon``) or an ERA5 store in the WeatherBench2 / ARCO-ERA5 layout (long names,
            ``latitude``, ``longitude``, ``level``), read through :func:`hens.data.era5.era5_verification_dataset`
            (channels mapped, latitude north → south, longitude 0 → 360); ``None`` uses the demo world named by the
            store's metadata.
        variables: variables needed (only used to shrink the dataset).
        layout: ``diagnose.verification.layout``: auto (detect from the coordinates) | wb2 | arco | hens.

    Raises:
        HensError: when no verification can be found, naming ``diagnose.verification.path``.
    """
    t = np.asarray(times, dtype="datetime64[ns]").ravel()
    if path is not None:
        p = Path(path)
        if "://" not in str(path) and not p.exists():
            raise HensError(
                f"diagnose.verification.path={path} does not exist; point it at a Zarr with (time, lat, lon)"
            )
        target = str(path) if "://" in str(path) else p
        try:
            probe = open_zarr_quiet(target, consolidated=None, chunks=None)  # metadata only, no Dask graph
        except Exception as err:  # noqa: BLE001
            raise HensError(f"diagnose.verification.path={path} cannot be opened as Zarr ({err})") from err
        if layout in ("wb2", "arco") or (layout == "auto" and "latitude" in probe.variables):
            from hens.data.era5 import era5_verification_dataset

            # only the needed channels and valid times become Dask arrays (ARCO has ~10⁶ hourly steps)
            where = f"diagnose.verification.path={path}"
            return era5_verification_dataset(probe, variables, t, layout=layout, where=where)
        truth = open_zarr_quiet(target, consolidated=None)
        if "time" not in truth.dims and "valid_time" in truth.dims:
            truth = truth.rename({"valid_time": "time"})
        if "time" not in truth.dims:
            raise HensError(
                f"diagnose.verification.path={path} has no 'time' dimension; its variables must be (time, lat, lon)"
            )
    else:
        info = demo_world_info(attrs)
        era5 = _era5_initial_conditions(attrs) if info is None else None
        if era5 is not None:
            # a run started from ERA5 is verified against the same store (the analyses at the valid times)
            from hens.data.era5 import era5_verification_dataset

            where = f"the initial-condition ERA5 store {era5['path']} (set diagnose.verification.path to use another)"
            ic_layout = str(era5.get("layout", "auto"))
            return era5_verification_dataset(era5["path"], variables, t, layout=ic_layout, where=where)
        if info is None:
            raise HensError(
                "the store was not made from the demo world, so its verification is unknown; "
                "set diagnose.verification.path=<Zarr with (time, lat, lon) variables>"
            )
        truth = demo_truth(info.get("demo_world") or {}, t.min(), t.max())
    if variables is not None:
        missing = [v for v in variables if v not in truth.data_vars]
        if missing:
            raise HensError(
                f"the verification lacks {', '.join(missing)} (it has {', '.join(map(str, truth.data_vars))}); "
                "choose diagnose.variables it has"
            )
        truth = truth[list(variables)]
    return truth


def _era5_initial_conditions(attrs: dict[str, Any]) -> dict[str, Any] | None:
    """The ``hens_initial_conditions`` attribute of a run started from an ERA5 store (with ``path``), else ``None``."""
    raw = attrs.get("hens_initial_conditions")
    try:
        info = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
    except (TypeError, ValueError):
        return None
    if info.get("source") != "era5" or not info.get("path"):
        return None
    return info


def demo_truth(demo_world: dict[str, Any], start: np.datetime64, end: np.datetime64) -> xr.Dataset:
    """The demo world's truth from ``start`` to ``end`` (inclusive), via :func:`hens.demo.world.truth_dataset`."""
    try:
        from hens.demo.world import demo_world_spec, truth_dataset
    except ImportError as err:
        raise HensError(f"the demo world is not available in this installation ({err}); reinstall hens") from err
    try:
        spec = demo_world_spec(demo_world)
    except (HensError, TypeError) as err:
        raise HensError(f"the store's demo_world parameters do not match this hens version ({err})") from err
    return truth_dataset(spec, np.datetime64(start, "ns"), np.datetime64(end, "ns"))


def align_verification(truth: xr.Dataset, forecast: xr.Dataset) -> xr.Dataset:
    """Verification at each forecast's valid time: variables ``(init_time, lead_time, lat, lon)``.

    The verification grid must equal the forecast's (no regridding); latitudes stored south-to-north are
    flipped to the forecast's order.

    Raises:
        HensError: for a missing valid time or a grid mismatch, with the fix.
    """
    vt = valid_times(forecast)
    have = np.asarray(truth["time"].values, dtype="datetime64[ns]")
    need = np.unique(vt.values.ravel())
    missing = np.setdiff1d(need, have)
    if missing.size:
        raise HensError(
            f"the verification has no data at valid time {np.datetime_as_string(missing[0], unit='m')} "
            f"({missing.size} missing; it covers {np.datetime_as_string(have.min(), unit='m')} … "
            f"{np.datetime_as_string(have.max(), unit='m')}); supply a longer verification or fewer diagnose.lead_times"
        )
    for name in ("lat", "lon"):
        if name not in truth.coords:
            raise HensError(f"the verification has no '{name}' coordinate; it must be (time, lat, lon)")
    t_lat, f_lat = truth["lat"].values, forecast["lat"].values
    if t_lat.shape == f_lat.shape and np.allclose(t_lat[::-1], f_lat, atol=_GRID_ATOL_DEG) and t_lat.size > 1:
        truth = truth.isel(lat=slice(None, None, -1))
        t_lat = truth["lat"].values
    if (
        t_lat.shape != f_lat.shape
        or truth.sizes["lon"] != forecast.sizes["lon"]
        or not np.allclose(t_lat, f_lat, atol=_GRID_ATOL_DEG)
        or not np.allclose(truth["lon"].values, forecast["lon"].values, atol=_GRID_ATOL_DEG)
    ):
        raise HensError(
            f"the verification grid ({truth.sizes['lat']}×{truth.sizes['lon']}) differs from the forecast grid "
            f"({forecast.sizes['lat']}×{forecast.sizes['lon']}); regrid the verification to the forecast's lat/lon"
        )
    out = truth.sel(time=vt).drop_vars(["time"], errors="ignore")
    out = out.assign_coords(lat=forecast["lat"], lon=forecast["lon"])
    return out.transpose("init_time", "lead_time", "lat", "lon")
