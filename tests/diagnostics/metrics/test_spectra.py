"""Tests of hens.diagnostics.metrics.spectra against float64 brute-force spherical-harmonic references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import sph_harm_y

from hens.diagnostics.metrics.spectra import angular_power_spectrum, default_lmax, grid_latitudes, wavelength_km


def _lat_nodes(nlat: int, grid: str) -> tuple[np.ndarray, np.ndarray]:
    """Colatitudes (north to south) and quadrature weights (summing to 2), computed here independently."""
    if grid == "legendre-gauss":
        x, w = np.polynomial.legendre.leggauss(nlat)
        x, w = x[::-1], w[::-1]
        return np.arccos(x), w
    if grid == "equiangular":  # Clenshaw–Curtis on θ_j = jπ/N, N = nlat − 1
        n = nlat - 1
        theta = np.pi * np.arange(nlat) / n
        w = np.empty(nlat)
        for j in range(nlat):
            s = 0.0
            for k in range(1, n // 2 + 1):
                b = 1.0 if 2 * k == n else 2.0
                s += b / (4.0 * k * k - 1.0) * np.cos(2.0 * k * theta[j])
            c = 1.0 if j in (0, n) else 2.0
            w[j] = c / n * (1.0 - s)
        return theta, w
    raise ValueError(grid)


def _synth(coeffs: dict[tuple[int, int], complex], theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Real field Σ_l [a_l0 Y_l0 + 2 Re Σ_{m>0} a_lm Y_lm] on the (theta, phi) grid, float64."""
    th, ph = np.meshgrid(theta, phi, indexing="ij")
    f = np.zeros(th.shape)
    for (l, m), a in coeffs.items():
        y = sph_harm_y(l, m, th, ph)
        f += (a * y).real if m == 0 else 2.0 * (a * y).real
    return f


def _random_coeffs(rng: np.random.Generator, lmax: int) -> dict[tuple[int, int], complex]:
    out = {}
    for l in range(lmax):
        for m in range(l + 1):
            a = rng.normal() + (1j * rng.normal() if m > 0 else 0.0)
            out[(l, m)] = a / (1.0 + l)
    return out


def _power(coeffs: dict[tuple[int, int], complex], lmax: int) -> np.ndarray:
    p = np.zeros(lmax)
    for (l, m), a in coeffs.items():
        p[l] += abs(a) ** 2 * (1.0 if m == 0 else 2.0)
    return p


@pytest.mark.parametrize(("grid", "nlat", "nlon"), [("equiangular", 33, 64), ("legendre-gauss", 24, 48)])
def test_parseval_and_per_degree_power_band_limited(grid, nlat, nlon):
    rng = np.random.default_rng(nlat)
    lmax = default_lmax(nlat, nlon, grid=grid)
    coeffs = _random_coeffs(rng, lmax)
    theta, _ = _lat_nodes(nlat, grid)
    phi = 2.0 * np.pi * np.arange(nlon) / nlon
    field = _synth(coeffs, theta, phi)
    lat = 90.0 - np.degrees(theta)
    np.testing.assert_allclose(lat, grid_latitudes(nlat, grid=grid), atol=1e-9)

    spec = angular_power_spectrum(field, lat, grid=grid)
    assert spec.shape == (lmax,) and spec.dtype == np.float64
    expected = _power(coeffs, lmax)
    np.testing.assert_allclose(spec, expected, rtol=1e-9, atol=1e-12)
    # Parseval: Σ_l P(l) = ∫ f² dΩ = 4π × area mean of f², the mean taken on an independent fine Gauss grid
    gx, gw = np.polynomial.legendre.leggauss(2 * lmax + 2)
    fine_phi = 2.0 * np.pi * np.arange(4 * lmax) / (4 * lmax)
    fine = _synth(coeffs, np.arccos(gx), fine_phi)
    area_mean_sq = np.sum(gw[:, None] * fine**2) / (2.0 * fine_phi.size)
    np.testing.assert_allclose(spec.sum(), 4.0 * np.pi * area_mean_sq, rtol=1e-10)


@pytest.mark.parametrize(("l", "m"), [(0, 0), (3, 0), (5, 2), (9, 9), (15, 7)])
def test_single_harmonic_has_all_power_at_its_degree(l, m):
    nlat, nlon = 33, 64
    theta, _ = _lat_nodes(nlat, "equiangular")
    phi = 2.0 * np.pi * np.arange(nlon) / nlon
    field = _synth({(l, m): 1.0}, theta, phi)
    spec = angular_power_spectrum(field, 90.0 - np.degrees(theta))
    expected = np.zeros_like(spec)
    expected[l] = 1.0 if m == 0 else 2.0
    np.testing.assert_allclose(spec, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("grid", "nlat", "nlon"), [("equiangular", 17, 32), ("legendre-gauss", 12, 24)])
def test_matches_bruteforce_projection_on_rough_field(grid, nlat, nlon):
    """Not band-limited: the spectrum is whatever the grid's quadrature projects, checked term by term."""
    rng = np.random.default_rng(1)
    theta, w = _lat_nodes(nlat, grid)
    phi = 2.0 * np.pi * np.arange(nlon) / nlon
    field = rng.normal(size=(2, nlat, nlon))
    lmax = default_lmax(nlat, nlon, grid=grid)
    th, ph = np.meshgrid(theta, phi, indexing="ij")
    dphi = 2.0 * np.pi / nlon
    expected = np.zeros((2, lmax))
    for l in range(lmax):
        for m in range(-l, l + 1):
            y = sph_harm_y(l, m, th, ph)
            c = np.einsum("bjk,jk,j->b", field, np.conj(y), w) * dphi
            expected[:, l] += np.abs(c) ** 2
    spec = angular_power_spectrum(field, 90.0 - np.degrees(theta), grid=grid)
    np.testing.assert_allclose(spec, expected, rtol=1e-9, atol=1e-12)


def test_batching_latitude_order_and_precision():
    rng = np.random.default_rng(4)
    nlat, nlon = 33, 64
    lat = grid_latitudes(nlat)
    field = rng.normal(size=(3, 2, nlat, nlon))
    spec = angular_power_spectrum(field, lat, batch_size=4)
    assert spec.shape == (3, 2, default_lmax(nlat, nlon))
    single = angular_power_spectrum(field[1, 1], lat)
    np.testing.assert_allclose(spec[1, 1], single, rtol=1e-12)
    flipped = angular_power_spectrum(field[..., ::-1, :], lat[::-1])
    np.testing.assert_allclose(flipped, spec, rtol=1e-10)
    f32 = angular_power_spectrum(field.astype(np.float32), lat)
    assert f32.dtype == np.float32
    np.testing.assert_allclose(f32, spec, rtol=2e-4, atol=1e-6 * spec.max())
    shorter = angular_power_spectrum(field, lat, lmax=8)
    np.testing.assert_allclose(shorter, spec[..., :8], rtol=1e-10)
    with pytest.raises(ValueError):
        angular_power_spectrum(field, np.linspace(80, -80, nlat))
    with pytest.raises(ValueError):
        angular_power_spectrum(field, lat, lmax=33)


def test_wavelength_km():
    r = 6371.0
    np.testing.assert_allclose(wavelength_km(0), 2 * np.pi * r)
    np.testing.assert_allclose(wavelength_km([1, 359]), [np.pi * r, 2 * np.pi * r / 360])
    np.testing.assert_allclose(wavelength_km(np.arange(3), radius_km=1.0), 2 * np.pi / np.arange(1, 4))
    with pytest.raises(ValueError):
        wavelength_km(-1)


def test_transform_tables_are_built_once_per_process_even_from_concurrent_threads():
    import threading

    from hens.diagnostics.metrics import spectra

    spectra._table_cached.cache_clear()
    lat = grid_latitudes(17)
    field = np.random.default_rng(0).normal(size=(3, 17, 32))
    barrier = threading.Barrier(4, timeout=10)

    def task():
        barrier.wait()
        angular_power_spectrum(field, lat)

    threads = [threading.Thread(target=task) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    angular_power_spectrum(field, lat)
    info = spectra._table_cached.cache_info()
    assert (info.misses, info.hits) == (1, 4)
