"""The verdicts of `hens diagnose` and the summary table behind them.

Verdicts (global region, or the first region configured) and their rules of thumb:

* **calibrated** — spread–skill ratio within [0.8, 1.2] at ≥ 75 % of the lead times > 0 (an average would hide
  a ratio that is too low early and too high late), and the outlier
  fraction (truth outside the ensemble range, the two end bins of the rank histogram) at most 1.5× the
  2/(M+1) a calibrated ensemble would have;
* **physically realistic** — the members' power at the smaller half of the resolved scales stays within a
  factor 1.5 of the truth's (geometric mean over those degrees, at the last lead time; the interval's unit is the
  start date, see :mod:`hens.diagnostics.aggregate.spectra_intervals`);
* **good at extremes** — ROC area ≥ 0.75 and Brier skill score > 0 for exceeding the lowest configured
  climatological percentile, averaged over the map lead times.

Each test uses the bootstrap interval of its number (``*_interval`` in the scores): it passes ("yes") when the
whole interval meets the threshold, fails ("no") when none of it does, and is "undetermined" when the interval
straddles the threshold — the data cannot tell. A lead time's SSR counts as in range when its interval lies in
[0.8, 1.2]; the 75 % rule is "undetermined" when the sure lead times fall short of it but the undetermined ones
could reach it. A number without an interval (one start date: nothing to resample) is "undetermined".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from hens.diagnostics.aggregate.spectra_intervals import small_scale_ratio
from hens.diagnostics.report.style import lead_hours, pick_region

__all__ = ["basis", "both", "decide", "realistic", "share_rule", "summary_rows", "summary_table", "verdicts"]

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


def _spectrum_ratio(ds: xr.Dataset, var: str) -> tuple[float, float, float]:
    """Small-scale member/truth power ratio at the last lead and its interval (NaN without spectra or interval)."""
    if "small_scale_power_ratio" in ds:
        value = float(ds["small_scale_power_ratio"].sel(variable=var).isel(lead_time=-1))
    elif "power_spectrum" in ds:  # a scores file written before the ratio was stored
        spec = ds["power_spectrum"].sel(variable=var).transpose("spectrum", "lead_time", "degree").values
        value = float(small_scale_ratio(spec, ds["degree"].values)[-1])
    else:
        return (float("nan"),) * 3
    if "small_scale_power_ratio_interval" not in ds:
        return value, float("nan"), float("nan")
    lo, hi = ds["small_scale_power_ratio_interval"].sel(variable=var).isel(lead_time=-1).transpose("bound").values
    return value, float(lo), float(hi)


def decide(lower: float, upper: float, low: float | None = None, high: float | None = None) -> str:
    """ "yes" when the interval [lower, upper] lies inside [low, high] (a missing bound is open), "no" when it lies
    wholly outside, "undetermined" when it straddles a bound, "n/a" when it is NaN."""
    if not (np.isfinite(lower) and np.isfinite(upper)):
        return "n/a"
    inside = (low is None or lower >= low) and (high is None or upper <= high)
    outside = (low is not None and upper < low) or (high is not None and lower > high)
    return "yes" if inside else ("no" if outside else "undetermined")


def both(*marks: str) -> str:
    """All of several tests: "no" if one fails, "yes" if all pass, "n/a" if one is unknown, else "undetermined"."""
    if "no" in marks:
        return "no"
    if all(m == "yes" for m in marks):
        return "yes"
    return "n/a" if "n/a" in marks else "undetermined"


def share_rule(marks: Sequence[str], needed: float) -> str:
    """Whether at least ``needed`` of the per-lead ``marks`` pass: "yes" if the sure passes reach it, "no" if even
    the undetermined ones could not make it, else "undetermined"."""
    known = [m for m in marks if m != "n/a"]
    if not known:
        return "n/a"
    sure = np.mean([m == "yes" for m in known])
    possible = np.mean([m != "no" for m in known])
    return "yes" if sure >= needed else ("no" if possible < needed else "undetermined")


def _bounds(ds: xr.Dataset, name: str, values: np.ndarray, **sel: object) -> np.ndarray:
    """``(2, …)`` bounds of ``<name>_interval`` at ``sel`` (the value itself twice when the dataset has none)."""
    key = f"{name}_interval"
    if key not in ds:
        return np.stack([values, values])
    return np.asarray(ds[key].sel(sel).transpose("bound", ...).values, dtype=np.float64)


def summary_table(ds: xr.Dataset) -> list[dict[str, object]]:
    """One row per variable of the numbers behind the verdicts (see the module docstring), with the bootstrap
    bounds (``*_lo``, ``*_hi``; averages over lead times average the per-lead bounds, which is wider — more
    cautious — than the interval of the average) and the per-lead SSR marks."""
    region = pick_region(ds, "global")
    keep = _positive_leads(ds)
    m = int(ds.attrs["n_members"])
    expected = 2.0 / (m + 1.0)
    rows = []
    for var in ds["variable"].values:
        s = ds["scores"].sel(variable=var, region=region)
        ssr = s.sel(metric="ssr").values
        ssr_b = _bounds(ds, "scores", ssr, variable=var, region=region, metric="ssr")[:, keep]
        out = s.sel(metric="outlier_fraction").values
        out_b = _bounds(ds, "scores", out, variable=var, region=region, metric="outlier_fraction")[:, keep]
        row: dict[str, object] = {
            "variable": str(var),
            "region": region,
            "ssr": _nanmean(ssr[keep]),
            "ssr_min": _nanmin(ssr[keep]),
            "ssr_max": _nanmax(ssr[keep]),
            "ssr_in_range": _in_range_fraction(ssr[keep]),
            "ssr_marks": [decide(lo, hi, *SSR_RANGE) for lo, hi in ssr_b.T],
            "outlier_ratio": _nanmean(out[keep]) / expected,
            "outlier_ratio_lo": _nanmean(out_b[0]) / expected,
            "outlier_ratio_hi": _nanmean(out_b[1]) / expected,
        }
        row["spectrum_ratio"], row["spectrum_ratio_lo"], row["spectrum_ratio_hi"] = _spectrum_ratio(ds, str(var))
        for metric in ("rmse", "crps"):
            last = s.sel(metric=metric).values
            lo, hi = _bounds(ds, "scores", last, variable=var, region=region, metric=metric)[:, -1]
            row[f"{metric}_last"], row[f"{metric}_last_lo"], row[f"{metric}_last_hi"] = float(last[-1]), lo, hi
        row.update({k: float("nan") for k in ("auc", "auc_lo", "auc_hi", "bss", "bss_lo", "bss_hi", "percentile")})
        if ds.sizes.get("percentile", 0):
            pct = ds["percentile"].values[0]
            leads = _map_lead_positions(ds)
            sel = dict(variable=var, region=region, percentile=pct)
            for key in ("auc", "bss"):
                name = "roc_auc" if key == "auc" else "brier_skill_score"
                values = ds[name].sel(sel).values
                bounds = _bounds(ds, name, values, **sel)[:, leads]
                row[key] = _nanmean(values[leads])
                row[f"{key}_lo"], row[f"{key}_hi"] = _nanmean(bounds[0]), _nanmean(bounds[1])
            row["percentile"] = float(pct)
        rows.append(row)
    return rows


def _judge(rows: Sequence[dict[str, object]]) -> dict[str, dict[str, str]]:
    """Per variable: "yes" / "no" / "undetermined" (an interval straddles a threshold) / "n/a" for each verdict."""
    out: dict[str, dict[str, str]] = {}
    for row in rows:
        f = {k: float(v) for k, v in row.items() if isinstance(v, float)}
        out[str(row["variable"])] = {
            "calibrated": both(
                share_rule(row["ssr_marks"], SSR_FRACTION),  # type: ignore[arg-type]
                decide(f["outlier_ratio_lo"], f["outlier_ratio_hi"], high=OUTLIER_EXCESS),
            ),
            "realistic": realistic(f["spectrum_ratio"], f["spectrum_ratio_lo"], f["spectrum_ratio_hi"]),
            "extremes": both(decide(f["auc_lo"], f["auc_hi"], low=AUC_MIN), decide(f["bss_lo"], f["bss_hi"], low=0.0))
            if np.isfinite(f["auc"])
            else "n/a",
        }
    return out


def realistic(value: float, lower: float, upper: float) -> str:
    """The "physically realistic" test on the small-scale power ratio: :func:`decide` on its interval against
    [1/:data:`SPECTRUM_FACTOR`, :data:`SPECTRUM_FACTOR`]; "undetermined" when the ratio has no interval (one start
    date), "n/a" without spectra."""
    if not np.isfinite(value):
        return "n/a"
    if not (np.isfinite(lower) and np.isfinite(upper)):
        return "undetermined"
    return decide(lower, upper, 1 / SPECTRUM_FACTOR, SPECTRUM_FACTOR)


def _overall(marks: Sequence[str]) -> str:
    known = {m for m in marks if m != "n/a"}
    if not known:
        return "n/a"
    return known.pop() if len(known) == 1 else "partly"


def basis(ds: xr.Dataset) -> str:
    """What the verdicts rest on: start dates × members, and the bootstrap units of their intervals."""
    n_init = int(ds.attrs.get("n_init_times", ds.sizes.get("init_time", 0)))
    text = f"{n_init} start date(s) × {int(ds.attrs['n_members'])} members"
    if "bootstrap_unit" in ds.attrs:
        conf = float(ds.attrs.get("bootstrap_confidence", 0.9))
        text += f"; {conf:.0%} bootstrap intervals, unit: {ds.attrs['bootstrap_unit']}"
    return text


def _iv(lo: object, hi: object, digits: int = 2) -> str:
    lo_f, hi_f = float(lo), float(hi)  # type: ignore[arg-type]
    return f" [{lo_f:.{digits}f}, {hi_f:.{digits}f}]" if np.isfinite(lo_f) and np.isfinite(hi_f) else ""


def _iv_g(lo: object, hi: object) -> str:
    """``_iv`` with 4 significant digits (numbers in the variable's units, of any size)."""
    lo_f, hi_f = float(lo), float(hi)  # type: ignore[arg-type]
    return f" [{lo_f:.4g}, {hi_f:.4g}]" if np.isfinite(lo_f) and np.isfinite(hi_f) else ""


def verdicts(ds: xr.Dataset) -> list[str]:
    """Three one-line verdicts — calibrated, physically realistic, good at extremes — each "yes", "no",
    "undetermined" (an interval straddles the threshold) or "partly" (variables disagree), with the numbers,
    their intervals, and the sample they rest on."""
    rows = summary_table(ds)
    judged = _judge(rows)
    region = pick_region(ds, "global")

    def line(key: str, title: str, detail: str) -> str:
        verdict = _overall([judged[str(r["variable"])][key] for r in rows])
        return f"{title}: {verdict} ({detail})"

    cal = "; ".join(
        f"{r['variable']} {judged[str(r['variable'])]['calibrated']}: SSR {r['ssr_min']:.2f}–{r['ssr_max']:.2f} "
        f"({r['ssr_in_range']:.0%} of leads in 0.8–1.2), outliers {r['outlier_ratio']:.1f}×"
        f"{_iv(r['outlier_ratio_lo'], r['outlier_ratio_hi'], 1)} 2/(M+1)"
        for r in rows
    )
    phys = "; ".join(
        f"{r['variable']} {judged[str(r['variable'])]['realistic']}: member/truth small-scale power "
        f"{r['spectrum_ratio']:.2f}{_iv(r['spectrum_ratio_lo'], r['spectrum_ratio_hi'])}"
        for r in rows
    )
    if rows and "spectra_bootstrap_unit" in ds.attrs:
        phys += f"; spectra unit: {ds.attrs['spectra_bootstrap_unit']}"
    ext = "; ".join(
        f"{r['variable']} {judged[str(r['variable'])]['extremes']}: AUC {r['auc']:.2f}{_iv(r['auc_lo'], r['auc_hi'])}, "
        f"BSS {r['bss']:.2f}{_iv(r['bss_lo'], r['bss_hi'])}"
        for r in rows
    )
    pct = rows[0]["percentile"] if rows else float("nan")
    return [
        line("calibrated", f"calibrated [{region}]", cal),
        line("realistic", "physically realistic", phys),
        line("extremes", f"good at extremes [> {pct:g}th pct]", ext),
        f"sample: {basis(ds)}",
    ]


def summary_rows(ds: xr.Dataset) -> tuple[list[str], list[list[str]]]:
    """Header and formatted cells of the report's summary table: the numbers of :func:`summary_table` with their
    intervals, and the verdict of each variable."""
    rows = summary_table(ds)
    judged = _judge(rows)
    head = [
        "variable",
        "units",
        "SSR (min–max, lead > 0)",
        "leads with SSR in 0.8–1.2 (sure / possible)",
        "outliers / 2/(M+1) [interval]",
        "calibrated",
        "member/truth small-scale power [interval]",
        "realistic",
        "ROC AUC [interval]",
        "BSS [interval]",
        "good at extremes",
        "RMSE (last lead) [interval]",
        "CRPS (last lead) [interval]",
    ]
    body = []
    for r in rows:
        var = str(r["variable"])
        units = str(ds["units"].sel(variable=var).values) if "units" in ds.coords else ""
        j = judged[var]
        marks = [m for m in r["ssr_marks"] if m != "n/a"]  # type: ignore[attr-defined]
        sure = np.mean([m == "yes" for m in marks]) if marks else float("nan")
        possible = np.mean([m != "no" for m in marks]) if marks else float("nan")
        body.append(
            [
                var,
                units,
                f"{r['ssr_min']:.2f}–{r['ssr_max']:.2f}",
                f"{r['ssr_in_range']:.0%} ({sure:.0%} / {possible:.0%})",
                f"{r['outlier_ratio']:.2f}{_iv(r['outlier_ratio_lo'], r['outlier_ratio_hi'])}",
                j["calibrated"],
                f"{r['spectrum_ratio']:.2f}{_iv(r['spectrum_ratio_lo'], r['spectrum_ratio_hi'])}",
                j["realistic"],
                f"{r['auc']:.3f}{_iv(r['auc_lo'], r['auc_hi'], 3)}",
                f"{r['bss']:.3f}{_iv(r['bss_lo'], r['bss_hi'], 3)}",
                j["extremes"],
                f"{r['rmse_last']:.4g}{_iv_g(r['rmse_last_lo'], r['rmse_last_hi'])}",
                f"{r['crps_last']:.4g}{_iv_g(r['crps_last_lo'], r['crps_last_hi'])}",
            ]
        )
    return head, body
