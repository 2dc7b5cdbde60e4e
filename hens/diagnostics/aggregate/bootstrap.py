"""Bootstrap intervals from per-unit additive sums: the one resampling implementation of `hens diagnose`.

The scores of `hens diagnose` are finished from additive sums (:mod:`hens.diagnostics.aggregate.block`). Kept per
*unit* — a start date, or a start date × a block of grid points when there are few dates — the same sums give
the sampling uncertainty of every score: draw U units with replacement (a resample), add their sums, finish the
resample with the same function that finishes the totals, and take percentiles over the resamples (the
percentile bootstrap, Efron & Tibshirani 1993, ch. 13).

Everything is pure and seeded: the resamples are a function of (number of units, number of resamples, seed),
so two calls with the same seed give the same intervals, and two ensembles scored on the same units can be
resampled *paired* (the same draws for both) by finishing one mapping that holds both ensembles' sums.

Shapes: every unit-sum array has a leading unit axis ``(U, …)``; a resampled mapping has a leading resample axis
``(B, …)`` in its place; ``finish`` maps such a mapping to an array ``(B, …)``.

References:
    - Efron, B. & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall.
    - Wilks, D. S. (2011). Statistical Methods in the Atmospheric Sciences, 3rd ed., §5.3.5 (bootstrap) and
      §5.2.2 (serial/spatial correlation: resample blocks, not points).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

__all__ = ["bootstrap_interval", "percentile_interval", "resample_counts", "resampled_sums"]

#: ``finish(resampled sums)``: an array ``(B, …)`` from a mapping of arrays ``(B, …)``.
Finish = Callable[[Mapping[str, np.ndarray]], np.ndarray]


def resample_counts(n_units: int, n_resamples: int, seed: int) -> np.ndarray:
    """How often each unit is drawn in each resample: int64 ``(B, U)``, every row summing to U.

    Resample b draws U unit indices uniformly with replacement from ``numpy.random.default_rng(seed)``
    (``integers(0, U, size=(B, U))``); row b counts them.
    """
    if n_units < 1 or n_resamples < 1:
        raise ValueError(f"need at least one unit and one resample, got {n_units} and {n_resamples}")
    draws = np.random.default_rng(seed).integers(0, n_units, size=(n_resamples, n_units))
    counts = np.zeros((n_resamples, n_units), dtype=np.int64)
    np.add.at(counts, (np.arange(n_resamples)[:, None], draws), 1)
    return counts


def resampled_sums(unit_sums: Mapping[str, np.ndarray], counts: np.ndarray) -> dict[str, np.ndarray]:
    """The summed statistics of each resample: ``Σ_u counts[b, u] · unit_sums[key][u]`` → ``(B, …)`` float64."""
    weights = np.asarray(counts, dtype=np.float64)
    out = {}
    for key, value in unit_sums.items():
        v = np.asarray(value, dtype=np.float64)
        out[key] = (weights @ v.reshape(v.shape[0], -1)).reshape(weights.shape[0], *v.shape[1:])
    return out


def percentile_interval(samples: np.ndarray, confidence: float) -> np.ndarray:
    """Central ``confidence`` interval over the leading (resample) axis: ``(2, …)`` = lower, upper.

    NaN resamples (a score undefined on that resample, e.g. no events drawn) are left out; NaN where every resample
    is NaN. Percentiles by NumPy's default (linear) method.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    tail = 50.0 * (1.0 - confidence)
    values = np.asarray(samples, dtype=np.float64)
    values = np.where(np.isfinite(values), values, np.nan)
    ordered = np.sort(values, axis=0)  # NaN last
    n = np.sum(~np.isnan(values), axis=0)
    out = np.full((2, *values.shape[1:]), np.nan)
    for k, q in enumerate((tail, 100.0 - tail)):  # NumPy's "linear" method on the finite values, vectorised
        pos = q / 100.0 * np.maximum(n - 1, 0)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
        a = np.take_along_axis(ordered, lo[None], axis=0)[0]
        b = np.take_along_axis(ordered, hi[None], axis=0)[0]
        out[k] = np.where(n > 0, a + (pos - lo) * (b - a), np.nan)
    return out


def bootstrap_interval(
    unit_sums: Mapping[str, np.ndarray],
    finish: Finish,
    *,
    n_resamples: int,
    confidence: float,
    seed: int,
    batch: int = 200,
) -> np.ndarray:
    """Percentile-bootstrap interval ``(2, …)`` of ``finish`` over resamples of the units.

    Args:
        unit_sums: additive sums with a leading unit axis ``(U, …)`` (all keys the same U); only what ``finish``
            reads is needed. For a paired comparison, put both ensembles' sums in this one mapping.
        finish: turns resampled sums ``(B, …)`` into the score ``(B, …)`` — the same function as for the totals.
        n_resamples: B; ``confidence``: e.g. 0.9 for the 5–95 % interval; ``seed``: of :func:`resample_counts`.
        batch: resamples finished at a time (bounds memory; does not change the result).

    Returns:
        float64 ``(2, …)``: the lower and upper percentiles of the resampled scores.
    """
    n_units = {np.shape(v)[0] for v in unit_sums.values()}
    if len(n_units) != 1:
        raise ValueError(f"every unit-sum array needs the same leading unit axis, got sizes {sorted(n_units)}")
    counts = resample_counts(n_units.pop(), n_resamples, seed)
    parts = [
        np.asarray(finish(resampled_sums(unit_sums, counts[b : b + batch])), dtype=np.float64)
        for b in range(0, n_resamples, batch)
    ]
    return percentile_interval(np.concatenate(parts, axis=0), confidence)
