"""From the summed ensemble-size statistics to scores against the sub-ensemble size M (the *finish* step).

:func:`subsample_dataset` turns the sums of :mod:`hens.diagnostics.aggregate.subsample` (one per variable) into the
variables with a ``subset_size`` dimension that `hens diagnose` merges into its scores dataset.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from hens.diagnostics.aggregate.subsample import WEIGHTED_SUMS, SubsampleOptions, SubsampleStats
from hens.diagnostics.metrics.ensemble import spread_skill_ratio
from hens.diagnostics.metrics.extremes import expected_outlier_fraction
from hens.diagnostics.metrics.registry import finite_ratio
from hens.diagnostics.metrics.subsample import sufficient_size

__all__ = ["SUBSET_METRICS", "SubsampleSettings", "draw_scores", "subsample_dataset"]

#: The ``subset_metric`` coordinate: what each sub-ensemble is scored on, with units.
SUBSET_METRICS: dict[str, str] = {
    "crps": "fair CRPS (Ferro 2014), units of the variable",
    "ecdf_crps": "CRPS of the sub-ensemble's empirical CDF, units of the variable",
    "rmse": "RMSE of the sub-ensemble mean, units of the variable",
    "spread": "root of the mean unbiased variance, units of the variable",
    "ssr": "spread-skill ratio sqrt((M+1)/M) spread/RMSE, 1",
    "outlier_fraction": "fraction of points with the truth outside [min, max] of the sub-ensemble, 1",
}


@dataclass(frozen=True)
class SubsampleSettings:
    """How the sub-ensembles were drawn and how the sufficient size is chosen (recorded in the attributes).

    Attributes:
        seed: the seed of the draws; ``draws``: draws per size (from the options).
        tolerance: the fraction of :func:`~hens.diagnostics.metrics.subsample.sufficient_size`.
        criterion: ``"ecdf"`` or ``"fair"``: which CRPS the sufficient size is chosen on.
    """

    seed: int
    tolerance: float
    criterion: str


def draw_scores(sums: SubsampleStats, sizes: Sequence[int]) -> np.ndarray:
    """Every :data:`SUBSET_METRICS` score of every draw: float64 ``(subset_metric, L, R, S, D)``.

    Weighted means Σ w·field / Σ w (NaN where Σ w = 0); spread = √mean s², RMSE = √mean (x̄ − y)², SSR with the
    sub-ensemble's own size in √((M+1)/M).
    """
    w = sums["weight"][..., None, None]
    mean = {name: finite_ratio(sums[name], np.broadcast_to(w, sums[name].shape)) for name in WEIGHTED_SUMS}
    ssr = np.stack(
        [
            spread_skill_ratio(mean["variance"][:, :, k], mean["squared_error"][:, :, k], int(size))
            for k, size in enumerate(sizes)
        ],
        axis=2,
    )
    return np.stack(
        [
            mean["crps"],
            mean["ecdf_crps"],
            np.sqrt(mean["squared_error"]),
            np.sqrt(mean["variance"]),
            ssr,
            mean["outlier"],
        ]
    )


def _over_draws(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (ddof 1; 0 with one draw) over the last axis, ignoring NaN draws."""
    with warnings.catch_warnings():  # all-NaN draws (no kσ event) give NaN, silently
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(values, axis=-1)
        spread = np.nanstd(values, axis=-1, ddof=1) if values.shape[-1] > 1 else np.zeros_like(mean)
        spread = np.where(np.nanmax(values, axis=-1) == np.nanmin(values, axis=-1), 0.0, spread)  # identical draws
    return mean, spread


def _lead_mean(crps: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """Mean over the lead axis (axis 1 of ``(V, L, R, S)``) of the lead times > 0 (all when there are none)."""
    keep = hours > 0 if (hours > 0).any() else np.ones(hours.size, dtype=bool)
    return crps[:, keep].mean(axis=1)


def subsample_dataset(
    stats: dict[str, SubsampleStats],
    *,
    lead_time: np.ndarray,
    regions: Sequence[str],
    options: SubsampleOptions,
    settings: SubsampleSettings,
) -> xr.Dataset:
    """The ensemble-size variables of the scores dataset.

    Returns:
        Dataset with coordinates ``subset_size``, ``draw``, ``sigma_threshold``, ``subset_metric`` (and
        ``variable``, ``lead_time``, ``region``) and variables

        * ``subset_scores(subset_metric, variable, lead_time, region, subset_size, draw)`` — per draw;
          ``subset_scores_mean`` / ``subset_scores_spread`` — mean and standard deviation over the draws;
        * ``subset_sigma_count(variable, lead_time, region, subset_size, draw, sigma_threshold)`` — number of
          points (start dates × grid points, unweighted) with the truth beyond kσ of the sub-ensemble mean, and
          ``subset_sigma_count_mean`` over draws; ``subset_cases(variable, lead_time, region)`` — valid points;
        * ``subset_beyond_truth(…, sigma_threshold)`` — among those kσ events, the mean fraction of members more
          extreme than the truth (:func:`~hens.diagnostics.metrics.subsample.fraction_beyond_truth`), NaN without
          events; ``subset_beyond_truth_mean`` over draws (ignoring draws without events);
        * ``sufficient_size(variable, region)`` — the smallest size from which on the CRPS (``settings.criterion``,
          mean over draws, averaged over the lead times > 0) is within ``settings.tolerance`` of the full
          ensemble's; ``sufficient_size_by_lead(variable, lead_time, region)`` — the same per lead time;
        * ``subset_members(subset_size, draw, member_slot)`` — the member positions of each draw (−1 pads).
    """
    variables = list(stats)
    sizes = options.sizes
    per_draw = np.stack([draw_scores(stats[v], sizes) for v in variables], axis=1)  # (F, V, L, R, S, D)
    mean, spread = _over_draws(per_draw)
    count = np.stack([stats[v]["sigma_count"] for v in variables])  # (V, L, R, S, D, K)
    beyond = finite_ratio(np.stack([stats[v]["beyond"] for v in variables]), count)
    hours = np.asarray(lead_time, dtype="timedelta64[s]").astype(np.int64) / 3600.0
    crps_name = "ecdf_crps" if settings.criterion == "ecdf" else "crps"
    crit = mean[list(SUBSET_METRICS).index(crps_name)]  # (V, L, R, S)
    dims = ("variable", "lead_time", "region")
    sub = dims + ("subset_size", "draw")
    attrs = {"draws": options.draws, "seed": settings.seed}
    data_vars = {
        "subset_scores": (("subset_metric",) + sub, per_draw, {"long_name": "scores of sub-ensembles", **attrs}),
        "subset_scores_mean": (("subset_metric",) + sub[:-1], mean, {"long_name": "mean over draws", **attrs}),
        "subset_scores_spread": (
            ("subset_metric",) + sub[:-1],
            spread,
            {"long_name": "standard deviation over draws", **attrs},
        ),
        "subset_sigma_count": (
            sub + ("sigma_threshold",),
            count,
            {"long_name": "points with |truth - mean| > k std of the sub-ensemble", "units": "1", **attrs},
        ),
        "subset_sigma_count_mean": (
            sub[:-1] + ("sigma_threshold",),
            count.mean(axis=4),
            {"long_name": "mean over draws of subset_sigma_count", "units": "1", **attrs},
        ),
        "subset_cases": (dims, np.stack([stats[v]["cases"] for v in variables]), {"long_name": "valid points"}),
        "subset_beyond_truth": (
            sub + ("sigma_threshold",),
            beyond,
            {"long_name": "mean fraction of members beyond the truth in the k-sigma events", "units": "1", **attrs},
        ),
        "subset_beyond_truth_mean": (
            sub[:-1] + ("sigma_threshold",),
            _over_draws(np.moveaxis(beyond, 4, -1))[0],  # draws are axis 4, before sigma_threshold
            {"long_name": "mean over draws of subset_beyond_truth", "units": "1", **attrs},
        ),
        "sufficient_size": (
            ("variable", "region"),
            sufficient_size(sizes, _lead_mean(crit, hours), settings.tolerance),
            {"long_name": f"smallest M with {crps_name} (lead mean) within the tolerance of the full ensemble's"},
        ),
        "sufficient_size_by_lead": (
            dims,
            sufficient_size(sizes, crit, settings.tolerance),
            {"long_name": f"smallest M with {crps_name} within the tolerance of the full ensemble's, per lead"},
        ),
        "subset_members": (
            ("subset_size", "draw", "member_slot"),
            options.subsets.astype(np.int32),
            {"long_name": "member positions of each draw (after excluded members), -1 = none", **attrs},
        ),
    }
    coords = {
        "subset_metric": list(SUBSET_METRICS),
        "variable": variables,
        "lead_time": np.asarray(lead_time, dtype="timedelta64[ns]"),
        "region": list(regions),
        "subset_size": np.asarray(sizes, dtype=np.int32),
        "draw": np.arange(options.draws, dtype=np.int32),
        "sigma_threshold": np.asarray(options.sigma_thresholds, dtype=np.float64),
        "expected_outlier_fraction_by_size": ("subset_size", [expected_outlier_fraction(s) for s in sizes]),
    }
    ds = xr.Dataset(data_vars, coords=coords)
    ds.attrs.update(
        {
            "ensemble_size_draws": int(options.draws),
            "ensemble_size_seed": int(settings.seed),
            "ensemble_size_tolerance": float(settings.tolerance),
            "ensemble_size_criterion": crps_name,
            "ensemble_size_metrics": "; ".join(f"{k}: {v}" for k, v in SUBSET_METRICS.items()),
        }
    )
    return ds
