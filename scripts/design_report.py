"""Tables, plots and the issue-10 acceptance checks of scripts/design_experiment.py's results (JSON → Markdown/PNG).

python scripts/design_report.py docs/design_experiment/results.json   # rewrite results.md and the plots
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

LABELS = {
    "one_checkpoint_bred": "(i) 1 checkpoint + bred",
    "checkpoints_only": "(ii) 4 checkpoints, no IC pert.",
    "checkpoints_gaussian": "(iii) 4 checkpoints + Gaussian",
    "hens": "(iv) HENS: 4 checkpoints + bred",
    "physics_perfect_model": "(v) perfect model (reference)",
}
SCORES = {
    "crps": "fair CRPS",
    "ssr": "spread–skill ratio",
    "rank_flatness": "rank-histogram departure from flat",
    "spectral_ratio": "member/truth small-scale power",
}
TABLE_DAYS = (1, 3, 5, 7, 10)


def _at(hours: list[float], days: float) -> int:
    return int(np.argmin(np.abs(np.asarray(hours) - 24 * days)))


def _fmt(entry: dict, k: int, digits: int) -> str:
    return f"{entry['value'][k]:.{digits}f} [{entry['lo'][k]:.{digits}f}, {entry['hi'][k]:.{digits}f}]"


def acceptance(payload: dict) -> list[str]:
    """The issue-10 checks on design (iv), each a line with the measured value and pass/miss."""
    hours = np.asarray(payload["meta"]["lead_hours"])
    results = payload["results"]
    lines = []
    for region in ("global", "nh_extratropics"):
        s = results[f"z500/{region}"]["scores"]["hens"]["ssr"]
        sel = (hours >= 24) & (hours <= 240)
        ssr = np.asarray(s["value"])[sel]
        share = float(np.mean((ssr >= 0.8) & (ssr <= 1.2)))
        lines.append(
            f"- z500 spread–skill ratio of (iv) within 0.8–1.2 at {100 * share:.0f} % of leads 24 h–10 d ({region}; "
            f"target ≥ 75 %; range {ssr.min():.2f}–{ssr.max():.2f}): {'met' if share >= 0.75 else 'missed'}"
        )
    spec = results["z500/global"]["scores"]["hens"]["spectral_ratio"]
    for day in (5, 10):
        k = _at(list(hours), day)
        v = spec["value"][k]
        ok = 1 / 1.5 <= v <= 1.5
        lines.append(
            f"- z500 member/truth small-scale power of (iv) at day {day}: {_fmt(spec, k, 2)} (target 1/1.5–1.5): "
            f"{'met' if ok else 'missed'}"
        )
    diffs = results["z500/global"]["crps_hens_minus"]
    for other in ("one_checkpoint_bred", "checkpoints_only"):
        if other not in diffs:
            continue
        d = diffs[other]
        sel = [k for k, h in enumerate(hours) if 72 <= h <= 240]
        below = [d["hi"][k] < 0 for k in sel]
        lines.append(
            f"- z500 CRPS (iv) − {LABELS[other]}: 90 % interval below zero at {sum(below)} of {len(sel)} leads from "
            f"day 3 to day 10 (day 3 {_fmt(d, sel[0], 1)}, day 10 {_fmt(d, sel[-1], 1)}): "
            f"{'met' if all(below) else 'missed'}"
        )
    g = payload["growth_48h"]
    fastest = g["bred"] > max(g["seed_noise"], g["gaussian"])
    lines.append(
        f"- growth over 48 h (z500 extratropical size, ×): bred {g['bred']:.2f}, unbred seed noise "
        f"{g['seed_noise']:.2f}, uncorrelated Gaussian {g['gaussian']:.2f}: "
        + ("bred grows fastest" if fastest else "bred does NOT grow fastest")
    )
    return lines


def tables(payload: dict) -> list[str]:
    hours = payload["meta"]["lead_hours"]
    out = []
    for key, block in payload["results"].items():
        for score, title in SCORES.items():
            digits = 1 if score == "crps" and key.startswith("z") else 2
            out += [f"### {key}: {title} (90 % interval over start dates)", ""]
            out.append("| design | " + " | ".join(f"day {d}" for d in TABLE_DAYS) + " |")
            out.append("|---|" + "---|" * len(TABLE_DAYS))
            for design, scores in block["scores"].items():
                cells = [_fmt(scores[score], _at(hours, d), digits) for d in TABLE_DAYS]
                out.append(f"| {LABELS.get(design, design)} | " + " | ".join(cells) + " |")
            out.append("")
    return out


def plots(payload: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = np.asarray(payload["meta"]["lead_hours"]) / 24
    names = []
    for key, block in payload["results"].items():
        fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), constrained_layout=True)
        for ax, (score, title) in zip(axes.ravel(), SCORES.items(), strict=True):
            for i, (design, scores) in enumerate(block["scores"].items()):
                s = scores[score]
                first = 1 if score in ("ssr", "rank_flatness", "spectral_ratio") else 0
                style = "--" if design == "physics_perfect_model" else "-"
                (line,) = ax.plot(
                    hours[first:],
                    s["value"][first:],
                    style,
                    label=LABELS.get(design, design),
                    marker="os^Dv"[i % 5],
                    markevery=8,
                    ms=4,
                )
                ax.fill_between(hours[first:], s["lo"][first:], s["hi"][first:], color=line.get_color(), alpha=0.18)
            if score in ("ssr", "spectral_ratio"):
                ax.axhline(1.0, color="k", lw=0.8)
            ax.set_title(title)
            ax.set_xlabel("lead time (days)")
            ax.grid(alpha=0.3)
        axes[0, 0].legend(fontsize=8, loc="upper left")
        n = len(payload["meta"]["dates"])
        fig.suptitle(f"{key}: {n} start dates, bands = 90 % bootstrap over dates")
        name = f"{key.replace('/', '_')}.png"
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        names.append(name)
    return names


def write_report(payload: dict, out: Path) -> None:
    meta = payload["meta"]
    names = plots(payload, out)
    lines = [
        "# Design experiment (HENS Part I) on the demo world — measured",
        "",
        f"{len(meta['dates'])} start dates ({meta['dates'][0]} … {meta['dates'][-1]}), members "
        + ", ".join(f"{LABELS.get(d, d)}: {m}" for d, m in meta["members"].items())
        + f"; run time {payload['seconds'] / 60:.0f} min. Reproduce: `python scripts/design_experiment.py` "
        "(see its docstring).",
        "",
        "## Acceptance checks (issue 10)",
        "",
        *acceptance(payload),
        "",
        "## Plots",
        "",
        *[f"![{n}]({n})" for n in names],
        "",
        "## Tables",
        "",
        *tables(payload),
    ]
    (out / "results.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    path = Path(sys.argv[1])
    write_report(json.loads(path.read_text()), path.parent)
