"""Climatology by day-of-year window (``climatology.window_days``): percentiles and quantiles equal a float64 brute
force over the times within ± window days of each centre (circular, all years), the blocked build equals the
in-memory one, and `hens diagnose`'s lookup takes the nearest centre."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hens.data.era5 import era5_verification_dataset
from hens.diagnostics.verification.climatology import build_climatology, load_climatology, month_hour_index
from hens.diagnostics.verification.climatology_blocks import build_climatology_zarr, check_period
from hens.errors import HensError
from tests.diagnostics.verification.test_climatology_blocks import LEVELS, PCT, _times, era5  # noqa: F401

WINDOW, STEP = 10, 30


def _doy(t: np.ndarray) -> np.ndarray:
    """Day of year in a 365-day year, by hand: 29 February is 28 February."""
    idx = pd.DatetimeIndex(t)
    month_start = np.cumsum([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30])
    day = np.where((idx.month == 2) & (idx.day == 29), 28, idx.day)
    return month_start[idx.month - 1] + day


def test_doy_windows_equal_brute_force(era5):  # noqa: F811
    truth = era5_verification_dataset(era5, ["t2m"]).load()
    clim = build_climatology(truth, percentiles=PCT, quantile_levels=LEVELS, window_days=WINDOW, doy_step=STEP)
    centres = np.arange(1, 366, STEP)
    assert list(clim["dayofyear"].values) == centres.tolist() and clim["t2m_percentiles"].dims[1] == "dayofyear"
    values = truth["t2m"].values.astype(np.float64)
    doy = _doy(truth["time"].values)
    hours = pd.DatetimeIndex(truth["time"].values).hour
    for c_i, c in enumerate(centres[[0, 5, -1]]):  # 1 (wraps into December), 151, 361 (wraps into January)
        d = np.abs(doy - c)
        inside = np.minimum(d, 365 - d) <= WINDOW
        assert inside.sum() == 4 * (2 * WINDOW + 1)  # one year of 6-hourly data
        k = [0, 5, -1][c_i]
        np.testing.assert_allclose(
            clim["t2m_quantiles"].isel(dayofyear=k).values, np.quantile(values[inside], LEVELS, axis=0), rtol=1e-6
        )
        for h_i, h in enumerate((0, 6, 12, 18)):
            want = np.percentile(values[inside & (hours == h)], PCT, axis=0)
            np.testing.assert_allclose(clim["t2m_percentiles"].isel(dayofyear=k, hour=h_i).values, want, rtol=1e-6)


def test_blocked_doy_build_equals_in_memory_and_diagnose_takes_the_nearest_centre(era5, tmp_path):  # noqa: F811
    truth = era5_verification_dataset(era5, ["t2m", "z500"])
    out = tmp_path / "doy.zarr"
    plan = build_climatology_zarr(
        truth, out, percentiles=PCT, quantile_levels=LEVELS, window_days=WINDOW, doy_step=STEP, memory_bytes=600_000
    )
    assert plan.n_bands > 1
    ref = build_climatology(truth.load(), percentiles=PCT, quantile_levels=LEVELS, window_days=WINDOW, doy_step=STEP)
    clim = load_climatology(out, ["t2m", "z500"], truth["lat"].values, truth["lon"].values)
    assert clim.attrs["season_axis"] == "dayofyear" and clim.attrs["window_days"] == WINDOW
    for var in ("t2m", "z500"):
        np.testing.assert_array_equal(clim[f"{var}_percentiles"].values, ref[f"{var}_percentiles"].values)
        np.testing.assert_array_equal(clim[f"{var}_quantiles"].values, ref[f"{var}_quantiles"].values)
    valid = np.array(["2023-01-01T06", "2023-12-31T18", "2024-02-29T00", "2023-06-15T12"], dtype="datetime64[ns]")
    season, hour = month_hour_index(clim, valid)
    # doy 1 → centre 1; 365 → 1 (1 day away across the new year; 361 is 4 away); 29 Feb = doy 59 → centre 61;
    # 15 June = doy 166 → centre 151 and 181 both 15 away: a tie, the first
    assert season.tolist() == [0, 0, 2, 5] and hour.tolist() == [1, 3, 0, 2]


def test_doy_period_checks_name_the_key():
    half = _times("2001-01-01", "2001-07-01")
    with pytest.raises(HensError, match="no data in dayofyear .*widen climatology.window_days"):
        check_period(half, by_month=True, by_hour=False, window_days=5, doy_step=10)
    season, axis, hours = check_period(_times("2001-01-01", "2002-01-01"), by_month=True, by_hour=True, window_days=3)
    assert season == "dayofyear" and axis.size == 365 and list(hours) == [0, 6, 12, 18]


def test_diagnose_reads_a_doy_climatology(tmp_path):
    """The event scores run on a day-of-year climatology (thresholds of the valid times' nearest centres)."""
    import xarray as xr

    from hens.diagnostics.run import run_diagnose
    from hens.io.zarr_open import open_zarr_quiet, quiet_zarr
    from tests.diagnostics.test_run import _overrides, make_store

    store, truth, _, _ = make_store(tmp_path, n_members=6, n_lead=3)
    tds = xr.open_zarr(truth, consolidated=False).load()
    doy = tmp_path / "doy.zarr"
    with quiet_zarr():
        build_climatology(
            tds, percentiles=(90.0, 99.0), quantile_levels=np.linspace(0, 1, 21), by_hour=False, window_days=20,
            doy_step=15,
        ).to_zarr(doy, mode="w", zarr_format=3, consolidated=False)  # fmt: skip
    result = run_diagnose(store, _overrides(truth, doy, "diagnose.spectral.enabled=false"))
    ds = open_zarr_quiet(result.scores)
    assert np.isfinite(ds["roc_auc"].sel(region="global", percentile=90.0).values).all()  # 99th: may see no event
    assert np.isfinite(ds["efi"].values).all()
