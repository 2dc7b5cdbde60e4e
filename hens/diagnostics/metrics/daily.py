"""Daily aggregates by lead day: the quantity ECMWF's (and HENS's) EFI and SOT compare with the model climate.

**Lead day.** Lead day ``d`` (1, 2, …) covers the lead times in (24(d − 1), 24d] hours: with 6-hourly output,
day 1 is the values at +6, +12, +18 and +24 h (the analysis at +0 h is not part of any day). A day counts only
when every step of it is present (the output step must divide 24 h); partial days are left out. The forecast
and its model climate (:mod:`hens.diagnostics.verification.mclimate`) use this one definition, so a lead day
of the forecast meets the same lead day of the reforecasts.

**Aggregates.** ``mean`` (the default; the daily mean of the instantaneous values), ``max`` and ``min`` (the
largest / smallest instantaneous value of the day — e.g. for 2-m temperature extremes). They are computed in
float64 from the stored values.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from hens.errors import HensError

__all__ = ["AGGREGATES", "daily_aggregate", "daily_values", "lead_days"]

AGGREGATES = ("mean", "max", "min")


def lead_days(hours: Sequence[float] | np.ndarray) -> dict[int, np.ndarray]:
    """The complete lead days of a set of lead times and the positions of their steps.

    Args:
        hours: lead times in hours, increasing.

    Returns:
        ``{day: positions into hours}`` for every day d whose steps (24(d − 1), 24d] are all present, in day order;
        empty when there is no complete day (e.g. leads of 0–18 h only).
    """
    h = np.asarray(hours, dtype=np.float64)
    positive = np.unique(h[h > 0])
    if positive.size == 0:
        return {}
    step = float(np.min(np.diff(np.concatenate([[0.0], positive]))))
    if step <= 0 or 24.0 % step > 1e-9:
        return {}
    per_day = int(round(24.0 / step))
    out: dict[int, np.ndarray] = {}
    for day in range(1, int(np.floor(positive[-1] / 24.0 + 1e-9)) + 1):
        wanted = 24.0 * (day - 1) + step * np.arange(1, per_day + 1)
        pos = [np.flatnonzero(np.isclose(h, w))[:1] for w in wanted]
        if all(p.size for p in pos):
            out[day] = np.concatenate(pos)
    return out


def daily_values(values: np.ndarray, how: str, axis: int) -> np.ndarray:
    """``values`` reduced over the steps of one day along ``axis`` (float64): mean, max or min; NaN propagates."""
    x = np.asarray(values, dtype=np.float64)
    if how == "mean":
        return np.mean(x, axis=axis)
    if how == "max":
        return np.max(x, axis=axis)
    if how == "min":
        return np.min(x, axis=axis)
    raise HensError(f"unknown daily aggregate {how!r}; use one of {', '.join(AGGREGATES)}")


def daily_aggregate(x: xr.DataArray, how: str, days: dict[int, np.ndarray]) -> xr.DataArray:
    """Daily aggregate of ``x`` (lazy when ``x`` is): ``lead_time`` → ``lead_day`` (float64).

    Args:
        x: any array with a ``lead_time`` dimension, e.g. ``(init_time, member, lead_time, lat, lon)``.
        how: ``mean`` | ``max`` | ``min``.
        days: :func:`lead_days` of ``x``'s lead times (or a subset of it).

    Returns:
        ``x``'s dims with ``lead_time`` replaced by ``lead_day`` (coordinate: the day numbers), in place.
    """
    if how not in AGGREGATES:
        raise HensError(f"unknown daily aggregate {how!r}; use one of {', '.join(AGGREGATES)}")
    if not days:
        raise HensError("no complete lead day (24 h of steps) among the lead times; diagnose longer lead times")
    parts = []
    for pos in days.values():
        step = x.isel(lead_time=np.asarray(pos)).astype(np.float64)
        parts.append(getattr(step, how)("lead_time", skipna=False))
    out = xr.concat(parts, dim="lead_day", coords="minimal", compat="override")
    out = out.assign_coords(lead_day=np.asarray(list(days), dtype=np.int64))
    dims = [("lead_day" if d == "lead_time" else d) for d in x.dims]
    return out.transpose(*dims)
