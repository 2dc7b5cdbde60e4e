"""Per-block statistics: every additive sum `hens diagnose` needs from one chunk of members and truth.

WeatherBench-X style: each Dask block (one start date × a few lead times × a lat/lon tile, with *all* members)
is reduced to small sums — latitude-weighted sums of the per-point statistics of the metric registry
(:data:`hens.diagnostics.metrics.registry.STATISTICS`), rank-histogram counts, σ-bin counts, reliability and ROC
counts per percentile — which are then added over blocks. Memory therefore never grows with the number of start
dates, lead times or members beyond one block. Pure NumPy; the per-point values come from the metric functions
of :mod:`hens.diagnostics.metrics`.

Every array of a :class:`BlockStats` has leading axes ``(lead, region)``:

========================= ===================================== =========================================
key                       shape after (lead, region)             meaning (w = cos φ × region mask × valid)
========================= ===================================== =========================================
``weight``                ()                                     Σ w
one per statistic name    ()                                     Σ w · field (:data:`STATISTICS`)
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

from hens.diagnostics.metrics.probability import (
    exceedance_probability,
    fair_brier_score,
    reliability_counts,
    roc_counts,
)
from hens.diagnostics.metrics.rank import obs_rank
from hens.diagnostics.metrics.registry import STATISTICS, WEIGHT, EnsembleSample
from hens.diagnostics.weights import latitude_weights

__all__ = [
    "COUNT_KEYS",
    "BlockOptions",
    "BlockStats",
    "add_stats",
    "block_statistics",
    "block_statistics_with_units",
    "prob_thresholds",
]

#: Keys of the counts that are not weighted sums of a per-point statistic.
COUNT_KEYS = ("rank", "sigma", "rel", "roc", "fair_brier")

_clash = {s.name for s in STATISTICS} & set(COUNT_KEYS)
if _clash:
    raise ValueError(f"statistic names {sorted(_clash)} clash with the block's count keys {COUNT_KEYS}; rename them")

BlockStats = dict[str, np.ndarray]


@dataclass(frozen=True)
class BlockOptions:
    """Settings shared by every block.

    Attributes:
        n_members: ensemble size M (the member axis of every block).
        sigma_edges: edges of the σ-distance bins (may include ±inf), increasing.
        n_prob_bins: reliability-diagram bins.
        prob_thresholds: ROC probability thresholds (forecast "yes" when p ≥ threshold).
        tie_break: rank-histogram tie-break (see :func:`hens.diagnostics.metrics.rank.obs_rank`).
        seed: base seed of the random tie-break; each block adds its own position.
        device: where the torch kernels (fair CRPS) run: ``cpu`` | ``cuda`` (``diagnose.device``, checked by
            :func:`hens.diagnostics.metrics.device.kernel_device`).
    """

    n_members: int
    sigma_edges: tuple[float, ...]
    n_prob_bins: int
    prob_thresholds: tuple[float, ...]
    tie_break: str = "random"
    seed: int = 0
    device: str = "cpu"


def prob_thresholds(roc_thresholds: int | None, m: int) -> tuple[float, ...]:
    """ROC probability thresholds of ``diagnose.extremes.roc_thresholds``: ``roc_thresholds`` evenly spaced in
    [0, 1], or (None, "members") every k/M when M ≤ 100, else 101 evenly spaced."""
    if roc_thresholds is None:
        values = np.arange(m + 1) / m if m <= 100 else np.linspace(0.0, 1.0, 101)
    else:
        values = np.linspace(0.0, 1.0, roc_thresholds)
    return tuple(float(v) for v in values)


def add_stats(a: BlockStats, b: BlockStats) -> BlockStats:
    """Sum two :class:`BlockStats` key by key (the reduction of the block graph)."""
    return {key: a[key] + b[key] for key in a}


def _zeros(n_lead: int, n_reg: int, n_pct: int, options: BlockOptions) -> BlockStats:
    """All-zero :class:`BlockStats` of a block with ``n_lead`` lead times, ``n_reg`` regions, ``n_pct`` percentiles."""
    shape = (n_lead, n_reg)
    out: BlockStats = {WEIGHT: np.zeros(shape)}
    out.update({stat.name: np.zeros(shape) for stat in STATISTICS})
    out["rank"] = np.zeros(shape + (options.n_members + 1,))
    out["sigma"] = np.zeros(shape + (len(options.sigma_edges) - 1,))
    out["rel"] = np.zeros(shape + (n_pct, 5, options.n_prob_bins))
    out["roc"] = np.zeros(shape + (n_pct, 4, len(options.prob_thresholds)))
    out["fair_brier"] = np.zeros(shape + (n_pct,))
    return out


#: Where one block's sums go: ``(out, weights [R, a, b])`` pairs — the region totals first, then (optionally) the
#: bootstrap units' sums; the per-point work (fields, ranks with their random tie-break) is done once for all.
Targets = list[tuple[BlockStats, np.ndarray]]


def _add_statistic_sums(targets: Targets, lead: int, sample: EnsembleSample, valid: np.ndarray) -> None:
    """``Σ w · field`` of every registered statistic at one lead time (invalid points count 0)."""
    fields = np.stack([stat.field(sample) for stat in STATISTICS])
    fields = np.where(valid[None], fields, 0.0)
    for out, weights in targets:
        sums = np.einsum("kab,rab->rk", fields, weights)  # one reduction for all statistics (fixes the order)
        for k, stat in enumerate(STATISTICS):
            out[stat.name][lead] = sums[:, k]


def _add_histograms(
    targets: Targets,
    lead: int,
    sample: EnsembleSample,
    valid: np.ndarray,
    options: BlockOptions,
    rng: np.random.Generator,
) -> None:
    """Weighted rank-histogram and σ-distance counts at one lead time."""
    m = options.n_members
    n_sig = len(options.sigma_edges) - 1
    edges = np.asarray(options.sigma_edges, dtype=np.float64)
    tie_break = options.tie_break
    ranks = obs_rank(sample.forecast, sample.obs, member_axis=0, tie_break=tie_break, seed=rng)  # type: ignore[arg-type]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = -sample.error / np.sqrt(sample.variance)
    # |z| = inf when the spread is 0 and y differs from x̄ (counted in the outer bins); NaN (y = x̄, s = 0) skipped
    sig_bin = np.clip(np.searchsorted(edges, z, side="right") - 1, 0, n_sig - 1)
    sig_ok = valid & ~np.isnan(z)
    r_flat = np.where(valid, ranks, 0).ravel()
    s_flat = sig_bin.ravel()
    for out, weights in targets:
        for r in range(weights.shape[0]):
            w_r = weights[r].ravel()
            out["rank"][lead, r] = np.bincount(r_flat, weights=w_r, minlength=m + 1)
            out["sigma"][lead, r] = np.bincount(s_flat, weights=w_r * sig_ok.ravel(), minlength=n_sig)


def _add_event_counts(
    targets: Targets,
    lead: int,
    sample: EnsembleSample,
    valid: np.ndarray,
    thresholds: np.ndarray,
    options: BlockOptions,
) -> None:
    """Reliability, ROC and fair-Brier sums of the events "value > threshold", per percentile, at one lead time."""
    for p in range(thresholds.shape[0]):
        thr = np.asarray(thresholds[p], dtype=np.float64)
        prob = exceedance_probability(sample.forecast, thr, member_axis=0)
        event = np.where(np.isnan(thr) | np.isnan(sample.obs), np.nan, (sample.obs > thr).astype(np.float64))
        prob = np.where(valid, prob, np.nan)
        fb = fair_brier_score(prob, event, n_members=options.n_members)
        fb_ok = ~np.isnan(fb)
        for t, (out, weights) in enumerate(targets):
            for r in range(weights.shape[0]):
                # the units' rows are mostly zero: count only their points (the region totals, t = 0, as always)
                pick = slice(None) if t == 0 else weights[r] > 0
                w_r = weights[r][pick]
                out["rel"][lead, r, p] = np.stack(
                    reliability_counts(prob[pick], event[pick], n_bins=options.n_prob_bins, weights=w_r)
                )
                roc = roc_counts(prob[pick], event[pick], thresholds=options.prob_thresholds, weights=w_r)
                out["roc"][lead, r, p] = np.stack(roc[1:])
                out["fair_brier"][lead, r, p] = np.sum(np.where(fb_ok[pick], fb[pick], 0.0) * w_r)


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
    return block_statistics_with_units(forecast, obs, thresholds, lat, masks, None, options, seed_key=seed_key)[0]


def block_statistics_with_units(
    forecast: np.ndarray,
    obs: np.ndarray,
    thresholds: np.ndarray | None,
    lat: np.ndarray,
    masks: np.ndarray,
    unit_masks: np.ndarray | None,
    options: BlockOptions,
    *,
    seed_key: tuple[int, ...] = (),
) -> tuple[BlockStats, BlockStats | None]:
    """The block's region sums (exactly those of :func:`block_statistics`) and the same sums per spatial unit.

    Args:
        unit_masks: bool ``[K, nlat_b, nlon_b]``, a partition of the block into the K spatial bootstrap units
            (e.g. longitude sectors), or ``None`` for none.
        other arguments: as :func:`block_statistics`.

    Returns:
        ``(totals, units)``: ``totals`` with leading axes ``(L, R)``; ``units`` with leading axes ``(L, R, K)``
        (the sums of each region restricted to each unit; summed over K they give ``totals`` up to rounding), or
        ``None`` without ``unit_masks``. Both come from the same per-point values and tie-break draws.
    """
    m, n_lead = forecast.shape[0], forecast.shape[1]
    if m != options.n_members:
        raise ValueError(f"block has {m} members, expected {options.n_members}")
    n_pct = 0 if thresholds is None else thresholds.shape[1]
    n_reg = masks.shape[0]
    out = _zeros(n_lead, n_reg, n_pct, options)
    n_unit = 0 if unit_masks is None else unit_masks.shape[0]
    units = _zeros(n_lead, n_reg * n_unit, n_pct, options) if n_unit else None
    w_lat = latitude_weights(lat, normalize=False)[:, None]
    region_w = masks.astype(np.float64) * w_lat[None]  # [R, a, b]
    unit_w = None
    if unit_masks is not None:  # [R·K, a, b], region-major
        unit_w = (region_w[:, None] * unit_masks.astype(np.float64)[None]).reshape(n_reg * n_unit, *masks.shape[1:])
    rng = np.random.default_rng([options.seed, *seed_key])
    for lead in range(n_lead):
        sample = EnsembleSample(forecast[:, lead], np.asarray(obs[lead], dtype=np.float64), options.device)
        valid = np.isfinite(sample.obs) & np.all(np.isfinite(sample.forecast), axis=0)
        weights = region_w * valid[None]  # [R, a, b]
        out[WEIGHT][lead] = weights.sum(axis=(1, 2))
        targets: Targets = [(out, weights)]
        if units is not None and unit_w is not None:
            targets.append((units, unit_w * valid[None]))
            units[WEIGHT][lead] = targets[1][1].sum(axis=(1, 2))
        if not valid.any():
            continue
        _add_statistic_sums(targets, lead, sample, valid)
        _add_histograms(targets, lead, sample, valid, options, rng)
        if thresholds is not None:
            _add_event_counts(targets, lead, sample, valid, thresholds[lead], options)
    if units is None:
        return out, None
    return out, {key: value.reshape(n_lead, n_reg, n_unit, *value.shape[2:]) for key, value in units.items()}
