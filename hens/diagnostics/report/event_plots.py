"""Reliability diagrams (with sharpness histograms, counts and bootstrap error bars) and ROC curves (with the
bootstrap interval of their area), for events "value above a climatological percentile"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from hens.diagnostics.report.calibration_plots import map_leads
from hens.diagnostics.report.style import (
    LEAD_COLORS,
    LINESTYLES,
    MIN_BIN_CASES,
    interval,
    lead_hours,
    legend_outside,
    pick_region,
    plt,
    sample_note,
    save,
)

__all__ = ["bin_cases", "plot_reliability", "plot_roc"]


def bin_cases(ds: xr.Dataset, counts: np.ndarray, region: str) -> np.ndarray:
    """Equivalent number of forecasts per reliability bin: the bin's share of the (cos-latitude-weighted) count
    × start dates × grid points of the region."""
    n_init = int(ds.attrs.get("n_init_times", ds.sizes.get("init_time", 1)))
    n_points = int(ds["n_points"].sel(region=region)) if "n_points" in ds else 1
    total = np.nansum(counts)
    return counts / total * n_init * n_points if total > 0 else np.zeros_like(counts)


def _fmt_interval(bounds: np.ndarray | None, digits: int = 2) -> str:
    if bounds is None or not np.all(np.isfinite(bounds)):
        return ""
    return f" [{bounds[0]:.{digits}f}, {bounds[1]:.{digits}f}]"


def _reliability_panel(ax: plt.Axes, ds: xr.Dataset, var: str, pct: float, region: str, leads: list[int]) -> None:
    hours = lead_hours(ds)
    ax.plot([0, 1], [0, 1], color="gray", ls="--", lw=1, label="perfect reliability")
    sharp = ax.inset_axes((0.07, 0.64, 0.38, 0.26))  # upper left: where over-confident points never go
    sel = dict(variable=var, percentile=pct, region=region)
    width = 1.0 / ds.sizes["prob_bin"]
    for j, lead in enumerate(leads):
        color = LEAD_COLORS[j % len(LEAD_COLORS)]
        prob = ds["reliability_prob"].sel(sel).isel(lead_time=lead).values
        freq = ds["reliability_freq"].sel(sel).isel(lead_time=lead).values
        cases = bin_cases(ds, ds["reliability_count"].sel(sel).isel(lead_time=lead).values, region)
        bss = float(ds["brier_skill_score"].sel(sel).isel(lead_time=lead))
        bss_i = interval(ds, "brier_skill_score", **sel)
        f_i = interval(ds, "reliability_freq", **sel)
        ok = np.isfinite(prob) & np.isfinite(freq)
        ax.plot(
            prob[ok],
            freq[ok],
            color=color,
            ls=LINESTYLES[j % len(LINESTYLES)],
            lw=1,
            label=f"{hours[lead]:g} h: BSS {bss:.2f}{_fmt_interval(None if bss_i is None else bss_i[:, lead])}",
        )
        if f_i is not None:
            err = np.abs(np.stack([freq - f_i[0, lead], f_i[1, lead] - freq]))[:, ok]
            ax.errorbar(prob[ok], freq[ok], yerr=err, fmt="none", ecolor=color, lw=0.7, capsize=2)
        solid = ok & (cases >= MIN_BIN_CASES)
        hollow = ok & (cases < MIN_BIN_CASES)
        ax.plot(prob[solid], freq[solid], "o", color=color, ms=4)
        ax.plot(prob[hollow], freq[hollow], "o", mfc="white", mec=color, ms=4)
        centres = ds["prob_bin"].values
        sharp.bar(
            centres + (j - (len(leads) - 1) / 2) * width / len(leads), cases, width=width / len(leads), color=color
        )
    sharp.set_yscale("log")
    sharp.set_xlim(0, 1)
    sharp.set_title("cases per bin", fontsize=6, pad=2)
    sharp.tick_params(labelsize=5)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("forecast probability")
    ax.set_ylabel("observed frequency")
    base = float(ds["base_rate"].sel(sel).isel(lead_time=leads[0]))
    ax.set_title(f"{var} > clim. {pct:g}th pct, {region} (base rate {base:.3f})")
    ax.grid(alpha=0.3)
    legend_outside(ax)


def plot_reliability(ds: xr.Dataset, path: Path, region: str = "global") -> Path:
    """Reliability diagrams for P(value > climatological percentile), per variable and percentile: bootstrap error
    bars, hollow markers for bins with fewer than :data:`MIN_BIN_CASES` cases, and the sharpness histogram."""
    region = pick_region(ds, region)
    variables = list(ds["variable"].values)
    pcts = ds["percentile"].values
    leads = map_leads(ds)
    fig, axes = plt.subplots(len(variables), len(pcts), figsize=(6.6 * len(pcts), 4.0 * len(variables)), squeeze=False)
    for i, var in enumerate(variables):
        for k, pct in enumerate(pcts):
            _reliability_panel(axes[i, k], ds, str(var), float(pct), region, leads)
    fig.suptitle(
        f"Reliability diagrams (on the diagonal: reliable; hollow: < {MIN_BIN_CASES} cases; inset: sharpness)\n"
        f"{sample_note(ds, region)}"
    )
    fig.tight_layout()
    return save(fig, path)


def plot_roc(ds: xr.Dataset, path: Path, region: str = "global") -> Path:
    """ROC curves (POD vs POFD) with their area and its bootstrap interval, per variable and percentile."""
    region = pick_region(ds, region)
    variables = list(ds["variable"].values)
    pcts = ds["percentile"].values
    hours = lead_hours(ds)
    leads = map_leads(ds)
    fig, axes = plt.subplots(len(variables), len(pcts), figsize=(6.4 * len(pcts), 4.0 * len(variables)), squeeze=False)
    for i, var in enumerate(variables):
        for k, pct in enumerate(pcts):
            ax = axes[i, k]
            ax.plot([0, 1], [0, 1], color="gray", ls="--", lw=1, label="no skill (AUC 0.5)")
            sel = dict(variable=var, percentile=pct, region=region)
            auc_i = interval(ds, "roc_auc", **sel)
            for j, lead in enumerate(leads):
                pofd = np.concatenate([[1.0], ds["roc_pofd"].sel(sel).isel(lead_time=lead).values, [0.0]])
                pod = np.concatenate([[1.0], ds["roc_pod"].sel(sel).isel(lead_time=lead).values, [0.0]])
                auc = float(ds["roc_auc"].sel(sel).isel(lead_time=lead))
                text = _fmt_interval(None if auc_i is None else auc_i[:, lead], 3)
                ax.plot(
                    pofd,
                    pod,
                    ".",
                    ls=LINESTYLES[j % len(LINESTYLES)],
                    color=LEAD_COLORS[j % len(LEAD_COLORS)],
                    label=f"{hours[lead]:g} h, AUC {auc:.3f}{text}",
                )
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_xlabel("probability of false detection (false-alarm rate)")
            ax.set_ylabel("probability of detection (hit rate)")
            ax.set_title(f"{var} > clim. {pct:g}th pct, {region}")
            ax.grid(alpha=0.3)
            legend_outside(ax)
    fig.suptitle(
        f"ROC curves for exceeding climatological percentiles (AUC with bootstrap interval)\n{sample_note(ds, region)}"
    )
    fig.tight_layout()
    return save(fig, path)
