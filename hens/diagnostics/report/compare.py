"""Side-by-side comparison of two scored ensembles (e.g. the ML ensemble and the physics-ensemble baseline).

Both scores datasets come from :func:`hens.diagnostics.run.diagnose` on the same start dates, lead times, grid,
verification and climatology.  The headline number is the fair-CRPS skill score of the main ensemble relative
to the baseline, CRPSS = 1 − CRPS_main / CRPS_baseline (> 0: the main ensemble is better; cos-latitude-weighted
global means), shown with the ensemble-mean RMSE and the spread–skill ratio of each.

Its interval comes from *paired* resampling: both stores are scored on the same bootstrap units (start dates, or
dates × longitude sectors), so each resample draws the same units for both and the CRPSS is finished from the
resampled sums of both (``unit_statistics`` of each scores dataset, one
:func:`~hens.diagnostics.aggregate.bootstrap.bootstrap_interval`). Pairing removes the case-to-case variability
both ensembles share, so the interval of the difference is much narrower than the two curves' bands suggest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from hens.diagnostics.aggregate.bootstrap import bootstrap_interval
from hens.diagnostics.metrics.registry import WEIGHT
from hens.diagnostics.report.style import (
    BAND_ALPHA,
    band,
    interval,
    lead_hours,
    legend_outside,
    pick_region,
    plt,
    sample_note,
    save,
    variable_units,
)

COMPARISON_REGION = "global"


def crpss_interval(main: xr.Dataset, base: xr.Dataset, var: str, region: str) -> np.ndarray:
    """Paired-bootstrap interval ``(2, lead)`` of CRPSS = 1 − CRPS_main / CRPS_base (NaN without unit sums, or when
    the two datasets were not scored on the same units)."""
    n_lead = main.sizes["lead_time"]
    if "unit_statistics" not in main or "unit_statistics" not in base or main.sizes["unit"] != base.sizes["unit"]:
        return np.full((2, n_lead), np.nan)
    sums = {}
    for tag, ds in (("a", main), ("b", base)):
        u = ds["unit_statistics"].sel(variable=var, region=region)
        sums[f"{tag}_crps"] = u.sel(statistic="crps").transpose("unit", "lead_time").values
        sums[f"{tag}_w"] = u.sel(statistic=WEIGHT).transpose("unit", "lead_time").values

    def finish(s: dict[str, np.ndarray]) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1.0 - (s["a_crps"] / s["a_w"]) / (s["b_crps"] / s["b_w"])

    return bootstrap_interval(
        sums,
        finish,  # type: ignore[arg-type]
        n_resamples=int(main.attrs.get("bootstrap_n_resamples", 1000)),
        confidence=float(main.attrs.get("bootstrap_confidence", 0.9)),
        seed=int(main.attrs.get("bootstrap_seed", 0)),
    )


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
        bounds = crpss_interval(main, base, var, region)
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
                    "crpss_lo": float(bounds[0, i]),
                    "crpss_hi": float(bounds[1, i]),
                    "rmse": float(a.sel(metric="rmse")[i]),
                    "rmse_baseline": float(b.sel(metric="rmse")[i]),
                    "ssr": float(a.sel(metric="ssr")[i]),
                    "ssr_baseline": float(b.sel(metric="ssr")[i]),
                }
            )
    return rows


def _iv(row: dict[str, object]) -> str:
    lo, hi = float(row.get("crpss_lo", np.nan)), float(row.get("crpss_hi", np.nan))  # type: ignore[arg-type]
    return f" [{lo:+.2f}, {hi:+.2f}]" if np.isfinite(lo) and np.isfinite(hi) else ""


def comparison_verdict(rows: list[dict[str, object]], label: str) -> str:
    """One line: the CRPSS relative to the baseline per variable at each tabulated lead."""
    parts: dict[str, list[str]] = {}
    for row in rows:
        parts.setdefault(str(row["variable"]), []).append(
            f"{row['lead_hours']:g} h {float(row['crpss']):+.2f}{_iv(row)}"
        )
    body = "; ".join(f"{var} {', '.join(p)}" for var, p in parts.items())
    return f"vs {label} [CRPSS = 1 − CRPS/CRPS_{label}, > 0 = better; paired-bootstrap interval]: {body}"


def plot_comparison(main: xr.Dataset, base: xr.Dataset, path: Path, label: str | None = None) -> Path:
    """CRPSS of this ensemble against the baseline with its paired-bootstrap band (first column), then fair CRPS,
    ensemble-mean RMSE with spread, and spread–skill ratio of both with their bands; lead times > 0."""
    label = label or str(base.attrs.get("label", "baseline"))
    hours = lead_hours(main)
    keep = hours > 0 if (hours > 0).any() else np.ones(hours.size, dtype=bool)
    x = hours[keep]
    region = pick_region(main, COMPARISON_REGION)
    variables = [str(v) for v in main["variable"].values]
    fig, axes = plt.subplots(len(variables), 4, figsize=(19, 3.3 * len(variables)), squeeze=False)
    for i, var in enumerate(variables):
        units = variable_units(main, var)
        a = main["scores"].sel(variable=var, region=region, metric="crps").values
        b = base["scores"].sel(variable=var, region=region, metric="crps").values
        with np.errstate(divide="ignore", invalid="ignore"):
            crpss = 1.0 - a / b
        axes[i, 0].plot(x, crpss[keep], color="#0072B2", label=f"CRPSS vs {label}")
        axes[i, 0].fill_between(
            x,
            *crpss_interval(main, base, var, region)[:, keep],
            color="#0072B2",
            alpha=BAND_ALPHA,
            lw=0,
            label="paired bootstrap band",
        )
        axes[i, 0].axhline(0.0, color="k", lw=0.8, ls="--", label="no difference")
        for ds, name, color, ls in ((main, "this ensemble", "#0072B2", "-"), (base, label, "#D55E00", "--")):
            s = ds["scores"].sel(variable=var, region=region)
            for col, metric in ((1, "crps"), (2, "rmse"), (2, "spread"), (3, "ssr")):
                lbl = name if col != 2 else f"{name} {metric}"
                axes[i, col].plot(
                    x, s.sel(metric=metric).values[keep], color=color, ls=":" if metric == "spread" else ls, label=lbl
                )
                bounds = interval(ds, "scores", metric=metric, variable=var, region=region)
                band(axes[i, col], x, None if bounds is None else bounds[:, keep], color)
        axes[i, 3].axhline(1.0, color="gray", lw=0.8, ls=":", label="SSR = 1 (calibrated)")
        later = np.concatenate(
            [ds["scores"].sel(variable=var, region=region, metric="ssr").values[keep] for ds in (main, base)]
        )
        finite = later[np.isfinite(later)]
        axes[i, 3].set_ylim(0.0, max(1.5, 1.15 * float(finite.max())) if finite.size else 2.0)
        axes[i, 0].set_ylabel(f"{var} CRPSS [1]")
        axes[i, 1].set_ylabel(f"{var} fair CRPS [{units}]")
        axes[i, 2].set_ylabel(f"{var} RMSE / spread [{units}]")
        axes[i, 3].set_ylabel(f"{var} spread–skill ratio [1]")
        axes[i, 0].set_title(f"{var}: CRPSS = 1 − CRPS/CRPS_{label} (> 0: this one is better)")
        axes[i, 1].set_title(f"{var}: fair CRPS ({region})")
        axes[i, 2].set_title(f"{var}: ensemble-mean RMSE, spread (dotted)")
        axes[i, 3].set_title(f"{var}: spread–skill ratio")
        for ax in axes[i]:
            ax.set_xlabel("lead time [h]")
            ax.grid(alpha=0.3)
    for ax in axes[0]:
        legend_outside(ax)
    fig.suptitle(
        f"This ensemble (M = {main.attrs.get('n_members')}) vs {label} (M = {base.attrs.get('n_members')}), "
        f"{region}, lead > 0\n{sample_note(main, region)}"
    )
    fig.tight_layout()
    return save(fig, path)


def comparison_table(rows: list[dict[str, object]], label: str) -> tuple[list[str], list[list[str]]]:
    """Header and formatted cells of the report's comparison table."""
    head = [
        "variable",
        "lead [h]",
        "CRPS",
        f"CRPS {label}",
        "CRPSS [paired interval]",
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
            f"{float(r['crpss']):+.3f}{_iv(r)}",
            f"{float(r['rmse']):.4g}",
            f"{float(r['rmse_baseline']):.4g}",
            f"{float(r['ssr']):.2f}",
            f"{float(r['ssr_baseline']):.2f}",
        ]
        for r in rows
    ]
    return head, body
