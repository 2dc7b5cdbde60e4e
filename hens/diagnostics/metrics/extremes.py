"""Diagnostics of extremes: Extreme Forecast Index, Shift of Tails, outliers, best member, σ-distance, twCRPS.

Pure NumPy (see :mod:`hens.diagnostics.metrics` for the shared conventions): members along ``member_axis``
(the whole axis in one chunk), the observation without it; per-point float64 results that propagate NaN.
Cost per point is O(M) or O(M log M) in the member count M.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hens.diagnostics.metrics.crps import ecdf_crps, fair_crps
from hens.diagnostics.metrics.members import expand_obs

__all__ = [
    "best_member_error",
    "efi",
    "expected_outlier_fraction",
    "outlier_fraction",
    "sigma_distance",
    "sot",
    "twcrps",
]


# ----------------------------------------------------------------------------------------------------
# Extreme Forecast Index
# ----------------------------------------------------------------------------------------------------


def _count_at_or_below(sorted_members: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Per row, number of members ≤ each query: a vectorised binary search (upper bound).

    ``sorted_members`` is (N, M) sorted along axis 1 (NaN last), ``queries`` is (N, K).
    """
    n, m = sorted_members.shape
    lo = np.zeros(queries.shape, dtype=np.int64)
    hi = np.full(queries.shape, m, dtype=np.int64)
    for _ in range(int(np.ceil(np.log2(m + 1))) + 1):
        active = lo < hi
        if not active.any():
            break
        mid = (lo + hi) // 2
        value = np.take_along_axis(sorted_members, np.minimum(mid, m - 1), axis=1)
        right = active & (value <= queries)
        lo = np.where(right, mid + 1, lo)
        hi = np.where(active & ~right, mid, hi)
    return lo


def _efi_weights(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Coefficients of ∫ F(p) w(p) dp for F linear between ``levels`` and constant beyond them.

    Returns (a, b, tail_lo, tail_hi) with ∫₀¹ F w dp = Σ_k a_k F_k + b_k F_{k+1} + tail_lo F_0 + tail_hi F_K.
    """
    big_a = 2.0 * np.arcsin(np.sqrt(levels))  # antiderivative of w(p) = 1/√(p(1−p))
    big_b = np.arcsin(np.sqrt(levels)) - np.sqrt(levels * (1.0 - levels))  # antiderivative of p·w(p)
    dp = np.diff(levels)
    da = np.diff(big_a)
    db = np.diff(big_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        # F(p) = F_k (p_{k+1} − p)/Δp + F_{k+1} (p − p_k)/Δp on segment k
        a = np.where(dp > 0, (levels[1:] * da - db) / dp, 0.0)
        b = np.where(dp > 0, (db - levels[:-1] * da) / dp, 0.0)
    return a, b, float(big_a[0]), float(np.pi - big_a[-1])


def efi(
    clim_quantiles: np.ndarray,
    forecast: np.ndarray,
    *,
    member_axis: int = 0,
    quantile_axis: int = 0,
    quantile_levels: Sequence[float] | np.ndarray | None = None,
    block_elements: int = 1 << 22,
) -> np.ndarray:
    r"""Extreme Forecast Index of an ensemble against model-climate quantiles.

    .. math::
        \mathrm{EFI} = \frac{2}{\pi}\int_0^1 \frac{p - F_f(p)}{\sqrt{p(1-p)}}\,dp

    where :math:`F_f(p)` is the fraction of ensemble members at or below the model-climate
    :math:`p`-quantile :math:`q_p` (Lalaurette 2003; Zsótér 2006). EFI = 0 when the forecast
    distribution equals the climate, +1 when every member is above the climate maximum, −1 when every
    member is at or below the climate minimum (for levels spanning 0 … 1).

    Discretisation ("product trapezoid"): :math:`F_f` is evaluated at the stored levels
    :math:`p_0 < … < p_K` and interpolated linearly between them, as the trapezoidal rule does, but the
    weight :math:`1/\sqrt{p(1-p)}` — singular at 0 and 1, where a plain trapezoid breaks down — is
    integrated exactly with its antiderivatives :math:`2\arcsin\sqrt p` and
    :math:`\arcsin\sqrt p - \sqrt{p(1-p)}`. Since :math:`\int_0^1 p/\sqrt{p(1-p)}\,dp = \pi/2`,

    .. math::
        \mathrm{EFI} = 1 - \frac{2}{\pi}\int_0^1 \frac{F_f(p)}{\sqrt{p(1-p)}}\,dp .

    If the levels do not reach 0 or 1, :math:`F_f` is held constant beyond the first/last level. With
    levels ``linspace(0, 1, K+1)`` (min, percentiles, max) this equals earthkit-meteo's ``efi(clim, ens)``
    with its default ``eps ≤ 0`` (the ``eps > 0`` branch, a precipitation-specific renormalisation, is not
    implemented here); the argument order is the same.

    Cost: one sort of the members and a binary search per quantile, O((M + K) log M) per point; points
    are processed in blocks of about ``block_elements`` values.

    Args:
        clim_quantiles: model-climate quantiles, non-decreasing along ``quantile_axis``; its other axes
            equal (or broadcast to) the forecast's axes without the member axis.
        forecast: members along ``member_axis`` (e.g. daily means).
        member_axis: axis of the members (default 0).
        quantile_axis: axis of the quantiles in ``clim_quantiles`` (default 0).
        quantile_levels: probability levels of the quantiles in [0, 1], increasing, length K+1; default
            evenly spaced from 0 to 1.
        block_elements: bound on the temporary array size (number of float64 values).

    Returns:
        float64 array, the forecast's shape without the member axis, in [−1, 1]; NaN where any member
        or quantile is NaN.

    References:
        - Lalaurette, F. (2003). Early detection of abnormal weather conditions using a probabilistic
          extreme forecast index. QJRMS 129, 3037–3057.
        - Zsótér, E. (2006). Recent developments in extreme weather forecasting. ECMWF Newsletter 107,
          8–17.
    """
    f = np.moveaxis(np.asarray(forecast), member_axis, -1)
    q = np.moveaxis(np.asarray(clim_quantiles), quantile_axis, -1)
    m, k = f.shape[-1], q.shape[-1]
    if m < 1 or k < 2:
        raise ValueError(f"efi needs at least 1 member and 2 quantiles, got {m} and {k}")
    if q.shape[:-1] != f.shape[:-1]:
        q = np.broadcast_to(q, f.shape[:-1] + (k,))
    levels = np.linspace(0.0, 1.0, k) if quantile_levels is None else np.asarray(quantile_levels, float)
    if levels.shape != (k,) or np.any(np.diff(levels) < 0) or levels[0] < 0 or levels[-1] > 1:
        raise ValueError(f"quantile_levels must be {k} non-decreasing values in [0, 1]")
    a, b, tail_lo, tail_hi = _efi_weights(levels)
    coef = np.zeros(k)
    coef[:-1] += a
    coef[1:] += b
    coef[0] += tail_lo
    coef[-1] += tail_hi

    point_shape = f.shape[:-1]
    f2 = f.reshape(-1, m)
    q2 = q.reshape(-1, k)
    n = f2.shape[0]
    out = np.empty(n, dtype=np.float64)
    block = max(1, int(block_elements) // (m + k))
    for start in range(0, n, block):
        stop = min(n, start + block)
        members = np.sort(f2[start:stop].astype(np.float64), axis=1)
        quant = q2[start:stop].astype(np.float64)
        frac = _count_at_or_below(members, quant) / float(m)
        value = 1.0 - (2.0 / np.pi) * (frac @ coef)
        bad = np.isnan(members[:, -1]) | np.any(np.isnan(quant), axis=1)
        out[start:stop] = np.where(bad, np.nan, value)
    return out.reshape(point_shape)


def _clim_quantile(q: np.ndarray, levels: np.ndarray, p: float) -> np.ndarray:
    """The climate's ``p``-quantile (p in [0, 1]) per point, linear between the stored levels (exact on them);
    ``q`` is (N, K) along ``levels``."""
    j = int(np.clip(np.searchsorted(levels, p, side="right") - 1, 0, levels.size - 2))
    span = levels[j + 1] - levels[j]
    w = 0.0 if span <= 0 else float(np.clip((p - levels[j]) / span, 0.0, 1.0))
    return q[:, j] * (1.0 - w) + q[:, j + 1] * w


def sot(
    clim_quantiles: np.ndarray,
    forecast: np.ndarray,
    *,
    percentile: float = 90.0,
    tail: float | None = None,
    member_axis: int = 0,
    quantile_axis: int = 0,
    quantile_levels: Sequence[float] | np.ndarray | None = None,
    bound: float = 10.0,
) -> np.ndarray:
    r"""Shift of Tails (Zsótér 2009): how far the forecast's tail reaches beyond the model climate's tail.

    .. math::
        \mathrm{SOT}(p) = \frac{Q_f(p) - Q_c(p_t)}{Q_c(p_t) - Q_c(p)}

    with :math:`Q_f` the ensemble's quantile (NumPy's linear "type 7" estimate over the members), :math:`Q_c` the
    model climate's and :math:`p_t` the tail level: ``percentile=90`` (upper tail, :math:`p_t = 99`) or
    ``percentile=10`` (lower tail, :math:`p_t = 1`). SOT > 0 when at least 10 % of the members lie beyond the
    climate's 99th (1st) percentile; the larger, the further out. As in ECMWF's products (and earthkit-meteo's
    ``sot``) values are clipped to ±``bound`` and NaN where :math:`Q_c(p_t) = Q_c(p)` (no tail to scale by).
    :math:`Q_c` is read from the stored levels, linearly between them (exact when, as with 101 levels, the
    percentiles are stored).

    Args:
        clim_quantiles: model-climate quantiles along ``quantile_axis`` (other axes as the forecast's without the
            member axis, or broadcastable).
        forecast: members along ``member_axis`` (e.g. daily means).
        percentile: the forecast/climate percentile, in (0, 50) or (50, 100): 90 upper, 10 lower tail.
        tail: the tail percentile; default 99 for ``percentile > 50``, 1 below.
        member_axis, quantile_axis: axes of the members and the quantiles.
        quantile_levels: levels in [0, 1] of the quantiles, increasing; default evenly spaced from 0 to 1.
        bound: clip the result to [−bound, bound].

    Returns:
        float64 array, the forecast's shape without the member axis (dimensionless); NaN where a member or
        quantile is NaN or the climate's tail has zero width.

    References:
        Zsótér, E. (2009). The shift of tails index. ECMWF Newsletter / ECMWF forecast products documentation.
    """
    if not 0.0 < percentile < 100.0 or percentile == 50.0:
        raise ValueError(f"sot percentile must be in (0, 50) or (50, 100), got {percentile}")
    tail = (99.0 if percentile > 50.0 else 1.0) if tail is None else float(tail)
    f = np.moveaxis(np.asarray(forecast, dtype=np.float64), member_axis, -1)
    q = np.moveaxis(np.asarray(clim_quantiles, dtype=np.float64), quantile_axis, -1)
    k = q.shape[-1]
    q = np.broadcast_to(q, f.shape[:-1] + (k,)).reshape(-1, k)
    levels = np.linspace(0.0, 1.0, k) if quantile_levels is None else np.asarray(quantile_levels, float)
    if levels.shape != (k,) or k < 2 or np.any(np.diff(levels) < 0):
        raise ValueError(f"quantile_levels must be {k} (at least 2) non-decreasing values in [0, 1]")
    qc = _clim_quantile(q, levels, percentile / 100.0)
    qt = _clim_quantile(q, levels, tail / 100.0)
    qf = np.quantile(f.reshape(-1, f.shape[-1]), percentile / 100.0, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(np.abs(qt - qc) > 0.0, (qf - qt) / (qt - qc), np.nan)
    return np.clip(value, -bound, bound).reshape(f.shape[:-1])


# ----------------------------------------------------------------------------------------------------
# Outliers, best member, σ-distance, threshold-weighted CRPS
# ----------------------------------------------------------------------------------------------------


def outlier_fraction(forecast: np.ndarray, obs: np.ndarray, *, member_axis: int = 0) -> np.ndarray:
    r"""Outlier indicator per point: 1 where the observation is outside [min, max] of the members.

    The mean of this indicator over points and cases is the outlier fraction. For a calibrated
    M-member ensemble the truth is exchangeable with the members, so it is the smallest or the largest
    of the M + 1 values with probability :math:`2/(M+1)` (:func:`expected_outlier_fraction`): 3.4 % for
    58 members, 0.027 % for 7,424.

    Returns:
        float64 array in {0, 1} with the shape of ``obs``; NaN where a member or obs is NaN.
    """
    f = np.asarray(forecast)
    ax = member_axis % f.ndim
    o = np.asarray(obs, dtype=np.float64)
    lo = np.min(f, axis=ax)
    hi = np.max(f, axis=ax)
    out = ((o < lo) | (o > hi)).astype(np.float64)
    return np.where(np.isnan(lo) | np.isnan(hi) | np.isnan(o), np.nan, out)


def expected_outlier_fraction(n_members: int) -> float:
    """Outlier probability of a calibrated M-member ensemble, ``2 / (M + 1)``."""
    if n_members < 1:
        raise ValueError(f"n_members must be >= 1, got {n_members}")
    return 2.0 / (n_members + 1.0)


def best_member_error(forecast: np.ndarray, obs: np.ndarray, *, member_axis: int = 0) -> np.ndarray:
    r"""Error of the best member per point, :math:`\min_i |x_i - y|` (in the data's units).

    Returns:
        float64 array with the shape of ``obs``; NaN if any member or obs is NaN.
    """
    f = np.asarray(forecast)
    ax = member_axis % f.ndim
    d = np.abs(np.subtract(f, expand_obs(obs, ax, f.ndim), dtype=np.float64))
    return np.min(d, axis=ax)


def sigma_distance(forecast: np.ndarray, obs: np.ndarray, *, member_axis: int = 0, ddof: int = 1) -> np.ndarray:
    r"""Standardised distance of the truth from the ensemble mean, :math:`(y - \bar x)/s`.

    :math:`s` is the ensemble standard deviation with ``ddof`` (default 1, unbiased variance). Bin
    :math:`|z|` to count "4σ events". Where :math:`s = 0` the result is ±inf (or NaN if y equals the mean).

    Returns:
        float64 array with the shape of ``obs`` (dimensionless).
    """
    f = np.asarray(forecast)
    mean = np.mean(f, axis=member_axis, dtype=np.float64)
    std = np.std(f, axis=member_axis, ddof=ddof, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.asarray(obs, dtype=np.float64) - mean) / std


def twcrps(
    forecast: np.ndarray,
    obs: np.ndarray,
    threshold: np.ndarray | float,
    *,
    member_axis: int = 0,
    fair: bool = True,
) -> np.ndarray:
    r"""Threshold-weighted CRPS with weight :math:`w(z) = \mathbb{1}\{z > t\}`.

    The chaining function (antiderivative of the weight) is :math:`v(x) = \max(x, t)`, and

    .. math::
        \mathrm{twCRPS}(F, y) = \mathbb{E}|v(X) - v(y)| - \tfrac{1}{2}\mathbb{E}|v(X) - v(X')| ,

    i.e. the CRPS of the transformed members against the transformed observation; computed with
    :func:`~hens.diagnostics.metrics.crps.fair_crps` (or :func:`~hens.diagnostics.metrics.crps.ecdf_crps` when
    ``fair=False``), so O(M log M) per point. It rewards only the part of the distribution above t.

    Args:
        forecast: members along ``member_axis``.
        obs: observation, the forecast's shape without the member axis.
        threshold: scalar or per-point threshold.
        member_axis: axis of the members (default 0).
        fair: fair (default) or empirical-CDF CRPS.

    Returns:
        float64 array with the shape of ``obs``.

    References:
        - Gneiting, T. & Ranjan, R. (2011). Comparing density forecasts using threshold- and
          quantile-weighted scoring rules. JBES 29, 411–422.
        - Allen, S., Ginsbourger, D. & Ziegel, J. (2023). Evaluating forecasts for high-impact events
          using transformed kernel scores. SIAM/ASA JUQ 11, 906–940.
    """
    f = np.asarray(forecast)
    ax = member_axis % f.ndim
    t = np.asarray(threshold, dtype=np.float64)
    fv = np.maximum(np.asarray(f, dtype=np.float64), expand_obs(t, ax, f.ndim))
    ov = np.maximum(np.asarray(obs, dtype=np.float64), t)
    score = fair_crps if fair else ecdf_crps
    return score(fv, ov, member_axis=ax)
