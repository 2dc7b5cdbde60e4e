"""The Markdown and HTML report of `hens diagnose`: verdicts, the summary table, the comparison and the plots.

The numbers and verdicts come from :mod:`hens.diagnostics.report.verdicts`, the comparison table from
:mod:`hens.diagnostics.report.compare`; this module only lays them out in ``report.md`` and ``report.html``.
"""

from __future__ import annotations

import html as html_lib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import xarray as xr

from hens.diagnostics.report.compare import comparison_table
from hens.diagnostics.report.style import lead_hours
from hens.diagnostics.report.verdicts import summary_rows

__all__ = ["write_report"]

_RULES = (
    "Rules: calibrated = SSR in [0.8, 1.2] at ≥ 75 % of the lead times > 0 and outliers ≤ 1.5× 2/(M+1); "
    "realistic = member/truth power within a factor 1.5 at the smaller half of the scales (last lead); "
    "good at extremes = ROC AUC ≥ 0.75 "
    "and Brier skill score > 0 at the map lead times."
)


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


@dataclass(frozen=True)
class _Content:
    """What both renderings of the report show, in order.

    Attributes:
        intro: the opening paragraph; ``lines``: the verdicts.
        head, body: the summary table; ``cmp_head``, ``cmp_body``, ``cmp_intro``: the comparison (empty without).
        plots: ``(caption, file stem, path relative to the report)`` of each PNG.
        excluded: JSON of the excluded members (``"{}"`` when none); ``scores_name``: the scores file's name.
    """

    intro: str
    lines: Sequence[str]
    head: list[str]
    body: list[list[str]]
    cmp_intro: str
    cmp_head: list[str]
    cmp_body: list[list[str]]
    plots: list[tuple[str, str, str]]
    excluded: str
    scores_name: str


def _markdown(c: _Content) -> str:
    md = ["# hens diagnose report", "", c.intro, ""]
    md += ["## Verdicts", ""] + [f"- {ln}" for ln in c.lines] + [""]
    md += ["## Summary", "", "| " + " | ".join(c.head) + " |", "|" + "---|" * len(c.head)]
    md += ["| " + " | ".join(row) + " |" for row in c.body]
    md += ["", _RULES, ""]
    if c.cmp_body:
        md += ["## Comparison with the baseline", "", c.cmp_intro, ""]
        md += ["| " + " | ".join(c.cmp_head) + " |", "|" + "---|" * len(c.cmp_head)]
        md += ["| " + " | ".join(row) + " |" for row in c.cmp_body] + [""]
    if c.excluded not in ("{}", ""):
        md += [f"Excluded members (non-finite or not generated): `{c.excluded}`", ""]
    md += ["## Plots", ""]
    for caption, stem, rel in c.plots:
        md += [f"### {caption}", "", f"![{stem}]({rel})", ""]
    md += [
        "## Data",
        "",
        f"All numbers are in [`{c.scores_name}`]({c.scores_name}) (open with `xarray.open_dataset`/`open_zarr`).",
        "",
    ]
    return "\n".join(md)


def _html(c: _Content) -> str:
    esc = html_lib.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>hens diagnose report</title>",
        "<style>body{font-family:sans-serif;max-width:1400px;margin:auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:3px 8px}img{max-width:100%}</style></head><body>",
        "<h1>hens diagnose report</h1>",
        f"<p>{esc(c.intro)}</p>",
        "<h2>Verdicts</h2><ul>",
    ]
    parts += [f"<li>{esc(ln)}</li>" for ln in c.lines]
    parts += ["</ul><h2>Summary</h2><table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in c.head) + "</tr>"]
    parts += ["<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>" for row in c.body]
    parts += ["</table>"]
    if c.cmp_body:
        parts += [f"<h2>Comparison with the baseline</h2><p>{esc(c.cmp_intro)}</p><table><tr>"]
        parts += ["".join(f"<th>{esc(h)}</th>" for h in c.cmp_head) + "</tr>"]
        parts += ["<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>" for row in c.cmp_body]
        parts += ["</table>"]
    parts += ["<h2>Plots</h2>"]
    for caption, _, rel in c.plots:
        parts += [f"<h3>{esc(caption)}</h3><img src='{esc(rel)}'>"]
    parts += ["</body></html>"]
    return "\n".join(parts)


def _intro(ds: xr.Dataset, store: Path, seconds: float) -> str:
    """The opening paragraph: what was diagnosed, how long it took, and the climatology used."""
    hours = lead_hours(ds)
    intro = (
        f"Store `{store}`: {ds.sizes.get('init_time', 0)} start date(s) × {int(ds.attrs['n_members'])} members, "
        f"variables {', '.join(map(str, ds['variable'].values))}, lead times {hours[0]:g}–{hours[-1]:g} h, regions "
        f"{', '.join(map(str, ds['region'].values))}. Diagnosed in {seconds:.1f} s."
    )
    if "climatology" in ds.attrs:
        intro += f" Climatology of the extreme-event thresholds and M-climate: {ds.attrs['climatology']}."
    return intro


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

    Args:
        ds: the scores dataset.
        out_dir: the output folder (holding the scores and ``plots/``).
        plots: the PNG files, inside ``out_dir``.
        lines: the verdicts (:func:`hens.diagnostics.report.verdicts.verdicts`).
        store: the diagnosed store; ``seconds``: the run's wall time.
        comparison: rows of :func:`hens.diagnostics.report.compare.comparison_rows` against the ``baseline``
            store, tabulated in their own section.
    """
    out_dir = Path(out_dir)
    captions = _plot_captions()
    head, body = summary_rows(ds)
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
    content = _Content(
        intro=_intro(ds, store, seconds),
        lines=lines,
        head=head,
        body=body,
        cmp_intro=cmp_intro,
        cmp_head=cmp_head,
        cmp_body=cmp_body,
        plots=[
            (captions.get(Path(p).stem, Path(p).stem), Path(p).stem, Path(p).relative_to(out_dir).as_posix())
            for p in plots
        ],
        excluded=ds.attrs.get("excluded_members", "{}"),
        scores_name="scores.zarr" if (out_dir / "scores.zarr").exists() else "scores.nc",
    )
    report = out_dir / "report.md"
    report.write_text(_markdown(content), encoding="utf-8")
    html_path = out_dir / "report.html"
    html_path.write_text(_html(content), encoding="utf-8")
    return report, html_path
