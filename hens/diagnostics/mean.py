"""Ensemble-mean diagnostics: mean, variance, CRPS, rank histogram, spread–skill ratio.

Pure NumPy functions meant to be mapped over Dask chunks (e.g. with ``xarray.apply_ufunc``).

Conventions shared by every function here:

* ``forecast`` holds the members along ``member_axis`` (default 0; with ``apply_ufunc`` the core
  dimension is moved last, so pass ``member_axis=-1``). The whole member axis must be in one chunk.
* ``obs`` has the forecast's shape without the member axis (or broadcasts against it).
* Results have the shape of ``obs`` (broadcast) and are float64: scores are accumulated in float64
  whatever the input precision. Temporaries are at most a few times the size of the chunk.
* The cost per grid point is O(M) or O(M log M) (one sort) in the member count M; nothing builds an
  M×M or a one-hot (M+1) array.
* NaN in any member or in ``obs`` gives NaN in the per-point scores (and is skipped by the counts of
  the rank histogram).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from hens.diagnostics.weights import latitude_weights

__all__ = [
    "ecdf_crps",
    "ensemble_mean",
    "ensemble_mean_squared_error",
    "ensemble_variance",
    "fair_crps",
    "lat_weighted_mean",
    "lat_weighted_sums",
    "obs_rank",
    "rank_counts",
    "rank_histogram_counts",
    "spread_skill_ratio",
]

TieBreak = Literal["random", "low", "high"]


def _member_count(forecast: np.ndarray, member_axis: int) -> int:
    if forecast.ndim == 0:
        raise ValueError("forecast must have a member axis")
    return forecast.shape[member_axis]


def _expand_obs(obs: np.ndarray, member_axis: int, ndim: int) -> np.ndarray:
    """Insert a length-1 axis into ``obs`` where the member axis sits in ``forecast``."""
    obs = np.asarray(obs)
    ax = member_axis % ndim
    if obs.ndim == ndim - 1:
        return np.expand_dims(obs, ax)
    if obs.ndim == 0:
        return obs
    raise ValueError(
        f"obs must have the forecast's shape without the member axis (ndim {ndim - 1}), got ndim {obs.ndim}"
    )


def ensemble_mean(forecast: np.ndarray, *, member_axis: int = 0) -> np.ndarray:
    r"""Ensemble mean :math:`\bar x = \frac{1}{M}\sum_{i=1}^M x_i`.

    Args:
        forecast: members along ``member_axis``.
        member_axis: axis of the members.

    Returns:
        float64 array, the forecast's shape without the member axis.
    """
    forecast = np.asarray(forecast)
    _member_count(forecast, member_axis)
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
    m = _member_count(forecast, member_axis)
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


def _crps_sorted(forecast: np.ndarray, obs: np.ndarray, member_axis: int, fair: bool) -> np.ndarray:
    forecast = np.asarray(forecast)
    m = _member_count(forecast, member_axis)
    if fair and m < 2:
        raise ValueError("fair_crps needs at least 2 members")
    ax = member_axis % forecast.ndim
    # Centre on the observation: the spread term is invariant to a common shift, and working with
    # x - y removes the cancellation that large offsets (e.g. 290 K) would cause.
    d = np.subtract(forecast, _expand_obs(obs, ax, forecast.ndim), dtype=np.float64)
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


def _rank_parts(
    forecast: np.ndarray, obs: np.ndarray, member_axis: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Per point: number of members below obs, number equal to obs, validity mask, and M."""
    forecast = np.asarray(forecast)
    m = _member_count(forecast, member_axis)
    ax = member_axis % forecast.ndim
    o = _expand_obs(obs, ax, forecast.ndim)
    n_less = np.sum(forecast < o, axis=ax)
    n_equal = np.sum(forecast == o, axis=ax)
    valid = ~(np.any(np.isnan(forecast), axis=ax) | np.isnan(np.squeeze(o, axis=ax) if o.ndim else o))
    n_less, n_equal, valid = np.broadcast_arrays(n_less, n_equal, valid)
    return n_less, n_equal, valid, m


def obs_rank(
    forecast: np.ndarray,
    obs: np.ndarray,
    *,
    member_axis: int = 0,
    tie_break: TieBreak = "random",
    seed: int | np.random.Generator | None = None,
) -> np.ndarray:
    r"""Rank of the observation among the members, 0 … M, per point.

    The rank is the number of members strictly below the observation, plus a tie-break when members
    equal the observation: with :math:`n_<` members below and :math:`n_=` equal,

    * ``"random"``: :math:`n_< + U`, :math:`U` uniform on :math:`\{0, …, n_=\}` (keeps a calibrated
      ensemble's histogram flat), drawn from ``numpy.random.default_rng(seed)``;
    * ``"low"``: :math:`n_<`; ``"high"``: :math:`n_< + n_=`.

    Rank 0 means the observation is below every member, rank M above every member. The random draws
    depend on the chunk's shape: to reproduce a chunked computation pass a seed derived from the chunk.
    Cost O(M) per point (two comparisons, no sort).

    Args:
        forecast: members along ``member_axis``.
        obs: observation, the forecast's shape without the member axis.
        member_axis: axis of the members (default 0).
        tie_break: ``"random"`` (default), ``"low"`` or ``"high"``.
        seed: seed or generator for the random tie-break.

    Returns:
        int64 array with the shape of ``obs``; -1 where a member or the observation is NaN.

    References:
        - Hamill, T. M. (2001). Interpretation of rank histograms for verifying ensemble forecasts.
          MWR 129, 550–560.
    """
    n_less, n_equal, valid, _ = _rank_parts(forecast, obs, member_axis)
    if tie_break == "random":
        rng = np.random.default_rng(seed)
        rank = n_less + rng.integers(0, n_equal + 1)
    elif tie_break == "low":
        rank = n_less
    elif tie_break == "high":
        rank = n_less + n_equal
    else:
        raise ValueError(f"tie_break must be 'random', 'low' or 'high', got {tie_break!r}")
    return np.where(valid, rank, -1).astype(np.int64)


def rank_counts(ranks: np.ndarray, n_members: int, *, weights: np.ndarray | None = None) -> np.ndarray:
    """Reduce per-point ranks (from :func:`obs_rank`) to histogram counts of shape ``(M+1,)``.

    Uses ``numpy.bincount`` (O(N + M), no one-hot array). Ranks of -1 (missing) are skipped. The counts
    are additive: sum them over chunks, then divide by their total for relative frequencies.

    Args:
        ranks: integer ranks in 0 … M (or -1), any shape.
        n_members: the ensemble size M.
        weights: optional non-negative weights broadcastable to ``ranks`` (e.g. latitude weights).

    Returns:
        float64 array of shape ``(n_members + 1,)``.
    """
    r = np.asarray(ranks).ravel()
    keep = r >= 0
    if np.any(r > n_members):
        raise ValueError(f"ranks exceed n_members={n_members}")
    w = None
    if weights is not None:
        w = np.broadcast_to(np.asarray(weights, dtype=np.float64), np.shape(ranks)).ravel()[keep]
    return np.bincount(r[keep], weights=w, minlength=n_members + 1).astype(np.float64)


def rank_histogram_counts(
    forecast: np.ndarray,
    obs: np.ndarray,
    *,
    member_axis: int = 0,
    tie_break: Literal["random", "low", "high", "split"] = "random",
    seed: int | np.random.Generator | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Rank-histogram counts of the observation among the members, shape ``(M+1,)``.

    ``tie_break`` is as in :func:`obs_rank`, plus ``"split"``: an observation tied with :math:`n_=`
    members adds :math:`1/(n_= + 1)` to each of the ranks :math:`n_<, …, n_< + n_=` (deterministic,
    the convention of ``scores.probability.rank_histogram``). The split is done with a difference array
    and a cumulative sum, O(N + M), never a one-hot (N, M+1) array.

    Points where a member or the observation is NaN are skipped. Counts are additive over chunks.

    Args:
        forecast: members along ``member_axis``.
        obs: observation, the forecast's shape without the member axis.
        member_axis: axis of the members (default 0).
        tie_break: ``"random"`` (default), ``"low"``, ``"high"`` or ``"split"``.
        seed: seed or generator for ``"random"``.
        weights: optional non-negative weights broadcastable to ``obs`` (e.g. latitude weights).

    Returns:
        float64 array of shape ``(M + 1,)``: index r counts observations of rank r (r members below).
    """
    if tie_break != "split":
        ranks = obs_rank(forecast, obs, member_axis=member_axis, tie_break=tie_break, seed=seed)
        return rank_counts(ranks, _member_count(np.asarray(forecast), member_axis), weights=weights)
    n_less, n_equal, valid, m = _rank_parts(forecast, obs, member_axis)
    w = np.ones(n_less.shape) if weights is None else np.broadcast_to(np.asarray(weights, float), n_less.shape)
    lo = n_less[valid].ravel()
    hi = (n_less + n_equal)[valid].ravel() + 1
    share = (w[valid] / (n_equal[valid] + 1.0)).ravel()
    diff = np.bincount(lo, weights=share, minlength=m + 2) - np.bincount(hi, weights=share, minlength=m + 2)
    return np.cumsum(diff)[: m + 1]


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
            :func:`hens.diagnostics.weights.region_mask`).
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
