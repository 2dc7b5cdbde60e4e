"""Calibration plots with their references and sampling bands: rank histograms, outlier fraction, σ-distance.

References drawn: the uniform rank histogram, the calibrated outlier fraction 2/(M+1), and the calibrated law of
(y − x̄)/s, √((M+1)/M)·t_{M−1} (:mod:`hens.diagnostics.metrics.reference`). The grey band around a reference is
the bootstrap sampling spread of the measured quantity centred on the reference: how far a calibrated ensemble
scored on the same units could stray from it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from hens.diagnostics.metrics.reference import sigma_distance_probabilities
from hens.diagnostics.report.style import (
    BAND_ALPHA,
    LEAD_COLORS,
    LINESTYLES,
    band,
    interval,
    lead_hours,
    legend_outside,
    pick_leads,
    pick_region,
    plt,
    sample_note,
    save,
)

__all__ = ["map_leads", "plot_outliers", "plot_rank_histograms"]


def map_leads(ds: xr.Dataset) -> list[int]:
    """Lead-time indices of the map lead times (for reliability/ROC/σ), falling back to a spread of leads."""
    hours = lead_hours(ds)
    if "map_lead_time" in ds.coords:
        want = lead_hours(ds, "map_lead_time")
        return [int(np.argmin(np.abs(hours - h))) for h in want]
    return pick_leads(hours, 2)


def _coarsen(values: np.ndarray, group: int) -> np.ndarray:
    """Means of ``group`` consecutive entries along the last axis (the last group may be shorter)."""
    n = values.shape[-1]
    pad = (-n) % group
    padded = np.concatenate([values, np.full(values.shape[:-1] + (pad,), np.nan)], axis=-1)
    return np.nanmean(padded.reshape(*values.shape[:-1], -1, group), axis=-1)


def _reference_band(ax: plt.Axes, x0: float, x1: float, centre: float, half: float, label: str) -> None:
    ax.axhline(centre, color="k", ls="--", lw=1, label=label)
    if np.isfinite(half):
        ax.axhspan(
            centre - half, centre + half, color="gray", alpha=BAND_ALPHA, lw=0, label="± bootstrap sampling spread"
        )


def plot_rank_histograms(ds: xr.Dataset, path: Path, region: str = "global", max_bars: int = 50) -> Path:
    """Rank histograms (relative frequency × (M+1), flat = 1) at a few lead times with bootstrap error bars, and
    the uniform line with its sampling band."""
    region = pick_region(ds, region)
    variables = list(ds["variable"].values)
    hours = lead_hours(ds)
    leads = pick_leads(hours)
    m = int(ds.attrs.get("n_members", ds.sizes["rank"] - 1))
    group = int(np.ceil((m + 1) / max_bars))
    fig, axes = plt.subplots(
        len(variables), len(leads), figsize=(4.4 * len(leads) + 2, 3.0 * len(variables)), squeeze=False
    )
    for i, var in enumerate(variables):
        for j, lead in enumerate(leads):
            freq = ds["rank_histogram"].sel(variable=var, region=region).isel(lead_time=lead).values * (m + 1)
            bounds = interval(ds, "rank_histogram", variable=var, region=region)
            h = _coarsen(freq, group)
            x = np.arange(h.size) * group + (group - 1) / 2.0
            ax = axes[i, j]
            err = None
            half = np.nan
            if bounds is not None:
                b = _coarsen(bounds[:, lead] * (m + 1), group)
                err = np.abs(np.stack([h - b[0], b[1] - h]))
                half = float(np.nanmean(b[1] - b[0]) / 2.0)
            ax.bar(
                x,
                h,
                width=group * 0.9,
                color="#0072B2",
                label="truth's rank",
                yerr=err,
                ecolor="#555555",
                error_kw={"lw": 0.7},
            )
            _reference_band(ax, -1, m + 1, 1.0, half, "uniform (calibrated)")
            ax.set_title(f"{var}, lead {hours[lead]:g} h, {region}")
            ax.set_xlabel(f"rank of the truth among M = {m} members" + (f" (bars of {group})" if group > 1 else ""))
            ax.set_ylabel("relative frequency × (M+1)")
            ax.set_xlim(-1, m + 1)
    legend_outside(axes[0, -1])
    fig.suptitle(
        "Rank histograms (U-shape: under-dispersive; dome: over-dispersive; slope: bias); error bars and band: "
        f"bootstrap\n{sample_note(ds, region)}"
    )
    fig.tight_layout()
    return save(fig, path)


def _sigma_labels(ds: xr.Dataset) -> list[str]:
    lower, upper = ds["sigma_lower"].values, ds["sigma_upper"].values
    return [
        f"<{u:g}" if np.isinf(lo) else (f">{lo:g}" if np.isinf(u) else f"{lo:g}…{u:g}")
        for lo, u in zip(lower, upper, strict=True)
    ]


def _outlier_panel(ax: plt.Axes, ds: xr.Dataset, region: str) -> None:
    """Outlier fraction vs lead (> 0) per variable with bands, and 2/(M+1) with its sampling band."""
    hours = lead_hours(ds)
    keep = hours > 0 if (hours > 0).any() else np.ones(hours.size, dtype=bool)
    m = int(ds.attrs.get("n_members", 0))
    expected = float(ds.attrs.get("expected_outlier_fraction", np.nan))
    halves = []
    for i, var in enumerate(ds["variable"].values):
        color = LEAD_COLORS[i % len(LEAD_COLORS)]
        frac = ds["scores"].sel(metric="outlier_fraction", variable=var, region=region).values
        ax.plot(hours[keep], frac[keep], color=color, ls=LINESTYLES[i % len(LINESTYLES)], label=str(var))
        bounds = interval(ds, "scores", metric="outlier_fraction", variable=var, region=region)
        band(ax, hours[keep], None if bounds is None else bounds[:, keep], color)
        if bounds is not None:
            halves.append(np.nanmean(bounds[1, keep] - bounds[0, keep]) / 2.0)
    half = float(np.mean(halves)) if halves else np.nan
    _reference_band(ax, hours[keep][0], hours[-1], expected, half, f"calibrated 2/(M+1) = {expected:.3f} (M = {m})")
    ax.set_xlabel("lead time [h]")
    ax.set_ylabel("fraction of points with truth outside [min, max]")
    ax.set_title(f"Outlier fraction, {region} (lead > 0)")
    ax.grid(alpha=0.3)
    legend_outside(ax)


def plot_outliers(ds: xr.Dataset, path: Path, region: str = "global") -> Path:
    """Outlier fraction vs lead time against 2/(M+1), and the histogram of the truth's σ-distance against the
    calibrated √((M+1)/M)·t_{M−1} law, with bootstrap bands and error bars."""
    region = pick_region(ds, region)
    variables = list(ds["variable"].values)
    hours = lead_hours(ds)
    m = int(ds.attrs.get("n_members", 0))
    leads = map_leads(ds)
    fig, axes = plt.subplots(1, 2, figsize=(15, 4.6), width_ratios=(1, 1.3))
    _outlier_panel(axes[0], ds, region)
    labels = _sigma_labels(ds)
    x = np.arange(len(labels))
    n_bars = len(variables) * len(leads)
    width = 0.8 / max(n_bars, 1)
    k = 0
    for v_i, var in enumerate(variables):
        bounds = interval(ds, "sigma_histogram", variable=var, region=region)
        for l_i, lead in enumerate(leads):
            h = ds["sigma_histogram"].sel(variable=var, region=region).isel(lead_time=lead).values
            err = None if bounds is None else np.abs(np.stack([h - bounds[0, lead], bounds[1, lead] - h]))
            axes[1].bar(
                x + (k - (n_bars - 1) / 2) * width,
                h,
                width=width,
                yerr=err,
                error_kw={"lw": 0.6},
                color=LEAD_COLORS[v_i % len(LEAD_COLORS)],
                alpha=1.0 - 0.45 * l_i / max(len(leads) - 1, 1),
                hatch="" if l_i == 0 else "//",
                label=f"{var}, {hours[lead]:g} h",
            )
            k += 1
    if m >= 2:
        edges = np.concatenate([ds["sigma_lower"].values, ds["sigma_upper"].values[-1:]])
        ref = sigma_distance_probabilities(edges, m)
        axes[1].step(
            np.r_[x - 0.5, x[-1] + 0.5],
            np.r_[ref, ref[-1]],
            where="post",
            color="k",
            lw=1.4,
            label=f"calibrated: √((M+1)/M)·t(M−1), M = {m}",
        )
    axes[1].set_xticks(x, labels, rotation=45, fontsize=8)
    if np.nanmax(ds["sigma_histogram"].values, initial=0.0) > 0:
        axes[1].set_yscale("log")
    axes[1].set_xlabel("(truth − ensemble mean) / ensemble σ")
    axes[1].set_ylabel("relative frequency")
    axes[1].set_title(f"Truth's distance from the ensemble mean in σ, {region}")
    legend_outside(axes[1])
    fig.suptitle(f"Outliers and σ-distances\n{sample_note(ds, region)}")
    fig.tight_layout()
    return save(fig, path)
