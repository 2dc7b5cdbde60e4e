"""From summed statistics to the labelled scores dataset (the *finish* step).

* :func:`stats_to_dataset` — turn the summed :class:`~hens.diagnostics.aggregate.block.BlockStats` of every
  variable into the scores dataset: the mean-type ``scores`` through each registered metric's ``finish``
  (:data:`hens.diagnostics.metrics.registry.METRICS`), histograms as relative frequencies, reliability, ROC and
  Brier scores from their counts.
* :func:`add_maps` — add the computed per-grid-point maps to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from hens.diagnostics.aggregate.block import BlockOptions, BlockStats
from hens.diagnostics.metrics.extremes import expected_outlier_fraction
from hens.diagnostics.metrics.probability import (
    ReliabilityCounts,
    RocCounts,
    brier_decomposition,
    reliability_curve_from_counts,
    roc_curve_from_counts,
)
from hens.diagnostics.metrics.registry import DATA_UNITS, DIMENSIONLESS, METRICS, WEIGHT, Metric, finite_ratio

__all__ = ["METRIC_NAMES", "add_maps", "mean_scores", "stats_to_dataset", "units_comment"]

#: Metrics of the ``scores(metric, variable, lead_time, region)`` array, in order.
METRIC_NAMES = tuple(metric.name for metric in METRICS)

#: Variables of the event scores ``(percentile, variable, lead_time, region[, bin])``, in dataset order, with attrs.
_EVENT_ATTRS: dict[str, dict[str, str]] = {
    "brier_score": {"long_name": "Brier score of P(value > percentile)", "units": "1"},
    "fair_brier_score": {"long_name": "fair Brier score (Ferro 2014)", "units": "1"},
    "brier_skill_score": {"long_name": "Brier skill score vs the sample climatology", "units": "1"},
    "base_rate": {"long_name": "observed event frequency", "units": "1"},
    "roc_auc": {"long_name": "area under the ROC curve", "units": "1"},
    "reliability_prob": {"long_name": "mean forecast probability"},
    "reliability_freq": {"long_name": "observed relative frequency"},
    "reliability_count": {"long_name": "latitude-weighted number of forecasts in the bin"},
    "roc_pod": {"long_name": "probability of detection"},
    "roc_pofd": {"long_name": "probability of false detection"},
}
#: Extra dimension of the event scores that have one.
_EVENT_BIN_DIM = {
    "reliability_prob": "prob_bin",
    "reliability_freq": "prob_bin",
    "reliability_count": "prob_bin",
    "roc_pod": "prob_threshold",
    "roc_pofd": "prob_threshold",
}


def _join(names: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b, c`` (the wording of the scores' comment since its first version)."""
    return " and ".join(names) if len(names) == 2 else ", ".join(names)


def units_comment(metrics: Sequence[Metric] = METRICS) -> str:
    """The ``comment`` of ``scores``: which metrics are in the variable's units, which dimensionless.

    Groups metrics by units in order of first appearance, e.g. "rmse, bias, crps in the variable's units; ssr and
    outlier_fraction dimensionless".
    """
    groups: dict[str, list[str]] = {}
    for metric in metrics:
        groups.setdefault(metric.units, []).append(metric.name)
    words = {DATA_UNITS: "in the variable's units", DIMENSIONLESS: "dimensionless"}
    return "; ".join(f"{_join(names)} {words.get(units, f'in {units}')}" for units, names in groups.items())


def mean_scores(sums: BlockStats, n_members: int, metrics: Sequence[Metric] = METRICS) -> np.ndarray:
    """Every metric's ``finish`` on one variable's summed statistics: float64 ``(metric, lead, region)``."""
    return np.stack([np.asarray(metric.finish(sums, n_members), dtype=np.float64) for metric in metrics])


def _relative_frequency(counts: np.ndarray) -> np.ndarray:
    """Counts over the last axis divided by their total (NaN where there is none)."""
    return finite_ratio(counts, counts.sum(axis=-1, keepdims=True))


def _event_scores(sums: BlockStats, n_pct: int, options: BlockOptions) -> dict[str, np.ndarray]:
    """One variable's event scores ``(percentile, lead, region[, bin])`` from its reliability and ROC counts."""
    n_lead, n_reg = sums[WEIGHT].shape
    shape = (n_pct, n_lead, n_reg)
    out = {name: np.full(shape + _bin_size(name, options), np.nan) for name in _EVENT_ATTRS}
    thresholds = np.asarray(options.prob_thresholds)
    for p in range(n_pct):
        out["fair_brier_score"][p] = finite_ratio(sums["fair_brier"][:, :, p], sums[WEIGHT])
        for lead in range(n_lead):
            for r in range(n_reg):
                counts = ReliabilityCounts(*sums["rel"][lead, r, p])
                dec = brier_decomposition(counts)
                out["brier_score"][p, lead, r] = dec.brier_score
                out["base_rate"][p, lead, r] = finite_ratio(counts.sum_event.sum(), counts.counts.sum())
                bss = 1.0 - dec.brier_score / dec.uncertainty if dec.uncertainty > 0 else np.nan
                out["brier_skill_score"][p, lead, r] = bss
                curve = reliability_curve_from_counts(counts)
                out["reliability_prob"][p, lead, r] = curve.mean_prob
                out["reliability_freq"][p, lead, r] = curve.obs_frequency
                out["reliability_count"][p, lead, r] = curve.counts
                roc = roc_curve_from_counts(RocCounts(thresholds, *sums["roc"][lead, r, p]))
                out["roc_pod"][p, lead, r], out["roc_pofd"][p, lead, r] = roc.pod, roc.pofd
                out["roc_auc"][p, lead, r] = roc.auc
    return out


def _bin_size(name: str, options: BlockOptions) -> tuple[int, ...]:
    """Shape of the extra (bin) dimension of event score ``name``: ``()``, ``(n_prob_bins,)`` or ``(T,)``."""
    dim = _EVENT_BIN_DIM.get(name)
    if dim is None:
        return ()
    return (options.n_prob_bins,) if dim == "prob_bin" else (len(options.prob_thresholds),)


def _coords(
    variables: list[str],
    *,
    n_members: int,
    lead_time: np.ndarray,
    regions: Sequence[str],
    options: BlockOptions,
    percentiles: Sequence[float],
    units: dict[str, str] | None,
) -> dict[str, Any]:
    """The coordinates of the scores dataset (``units(variable)`` only when ``units`` is given)."""
    edges = np.asarray(options.sigma_edges, dtype=np.float64)
    coords: dict[str, Any] = {
        "metric": list(METRIC_NAMES),
        "variable": variables,
        "lead_time": np.asarray(lead_time, dtype="timedelta64[ns]"),
        "region": list(regions),
        "rank": np.arange(n_members + 1),
        "sigma_bin": np.arange(len(edges) - 1),
        "sigma_lower": ("sigma_bin", edges[:-1]),
        "sigma_upper": ("sigma_bin", edges[1:]),
        "percentile": np.asarray(percentiles, dtype=np.float64),
        "prob_bin": (np.arange(options.n_prob_bins) + 0.5) / options.n_prob_bins,
        "prob_threshold": np.asarray(options.prob_thresholds, dtype=np.float64),
    }
    if units:
        coords["units"] = ("variable", [units.get(v, "") for v in variables])
    return coords


def stats_to_dataset(
    stats: dict[str, BlockStats],
    *,
    n_members: int,
    lead_time: np.ndarray,
    regions: Sequence[str],
    options: BlockOptions,
    percentiles: Sequence[float] = (),
    units: dict[str, str] | None = None,
) -> xr.Dataset:
    """Turn summed :class:`BlockStats` (one per variable) into the labelled scores dataset.

    Returns:
        Dataset with coordinates ``metric``, ``variable``, ``lead_time``, ``region`` (and ``rank``, ``sigma_bin``,
        ``percentile``, ``prob_bin``, ``prob_threshold``) and variables

        * ``scores(metric, variable, lead_time, region)`` — the registered metrics (:data:`METRIC_NAMES`):
          ensemble-mean RMSE and bias (x̄ − y), fair CRPS, spread √(mean s²), spread–skill ratio with
          √((M+1)/M), outlier fraction, best member's mean absolute error; cos(lat)-weighted over the region and
          averaged over start dates;
        * ``rank_histogram(variable, lead_time, region, rank)`` — relative frequency of the truth's rank;
        * ``sigma_histogram(variable, lead_time, region, sigma_bin)`` — relative frequency of (y − x̄)/s;
        * ``brier_score``, ``fair_brier_score``, ``brier_skill_score``, ``base_rate``, ``roc_auc``
          ``(percentile, variable, lead_time, region)``; reliability ``reliability_prob``,
          ``reliability_freq``, ``reliability_count`` ``(…, prob_bin)``; ROC ``roc_pod``, ``roc_pofd``
          ``(…, prob_threshold)`` — for events "value above the climatological percentile".
    """
    variables = list(stats)
    n_pct = len(percentiles)
    per_var = [stats[v] for v in variables]
    events = [_event_scores(s, n_pct, options) for s in per_var]
    dims_v = ("variable", "lead_time", "region")
    dims_p = ("percentile",) + dims_v
    data_vars: dict[str, Any] = {
        "scores": (
            ("metric",) + dims_v,
            np.stack([mean_scores(s, n_members) for s in per_var], axis=1),
            {
                "long_name": "latitude-weighted ensemble scores, mean over start dates",
                "comment": units_comment(),
            },
        ),
        "rank_histogram": (
            dims_v + ("rank",),
            np.stack([_relative_frequency(s["rank"]) for s in per_var]),
            {"long_name": "relative frequency of the truth's rank among the members", "units": "1"},
        ),
        "sigma_histogram": (
            dims_v + ("sigma_bin",),
            np.stack([_relative_frequency(s["sigma"]) for s in per_var]),
            {"long_name": "relative frequency of (truth - ensemble mean) / ensemble std", "units": "1"},
        ),
    }
    for name, attrs in _EVENT_ATTRS.items():
        bin_dim = _EVENT_BIN_DIM.get(name)
        dims = dims_p + ((bin_dim,) if bin_dim else ())
        data_vars[name] = (dims, np.stack([e[name] for e in events], axis=1), attrs)
    coords = _coords(
        variables,
        n_members=n_members,
        lead_time=lead_time,
        regions=regions,
        options=options,
        percentiles=percentiles,
        units=units,
    )
    attrs = {"n_members": int(n_members), "expected_outlier_fraction": expected_outlier_fraction(n_members)}
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def add_maps(
    scores: xr.Dataset,
    variables: list[str],
    *,
    maps: dict[str, xr.Dataset],
    lat: np.ndarray,
    lon: np.ndarray,
) -> xr.Dataset:
    """Add the computed per-grid-point maps (``best_member_error_map``, ``efi``) to ``scores``.

    (The spectra and their intervals are added by :func:`hens.diagnostics.aggregate.spectra_intervals.add_spectra`.)

    Args:
        scores: the dataset of :func:`stats_to_dataset`.
        variables: the diagnosed variables, in the dataset's order.
        maps: per variable, the computed :func:`~hens.diagnostics.aggregate.fields.maps_lazy` dataset.
        lat, lon: the grid, degrees.

    Returns:
        ``scores`` with ``best_member_error_map(variable, map_lead_time, lat, lon)`` and
        ``efi(variable, init_time, map_lead_time, lat, lon)`` when the maps have it.
    """
    per_var = xr.concat([maps[v] for v in variables], dim="variable", coords="minimal", compat="override")
    per_var = per_var.assign_coords(variable=variables)
    per_var = per_var.rename({"lead_time": "map_lead_time"}).assign_coords(lat=lat, lon=lon)
    scores["best_member_error_map"] = per_var["best_member_error"].transpose("variable", "map_lead_time", "lat", "lon")
    scores["best_member_error_map"].attrs = {"long_name": "absolute error of the best member, mean over start dates"}
    if "efi" in per_var:
        scores["efi"] = per_var["efi"].transpose("variable", "init_time", "map_lead_time", "lat", "lon")
        scores["efi"].attrs = {"long_name": "Extreme Forecast Index vs the model climate", "units": "1"}
    return scores
