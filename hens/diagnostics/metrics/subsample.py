"""Ensemble-size statistics (HENS Part II): seeded sub-ensembles, σ-exceedances, members beyond the truth, and the
smallest ensemble size whose CRPS is close enough to the full ensemble's.

Pure NumPy (see :mod:`hens.diagnostics.metrics` for the shared conventions): members along ``member_axis``, the
observation without it, float64 results. The scores of a sub-ensemble themselves (fair CRPS, spread, spread–skill,
outliers) are the ordinary metric functions applied to the chosen members; this module adds what is specific to
the question "how many members are enough?".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hens.diagnostics.metrics.extremes import sigma_distance
from hens.diagnostics.metrics.members import expand_obs, member_count

__all__ = [
    "SUBSET_STREAM",
    "fraction_beyond_truth",
    "member_subsets",
    "sigma_exceedance",
    "subset_sizes",
    "sufficient_size",
]

SUBSET_STREAM = 0x5B5E7
"""Mixed with the seed (and the subset size) so the sub-ensemble draws are independent of every other draw."""


def subset_sizes(requested: Sequence[int], n_members: int) -> tuple[int, ...]:
    """The sub-ensemble sizes scored for an M-member ensemble: the requested sizes below M, then M itself.

    Sizes ≥ M are dropped (M is always there, once), sizes below 2 too (a spread needs two members); the result is
    sorted and unique, e.g. ``subset_sizes([10, 50, 100, 500], 64) == (10, 50, 64)``.

    Raises:
        ValueError: if ``n_members`` < 2.
    """
    if n_members < 2:
        raise ValueError(f"ensemble-size statistics need at least 2 members, got {n_members}")
    below = sorted({int(s) for s in requested if 2 <= int(s) < n_members})
    return (*below, int(n_members))


def member_subsets(n_members: int, sizes: Sequence[int], draws: int, seed: int) -> np.ndarray:
    """Member positions of every sub-ensemble: ``draws`` seeded draws without replacement per size.

    Draw ``d`` of size ``s < M`` is ``numpy.random.default_rng([seed, SUBSET_STREAM, s]).choice(M, s,
    replace=False)`` (the d-th call, sorted), so a size's draws do not change when other sizes are added or
    removed, and the same seed gives the same sub-ensembles on every run, variable, start date and grid tile.
    Size ``M`` is the whole ensemble in every draw (there is only one).

    Args:
        n_members: M, the ensemble size.
        sizes: sub-ensemble sizes, each in [1, M].
        draws: repeated draws per size (≥ 1).
        seed: the seed.

    Returns:
        int64 ``[len(sizes), draws, max(sizes)]``: the positions of draw ``d`` of size ``sizes[k]`` are
        ``out[k, d, :sizes[k]]``; the rest of the row is −1.
    """
    if draws < 1:
        raise ValueError(f"draws must be ≥ 1, got {draws}")
    if any(not 1 <= int(s) <= n_members for s in sizes):
        raise ValueError(f"sizes must lie in [1, {n_members}], got {list(sizes)}")
    width = max(int(s) for s in sizes)
    out = np.full((len(sizes), draws, width), -1, dtype=np.int64)
    for k, size in enumerate(int(s) for s in sizes):
        if size == n_members:
            out[k, :, :size] = np.arange(n_members)
            continue
        rng = np.random.default_rng([int(seed), SUBSET_STREAM, size])
        for d in range(draws):
            out[k, d, :size] = np.sort(rng.choice(n_members, size=size, replace=False))
    return out


def sigma_exceedance(
    forecast: np.ndarray, obs: np.ndarray, thresholds: Sequence[float], *, member_axis: int = 0
) -> np.ndarray:
    r"""Where the truth lies more than k ensemble standard deviations from the ensemble mean, for each k.

    .. math::
        E_k = \mathbb{1}\left\{\,|y - \bar x| > k\,s\,\right\},\qquad
        s^2 = \frac{1}{M-1}\sum_{i=1}^M (x_i - \bar x)^2

    (strictly beyond: :math:`|z| > k` with :math:`z = (y-\bar x)/s`, :func:`~hens.diagnostics.metrics.extremes.
    sigma_distance`). Where :math:`s = 0` and :math:`y \ne \bar x` the truth is beyond every k; where
    :math:`s = 0` and :math:`y = \bar x`, or a member or the truth is NaN, it is beyond none (0). Summed over
    points these are the counts of "kσ events" (HENS Part II's 4σ events). For a calibrated, Gaussian ensemble
    :math:`\sqrt{M/(M+1)}\,z` follows Student's t with M − 1 degrees of freedom, so 3σ events are rare (≈ 0.27 %
    for large M) and their excess measures under-dispersion in the tails.

    Args:
        forecast: members along ``member_axis``; M ≥ 2.
        obs: truth, the forecast's shape without the member axis.
        thresholds: the k values (in σ), e.g. ``(3, 4)``.
        member_axis: axis of the members.

    Returns:
        bool ``[K, *obs.shape]``.
    """
    z = np.abs(sigma_distance(forecast, obs, member_axis=member_axis))
    k = np.asarray(thresholds, dtype=np.float64).reshape((-1,) + (1,) * z.ndim)
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(z)[None], False, z[None] > k)


def fraction_beyond_truth(forecast: np.ndarray, obs: np.ndarray, *, member_axis: int = 0) -> np.ndarray:
    r"""The fraction of members more extreme than the truth: beyond it, on the side away from the ensemble mean.

    .. math::
        f = \frac{1}{M}\,\#\left\{\,i : (x_i - y)\,\operatorname{sign}(y - \bar x) > 0\,\right\}

    If the truth is above the ensemble mean, f is the fraction of members strictly above the truth; below the
    mean, strictly below it; at the mean (sign 0) no member counts and f = 0. f = 0 on the truth's side means
    no member reached the observed value (the truth is an outlier there); for a calibrated ensemble the truth's
    rank is uniform, so f is spread over [0, ½] (mean ≈ ¼ for large M). HENS Part II asked this of the "4σ
    events": did any of the 7,424 members reach such an observed value? Averaging f over the points where
    :func:`sigma_exceedance` is true answers it per σ threshold.

    A small ensemble cannot have members beyond a kσ truth at all: by Samuelson's inequality every member lies
    within :math:`(M-1)/\sqrt{M}\;s` of the mean, so f = 0 wherever :math:`|y-\bar x| > k s` unless
    :math:`(M-1)/\sqrt M > k` — M ≥ 11 for k = 3 and M ≥ 18 for k = 4.

    Args:
        forecast: members along ``member_axis``.
        obs: truth, the forecast's shape without the member axis.
        member_axis: axis of the members.

    Returns:
        float64 with the shape of ``obs`` in [0, 1]; NaN where a member or the truth is NaN.
    """
    f = np.asarray(forecast)
    ax = member_axis % f.ndim
    m = member_count(f, ax)
    y = np.asarray(obs, dtype=np.float64)
    side = np.sign(y - np.mean(f, axis=ax, dtype=np.float64))
    beyond = np.subtract(f, expand_obs(y, ax, f.ndim), dtype=np.float64) * expand_obs(side, ax, f.ndim) > 0
    out = np.sum(beyond, axis=ax) / float(m)
    bad = np.isnan(y) | np.any(np.isnan(f), axis=ax)
    return np.where(bad, np.nan, out)


def sufficient_size(sizes: Sequence[int], crps: np.ndarray, tolerance: float) -> np.ndarray:
    r"""The smallest ensemble size from which on the CRPS is within ``tolerance`` of the full ensemble's.

    With sizes :math:`M_1 < … < M_S = M` and mean CRPS :math:`c_1 … c_S` (e.g. averaged over draws), size
    :math:`M_k` is *sufficient* when it and every larger size score no worse than the full ensemble by more than
    the fraction: :math:`c_j \le (1 + \text{tolerance})\,c_S` for all :math:`j \ge k`. Requiring the larger sizes
    too keeps a small size that scored well by chance from being chosen when a larger one did not. A sub-ensemble
    scoring better than the full one counts as within. The full size always qualifies, unless its CRPS is NaN.

    Args:
        sizes: the sizes, increasing, the last being M.
        crps: ``[..., S]`` the CRPS of each size along the last axis (any leading shape).
        tolerance: the fraction (≥ 0), e.g. 0.05 for 5 %.

    Returns:
        float64 ``[...]``: the sufficient size, NaN where the full ensemble's CRPS (or any size's) is NaN.
    """
    sizes_arr = np.asarray(sizes, dtype=np.float64)
    c = np.asarray(crps, dtype=np.float64)
    if c.shape[-1] != sizes_arr.size or np.any(np.diff(sizes_arr) <= 0):
        raise ValueError(f"crps needs one value per size along its last axis and increasing sizes, got {list(sizes)}")
    if tolerance < 0:
        raise ValueError(f"tolerance must be ≥ 0, got {tolerance}")
    with np.errstate(invalid="ignore"):
        ok = c <= (1.0 + tolerance) * c[..., -1:]
    # every size from k on is within: a reversed cumulative AND
    tail_ok = np.flip(np.logical_and.accumulate(np.flip(ok, axis=-1), axis=-1), axis=-1)
    first = np.argmax(tail_ok, axis=-1)
    out = sizes_arr[first]
    return np.where(np.any(np.isnan(c), axis=-1), np.nan, out)
