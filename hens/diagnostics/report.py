"""The Markdown and HTML report of `hens diagnose`: verdicts, a summary table and links to the plots.

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

import html as html_lib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

__all__ = ["summary_table", "verdicts", "write_report"]

SSR_RANGE = (0.8, 1.2)
SSR_FRACTION = 0.75  # share of lead times > 0 whose SSR must lie in SSR_RANGE
OUTLIER_EXCESS = 1.5
SPECTRUM_FACTOR = 1.5
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


def _region(ds: xr.Dataset) -> str:
    regions = [str(r) for r in ds["region"].values]
    return "global" if "global" in regions else regions[0]


def _positive_leads(ds: xr.Dataset) -> np.ndarray:
    hours = ds["lead_time"].values.astype("timedelta64[s]").astype(np.int64) / 3600.0
    keep = hours > 0
    return keep if keep.any() else np.ones_like(keep)


def _map_lead_positions(ds: xr.Dataset) -> list[int]:
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
    region = _region(ds)
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
    region = _region(ds)

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


def _table_rows(ds: xr.Dataset) -> tuple[list[str], list[list[str]]]:
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


def _plot_captions() -> dict[str, str]:
    return {
        "scores_vs_lead": "Ensemble-mean RMSE and spread, fair CRPS and spread–skill ratio vs lead time, per region.",
        "rank_histograms": "Rank histograms of the truth among the members (flat = calibrated).",
        "spectra": "Angular power spectra of members, ensemble mean and truth at three lead times.",
        "reliability": "Reliability diagrams for exceeding climatological percentiles.",
        "roc": "ROC curves and areas for exceeding climatological percentiles.",
        "efi_map": "Extreme Forecast Index maps of the first start date.",
        "outliers_sigma": "Outlier fraction vs the calibrated 2/(M+1), and the truth's σ-distance from the mean.",
        "best_member_error": "Absolute error of the best member at each grid point.",
        "baseline_comparison": "This ensemble vs the baseline store: fair CRPS, RMSE and spread, spread–skill ratio.",
    }


def write_report(
    ds: xr.Dataset,
    out_dir: Path,
    plots: Sequence[Path],
    lines: Sequence[str],
    *,
    store: Path,
    seconds: float,
    comparison: Sequence[dict[str, object]] | None = None,
    baseline: Path | None = None,
) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into ``out_dir`` (plots linked relatively); returns both paths.

    ``comparison``: rows of :func:`hens.diagnostics.compare.comparison_rows` against the ``baseline`` store,
    tabulated in their own section.
    """
    from hens.diagnostics.compare import comparison_table

    out_dir = Path(out_dir)
    captions = _plot_captions()
    head, body = _table_rows(ds)
    m = int(ds.attrs["n_members"])
    n_init = ds.sizes.get("init_time", 0)
    hours = ds["lead_time"].values.astype("timedelta64[s]").astype(np.int64) / 3600.0
    intro = (
        f"Store `{store}`: {n_init} start date(s) × {m} members, variables "
        f"{', '.join(map(str, ds['variable'].values))}, lead times {hours[0]:g}–{hours[-1]:g} h, regions "
        f"{', '.join(map(str, ds['region'].values))}. Diagnosed in {seconds:.1f} s."
    )
    excluded = ds.attrs.get("excluded_members", "{}")
    if "climatology" in ds.attrs:
        intro += f" Climatology of the extreme-event thresholds and M-climate: {ds.attrs['climatology']}."
    md = ["# hens diagnose report", "", intro, ""]
    md += ["## Verdicts", ""] + [f"- {ln}" for ln in lines] + [""]
    md += ["## Summary", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    md += ["| " + " | ".join(row) + " |" for row in body]
    md += [
        "",
        "Rules: calibrated = SSR in [0.8, 1.2] at ≥ 75 % of the lead times > 0 and outliers ≤ 1.5× 2/(M+1); "
        "realistic = member/truth power within a factor 1.5 at the smaller half of the scales (last lead); "
        "good at extremes = ROC AUC ≥ 0.75 "
        "and Brier skill score > 0 at the map lead times.",
        "",
    ]
    label = "baseline"
    cmp_head: list[str] = []
    cmp_body: list[list[str]] = []
    cmp_intro = ""
    if comparison:
        label = str(comparison[0].get("label", "baseline"))
        cmp_head, cmp_body = comparison_table(list(comparison), label)
        cmp_intro = (
            f"Baseline store `{baseline}`, scored on the same start dates, lead times, verification and "
            f"climatology (scores in `baseline/`). CRPSS = 1 − CRPS / CRPS_baseline: above 0 this ensemble is better."
        )
        md += ["## Comparison with the baseline", "", cmp_intro, ""]
        md += ["| " + " | ".join(cmp_head) + " |", "|" + "---|" * len(cmp_head)]
        md += ["| " + " | ".join(row) + " |" for row in cmp_body] + [""]
    if excluded not in ("{}", ""):
        md += [f"Excluded members (non-finite or not generated): `{excluded}`", ""]
    md += ["## Plots", ""]
    for p in plots:
        rel = Path(p).relative_to(out_dir)
        md += [f"### {captions.get(Path(p).stem, Path(p).stem)}", "", f"![{Path(p).stem}]({rel.as_posix()})", ""]
    scores_name = "scores.zarr" if (out_dir / "scores.zarr").exists() else "scores.nc"
    md += [
        "## Data",
        "",
        f"All numbers are in [`{scores_name}`]({scores_name}) (open with `xarray.open_dataset`/`open_zarr`).",
        "",
    ]
    report = out_dir / "report.md"
    report.write_text("\n".join(md), encoding="utf-8")

    esc = html_lib.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>hens diagnose report</title>",
        "<style>body{font-family:sans-serif;max-width:1400px;margin:auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:3px 8px}img{max-width:100%}</style></head><body>",
        "<h1>hens diagnose report</h1>",
        f"<p>{esc(intro)}</p>",
        "<h2>Verdicts</h2><ul>",
    ]
    parts += [f"<li>{esc(ln)}</li>" for ln in lines]
    parts += ["</ul><h2>Summary</h2><table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>"]
    parts += ["<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in body]
    parts += ["</table>"]
    if cmp_body:
        parts += [f"<h2>Comparison with the baseline</h2><p>{esc(cmp_intro)}</p><table><tr>"]
        parts += ["".join(f"<th>{esc(h)}</th>" for h in cmp_head) + "</tr>"]
        parts += ["<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in cmp_body]
        parts += ["</table>"]
    parts += ["<h2>Plots</h2>"]
    for p in plots:
        rel = Path(p).relative_to(out_dir).as_posix()
        parts += [f"<h3>{esc(captions.get(Path(p).stem, Path(p).stem))}</h3><img src='{esc(rel)}'>"]
    parts += ["</body></html>"]
    html_path = out_dir / "report.html"
    html_path.write_text("\n".join(parts), encoding="utf-8")
    return report, html_path
