"""Spatially correlated Gaussian random fields on the sphere (the seed noise of the bred vectors).

A real, isotropic Gaussian random field on the sphere of radius R is written in spherical harmonics

    f(θ, φ) = Σ_{l=0}^{L} Σ_{m=-l}^{l} a_lm Y_lm(θ, φ),      E[a_lm a*_l'm'] = C_l δ_ll' δ_mm',

with orthonormal Y_lm (∫ |Y_lm|² dΩ = 1 over the unit sphere).  By the addition theorem
Σ_m |Y_lm(θ, φ)|² = (2l + 1) / (4π) at every point, so the pointwise variance is the same everywhere:

    Var f = Σ_l (2l + 1) C_l / (4π).

We use a Gaussian-shaped angular power spectrum (the spectrum of the heat kernel on the sphere)

    C_l = A · exp(−l (l + 1) ℓ² / (2 R²)),       A = 4π / Σ_{l=0}^{L} (2l + 1) exp(−l (l + 1) ℓ² / (2 R²)),

where ℓ is the correlation length (km).  A makes Var f = 1 exactly (σ = 1).  The correlation between two
points at great-circle distance d is ρ(d) = Σ_l (2l + 1) C_l P_l(cos(d / R)) / (4π); for an untruncated
spectrum and ℓ ≪ R it is ≈ exp(−d² / (2 ℓ²)), i.e. ℓ is the standard deviation of a Gaussian correlation.

Truncation.  The spectrum stops at the smaller of
  * the grid's resolvable degree: torch-harmonics' default triangular truncation for an equiangular grid,
    l ≤ (nlat + 1) // 2 − 1, and l ≤ nlon // 2 − 1 (no Nyquist wavenumber in longitude), so the noise is a
    smooth field that a forward SHT on the same grid recovers exactly; and
  * the degree where the spectrum is negligible, l (l + 1) ℓ² / (2 R²) ≤ 40 (C_l / C_0 ≥ e⁻⁴⁰).
On coarse grids (5.625°, ≈ 625 km spacing, l ≤ 16) a 500 km length scale is sub-grid: the field is then
limited by the grid (correlation length of the order of the grid's smallest resolved half-wavelength) but
keeps unit variance exactly, because A is computed over the degrees that are kept.

Synthesis uses ``torch_harmonics.InverseRealSHT(nlat, nlon, grid="equiangular", norm="ortho")``.  Its
convention (checked in the tests): input coefficients c_lm for m ≥ 0 only, output
Σ_l [Re c_l0 P̄_l0 + 2 Σ_{m>0} Re(c_lm e^{imφ}) P̄_lm], with Y_lm = P̄_lm e^{imφ} orthonormal, i.e. c_lm = a_lm
of the real field.  Hence a_l0 = √C_l z₁ and a_lm = √(C_l / 2) (z₁ + i z₂) for m > 0, with z standard normal.

Random draws.  For each field, one call ``torch.randn(2, L + 1, L + 1, generator=g, dtype=float64)`` (real
and imaginary parts on the full [l, m] rectangle; entries with m > l and the imaginary part of m = 0 are
drawn and discarded).  Fields are drawn one after another, so a batch of n fields equals n consecutive
single-field calls with the same generator, and field k depends only on the k-th draw.
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import torch
import torch_harmonics

from hens.constants import EARTH_RADIUS_KM

__all__ = [
    "check_equiangular_latitudes",
    "correlated_noise",
    "gaussian_angular_spectrum",
    "noise_correlation",
    "noise_max_degree",
]

_NEGLIGIBLE_EXPONENT = 40.0  # C_l / C_0 = exp(-40) ≈ 4e-18: below float64 resolution of the variance sum


def check_equiangular_latitudes(lat_deg: np.ndarray | torch.Tensor, *, atol_deg: float = 1e-4) -> np.ndarray:
    """Return ``lat_deg`` as float64 numpy after checking it is the equiangular grid 90°N → 90°S with poles.

    The grid is lat_i = 90 − 180 i / (nlat − 1), i = 0 … nlat − 1 (degrees), the grid torch-harmonics calls
    ``"equiangular"``.  Raises ``ValueError`` otherwise.
    """
    if isinstance(lat_deg, torch.Tensor):
        lat_deg = lat_deg.detach().cpu().numpy()
    lat = np.asarray(lat_deg, dtype=np.float64)
    if lat.ndim != 1 or lat.size < 3:
        raise ValueError(f"lat_deg must be 1-D with at least 3 points, got shape {lat.shape}")
    expected = np.linspace(90.0, -90.0, lat.size)
    if not np.allclose(lat, expected, rtol=0.0, atol=atol_deg):
        raise ValueError(
            f"lat_deg must be the equiangular grid 90 → -90 with {lat.size} points including the poles "
            f"(got {lat[0]:.4f} … {lat[-1]:.4f}); flip or regrid the input"
        )
    return lat


def noise_max_degree(
    nlat: int,
    n_lon: int,
    *,
    length_scale_km: float = 500.0,
    radius_km: float = EARTH_RADIUS_KM,
) -> int:
    """Highest spherical-harmonic degree L (inclusive) of the seed noise on an nlat × n_lon equiangular grid.

    L = min((nlat + 1) // 2 − 1, n_lon // 2 − 1, max{l : l (l + 1) ℓ² / (2 R²) ≤ 40}); see the module
    docstring.
    """
    if nlat < 3 or n_lon < 4:
        raise ValueError(f"grid too small for spherical harmonics: nlat={nlat}, n_lon={n_lon}")
    if not (length_scale_km > 0 and radius_km > 0):
        raise ValueError(f"length_scale_km and radius_km must be > 0, got {length_scale_km}, {radius_km}")
    grid_max = min((nlat + 1) // 2 - 1, n_lon // 2 - 1)
    a = length_scale_km**2 / (2.0 * radius_km**2)
    # largest l with l(l+1) a <= threshold:  l = floor((-1 + sqrt(1 + 4 t / a)) / 2)
    spectral_max = int(math.floor((-1.0 + math.sqrt(1.0 + 4.0 * _NEGLIGIBLE_EXPONENT / a)) / 2.0))
    return max(0, min(grid_max, spectral_max))


def gaussian_angular_spectrum(
    max_degree: int,
    *,
    length_scale_km: float = 500.0,
    radius_km: float = EARTH_RADIUS_KM,
) -> torch.Tensor:
    """Angular power spectrum C_l, l = 0 … max_degree, of the unit-variance seed noise.

    C_l = A exp(−l (l + 1) ℓ² / (2 R²)) with A chosen so that Σ_l (2l + 1) C_l / (4π) = 1 exactly.
    Returns a float64 tensor of shape [max_degree + 1] (dimensionless, for a field with σ = 1).
    """
    if max_degree < 0:
        raise ValueError(f"max_degree must be >= 0, got {max_degree}")
    l = torch.arange(max_degree + 1, dtype=torch.float64)
    shape = torch.exp(-l * (l + 1.0) * (length_scale_km**2 / (2.0 * radius_km**2)))
    return shape * (4.0 * math.pi / torch.sum((2.0 * l + 1.0) * shape))


def noise_correlation(
    distance_km: np.ndarray | torch.Tensor,
    max_degree: int,
    *,
    length_scale_km: float = 500.0,
    radius_km: float = EARTH_RADIUS_KM,
) -> torch.Tensor:
    """Exact correlation ρ(d) of the seed noise between two points at great-circle distance d (km).

    ρ(d) = Σ_{l=0}^{L} (2l + 1) C_l P_l(cos(d / R)) / (4π) with C_l from :func:`gaussian_angular_spectrum`
    (so ρ(0) = 1).  Legendre polynomials by the three-term recurrence.
    Returns float64, shape of ``distance_km``.
    """
    d = torch.as_tensor(distance_km, dtype=torch.float64)
    x = torch.cos(d / radius_km)
    spec = gaussian_angular_spectrum(max_degree, length_scale_km=length_scale_km, radius_km=radius_km)
    p_prev, p = torch.ones_like(x), x
    total = spec[0] * p_prev
    if max_degree >= 1:
        total = total + 3.0 * spec[1] * p
    for l in range(1, max_degree):
        p_prev, p = p, ((2 * l + 1) * x * p - l * p_prev) / (l + 1)  # P_{l+1}
        total = total + (2 * (l + 1) + 1) * spec[l + 1] * p
    return total / (4.0 * math.pi)


@functools.lru_cache(maxsize=8)
def _inverse_sht(nlat: int, n_lon: int, max_degree: int, device: str) -> torch.nn.Module:
    """Cached ``InverseRealSHT`` with lmax = mmax = max_degree + 1 (torch-harmonics' exclusive bounds)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        isht = torch_harmonics.InverseRealSHT(
            nlat, n_lon, lmax=max_degree + 1, mmax=max_degree + 1, grid="equiangular", norm="ortho"
        )
    return isht.to(device)


def correlated_noise(
    n_fields: int,
    lat_deg: np.ndarray,
    n_lon: int,
    *,
    length_scale_km: float = 500.0,
    generator: torch.Generator,
    radius_km: float = EARTH_RADIUS_KM,
    dtype: torch.dtype = torch.float64,
    max_degree: int | None = None,
) -> torch.Tensor:
    """Draw ``n_fields`` independent unit-variance, spatially correlated Gaussian fields on the sphere.

    Args:
        n_fields: number of fields n (≥ 0).
        lat_deg: [nlat] latitudes in degrees of the equiangular grid, 90 → −90 including both poles.
        n_lon: number of longitudes, λ_j = 360 j / n_lon degrees, j = 0 … n_lon − 1.
        length_scale_km: correlation length ℓ (km): ρ(d) ≈ exp(−d² / (2ℓ²)) where the grid resolves it.
        generator: source of randomness; fields are drawn one after another from it (see module docstring),
            on ``generator.device`` (use a CPU generator for results independent of the accelerator).
        radius_km: sphere radius R (km).
        dtype: dtype of the result; draws and synthesis are always float64, the cast is last.
        max_degree: override the truncation degree L (inclusive); default :func:`noise_max_degree`.

    Returns:
        Tensor [n_fields, nlat, n_lon] on ``generator.device``: E f = 0 and E f² = 1 at every grid point
        (dimensionless; multiply by an amplitude for physical units).
    """
    lat = check_equiangular_latitudes(lat_deg)
    nlat = lat.size
    if n_fields < 0:
        raise ValueError(f"n_fields must be >= 0, got {n_fields}")
    if max_degree is None:
        max_degree = noise_max_degree(nlat, n_lon, length_scale_km=length_scale_km, radius_km=radius_km)
    elif not 0 <= max_degree <= n_lon // 2 - 1:
        raise ValueError(f"max_degree must be in [0, n_lon // 2 - 1 = {n_lon // 2 - 1}], got {max_degree}")
    device = generator.device
    size = max_degree + 1
    spec = gaussian_angular_spectrum(max_degree, length_scale_km=length_scale_km, radius_km=radius_km)
    spec = spec.to(device)
    # amplitude per (l, m): sqrt(C_l) for m = 0, sqrt(C_l / 2) for 0 < m <= l, 0 for m > l
    l_idx = torch.arange(size, device=device)[:, None]
    m_idx = torch.arange(size, device=device)[None, :]
    amp = torch.sqrt(spec)[:, None] * torch.where(m_idx == 0, 1.0, math.sqrt(0.5)).to(torch.float64)
    amp = torch.where(m_idx <= l_idx, amp, torch.zeros((), dtype=torch.float64, device=device))
    imag_mask = (m_idx > 0).to(torch.float64)

    draws = [
        torch.randn(2, size, size, generator=generator, dtype=torch.float64, device=device) for _ in range(n_fields)
    ]  # all draws first, in field order: the generator ends in the same state however the work is split
    if not draws:
        return torch.zeros(0, nlat, n_lon, dtype=dtype, device=device)
    isht = _inverse_sht(nlat, n_lon, max_degree, str(device))
    # one synthesis per field: batched kernels may round differently, and field k must not depend on n
    fields = [isht(torch.complex(amp * z[0], amp * imag_mask * z[1])[None])[0] for z in draws]
    return torch.stack(fields).to(dtype)
