"""Diagnose at scale: the seeded spectral member subset, and lat/lon tiles chosen to fit diagnose.memory_gb."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from hens.diagnostics.aggregate.fields import spectra_lazy, spectral_member_subset
from hens.diagnostics.aggregate.tiles import block_bytes, choose_tiles
from hens.diagnostics.metrics.spectra import angular_power_spectrum
from hens.diagnostics.run import run_diagnose
from hens.io.zarr_open import open_zarr_quiet
from tests.diagnostics.test_run import NLAT, NLON, _overrides, make_store


def test_spectral_subset_is_seeded_sorted_and_all_when_large_enough():
    assert spectral_member_subset(8, None, 0) is None and spectral_member_subset(8, 8, 0) is None
    a, b, c = (spectral_member_subset(100, 10, s) for s in (0, 0, 1))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.size == 10 and np.unique(a).size == 10 and np.all(np.diff(a) > 0) and 0 <= a.min() and a.max() < 100
    # every member is about equally likely over seeds (no bias towards the first members)
    counts = np.bincount(np.concatenate([spectral_member_subset(20, 5, s) for s in range(2000)]), minlength=20)
    assert np.all(np.abs(counts / 2000 - 0.25) < 0.04)


def _fields(seed: int = 0, m: int = 5) -> tuple[xr.DataArray, xr.DataArray]:
    rng = np.random.default_rng(seed)
    lat = np.linspace(90.0, -90.0, NLAT)
    coords = {"init_time": [0, 1], "member": np.arange(m), "lead_time": [0, 1], "lat": lat, "lon": np.arange(NLON)}
    fc = xr.DataArray(rng.normal(size=(2, m, 2, NLAT, NLON)), dims=tuple(coords), coords=coords).chunk({"member": 2})
    obs = fc.isel(member=0, drop=True) + 0.1
    return fc, obs


def test_spectra_of_all_members_as_a_subset_are_bit_identical_and_a_subset_is_its_members_mean():
    fc, obs = _fields()
    full = spectra_lazy(fc, obs).compute()
    as_subset = spectra_lazy(fc, obs, member_subset=np.arange(5)).compute()
    np.testing.assert_array_equal(full.values, as_subset.values)
    part = spectra_lazy(fc, obs, member_subset=np.array([1, 3])).compute()
    lat = fc["lat"].values
    brute = angular_power_spectrum(fc.values[:, [1, 3]], lat).mean(axis=1)  # [init, lead, degree]
    np.testing.assert_allclose(part.sel(spectrum="members").values, brute, rtol=1e-12)
    np.testing.assert_array_equal(part.sel(spectrum="ensemble_mean").values, full.sel(spectrum="ensemble_mean").values)
    assert part.attrs["spectra_members"] == [1, 3]


@pytest.mark.e2e
def test_diagnose_records_the_spectral_subset(tmp_path):
    store, truth, clim, fields = make_store(tmp_path, n_members=8, n_lead=3, batch=4, lead_chunk=3)
    base = _overrides(truth, clim, "diagnose.extremes.enabled=false")
    sub = run_diagnose(store, [*base, f"diagnose.output_dir={tmp_path / 's'}", "diagnose.spectral.max_members=3"])
    every = run_diagnose(store, [*base, f"diagnose.output_dir={tmp_path / 'a'}", "diagnose.spectral.max_members=all"])
    big = run_diagnose(store, [*base, f"diagnose.output_dir={tmp_path / 'b'}", "diagnose.spectral.max_members=8"])
    s, a, b = (open_zarr_quiet(r.scores).load() for r in (sub, every, big))
    chosen = spectral_member_subset(8, 3, 0)
    assert list(s.attrs["spectra_members"]) == chosen.tolist() and s.attrs["spectra_max_members"] == 3
    assert "spectra_members" not in a.attrs and "spectra_members" not in b.attrs
    xr.testing.assert_identical(a["power_spectrum"], b["power_spectrum"])
    lat = s["lat"].values
    brute = angular_power_spectrum(fields["z500"][:, chosen], lat).astype(np.float64).mean(axis=(0, 1))
    got = s["power_spectrum"].sel(spectrum="members", variable="z500").values
    np.testing.assert_allclose(got, brute, rtol=1e-6)
    assert not np.allclose(got, a["power_spectrum"].sel(spectrum="members", variable="z500").values, rtol=1e-6)
    for row in ("ensemble_mean", "truth"):
        xr.testing.assert_identical(s["power_spectrum"].sel(spectrum=row), a["power_spectrum"].sel(spectrum=row))


def test_choose_tiles_fits_the_budget():
    assert choose_tiles(32, 2, (721, 1440), None) == (None, None)
    assert choose_tiles(32, 2, (721, 1440), 1000.0) == (None, None)  # the whole globe fits
    lat, lon = choose_tiles(128, 1, (721, 1440), 1.0)
    assert lon is None and block_bytes(128, 1, lat, 1440) <= 1e9 < block_bytes(128, 1, lat + 1, 1440)
    lat, lon = choose_tiles(128, 1, (721, 1440), 1e-5)  # not even one row: 1 × lon tiles
    assert lat == 1 and block_bytes(128, 1, 1, lon) <= 1e4 < block_bytes(128, 1, 1, lon + 1)
    assert choose_tiles(128, 1, (721, 1440), 1e-9) == (1, 1)
    assert choose_tiles(128, 1, (721, 1440), 1.0, lat_chunk=5) == (5, None)  # configured sizes are kept
    assert choose_tiles(4, 1, (721, 1440), 1.0, lon_chunk=100)[1] == 100


@pytest.mark.e2e
@pytest.mark.parametrize("memory_gb", ["3e-5", "1e-6"])  # 2-row tiles; 1 × 1 tiles
def test_tiles_under_a_memory_budget_equal_the_whole_globe(tmp_path, memory_gb):
    store, truth, clim, _ = make_store(tmp_path, n_members=7, n_lead=5, batch=3, lead_chunk=3, nan_member=2)
    base = _overrides(truth, clim)
    whole = run_diagnose(store, [*base, f"diagnose.output_dir={tmp_path / 'w'}"])
    tiled = run_diagnose(store, [*base, f"diagnose.output_dir={tmp_path / 't'}", f"diagnose.memory_gb={memory_gb}"])
    w, t = open_zarr_quiet(whole.scores).load(), open_zarr_quiet(tiled.scores).load()
    assert set(w.data_vars) == set(t.data_vars) and "efi" in w and "power_spectrum" in w
    for name in w.data_vars:
        xr.testing.assert_allclose(w[name], t[name], rtol=1e-12, atol=1e-12 * float(np.nanmax(np.abs(w[name]))))
