"""PNG plots of a scores dataset (:func:`hens.diagnostics.aggregate.scores.stats_to_dataset` plus spectra and maps).

Each function draws one figure with labelled axes (units from the dataset), a legend and a title, saves it and
returns its path; :func:`make_plots` draws every figure the dataset has data for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from hens.constants import EARTH_RADIUS_KM
from hens.diagnostics.report.style import (
    LEAD_COLORS,
    REGION_COLORS,
    lead_hours,
    pick_leads,
    pick_region,
    plt,
    save,
    variable_units,
)

__all__ = [
    "make_plots",
    "plot_best_member_maps",
    "plot_efi_maps",
    "plot_outliers",
    "plot_rank_histograms",
    "plot_reliability",
    "plot_roc",
    "plot_scores_vs_lead",
    "plot_spectra",
]

#: Earth's circumference 2πR in km: the wavelength of degree l is 2πR/(l + 1).
_CIRCUMFERENCE_KM = 2.0 * np.pi * EARTH_RADIUS_KM


def plot_scores_vs_lead(ds: xr.Dataset, path: Path) -> Path:
    """RMSE of the ensemble mean and spread, fair CRPS, and spread–skill ratio vs lead time, per region."""
    variables = list(ds["variable"].values)
    hours = lead_hours(ds)
    fig, axes = plt.subplots(len(variables), 3, figsize=(14, 3.3 * len(variables)), squeeze=False)
    for i, var in enumerate(variables):
        units = variable_units(ds, var)
        s = ds["scores"].sel(variable=var)
        for r, region in enumerate(ds["region"].values):
            c = REGION_COLORS[r % len(REGION_COLORS)]
            axes[i, 0].plot(hours, s.sel(metric="rmse", region=region), color=c, label=f"{region} RMSE")
            axes[i, 0].plot(hours, s.sel(metric="spread", region=region), color=c, ls="--", label=f"{region} spread")
            axes[i, 1].plot(hours, s.sel(metric="crps", region=region), color=c, label=region)
            axes[i, 2].plot(hours, s.sel(metric="ssr", region=region), color=c, label=region)
        axes[i, 2].axhline(1.0, color="gray", lw=0.8, ls=":", label="SSR = 1 (calibrated)")
        # at t = 0 the truth is the initial state, so the SSR is huge: scale the axis to the lead times after it
        ssr = s.sel(metric="ssr").transpose("lead_time", "region").values
        later = ssr[hours > 0] if (hours > 0).any() else ssr
        top = np.nanmax(later[np.isfinite(later)], initial=1.0)
        axes[i, 2].set_ylim(0.0, max(1.5, 1.15 * top))
        axes[i, 0].set_ylabel(f"{var} RMSE / spread [{units}]")
        axes[i, 1].set_ylabel(f"{var} fair CRPS [{units}]")
        axes[i, 2].set_ylabel(f"{var} spread–skill ratio [1]")
        for ax in axes[i]:
            ax.set_xlabel("lead time [h]")
            ax.grid(alpha=0.3)
        axes[i, 0].set_title(f"{var}: ensemble-mean RMSE (solid) and spread (dashed)")
        axes[i, 1].set_title(f"{var}: fair CRPS")
        axes[i, 2].set_title(f"{var}: spread–skill ratio √((M+1)/M)·spread/RMSE")
    axes[0, 0].legend(fontsize=7, ncol=2)
    axes[0, 1].legend(fontsize=7)
    axes[0, 2].legend(fontsize=7)
    fig.suptitle(f"Mean scores vs lead time (M = {ds.attrs.get('n_members')}, cos-latitude weighted)")
    fig.tight_layout()
    return save(fig, path)


def _coarsen_ranks(freq: np.ndarray, max_bars: int = 50) -> tuple[np.ndarray, np.ndarray, float]:
    """Group M+1 rank bins into at most ``max_bars`` bars; returns centres (in rank units), heights, width."""
    n = freq.size
    group = int(np.ceil(n / max_bars))
    if group <= 1:
        return np.arange(n, dtype=float), freq, 1.0
    pad = (-n) % group
    f = np.concatenate([freq, np.full(pad, np.nan)]).reshape(-1, group)
    heights = np.nanmean(f, axis=1)
    centres = np.arange(heights.size) * group + (group - 1) / 2.0
    return centres, heights, float(group)


def plot_rank_histograms(ds: xr.Dataset, path: Path, region: str = "global") -> Path:
    """Rank histograms (relative frequency × (M+1), flat = 1) at a few lead times, one row per variable."""
    region = pick_region(ds, region)
    variables = list(ds["variable"].values)
    hours = lead_hours(ds)
    leads = pick_leads(hours)
    m = int(ds.attrs.get("n_members", ds.sizes["rank"] - 1))
    fig, axes = plt.subplots(
        len(variables), len(leads), figsize=(4.2 * len(leads), 3.0 * len(variables)), squeeze=False
    )
    for i, var in enumerate(variables):
        for j, lead in enumerate(leads):
            freq = ds["rank_histogram"].sel(variable=var, region=region).isel(lead_time=lead).values * (m + 1)
            x, h, width = _coarsen_ranks(freq)
            ax = axes[i, j]
            ax.bar(x, h, width=width * 0.9, color="tab:blue", label="truth's rank")
            ax.axhline(1.0, color="k", ls="--", lw=1, label="flat (calibrated)")
            ax.set_title(f"{var}, lead {hours[lead]:g} h, {region}")
            ax.set_xlabel(f"rank of the truth among {m} members")
            ax.set_ylabel("relative frequency × (M+1)")
            ax.set_xlim(-1, m + 1)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Rank histograms (U-shape: under-dispersive; dome: over-dispersive; slope: bias)")
    fig.tight_layout()
    return save(fig, path)


def _wavelength_axis(ax: plt.Axes) -> None:
    """A secondary x axis on top with the wavelength 2πR/(l+1) of degree l, at round values in km."""
    from matplotlib.ticker import FixedLocator, NullLocator

    top = ax.secondary_xaxis("top", functions=(_degree_to_km, _km_to_degree))
    lo, hi = ax.get_xlim()
    ticks = [
        w for w in (20000, 10000, 5000, 3000, 2000, 1000, 500, 200, 100) if _degree_to_km(hi) <= w <= _degree_to_km(lo)
    ]
    top.xaxis.set_major_locator(FixedLocator(ticks))
    top.xaxis.set_minor_locator(NullLocator())
    top.set_xticks(ticks, [f"{w:g}" for w in ticks])
    top.set_xlabel("wavelength 2πR/(l+1) [km]")


def plot_spectra(ds: xr.Dataset, path: Path) -> Path:
    """Angular power spectra of the members, the ensemble mean and the truth at a few lead times (top row), and
    their ratio to the truth's spectrum (bottom row: members should stay at 1, the ensemble mean falls below)."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FormatStrFormatter, NullFormatter

    variables = list(ds["variable"].values)
    hours = lead_hours(ds)
    leads = pick_leads(hours)
    styles = {"members": "-", "ensemble_mean": "--", "truth": ":"}
    labels = {"members": "members (mean of member spectra)", "ensemble_mean": "ensemble mean", "truth": "truth"}
    fig, axes = plt.subplots(
        2, len(variables), figsize=(5.2 * len(variables), 7.6), squeeze=False, height_ratios=(3, 2), sharex="col"
    )
    degree = ds["degree"].values
    keep = degree >= 1
    for i, var in enumerate(variables):
        ax, rax = axes[0, i], axes[1, i]
        units = variable_units(ds, var)
        for j, lead in enumerate(leads):
            color = LEAD_COLORS[j % len(LEAD_COLORS)]
            spec = ds["power_spectrum"].sel(variable=var).isel(lead_time=lead)
            truth = spec.sel(spectrum="truth").values
            for kind in ("members", "ensemble_mean", "truth"):
                p = spec.sel(spectrum=kind).values
                ax.loglog(degree[keep], p[keep], color=color, ls=styles[kind], lw=1.3)
                if kind != "truth":
                    with np.errstate(divide="ignore", invalid="ignore"):
                        rax.semilogx(degree[keep], (p / truth)[keep], color=color, ls=styles[kind], lw=1.3)
        rax.axhline(1.0, color="gray", lw=0.8, ls=":")
        rax.set_yscale("log")
        rax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        lo, hi = rax.get_ylim()
        rax.yaxis.set_minor_formatter(FormatStrFormatter("%g") if hi / lo < 3 else NullFormatter())
        ax.set_ylabel(f"P(l) [({units})² sr]")
        ax.set_title(f"{var}: angular power spectrum", pad=28)
        rax.set_ylabel("P(l) / P_truth(l)")
        rax.set_xlabel("total wavenumber l")
        ax.grid(alpha=0.3, which="both")
        rax.grid(alpha=0.3, which="both")
        _wavelength_axis(ax)
    lead_handles = [
        Line2D([], [], color=LEAD_COLORS[j % len(LEAD_COLORS)], label=f"lead {hours[lead]:g} h")
        for j, lead in enumerate(leads)
    ]
    kind_handles = [Line2D([], [], color="k", ls=styles[k], label=labels[k]) for k in styles]
    axes[0, 0].legend(handles=lead_handles + kind_handles, fontsize=7, loc="lower left")
    fig.suptitle("Spectra: members should match the truth; the ensemble mean loses small scales with lead time")
    fig.tight_layout()
    return save(fig, path)


def _degree_to_km(x: np.ndarray) -> np.ndarray:
    """Wavelength 2πR/(l+1) in km of degree l (for the secondary axis)."""
    return _CIRCUMFERENCE_KM / np.maximum(np.asarray(x, dtype=float) + 1.0, 1e-9)


def _km_to_degree(w: np.ndarray) -> np.ndarray:
    return _CIRCUMFERENCE_KM / np.maximum(np.asarray(w, dtype=float), 1e-9) - 1.0


def _map_leads(ds: xr.Dataset) -> list[int]:
    """Lead-time indices of the map lead times (for reliability/ROC), falling back to a spread of leads."""
    hours = lead_hours(ds)
    if "map_lead_time" in ds.coords:
        want = lead_hours(ds, "map_lead_time")
        return [int(np.argmin(np.abs(hours - h))) for h in want]
    return pick_leads(hours, 2)


def plot_reliability(ds: xr.Dataset, path: Path, region: str = "global") -> Path:
    """Reliability diagrams for P(value > climatological percentile), per variable and percentile."""
    region = pick_region(ds, region)
    variables = list(ds["variable"].values)
    pcts = ds["percentile"].values
    hours = lead_hours(ds)
    leads = _map_leads(ds)
    fig, axes = plt.subplots(len(variables), len(pcts), figsize=(4.4 * len(pcts), 4.0 * len(variables)), squeeze=False)
    for i, var in enumerate(variables):
        for k, pct in enumerate(pcts):
            ax = axes[i, k]
            ax.plot([0, 1], [0, 1], color="gray", ls="--", lw=1, label="perfect reliability")
            for j, lead in enumerate(leads):
                sel = dict(variable=var, percentile=pct, region=region)
                prob = ds["reliability_prob"].sel(sel).isel(lead_time=lead).values
                freq = ds["reliability_freq"].sel(sel).isel(lead_time=lead).values
                base = float(ds["base_rate"].sel(sel).isel(lead_time=lead))
                bss = float(ds["brier_skill_score"].sel(sel).isel(lead_time=lead))
                ax.plot(
                    prob,
                    freq,
                    "o-",
                    color=LEAD_COLORS[j % len(LEAD_COLORS)],
                    ms=4,
                    label=f"{hours[lead]:g} h (BSS {bss:.2f}, base rate {base:.3f})",
                )
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_xlabel("forecast probability")
            ax.set_ylabel("observed frequency")
            ax.set_title(f"{var} > clim. {pct:g}th pct, {region}")
            ax.legend(fontsize=7, loc="upper left")
            ax.grid(alpha=0.3)
    fig.suptitle("Reliability diagrams (on the diagonal: reliable)")
    fig.tight_layout()
    return save(fig, path)


def plot_roc(ds: xr.Dataset, path: Path, region: str = "global") -> Path:
    """ROC curves (POD vs POFD) with their area, per variable and percentile."""
    region = pick_region(ds, region)
    variables = list(ds["variable"].values)
    pcts = ds["percentile"].values
    hours = lead_hours(ds)
    leads = _map_leads(ds)
    fig, axes = plt.subplots(len(variables), len(pcts), figsize=(4.2 * len(pcts), 4.0 * len(variables)), squeeze=False)
    for i, var in enumerate(variables):
        for k, pct in enumerate(pcts):
            ax = axes[i, k]
            ax.plot([0, 1], [0, 1], color="gray", ls="--", lw=1, label="no skill (AUC 0.5)")
            for j, lead in enumerate(leads):
                sel = dict(variable=var, percentile=pct, region=region)
                pofd = np.concatenate([[1.0], ds["roc_pofd"].sel(sel).isel(lead_time=lead).values, [0.0]])
                pod = np.concatenate([[1.0], ds["roc_pod"].sel(sel).isel(lead_time=lead).values, [0.0]])
                auc = float(ds["roc_auc"].sel(sel).isel(lead_time=lead))
                ax.plot(
                    pofd, pod, ".-", color=LEAD_COLORS[j % len(LEAD_COLORS)], label=f"{hours[lead]:g} h, AUC {auc:.3f}"
                )
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_xlabel("probability of false detection (false-alarm rate)")
            ax.set_ylabel("probability of detection (hit rate)")
            ax.set_title(f"{var} > clim. {pct:g}th pct, {region}")
            ax.legend(fontsize=7, loc="lower right")
            ax.grid(alpha=0.3)
    fig.suptitle("ROC curves for exceeding climatological percentiles")
    fig.tight_layout()
    return save(fig, path)


def plot_efi_maps(ds: xr.Dataset, path: Path, init_index: int = 0) -> Path:
    """EFI maps of one start date at the map lead times, one row per variable."""
    variables = list(ds["variable"].values)
    maps = ds["efi"].isel(init_time=init_index)
    hours = lead_hours(ds, "map_lead_time")
    init = np.datetime_as_string(ds["init_time"].values[init_index], unit="h")
    lon, lat = ds["lon"].values, ds["lat"].values
    fig, axes = plt.subplots(
        len(variables),
        len(hours),
        figsize=(5.6 * len(hours) + 1.0, 3.1 * len(variables)),
        squeeze=False,
        layout="constrained",
    )
    mesh = None
    for i, var in enumerate(variables):
        for j, h in enumerate(hours):
            ax = axes[i, j]
            mesh = ax.pcolormesh(
                lon,
                lat,
                maps.sel(variable=var).isel(map_lead_time=j).values,
                cmap="RdBu_r",
                vmin=-1,
                vmax=1,
                shading="nearest",
            )
            ax.set_title(f"{var} EFI, init {init}, lead {h:g} h", fontsize=9)
            ax.set_xlabel("longitude [°E]")
            ax.set_ylabel("latitude [°N]")
            ax.set_ylim(-90, 90)
    if mesh is not None:
        fig.colorbar(mesh, ax=axes, shrink=0.9, label="EFI [1]  (+1: all members above the M-climate)")
    fig.suptitle("Extreme Forecast Index vs the model climate (M-climate)")
    return save(fig, path)


def plot_best_member_maps(ds: xr.Dataset, path: Path) -> Path:
    """Mean absolute error of the best member at each grid point, at the map lead times."""
    variables = list(ds["variable"].values)
    hours = lead_hours(ds, "map_lead_time")
    lon, lat = ds["lon"].values, ds["lat"].values
    fig, axes = plt.subplots(
        len(variables),
        len(hours),
        figsize=(6.0 * len(hours), 3.1 * len(variables)),
        squeeze=False,
        layout="constrained",
    )
    for i, var in enumerate(variables):
        units = variable_units(ds, var)
        field = ds["best_member_error_map"].sel(variable=var)
        vmax = float(np.nanmax(field.values)) if np.isfinite(field.values).any() else 1.0
        for j, h in enumerate(hours):
            ax = axes[i, j]
            mesh = ax.pcolormesh(
                lon, lat, field.isel(map_lead_time=j).values, cmap="viridis", vmin=0, vmax=vmax, shading="nearest"
            )
            ax.set_title(f"{var} best-member |error|, lead {h:g} h", fontsize=9)
            ax.set_xlabel("longitude [°E]")
            ax.set_ylabel("latitude [°N]")
            fig.colorbar(mesh, ax=ax, label=f"[{units}]")
    fig.suptitle("Error of the best member at each grid point (mean over start dates)")
    return save(fig, path)


def plot_outliers(ds: xr.Dataset, path: Path, region: str = "global") -> Path:
    """Outlier fraction vs lead time against 2/(M+1), and the histogram of the truth's σ-distance."""
    region = pick_region(ds, region)
    variables = list(ds["variable"].values)
    hours = lead_hours(ds)
    m = int(ds.attrs.get("n_members", 0))
    expected = float(ds.attrs.get("expected_outlier_fraction", np.nan))
    leads = _map_leads(ds)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for i, var in enumerate(variables):
        frac = ds["scores"].sel(metric="outlier_fraction", variable=var, region=region)
        axes[0].plot(hours, frac, color=LEAD_COLORS[i % len(LEAD_COLORS)], label=var)
    axes[0].axhline(expected, color="k", ls="--", label=f"calibrated: 2/(M+1) = {expected:.3f} (M = {m})")
    axes[0].set_xlabel("lead time [h]")
    axes[0].set_ylabel("fraction of points with truth outside [min, max]")
    axes[0].set_title(f"Outlier fraction, {region}")
    axes[0].legend(fontsize=8)
    axes[0].grid(alpha=0.3)
    lower, upper = ds["sigma_lower"].values, ds["sigma_upper"].values
    labels = [
        f"<{u:g}" if np.isinf(lo) else (f">{lo:g}" if np.isinf(u) else f"{lo:g}…{u:g}")
        for lo, u in zip(lower, upper, strict=True)
    ]
    x = np.arange(len(labels))
    n_bars = len(variables) * len(leads)
    width = 0.8 / max(n_bars, 1)
    k = 0
    for var in variables:
        for lead in leads:
            h = ds["sigma_histogram"].sel(variable=var, region=region).isel(lead_time=lead).values
            axes[1].bar(x + (k - (n_bars - 1) / 2) * width, h, width=width, label=f"{var}, {hours[lead]:g} h")
            k += 1
    axes[1].set_xticks(x, labels, rotation=45, fontsize=8)
    if np.nanmax(ds["sigma_histogram"].values, initial=0.0) > 0:
        axes[1].set_yscale("log")
    axes[1].set_xlabel("(truth − ensemble mean) / ensemble σ")
    axes[1].set_ylabel("relative frequency")
    axes[1].set_title(f"Truth's distance from the ensemble mean in σ, {region}")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return save(fig, path)


def make_plots(ds: xr.Dataset, folder: Path) -> list[Path]:
    """Draw every plot the scores dataset has data for into ``folder``; returns the PNG paths."""
    folder = Path(folder)
    paths = [
        plot_scores_vs_lead(ds, folder / "scores_vs_lead.png"),
        plot_rank_histograms(ds, folder / "rank_histograms.png"),
    ]
    if "power_spectrum" in ds:
        paths.append(plot_spectra(ds, folder / "spectra.png"))
    if ds.sizes.get("percentile", 0) > 0:
        paths.append(plot_reliability(ds, folder / "reliability.png"))
        paths.append(plot_roc(ds, folder / "roc.png"))
    if "efi" in ds:
        paths.append(plot_efi_maps(ds, folder / "efi_map.png"))
    paths.append(plot_outliers(ds, folder / "outliers_sigma.png"))
    if "best_member_error_map" in ds:
        paths.append(plot_best_member_maps(ds, folder / "best_member_error.png"))
    return paths
