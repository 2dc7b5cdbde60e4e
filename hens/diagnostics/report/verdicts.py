"""The verdicts of `hens diagnose` and the summary table behind them.

Verdicts (global region, or the first region configured) and their rules of thumb:

* **calibrated** — spread–skill ratio within [0.8, 1.2] at ≥ 75 % of the lead times > 0 (an average would hide
  a ratio that is too low early and too high late), and the outlier
  fraction (truth outside the ensemble range, the two end bins of the rank histogram) at most 1.5× the
  2/(M+1) a calibrated ensemble would have;
* **physically realistic** — the members' power at the smaller half of the resolved scales stays within a
  factor 1.5 of the truth's (geometric mean over those degrees, at the last lead time);
* **good at extremes** — ROC area ≥ 0.75 and Brier skill score > 0 for exceeding the lowest configured
  climatological percentile, averaged over the map lead times.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from hens.diagnostics.report.style import lead_hours, pick_region

__all__ = ["summary_rows", "summary_table", "verdicts"]

#: Spread–skill ratios counted as calibrated.
SSR_RANGE = (0.8, 1.2)
#: Share of the lead times > 0 whose SSR must lie in :data:`SSR_RANGE`.
SSR_FRACTION = 0.75
#: Largest outlier fraction counted as calibrated, in units of the calibrated 2/(M+1).
OUTLIER_EXCESS = 1.5
#: Largest factor between the members' and the truth's small-scale power counted as realistic.
SPECTRUM_FACTOR = 1.5
#: Smallest ROC area counted as good at extremes.
AUC_MIN = 0.75


def _nanmean(values: np.ndarray) -> float:
    """Mean ignoring NaN; NaN (without a warning) when nothing is finite."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    return float(v[ok].mean()) if ok.any() else float("nan")


def _nanmin(values: np.ndarray) -> float:
    v = np.asarray(values, dtype=np.float64)
    return float(np.min(v[np.isfinite(v)])) if np.isfinite(v).any() else float("nan")


def _nanmax(values: np.ndarray) -> float:
    v = np.asarray(values, dtype=np.float64)
    return float(np.max(v[np.isfinite(v)])) if np.isfinite(v).any() else float("nan")


def _in_range_fraction(values: np.ndarray) -> float:
    """Share of the finite values inside :data:`SSR_RANGE` (0 when none is finite)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(np.mean((v >= SSR_RANGE[0]) & (v <= SSR_RANGE[1]))) if v.size else 0.0


def _positive_leads(ds: xr.Dataset) -> np.ndarray:
    """Mask of the lead times > 0 (all of them if there are none: t = 0 alone)."""
    keep = lead_hours(ds) > 0
    return keep if keep.any() else np.ones_like(keep)


def _map_lead_positions(ds: xr.Dataset) -> list[int]:
    """Positions along ``lead_time`` of the map lead times (the last lead time if the dataset has no maps)."""
    lead = ds["lead_time"].values
    if "map_lead_time" not in ds.coords:
        return [lead.size - 1]
    return [int(np.argmin(np.abs(lead - t))) for t in ds["map_lead_time"].values]


def _spectrum_ratio(ds: xr.Dataset, var: str) -> float:
    """Geometric-mean ratio member power / truth power over the upper half of the degrees at the last lead."""
    spec = ds["power_spectrum"].sel(variable=var).isel(lead_time=-1)
    deg = ds["degree"].values
    upper = deg >= max(1, deg.size // 2)
    members = spec.sel(spectrum="members").values[upper]
    truth = spec.sel(spectrum="truth").values[upper]
    ok = (members > 0) & (truth > 0)
    if not ok.any():
        return float("nan")
    return float(np.exp(np.mean(np.log(members[ok] / truth[ok]))))


def summary_table(ds: xr.Dataset) -> list[dict[str, object]]:
    """One row per variable of the numbers behind the verdicts (see the module docstring)."""
    region = pick_region(ds, "global")
    keep = _positive_leads(ds)
    m = int(ds.attrs["n_members"])
    expected = 2.0 / (m + 1.0)
    rows = []
    for var in ds["variable"].values:
        s = ds["scores"].sel(variable=var, region=region)
        row: dict[str, object] = {
            "variable": str(var),
            "region": region,
            "ssr": _nanmean(s.sel(metric="ssr").values[keep]),
            "ssr_min": _nanmin(s.sel(metric="ssr").values[keep]),
            "ssr_max": _nanmax(s.sel(metric="ssr").values[keep]),
            "ssr_in_range": _in_range_fraction(s.sel(metric="ssr").values[keep]),
            "rmse_last": float(s.sel(metric="rmse").values[-1]),
            "crps_last": float(s.sel(metric="crps").values[-1]),
            "outlier_ratio": _nanmean(s.sel(metric="outlier_fraction").values[keep]) / expected,
            "spectrum_ratio": _spectrum_ratio(ds, str(var)) if "power_spectrum" in ds else float("nan"),
            "auc": float("nan"),
            "bss": float("nan"),
            "percentile": float("nan"),
        }
        if ds.sizes.get("percentile", 0):
            pct = ds["percentile"].values[0]
            leads = _map_lead_positions(ds)
            sel = dict(variable=var, region=region, percentile=pct)
            row["auc"] = _nanmean(ds["roc_auc"].sel(sel).values[leads])
            row["bss"] = _nanmean(ds["brier_skill_score"].sel(sel).values[leads])
            row["percentile"] = float(pct)
        rows.append(row)
    return rows


def _mark(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "no")


def _judge(rows: Sequence[dict[str, object]]) -> dict[str, dict[str, bool | None]]:
    out: dict[str, dict[str, bool | None]] = {}
    for row in rows:
        in_range, ratio = float(row["ssr_in_range"]), float(row["outlier_ratio"])  # type: ignore[arg-type]
        spec, auc, bss = (float(row[k]) for k in ("spectrum_ratio", "auc", "bss"))  # type: ignore[arg-type]
        out[str(row["variable"])] = {
            "calibrated": bool(in_range >= SSR_FRACTION and ratio <= OUTLIER_EXCESS),
            "realistic": None if np.isnan(spec) else bool(1 / SPECTRUM_FACTOR <= spec <= SPECTRUM_FACTOR),
            "extremes": None if np.isnan(auc) else bool(auc >= AUC_MIN and bss > 0),
        }
    return out


def verdicts(ds: xr.Dataset) -> list[str]:
    """Three one-line verdicts: calibrated, physically realistic, good at extremes (with the numbers)."""
    rows = summary_table(ds)
    judged = _judge(rows)
    region = pick_region(ds, "global")

    def line(key: str, title: str, detail: str) -> str:
        marks = [judged[str(r["variable"])][key] for r in rows]
        known = [v for v in marks if v is not None]
        if not known:
            verdict = "n/a"
        elif all(known):
            verdict = "yes"
        elif any(known):
            verdict = "partly"
        else:
            verdict = "no"
        return f"{title}: {verdict} ({detail})"

    cal = "; ".join(
        f"{r['variable']} SSR {r['ssr_min']:.2f}–{r['ssr_max']:.2f} ({r['ssr_in_range']:.0%} of leads in 0.8–1.2), "
        f"outliers {r['outlier_ratio']:.1f}× 2/(M+1)"
        for r in rows
    )
    phys = "; ".join(f"{r['variable']} member/truth small-scale power {r['spectrum_ratio']:.2f}" for r in rows)
    ext = "; ".join(f"{r['variable']} AUC {r['auc']:.2f}, BSS {r['bss']:.2f}" for r in rows)
    pct = rows[0]["percentile"] if rows else float("nan")
    return [
        line("calibrated", f"calibrated [{region}]", cal),
        line("realistic", "physically realistic", phys),
        line("extremes", f"good at extremes [> {pct:g}th pct]", ext),
    ]


def summary_rows(ds: xr.Dataset) -> tuple[list[str], list[list[str]]]:
    """Header and formatted cells of the report's summary table: the numbers of :func:`summary_table` and the
    verdict of each variable."""
    rows = summary_table(ds)
    judged = _judge(rows)
    head = [
        "variable",
        "units",
        "SSR (min–max, lead > 0)",
        "leads with SSR in 0.8–1.2",
        "outliers / 2/(M+1)",
        "calibrated",
        "member/truth small-scale power",
        "realistic",
        "ROC AUC",
        "BSS",
        "good at extremes",
        "RMSE (last lead)",
        "CRPS (last lead)",
    ]
    body = []
    for r in rows:
        var = str(r["variable"])
        units = str(ds["units"].sel(variable=var).values) if "units" in ds.coords else ""
        j = judged[var]
        body.append(
            [
                var,
                units,
                f"{r['ssr_min']:.2f}–{r['ssr_max']:.2f}",
                f"{r['ssr_in_range']:.0%}",
                f"{r['outlier_ratio']:.2f}",
                _mark(j["calibrated"]),
                f"{r['spectrum_ratio']:.2f}",
                _mark(j["realistic"]),
                f"{r['auc']:.3f}",
                f"{r['bss']:.3f}",
                _mark(j["extremes"]),
                f"{r['rmse_last']:.4g}",
                f"{r['crps_last']:.4g}",
            ]
        )
    return head, body
