"""Side-by-side comparison of two scored ensembles (e.g. the ML ensemble and the physics-ensemble baseline).

Both scores datasets come from :func:`hens.diagnostics.run.diagnose` on the same start dates, lead times, grid,
verification and climatology.  The headline number is the fair-CRPS skill score of the main ensemble relative
to the baseline, CRPSS = 1 − CRPS_main / CRPS_baseline (> 0: the main ensemble is better; cos-latitude-weighted
global means), shown with the ensemble-mean RMSE and the spread–skill ratio of each.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from hens.diagnostics.report.style import lead_hours, pick_region, plt, save, variable_units

COMPARISON_REGION = "global"


def comparison_leads(hours: np.ndarray) -> list[int]:
    """Indices of up to three lead times to tabulate: the stored ones nearest 24 h, 120 h and the last lead."""
    positive = np.flatnonzero(hours > 0)
    if positive.size == 0:
        return []
    picks = {int(positive[np.argmin(np.abs(hours[positive] - h))]) for h in (24.0, 120.0)}
    picks.add(int(positive[-1]))
    return sorted(picks)


def comparison_rows(main: xr.Dataset, base: xr.Dataset, *, label: str = "baseline") -> list[dict[str, object]]:
    """One row per (variable, tabulated lead): CRPS, RMSE and SSR of both ensembles and the CRPSS.

    Returns:
        dicts with keys ``label`` (the baseline's name), ``variable``, ``lead_hours``, ``region``, ``crps``,
        ``crps_baseline``, ``crpss``, ``rmse``, ``rmse_baseline``, ``ssr``, ``ssr_baseline`` (floats; NaN if
        undefined).
    """
    hours = lead_hours(main)
    if not np.allclose(hours, lead_hours(base)):
        raise ValueError("the two scores datasets have different lead times")
    region = pick_region(main, COMPARISON_REGION)
    rows: list[dict[str, object]] = []
    for var in [str(v) for v in main["variable"].values]:
        a = main["scores"].sel(variable=var, region=region)
        b = base["scores"].sel(variable=var, region=region)
        for i in comparison_leads(hours):
            crps, crps_b = float(a.sel(metric="crps")[i]), float(b.sel(metric="crps")[i])
            rows.append(
                {
                    "label": label,
                    "variable": var,
                    "lead_hours": float(hours[i]),
                    "region": region,
                    "crps": crps,
                    "crps_baseline": crps_b,
                    "crpss": 1.0 - crps / crps_b if crps_b > 0 else float("nan"),
                    "rmse": float(a.sel(metric="rmse")[i]),
                    "rmse_baseline": float(b.sel(metric="rmse")[i]),
                    "ssr": float(a.sel(metric="ssr")[i]),
                    "ssr_baseline": float(b.sel(metric="ssr")[i]),
                }
            )
    return rows


def comparison_verdict(rows: list[dict[str, object]], label: str) -> str:
    """One line: the CRPSS relative to the baseline per variable at each tabulated lead."""
    parts: dict[str, list[str]] = {}
    for row in rows:
        parts.setdefault(str(row["variable"]), []).append(f"{row['lead_hours']:g} h {float(row['crpss']):+.2f}")
    body = "; ".join(f"{var} {', '.join(p)}" for var, p in parts.items())
    return f"vs {label} [CRPSS = 1 − CRPS/CRPS_{label}, > 0 = better]: {body}"


def plot_comparison(main: xr.Dataset, base: xr.Dataset, path: Path, label: str | None = None) -> Path:
    """Fair CRPS, ensemble-mean RMSE with spread, and spread–skill ratio vs lead time of both ensembles."""
    label = label or str(base.attrs.get("label", "baseline"))
    hours = lead_hours(main)
    region = pick_region(main, COMPARISON_REGION)
    variables = [str(v) for v in main["variable"].values]
    fig, axes = plt.subplots(len(variables), 3, figsize=(14, 3.3 * len(variables)), squeeze=False)
    for i, var in enumerate(variables):
        units = variable_units(main, var)
        for ds, name, color in ((main, "this ensemble", "tab:blue"), (base, label, "tab:red")):
            s = ds["scores"].sel(variable=var, region=region)
            axes[i, 0].plot(hours, s.sel(metric="crps"), color=color, label=name)
            axes[i, 1].plot(hours, s.sel(metric="rmse"), color=color, label=f"{name} RMSE")
            axes[i, 1].plot(hours, s.sel(metric="spread"), color=color, ls="--", label=f"{name} spread")
            axes[i, 2].plot(hours, s.sel(metric="ssr"), color=color, label=name)
        axes[i, 2].axhline(1.0, color="gray", lw=0.8, ls=":", label="SSR = 1 (calibrated)")
        later = np.concatenate(
            [ds["scores"].sel(variable=var, region=region, metric="ssr").values[hours > 0] for ds in (main, base)]
        )
        finite = later[np.isfinite(later)]
        axes[i, 2].set_ylim(0.0, max(1.5, 1.15 * float(finite.max())) if finite.size else 2.0)
        axes[i, 0].set_ylabel(f"{var} fair CRPS [{units}]")
        axes[i, 1].set_ylabel(f"{var} RMSE / spread [{units}]")
        axes[i, 2].set_ylabel(f"{var} spread–skill ratio [1]")
        axes[i, 0].set_title(f"{var}: fair CRPS ({region})")
        axes[i, 1].set_title(f"{var}: ensemble-mean RMSE (solid), spread (dashed)")
        axes[i, 2].set_title(f"{var}: spread–skill ratio")
        for ax in axes[i]:
            ax.set_xlabel("lead time [h]")
            ax.grid(alpha=0.3)
    for ax in axes[0]:
        ax.legend(fontsize=7)
    fig.suptitle(f"This ensemble (M = {main.attrs.get('n_members')}) vs {label} (M = {base.attrs.get('n_members')})")
    fig.tight_layout()
    return save(fig, path)


def comparison_table(rows: list[dict[str, object]], label: str) -> tuple[list[str], list[list[str]]]:
    """Header and formatted cells of the report's comparison table."""
    head = [
        "variable",
        "lead [h]",
        "CRPS",
        f"CRPS {label}",
        "CRPSS",
        "RMSE",
        f"RMSE {label}",
        "SSR",
        f"SSR {label}",
    ]
    body = [
        [
            str(r["variable"]),
            f"{r['lead_hours']:g}",
            f"{float(r['crps']):.4g}",
            f"{float(r['crps_baseline']):.4g}",
            f"{float(r['crpss']):+.3f}",
            f"{float(r['rmse']):.4g}",
            f"{float(r['rmse_baseline']):.4g}",
            f"{float(r['ssr']):.2f}",
            f"{float(r['ssr_baseline']):.2f}",
        ]
        for r in rows
    ]
    return head, body
