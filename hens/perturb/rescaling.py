"""Hemispheric rescaling of a bred perturbation: HENS's norm interpolation (default) and an area-RMS variant.

Each breeding cycle brings the grown perturbation δ of channel c back to the target amplitude T_c separately
in the two extratropics, with a transition across the tropics.  Two rules are implemented; both use the rows
poleward of ±b (b = 20.25°, rows at ±b included) as "extratropics" and cos φ as the area weight of a row.

``hens`` (the default; what the HENS authors' code does, see docs/perturbations.md):

    w̄ = (1 / n_lat) Σ_{all rows i} cos φ_i                          (mean weight over the *whole* globe)
    r_N² = (1 / (|N| n_lon)) Σ_{i ∈ N} Σ_j (cos φ_i / w̄) δ_ij²         (N: rows with φ ≥ b; S likewise, φ ≤ −b)
    r(φ) = r_N on N, r_S on S, linear in latitude across the tropical rows from r_N at the northernmost
           tropical row to r_S at the southernmost one (one tropical row: (r_N + r_S) / 2)
    δ' = δ · T / r(φ)

  Because the weights are normalised by their global mean, not by their mean over the extratropical rows,
  r_N is not the area-weighted RMS: for any δ, RMS_N(δ) = r_N(δ) · √(w̄ / w̄_N) with w̄_N the mean of cos φ over
  N (:func:`hens_norm_bias`).  After the HENS rescaling the true extratropical RMS is therefore
  T · √(w̄ / w̄_N) ≈ 1.0882 T on the 0.25° grid of 721 × 1440.  At the equator δ is divided by (r_N + r_S)/2.

``area_rms`` (hens' rule before HENS-exact defaults):

    r_N = √( Σ_{i ∈ N} cos φ_i mean_j δ_ij² / Σ_{i ∈ N} cos φ_i )    (the true area-weighted RMS; S likewise)
    g(φ) = T / r_N on N, T / r_S on S, linear in latitude between (the *gain* is interpolated)
    δ' = g(φ) δ,

  so the extratropical RMS after rescaling is exactly T, and at the equator the gain is (T/r_N + T/r_S) / 2.

A zero (or non-finite) norm means the channel carries no perturbation there (e.g. a constant channel): the
factor is 0 rather than T / 0 in both rules.

References:
    Mahesh, A. et al. (2024): Huge Ensembles Part I: Design of ensemble weather forecasts using spherical
        Fourier neural operators. arXiv:2408.03100 (Sect. 3, bred vectors), and the authors' earth2mip fork
        (branch HENS, ``earth2mip/ensemble_utils.py``: the hemispheric norm and its tropical interpolation).
    Toth, Z. and Kalnay, E. (1997): Ensemble forecasting at NCEP and the breeding method.
        Mon. Wea. Rev. 125, 3297–3319.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "BOUNDARY_DEG",
    "RESCALINGS",
    "hemispheric_rms",
    "hens_hemispheric_norm",
    "hens_norm_bias",
    "hens_norm_profile",
    "hens_rescaling_factor",
    "rescale",
    "rescaling_factor",
]

BOUNDARY_DEG = 20.25
"""Latitude (degrees) poleward of which the hemispheric norms are taken."""

RESCALINGS = ("hens", "area_rms")
"""Allowed values of ``ensemble.bred_vector.rescaling`` (the first is the default)."""

_LAT_TOL_DEG = 1e-6  # rows within this of ±boundary count as extratropical (float grids, e.g. 20.2499999)


def _lat_tensor(lat_deg: np.ndarray | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Latitudes as float64 on ``like``'s device (trigonometry in float64, cast by the caller)."""
    if isinstance(lat_deg, torch.Tensor):
        lat = lat_deg.detach().to(device=like.device, dtype=torch.float64)
    else:
        lat = torch.as_tensor(np.asarray(lat_deg, dtype=np.float64), device=like.device)
    if lat.ndim != 1:
        raise ValueError(f"lat_deg must be 1-D, got shape {tuple(lat.shape)}")
    return lat


def _hemisphere_masks(lat: torch.Tensor, boundary_deg: float) -> tuple[torch.Tensor, torch.Tensor]:
    north = lat >= boundary_deg - _LAT_TOL_DEG
    south = lat <= -boundary_deg + _LAT_TOL_DEG
    if not bool(north.any()) or not bool(south.any()):
        raise ValueError(f"no latitude row poleward of ±{boundary_deg}° in lat_deg; check grid and boundary")
    return north, south


def _check_delta(delta: torch.Tensor, lat: torch.Tensor) -> None:
    if delta.ndim < 3:
        raise ValueError(f"delta must be [..., C, nlat, nlon], got shape {tuple(delta.shape)}")
    if lat.numel() != delta.shape[-2]:
        raise ValueError(f"lat_deg has {lat.numel()} points but delta has {delta.shape[-2]} latitude rows")


def _weighted_rows(row_ms: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """√(Σ_{i ∈ mask} weights_i row_ms_i): only the selected rows enter (a non-finite tropical row does not)."""
    rows = torch.nonzero(mask).flatten()
    w = weights[rows].to(row_ms.dtype)
    return torch.sqrt((row_ms.index_select(-1, rows) * w).sum(dim=-1))


def hemispheric_rms(
    delta: torch.Tensor,
    lat_deg: np.ndarray | torch.Tensor,
    *,
    boundary_deg: float = BOUNDARY_DEG,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Area-weighted RMS of a perturbation over the northern and the southern extratropics.

        r_N = √( Σ_{i: φ_i ≥ b} Σ_j cos φ_i δ_ij² / (n_lon Σ_{i: φ_i ≥ b} cos φ_i) ),

    and r_S likewise over φ_i ≤ −b (b = ``boundary_deg``; the rows at ±b are included).  This is the norm of
    the ``area_rms`` rule and the yardstick the two rules are compared with.

    Args:
        delta: [..., C, nlat, nlon] perturbation (any units).
        lat_deg: [nlat] latitudes in degrees.
        boundary_deg: b, the equatorward edge of the extratropics (degrees).

    Returns:
        (r_N, r_S), each [..., C], in the units of ``delta`` and its dtype.
    """
    lat = _lat_tensor(lat_deg, delta)
    _check_delta(delta, lat)
    north, south = _hemisphere_masks(lat, boundary_deg)
    weights = torch.cos(torch.deg2rad(lat)).clamp_min(0.0)
    row_ms = (delta * delta).mean(dim=-1)  # [..., C, nlat]
    return (
        _weighted_rows(row_ms, north, weights / weights[north].sum()),
        _weighted_rows(row_ms, south, weights / weights[south].sum()),
    )


def hens_hemispheric_norm(
    delta: torch.Tensor,
    lat_deg: np.ndarray | torch.Tensor,
    *,
    boundary_deg: float = BOUNDARY_DEG,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The hemispheric norms of the HENS code (module docstring):

        r_N² = (1 / (|N| n_lon)) Σ_{i ∈ N} Σ_j (cos φ_i / w̄) δ_ij²,    w̄ = mean of cos φ over all n_lat rows,

    N = rows with φ ≥ b, and r_S likewise over φ ≤ −b.  Equals the area-weighted RMS times √(w̄_N / w̄)
    (:func:`hens_norm_bias`), i.e. it is smaller than the RMS by ≈ 8 % on the 0.25° grid.

    Args:
        delta: [..., C, nlat, nlon] perturbation (any units).
        lat_deg: [nlat] latitudes in degrees (all rows of the grid: w̄ is their mean weight).
        boundary_deg: b (degrees).

    Returns:
        (r_N, r_S), each [..., C], units and dtype of ``delta``.
    """
    lat = _lat_tensor(lat_deg, delta)
    _check_delta(delta, lat)
    north, south = _hemisphere_masks(lat, boundary_deg)
    weights = torch.cos(torch.deg2rad(lat)).clamp_min(0.0)
    weights = weights / weights.mean()  # normalised by the global mean, as in HENS
    row_ms = (delta * delta).mean(dim=-1)  # [..., C, nlat]
    return (
        _weighted_rows(row_ms, north, weights / int(north.sum())),
        _weighted_rows(row_ms, south, weights / int(south.sum())),
    )


def hens_norm_bias(lat_deg: np.ndarray, *, boundary_deg: float = BOUNDARY_DEG) -> tuple[float, float]:
    """RMS / HENS norm in each extratropic, a property of the grid alone (the same for every δ):

        RMS_N / r_N = √(w̄ / w̄_N),   w̄ = mean_{all rows} cos φ,   w̄_N = mean_{φ ≥ b} cos φ   (S likewise).

    After the HENS rescaling (r = T) the area-weighted extratropical RMS is T times this; after ``area_rms``
    it is T.  So it is also the ratio of the extratropical RMS of the two rules' bred vectors.

    Args:
        lat_deg: [nlat] latitudes in degrees.
        boundary_deg: b (degrees).

    Returns:
        (north, south) dimensionless ratios (≈ 1.0882 for 721 × 1440 and b = 20.25°).
    """
    lat = np.asarray(lat_deg, dtype=np.float64)
    w = np.clip(np.cos(np.deg2rad(lat)), 0.0, None)
    north = lat >= boundary_deg - _LAT_TOL_DEG
    south = lat <= -boundary_deg + _LAT_TOL_DEG
    if not north.any() or not south.any():
        raise ValueError(f"no latitude row poleward of ±{boundary_deg}° in lat_deg; check grid and boundary")
    return float(np.sqrt(w.mean() / w[north].mean())), float(np.sqrt(w.mean() / w[south].mean()))


def hens_norm_profile(
    rms_north: torch.Tensor,
    rms_south: torch.Tensor,
    lat_deg: np.ndarray | torch.Tensor,
    *,
    boundary_deg: float = BOUNDARY_DEG,
) -> torch.Tensor:
    """The latitude profile of the HENS norm, r(φ):

        r(φ) = r_N                                         for φ ≥ b,
        r(φ) = r_S + (r_N − r_S) (φ − φ_s) / (φ_n − φ_s)    for the tropical rows −b < φ < b,
        r(φ) = r_S                                         for φ ≤ −b,

    with φ_n, φ_s the latitudes of the northernmost and southernmost tropical rows (on an equiangular grid
    this is HENS's ``linspace(r_N, r_S, n_tropical_rows)``: r_N at φ_n, r_S at φ_s, (r_N + r_S)/2 at the
    equator).  A single tropical row gets (r_N + r_S)/2.

    Args:
        rms_north, rms_south: [..., C] norms from :func:`hens_hemispheric_norm`.
        lat_deg: [nlat] latitudes in degrees.
        boundary_deg: b (degrees).

    Returns:
        [..., C, nlat], units, dtype and device of ``rms_north``.
    """
    lat = _lat_tensor(lat_deg, rms_north)
    north, south = _hemisphere_masks(lat, boundary_deg)
    tropics = ~(north | south)
    weight_north = torch.where(north, 1.0, 0.0).to(torch.float64)
    if int(tropics.sum()) == 1:
        weight_north = torch.where(tropics, 0.5, weight_north)
    elif bool(tropics.any()):
        phi_n, phi_s = lat[tropics].max(), lat[tropics].min()
        weight_north = torch.where(tropics, (lat - phi_s) / (phi_n - phi_s), weight_north)
    weight_north = weight_north.to(rms_north.dtype)
    return rms_south[..., None] + (rms_north - rms_south)[..., None] * weight_north


def _gain(target: torch.Tensor, norm: torch.Tensor) -> torch.Tensor:
    """T / r where r is finite and > 0, else 0 (nothing to rescale)."""
    ok = torch.isfinite(norm) & (norm > 0)
    safe = torch.where(ok, norm, torch.ones_like(norm))
    return torch.where(ok, target / safe, torch.zeros_like(norm))


def hens_rescaling_factor(
    rms_north: torch.Tensor,
    rms_south: torch.Tensor,
    target: torch.Tensor | float,
    lat_deg: np.ndarray | torch.Tensor,
    *,
    boundary_deg: float = BOUNDARY_DEG,
) -> torch.Tensor:
    """HENS's factor g(φ) = T / r(φ), r(φ) from :func:`hens_norm_profile` (0 where r(φ) is 0 or not finite).

    Args:
        rms_north, rms_south: [..., C] norms from :func:`hens_hemispheric_norm`.
        target: T, broadcastable to [..., C] (a scalar or per-channel [C]), units of the perturbation.
        lat_deg: [nlat] latitudes in degrees.
        boundary_deg: b (degrees).

    Returns:
        [..., C, nlat, 1] dimensionless factor, dtype and device of ``rms_north``.
    """
    target = torch.as_tensor(target, dtype=rms_north.dtype, device=rms_north.device)
    profile = hens_norm_profile(rms_north, rms_south, lat_deg, boundary_deg=boundary_deg)
    return _gain(target[..., None] if target.ndim else target, profile)[..., None]


def rescaling_factor(
    rms_north: torch.Tensor,
    rms_south: torch.Tensor,
    target: torch.Tensor | float,
    lat_deg: np.ndarray | torch.Tensor,
    *,
    boundary_deg: float = BOUNDARY_DEG,
) -> torch.Tensor:
    """The ``area_rms`` factor: the gain, not the norm, is interpolated across the tropics.

        g_N = T / r_N,  g_S = T / r_S   (g = 0 where r = 0 or r is not finite),
        g(φ) = g_N                                  for φ ≥ b,
        g(φ) = g_S + (g_N − g_S) (φ + b) / (2b)     for −b < φ < b   (linear in latitude, continuous at ±b),
        g(φ) = g_S                                  for φ ≤ −b.

    Args:
        rms_north, rms_south: [..., C] hemispheric norms from :func:`hemispheric_rms`.
        target: T, broadcastable to [..., C] (a scalar or per-channel [C]), units of the perturbation.
        lat_deg: [nlat] latitudes in degrees.
        boundary_deg: b (degrees).

    Returns:
        [..., C, nlat, 1] dimensionless factor, dtype and device of ``rms_north``.
    """
    ref = rms_north
    lat = _lat_tensor(lat_deg, ref)
    target = torch.as_tensor(target, dtype=ref.dtype, device=ref.device)
    g_north, g_south = _gain(target, rms_north), _gain(target, rms_south)
    weight_north = ((lat + boundary_deg) / (2.0 * boundary_deg)).clamp(0.0, 1.0).to(ref.dtype)  # [nlat]
    factor = g_south[..., None] + (g_north - g_south)[..., None] * weight_north  # [..., C, nlat]
    return factor[..., None]


def rescale(
    delta: torch.Tensor,
    target: torch.Tensor | float,
    lat_deg: np.ndarray | torch.Tensor,
    *,
    boundary_deg: float = BOUNDARY_DEG,
    method: str = "hens",
) -> torch.Tensor:
    """Rescale a perturbation to the target amplitude in each extratropical hemisphere: δ' = g(φ) δ.

    ``method="hens"``: g = :func:`hens_rescaling_factor` of :func:`hens_hemispheric_norm` (δ), so that the
    HENS norms of δ' equal T (its area-weighted RMS is T · :func:`hens_norm_bias`).  ``method="area_rms"``:
    g = :func:`rescaling_factor` of :func:`hemispheric_rms` (δ), so that the area-weighted RMS of δ' is T.
    Both per channel wherever the norms are > 0; where g = 0 the result is exactly 0 (also where δ was not
    finite).

    Args:
        delta: [..., C, nlat, nlon] perturbation.
        target: T broadcastable to [..., C] (scalar or per channel [C]), units of ``delta``.
        lat_deg: [nlat] latitudes in degrees.
        boundary_deg: b (degrees).
        method: one of :data:`RESCALINGS`.

    Returns:
        [..., C, nlat, nlon], dtype of ``delta``.
    """
    if method == "hens":
        rms_n, rms_s = hens_hemispheric_norm(delta, lat_deg, boundary_deg=boundary_deg)
        factor = hens_rescaling_factor(rms_n, rms_s, target, lat_deg, boundary_deg=boundary_deg)
    elif method == "area_rms":
        rms_n, rms_s = hemispheric_rms(delta, lat_deg, boundary_deg=boundary_deg)
        factor = rescaling_factor(rms_n, rms_s, target, lat_deg, boundary_deg=boundary_deg)
    else:
        raise ValueError(f"rescaling method {method!r} is not one of {', '.join(RESCALINGS)}")
    return torch.where(factor == 0, torch.zeros_like(delta), delta * factor)
