"""The Shift of Tails against earthkit-meteo and a float64 brute force; daily aggregates by lead day against loops;
EFI and SOT of daily means against earthkit-meteo on the same inputs (tolerance 1e-6, absolute)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from hens.diagnostics.metrics.daily import daily_aggregate, lead_days
from hens.diagnostics.metrics.extremes import efi, sot
from hens.errors import HensError

TOL = 1e-6


def _sot_bruteforce(clim: np.ndarray, ens: np.ndarray, perc: int, tail: int) -> np.ndarray:
    """Per point: sorted members, the type-7 quantile by hand, the climate's percentiles by index (101 levels)."""
    out = np.empty(ens.shape[1])
    for j in range(ens.shape[1]):
        x = np.sort(ens[:, j].astype(np.float64))
        h = (x.size - 1) * perc / 100.0
        lo = int(np.floor(h))
        qf = x[lo] + (h - lo) * (x[min(lo + 1, x.size - 1)] - x[lo])
        qc, qt = float(clim[perc, j]), float(clim[tail, j])
        out[j] = np.nan if qt == qc else min(10.0, max(-10.0, (qf - qt) / (qt - qc)))
    return out


@pytest.mark.parametrize(("perc", "tail"), [(90, 99), (10, 1)])
def test_sot_matches_earthkit_and_bruteforce(perc, tail):
    ek = pytest.importorskip("earthkit.meteo.extreme")
    rng = np.random.default_rng(3)
    m, n = 51, 400
    clim = np.sort(rng.normal(size=(101, n)), axis=0)
    ens = rng.normal(loc=rng.normal(scale=2.0, size=n), scale=rng.uniform(0.3, 2.5, size=n), size=(m, n))
    got = sot(clim, ens, percentile=perc)
    np.testing.assert_allclose(got, ek.sot(clim, ens, perc), atol=TOL, rtol=0)
    np.testing.assert_allclose(got, _sot_bruteforce(clim, ens, perc, tail), atol=1e-12, rtol=0)
    assert np.nanmax(got) > 0 and np.nanmin(got) < 0 and np.nanmax(np.abs(got)) <= 10.0  # both signs, clipped


def test_sot_axes_levels_nan_and_zero_width_tail():
    rng = np.random.default_rng(4)
    clim = np.sort(rng.normal(size=(101, 6)), axis=0)
    ens = rng.normal(size=(20, 6))
    ref = sot(clim, ens)
    np.testing.assert_allclose(sot(clim.T, ens.T, member_axis=-1, quantile_axis=-1), ref, atol=1e-15)
    # levels given explicitly; a subset that still holds 0.9 and 0.99 gives the same values
    levels = np.linspace(0, 1, 101)
    keep = [0, 50, 90, 99, 100]
    np.testing.assert_allclose(sot(clim[keep], ens, quantile_levels=levels[keep]), ref, atol=1e-12)
    flat = clim.copy()
    flat[90:100, 2] = flat[99, 2]  # Q_c(90) = Q_c(99): no tail to scale by
    ens_nan = ens.copy()
    ens_nan[3, 4] = np.nan
    got = sot(flat, ens_nan)
    assert np.isnan(got[2]) and np.isnan(got[4]) and np.isfinite(got[[0, 1, 3, 5]]).all()
    with pytest.raises(ValueError, match="percentile"):
        sot(clim, ens, percentile=50)


def test_lead_days_are_complete_24h_windows_after_the_analysis():
    hours = np.arange(0, 61, 6.0)  # 0 … 60 h: days 1 and 2 complete, day 3 partial
    days = lead_days(hours)
    assert list(days) == [1, 2]
    np.testing.assert_array_equal(days[1], [1, 2, 3, 4])  # +6 … +24 h
    np.testing.assert_array_equal(days[2], [5, 6, 7, 8])
    assert list(lead_days(np.arange(0, 49, 12.0))) == [1, 2] and len(lead_days(np.arange(0, 49, 12.0))[1]) == 2
    assert lead_days([0.0, 6.0, 12.0]) == {}
    assert list(lead_days(np.array([0, 6, 12, 24, 30, 36, 42, 48], float))) == [2]  # day 1 lacks +18 h


def test_daily_aggregate_against_loops():
    rng = np.random.default_rng(5)
    hours = np.arange(0, 49, 6.0)
    x = xr.DataArray(
        rng.normal(size=(2, 3, hours.size, 4, 5)).astype("f4"),
        dims=("init_time", "member", "lead_time", "lat", "lon"),
    ).chunk({"member": 1})
    days = lead_days(hours)
    for how, fn in (("mean", np.mean), ("max", np.max), ("min", np.min)):
        got = daily_aggregate(x, how, days).compute()
        assert got.dims == ("init_time", "member", "lead_day", "lat", "lon")
        for d, pos in days.items():
            want = fn(x.values[:, :, pos].astype(np.float64), axis=2)
            np.testing.assert_allclose(got.sel(lead_day=d).values, want, atol=1e-12)
    with pytest.raises(HensError, match="aggregate"):
        daily_aggregate(x, "median", days)


def test_daily_efi_and_sot_equal_earthkit_on_the_same_daily_means():
    ek = pytest.importorskip("earthkit.meteo.extreme")
    rng = np.random.default_rng(6)
    m, n = 30, 200
    six_hourly = rng.normal(loc=1.0, size=(m, 4, n))  # one lead day of 4 steps
    daily = six_hourly.mean(axis=1)
    clim = np.sort(rng.normal(size=(101, n)), axis=0)
    np.testing.assert_allclose(efi(clim, daily), ek.efi(clim, daily), atol=TOL, rtol=0)
    np.testing.assert_allclose(sot(clim, daily, percentile=90), ek.sot(clim, daily, 90), atol=TOL, rtol=0)
    np.testing.assert_allclose(sot(clim, daily, percentile=10), ek.sot(clim, daily, 10), atol=TOL, rtol=0)
