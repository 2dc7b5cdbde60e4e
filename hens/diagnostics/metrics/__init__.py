"""Metrics: pure NumPy array functions (NumPy in, NumPy out) for mapping over Dask chunks.

* :mod:`~hens.diagnostics.metrics.members` — the member-axis conventions shared by every function.
* :mod:`~hens.diagnostics.metrics.ensemble` — ensemble mean, variance, squared error, spread–skill ratio.
* :mod:`~hens.diagnostics.metrics.crps` — fair and empirical-CDF CRPS by sorting the members, O(M log M).
* :mod:`~hens.diagnostics.metrics.rank` — rank of the truth among the members, rank-histogram counts.
* :mod:`~hens.diagnostics.metrics.probability` — exceedance probability, (fair) Brier score and its decomposition,
  reliability and ROC as additive counts.
* :mod:`~hens.diagnostics.metrics.extremes` — EFI, outliers, best member, σ-distance, threshold-weighted CRPS.
* :mod:`~hens.diagnostics.metrics.spectra` — angular power spectra with torch-harmonics, wavelengths (imported
  on its own: ``from hens.diagnostics.metrics.spectra import angular_power_spectrum``, to keep torch out of
  the other imports).
* :mod:`~hens.diagnostics.metrics.registry` — the mean-type scores as statistics + finish functions.

Area weights, region masks and weighted means are in :mod:`hens.diagnostics.weights`.

Conventions: ``forecast`` holds the members along ``member_axis`` (default 0; use -1 under
``xarray.apply_ufunc``, which moves core dimensions last) and the whole member axis must be in one chunk; ``obs``
has the forecast's shape without the member axis. Results are float64 whatever the input precision; NaN in any
member or in ``obs`` gives NaN in per-point scores and is skipped by counts. Cost per point is O(M) or O(M log M).
"""

from hens.diagnostics.metrics.crps import ecdf_crps, fair_crps
from hens.diagnostics.metrics.ensemble import (
    ensemble_mean,
    ensemble_mean_squared_error,
    ensemble_variance,
    spread_skill_ratio,
)
from hens.diagnostics.metrics.extremes import (
    best_member_error,
    efi,
    expected_outlier_fraction,
    outlier_fraction,
    sigma_distance,
    twcrps,
)
from hens.diagnostics.metrics.probability import (
    BrierDecomposition,
    ReliabilityCounts,
    ReliabilityCurve,
    RocCounts,
    RocCurve,
    brier_decomposition,
    brier_score,
    exceedance_probability,
    fair_brier_score,
    reliability_counts,
    reliability_curve,
    reliability_curve_from_counts,
    roc_counts,
    roc_curve,
    roc_curve_from_counts,
)
from hens.diagnostics.metrics.rank import obs_rank, rank_counts, rank_histogram_counts

__all__ = [
    "BrierDecomposition",
    "ReliabilityCounts",
    "ReliabilityCurve",
    "RocCounts",
    "RocCurve",
    "best_member_error",
    "brier_decomposition",
    "brier_score",
    "ecdf_crps",
    "efi",
    "ensemble_mean",
    "ensemble_mean_squared_error",
    "ensemble_variance",
    "exceedance_probability",
    "expected_outlier_fraction",
    "fair_brier_score",
    "fair_crps",
    "obs_rank",
    "outlier_fraction",
    "rank_counts",
    "rank_histogram_counts",
    "reliability_counts",
    "reliability_curve",
    "reliability_curve_from_counts",
    "roc_counts",
    "roc_curve",
    "roc_curve_from_counts",
    "sigma_distance",
    "spread_skill_ratio",
    "twcrps",
]
