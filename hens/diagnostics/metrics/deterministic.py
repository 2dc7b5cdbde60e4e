"""Deterministic skill: the cos(latitude)-weighted mean squared error of one forecast, and RMSE over a sample.

The RMSE of a set of forecasts (start dates, and checkpoints when pooled) is the root of the *mean* of their
area-weighted MSEs, as WeatherBench2 averages over time before the root:

.. math::
    \\mathrm{RMSE}_{c,\\ell} = \\sqrt{\\frac{1}{N}\\sum_{n} \\frac{\\sum_{j,k} \\cos\\varphi_j\\,(f_{n,\\ell,c,j,k} -
    o_{n,\\ell,c,j,k})^2}{\\sum_{j,k} \\cos\\varphi_j}}
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hens.diagnostics.weights import lat_weighted_mean

__all__ = ["lat_weighted_mse", "rmse_of_mean_mse"]


def lat_weighted_mse(forecast: np.ndarray, truth: np.ndarray, lat_deg: np.ndarray | Sequence[float]) -> np.ndarray:
    """Area-weighted mean of (forecast − truth)² over the last two axes (lat, lon), in float64.

    Args:
        forecast, truth: same shape ``[..., nlat, nlon]``, physical units.
        lat_deg: the ``nlat`` latitudes in degrees.

    Returns:
        float64 array of shape ``[...]``, units².
    """
    err = np.asarray(forecast, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
    return lat_weighted_mean(err * err, lat_deg)


def rmse_of_mean_mse(mse: np.ndarray, axis: int | tuple[int, ...]) -> np.ndarray:
    """√(mean of the MSEs over ``axis``): the RMSE of a sample of forecasts (see module docstring)."""
    return np.sqrt(np.mean(np.asarray(mse, dtype=np.float64), axis=axis))
