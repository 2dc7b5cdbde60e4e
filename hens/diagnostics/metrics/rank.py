"""Rank of the observation among the members and rank-histogram counts.

Pure NumPy (see :mod:`hens.diagnostics.metrics` for the shared conventions). Cost O(M) per point (two
comparisons, no sort); counts are reduced with ``numpy.bincount``, never a one-hot (N, M+1) array, and are
additive over chunks. NaN in a member or the observation makes a point missing (rank −1, skipped by the counts).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from hens.diagnostics.metrics.members import expand_obs, member_count

__all__ = ["TieBreak", "obs_rank", "rank_counts", "rank_histogram_counts"]

TieBreak = Literal["random", "low", "high"]


def _rank_parts(
    forecast: np.ndarray, obs: np.ndarray, member_axis: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Per point: number of members below obs, number equal to obs, validity mask, and M."""
    forecast = np.asarray(forecast)
    m = member_count(forecast, member_axis)
    ax = member_axis % forecast.ndim
    o = expand_obs(obs, ax, forecast.ndim)
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
        return rank_counts(ranks, member_count(np.asarray(forecast), member_axis), weights=weights)
    n_less, n_equal, valid, m = _rank_parts(forecast, obs, member_axis)
    w = np.ones(n_less.shape) if weights is None else np.broadcast_to(np.asarray(weights, float), n_less.shape)
    lo = n_less[valid].ravel()
    hi = (n_less + n_equal)[valid].ravel() + 1
    share = (w[valid] / (n_equal[valid] + 1.0)).ravel()
    diff = np.bincount(lo, weights=share, minlength=m + 2) - np.bincount(hi, weights=share, minlength=m + 2)
    return np.cumsum(diff)[: m + 1]
