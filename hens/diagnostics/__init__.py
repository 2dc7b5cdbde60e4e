"""Ensemble diagnostics: pure NumPy array functions (NumPy in, NumPy out) for mapping over Dask chunks.

* :mod:`hens.diagnostics.weights` — cos(latitude) weights and region masks.
* :mod:`hens.diagnostics.mean` — ensemble mean/variance, fair and empirical CRPS (sorted members,
  O(M log M)), rank histogram counts, spread–skill ratio, latitude-weighted means.
* :mod:`hens.diagnostics.spectral` — angular power spectra with torch-harmonics (imported lazily:
  ``from hens.diagnostics.spectral import angular_power_spectrum``), wavelengths.
* :mod:`hens.diagnostics.extremes` — exceedance probability, (fair) Brier score and decomposition,
  reliability and ROC as additive counts, EFI, outliers, best member, σ-distance, twCRPS.

Functions take the member axis as ``member_axis=`` (default 0; use -1 under ``xarray.apply_ufunc``).
"""

from hens.diagnostics.extremes import (
    BrierDecomposition,
    ReliabilityCounts,
    ReliabilityCurve,
    RocCounts,
    RocCurve,
    best_member_error,
    brier_decomposition,
    brier_score,
    efi,
    exceedance_probability,
    expected_outlier_fraction,
    fair_brier_score,
    outlier_fraction,
    reliability_counts,
    reliability_curve,
    reliability_curve_from_counts,
    roc_counts,
    roc_curve,
    roc_curve_from_counts,
    sigma_distance,
    twcrps,
)
from hens.diagnostics.mean import (
    ecdf_crps,
    ensemble_mean,
    ensemble_mean_squared_error,
    ensemble_variance,
    fair_crps,
    lat_weighted_mean,
    lat_weighted_sums,
    obs_rank,
    rank_counts,
    rank_histogram_counts,
    spread_skill_ratio,
)
from hens.diagnostics.weights import REGIONS, latitude_weights, region_mask

__all__ = [
    "REGIONS",
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
    "lat_weighted_mean",
    "lat_weighted_sums",
    "latitude_weights",
    "obs_rank",
    "outlier_fraction",
    "rank_counts",
    "rank_histogram_counts",
    "region_mask",
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
