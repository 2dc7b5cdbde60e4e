"""Bootstrap intervals and sample sizes of the scores: the units, their finishes, and the dataset variables.

:func:`unit_masks` decides what a bootstrap unit is — a start date, or, with fewer than
``diagnose.bootstrap.min_start_dates`` dates, a start date × a longitude sector (all latitudes of
``360/K`` degrees of longitude; sectors rather than latitude bands so the units are alike, and wide so
neighbouring units are nearly independent). :func:`interval_variables` resamples the units' additive sums with
:func:`hens.diagnostics.aggregate.bootstrap.bootstrap_interval` and finishes every resample with the same functions
as the totals (the metric registry's ``finish`` for ``scores``; the Brier skill score and ROC area from their
counts, vectorised here and tested against :mod:`hens.diagnostics.metrics.probability`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hens.diagnostics.aggregate.block import BlockStats
from hens.diagnostics.aggregate.bootstrap import bootstrap_interval
from hens.diagnostics.aggregate.scores import mean_scores
from hens.diagnostics.metrics.registry import STATISTICS, WEIGHT, finite_ratio

__all__ = [
    "BootstrapSettings",
    "add_difference_interval",
    "brier_skill_from_counts",
    "date_scores",
    "interval_variables",
    "roc_auc_from_counts",
    "unit_masks",
    "unit_statistics",
]

#: Name of the interval bounds coordinate.
BOUND = ("lower", "upper")


@dataclass(frozen=True)
class BootstrapSettings:
    """``diagnose.bootstrap``: how the intervals are made.

    Attributes:
        n_resamples: bootstrap resamples B.
        confidence: central coverage of the intervals (0.9: 5th–95th percentile).
        seed: seed of the resamples.
        min_start_dates: below this many start dates, a unit is a start date × a longitude sector.
        longitude_blocks: the number K of longitude sectors then.
    """

    n_resamples: int = 1000
    confidence: float = 0.9
    seed: int = 0
    min_start_dates: int = 20
    longitude_blocks: int = 8


def unit_masks(
    n_init: int, lat: np.ndarray, lon: np.ndarray, settings: BootstrapSettings
) -> tuple[np.ndarray | None, str]:
    """The spatial units (bool ``[K, nlat, nlon]``, or ``None``: start dates alone) and a sentence naming the unit."""
    if n_init >= settings.min_start_dates or settings.longitude_blocks <= 1:
        return None, f"start date ({n_init} units)"
    k = settings.longitude_blocks
    width = 360.0 / k
    sector = np.floor(np.mod(np.asarray(lon, dtype=np.float64) - float(lon[0]), 360.0) / width).astype(int)
    sector = np.clip(sector, 0, k - 1)
    masks = np.broadcast_to((sector[None, :] == np.arange(k)[:, None])[:, None, :], (k, lat.size, lon.size))
    return np.ascontiguousarray(masks), (
        f"start date × {width:g}° longitude sector ({n_init} × {k} = {n_init * k} units; fewer than "
        f"{settings.min_start_dates} start dates, so sectors of grid points are resampled too)"
    )


def brier_skill_from_counts(rel: np.ndarray) -> np.ndarray:
    """Brier skill score vs the sample climatology from reliability counts ``(…, 5, n_bins)`` → ``(…)``.

    BS = (Σ p² − 2 Σ p·o + Σ o) / N, BSS = 1 − BS / (ō (1 − ō)); NaN without forecasts or when ō ∈ {0, 1} (as
    :func:`hens.diagnostics.metrics.probability.brier_decomposition`).
    """
    total = rel[..., 0, :].sum(axis=-1)
    so, spp, spo = (rel[..., k, :].sum(axis=-1) for k in (2, 3, 4))
    bs = finite_ratio(spp - 2.0 * spo + so, total)
    obar = finite_ratio(so, total)
    unc = obar * (1.0 - obar)
    return np.where(unc > 0, 1.0 - finite_ratio(bs, np.where(unc > 0, unc, 1.0)), np.nan)


def roc_auc_from_counts(roc: np.ndarray) -> np.ndarray:
    """Trapezoid ROC area from contingency counts ``(…, 4, T)`` (hits, misses, false alarms, correct negatives),
    closed with the corners (1, 1) and (0, 0) as :func:`hens.diagnostics.metrics.probability.roc_curve_from_counts`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pod = roc[..., 0, :] / (roc[..., 0, :] + roc[..., 1, :])
        pofd = roc[..., 2, :] / (roc[..., 2, :] + roc[..., 3, :])
    ones = np.ones(pod.shape[:-1] + (1,))
    x = np.concatenate([ones, pofd, 0.0 * ones], axis=-1)
    y = np.concatenate([ones, pod, 0.0 * ones], axis=-1)
    return np.sum((x[..., :-1] - x[..., 1:]) * (y[..., :-1] + y[..., 1:]) / 2.0, axis=-1)


def _frequency(counts: np.ndarray) -> np.ndarray:
    return finite_ratio(counts, counts.sum(axis=-1, keepdims=True))


def _intervals_one(units: BlockStats, n_members: int, n_pct: int, settings: BootstrapSettings) -> dict[str, np.ndarray]:
    """Every interval ``(2, …)`` of one variable (event axes ``(percentile, lead, region[, bin])``)."""
    kw = dict(n_resamples=settings.n_resamples, confidence=settings.confidence, seed=settings.seed)
    mean_keys = {WEIGHT, *(s.name for s in STATISTICS)}
    out = {
        "scores": bootstrap_interval(
            {k: units[k] for k in mean_keys}, lambda s: np.moveaxis(mean_scores(s, n_members), 0, 1), **kw
        ),
        "rank_histogram": bootstrap_interval({"rank": units["rank"]}, lambda s: _frequency(s["rank"]), **kw),
        "sigma_histogram": bootstrap_interval({"sigma": units["sigma"]}, lambda s: _frequency(s["sigma"]), **kw),
    }
    if n_pct:
        rel, roc = {"rel": units["rel"]}, {"roc": units["roc"]}
        # (2, L, R, P[, bin]) → (2, P, L, R[, bin])
        out["brier_skill_score"] = np.moveaxis(
            bootstrap_interval(rel, lambda s: brier_skill_from_counts(s["rel"]), **kw), 3, 1
        )
        out["roc_auc"] = np.moveaxis(bootstrap_interval(roc, lambda s: roc_auc_from_counts(s["roc"]), **kw), 3, 1)
        freq = bootstrap_interval(rel, lambda s: finite_ratio(s["rel"][..., 2, :], s["rel"][..., 0, :]), **kw)
        out["reliability_freq"] = np.moveaxis(freq, 3, 1)
    return out


_INTERVAL_DIMS = {
    "scores": ("metric", "variable", "lead_time", "region"),
    "rank_histogram": ("variable", "lead_time", "region", "rank"),
    "sigma_histogram": ("variable", "lead_time", "region", "sigma_bin"),
    "brier_skill_score": ("percentile", "variable", "lead_time", "region"),
    "roc_auc": ("percentile", "variable", "lead_time", "region"),
    "reliability_freq": ("percentile", "variable", "lead_time", "region", "prob_bin"),
}
#: Axis of ``variable`` in each interval array once the bound axis is first.
_VARIABLE_AXIS = {name: 1 + dims.index("variable") for name, dims in _INTERVAL_DIMS.items()}


def interval_variables(
    units: Mapping[str, BlockStats], *, n_members: int, n_pct: int, settings: BootstrapSettings, unit_label: str
) -> dict[str, tuple[tuple[str, ...], np.ndarray, dict[str, Any]]]:
    """``<name>_interval(bound, …)`` of ``scores``, the histograms and the event scores, for the scores dataset.

    Args:
        units: per variable (dataset order), the units' sums with leading axes ``(unit, lead, region)``.
        n_members: M; ``n_pct``: number of percentiles (0: no event scores); ``settings``: the bootstrap.
        unit_label: what a unit is (:func:`unit_masks`), recorded in each variable's ``comment``.
    """
    per_var = [_intervals_one(u, n_members, n_pct, settings) for u in units.values()]
    out = {}
    for name, dims in _INTERVAL_DIMS.items():
        if name not in per_var[0]:
            continue
        data = np.stack([p[name] for p in per_var], axis=_VARIABLE_AXIS[name])
        attrs = {
            "long_name": f"{settings.confidence:.0%} percentile-bootstrap interval of {name}",
            "comment": f"{settings.n_resamples} resamples (seed {settings.seed}) of the units: {unit_label}",
        }
        out[f"{name}_interval"] = (("bound", *dims), data, attrs)
    return out


def unit_statistics(units: Mapping[str, BlockStats]) -> tuple[list[str], np.ndarray]:
    """The mean-type sums of every unit ``(unit, statistic, variable, lead, region)`` and the statistic names
    (:data:`WEIGHT` first): what a paired comparison with another ensemble scored on the same units resamples."""
    names = [WEIGHT, *(s.name for s in STATISTICS)]
    data = np.stack([np.stack([u[k] for k in names], axis=1) for u in units.values()], axis=2)
    return names, data


def date_scores(names: list[str], data: np.ndarray, n_init: int, n_members: int) -> np.ndarray:
    """Every mean-type score of each start date alone: float64 ``(init_time, metric, variable, lead, region)``.

    Args:
        names, data: :func:`unit_statistics` — the units' sums ``(unit, statistic, variable, lead, region)``, the
            units date-major (unit = date · K + k for K spatial units per date, K = 1 without them).
        n_init: the number of start dates; ``n_members``: M.

    The K units of a date are summed, then finished by the metric registry like the totals.
    """
    per_date = data.reshape(n_init, data.shape[0] // n_init, *data.shape[1:]).sum(axis=1)
    out = [
        mean_scores({name: per_date[:, s, v] for s, name in enumerate(names)}, n_members)  # (metric, init, L, R)
        for v in range(data.shape[2])
    ]
    return np.moveaxis(np.stack(out, axis=2), 1, 0)


def add_intervals(
    scores: Any,
    units: Mapping[str, BlockStats],
    *,
    masks: np.ndarray,
    n_init: int,
    settings: BootstrapSettings,
    unit_label: str,
    init_times: np.ndarray | None = None,
) -> Any:
    """``scores`` (an ``xarray.Dataset`` of :func:`~hens.diagnostics.aggregate.scores.stats_to_dataset`) with the
    intervals, the units' sums and the sample sizes added — new variables and attributes only; nothing changes.

    Adds ``<name>_interval(bound, …)`` (:func:`interval_variables`), ``unit_statistics(unit, statistic, variable,
    lead_time, region)``, ``n_points(region)`` (grid points of each region), and the attributes ``n_init_times``,
    ``n_units``, ``bootstrap_unit``, ``bootstrap_confidence``, ``bootstrap_n_resamples``, ``bootstrap_seed``.
    With ``init_times`` (the start dates, datetime64) also ``scores_by_init_time(init_time, metric, variable,
    lead_time, region)``: the mean-type scores of each start date alone (:func:`date_scores`).
    """
    n_pct = int(scores.sizes.get("percentile", 0))
    new = interval_variables(
        units, n_members=int(scores.attrs["n_members"]), n_pct=n_pct, settings=settings, unit_label=unit_label
    )
    names, data = unit_statistics(units)
    out = scores.assign_coords(bound=list(BOUND), statistic=names, unit=np.arange(data.shape[0]))
    for name, (dims, values, attrs) in new.items():
        out[name] = (dims, values, attrs)
    out["unit_statistics"] = (
        ("unit", "statistic", "variable", "lead_time", "region"),
        data,
        {"long_name": "latitude-weighted sums of the mean-type statistics per bootstrap unit", "comment": unit_label},
    )
    if init_times is not None:
        out = out.assign_coords(init_time=np.asarray(init_times))
        out["scores_by_init_time"] = (
            ("init_time", "metric", "variable", "lead_time", "region"),
            date_scores(names, data, n_init, int(scores.attrs["n_members"])),
            {"long_name": "scores of each start date alone (mean-type metrics)"},
        )
    out["n_points"] = (
        "region",
        masks.reshape(masks.shape[0], -1).sum(axis=1).astype(np.int64),
        {"long_name": "grid points in the region"},
    )
    out.attrs.update(
        n_init_times=int(n_init),
        n_units=int(data.shape[0]),
        bootstrap_unit=unit_label,
        bootstrap_confidence=float(settings.confidence),
        bootstrap_n_resamples=int(settings.n_resamples),
        bootstrap_seed=int(settings.seed),
    )
    return out


def difference_interval(main: Any, base: Any) -> np.ndarray:
    """Paired-bootstrap interval ``(2, metric, variable, lead, region)`` of every mean-type score of ``main`` minus
    that of ``base``: two scores datasets of :func:`add_intervals` scored on the same units (same start dates and
    grid), resampled with the same draws (one :func:`~hens.diagnostics.aggregate.bootstrap.bootstrap_interval`
    over both ensembles' unit sums, settings from ``main``'s attributes).
    """
    if main.sizes["unit"] != base.sizes["unit"]:
        raise ValueError(f"the two ensembles have {main.sizes['unit']} and {base.sizes['unit']} units; pair equal ones")
    names = [str(n) for n in main["statistic"].values]
    sums: dict[str, np.ndarray] = {}
    for tag, ds in (("a", main), ("b", base)):
        data = ds["unit_statistics"].transpose("unit", "statistic", "variable", "lead_time", "region").values
        sums.update({f"{tag}/{name}": data[:, s] for s, name in enumerate(names)})
    m_a, m_b = int(main.attrs["n_members"]), int(base.attrs["n_members"])

    def finish(s: Mapping[str, np.ndarray]) -> np.ndarray:  # (B, variable, L, R) → (B, metric, variable, L, R)
        a = mean_scores({n: s[f"a/{n}"] for n in names}, m_a)
        b = mean_scores({n: s[f"b/{n}"] for n in names}, m_b)
        return np.moveaxis(a - b, 0, 1)

    return bootstrap_interval(
        sums,
        finish,
        n_resamples=int(main.attrs["bootstrap_n_resamples"]),
        confidence=float(main.attrs["bootstrap_confidence"]),
        seed=int(main.attrs["bootstrap_seed"]),
    )


def add_difference_interval(main: Any, base: Any, label: str) -> Any:
    """``main`` with ``difference_interval(bound, metric, variable, lead_time, region)``: the paired-bootstrap
    interval of main − ``label`` for every mean-type score (:func:`difference_interval`); ``main`` unchanged
    otherwise.  Negative CRPS / RMSE differences mean the main ensemble is better."""
    out = main.copy()
    out["difference_interval"] = (
        ("bound", "metric", "variable", "lead_time", "region"),
        difference_interval(main, base),
        {
            "long_name": f"{float(main.attrs['bootstrap_confidence']):.0%} paired-bootstrap interval of the score "
            f"difference this ensemble − {label}",
            "comment": f"{int(main.attrs['bootstrap_n_resamples'])} resamples (seed "
            f"{int(main.attrs['bootstrap_seed'])}) units: {main.attrs.get('bootstrap_unit')}",
        },
    )
    return out
