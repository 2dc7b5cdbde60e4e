"""Derived channels of HENS-style analyses: 10-m wind speed, integrated vapour transport, heat index.

HENS saved three quantities that no checkpoint predicts directly — the 10-m wind speed, the integrated vapour
transport (IVT) and the heat index — beside its prognostic channels.  This module holds their formulas as pure
numpy functions (float64 inside, any broadcastable shapes) and a small registry that says, for each derived
channel, which checkpoint channels it needs (makani / earth2studio names: ``u10m``, ``t2m``, ``q850`` …), so that
`hens diagnose` (``diagnose.derived``) can compute them lazily from a store and its verification alike.

Derived channels (:data:`DERIVED`):

==============  ===========  ===================================================================================
name            units        from
==============  ===========  ===================================================================================
wind_speed_10m  m s-1        ``u10m``, ``v10m``: √(u² + v²)
ivt             kg m-1 s-1   ``q<p>``, ``u<p>``, ``v<p>`` at every pressure level p where all three exist
                             (at least two levels): (1/g) |∫ q **V** dp|, trapezoid in p (Pa)
heat_index      K            ``t2m`` and ``d2m`` (relative humidity by Bolton's Magnus form), or ``t2m`` and
                             ``r2m`` (%): NOAA's heat index (Rothfusz regression, Steadman below 80 °F)
==============  ===========  ===================================================================================

IVT is truncated to the levels available: with HENS's 13 levels (50 … 1000 hPa) it integrates from 50 to
1000 hPa; it does not stop at the surface pressure (ERA5 pressure-level fields below the ground are extrapolated
values and are included, as most IVT climatologies from pressure-level data do) and it ignores the layers above
the top and below the bottom level.  With fewer levels (say 500, 700, 850 hPa) it is the transport of that
layer only, which underestimates the column's: compare IVTs only across data with the same levels.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from hens.errors import HensError
from hens.io.cf import channel_attrs

__all__ = [
    "DERIVED",
    "G0",
    "DerivedChannel",
    "compute_derived",
    "derived_channel",
    "derived_inputs",
    "heat_index",
    "heat_index_fahrenheit",
    "integrated_vapour_transport",
    "ivt_levels",
    "relative_humidity_from_dewpoint",
    "saturation_vapour_pressure",
    "wind_speed",
]

G0 = 9.80665
"""Standard gravity (m s-2), the 1/g of the IVT integral."""

_Array = np.ndarray


def wind_speed(u: _Array, v: _Array) -> _Array:
    """Horizontal wind speed √(u² + v²) (units of u and v), float64."""
    return np.hypot(np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64))


def saturation_vapour_pressure(t_kelvin: _Array) -> _Array:
    """Saturation vapour pressure over water (hPa), Bolton's (1980) Magnus form 6.112 exp(17.67 T / (T + 243.5)),
    T in °C; within 0.1 % of the Goff–Gratch values from −30 to 35 °C."""
    t_c = np.asarray(t_kelvin, dtype=np.float64) - 273.15
    return 6.112 * np.exp(17.67 * t_c / (t_c + 243.5))


def relative_humidity_from_dewpoint(t_kelvin: _Array, td_kelvin: _Array) -> _Array:
    """Relative humidity (%) from temperature and dew point (K): 100 e_s(Td) / e_s(T) with
    :func:`saturation_vapour_pressure`."""
    return 100.0 * saturation_vapour_pressure(td_kelvin) / saturation_vapour_pressure(t_kelvin)


def heat_index_fahrenheit(t_f: _Array, rh: _Array) -> _Array:
    """NOAA's heat index (°F) of air temperature ``t_f`` (°F) and relative humidity ``rh`` (%).

    The NWS algorithm (Rothfusz 1990, NWS SR 90-23; as on the NWS Weather Prediction Center's heat-index page):
    Steadman's simple form HI = 0.5 (T + 61 + 1.2 (T − 68) + 0.094 RH) where its mean with T is below 80 °F;
    elsewhere the Rothfusz regression, with the NWS adjustments — minus ((13 − RH)/4) √((17 − |T − 95|)/17) for
    RH < 13 % and 80 ≤ T ≤ 112 °F, plus ((RH − 85)/10) ((87 − T)/5) for RH > 85 % and 80 ≤ T ≤ 87 °F.
    """
    t = np.asarray(t_f, dtype=np.float64)
    r = np.asarray(rh, dtype=np.float64)
    simple = 0.5 * (t + 61.0 + (t - 68.0) * 1.2 + r * 0.094)
    full = (
        -42.379
        + 2.04901523 * t
        + 10.14333127 * r
        - 0.22475541 * t * r
        - 6.83783e-3 * t * t
        - 5.481717e-2 * r * r
        + 1.22874e-3 * t * t * r
        + 8.5282e-4 * t * r * r
        - 1.99e-6 * t * t * r * r
    )
    dry = (r < 13.0) & (t >= 80.0) & (t <= 112.0)
    root = np.sqrt(np.clip((17.0 - np.abs(t - 95.0)) / 17.0, 0.0, None))
    full = np.where(dry, full - (13.0 - r) / 4.0 * root, full)
    humid = (r > 85.0) & (t >= 80.0) & (t <= 87.0)
    full = np.where(humid, full + (r - 85.0) / 10.0 * (87.0 - t) / 5.0, full)
    return np.where(0.5 * (simple + t) < 80.0, simple, full)


def heat_index(t_kelvin: _Array, rh: _Array) -> _Array:
    """NOAA's heat index (K) of temperature (K) and relative humidity (%): :func:`heat_index_fahrenheit` in kelvin."""
    t_f = (np.asarray(t_kelvin, dtype=np.float64) - 273.15) * 1.8 + 32.0
    return (heat_index_fahrenheit(t_f, rh) - 32.0) / 1.8 + 273.15


def integrated_vapour_transport(
    q: Sequence[_Array], u: Sequence[_Array], v: Sequence[_Array], levels_hpa: Sequence[float]
) -> _Array:
    """IVT (kg m-1 s-1) = (1/g) |∫ q **V** dp| over the given pressure levels, trapezoid in p.

    Args:
        q, u, v: specific humidity (kg kg-1) and wind components (m s-1), one array per level, all of one shape.
        levels_hpa: the pressure levels (hPa) of the arrays, in any order (sorted here), at least two.

    Returns:
        The magnitude of the vertically integrated moisture flux vector, shape of one level's array, float64.
    """
    p = np.asarray(levels_hpa, dtype=np.float64) * 100.0
    if p.size < 2 or not (len(q) == len(u) == len(v) == p.size):
        raise HensError(f"IVT needs q, u and v at the same ≥ 2 pressure levels; got {p.size} level(s)")
    order = np.argsort(p)
    fu = [np.asarray(q[i], dtype=np.float64) * np.asarray(u[i], dtype=np.float64) for i in order]
    fv = [np.asarray(q[i], dtype=np.float64) * np.asarray(v[i], dtype=np.float64) for i in order]
    ps = p[order]
    iu = sum(0.5 * (ps[k + 1] - ps[k]) * (fu[k] + fu[k + 1]) for k in range(ps.size - 1))
    iv = sum(0.5 * (ps[k + 1] - ps[k]) * (fv[k] + fv[k + 1]) for k in range(ps.size - 1))
    return np.hypot(iu, iv) / G0


_LEVEL = re.compile(r"^([quv])(\d+)$")


def ivt_levels(channels: Sequence[str]) -> list[int]:
    """The pressure levels (hPa, ascending) at which ``q``, ``u`` and ``v`` are all among ``channels``."""
    found: dict[str, set[int]] = {"q": set(), "u": set(), "v": set()}
    for name in channels:
        match = _LEVEL.match(name)
        if match:
            found[match.group(1)].add(int(match.group(2)))
    return sorted(found["q"] & found["u"] & found["v"])


@dataclass(frozen=True)
class DerivedChannel:
    """A derived channel: its CF attributes and how it is computed.

    Attributes:
        name: the channel name (``ivt``).
        attrs: CF attributes (``standard_name`` where CF has one, ``long_name``, ``units``), from
            :func:`hens.io.cf.channel_attrs`.
        inputs: given the available channel names, the channels the formula reads, or raises a one-line HensError
            naming what is missing.
        formula: ``(input names, their arrays)`` → the derived field, float64 (see :func:`compute_derived`).
    """

    name: str
    attrs: dict[str, str]
    inputs: Callable[[Sequence[str]], list[str]]
    formula: Callable[[Sequence[str], Sequence[_Array]], _Array]


def _missing(name: str, need: str, lacking: Sequence[str]) -> HensError:
    return HensError(f"derived channel {name} needs {need}; the data lack {', '.join(lacking)}")


def _wind_inputs(have: Sequence[str]) -> list[str]:
    lacking = [c for c in ("u10m", "v10m") if c not in have]
    if lacking:
        raise _missing("wind_speed_10m", "u10m and v10m", lacking)
    return ["u10m", "v10m"]


def _ivt_inputs(have: Sequence[str]) -> list[str]:
    levels = ivt_levels(have)
    if len(levels) < 2:
        lacking = [f"{c}<hPa>" for c in "quv" if not any((m := _LEVEL.match(h)) and m.group(1) == c for h in have)]
        raise _missing(
            "ivt",
            "q, u and v on at least two common pressure levels (q850 u850 v850 q700 …)",
            lacking or [f"a second level with all of q, u, v (common: {levels or 'none'})"],
        )
    return [f"{c}{p}" for c in "quv" for p in levels]


def _ivt_formula(names: Sequence[str], arrays: Sequence[_Array]) -> _Array:
    by_name = dict(zip(names, arrays, strict=True))
    levels = ivt_levels(names)
    return integrated_vapour_transport(
        [by_name[f"q{p}"] for p in levels],
        [by_name[f"u{p}"] for p in levels],
        [by_name[f"v{p}"] for p in levels],
        levels,
    )


def _heat_inputs(have: Sequence[str]) -> list[str]:
    if "t2m" in have and "d2m" in have:
        return ["t2m", "d2m"]
    if "t2m" in have and "r2m" in have:
        return ["t2m", "r2m"]
    lacking = [c for c in ("t2m",) if c not in have] + ([] if "d2m" in have or "r2m" in have else ["d2m (or r2m)"])
    raise _missing("heat_index", "t2m and d2m (or t2m and r2m in %)", lacking)


def _heat_formula(names: Sequence[str], arrays: Sequence[_Array]) -> _Array:
    t, second = arrays
    rh = relative_humidity_from_dewpoint(t, second) if names[1] == "d2m" else np.asarray(second, dtype=np.float64)
    return heat_index(t, rh)


DERIVED: dict[str, DerivedChannel] = {
    "wind_speed_10m": DerivedChannel(
        "wind_speed_10m",
        channel_attrs("wind_speed_10m"),
        _wind_inputs,
        lambda names, arrays: wind_speed(*arrays),
    ),
    "ivt": DerivedChannel(
        "ivt",
        channel_attrs("ivt"),
        _ivt_inputs,
        _ivt_formula,
    ),
    "heat_index": DerivedChannel(
        "heat_index",
        channel_attrs("heat_index"),
        _heat_inputs,
        _heat_formula,
    ),
}
"""The derived channels by name."""


def derived_channel(name: str) -> DerivedChannel:
    """The registered derived channel ``name``, or a one-line HensError listing the known ones."""
    if name not in DERIVED:
        raise HensError(f"unknown derived channel {name!r}; choose among {', '.join(DERIVED)}")
    return DERIVED[name]


def derived_inputs(names: Sequence[str], have: Sequence[str]) -> dict[str, list[str]]:
    """Per derived channel of ``names``, the input channels it reads among ``have``.

    Raises:
        HensError: one line, for an unknown name or naming every missing input.
    """
    out: dict[str, list[str]] = {}
    problems = []
    for name in names:
        try:
            out[name] = derived_channel(name).inputs(have)
        except HensError as err:
            problems.append(str(err))
    if problems:
        raise HensError("; ".join(problems))
    return out


def compute_derived(name: str, inputs: Sequence[str], arrays: Sequence[_Array]) -> _Array:
    """The derived channel ``name`` from its ``inputs`` (names from :func:`derived_inputs`) and their arrays."""
    return derived_channel(name).formula(list(inputs), list(arrays))
