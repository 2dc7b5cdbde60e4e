"""Orthonormal associated Legendre functions on a latitude grid, built and applied in blocks of orders m.

The forward real spherical-harmonic transform of a field f(θ_j, φ_k) on ``nlat × nlon`` points is

.. math::
    c_{lm} = \\sum_j w_j\\, \\bar P_l^m(\\cos\\theta_j)\\; 2\\pi\\, \\hat f_m(\\theta_j),
    \\qquad \\hat f_m(\\theta_j) = \\frac{1}{n_\\text{lon}} \\sum_k f(\\theta_j, \\varphi_k)\\, e^{-i m \\varphi_k},

with quadrature weights :math:`w_j` of the grid (summing to 2) and :math:`\\bar P_l^m` normalised so that
:math:`Y_l^m = \\bar P_l^m(\\cos\\theta) e^{im\\varphi}` is orthonormal on the unit sphere (Condon–Shortley phase
included): the same coefficients as ``torch_harmonics.RealSHT(norm="ortho")``.

Why not torch-harmonics' table: it stores the dense ``[mmax, lmax, nlat]`` array (zeros for l < m included) and
its build peaks at several times that size — ≈ 2.2 GB above the process at 721×1440 — a fixed cost larger than a
whole statistics block under ``diagnose.memory_gb``.  Here the table keeps only l ≥ m (triangular, in blocks of
``block`` orders: ≈ 0.38 GB in float64 at 721×1440 with lmax = 361) and each block is built by the three-term
recurrence on its own, so the build peaks at the table plus one block.

References: Holmes, S. A. & Featherstone, W. E. (2002), *J. Geodesy* 76, 279–299 (the recurrence, stable in float64
for the degrees here); Schaeffer, N. (2013), *G3* 14, 751–758 (blocked Legendre transforms).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["LegendreTable", "build_legendre_table", "degree_power"]


@dataclass(frozen=True)
class LegendreTable:
    """Quadrature-weighted orthonormal Legendre functions, in blocks of orders.

    Attributes:
        lmax: degrees 0 … lmax−1 (and orders 0 … lmax−1).
        nlat: latitude rows, north to south (colatitude increasing).
        starts: first order of each block, ascending; block ``b`` covers orders ``starts[b] … starts[b+1]−1``.
        blocks: per block a float64 tensor ``[n_orders, nlat, lmax − starts[b]]``: entry ``[i, j, k]`` is
            :math:`2\\pi\\, w_j \\bar P_l^m(\\cos\\theta_j)` for ``m = starts[b] + i``, ``l = starts[b] + k`` (zero
            where l < m), ready for a batched matrix product with the Fourier coefficients.
    """

    lmax: int
    nlat: int
    starts: tuple[int, ...]
    blocks: tuple[torch.Tensor, ...]

    @property
    def nbytes(self) -> int:
        """Bytes held by the table."""
        return sum(b.numel() * b.element_size() for b in self.blocks)


def _diagonal(orders: np.ndarray, sin_theta: np.ndarray) -> np.ndarray:
    """:math:`\\bar P_m^m(\\cos\\theta)` ``[n_orders, nlat]`` float64, from its closed form in log space.

    :math:`\\bar P_m^m = (-1)^m \\sqrt{\\tfrac{1}{4\\pi}\\prod_{k=1}^{m} \\tfrac{2k+1}{2k}}\\; \\sin^m\\theta`; the
    logarithm keeps high orders near the poles from overflowing the product before the power underflows
    (values below float64's range are zero, as the function is there).
    """
    k = np.arange(1, int(orders.max()) + 1, dtype=np.float64)
    log_norm = np.concatenate([[0.0], np.cumsum(0.5 * np.log((2.0 * k + 1.0) / (2.0 * k)))])
    m = orders.astype(np.float64)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_sin = np.log(sin_theta)[None, :]
        log_power = np.where(m == 0, 0.0, m * log_sin)
    values = np.exp(log_norm[orders][:, None] + log_power - 0.5 * math.log(4.0 * math.pi))
    return np.where(orders[:, None] % 2 == 1, -values, values)


def _block(first: int, last: int, lmax: int, cos_theta: np.ndarray, sin_theta: np.ndarray) -> np.ndarray:
    """:math:`\\bar P_l^m(\\cos\\theta_j)` for m = first … last−1, l = first … lmax−1: ``[n_orders, lmax−first, nlat]``.

    Three-term recurrence in l for every order of the block at once (Holmes & Featherstone 2002, eq. 11–12):
    :math:`\\bar P_l^m = a_{lm}(x \\bar P_{l-1}^m - b_{lm} \\bar P_{l-2}^m)`,
    :math:`a_{lm} = \\sqrt{(4l^2-1)/(l^2-m^2)}`, :math:`b_{lm} = \\sqrt{((l-1)^2-m^2)/(4(l-1)^2-1)}`.
    """
    orders = np.arange(first, last)
    out = np.zeros((orders.size, lmax - first, cos_theta.size))
    prev2 = np.zeros((orders.size, cos_theta.size))
    prev1 = _diagonal(orders, sin_theta)  # l = m
    m = orders.astype(np.float64)[:, None]
    for n in range(0, lmax - first):  # l = m + n for each order, kept where m ≤ l < lmax
        if n > 0:
            l = m + n
            a = np.sqrt((4.0 * l * l - 1.0) / (l * l - m * m))
            b = np.sqrt(np.maximum((l - 1.0) ** 2 - m * m, 0.0) / (4.0 * (l - 1.0) ** 2 - 1.0))
            prev2, prev1 = prev1, a * (cos_theta[None, :] * prev1 - b * prev2)
        degree = orders + n
        keep = degree < lmax
        out[np.nonzero(keep)[0], degree[keep] - first, :] = prev1[keep]
    return out


def build_legendre_table(
    colatitude: np.ndarray, quadrature_weights: np.ndarray, lmax: int, *, block: int = 16, device: str = "cpu"
) -> LegendreTable:
    """The weighted Legendre table of a grid (see :class:`LegendreTable`), built block by block in float64.

    Args:
        colatitude: radians, ``(nlat,)``, north to south.
        quadrature_weights: ``(nlat,)``, the grid's weights for :math:`\\int_{-1}^{1} g(x)\\,dx` (sum 2).
        lmax: number of degrees and orders.
        block: orders per block (bounds the build's working memory: ``block × lmax × nlat × 8`` bytes).
        device: torch device the blocks live on.
    """
    theta = np.asarray(colatitude, dtype=np.float64)
    weights = 2.0 * math.pi * np.asarray(quadrature_weights, dtype=np.float64)
    cos_theta, sin_theta = np.cos(theta), np.abs(np.sin(theta))
    starts = tuple(range(0, lmax, max(1, int(block))))
    blocks = []
    for first in starts:
        last = min(first + block, lmax)
        values = _block(first, last, lmax, cos_theta, sin_theta) * weights[None, None, :]  # [o, l, j]
        blocks.append(torch.from_numpy(np.ascontiguousarray(values.transpose(0, 2, 1))).to(device))  # [o, j, l]
    return LegendreTable(lmax=lmax, nlat=theta.size, starts=starts, blocks=tuple(blocks))


def degree_power(fields: torch.Tensor, table: LegendreTable) -> torch.Tensor:
    """Power per degree :math:`P(l) = |c_{l0}|^2 + 2\\sum_{m\\ge1} |c_{lm}|^2` of real fields, float64.

    Args:
        fields: ``[batch, nlat, nlon]`` on the table's device, north to south; ``nlon ≥ 2 · (lmax − 1) + 1``.
        table: from :func:`build_legendre_table` for the fields' latitudes.

    Returns:
        ``[batch, lmax]`` float64 tensor on the fields' device.
    """
    batch = fields.shape[0]
    spectrum = torch.fft.rfft(fields.to(torch.float64), dim=-1, norm="forward")  # [b, j, m]
    power = torch.zeros((batch, table.lmax), dtype=torch.float64, device=fields.device)
    for first, values in zip(table.starts, table.blocks, strict=True):
        n_orders = values.shape[0]
        coeffs = spectrum[:, :, first : first + n_orders].permute(2, 0, 1)  # [o, b, j] complex
        stacked = torch.cat([coeffs.real, coeffs.imag], dim=1)  # [o, 2b, j]
        c = torch.bmm(stacked, values)  # [o, 2b, l − first]
        per_order = c[:, :batch] ** 2 + c[:, batch:] ** 2  # [o, b, l − first]
        factor = torch.full((n_orders, 1, 1), 2.0, dtype=torch.float64, device=fields.device)
        if first == 0:
            factor[0] = 1.0
        power[:, first:] += (per_order * factor).sum(dim=0)
    return power
