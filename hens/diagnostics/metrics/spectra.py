"""Angular power spectra on the sphere from the real spherical-harmonic transform.

NumPy in, NumPy out; fields are ``[..., nlat, nlon]`` with the whole globe in one chunk (the transform
needs every grid point of a field), batched over the leading axes.  The transform runs on the CPU or a CUDA GPU
(``device``, from ``diagnose.device``), always in float64; its Legendre table
(:mod:`hens.diagnostics.metrics.legendre`: the coefficients of ``torch_harmonics.RealSHT(norm="ortho")`` on
torch-harmonics' grids, kept triangular and built block by block) is built once per process and device.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence

import numpy as np
import torch
from torch_harmonics.quadrature import precompute_latitudes

from hens.constants import EARTH_RADIUS_KM
from hens.diagnostics.metrics.legendre import LegendreTable, build_legendre_table, degree_power

__all__ = ["angular_power_spectrum", "default_lmax", "grid_latitudes", "wavelength_km"]

GRIDS = ("equiangular", "legendre-gauss", "lobatto")


def grid_latitudes(nlat: int, *, grid: str = "equiangular") -> np.ndarray:
    """Latitudes (degrees, north to south) of torch-harmonics' grid with ``nlat`` rows.

    ``"equiangular"`` includes both poles (e.g. 721 rows for 0.25°); ``"legendre-gauss"`` has the
    Gaussian latitudes; ``"lobatto"`` the Gauss–Lobatto ones (poles included).
    """
    if grid not in GRIDS:
        raise ValueError(f"grid must be one of {GRIDS}, got {grid!r}")
    colat, _ = precompute_latitudes(nlat, grid=grid)
    return 90.0 - np.degrees(np.asarray(colat, dtype=np.float64))


def default_lmax(nlat: int, nlon: int, *, grid: str = "equiangular") -> int:
    """Number of degrees (0 … lmax−1) resolved by default: the largest whose squared harmonics the
    grid's quadrature integrates exactly, capped below the longitudinal Nyquist order.

    ``(nlat + 1) // 2`` for equiangular, ``nlat`` for Legendre–Gauss, ``nlat − 1`` for Lobatto, and at
    most ``nlon // 2`` (the Nyquist order ``nlon/2`` is excluded because its sine part is invisible on
    the grid, so the doubling of m > 0 would be wrong there).
    """
    if grid == "equiangular":
        lmax = (nlat + 1) // 2
    elif grid == "legendre-gauss":
        lmax = nlat
    elif grid == "lobatto":
        lmax = nlat - 1
    else:
        raise ValueError(f"grid must be one of {GRIDS}, got {grid!r}")
    return min(lmax, nlon // 2)


_TABLE_LOCK = threading.Lock()


@functools.lru_cache(maxsize=4)
def _table_cached(nlat: int, lmax: int, grid: str, device: str) -> LegendreTable:
    colat, weights = precompute_latitudes(nlat, grid=grid)
    return build_legendre_table(np.asarray(colat), np.asarray(weights), lmax, device=device)


def _table(nlat: int, lmax: int, grid: str, device: str = "cpu") -> LegendreTable:
    """The Legendre table of a grid, built once per process (by grid, lmax and device): ≈ 0.39 GB and 1.5 s at
    721×1440, so the tasks of a Dask worker share it; the lock keeps concurrent first tasks of a threaded worker
    from building it twice."""
    with _TABLE_LOCK:
        return _table_cached(nlat, lmax, grid, device)


def angular_power_spectrum(
    field: np.ndarray,
    lat_deg: np.ndarray | Sequence[float],
    *,
    grid: str = "equiangular",
    lmax: int | None = None,
    batch_size: int = 16,
    device: str = "cpu",
) -> np.ndarray:
    r"""Angular power spectrum :math:`P(l)` of real fields on the sphere.

    With orthonormal spherical harmonics (:math:`\int_{S^2} |Y_l^m|^2\,d\Omega = 1`) and coefficients
    :math:`c_{lm} = \int f\, \overline{Y_l^m}\, d\Omega`,

    .. math::
        P(l) = \sum_{m=-l}^{l} |c_{lm}|^2 = |c_{l0}|^2 + 2\sum_{m=1}^{l} |c_{lm}|^2 ,

    the doubling because a real field has :math:`c_{l,-m} = (-1)^m\,\overline{c_{lm}}` and the real
    transform returns only :math:`m \ge 0`. By Parseval's theorem, for a field band-limited below
    ``lmax``,

    .. math::
        \sum_l P(l) = \int_{S^2} f^2\, d\Omega = 4\pi\, \langle f^2\rangle_\text{area} ,

    so :math:`P(l)` has units of the field squared (times steradian) and sums to :math:`4\pi` times the
    area-mean square. The coefficients are those of ``torch_harmonics.RealSHT`` with ``norm="ortho"`` on the
    given grid (quadrature exact for band-limited fields; computed by :mod:`hens.diagnostics.metrics.legendre`,
    equal to torch-harmonics' to ≈ 1e-14 relative); power beyond ``lmax`` is not captured.

    Args:
        field: real array ``[..., nlat, nlon]``; longitudes equally spaced from any origin, latitudes in
            either order (south-to-north input is flipped; the spectrum does not depend on it).
        lat_deg: the field's latitudes, degrees, shape ``(nlat,)``; checked against the grid's nodes.
        grid: ``"equiangular"`` (poles included, e.g. 721×1440 ERA5), ``"legendre-gauss"`` or
            ``"lobatto"``.
        lmax: number of degrees returned (0 … lmax−1); default :func:`default_lmax`.
        batch_size: fields transformed at a time (bounds memory for large grids).
        device: torch device of the transform, ``cpu`` or ``cuda`` (``diagnose.device``); the result is the same
            NumPy array either way.

    Returns:
        array ``[..., lmax]``: float64 for float64 input, float32 for float32 input (the transform always runs
        in float64; integers are promoted to float64).

    Notes:
        The transform keeps a triangular float64 Legendre table of ``lmax² × nlat / 2`` values (≈ 0.39 GB for
        721×1440), built in blocks so that building it costs no more than the table; up to four tables
        (grids, lmax, devices) are cached per process.
    """
    f = np.asarray(field)
    if f.ndim < 2:
        raise ValueError(f"field must be [..., nlat, nlon], got shape {f.shape}")
    if not np.issubdtype(f.dtype, np.floating):
        f = f.astype(np.float64)
    if f.dtype not in (np.float32, np.float64):
        f = f.astype(np.float64)
    nlat, nlon = f.shape[-2:]
    lat = np.asarray(lat_deg, dtype=np.float64)
    if lat.shape != (nlat,):
        raise ValueError(f"lat_deg has shape {lat.shape}, expected ({nlat},) to match the field")
    expected = grid_latitudes(nlat, grid=grid)
    if np.allclose(lat, expected[::-1], atol=1e-3, rtol=0.0) and nlat > 1:
        f = f[..., ::-1, :]
    elif not np.allclose(lat, expected, atol=1e-3, rtol=0.0):
        raise ValueError(
            f"lat_deg does not match the {grid!r} grid with {nlat} latitudes "
            f"(expected {expected[0]:.4f} … {expected[-1]:.4f} in either order)"
        )
    n_l = default_lmax(nlat, nlon, grid=grid) if lmax is None else int(lmax)
    if not 1 <= n_l <= nlon // 2:
        raise ValueError(f"lmax must be in 1 … nlon//2 = {nlon // 2}, got {n_l}")
    table = _table(nlat, n_l, grid, device)

    lead = f.shape[:-2]
    flat = f.reshape((-1, nlat, nlon))
    out = np.empty((flat.shape[0], n_l), dtype=f.dtype)
    step = max(1, int(batch_size))
    with torch.no_grad():
        for start in range(0, flat.shape[0], step):
            x = torch.from_numpy(np.ascontiguousarray(flat[start : start + step])).to(device)
            out[start : start + step] = degree_power(x, table).cpu().numpy()
    return out.reshape(lead + (n_l,))


def wavelength_km(l: np.ndarray | int | Sequence[int], radius_km: float = EARTH_RADIUS_KM) -> np.ndarray:
    r"""Wavelength of total wavenumber ``l`` on a sphere of radius ``radius_km``.

    .. math::
        \lambda(l) = \frac{2\pi R}{l + 1}

    (The Jeans relation would use :math:`\sqrt{l(l+1)}`; with :math:`l + 1` the mean, l = 0, maps to
    the circumference 2πR ≈ 40 030 km instead of infinity.)

    Args:
        l: degree(s), non-negative.
        radius_km: sphere radius in km (Earth's mean radius by default).

    Returns:
        float64 array of wavelengths in km, the shape of ``l``.
    """
    deg = np.asarray(l, dtype=np.float64)
    if np.any(deg < 0):
        raise ValueError("degrees l must be non-negative")
    return 2.0 * np.pi * float(radius_km) / (deg + 1.0)
