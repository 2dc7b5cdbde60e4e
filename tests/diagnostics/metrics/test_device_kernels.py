"""``diagnose.device``: the torch kernels (fair CRPS, spectral transform) on the CPU equal float64 NumPy references
to 1e-10, the option reaches them from the config, and ``cuda`` without a GPU is a one-line error.  (The CUDA path
itself is compared with the CPU in scripts/device_check.sh, step diagnose-kernels.)"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.special import sph_harm_y

from hens.diagnostics.aggregate.block import BlockOptions, block_statistics
from hens.diagnostics.aggregate.fields import spectra_lazy
from hens.diagnostics.metrics.crps import ecdf_crps, fair_crps
from hens.diagnostics.metrics.crps_torch import crps_pair_torch, crps_torch
from hens.diagnostics.metrics.device import kernel_device
from hens.diagnostics.metrics.spectra import angular_power_spectrum, default_lmax, grid_latitudes
from hens.errors import HensError


def _pairwise_crps(fc: np.ndarray, obs: np.ndarray, fair: bool) -> np.ndarray:
    """Brute force in float64: mean |x_i − y| − Σ_ij |x_i − x_j| / (2 M D), members on axis 0."""
    x = fc.astype(np.float64)
    m = x.shape[0]
    pairs = np.abs(x[:, None] - x[None, :]).sum(axis=(0, 1))
    return np.abs(x - obs).mean(axis=0) - pairs / (2.0 * m * ((m - 1) if fair else m))


def test_torch_crps_on_cpu_equals_the_numpy_reference_and_brute_force():
    rng = np.random.default_rng(3)
    fc = (280.0 + 5.0 * rng.normal(size=(7, 4, 9))).astype(np.float32)  # float32 members as stored
    obs = 280.0 + 5.0 * rng.normal(size=(4, 9))
    fc[2, 1, 1] = np.nan  # a missing member value: NaN at that point in both
    for fair, reference in ((True, fair_crps), (False, ecdf_crps)):
        got = crps_torch(fc, obs, member_axis=0, fair=fair, device="cpu")
        assert got.dtype == np.float64 and got.shape == obs.shape
        ok = ~np.isnan(reference(fc, obs, member_axis=0))
        assert np.isnan(got[1, 1]) and ok.sum() == obs.size - 1
        np.testing.assert_allclose(got[ok], reference(fc, obs, member_axis=0)[ok], rtol=1e-10, atol=0)
        np.testing.assert_allclose(got[ok], _pairwise_crps(fc, obs, fair)[ok], rtol=1e-10, atol=0)
    moved = crps_torch(np.moveaxis(fc, 0, -1), obs, member_axis=-1, device="cpu")
    np.testing.assert_allclose(moved, crps_torch(fc, obs, device="cpu"), rtol=1e-14)
    with pytest.raises(ValueError, match="at least 2 members"):
        crps_torch(fc[:1], obs, device="cpu")


def test_fair_and_ecdf_pair_from_one_sort_equals_the_single_scores():
    rng = np.random.default_rng(5)
    fc, obs = rng.normal(size=(6, 3, 8)).astype(np.float32), rng.normal(size=(3, 8))
    fair, ecdf = crps_pair_torch(fc, obs, member_axis=0, device="cpu")
    np.testing.assert_allclose(fair, _pairwise_crps(fc, obs, True), rtol=1e-10, atol=0)
    np.testing.assert_allclose(ecdf, _pairwise_crps(fc, obs, False), rtol=1e-10, atol=0)
    np.testing.assert_array_equal(fair, crps_torch(fc, obs, fair=True, device="cpu"))
    np.testing.assert_array_equal(ecdf, crps_torch(fc, obs, fair=False, device="cpu"))
    with pytest.raises(ValueError, match="at least 2 members"):
        crps_pair_torch(fc[:1], obs)


def test_the_device_reaches_the_ensemble_size_crps(monkeypatch):
    """diagnose.device → ensemble_size_options → the sub-ensembles' CRPS pair (recorded, then run on the CPU)."""
    import hens.diagnostics.metrics.crps_torch as crps_module
    from hens.config.diagnose import EnsembleSizeSpec
    from hens.diagnostics.aggregate.subsample import subsample_block_statistics
    from hens.diagnostics.ensemble_size import ensemble_size_options

    seen: list[str] = []
    pair_cpu = crps_module.crps_pair_torch

    def pair_recorded(*args, device, **kwargs):
        seen.append(device)
        return pair_cpu(*args, device="cpu", **kwargs)

    monkeypatch.setattr(crps_module, "crps_pair_torch", pair_recorded)
    options = ensemble_size_options(EnsembleSizeSpec(enabled=True, sizes=(2,), draws=2), 4, "cuda")
    rng = np.random.default_rng(2)
    fc, obs = rng.normal(size=(4, 1, 3, 5)), rng.normal(size=(1, 3, 5))
    stats = subsample_block_statistics(fc, obs, np.array([30.0, 0.0, -30.0]), np.ones((1, 3, 5), bool), options)
    w = np.cos(np.radians([30.0, 0.0, -30.0]))[:, None] * np.ones((3, 5))
    np.testing.assert_allclose(stats["crps"][0, 0, -1, 0], np.sum(w * fair_crps(fc[:, 0], obs[0])), rtol=1e-12)
    np.testing.assert_allclose(stats["ecdf_crps"][0, 0, -1, 0], np.sum(w * ecdf_crps(fc[:, 0], obs[0])), rtol=1e-12)
    assert seen and set(seen) == {"cuda"}


def test_spectrum_on_cpu_device_equals_a_brute_force_projection():
    """A float64 projection on scipy's Y_lm with Gauss–Legendre quadrature (computed here) vs the transform with
    ``device="cpu"``."""
    nlat, nlon = 12, 24
    x, w = np.polynomial.legendre.leggauss(nlat)
    theta, w = np.arccos(x[::-1]), w[::-1]
    phi = 2.0 * np.pi * np.arange(nlon) / nlon
    field = np.random.default_rng(1).normal(size=(2, nlat, nlon))
    lmax = default_lmax(nlat, nlon, grid="legendre-gauss")
    th, ph = np.meshgrid(theta, phi, indexing="ij")
    expected = np.zeros((2, lmax))
    for l in range(lmax):
        for m in range(-l, l + 1):
            c = np.einsum("bjk,jk,j->b", field, np.conj(sph_harm_y(l, m, th, ph)), w) * (2.0 * np.pi / nlon)
            expected[:, l] += np.abs(c) ** 2
    got = angular_power_spectrum(field, 90.0 - np.degrees(theta), grid="legendre-gauss", device="cpu")
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-13)


def test_cuda_without_a_gpu_is_one_line_naming_the_fix(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert kernel_device("cpu") == "cpu"
    with pytest.raises(
        HensError, match="diagnose.device=cuda but torch sees no CUDA GPU.*set diagnose.device=cpu"
    ) as e:
        kernel_device("cuda")
    assert "\n" not in str(e.value)
    with pytest.raises(HensError, match="diagnose.device='tpu'"):
        kernel_device("tpu")


def test_the_device_reaches_the_crps_and_spectral_kernels(monkeypatch):
    """BlockOptions.device → the CRPS statistic; spectra_lazy(device=…) → the transform (recorded, then run on
    the CPU so the values stay checkable)."""
    import hens.diagnostics.metrics.crps_torch as crps_module
    import hens.diagnostics.metrics.spectra as spectra_module

    seen: list[tuple[str, str]] = []
    crps_cpu, spectrum_cpu = crps_module.crps_torch, spectra_module.angular_power_spectrum

    def crps_recorded(*args, device, **kwargs):
        seen.append(("crps", device))
        return crps_cpu(*args, device="cpu", **kwargs)

    def spectrum_recorded(*args, device, **kwargs):
        seen.append(("spectrum", device))
        return spectrum_cpu(*args, device="cpu", **kwargs)

    monkeypatch.setattr(crps_module, "crps_torch", crps_recorded)
    monkeypatch.setattr(spectra_module, "angular_power_spectrum", spectrum_recorded)
    rng = np.random.default_rng(0)
    fc, obs = rng.normal(size=(4, 1, 3, 5)), rng.normal(size=(1, 3, 5))
    options = BlockOptions(4, (-1.0, 0.0, 1.0), 5, (0.0, 0.5, 1.0), device="cuda")
    stats = block_statistics(fc, obs, None, np.array([30.0, 0.0, -30.0]), np.ones((1, 3, 5), bool), options)
    w = np.cos(np.radians([30.0, 0.0, -30.0]))[:, None] * np.ones((3, 5))
    np.testing.assert_allclose(stats["crps"][0, 0], np.sum(w * fair_crps(fc[:, 0], obs[0])), rtol=1e-12)
    lat = grid_latitudes(9)
    coords = {"lat": lat, "lon": np.arange(16) * 22.5}
    forecast = xr.DataArray(rng.normal(size=(1, 3, 1, 9, 16)), dims=("init_time", "member", "lead_time", "lat", "lon"),
                            coords=coords)  # fmt: skip
    spectra_lazy(forecast, forecast.isel(member=0), device="cuda").compute(scheduler="synchronous")
    assert ("crps", "cuda") in seen and ("spectrum", "cuda") in seen
    assert {d for _, d in seen} == {"cuda"}
