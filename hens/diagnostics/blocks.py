"""Per-block statistics: every additive sum `hens diagnose` needs from one chunk of members and truth.

WeatherBench-X style: each Dask block (one start date × a few lead times × a lat/lon tile, with *all* members)
is reduced to small sums — latitude-weighted score sums, rank-histogram counts, σ-bin counts, reliability and
ROC counts per percentile — which are then added over blocks. Memory therefore never grows with the number
of start dates, lead times or members beyond one block. Pure NumPy; the metric functions come from
:mod:`hens.diagnostics.mean` and :mod:`hens.diagnostics.extremes`.

Every array of a :class:`BlockStats` has leading axes ``(lead, region)``:

========================= ===================================== =========================================
key                       shape after (lead, region)             meaning (w = cos φ × region mask × valid)
========================= ===================================== =========================================
``weight``                ()                                     Σ w
``sums``                  (len(POINT_FIELDS),)                   Σ w · field, fields in :data:`POINT_FIELDS`
``rank``                  (M + 1,)                               Σ w per rank of the truth among members
``sigma``                 (len(sigma_edges) − 1,)                Σ w per bin of (y − x̄)/s
``rel``                   (P, 5, n_bins)                         reliability counts per percentile
``roc``                   (P, 4, T)                              hits, misses, false alarms, correct neg.
``fair_brier``            (P,)                                   Σ w · fair Brier score
========================= ===================================== =========================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hens.diagnostics.extremes import (
    best_member_error,
    exceedance_probability,
    fair_brier_score,
    outlier_fraction,
    reliability_counts,
    roc_counts,
)
from hens.diagnostics.mean import fair_crps, obs_rank
from hens.diagnostics.weights import latitude_weights

__all__ = ["POINT_FIELDS", "BlockOptions", "BlockStats", "add_stats", "block_statistics"]

#: Per-point fields whose weighted sums are kept: error of the ensemble mean (x̄ − y), its square, fair CRPS,
#: unbiased ensemble variance, outlier indicator (y outside [min, max]), best member's absolute error.
POINT_FIELDS = ("error", "squared_error", "crps", "variance", "outlier", "best_member_error")

BlockStats = dict[str, np.ndarray]


@dataclass(frozen=True)
class BlockOptions:
    """Settings shared by every block.

    Attributes:
        n_members: ensemble size M (the member axis of every block).
        sigma_edges: edges of the σ-distance bins (may include ±inf), increasing.
        n_prob_bins: reliability-diagram bins.
        prob_thresholds: ROC probability thresholds (forecast "yes" when p ≥ threshold).
        tie_break: rank-histogram tie-break (see :func:`hens.diagnostics.mean.obs_rank`).
        seed: base seed of the random tie-break; each block adds its own position.
    """

    n_members: int
    sigma_edges: tuple[float, ...]
    n_prob_bins: int
    prob_thresholds: tuple[float, ...]
    tie_break: str = "random"
    seed: int = 0


def add_stats(a: BlockStats, b: BlockStats) -> BlockStats:
    """Sum two :class:`BlockStats` key by key (the reduction of the block graph)."""
    return {key: a[key] + b[key] for key in a}


def block_statistics(
    forecast: np.ndarray,
    obs: np.ndarray,
    thresholds: np.ndarray | None,
    lat: np.ndarray,
    masks: np.ndarray,
    options: BlockOptions,
    *,
    seed_key: tuple[int, ...] = (),
) -> BlockStats:
    """Additive statistics of one block.

    Args:
        forecast: members ``[M, L, nlat_b, nlon_b]`` (any float dtype; NaN marks missing values).
        obs: truth ``[L, nlat_b, nlon_b]``.
        thresholds: climatological percentile thresholds ``[L, P, nlat_b, nlon_b]`` (event: value > threshold),
            or ``None`` to skip the extreme-event counts.
        lat: latitudes of the block, degrees, shape ``(nlat_b,)``.
        masks: region masks of the block, bool ``[R, nlat_b, nlon_b]``.
        options: shared settings.
        seed_key: integers identifying the block (start date, lead, tile), mixed into the tie-break seed so
            results do not depend on the scheduler.

    Returns:
        :class:`BlockStats` (float64 arrays with leading axes ``(L, R)``; see the module docstring).
    """
    m, n_lead = forecast.shape[0], forecast.shape[1]
    if m != options.n_members:
        raise ValueError(f"block has {m} members, expected {options.n_members}")
    n_reg = masks.shape[0]
    n_pct = 0 if thresholds is None else thresholds.shape[1]
    n_sig = len(options.sigma_edges) - 1
    n_thr = len(options.prob_thresholds)
    out: BlockStats = {
        "weight": np.zeros((n_lead, n_reg)),
        "sums": np.zeros((n_lead, n_reg, len(POINT_FIELDS))),
        "rank": np.zeros((n_lead, n_reg, m + 1)),
        "sigma": np.zeros((n_lead, n_reg, n_sig)),
        "rel": np.zeros((n_lead, n_reg, n_pct, 5, options.n_prob_bins)),
        "roc": np.zeros((n_lead, n_reg, n_pct, 4, n_thr)),
        "fair_brier": np.zeros((n_lead, n_reg, n_pct)),
    }
    w_lat = latitude_weights(lat, normalize=False)[:, None]
    region_w = masks.astype(np.float64) * w_lat[None]  # [R, a, b]
    rng = np.random.default_rng([options.seed, *seed_key])
    edges = np.asarray(options.sigma_edges, dtype=np.float64)
    for lead in range(n_lead):
        f = forecast[:, lead]
        o = np.asarray(obs[lead], dtype=np.float64)
        valid = np.isfinite(o) & np.all(np.isfinite(f), axis=0)
        weights = region_w * valid[None]  # [R, a, b]
        out["weight"][lead] = weights.sum(axis=(1, 2))
        if not valid.any():
            continue
        mean = np.mean(f, axis=0, dtype=np.float64)
        var = np.var(f, axis=0, ddof=1, dtype=np.float64)
        error = mean - o
        fields = np.stack(
            [
                error,
                error**2,
                fair_crps(f, o, member_axis=0),
                var,
                outlier_fraction(f, o, member_axis=0),
                best_member_error(f, o, member_axis=0),
            ]
        )
        fields = np.where(valid[None], fields, 0.0)
        out["sums"][lead] = np.einsum("kab,rab->rk", fields, weights)

        ranks = obs_rank(f, o, member_axis=0, tie_break=options.tie_break, seed=rng)  # type: ignore[arg-type]
        with np.errstate(divide="ignore", invalid="ignore"):
            z = -error / np.sqrt(var)
        # |z| = inf when the spread is 0 and y differs from x̄ (counted in the outer bins); NaN (y = x̄, s = 0) skipped
        sig_bin = np.clip(np.searchsorted(edges, z, side="right") - 1, 0, n_sig - 1)
        sig_ok = valid & ~np.isnan(z)
        r_flat = np.where(valid, ranks, 0).ravel()
        s_flat = sig_bin.ravel()
        for r in range(n_reg):
            w_r = weights[r].ravel()
            out["rank"][lead, r] = np.bincount(r_flat, weights=w_r, minlength=m + 1)
            out["sigma"][lead, r] = np.bincount(s_flat, weights=w_r * sig_ok.ravel(), minlength=n_sig)

        for p in range(n_pct):
            thr = np.asarray(thresholds[lead, p], dtype=np.float64)  # type: ignore[index]
            prob = exceedance_probability(f, thr, member_axis=0)
            event = np.where(np.isnan(thr) | np.isnan(o), np.nan, (o > thr).astype(np.float64))
            prob = np.where(valid, prob, np.nan)
            fb = fair_brier_score(prob, event, n_members=m)
            fb_ok = ~np.isnan(fb)
            for r in range(n_reg):
                out["rel"][lead, r, p] = np.stack(
                    reliability_counts(prob, event, n_bins=options.n_prob_bins, weights=weights[r])
                )
                roc = roc_counts(prob, event, thresholds=options.prob_thresholds, weights=weights[r])
                out["roc"][lead, r, p] = np.stack(roc[1:])
                out["fair_brier"][lead, r, p] = np.sum(np.where(fb_ok, fb, 0.0) * weights[r])
    return out
