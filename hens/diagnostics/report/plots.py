"""PNG plots of a scores dataset (:func:`hens.diagnostics.aggregate.scores.stats_to_dataset` plus spectra and maps).

Each function draws one figure with labelled axes (units from the dataset), a legend and a title, saves it and
returns its path; :func:`make_plots` draws every figure the dataset has data for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from hens.constants import EARTH_RADIUS_KM
from hens.diagnostics.report.calibration_plots import plot_outliers, plot_rank_histograms
from hens.diagnostics.report.daily_plots import plot_daily_extremes
from hens.diagnostics.report.ensemble_size import plot_ensemble_size
from hens.diagnostics.report.event_plots import plot_reliability, plot_roc
from hens.diagnostics.report.style import (
    LEAD_COLORS,
    LINESTYLES,
    REGION_COLORS,
    band,
    interval,
    lead_hours,
    legend_outside,
    pick_leads,
    pick_region,
    plt,
    region_label,
    sample_note,
    save,
    variable_units,
)
from hens.diagnostics.report.verdicts import SPECTRUM_FACTOR

__all__ = [
    "make_plots",
    "plot_best_member_maps",
    "plot_efi_maps",
    "plot_scores_vs_lead",
    "plot_spectra",
]

#: Earth's circumference 2πR in km: the wavelength of degree l is 2πR/(l + 1).
_CIRCUMFERENCE_KM = 2.0 * np.pi * EARTH_RADIUS_KM


def plot_scores_vs_lead(ds: xr.Dataset, path: Path) -> Path:
    """RMSE of the ensemble mean and spread, fair CRPS, and spread–skill ratio vs lead time, per region, with the
    bootstrap bands; from the first lead time > 0 (at t = 0 the truth is the initial state and RMSE ≈ 0)."""
    variables = list(ds["variable"].values)
    hours = lead_hours(ds)
    keep = hours > 0 if (hours > 0).any() else np.ones(hours.size, dtype=bool)
    x = hours[keep]
    fig, axes = plt.subplots(len(variables), 3, figsize=(15, 3.3 * len(variables)), squeeze=False)
    for i, var in enumerate(variables):
        units = variable_units(ds, var)
        s = ds["scores"].sel(variable=var)
        for r, region in enumerate(ds["region"].values):
            c = REGION_COLORS[r % len(REGION_COLORS)]
            ls = LINESTYLES[r % len(LINESTYLES)]
            for col, metric in ((0, "rmse"), (0, "spread"), (1, "crps"), (2, "ssr")):
                values = s.sel(metric=metric, region=region).values[keep]
                bounds = interval(ds, "scores", metric=metric, variable=var, region=region)
                dashed = metric == "spread"
                label = f"{region} {metric.upper()}" if col == 0 else region_label(ds, str(region))
                axes[i, col].plot(x, values, color=c, ls=":" if dashed else ls, lw=1.0 if dashed else 1.4, label=label)
                band(axes[i, col], x, None if bounds is None else bounds[:, keep], c)
        axes[i, 2].axhline(1.0, color="gray", lw=0.8, ls=":", label="SSR = 1 (calibrated)")
        ssr = s.sel(metric="ssr").transpose("lead_time", "region").values[keep]
        top = np.nanmax(ssr[np.isfinite(ssr)], initial=1.0)
        axes[i, 2].set_ylim(0.0, max(1.5, 1.15 * top))
        axes[i, 0].set_ylabel(f"{var} RMSE / spread [{units}]")
        axes[i, 1].set_ylabel(f"{var} fair CRPS [{units}]")
        axes[i, 2].set_ylabel(f"{var} spread–skill ratio [1]")
        for ax in axes[i]:
            ax.set_xlabel("lead time [h]")
            ax.grid(alpha=0.3)
        axes[i, 0].set_title(f"{var}: ensemble-mean RMSE and spread (dotted)")
        axes[i, 1].set_title(f"{var}: fair CRPS")
        axes[i, 2].set_title(f"{var}: spread–skill ratio √((M+1)/M)·spread/RMSE")
    for col in range(3):
        legend_outside(axes[0, col])
    lead0 = "" if keep.all() else " — lead 0 left out (truth = initial state)"
    fig.suptitle(f"Mean scores vs lead time, cos-latitude weighted{lead0}\n{sample_note(ds)}", fontsize=10)
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


def _spectra_note(ds: xr.Dataset) -> str:
    """Sample size and bootstrap unit of the spectra (not those of the other scores: the spectra are global)."""
    n_init = int(ds.attrs.get("n_init_times", ds.sizes.get("init_time", 0)))
    m = int(ds.attrs.get("n_members", 0))
    used = ds.attrs.get("spectra_members")
    members = f"M = {m} members" + (f" (member spectra: {len(used)} of them)" if used is not None else "")
    text = f"{n_init} start date{'' if n_init == 1 else 's'} × {members}"
    if "spectra_bootstrap_unit" in ds.attrs:
        conf = float(ds.attrs.get("bootstrap_confidence", 0.9))
        text += f"; bands: {conf:.0%} bootstrap, unit: {ds.attrs['spectra_bootstrap_unit']}"
    return text


def _ratio_panel(rax: plt.Axes, ds: xr.Dataset, var: str, leads: list[int], styles: dict[str, str]) -> None:
    """Power / truth power vs degree at ``leads`` with the bootstrap bands (members and ensemble mean)."""
    from matplotlib.ticker import FormatStrFormatter, NullFormatter

    degree = ds["degree"].values
    keep = degree >= 1
    for j, lead in enumerate(leads):
        color = LEAD_COLORS[j % len(LEAD_COLORS)]
        for kind in ("members", "ensemble_mean"):
            ratio = ds["power_ratio"].sel(variable=var, ratio_kind=kind).isel(lead_time=lead).values
            rax.semilogx(degree[keep], ratio[keep], color=color, ls=styles[kind], lw=1.3)
            bounds = interval(ds, "power_ratio", variable=var, ratio_kind=kind)
            band(rax, degree[keep], None if bounds is None else bounds[:, lead][:, keep], color)
    rax.axhline(1.0, color="gray", lw=0.8, ls=":")
    rax.set_yscale("log")
    rax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    lo, hi = rax.get_ylim()
    rax.yaxis.set_minor_formatter(FormatStrFormatter("%g") if hi / lo < 3 else NullFormatter())
    rax.set_ylabel("P(l) / P_truth(l)")
    rax.set_xlabel("total wavenumber l")
    rax.grid(alpha=0.3, which="both")


def _small_scale_panel(ax: plt.Axes, ds: xr.Dataset, var: str) -> None:
    """The verdict's number: member/truth power at the smaller half of the scales vs lead, with its band and the
    accepted range [1/1.5, 1.5] (dashed)."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator

    hours = lead_hours(ds)
    ratio = ds["small_scale_power_ratio"].sel(variable=var).values
    color = LEAD_COLORS[0]
    ax.plot(hours, ratio, "o-", color=color, ms=2.5, lw=1.3, label="members / truth (verdict: last lead)")
    band(ax, hours, interval(ds, "small_scale_power_ratio", variable=var), color)
    ax.axhline(1.0, color="gray", lw=0.8, ls=":", label="1: members as energetic as the truth")
    for k, limit in enumerate((SPECTRUM_FACTOR, 1 / SPECTRUM_FACTOR)):
        label = f"accepted range 1/{SPECTRUM_FACTOR:g} … {SPECTRUM_FACTOR:g}" if k == 0 else None
        ax.axhline(limit, color="k", lw=0.9, ls="--", label=label)
    ax.set_yscale("log")
    ax.yaxis.set_minor_locator(LogLocator(subs=(1.5, 2.0, 3.0, 5.0, 7.0)))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    deg = ds["degree"].values
    lmin = int(deg[deg >= max(1, deg.size // 2)][0])
    ax.set_ylabel(f"member / truth power, l ≥ {lmin}")
    ax.set_xlabel("lead time [h]")
    ax.set_title(f"{var}: small-scale power ratio (geometric mean, l ≥ {lmin})")
    ax.grid(alpha=0.3, which="both")


def plot_spectra(ds: xr.Dataset, path: Path) -> Path:
    """Angular power spectra of the members, the ensemble mean and the truth at a few lead times (top row), their
    ratio to the truth's spectrum with bootstrap bands (middle row: members should stay at 1, the ensemble mean
    falls below), and the small-scale member/truth ratio behind the realism verdict vs lead (bottom row)."""
    from matplotlib.lines import Line2D

    variables = list(ds["variable"].values)
    hours = lead_hours(ds)
    leads = pick_leads(hours)
    styles = {"members": "-", "ensemble_mean": "--", "truth": ":"}
    labels = {"members": "members (mean of member spectra)", "ensemble_mean": "ensemble mean", "truth": "truth"}
    fig, axes = plt.subplots(
        3, len(variables), figsize=(5.2 * len(variables), 10.4), squeeze=False, height_ratios=(3, 2, 2)
    )
    degree = ds["degree"].values
    keep = degree >= 1
    for i, var in enumerate(variables):
        ax = axes[0, i]
        for j, lead in enumerate(leads):
            spec = ds["power_spectrum"].sel(variable=var).isel(lead_time=lead)
            for kind in ("members", "ensemble_mean", "truth"):
                p = spec.sel(spectrum=kind).values
                ax.loglog(degree[keep], p[keep], color=LEAD_COLORS[j % len(LEAD_COLORS)], ls=styles[kind], lw=1.3)
        ax.set_ylabel(f"P(l) [({variable_units(ds, var)})² sr]")
        ax.set_title(f"{var}: angular power spectrum", pad=28)
        ax.set_xlabel("total wavenumber l")
        ax.grid(alpha=0.3, which="both")
        _wavelength_axis(ax)
        _ratio_panel(axes[1, i], ds, var, leads, styles)
        axes[1, i].set_xlim(ax.get_xlim())
        _small_scale_panel(axes[2, i], ds, var)
    lead_handles = [
        Line2D([], [], color=LEAD_COLORS[j % len(LEAD_COLORS)], label=f"lead {hours[lead]:g} h")
        for j, lead in enumerate(leads)
    ]
    kind_handles = [Line2D([], [], color="k", ls=styles[k], label=labels[k]) for k in styles]
    axes[0, -1].legend(
        handles=lead_handles + kind_handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0
    )
    legend_outside(axes[2, -1])
    fig.suptitle(
        "Spectra: members should match the truth; the ensemble mean loses small scales with lead time\n"
        f"{_spectra_note(ds)}",
        fontsize=9,
    )
    fig.tight_layout()
    return save(fig, path)


def _degree_to_km(x: np.ndarray) -> np.ndarray:
    """Wavelength 2πR/(l+1) in km of degree l (for the secondary axis)."""
    return _CIRCUMFERENCE_KM / np.maximum(np.asarray(x, dtype=float) + 1.0, 1e-9)


def _km_to_degree(w: np.ndarray) -> np.ndarray:
    return _CIRCUMFERENCE_KM / np.maximum(np.asarray(w, dtype=float), 1e-9) - 1.0


def _map_note(ds: xr.Dataset, n_dates: int) -> str:
    """ "n date(s) × M members at each of P grid points" for a map figure."""
    m = int(ds.attrs.get("n_members", 0))
    points = ds.sizes["lat"] * ds.sizes["lon"]
    return f"{n_dates} start date{'' if n_dates == 1 else 's'} × M = {m} members at each of {points} grid points"


def plot_efi_maps(ds: xr.Dataset, path: Path, init_index: int = 0) -> Path:
    """EFI maps of one start date at the map lead times, one row per variable, with what each value rests on:
    one forecast of M members against the model climate — a forecast product, not a score, so no interval."""
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
        fig.colorbar(mesh, ax=axes, shrink=0.9, label="EFI [1]  (+1: all members above the climate)")
    n_init = ds.sizes["init_time"]
    clim = ds.attrs.get("climatology", "the model climate")
    fig.suptitle(
        "Extreme Forecast Index of 6-hourly values vs the climatology's quantiles\n"
        f"start date {init} only ({init_index + 1} of {n_init}) × M = {int(ds.attrs.get('n_members', 0))} members, "
        f"{ds.sizes['lat'] * ds.sizes['lon']} grid points; climate: {clim}\n"
        f"one forecast, not a verification score (no interval); with M = {int(ds.attrs.get('n_members', 0))} "
        "members each value carries sampling noise",
        fontsize=9,
    )
    return save(fig, path)


def _area_mean_best_member(ds: xr.Dataset, var: str, hour: float) -> str:
    """ "area mean x [lo, hi] (region)": the cos-latitude-weighted best-member MAE at ``hour`` with its interval."""
    if "best_member_mae" not in ds["metric"].values:
        return ""
    region = pick_region(ds, "global")
    i = int(np.argmin(np.abs(lead_hours(ds) - hour)))
    value = float(ds["scores"].sel(metric="best_member_mae", variable=var, region=region).isel(lead_time=i))
    bounds = interval(ds, "scores", metric="best_member_mae", variable=var, region=region)
    text = f"{region} mean {value:.3g}"
    if bounds is not None and np.all(np.isfinite(bounds[:, i])):
        text += f" [{bounds[0, i]:.3g}, {bounds[1, i]:.3g}]"
    return text


def plot_best_member_maps(ds: xr.Dataset, path: Path) -> Path:
    """Mean absolute error of the best member at each grid point, at the map lead times; each panel's title has
    the area mean with its bootstrap interval (the score ``best_member_mae``)."""
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
            ax.set_title(f"{var} best-member |error|, lead {h:g} h\n{_area_mean_best_member(ds, var, h)}", fontsize=8)
            ax.set_xlabel("longitude [°E]")
            ax.set_ylabel("latitude [°N]")
            fig.colorbar(mesh, ax=ax, label=f"[{units}]")
    n_init = int(ds.attrs.get("n_init_times", ds.sizes.get("init_time", 0)))
    conf = float(ds.attrs.get("bootstrap_confidence", 0.9))
    unit = str(ds.attrs.get("bootstrap_unit", "")).split(" (")[0]
    fig.suptitle(
        "Error of the best member at each grid point (mean over start dates)\n"
        f"{_map_note(ds, n_init)}; each point averages only {n_init} value{'' if n_init == 1 else 's'} (no interval "
        f"per point)\ntitles: cos-latitude-weighted area mean with its {conf:.0%} bootstrap interval over "
        f"{int(ds.attrs.get('n_units', 0))} units ({unit})",
        fontsize=9,
    )
    return save(fig, path)


def plotted_variables(scored: Sequence[str], wanted: Sequence[str] | None) -> list[str]:
    """The variables to draw: ``wanted`` (``diagnose.plot_variables``) in its order, among the ``scored`` ones;
    every scored variable when ``wanted`` is None or names none of them."""
    chosen = [v for v in (wanted or ()) if v in scored]
    return chosen or list(scored)


def make_plots(ds: xr.Dataset, folder: Path, variables: Sequence[str] | None = None) -> list[Path]:
    """Draw every plot the scores dataset has data for into ``folder``, for :func:`plotted_variables` of
    ``variables`` (the scores keep every variable; the figures' notes name what is shown); returns the PNG paths."""
    folder = Path(folder)
    scored = [str(v) for v in ds["variable"].values]
    shown = plotted_variables(scored, variables)
    if shown != scored:
        note = f"plots show {', '.join(shown)} of the {len(scored)} scored variables (diagnose.plot_variables)"
        ds = ds.sel(variable=shown)
        ds.attrs = {**ds.attrs, "plotted_variables_note": note}
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
    if "efi_daily" in ds:
        paths.append(plot_daily_extremes(ds, folder / "efi_sot_daily.png"))
    paths.append(plot_outliers(ds, folder / "outliers_sigma.png"))
    if "best_member_error_map" in ds:
        paths.append(plot_best_member_maps(ds, folder / "best_member_error.png"))
    if "subset_scores" in ds:
        paths.append(plot_ensemble_size(ds, folder / "ensemble_size.png"))
    return paths
