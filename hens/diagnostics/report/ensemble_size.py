"""The ensemble-size figure and table of the report (``subset_*`` variables of the scores, HENS Part II).

Every number is the lead-time mean over the lead times > 0 (at t = 0 the truth is the initial state) in one region
(global when there is one): CRPS, spread–skill ratio and outlier fraction per sub-ensemble size M as the mean over
the seeded draws with ± one standard deviation over them, and the kσ events as the share of points beyond kσ,
against what a calibrated Gaussian ensemble of that size would show (:mod:`hens.diagnostics.metrics.reference`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from hens.diagnostics.metrics.reference import sigma_distance_probabilities
from hens.diagnostics.report.style import LINESTYLES, REGION_COLORS, lead_hours, legend_outside, pick_region, plt, save

__all__ = ["calibrated_beyond", "ensemble_size_table", "plot_ensemble_size"]


def _keep(ds: xr.Dataset) -> np.ndarray:
    hours = lead_hours(ds)
    return hours > 0 if (hours > 0).any() else np.ones(hours.size, dtype=bool)


def _lead_mean(da: xr.DataArray, keep: np.ndarray) -> xr.DataArray:
    return da.isel(lead_time=np.flatnonzero(keep)).mean("lead_time")


def calibrated_beyond(k: float, n_members: int) -> float:
    """P(|y − x̄| > k s) for a calibrated Gaussian M-member ensemble: 2 (1 − F_{M−1}(k √(M/(M+1))))."""
    p = sigma_distance_probabilities([-np.inf, -k, k, np.inf], n_members)
    return float(p[0] + p[2])


def _sigma_share(ds: xr.Dataset, var: str, region: str, keep: np.ndarray) -> xr.DataArray:
    """Share of points beyond kσ ``(subset_size, sigma_threshold)``, all draws and lead times > 0 pooled."""
    idx = np.flatnonzero(keep)
    count = ds["subset_sigma_count"].sel(variable=var, region=region).isel(lead_time=idx).sum(("lead_time", "draw"))
    cases = ds["subset_cases"].sel(variable=var, region=region).isel(lead_time=idx).sum() * ds.sizes["draw"]
    return count / cases


def plot_ensemble_size(ds: xr.Dataset, path: Path) -> Path:
    """CRPS (fair and ecdf), spread–skill ratio, outlier fraction and kσ-event share against the sub-ensemble size."""
    variables = [str(v) for v in ds["variable"].values]
    region = pick_region(ds)
    keep = _keep(ds)
    sizes = ds["subset_size"].values.astype(float)
    fig, axes = plt.subplots(len(variables), 4, figsize=(17, 3.3 * len(variables)), squeeze=False)
    for i, var in enumerate(variables):
        mean = _lead_mean(ds["subset_scores_mean"].sel(variable=var, region=region), keep)
        sd = _lead_mean(ds["subset_scores_spread"].sel(variable=var, region=region), keep)
        for j, (name, label) in enumerate((("crps", "fair CRPS"), ("ecdf_crps", "ecdf CRPS"))):
            axes[i, 0].errorbar(
                sizes,
                mean.sel(subset_metric=name),
                yerr=sd.sel(subset_metric=name),
                color=REGION_COLORS[j],
                ls=LINESTYLES[j],
                marker="o",
                ms=3,
                capsize=3,
                label=label,
            )
        suff = float(ds["sufficient_size"].sel(variable=var, region=region))
        if np.isfinite(suff):
            axes[i, 0].axvline(suff, color="gray", ls=":", lw=1, label=f"sufficient M = {suff:g}")
        for col, name in ((1, "ssr"), (2, "outlier_fraction")):
            axes[i, col].errorbar(
                sizes,
                mean.sel(subset_metric=name),
                yerr=sd.sel(subset_metric=name),
                marker="o",
                ms=3,
                capsize=3,
                color=REGION_COLORS[0],
                label="measured (mean ± sd over draws)",
            )
        axes[i, 1].axhline(1.0, color="gray", ls=":", lw=0.8, label="SSR = 1 (calibrated)")
        axes[i, 2].plot(sizes, 2.0 / (sizes + 1.0), "k--", lw=1, label="2/(M+1) (calibrated)")
        share = _sigma_share(ds, var, region, keep)
        for j, k in enumerate(ds["sigma_threshold"].values):
            c = REGION_COLORS[(j + 1) % len(REGION_COLORS)]
            axes[i, 3].plot(sizes, share.sel(sigma_threshold=k), marker="o", ms=3, color=c, label=f"> {k:g}σ")
            ref = [calibrated_beyond(float(k), int(m)) for m in sizes]
            axes[i, 3].plot(sizes, ref, color=c, ls="--", lw=0.9, label=f"> {k:g}σ calibrated")
        axes[i, 3].set_yscale("symlog", linthresh=1e-4)
        units = str(ds["units"].sel(variable=var).values) if "units" in ds.coords else ""
        titles = ("CRPS", "spread–skill ratio", "outlier fraction", "share of kσ events")
        ylabels = (f"CRPS [{units or 'units of the data'}]", "SSR [1]", "fraction [1]", "fraction of points [1]")
        for col, ax in enumerate(axes[i]):
            ax.set_xscale("log")
            ax.set_xlim(sizes.min() / 1.3, sizes.max() * 1.3)  # also where every value is NaN (no valid point)
            ax.set_xticks(sizes, [f"{m:g}" for m in sizes])
            ax.minorticks_off()
            ax.set_xlabel("sub-ensemble size M")
            ax.set_ylabel(f"{var} {ylabels[col]}")
            ax.set_title(f"{var}: {titles[col]} ({region})")
            ax.grid(alpha=0.3)
    for col in range(4):
        legend_outside(axes[0, col])
    fig.suptitle(
        f"Scores against the ensemble size: mean ± sd over {int(ds.attrs.get('ensemble_size_draws', 1))} seeded "
        f"draws (seed {ds.attrs.get('ensemble_size_seed', 0)}), lead times > 0, {region}"
    )
    fig.tight_layout()
    return save(fig, path)


def _fmt(mean: float, sd: float) -> str:
    return f"{mean:.4g} ± {sd:.2g}" if np.isfinite(mean) else "–"


def ensemble_size_table(ds: xr.Dataset) -> tuple[str, list[str], list[list[str]]]:
    """``(intro, head, rows)`` of the report's ensemble-size section: one row per variable and size."""
    region = pick_region(ds)
    keep = _keep(ds)
    thresholds = [float(k) for k in ds["sigma_threshold"].values]
    head = ["variable", "M", "fair CRPS", "ecdf CRPS", "SSR", "outliers (2/(M+1))"]
    head += [f"points > {k:g}σ (calibrated)" for k in thresholds]
    head += [f"members beyond truth at > {k:g}σ" for k in thresholds]
    rows = []
    sufficient = []
    for var in [str(v) for v in ds["variable"].values]:
        mean = _lead_mean(ds["subset_scores_mean"].sel(variable=var, region=region), keep)
        sd = _lead_mean(ds["subset_scores_spread"].sel(variable=var, region=region), keep)
        share = _sigma_share(ds, var, region, keep)
        idx = np.flatnonzero(keep)
        beyond = ds["subset_beyond_truth"].sel(variable=var, region=region).isel(lead_time=idx)
        count = ds["subset_sigma_count"].sel(variable=var, region=region).isel(lead_time=idx)
        # pooled over lead times and draws: Σ (mean fraction × events) / Σ events
        pooled = (beyond.fillna(0.0) * count).sum(("lead_time", "draw")) / count.sum(("lead_time", "draw"))
        n_draws = ds.sizes["draw"]
        for m in ds["subset_size"].values:
            cell = {
                n: _fmt(float(mean.sel(subset_metric=n, subset_size=m)), float(sd.sel(subset_metric=n, subset_size=m)))
                for n in ("crps", "ecdf_crps", "ssr", "outlier_fraction")
            }
            row = [var, str(int(m)), cell["crps"], cell["ecdf_crps"], cell["ssr"]]
            row.append(f"{cell['outlier_fraction']} ({2.0 / (m + 1.0):.3g})")
            for k in thresholds:
                n_events = float(count.sel(subset_size=m, sigma_threshold=k).sum()) / n_draws
                got, ref = float(share.sel(subset_size=m, sigma_threshold=k)), calibrated_beyond(k, int(m))
                row.append(f"{n_events:.4g}: {got:.2e} ({ref:.2e})")
            for k in thresholds:
                value = float(pooled.sel(subset_size=m, sigma_threshold=k))
                row.append(f"{value:.3g}" if np.isfinite(value) else "– (no event)")
            rows.append(row)
        sufficient.append(f"{var}: {float(ds['sufficient_size'].sel(variable=var, region=region)):g}")
    tol = float(ds.attrs.get("ensemble_size_tolerance", 0.0))
    crit = str(ds.attrs.get("ensemble_size_criterion", "ecdf_crps"))
    intro = (
        f"Seeded sub-ensembles ({int(ds.attrs.get('ensemble_size_draws', 1))} draws per size without replacement, "
        f"seed {ds.attrs.get('ensemble_size_seed', 0)}), region {region}, mean over lead times > 0; values are the "
        f"mean ± standard deviation over draws. Smallest sufficient M (every larger size's {crit} within "
        f"{tol:.0%} of the full ensemble's): {', '.join(sufficient)}."
    )
    return intro, head, rows
