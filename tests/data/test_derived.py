"""Derived channels (hens/data/derived.py) against independent references: the NWS heat-index chart, earthkit-meteo
(relative humidity from dew point, wind speed), and a brute-force float64 integration for IVT."""

from __future__ import annotations

import numpy as np
import pytest

from hens.data.derived import (
    G0,
    compute_derived,
    derived_inputs,
    heat_index,
    heat_index_fahrenheit,
    integrated_vapour_transport,
    ivt_levels,
    relative_humidity_from_dewpoint,
    wind_speed,
)
from hens.errors import HensError

# The NWS heat-index chart (°F; rows: air temperature, columns: relative humidity %), cells outside the ranges
# where the NWS adjustments apply (RH < 13 %, or RH > 85 % with T ≤ 87 °F). The chart rounds to whole degrees.
NWS_CHART = {
    (90, 40): 91, (90, 50): 95, (90, 60): 100, (90, 70): 106, (90, 80): 113, (90, 85): 117,
    (96, 40): 101, (96, 50): 108, (96, 60): 116, (96, 65): 121,
    (100, 40): 109, (100, 50): 118, (100, 60): 129,
    (104, 40): 119, (104, 50): 131,
    (110, 40): 136,
    (86, 40): 85, (86, 60): 91, (86, 80): 100,
    (80, 40): 80, (80, 60): 82, (80, 80): 84,
}  # fmt: skip


@pytest.mark.parametrize(("cell", "value"), sorted(NWS_CHART.items()))
def test_heat_index_matches_the_nws_chart(cell: tuple[int, int], value: int) -> None:
    t_f, rh = cell
    assert abs(float(heat_index_fahrenheit(t_f, rh)) - value) <= 1.0


def test_heat_index_low_values_use_steadman_and_adjustments_apply() -> None:
    # 70 °F, 50 %: Steadman's simple form 0.5 (70 + 61 + 1.2·2 + 0.094·50) = 69.05 °F
    assert float(heat_index_fahrenheit(70.0, 50.0)) == pytest.approx(69.05, abs=1e-9)

    def rothfusz(t: float, r: float) -> float:
        return (
            -42.379 + 2.04901523 * t + 10.14333127 * r - 0.22475541 * t * r - 6.83783e-3 * t**2
            - 5.481717e-2 * r**2 + 1.22874e-3 * t**2 * r + 8.5282e-4 * t * r**2 - 1.99e-6 * t**2 * r**2
        )  # fmt: skip

    # dry: 95 °F, 10 % → minus (13 − 10)/4 · √((17 − 0)/17) = 0.75
    assert float(heat_index_fahrenheit(95.0, 10.0)) == pytest.approx(rothfusz(95.0, 10.0) - 0.75, abs=1e-9)
    # humid: 85 °F, 95 % → plus (95 − 85)/10 · (87 − 85)/5 = 0.4
    assert float(heat_index_fahrenheit(85.0, 95.0)) == pytest.approx(rothfusz(85.0, 95.0) + 0.4, abs=1e-9)


def test_heat_index_kelvin_is_the_fahrenheit_one_converted() -> None:
    t_k = np.array([[305.0, 310.0], [290.0, 300.0]])
    rh = np.array([[50.0, 30.0], [80.0, 90.0]])
    expect = (heat_index_fahrenheit((t_k - 273.15) * 9 / 5 + 32, rh) - 32) * 5 / 9 + 273.15
    np.testing.assert_allclose(heat_index(t_k, rh), expect, rtol=0, atol=1e-12)


def test_relative_humidity_and_wind_speed_agree_with_earthkit_meteo() -> None:
    thermo = pytest.importorskip("earthkit.meteo.thermo")
    wind = pytest.importorskip("earthkit.meteo.wind")
    rng = np.random.default_rng(0)
    t = rng.uniform(255.0, 315.0, 500)
    td = t - rng.uniform(0.0, 30.0, 500)
    # Bolton's Magnus form vs earthkit's ECMWF saturation pressure: different fits, within 0.3 % RH here
    np.testing.assert_allclose(relative_humidity_from_dewpoint(t, td), thermo.relative_humidity_from_dewpoint(t, td),
                               atol=0.3)  # fmt: skip
    np.testing.assert_allclose(relative_humidity_from_dewpoint(t, t), 100.0, atol=1e-12)
    u, v = rng.normal(0, 10, 500), rng.normal(0, 10, 500)
    np.testing.assert_allclose(wind_speed(u, v), wind.speed(u, v), rtol=1e-12)


def _brute_ivt(q: np.ndarray, u: np.ndarray, v: np.ndarray, p_hpa: list[float]) -> np.ndarray:
    """Loop over points and layers, float64: (1/g) |Σ ½ Δp (f_k + f_k+1)|, levels sorted by pressure."""
    order = np.argsort(p_hpa)
    out = np.zeros(q.shape[1:])
    for idx in np.ndindex(*q.shape[1:]):
        fu = fv = 0.0
        for a, b in zip(order[:-1], order[1:], strict=True):
            dp = (p_hpa[b] - p_hpa[a]) * 100.0
            fu += 0.5 * dp * (q[(a, *idx)] * u[(a, *idx)] + q[(b, *idx)] * u[(b, *idx)])
            fv += 0.5 * dp * (q[(a, *idx)] * v[(a, *idx)] + q[(b, *idx)] * v[(b, *idx)])
        out[idx] = np.hypot(fu, fv) / 9.80665
    return out


def test_ivt_equals_brute_force_trapezoid_in_any_level_order() -> None:
    rng = np.random.default_rng(1)
    levels = [850.0, 300.0, 1000.0, 500.0, 700.0]  # unsorted on purpose
    q = rng.uniform(0, 0.015, (5, 3, 4))
    u, v = rng.normal(0, 15, (5, 3, 4)), rng.normal(0, 15, (5, 3, 4))
    got = integrated_vapour_transport(list(q), list(u), list(v), levels)
    np.testing.assert_allclose(got, _brute_ivt(q, u, v, levels), rtol=1e-13)


def test_ivt_is_exact_for_a_flux_linear_in_pressure() -> None:
    # q u = a + b p is integrated exactly by the trapezoid: ∫ from p0 to p1 = a Δp + b (p1² − p0²)/2
    p = np.array([300.0, 500.0, 850.0, 1000.0])
    pa = p * 100.0
    a, b = 0.02, 3e-6
    q = np.full(4, 0.01)
    u = (a + b * pa) / q
    v = np.zeros(4)
    exact = (a * (pa[-1] - pa[0]) + b * (pa[-1] ** 2 - pa[0] ** 2) / 2) / G0
    got = integrated_vapour_transport(list(q), list(u), list(v), p)
    assert float(got) == pytest.approx(exact, rel=1e-14)


def test_inputs_are_resolved_and_missing_ones_named() -> None:
    have = ["u10m", "v10m", "t2m", "d2m", "q500", "u500", "v500", "q850", "u850", "v850", "u700", "z500"]
    got = derived_inputs(["wind_speed_10m", "ivt", "heat_index"], have)
    assert got == {
        "wind_speed_10m": ["u10m", "v10m"],
        "ivt": ["q500", "q850", "u500", "u850", "v500", "v850"],
        "heat_index": ["t2m", "d2m"],
    }
    assert ivt_levels(have) == [500, 850]
    assert derived_inputs(["heat_index"], ["t2m", "r2m"]) == {"heat_index": ["t2m", "r2m"]}
    with pytest.raises(HensError, match=r"wind_speed_10m needs u10m and v10m; the data lack v10m") as err:
        derived_inputs(["wind_speed_10m", "heat_index"], ["u10m", "t2m"])
    assert "heat_index needs" in str(err.value) and "d2m (or r2m)" in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(HensError, match=r"ivt needs .* the data lack q<hPa>"):
        derived_inputs(["ivt"], ["u500", "v500", "u850", "v850"])
    with pytest.raises(HensError, match="unknown derived channel 'ws'"):
        derived_inputs(["ws"], have)


def test_compute_derived_dispatches_by_input_names() -> None:
    t, td = np.array([303.0]), np.array([295.0])
    got = compute_derived("heat_index", ["t2m", "d2m"], [t, td])
    np.testing.assert_allclose(got, heat_index(t, relative_humidity_from_dewpoint(t, td)))
    rh = np.array([60.0])
    np.testing.assert_allclose(compute_derived("heat_index", ["t2m", "r2m"], [t, rh]), heat_index(t, rh))
