"""Area weights, region masks and area-weighted means on latitude/longitude grids.

All functions take 1-D coordinate vectors in degrees and return NumPy arrays. The masks have shape
``(nlat, nlon)`` so that they broadcast against fields laid out as ``[..., lat, lon]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hens.regions import REGIONS

__all__ = ["REGIONS", "lat_weighted_mean", "lat_weighted_sums", "latitude_weights", "region_mask"]


# Tolerance (degrees) for coordinates that sit on a box edge after floating-point arithmetic.
_EDGE_TOL_DEG = 1e-9


def latitude_weights(lat_deg: np.ndarray | Sequence[float], *, normalize: bool = True) -> np.ndarray:
    r"""Cosine-of-latitude area weights.

    .. math::
        w_j = \frac{\cos\varphi_j}{\frac{1}{N_\text{lat}}\sum_k \cos\varphi_k}

    On an equiangular grid the area of the cell around latitude :math:`\varphi_j` is proportional to
    :math:`\cos\varphi_j`, so a weighted mean with these weights approximates the area mean. Points at
    the poles get weight 0 (``cos(±90°)`` is rounded to exactly zero rather than ±6e-17).

    Args:
        lat_deg: latitudes in degrees, shape ``(nlat,)``, in any order.
        normalize: if True (default), divide by the mean so the weights average to 1 over the given
            latitudes. The normalisation cancels in any weighted mean; when latitudes are split over
            chunks, either pass ``normalize=False`` or compute the weights from the full vector, so that
            chunk sums can be added.

    Returns:
        float64 array of shape ``(nlat,)``.

    Raises:
        ValueError: if a latitude lies outside [-90, 90] or the input is not 1-D.
    """
    lat = np.asarray(lat_deg, dtype=np.float64)
    if lat.ndim != 1:
        raise ValueError(f"lat_deg must be 1-D, got shape {lat.shape}")
    if np.any(np.abs(lat) > 90.0 + _EDGE_TOL_DEG):
        raise ValueError("lat_deg must lie within [-90, 90] degrees")
    w = np.cos(np.deg2rad(lat))
    w = np.where(np.abs(np.abs(lat) - 90.0) <= _EDGE_TOL_DEG, 0.0, np.clip(w, 0.0, None))
    if normalize:
        mean = w.mean() if w.size else 0.0
        if mean <= 0.0:
            raise ValueError("latitude weights sum to zero (only polar latitudes given)")
        w = w / mean
    return w


def _lat_band(
    lat: np.ndarray, lat_min: float, lat_max: float, lower_inclusive: bool, upper_inclusive: bool
) -> np.ndarray:
    if upper_inclusive:
        upper = lat <= lat_max + _EDGE_TOL_DEG
    else:
        upper = lat < lat_max - _EDGE_TOL_DEG
    if lower_inclusive:
        lower = lat >= lat_min - _EDGE_TOL_DEG
    else:
        lower = lat > lat_min + _EDGE_TOL_DEG
    return lower & upper


def _lon_band(lon: np.ndarray, lon_min: float, lon_max: float) -> np.ndarray:
    """Longitudes on the eastward arc from ``lon_min`` to ``lon_max`` (both inclusive), any convention."""
    if lon_max - lon_min >= 360.0 - _EDGE_TOL_DEG:
        return np.ones(lon.shape, dtype=bool)
    width = np.mod(lon_max - lon_min, 360.0)
    offset = np.mod(lon - lon_min, 360.0)
    # offset just below 360 means "just west of lon_min": treat as 0 within tolerance
    offset = np.where(offset > 360.0 - _EDGE_TOL_DEG, 0.0, offset)
    return offset <= width + _EDGE_TOL_DEG


def region_mask(
    lat_deg: np.ndarray | Sequence[float],
    lon_deg: np.ndarray | Sequence[float],
    region: str | tuple[float, float, float, float],
) -> np.ndarray:
    """Boolean mask of the grid points inside a region.

    Named regions (latitude bands, all longitudes):

    ========================= ===========================
    ``"global"``              all points
    ``"tropics"``             20°S ≤ φ ≤ 20°N
    ``"northern_extratropics"`` 20°N < φ ≤ 90°N
    ``"southern_extratropics"`` 90°S ≤ φ < 20°S
    ========================= ===========================

    The tropics include both 20° circles and the extratropics exclude them, so the three bands
    partition the globe (each grid point is in exactly one).

    A box is a tuple ``(lat_min, lat_max, lon_min, lon_max)`` in degrees, all edges inclusive. The
    longitude range runs eastward from ``lon_min`` to ``lon_max`` and may cross the dateline or the
    prime meridian: ``(30, 60, 350, 10)`` and ``(30, 60, -10, 10)`` both select 10°W–10°E whether the
    grid uses 0…360 or -180…180 longitudes. A range of 360° or more selects all longitudes.

    Args:
        lat_deg: latitudes in degrees, shape ``(nlat,)``.
        lon_deg: longitudes in degrees, shape ``(nlon,)``, any convention.
        region: a name listed above (case-insensitive) or a box tuple.

    Returns:
        bool array of shape ``(nlat, nlon)``.

    Raises:
        ValueError: for an unknown region name, a malformed box, or ``lat_min > lat_max``.
    """
    lat = np.asarray(lat_deg, dtype=np.float64)
    lon = np.asarray(lon_deg, dtype=np.float64)
    if lat.ndim != 1 or lon.ndim != 1:
        raise ValueError(f"lat_deg and lon_deg must be 1-D, got shapes {lat.shape} and {lon.shape}")
    if isinstance(region, str):
        key = region.strip().lower()
        if key not in REGIONS:
            raise ValueError(f"unknown region {region!r}; expected one of {sorted(REGIONS)} or a box tuple")
        lat_min, lat_max, lower_inclusive, upper_inclusive = REGIONS[key]
        lat_sel = _lat_band(lat, lat_min, lat_max, lower_inclusive, upper_inclusive)
        lon_sel = np.ones(lon.shape, dtype=bool)
    else:
        try:
            lat_min, lat_max, lon_min, lon_max = (float(v) for v in region)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"region box must be (lat_min, lat_max, lon_min, lon_max), got {region!r}") from exc
        if lat_min > lat_max:
            raise ValueError(f"region box has lat_min={lat_min} > lat_max={lat_max}")
        lat_sel = _lat_band(lat, lat_min, lat_max, True, True)
        lon_sel = _lon_band(lon, lon_min, lon_max)
    return lat_sel[:, None] & lon_sel[None, :]


def lat_weighted_sums(
    field: np.ndarray,
    lat_deg: np.ndarray | Sequence[float],
    *,
    mask: np.ndarray | None = None,
    lat_axis: int = -2,
    lon_axis: int = -1,
    skipna: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Additive pieces of a cos(latitude)-weighted mean over (lat, lon).

    Returns :math:`S = \sum_{j,k} w_j\, m_{jk}\, f_{jk}` and :math:`W = \sum_{j,k} w_j\, m_{jk}` with
    :math:`w_j = \cos\varphi_j` (unnormalised) and :math:`m` the region mask. Sum ``S`` and ``W`` over
    chunks of (lat, lon), then the area mean is ``S / W``.

    Args:
        field: array with latitude on ``lat_axis`` and longitude on ``lon_axis``.
        lat_deg: latitudes of the field (this chunk), degrees, shape ``(nlat,)``.
        mask: optional boolean region mask of shape ``(nlat, nlon)`` (see
            :func:`region_mask`).
        lat_axis, lon_axis: the axes of latitude and longitude.
        skipna: if True, NaN points get zero weight; otherwise a NaN makes the sums NaN.

    Returns:
        ``(S, W)``, float64 arrays with the field's shape less the two spatial axes.
    """
    f = np.asarray(field)
    f = np.moveaxis(f, (lat_axis % f.ndim, lon_axis % f.ndim), (-2, -1))
    nlat, nlon = f.shape[-2:]
    w = latitude_weights(lat_deg, normalize=False)
    if w.shape != (nlat,):
        raise ValueError(f"lat_deg has {w.shape[0]} values but the field has {nlat} latitudes")
    w2 = np.broadcast_to(w[:, None], (nlat, nlon)).astype(np.float64)
    if mask is not None:
        w2 = w2 * np.asarray(mask, dtype=bool)
    if skipna:
        valid = ~np.isnan(f)
        total = np.einsum("...jk,jk->...", np.where(valid, f, 0.0).astype(np.float64), w2)
        weight = np.einsum("...jk,jk->...", valid.astype(np.float64), w2)
    else:
        total = np.einsum("...jk,jk->...", f.astype(np.float64, copy=False), w2)
        weight = np.broadcast_to(w2.sum(), total.shape).copy()
    return total, weight


def lat_weighted_mean(
    field: np.ndarray,
    lat_deg: np.ndarray | Sequence[float],
    *,
    mask: np.ndarray | None = None,
    lat_axis: int = -2,
    lon_axis: int = -1,
    skipna: bool = False,
) -> np.ndarray:
    r"""cos(latitude)-weighted mean over (lat, lon), optionally within a region mask.

    .. math::
        \langle f\rangle = \frac{\sum_{j,k} \cos\varphi_j\,m_{jk}\,f_{jk}}{\sum_{j,k} \cos\varphi_j\,m_{jk}}

    Use it on per-point scores (squared errors, variances, CRPS) before taking square roots or ratios.
    For chunked data use :func:`lat_weighted_sums` and divide at the end.

    Returns:
        float64 array, the field's shape less the two spatial axes (NaN for an empty region).
    """
    total, weight = lat_weighted_sums(field, lat_deg, mask=mask, lat_axis=lat_axis, lon_axis=lon_axis, skipna=skipna)
    with np.errstate(divide="ignore", invalid="ignore"):
        return total / weight
