"""Tests of hens.diagnostics.metrics.legendre: coefficients against torch-harmonics and SciPy, and the table's size."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch_harmonics as th
from scipy.special import sph_harm_y
from torch_harmonics.quadrature import precompute_latitudes

from hens.diagnostics.metrics.legendre import build_legendre_table, degree_power


def _table(nlat: int, lmax: int, grid: str, block: int):
    colat, weights = precompute_latitudes(nlat, grid=grid)
    return build_legendre_table(np.asarray(colat), np.asarray(weights), lmax, block=block)


@pytest.mark.parametrize(
    ("grid", "nlat", "nlon", "lmax", "block"),
    [
        ("equiangular", 33, 64, 17, 5),
        ("equiangular", 181, 360, 91, 16),
        ("legendre-gauss", 24, 48, 24, 7),
        ("lobatto", 20, 40, 19, 19),
        ("equiangular", 33, 64, 8, 3),
    ],
)
def test_power_equals_torch_harmonics_realsht(grid, nlat, nlon, lmax, block):
    """Same coefficients as torch_harmonics.RealSHT(norm="ortho") in float64, any block size, truncated or not."""
    fields = torch.randn(3, nlat, nlon, dtype=torch.float64, generator=torch.Generator().manual_seed(nlat))
    power = degree_power(fields, _table(nlat, lmax, grid, block))
    sht = th.RealSHT(nlat, nlon, lmax=lmax, mmax=lmax, grid=grid, norm="ortho", csphase=True).double()
    c = sht(fields)
    expected = c.real**2 + c.imag**2
    expected[..., 1:] *= 2.0
    expected = expected.sum(dim=-1)
    assert power.shape == (3, lmax) and power.dtype == torch.float64
    np.testing.assert_allclose(power.numpy(), expected.numpy(), rtol=1e-12, atol=1e-14 * float(expected.max()))


def test_table_entries_are_scipy_orthonormal_legendre_times_quadrature():
    """Entry [i, j, k] of block b is 2π w_j P̄_l^m(cos θ_j), Y_l^m = P̄_l^m e^{imφ} (SciPy's, CS phase); 0 for l < m."""
    nlat, lmax, block = 19, 10, 4
    colat, weights = precompute_latitudes(nlat, grid="equiangular")
    theta, w = np.asarray(colat), np.asarray(weights)
    table = _table(nlat, lmax, "equiangular", block)
    assert table.starts == (0, 4, 8)
    for first, values in zip(table.starts, table.blocks, strict=True):
        assert values.shape == (min(block, lmax - first), nlat, lmax - first)
        for i in range(values.shape[0]):
            m = first + i
            for k in range(lmax - first):
                l = first + k
                expected = 0.0 if l < m else 2 * np.pi * w * sph_harm_y(l, m, theta, 0.0).real
                np.testing.assert_allclose(values[i, :, k].numpy(), expected, rtol=1e-12, atol=1e-14)


def test_high_orders_near_the_poles_stay_finite_at_quarter_degree_sizes():
    """At 0.25° sizes sin^m θ underflows near the poles; the table must hold zeros there, never inf or NaN, and the
    power of a field must be finite and sum to Parseval's value for a band-limited field."""
    nlat, lmax = 721, 361
    table = _table(nlat, lmax, "equiangular", 16)
    assert all(bool(torch.isfinite(b).all()) for b in table.blocks)
    dense = lmax * lmax * nlat * 8  # bytes of torch-harmonics' dense float64 table
    assert table.nbytes < 0.53 * dense  # triangular in blocks of 16 orders: ≈ half, plus the blocks' corners
    lat = np.deg2rad(np.linspace(90, -90, nlat))[:, None]
    lon = np.deg2rad(np.arange(1440) * 0.25)[None, :]
    field = torch.from_numpy(np.cos(lat) ** 3 * np.cos(3 * lon) + np.sin(lat))[None]  # degrees ≤ 3
    power = degree_power(field, table)[0].numpy()
    area_mean_sq = 4 * np.pi * (1 / 3 + (16 / 35) / 2)  # ∫ f² dΩ: ∫ sin² = 4π/3, ∫ cos⁶ cos²(3λ) = 4π · (16/35) / 2
    np.testing.assert_allclose(power.sum(), area_mean_sq, rtol=1e-10)
    assert np.all(power[4:] < 1e-20 * power.sum())
