"""The blocked climatology build (`hens climatology`'s engine): percentiles equal numpy.percentile per calendar month,
hour and grid point (brute force, float64), whatever the band and time-block split; the output is the layout
`hens diagnose` reads; bad periods and budgets are one-line errors that leave nothing behind."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from hens.data.era5 import era5_verification_dataset
from hens.diagnostics.verification.climatology import load_climatology, month_hour_index
from hens.diagnostics.verification.climatology_blocks import build_climatology_zarr, check_period, plan_blocks
from hens.errors import HensError
from tests.helpers.era5 import write_wb2_fixture

H, W = 5, 6
PCT = (90.0, 95.0, 99.0)
LEVELS = np.linspace(0.0, 1.0, 11)


def _times(start: str, stop: str) -> np.ndarray:
    return np.arange(np.datetime64(start), np.datetime64(stop), np.timedelta64(6, "h")).astype("datetime64[ns]")


@pytest.fixture(scope="module")
def era5(tmp_path_factory):
    """A year of 6-hourly WB2 ERA5 (t2m, z500) with random noise on top of the analytic fields, so percentiles
    differ from point to point and month to month."""
    path = tmp_path_factory.mktemp("clim") / "era5.zarr"
    write_wb2_fixture(path, times=_times("2001-01-01", "2002-01-01"), lat_n=H, lon_n=W,
                      variables=("2m_temperature", "geopotential"), levels=(500,))  # fmt: skip
    ds = xr.open_zarr(path)
    rng = np.random.default_rng(3)
    for name in ds.data_vars:
        noisy = ds[name].values + rng.normal(0.0, 50.0, ds[name].shape).astype(np.float32)
        xr.Dataset({name: ds[name].copy(data=noisy)}).to_zarr(path, mode="r+")
    return path


def _brute_force(raw: xr.DataArray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """numpy.percentile per (month, hour, point) and numpy.quantile per (month, point), in float64, with the store's
    latitude order mapped north → south by value (independent of hens' reader)."""
    raw = raw.sortby("latitude", ascending=False)
    assert np.allclose(raw["latitude"].values, lat)
    values = np.asarray(raw.values, dtype=np.float64)  # [T, lat, lon]
    idx = pd.DatetimeIndex(raw["time"].values)
    p = np.empty((len(PCT), 12, 4, H, W))
    q = np.empty((LEVELS.size, 12, H, W))
    for m in range(1, 13):
        q[:, m - 1] = np.quantile(values[idx.month == m], LEVELS, axis=0)
        for hi, hour in enumerate((0, 6, 12, 18)):
            for j in range(H):
                for k in range(W):
                    sample = values[(idx.month == m) & (idx.hour == hour), j, k]
                    p[:, m - 1, hi, j, k] = [np.percentile(sample, x) for x in PCT]
    return p, q


@pytest.mark.parametrize("memory_bytes", [10**9, 2 * 1460 * W * 32], ids=["one-band", "bands-of-2-rows"])
def test_percentiles_equal_numpy_per_month_hour_and_point(tmp_path, era5, memory_bytes):
    truth = era5_verification_dataset(era5, ["t2m", "z500"])
    out = tmp_path / "clim.zarr"
    plan = build_climatology_zarr(truth, out, percentiles=PCT, quantile_levels=LEVELS, memory_bytes=memory_bytes)
    assert plan.rows == (H if memory_bytes == 10**9 else 2)
    clim = load_climatology(out, ["t2m", "z500"], truth["lat"].values, truth["lon"].values).load()
    assert list(clim["hour"].values) == [0, 6, 12, 18] and list(clim["month"].values) == list(range(1, 13))
    raw = xr.open_zarr(era5)
    for name, field in (("t2m", raw["2m_temperature"]), ("z500", raw["geopotential"].sel(level=500))):
        p, q = _brute_force(field, truth["lat"].values)
        np.testing.assert_allclose(clim[f"{name}_percentiles"].values, p, rtol=1e-6)
        np.testing.assert_allclose(clim[f"{name}_quantiles"].values, q, rtol=1e-6)
    assert clim.attrs["n_samples_min"] == 28  # February 2001 at one hour: 28 days
    # diagnose's lookup finds every valid time of the year
    mi, hi = month_hour_index(clim, np.array(["2001-07-04T18:00"], dtype="datetime64[ns]"))
    assert (int(mi[0]), int(hi[0])) == (6, 3)
    assert not (tmp_path / "clim.zarr.partial").exists() and not (tmp_path / "clim.zarr.scratch").exists()


def test_a_missing_month_or_existing_output_is_a_one_line_error_and_nothing_is_left(tmp_path, era5):
    truth = era5_verification_dataset(era5, ["t2m"])
    short = truth.isel(time=slice(0, 4 * 200))  # January … mid-July
    with pytest.raises(HensError, match="no data in month 8"):
        build_climatology_zarr(short, tmp_path / "c.zarr", percentiles=PCT, quantile_levels=LEVELS)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "c.zarr").mkdir()
    with pytest.raises(HensError, match="exists"):
        build_climatology_zarr(truth, tmp_path / "c.zarr", percentiles=PCT, quantile_levels=LEVELS)
    with pytest.raises(HensError, match="memory_gb"):
        plan_blocks(1460, H, W, 1, memory_bytes=1000)


def test_pooled_months_and_hours():
    times = _times("2001-03-01", "2001-03-03")
    season, axis, hours = check_period(times, by_month=False, by_hour=False)
    assert (season, list(axis), list(hours)) == ("month", [0], [-1])
    with pytest.raises(HensError, match="month 1"):
        check_period(times, by_month=True, by_hour=False)
