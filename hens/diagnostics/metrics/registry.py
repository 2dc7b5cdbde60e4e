"""Mean-type scores as *statistics + finish* (WeatherBench-X's pattern): the one place where such a score is defined.

A :class:`Metric` names the additive per-point :class:`Statistic` s it needs and a ``finish`` function that turns
their sums into the score. :data:`METRICS` drives both ends of `hens diagnose`:

* per block, :func:`hens.diagnostics.aggregate.block.block_statistics` evaluates every statistic of
  :data:`STATISTICS` (the statistics of all metrics, once each) with the pure functions of
  :mod:`hens.diagnostics.metrics`, and keeps ``Σ w · field`` per (lead time, region) under the statistic's name,
  next to ``weight`` = ``Σ w`` (w = cos φ × region mask × valid point);
* the Dask graph adds these sums over blocks (start dates, lead chunks, lat/lon tiles);
* :func:`hens.diagnostics.aggregate.scores.stats_to_dataset` calls each metric's ``finish`` on the totals to fill
  ``scores(metric, variable, lead_time, region)`` in the order of :data:`METRICS`, and writes the units in the
  variable's ``comment``.

**Adding a mean-type metric** is one entry in :data:`METRICS` — reusing a registered statistic, or with a new
:class:`Statistic` whose ``field`` computes the per-point value from an :class:`EnsembleSample`, e.g. the mean
absolute error of the ensemble mean::

    Metric(
        "mae",
        (Statistic("abs_error", lambda s: np.abs(s.error), "|x̄ − y|, units of the data"),),
        lambda sums, m: weighted_mean(sums, "abs_error"),
        DATA_UNITS,
        "mean absolute error of the ensemble mean",
    )

Metrics that are not weighted means (rank and σ histograms, reliability, ROC, Brier decomposition) have their
own additive counts; see :mod:`hens.diagnostics.aggregate.block`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from hens.diagnostics.metrics.ensemble import ensemble_mean, ensemble_variance, spread_skill_ratio
from hens.diagnostics.metrics.extremes import best_member_error, outlier_fraction

__all__ = [
    "DATA_UNITS",
    "DIMENSIONLESS",
    "METRICS",
    "STATISTICS",
    "WEIGHT",
    "EnsembleSample",
    "Metric",
    "Statistic",
    "finite_ratio",
    "weighted_mean",
]

#: Key of ``Σ w`` (the latitude-weighted count of valid points) among the sums.
WEIGHT = "weight"
#: :attr:`Metric.units` of a score in the units of the diagnosed variable.
DATA_UNITS = "units of the variable"
#: :attr:`Metric.units` of a dimensionless score.
DIMENSIONLESS = "1"


@dataclass(frozen=True)
class EnsembleSample:
    """The members and truth of one block at one lead time, and the per-point moments several statistics share.

    Attributes:
        forecast: members ``[M, nlat_b, nlon_b]`` (any float dtype, as stored).
        obs: truth ``[nlat_b, nlon_b]``, float64.
        device: where the torch kernels (the fair CRPS) run: ``cpu`` | ``cuda`` (``diagnose.device``).
    """

    forecast: np.ndarray
    obs: np.ndarray
    device: str = "cpu"

    @cached_property
    def mean(self) -> np.ndarray:
        """Ensemble mean x̄, float64 ``[nlat_b, nlon_b]``."""
        return ensemble_mean(self.forecast, member_axis=0)

    @cached_property
    def variance(self) -> np.ndarray:
        """Unbiased ensemble variance s², float64 ``[nlat_b, nlon_b]`` (units²)."""
        return ensemble_variance(self.forecast, member_axis=0)

    @cached_property
    def error(self) -> np.ndarray:
        """Error of the ensemble mean x̄ − y, float64 ``[nlat_b, nlon_b]``."""
        return self.mean - self.obs


@dataclass(frozen=True)
class Statistic:
    """A per-point field whose latitude-weighted sum ``Σ w · field`` is kept per (lead time, region) and block.

    Attributes:
        name: key of the sum among the block statistics (unique).
        field: the per-point value, float64 ``[nlat_b, nlon_b]``, from one lead time of a block; invalid points
            (a NaN member or truth) are zeroed by the caller, so the field may be anything there.
        long_name: what the field is, with its units.
    """

    name: str
    field: Callable[[EnsembleSample], np.ndarray]
    long_name: str


#: ``finish(sums, n_members)``: the score ``[lead, region]`` from the summed statistics (keyed by name, plus
#: :data:`WEIGHT`) and the ensemble size M.
Finish = Callable[[Mapping[str, np.ndarray], int], np.ndarray]


@dataclass(frozen=True)
class Metric:
    """A score of ``scores(metric, …)``: the statistics it needs and how their sums become the score.

    Attributes:
        name: the ``metric`` coordinate value.
        statistics: the statistics ``finish`` reads (besides :data:`WEIGHT`).
        finish: turns the summed statistics into the score (NaN where the region has no valid point).
        units: :data:`DATA_UNITS`, :data:`DIMENSIONLESS` or a unit string.
        long_name: what the score is.
    """

    name: str
    statistics: tuple[Statistic, ...]
    finish: Finish
    units: str
    long_name: str


def finite_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` where ``den > 0``, NaN elsewhere (no warning), float64."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def weighted_mean(sums: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    """The latitude-weighted mean ``Σ w · field / Σ w`` of statistic ``name`` (NaN where ``Σ w = 0``)."""
    return finite_ratio(sums[name], sums[WEIGHT])


# ---------------------------------------------------------------------------------------------------------------
# Statistics: per-point fields, computed by the pure metric functions
# ---------------------------------------------------------------------------------------------------------------

ERROR = Statistic("error", lambda s: s.error, "error of the ensemble mean x̄ − y, units of the data")
SQUARED_ERROR = Statistic("squared_error", lambda s: s.error**2, "squared error of the ensemble mean (x̄ − y)², units²")


def _fair_crps(s: EnsembleSample) -> np.ndarray:
    """Fair CRPS on torch on ``s.device`` (equal to :func:`~hens.diagnostics.metrics.crps.fair_crps` to
    rounding; see :mod:`hens.diagnostics.metrics.crps_torch`)."""
    from hens.diagnostics.metrics.crps_torch import crps_torch

    return crps_torch(s.forecast, s.obs, member_axis=0, fair=True, device=s.device)


CRPS = Statistic("crps", _fair_crps, "fair CRPS, units of the data")
VARIANCE = Statistic("variance", lambda s: s.variance, "unbiased ensemble variance s², units²")
OUTLIER = Statistic(
    "outlier",
    lambda s: outlier_fraction(s.forecast, s.obs, member_axis=0),
    "1 where the truth is outside [min, max] of the members, else 0",
)
BEST_MEMBER_ERROR = Statistic(
    "best_member_error",
    lambda s: best_member_error(s.forecast, s.obs, member_axis=0),
    "absolute error of the best member min_i |x_i − y|, units of the data",
)


# ---------------------------------------------------------------------------------------------------------------
# Metrics: statistics + finish, in the order of the ``metric`` coordinate
# ---------------------------------------------------------------------------------------------------------------


def _ssr(sums: Mapping[str, np.ndarray], n_members: int) -> np.ndarray:
    """√((M+1)/M) · √(Σw·s²/Σw) / √(Σw·(x̄−y)²/Σw): spread–skill ratio with Fortin's correction."""
    ratio = spread_skill_ratio(weighted_mean(sums, "variance"), weighted_mean(sums, "squared_error"), n_members)
    return np.where(sums[WEIGHT] > 0, ratio, np.nan)


METRICS: tuple[Metric, ...] = (
    Metric(
        "rmse",
        (SQUARED_ERROR,),
        lambda sums, m: np.sqrt(weighted_mean(sums, "squared_error")),
        DATA_UNITS,
        "root-mean-square error of the ensemble mean",
    ),
    Metric(
        "bias",
        (ERROR,),
        lambda sums, m: weighted_mean(sums, "error"),
        DATA_UNITS,
        "mean error of the ensemble mean (x̄ − y)",
    ),
    Metric("crps", (CRPS,), lambda sums, m: weighted_mean(sums, "crps"), DATA_UNITS, "fair CRPS (Ferro 2014)"),
    Metric(
        "spread",
        (VARIANCE,),
        lambda sums, m: np.sqrt(weighted_mean(sums, "variance")),
        DATA_UNITS,
        "ensemble spread, root of the mean unbiased variance",
    ),
    Metric(
        "ssr",
        (VARIANCE, SQUARED_ERROR),
        _ssr,
        DIMENSIONLESS,
        "spread–skill ratio √((M+1)/M) · spread / RMSE (Fortin et al. 2014)",
    ),
    Metric(
        "outlier_fraction",
        (OUTLIER,),
        lambda sums, m: weighted_mean(sums, "outlier"),
        DIMENSIONLESS,
        "fraction of points with the truth outside the ensemble range (calibrated: 2/(M+1))",
    ),
    Metric(
        "best_member_mae",
        (BEST_MEMBER_ERROR,),
        lambda sums, m: weighted_mean(sums, "best_member_error"),
        DATA_UNITS,
        "mean absolute error of the best member at each point",
    ),
)


def _statistics(metrics: tuple[Metric, ...]) -> tuple[Statistic, ...]:
    """The statistics of ``metrics``, once each, in order of first use; checks that names are unique."""
    names = [metric.name for metric in metrics]
    if len(set(names)) != len(names):
        raise ValueError(f"metric names must be unique, got {names}")
    seen: dict[str, Statistic] = {}
    for metric in metrics:
        for stat in metric.statistics:
            if stat.name == WEIGHT:
                raise ValueError(f"metric {metric.name!r}: statistic name {WEIGHT!r} is reserved for Σ w")
            if seen.setdefault(stat.name, stat) is not stat:
                raise ValueError(f"metric {metric.name!r}: two different statistics are named {stat.name!r}")
    return tuple(seen.values())


#: Every statistic a registered metric needs, once each: what each block computes and sums.
STATISTICS: tuple[Statistic, ...] = _statistics(METRICS)
