"""The model climate (M-climate) of the EFI and SOT: quantiles of daily aggregates of reforecasts per lead day.

ECMWF builds the M-climate of a forecast from reforecasts of the same model started on dates near the forecast's
calendar date (a window of weeks, over many past years) and pools every member and start date of the window,
separately for every lead day; HENS computed its EFI the same way (12-member reforecasts twice a week over
1999–2022).  hens does this from hindcast stores written by `hens generate`.

**Layout** (a Zarr; ``hens climatology --from-hindcasts`` writes it, ``diagnose.climatology.mclimate`` reads it).
For every channel ``<var>``:

* ``<var>_mclimate(aggregate, quantile, centre, lead_day, lat, lon)`` float32 — the quantiles at levels
  ``quantile`` ∈ [0, 1] of the daily ``aggregate`` (``mean`` | ``max`` | ``min``,
  :mod:`hens.diagnostics.metrics.daily`) of lead day ``lead_day``, pooled over every member and every
  hindcast start date whose day of year is within ``window_days`` of the ``centre``;

coordinates ``centre`` (``MM-DD`` strings) with ``centre_doy`` (its day of year in a 365-day year) and
``n_start_dates(centre)`` (hindcast start dates pooled); attributes ``kind = "mclimate"``, ``window_days``,
``n_members``.  A forecast started on day of year *d* uses the centre nearest to *d* (circular distance on the
365-day year); none within ``window_days`` is an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from hens.errors import HensError

__all__ = [
    "YEAR_DAYS",
    "centre_index",
    "day_of_year",
    "doy_distance",
    "load_mclimate",
    "mclimate_name",
    "window_members",
    "window_quantiles",
]

YEAR_DAYS = 365


def mclimate_name(var: str) -> str:
    return f"{var}_mclimate"


def day_of_year(times: np.ndarray | Sequence[str]) -> np.ndarray:
    """Day of year (1 … 365) of datetimes or ``MM-DD`` strings, in a 365-day year (29 February → 28 February)."""
    values = np.asarray(times)
    if values.dtype.kind in "UO":
        idx = pd.to_datetime([f"2001-{str(v)[-5:]}" if str(v)[-5:] != "02-29" else "2001-02-28" for v in values])
    else:
        raw = pd.DatetimeIndex(values.astype("datetime64[ns]").ravel())
        idx = pd.to_datetime([f"2001-{t.month:02d}-{min(t.day, 28) if t.month == 2 else t.day:02d}" for t in raw])
    return np.asarray(idx.day_of_year, dtype=np.int64).reshape(values.shape)


def doy_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Circular distance in days between days of year (365-day year)."""
    d = np.abs(np.asarray(a)[..., None] - np.asarray(b)[None, ...]) % YEAR_DAYS
    return np.minimum(d, YEAR_DAYS - d)


def window_members(start_doy: np.ndarray, centre_doy: np.ndarray, window_days: int) -> np.ndarray:
    """Boolean ``[centre, start date]``: the hindcast start dates pooled into each centre's M-climate."""
    return doy_distance(np.asarray(centre_doy), np.asarray(start_doy)) <= int(window_days)


def centre_index(mclim: xr.Dataset, init_times: np.ndarray) -> np.ndarray:
    """Position along ``centre`` of the M-climate of each forecast start date (the nearest centre).

    Raises:
        HensError: a start date with no centre within the M-climate's ``window_days``.
    """
    doy = day_of_year(np.asarray(init_times))
    dist = doy_distance(doy, np.asarray(mclim["centre_doy"].values))
    best = np.argmin(dist, axis=1)
    window = int(mclim.attrs.get("window_days", 0))
    far = np.flatnonzero(dist[np.arange(doy.size), best] > window)
    if far.size:
        t = str(np.datetime_as_string(np.asarray(init_times, dtype="datetime64[m]")[far[0]]))
        raise HensError(
            f"the M-climate has no centre within {window} days of the start date {t} (centres "
            f"{', '.join(map(str, mclim['centre'].values[:6]))}…); rebuild it with hindcasts around that date"
        )
    return best


def window_quantiles(daily: np.ndarray, pooled: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Quantiles of the daily aggregates of every centre's window, pooled over start dates and members.

    Args:
        daily: ``(start date, member, lat, lon)`` daily aggregates of one lead day.
        pooled: ``[centre, start date]`` from :func:`window_members`.
        levels: quantile levels in [0, 1].

    Returns:
        float32 ``(quantile, centre, lat, lon)``; NaN for a centre with no start date, or where a pooled value is NaN.
    """
    n_c = pooled.shape[0]
    out = np.full((levels.size, n_c) + daily.shape[2:], np.nan, dtype=np.float32)
    for c in range(n_c):
        sel = np.flatnonzero(pooled[c])
        if sel.size:
            sample = np.asarray(daily[sel], dtype=np.float64).reshape((-1,) + daily.shape[2:])
            out[:, c] = np.quantile(sample, levels, axis=0)
    return out


def load_mclimate(path: str | Path, variables: Sequence[str], lat: np.ndarray, lon: np.ndarray) -> xr.Dataset:
    """Open an M-climate Zarr (layout of the module docstring) and check its channels and grid.

    Raises:
        HensError: naming ``diagnose.climatology.mclimate`` and what is wrong.
    """
    from hens.io.zarr_open import open_zarr_quiet

    key = f"diagnose.climatology.mclimate={path}"
    p = Path(path)
    if not p.exists():
        raise HensError(f"{key} does not exist; build it with hens climatology --from-hindcasts or set it to null")
    try:
        mclim = open_zarr_quiet(p, consolidated=None)
    except Exception as err:  # noqa: BLE001
        raise HensError(f"{key} cannot be opened as Zarr ({err})") from err
    if mclim.attrs.get("kind") != "mclimate":
        raise HensError(f"{key} is not an M-climate (no kind=mclimate); build it: hens climatology --from-hindcasts")
    missing = [mclimate_name(v) for v in variables if mclimate_name(v) not in mclim]
    if missing:
        raise HensError(f"{key} lacks {', '.join(missing)}; rebuild it with those channels or set diagnose.variables")
    if (
        mclim.sizes.get("lat") != lat.size
        or mclim.sizes.get("lon") != lon.size
        or not (np.allclose(mclim["lat"].values, lat, atol=1e-4) and np.allclose(mclim["lon"].values, lon, atol=1e-4))
    ):
        raise HensError(f"{key} is on another grid than the forecast; rebuild it from hindcasts on the forecast grid")
    return mclim
