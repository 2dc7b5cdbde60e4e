"""Continuous ranked probability score of an ensemble: fair (Ferro 2014) and empirical-CDF, by sorting members.

Pure NumPy (see :mod:`hens.diagnostics.metrics` for the shared conventions): members along ``member_axis``, the
observation without it; float64 results in the units of the data. Cost O(M log M) per point (one sort), O(M)
memory: nothing builds an M×M array.
"""

from __future__ import annotations

import numpy as np

from hens.diagnostics.metrics.members import expand_obs, member_count

__all__ = ["ecdf_crps", "fair_crps"]


def _crps_sorted(forecast: np.ndarray, obs: np.ndarray, member_axis: int, fair: bool) -> np.ndarray:
    forecast = np.asarray(forecast)
    m = member_count(forecast, member_axis)
    if fair and m < 2:
        raise ValueError("fair_crps needs at least 2 members")
    ax = member_axis % forecast.ndim
    # Centre on the observation: the spread term is invariant to a common shift, and working with
    # x - y removes the cancellation that large offsets (e.g. 290 K) would cause.
    d = np.subtract(forecast, expand_obs(obs, ax, forecast.ndim), dtype=np.float64)
    d.sort(axis=ax)
    shape = [1] * d.ndim
    shape[ax] = m
    coef = (2.0 * np.arange(1, m + 1, dtype=np.float64) - m - 1.0).reshape(shape)
    spread = np.sum(d * coef, axis=ax)  # = ½ Σ_i Σ_j |x_i − x_j|
    np.abs(d, out=d)
    skill = np.sum(d, axis=ax)  # Σ_i |x_i − y|
    if fair:
        return skill / m - spread / (m * (m - 1.0))
    return skill / m - spread / (m * float(m))


def fair_crps(forecast: np.ndarray, obs: np.ndarray, *, member_axis: int = 0) -> np.ndarray:
    r"""Fair (unbiased, ensemble-size-adjusted) CRPS, computed by sorting the members.

    The fair CRPS (Ferro 2014) of members :math:`x_1 … x_M` against the observation :math:`y` is

    .. math::
        \mathrm{CRPS}_\text{fair} = \frac{1}{M}\sum_{i=1}^M |x_i - y|
            - \frac{1}{2M(M-1)}\sum_{i=1}^M\sum_{j=1}^M |x_i - x_j| .

    The double sum is evaluated without forming pairs. With the members sorted,
    :math:`x_{(1)} \le … \le x_{(M)}`, each pair with :math:`i < j` contributes
    :math:`x_{(j)} - x_{(i)}`; the :math:`k`-th smallest member is the larger element of
    :math:`k-1` pairs and the smaller of :math:`M-k` pairs, so

    .. math::
        \sum_{i=1}^M\sum_{j=1}^M |x_i - x_j| = 2\sum_{i<j}\left(x_{(j)} - x_{(i)}\right)
            = 2\sum_{k=1}^M (2k - M - 1)\, x_{(k)}

    and

    .. math::
        \mathrm{CRPS}_\text{fair} = \frac{1}{M}\sum_{i=1}^M |x_i - y|
            - \frac{1}{M(M-1)}\sum_{k=1}^M (2k - M - 1)\, x_{(k)} .

    Cost: one sort, O(M log M) per point, O(M) memory. The sort is done on :math:`x_i - y` in float64
    (the sum above is shift-invariant because :math:`\sum_k (2k-M-1) = 0`).

    Args:
        forecast: members along ``member_axis``; M ≥ 2.
        obs: observation, the forecast's shape without the member axis.
        member_axis: axis of the members (default 0).

    Returns:
        float64 array with the shape of ``obs``, in the units of the data.

    References:
        - Ferro, C. A. T. (2014). Fair scores for ensemble forecasts. QJRMS 140, 1917–1923.
          https://doi.org/10.1002/qj.2270
        - Gneiting, T. & Raftery, A. E. (2007). Strictly proper scoring rules, prediction, and estimation.
          JASA 102, 359–378.
    """
    return _crps_sorted(forecast, obs, member_axis, fair=True)


def ecdf_crps(forecast: np.ndarray, obs: np.ndarray, *, member_axis: int = 0) -> np.ndarray:
    r"""Standard (non-fair) CRPS of the ensemble's empirical CDF, computed by sorting the members.

    .. math::
        \mathrm{CRPS}_\text{ecdf} = \frac{1}{M}\sum_{i=1}^M |x_i - y|
            - \frac{1}{2M^2}\sum_{i,j} |x_i - x_j|
            = \frac{1}{M}\sum_{i=1}^M |x_i - y| - \frac{1}{M^2}\sum_{k=1}^M (2k - M - 1)\, x_{(k)}

    (see :func:`fair_crps` for the sorted-member identity). This is the exact CRPS of the step-function
    CDF of the members; it is biased high by :math:`\frac{1}{2M}\mathbb{E}|X-X'|` relative to the CRPS
    of the distribution the members are drawn from.

    Args:
        forecast: members along ``member_axis``.
        obs: observation, the forecast's shape without the member axis.
        member_axis: axis of the members (default 0).

    Returns:
        float64 array with the shape of ``obs``.

    References:
        - Hersbach, H. (2000). Decomposition of the continuous ranked probability score for ensemble
          prediction systems. Wea. Forecasting 15, 559–570.
    """
    return _crps_sorted(forecast, obs, member_axis, fair=False)
