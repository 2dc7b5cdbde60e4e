"""Climatology: percentiles per calendar month and hour, M-climate quantiles, and the valid-time lookup."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from hens.diagnostics.metrics.extremes import efi
from hens.diagnostics.verification.climatology import (
    SHIPPED_DEMO_CLIMATOLOGY,
    build_climatology,
    month_hour_index,
    shipped_demo_climatology,
    shipped_matches,
)
from hens.errors import HensError


def _truth(days: int = 400, seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    times = (np.datetime64("2001-01-01T00") + np.arange(days * 4) * np.timedelta64(6, "h")).astype("datetime64[ns]")
    month = times.astype("datetime64[M]").astype(int) % 12 + 1
    data = rng.normal(size=(times.size, 3, 4)) + month[:, None, None]  # a seasonal cycle
    return xr.Dataset(
        {"z500": (("time", "lat", "lon"), data)},
        coords={"time": times, "lat": [60.0, 0.0, -60.0], "lon": [0.0, 90.0, 180.0, 270.0]},
    )


def test_percentiles_per_month_and_hour_match_numpy():
    truth = _truth()
    clim = build_climatology(truth, percentiles=(95, 99), quantile_levels=np.linspace(0, 1, 11))
    assert clim["z500_percentiles"].dims == ("percentile", "month", "hour", "lat", "lon")
    assert clim["z500_quantiles"].dims == ("quantile", "month", "lat", "lon")
    assert clim["month"].values.tolist() == list(range(1, 13)) and clim["hour"].values.tolist() == [0, 6, 12, 18]
    t = truth["time"].to_index()
    sel = (t.month == 7) & (t.hour == 12)
    ref = np.percentile(truth["z500"].values[sel], [95, 99], axis=0)
    np.testing.assert_allclose(clim["z500_percentiles"].sel(month=7, hour=12).values, ref, rtol=1e-6)
    ref_q = np.quantile(truth["z500"].values[t.month == 3], np.linspace(0, 1, 11), axis=0)
    np.testing.assert_allclose(clim["z500_quantiles"].sel(month=3).values, ref_q, rtol=1e-6)
    assert clim.attrs["n_samples_min"] >= 28


def test_pooled_and_lookup():
    truth = _truth(days=40)
    clim = build_climatology(truth, by_month=False, by_hour=False)
    assert clim["month"].values.tolist() == [0] and clim["hour"].values.tolist() == [-1]
    valid = np.array([["2000-07-01T06", "2000-12-31T18"]], dtype="datetime64[ns]")
    mi, hi = month_hour_index(clim, valid)
    assert mi.tolist() == [[0, 0]] and hi.tolist() == [[0, 0]]

    monthly = build_climatology(_truth(days=400))
    mi, hi = month_hour_index(monthly, valid)
    assert mi.tolist() == [[6, 11]] and hi.tolist() == [[1, 3]]
    with pytest.raises(HensError, match="month 3"):
        build_climatology(truth.isel(time=slice(0, 4 * 70)).sel(time=truth.time.dt.month != 3))


def test_members_drawn_from_the_mclimate_have_efi_near_zero():
    truth = _truth()
    clim = build_climatology(truth, quantile_levels=np.linspace(0, 1, 101))
    t = truth["time"].to_index()
    may = truth["z500"].values[t.month == 5]
    members = may  # the climate sample itself, as an ensemble
    q = clim["z500_quantiles"].sel(month=5).values
    value = efi(q, members, quantile_levels=clim["quantile"].values)
    assert np.all(np.abs(value) < 0.15)
    assert np.all(efi(q, members + 10.0, quantile_levels=clim["quantile"].values) > 0.95)


def test_pool_longitude_matches_pooled_numpy():
    truth = _truth(days=30)
    clim = build_climatology(
        truth,
        percentiles=(95,),
        quantile_levels=np.linspace(0, 1, 5),
        by_month=False,
        by_hour=False,
        pool_longitude=True,
    )
    values = truth["z500"].values  # [time, lat, lon]
    for j in range(3):
        ref = np.percentile(values[:, j, :].ravel(), 95)
        np.testing.assert_allclose(clim["z500_percentiles"].values[0, 0, 0, j], ref, rtol=1e-6)
        ref_q = np.quantile(values[:, j, :].ravel(), np.linspace(0, 1, 5))
        np.testing.assert_allclose(clim["z500_quantiles"].values[:, 0, j, 2], ref_q, rtol=1e-6)


@pytest.mark.skipif(not SHIPPED_DEMO_CLIMATOLOGY.is_file(), reason="no shipped demo climatology")
def test_shipped_demo_climatology():
    clim = shipped_demo_climatology()
    assert clim["z500_percentiles"].dims == ("percentile", "month", "hour", "lat", "lon")
    assert clim["z500_quantiles"].dims == ("quantile", "month", "lat", "lon")
    assert clim.sizes["lat"] == 33 and clim.sizes["lon"] == 64 and clim.sizes["quantile"] == 101
    assert np.all(np.diff(clim["z500_quantiles"].values, axis=0) >= 0)
    mi, hi = month_hour_index(clim, np.array(["2000-03-05T18"], dtype="datetime64[ns]"))
    assert mi.tolist() == [0] and hi.tolist() == [0]
    assert shipped_matches({}) and shipped_matches({"seed": 7, "epoch": "1990-01-01T00:00"})
    assert not shipped_matches({"phi0": 6.0e4}) and not shipped_matches({"nlat": 17})
