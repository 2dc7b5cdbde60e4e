"""The Markdown and HTML report of `hens diagnose`: verdicts, the summary table, the comparison and the plots.

The numbers and verdicts come from :mod:`hens.diagnostics.report.verdicts`, the comparison table from
:mod:`hens.diagnostics.report.compare`; this module only lays them out in ``report.md`` and ``report.html``.
"""

from __future__ import annotations

import html as html_lib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import xarray as xr

from hens.diagnostics.report.compare import comparison_table
from hens.diagnostics.report.ensemble_size import ensemble_size_table
from hens.diagnostics.report.style import lead_hours
from hens.diagnostics.report.verdicts import basis, summary_rows

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
        "spectra": "Angular power spectra of members, ensemble mean and truth at three lead times, their ratio to "
        "the truth with bootstrap bands, and the small-scale member/truth ratio behind the realism verdict.",
        "reliability": "Reliability diagrams for exceeding climatological percentiles.",
        "roc": "ROC curves and areas for exceeding climatological percentiles.",
        "efi_map": "Extreme Forecast Index of 6-hourly values of the first start date vs the climatology's quantiles.",
        "efi_sot_daily": "Daily EFI and Shift of Tails of the first start date vs the M-climate of the same lead day.",
        "outliers_sigma": "Outlier fraction vs the calibrated 2/(M+1), and the truth's σ-distance from the mean.",
        "best_member_error": "Absolute error of the best member at each grid point; area means with intervals.",
        "baseline_comparison": "This ensemble vs the baseline store: CRPSS with its paired band, CRPS, RMSE, SSR.",
        "ensemble_size": "Fair and ecdf CRPS, spread–skill ratio, outliers and kσ events against the ensemble size.",
    }


#: "How to read this", per plot (by file stem) and per section.
_HOW_TO_READ = {
    "scores_vs_lead": "Lines are the scores, shaded bands their bootstrap intervals (the sampling uncertainty "
    "from the few start dates and grid blocks, not the forecast uncertainty). Lead 0 is left out: the truth is the "
    "initial state there. RMSE and spread should grow together; the spread–skill ratio should stay near 1.",
    "rank_histograms": "Bars should be flat at 1; a U means too little spread, a dome too much, a slope a bias. "
    "Error bars are bootstrap intervals; the grey band is how far a calibrated ensemble scored on the same units "
    "could stray from flat.",
    "spectra": "Members (solid) should follow the truth (dotted) at every scale; the ensemble mean (dashed) "
    "loses small scales with lead time. Middle row: power over the truth's, with bootstrap bands; bottom row: the "
    "members' small-scale power over the truth's vs lead, between the dashed lines (factor 1.5) for a realistic "
    "ensemble. The spectra are global, so their bootstrap unit is the start date alone (no longitude sectors): "
    "with few dates the bands are rough, with one date there are none.",
    "reliability": "Points on the diagonal are reliable; below it over-confident. Error bars: bootstrap "
    "intervals; hollow points rest on few cases (see the inset, the sharpness histogram: how many forecasts fall "
    "in each probability bin). BSS with its interval in the legend; BSS < 0 is worse than climatology.",
    "roc": "Curves above the diagonal discriminate events from non-events; the area (AUC) with its bootstrap "
    "interval is in the legend (0.5: no skill).",
    "efi_map": "One start date: +1 where all members are above the climate's maximum, −1 where all are below its "
    "minimum; the climate is the one named in the title (for the demo world the truth's, not the model's). A "
    "forecast product, not a verification score: no interval, and with few members single values are noisy.",
    "efi_sot_daily": "ECMWF's products on daily aggregates: the EFI (−1 … 1) and the Shift of Tails (> 0: the "
    "forecast's 90th percentile beyond the M-climate's 99th, or its 10th below the 1st), each against the "
    "M-climate of the same lead day built from hindcasts of the model. One forecast, not a score.",
    "outliers_sigma": "Left: the share of points where the truth falls outside all members, against 2/(M+1) "
    "(dashed) with the sampling band a calibrated ensemble would show. Right: (truth − mean)/σ against the "
    "calibrated law √((M+1)/M)·t(M−1) (black steps; N(0,1) for large M) — bars above the steps in the tails "
    "mean too little spread.",
    "best_member_error": "Where even the closest member misses the truth by much, the ensemble does not span it. "
    "Each grid point averages only the few start dates, so single points are noisy; the area mean in each title "
    "carries its bootstrap interval.",
    "ensemble_size": "Each point is a sub-ensemble size M (log axis), the mean over seeded draws with ± one standard "
    "deviation over them. The fair CRPS estimates the score of an infinitely large ensemble from M members, so it "
    "should be flat in M (only its scatter shrinks); the ecdf CRPS is the score of the M-member ensemble itself and "
    "improves towards it as M grows (the dotted line marks the smallest sufficient M). Outliers should follow "
    "2/(M+1); kσ events should follow the dashed calibrated curves — more events than those mean too little spread "
    "in the tails.",
    "baseline_comparison": "First column: CRPSS against the baseline with a paired-bootstrap band — where the "
    "band excludes 0 the difference is real on these units. Other columns: both ensembles with their bands.",
}

_SECTION_HELP = {
    "verdicts": "Each verdict is yes or no only when the whole bootstrap interval of its number lies on one side "
    "of the threshold; undetermined means the data (start dates × members) cannot tell; partly means the "
    "variables disagree.",
    "summary": "The numbers behind the verdicts, with their bootstrap intervals in brackets. 'Leads with SSR in "
    "0.8–1.2' gives the share of lead times whose value is inside, then the shares whose interval is surely inside "
    "and possibly inside.",
    "comparison": "CRPSS > 0: this ensemble is better than the baseline; the bracket is its paired-bootstrap "
    "interval (same resampled units for both).",
    "ensemble_size": "How the scores depend on the number of members (HENS Part II). 'points > kσ' is the mean "
    "number per draw of points (start dates × grid points × lead times > 0) whose truth lies more than k ensemble "
    "standard deviations from the sub-ensemble mean, then their share (the calibrated Gaussian share in brackets); "
    "'members beyond truth' is the mean fraction of members more extreme than the truth in those events (0: no member "
    "reached the observed value; below M = 11 for 3σ and M = 18 for 4σ no member can, by Samuelson's inequality).",
    "excluded": "Members left out of every score because they have non-finite values or were not generated.",
    "provenance": "The command and the composed config that produced this report.",
}


def _excluded_rows(excluded: str) -> list[list[str]]:
    """``[start date, member, reason]`` rows of the excluded-members JSON (``{date: {member: reason}}``)."""
    try:
        data = json.loads(excluded or "{}")
    except json.JSONDecodeError:
        return [["?", "?", excluded]]
    rows = []
    for date, members in sorted(data.items()):
        for member, reason in sorted(members.items(), key=lambda kv: int(kv[0]) if str(kv[0]).isdigit() else 0):
            rows.append([str(date), str(member), str(reason)])
    return rows


@dataclass(frozen=True)
class _Content:
    """What both renderings of the report show, in order.

    Attributes:
        intro: the opening paragraph; ``lines``: the verdicts.
        head, body: the summary table; ``cmp_head``, ``cmp_body``, ``cmp_intro``: the comparison (empty without).
        plots: ``(caption, file stem, path relative to the report)`` of each PNG.
        excluded: JSON of the excluded members (``"{}"`` when none); ``scores_name``: the scores file's name.
        command, config: the command line and the composed config YAML.
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
    command: str
    config: str
    extra: Sequence[tuple[str, str, str, list[str], list[list[str]]]] = ()


def _sections(c: _Content) -> list[tuple[str, str]]:
    """``(anchor, title)`` of the report's sections, in order (the table of contents)."""
    out = [("verdicts", "Verdicts"), ("summary", "Summary")]
    if c.cmp_body:
        out.append(("comparison", "Comparison with the baseline"))
    out += [(anchor, title) for anchor, title, *_ in c.extra]
    out.append(("excluded", "Excluded members"))
    out += [(f"plot-{stem}", caption) for caption, stem, _ in c.plots]
    out += [("data", "Data"), ("provenance", "Command and config")]
    return out


def _md_table(head: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in body]


def _markdown(c: _Content) -> str:
    md = ["# hens diagnose report", "", c.intro, "", "## Contents", ""]
    md += [f"- [{title}](#{anchor})" for anchor, title in _sections(c)] + [""]
    md += ['<a id="verdicts"></a>', "## Verdicts", "", f"*How to read this:* {_SECTION_HELP['verdicts']}", ""]
    md += [f"- {ln}" for ln in c.lines] + [""]
    md += ['<a id="summary"></a>', "## Summary", "", f"*How to read this:* {_SECTION_HELP['summary']}", ""]
    md += _md_table(c.head, c.body) + ["", _RULES, ""]
    if c.cmp_body:
        md += ['<a id="comparison"></a>', "## Comparison with the baseline", "", c.cmp_intro, ""]
        md += [f"*How to read this:* {_SECTION_HELP['comparison']}", ""] + _md_table(c.cmp_head, c.cmp_body) + [""]
    for anchor, title, intro, head, body in c.extra:
        md += [
            f'<a id="{anchor}"></a>',
            f"## {title}",
            "",
            intro,
            "",
            f"*How to read this:* {_SECTION_HELP[anchor]}",
            "",
        ]
        md += _md_table(head, body) + [""]
    md += ['<a id="excluded"></a>', "## Excluded members", "", f"*How to read this:* {_SECTION_HELP['excluded']}", ""]
    rows = _excluded_rows(c.excluded)
    md += (_md_table(["start date", "member", "reason"], rows) if rows else ["None: every member was scored."]) + [""]
    md += ["## Plots", ""]
    for caption, stem, rel in c.plots:
        md += [f'<a id="plot-{stem}"></a>', f"### {caption}", ""]
        if stem in _HOW_TO_READ:
            md += [f"*How to read this:* {_HOW_TO_READ[stem]}", ""]
        md += [f"![{stem}]({rel})", ""]
    md += [
        '<a id="data"></a>',
        "## Data",
        "",
        f"All numbers are in [`{c.scores_name}`]({c.scores_name}) (open with `xarray.open_dataset`/`open_zarr`); "
        "intervals are the `*_interval` variables (dimension `bound`), the units' sums `unit_statistics`.",
        "",
        '<a id="provenance"></a>',
        "## Command and config",
        "",
        f"*How to read this:* {_SECTION_HELP['provenance']}",
        "",
        "```",
        c.command,
        "```",
        "",
        "```yaml",
        c.config.rstrip(),
        "```",
        "",
    ]
    return "\n".join(md)


def _html_table(head: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    esc = html_lib.escape
    out = ["<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>" for row in body]
    return out + ["</table>"]


def _html(c: _Content) -> str:
    esc = html_lib.escape

    def help_(key: str, table: dict[str, str]) -> str:
        return f"<p class='how'><b>How to read this:</b> {esc(table[key])}</p>" if key in table else ""

    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>hens diagnose report</title>",
        "<style>body{font-family:sans-serif;max-width:1400px;margin:auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:3px 8px}img{max-width:100%}.how{color:#333;font-size:90%}"
        "pre{background:#f4f4f4;padding:6px;overflow-x:auto}</style></head><body>",
        "<h1>hens diagnose report</h1>",
        f"<p>{esc(c.intro)}</p><h2>Contents</h2><ul>",
    ]
    parts += [f"<li><a href='#{a}'>{esc(t)}</a></li>" for a, t in _sections(c)]
    parts += ["</ul><h2 id='verdicts'>Verdicts</h2>", help_("verdicts", _SECTION_HELP), "<ul>"]
    parts += [f"<li>{esc(ln)}</li>" for ln in c.lines]
    parts += ["</ul><h2 id='summary'>Summary</h2>", help_("summary", _SECTION_HELP)]
    parts += _html_table(c.head, c.body) + [f"<p>{esc(_RULES)}</p>"]
    if c.cmp_body:
        parts += [f"<h2 id='comparison'>Comparison with the baseline</h2><p>{esc(c.cmp_intro)}</p>"]
        parts += [help_("comparison", _SECTION_HELP)] + _html_table(c.cmp_head, c.cmp_body)
    for anchor, title, intro, head, body in c.extra:
        parts += [f"<h2 id='{anchor}'>{esc(title)}</h2><p>{esc(intro)}</p>", help_(anchor, _SECTION_HELP)]
        parts += _html_table(head, body)
    parts += ["<h2 id='excluded'>Excluded members</h2>", help_("excluded", _SECTION_HELP)]
    rows = _excluded_rows(c.excluded)
    parts += (
        _html_table(["start date", "member", "reason"], rows) if rows else ["<p>None: every member was scored.</p>"]
    )
    parts += ["<h2>Plots</h2>"]
    for caption, stem, rel in c.plots:
        parts += [
            f"<h3 id='plot-{esc(stem)}'>{esc(caption)}</h3>",
            help_(stem, _HOW_TO_READ),
            f"<img src='{esc(rel)}'>",
        ]
    parts += [
        f"<h2 id='data'>Data</h2><p>All numbers are in <code>{esc(c.scores_name)}</code>; intervals are the "
        "<code>*_interval</code> variables.</p>",
        "<h2 id='provenance'>Command and config</h2>",
        help_("provenance", _SECTION_HELP),
        f"<pre>{esc(c.command)}</pre><pre>{esc(c.config)}</pre>",
        "</body></html>",
    ]
    return "\n".join(parts)


def stores_text(store: Path | Sequence[Path]) -> str:
    """``Store `a.zarr``` for one store; ``3 stores `a.zarr`, `b.zarr`, `c.zarr``` (first and last beyond 3)."""
    paths = [store] if isinstance(store, str | Path) else list(store)
    if len(paths) == 1:
        return f"Store `{paths[0]}`"
    shown = paths if len(paths) <= 3 else [paths[0], "…", paths[-1]]
    return f"{len(paths)} stores " + ", ".join("…" if p == "…" else f"`{p}`" for p in shown)


def _intro(ds: xr.Dataset, store: Path | Sequence[Path], seconds: float) -> str:
    """The opening paragraph: what was diagnosed, how long it took, and the climatology used."""
    hours = lead_hours(ds)
    intro = (
        f"{stores_text(store)}: {ds.sizes.get('init_time', 0)} start date(s) × {int(ds.attrs['n_members'])} members, "
        f"variables {', '.join(map(str, ds['variable'].values))}, lead times {hours[0]:g}–{hours[-1]:g} h, regions "
        f"{', '.join(map(str, ds['region'].values))}. Diagnosed in {seconds:.1f} s. Sample: {basis(ds)}."
    )
    if "climatology" in ds.attrs:
        intro += f" Climatology of the extreme-event thresholds and of the 6-hourly EFI: {ds.attrs['climatology']}."
    if "mclimate" in ds.attrs:
        intro += f" M-climate of the daily EFI and SOT: {ds.attrs['mclimate']}."
    return intro


def write_report(
    ds: xr.Dataset,
    out_dir: Path,
    plots: Sequence[Path],
    lines: Sequence[str],
    *,
    store: Path | Sequence[Path],
    seconds: float,
    comparison: Sequence[dict[str, object]] | None = None,
    baseline: Path | Sequence[Path] | None = None,
    command: str = "",
) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into ``out_dir`` (plots linked relatively); returns both paths.

    Args:
        ds: the scores dataset.
        out_dir: the output folder (holding the scores and ``plots/``).
        plots: the PNG files, inside ``out_dir``.
        lines: the verdicts (:func:`hens.diagnostics.report.verdicts.verdicts`).
        store: the diagnosed store (or stores, one set of start dates); ``seconds``: the run's wall time.
        comparison: rows of :func:`hens.diagnostics.report.compare.comparison_rows` against the ``baseline``
            store, tabulated in their own section.
        command: the command line that produced the report (shown with the composed config).
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
            f"Baseline: {stores_text(baseline or [])}, scored on the same start dates, lead times, verification and "
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
        command=command or "hens diagnose " + " ".join(map(str, [store] if isinstance(store, str | Path) else store)),
        config=str(ds.attrs.get("hens_diagnose_config", "")),
        extra=[("ensemble_size", "Ensemble size", *ensemble_size_table(ds))] if "subset_scores" in ds else [],
    )
    report = out_dir / "report.md"
    report.write_text(_markdown(content), encoding="utf-8")
    html_path = out_dir / "report.html"
    html_path.write_text(_html(content), encoding="utf-8")
    return report, html_path
