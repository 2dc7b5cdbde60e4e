"""Probability forecasts of events from an ensemble: exceedance probability, Brier score, reliability, ROC.

Pure NumPy (see :mod:`hens.diagnostics.metrics` for the shared conventions): the event is "value above a threshold"
(e.g. a climatological percentile), its probability the fraction of members above it. ``prob`` and ``obs_event``
are per point. Per-point scores are float64 and propagate NaN. Curve statistics (reliability, ROC) are returned as
additive sufficient statistics — sum them over chunks, then turn them into curves with the ``*_from_counts``
functions; points with NaN are skipped there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from hens.diagnostics.metrics.members import expand_obs

__all__ = [
    "BrierDecomposition",
    "ReliabilityCounts",
    "ReliabilityCurve",
    "RocCounts",
    "RocCurve",
    "brier_decomposition",
    "brier_score",
    "exceedance_probability",
    "fair_brier_score",
    "reliability_counts",
    "reliability_curve",
    "reliability_curve_from_counts",
    "roc_counts",
    "roc_curve",
    "roc_curve_from_counts",
]

# Probabilities within this distance below a bin edge count in the upper bin, so that k/M values that
# are mathematically on an edge (e.g. 3/10 with 10 bins) land in the same bin whatever the rounding.
_BIN_EDGE_TOL = 1e-9


# ----------------------------------------------------------------------------------------------------
# Exceedance probability and Brier score
# ----------------------------------------------------------------------------------------------------


def exceedance_probability(forecast: np.ndarray, threshold: np.ndarray | float, *, member_axis: int = 0) -> np.ndarray:
    r"""Fraction of members strictly above a threshold, :math:`p = \frac{1}{M}\#\{i : x_i > t\}`.

    Args:
        forecast: members along ``member_axis``.
        threshold: scalar or per-point threshold (the forecast's shape without the member axis), e.g.
            the climatological 99th percentile for the calendar month and hour.
        member_axis: axis of the members (default 0).

    Returns:
        float64 array in {0, 1/M, …, 1}; NaN where a member or the threshold is NaN.
    """
    f = np.asarray(forecast)
    ax = member_axis % f.ndim
    t = expand_obs(threshold, ax, f.ndim)
    prob = np.mean(f > t, axis=ax, dtype=np.float64)
    bad = np.any(np.isnan(f), axis=ax) | np.isnan(np.asarray(threshold, dtype=np.float64))
    return np.where(bad, np.nan, prob)


def brier_score(prob: np.ndarray, obs_event: np.ndarray) -> np.ndarray:
    r"""Brier score per point, :math:`\mathrm{BS} = (p - o)^2`.

    Args:
        prob: forecast probability of the event in [0, 1].
        obs_event: 1 (or True) where the event happened, 0 otherwise.

    Returns:
        float64 array (broadcast of the inputs); average it over points and cases.

    References:
        - Brier, G. W. (1950). Verification of forecasts expressed in terms of probability. MWR 78, 1–3.
    """
    p = np.asarray(prob, dtype=np.float64)
    o = np.asarray(obs_event, dtype=np.float64)
    return (p - o) ** 2


def fair_brier_score(prob: np.ndarray, obs_event: np.ndarray, *, n_members: int) -> np.ndarray:
    r"""Fair Brier score of an M-member ensemble (Ferro 2014), per point.

    With :math:`p = i/M` the fraction of members forecasting the event,

    .. math::
        \mathrm{BS}_\text{fair} = (p - o)^2 - \frac{p(1 - p)}{M - 1}
            = \left(\frac{i}{M} - o\right)^2 - \frac{i(M - i)}{M^2(M - 1)} ,

    an unbiased estimate of the Brier score the ensemble would get with infinitely many members.

    Args:
        prob: ensemble fraction :math:`i/M` (from :func:`exceedance_probability`).
        obs_event: 1 where the event happened, 0 otherwise.
        n_members: ensemble size M ≥ 2.

    Returns:
        float64 array (broadcast of the inputs).

    References:
        - Ferro, C. A. T. (2014). Fair scores for ensemble forecasts. QJRMS 140, 1917–1923.
    """
    if n_members < 2:
        raise ValueError(f"fair_brier_score needs n_members >= 2, got {n_members}")
    p = np.asarray(prob, dtype=np.float64)
    return brier_score(p, obs_event) - p * (1.0 - p) / (n_members - 1.0)


# ----------------------------------------------------------------------------------------------------
# Reliability diagram and Brier decomposition
# ----------------------------------------------------------------------------------------------------


class ReliabilityCounts(NamedTuple):
    """Additive per-bin statistics (each of shape ``(n_bins,)``); add them over chunks field by field."""

    counts: np.ndarray  #: (weighted) number of forecasts in the bin
    sum_prob: np.ndarray  #: sum of forecast probabilities
    sum_event: np.ndarray  #: sum of observed events (0/1)
    sum_prob_sq: np.ndarray  #: sum of squared probabilities (for the exact Brier decomposition)
    sum_prob_event: np.ndarray  #: sum of probability × event

    def __add__(self, other: object) -> ReliabilityCounts:  # type: ignore[override]
        if not isinstance(other, ReliabilityCounts):
            return NotImplemented
        return ReliabilityCounts(*(a + b for a, b in zip(self, other, strict=True)))


class ReliabilityCurve(NamedTuple):
    bin_centres: np.ndarray  #: centre of each probability bin
    mean_prob: np.ndarray  #: mean forecast probability in the bin (NaN if empty)
    obs_frequency: np.ndarray  #: observed relative frequency of the event (NaN if empty)
    counts: np.ndarray  #: number of forecasts in the bin


def _valid_flat(
    prob: np.ndarray, obs_event: np.ndarray, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = np.asarray(prob, dtype=np.float64)
    o = np.asarray(obs_event, dtype=np.float64)
    w = np.ones((), dtype=np.float64) if weights is None else np.asarray(weights, dtype=np.float64)
    p, o, w = np.broadcast_arrays(p, o, w)
    keep = ~(np.isnan(p) | np.isnan(o) | np.isnan(w))
    return p[keep], o[keep], w[keep]


def reliability_counts(
    prob: np.ndarray,
    obs_event: np.ndarray,
    *,
    n_bins: int = 10,
    weights: np.ndarray | None = None,
) -> ReliabilityCounts:
    r"""Sufficient statistics of a reliability diagram, per probability bin.

    Bins are :math:`[k/n, (k+1)/n)` for :math:`k = 0 … n-1`, the last closed at 1 (probabilities within
    1e-9 below an edge count in the upper bin so that :math:`i/M` on an edge is binned consistently).
    Points where ``prob``, ``obs_event`` or ``weights`` is NaN are skipped.

    Args:
        prob: forecast probabilities in [0, 1], any shape.
        obs_event: events (0/1 or bool), broadcastable to ``prob``.
        n_bins: number of equal-width bins.
        weights: optional non-negative weights broadcastable to ``prob`` (e.g. latitude weights).

    Returns:
        :class:`ReliabilityCounts`, float64 arrays of shape ``(n_bins,)``.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    p, o, w = _valid_flat(prob, obs_event, weights)
    if p.size and (p.min() < 0.0 or p.max() > 1.0):
        raise ValueError("prob must lie in [0, 1]")
    idx = np.clip(np.floor(p * n_bins + _BIN_EDGE_TOL), 0, n_bins - 1).astype(np.int64)

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(idx, weights=values, minlength=n_bins).astype(np.float64)

    return ReliabilityCounts(
        counts=total(w),
        sum_prob=total(w * p),
        sum_event=total(w * o),
        sum_prob_sq=total(w * p * p),
        sum_prob_event=total(w * p * o),
    )


def reliability_curve_from_counts(stats: ReliabilityCounts) -> ReliabilityCurve:
    """Turn (summed) :class:`ReliabilityCounts` into a :class:`ReliabilityCurve`.

    ``mean_prob = sum_prob / counts`` and ``obs_frequency = sum_event / counts`` per bin; empty bins are
    NaN. Bin centres are ``(k + ½)/n``.
    """
    n_bins = np.shape(stats.counts)[-1]
    centres = (np.arange(n_bins, dtype=np.float64) + 0.5) / n_bins
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_prob = np.where(stats.counts > 0, stats.sum_prob / stats.counts, np.nan)
        freq = np.where(stats.counts > 0, stats.sum_event / stats.counts, np.nan)
    return ReliabilityCurve(centres, mean_prob, freq, np.asarray(stats.counts, dtype=np.float64))


def reliability_curve(
    prob: np.ndarray,
    obs_event: np.ndarray,
    *,
    n_bins: int = 10,
    weights: np.ndarray | None = None,
) -> ReliabilityCurve:
    """Reliability diagram: per bin the centre, mean forecast probability, observed frequency, count.

    Equivalent to ``reliability_curve_from_counts(reliability_counts(prob, obs_event, ...))``; for chunked
    data compute :func:`reliability_counts` per chunk, add, then convert.

    References:
        - Wilks, D. S. (2011). Statistical Methods in the Atmospheric Sciences, 3rd ed., §8.4.4.
    """
    return reliability_curve_from_counts(reliability_counts(prob, obs_event, n_bins=n_bins, weights=weights))


class BrierDecomposition(NamedTuple):
    brier_score: float
    reliability: float
    resolution: float
    uncertainty: float
    within_bin_variance: float
    within_bin_covariance: float


def brier_decomposition(stats: ReliabilityCounts) -> BrierDecomposition:
    r"""Decomposition of the mean Brier score from (summed) :class:`ReliabilityCounts`.

    With :math:`N = \sum_k n_k`, bin means :math:`\bar p_k, \bar o_k` and base rate :math:`\bar o`:

    .. math::
        \mathrm{BS} = \underbrace{\tfrac{1}{N}\sum_k n_k(\bar p_k - \bar o_k)^2}_\text{REL}
            - \underbrace{\tfrac{1}{N}\sum_k n_k(\bar o_k - \bar o)^2}_\text{RES}
            + \underbrace{\bar o(1 - \bar o)}_\text{UNC}
            + \underbrace{\tfrac{1}{N}\sum_k\sum_{i\in k}(p_i - \bar p_k)^2}_\text{WBV}
            - \underbrace{\tfrac{2}{N}\sum_k\sum_{i\in k}(p_i - \bar p_k)(o_i - \bar o_k)}_\text{WBC}

    which is exact (Stephenson et al. 2008); the classic three-term form (Murphy 1973) drops the
    within-bin terms, which vanish when every forecast in a bin has the same probability.

    References:
        - Murphy, A. H. (1973). A new vector partition of the probability score. JAM 12, 595–600.
        - Stephenson, D. B., Coelho, C. A. S. & Jolliffe, I. T. (2008). Two extra components in the
          Brier score decomposition. Wea. Forecasting 23, 752–757.
    """
    n = np.asarray(stats.counts, dtype=np.float64)
    total = n.sum()
    if total <= 0:
        nan = float("nan")
        return BrierDecomposition(nan, nan, nan, nan, nan, nan)
    sp, so = np.asarray(stats.sum_prob), np.asarray(stats.sum_event)
    spp, spo = np.asarray(stats.sum_prob_sq), np.asarray(stats.sum_prob_event)
    filled = n > 0
    pbar = np.where(filled, sp / np.where(filled, n, 1.0), 0.0)
    obar_k = np.where(filled, so / np.where(filled, n, 1.0), 0.0)
    obar = so.sum() / total
    rel = float(np.sum(n * (pbar - obar_k) ** 2) / total)
    res = float(np.sum(n * (obar_k - obar) ** 2) / total)
    unc = float(obar * (1.0 - obar))
    wbv = float(np.sum(spp - n * pbar**2) / total)
    wbc = float(2.0 * np.sum(spo - n * pbar * obar_k) / total)
    bs = float((spp.sum() - 2.0 * spo.sum() + so.sum()) / total)
    return BrierDecomposition(bs, rel, res, unc, wbv, wbc)


# ----------------------------------------------------------------------------------------------------
# ROC
# ----------------------------------------------------------------------------------------------------


class RocCounts(NamedTuple):
    """Additive contingency counts per probability threshold (each of shape ``(T,)``)."""

    thresholds: np.ndarray
    hits: np.ndarray  #: event observed, prob ≥ threshold
    misses: np.ndarray  #: event observed, prob < threshold
    false_alarms: np.ndarray  #: no event, prob ≥ threshold
    correct_negatives: np.ndarray  #: no event, prob < threshold

    def __add__(self, other: object) -> RocCounts:  # type: ignore[override]
        if not isinstance(other, RocCounts):
            return NotImplemented
        if not np.array_equal(self.thresholds, other.thresholds):
            raise ValueError("cannot add RocCounts with different thresholds")
        return RocCounts(self.thresholds, *(a + b for a, b in zip(self[1:], other[1:], strict=True)))


class RocCurve(NamedTuple):
    thresholds: np.ndarray
    pod: np.ndarray  #: probability of detection (hit rate) per threshold
    pofd: np.ndarray  #: probability of false detection (false-alarm rate) per threshold
    auc: float  #: area under the curve, trapezoid including the (0, 0) and (1, 1) corners


def roc_counts(
    prob: np.ndarray,
    obs_event: np.ndarray,
    *,
    thresholds: Sequence[float] | np.ndarray,
    weights: np.ndarray | None = None,
) -> RocCounts:
    """Contingency counts for yes/no forecasts ``prob >= threshold``, for every threshold at once.

    Each probability is placed among the sorted thresholds with ``searchsorted`` and counted with
    ``bincount``; a reverse cumulative sum gives the counts per threshold — O(N log T), no (N, T) array.
    Points where ``prob``, ``obs_event`` or ``weights`` is NaN are skipped.

    Args:
        prob: forecast probabilities, any shape.
        obs_event: events (0/1 or bool), broadcastable to ``prob``.
        thresholds: non-decreasing probability thresholds.
        weights: optional non-negative weights broadcastable to ``prob``.

    Returns:
        :class:`RocCounts` with float64 counts of shape ``(T,)``.
    """
    thr = np.asarray(thresholds, dtype=np.float64).ravel()
    if thr.size == 0 or np.any(np.isnan(thr)) or np.any(np.diff(thr) < 0):
        raise ValueError("thresholds must be a non-empty, non-decreasing sequence without NaN")
    p, o, w = _valid_flat(prob, obs_event, weights)
    n_below = np.searchsorted(thr, p, side="right")  # thresholds t with t <= p: forecast "yes" for them
    event = o > 0.5
    t = thr.size

    def yes_counts(sel: np.ndarray) -> np.ndarray:
        hist = np.bincount(n_below[sel], weights=w[sel], minlength=t + 1)
        # yes at threshold j  <=>  n_below > j
        return np.cumsum(hist[::-1])[::-1][1:].astype(np.float64)

    hits = yes_counts(event)
    false_alarms = yes_counts(~event)
    n_event = float(w[event].sum())
    n_none = float(w[~event].sum())
    return RocCounts(thr, hits, n_event - hits, false_alarms, n_none - false_alarms)


def roc_curve_from_counts(counts: RocCounts) -> RocCurve:
    r"""POD, POFD and AUC from (summed) :class:`RocCounts`.

    POD = hits / (hits + misses), POFD = false alarms / (false alarms + correct negatives). The AUC is
    the trapezoid area under the points ordered by threshold, closed with the corners (1, 1) (threshold
    below every probability) and (0, 0) (threshold above every probability), as in
    ``scores.probability.roc_curve_data``. NaN when there are no events or no non-events.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        pod = counts.hits / (counts.hits + counts.misses)
        pofd = counts.false_alarms / (counts.false_alarms + counts.correct_negatives)
    x = np.concatenate(([1.0], pofd, [0.0]))
    y = np.concatenate(([1.0], pod, [0.0]))
    auc = float(np.sum((x[:-1] - x[1:]) * (y[:-1] + y[1:]) / 2.0))
    return RocCurve(np.asarray(counts.thresholds), pod, pofd, auc)


def roc_curve(
    prob: np.ndarray,
    obs_event: np.ndarray,
    *,
    thresholds: Sequence[float] | np.ndarray,
    weights: np.ndarray | None = None,
) -> RocCurve:
    """ROC curve (POD and POFD per threshold) and its area, for forecasts ``prob >= threshold``.

    Equivalent to ``roc_curve_from_counts(roc_counts(...))``; for chunked data sum :func:`roc_counts`.

    References:
        - Mason, I. (1982). A model for assessment of weather forecasts. Aust. Met. Mag. 30, 291–303.
    """
    return roc_curve_from_counts(roc_counts(prob, obs_event, thresholds=thresholds, weights=weights))
