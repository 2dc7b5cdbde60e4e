"""Ensemble mean, variance, squared error of the ensemble mean, and the spread–skill ratio.

Pure NumPy (see :mod:`hens.diagnostics.metrics` for the shared conventions): members along ``member_axis``,
float64 results. The spread–skill ratio takes *means* of the variance and squared error (over points, weighted,
and cases): average first, then take the ratio.
"""

from __future__ import annotations

import numpy as np

from hens.diagnostics.metrics.members import member_count

__all__ = ["ensemble_mean", "ensemble_mean_squared_error", "ensemble_variance", "spread_skill_ratio"]


def ensemble_mean(forecast: np.ndarray, *, member_axis: int = 0) -> np.ndarray:
    r"""Ensemble mean :math:`\bar x = \frac{1}{M}\sum_{i=1}^M x_i`.

    Args:
        forecast: members along ``member_axis``.
        member_axis: axis of the members.

    Returns:
        float64 array, the forecast's shape without the member axis.
    """
    forecast = np.asarray(forecast)
    member_count(forecast, member_axis)
    return np.mean(forecast, axis=member_axis, dtype=np.float64)


def ensemble_variance(forecast: np.ndarray, *, member_axis: int = 0, ddof: int = 1) -> np.ndarray:
    r"""Unbiased ensemble variance :math:`s^2 = \frac{1}{M-1}\sum_{i=1}^M (x_i - \bar x)^2`.

    Computed with the two-pass formula (no cancellation from large offsets such as temperatures in K).

    Args:
        forecast: members along ``member_axis``.
        member_axis: axis of the members.
        ddof: delta degrees of freedom; 1 (default) gives the unbiased estimate.

    Returns:
        float64 array, the forecast's shape without the member axis.

    Raises:
        ValueError: if there are not more than ``ddof`` members.
    """
    forecast = np.asarray(forecast)
    m = member_count(forecast, member_axis)
    if m <= ddof:
        raise ValueError(f"ensemble_variance needs more than ddof={ddof} members, got {m}")
    return np.var(forecast, axis=member_axis, ddof=ddof, dtype=np.float64)


def ensemble_mean_squared_error(forecast: np.ndarray, obs: np.ndarray, *, member_axis: int = 0) -> np.ndarray:
    r"""Squared error of the ensemble mean, :math:`(\bar x - y)^2`, per point.

    Averaged over points and cases (and square-rooted) this is the ensemble-mean RMSE.

    Returns:
        float64 array with the shape of ``obs``.
    """
    mean = ensemble_mean(forecast, member_axis=member_axis)
    return (mean - np.asarray(obs, dtype=np.float64)) ** 2


def spread_skill_ratio(mean_variance: np.ndarray | float, mean_mse: np.ndarray | float, n_members: int) -> np.ndarray:
    r"""Spread–skill ratio with the finite-ensemble correction of Fortin et al. (2014).

    .. math::
        \mathrm{SSR} = \sqrt{\frac{M+1}{M}}\;\frac{\sqrt{\overline{s^2}}}{\sqrt{\overline{(\bar x - y)^2}}}

    where :math:`\overline{s^2}` is the mean (over points, weighted, and cases) of the unbiased ensemble
    variance (:func:`ensemble_variance`) and :math:`\overline{(\bar x - y)^2}` the mean squared error
    of the ensemble mean (:func:`ensemble_mean_squared_error`) over the same points and cases. For a
    perfectly calibrated ensemble (truth exchangeable with the members) the expected MSE of the
    ensemble mean is :math:`\frac{M+1}{M}` times the expected variance, so SSR = 1; SSR < 1 means an
    under-dispersive ensemble.

    Average the variance and MSE first, then take the ratio (not the mean of per-point ratios).

    Args:
        mean_variance: mean ensemble variance (units²).
        mean_mse: mean squared error of the ensemble mean (units²).
        n_members: ensemble size M.

    Returns:
        float64 array (dimensionless).

    References:
        - Fortin, V., Abaza, M., Anctil, F. & Turcotte, R. (2014). Why should ensemble spread match the
          RMSE of the ensemble mean? J. Hydrometeor. 15, 1708–1713.
    """
    if n_members < 1:
        raise ValueError(f"n_members must be >= 1, got {n_members}")
    var = np.asarray(mean_variance, dtype=np.float64)
    mse = np.asarray(mean_mse, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt((n_members + 1.0) / n_members) * np.sqrt(var) / np.sqrt(mse)
