"""Wall time of `hens diagnose` on one store with the ensemble-size statistics off (baseline) and on, side by side.

Runs ``python3 -m hens diagnose STORE`` with each case's overrides, alternating, ``--repeats`` times, and prints a
table of the process wall time and the run's own reported seconds (imports excluded); writes the rows as JSON.
The cases: off, the default (on: sizes [5, 10, 20, 50, 100, 500] clipped to M, 3 draws), and a heavier one (sizes
[4, 8, 16], 10 draws).

    python3 scripts/bench_ensemble_size.py STORE --repeats 2 --json bench_ensemble_size.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from diagnose_runs import timed_diagnose

CASES = {
    "off (baseline)": ["diagnose.ensemble_size.enabled=false"],
    "on, default": ["diagnose.ensemble_size.enabled=true"],
    "on, sizes [4,8,16] × 10 draws": [
        "diagnose.ensemble_size.enabled=true",
        "diagnose.ensemble_size.sizes=[4,8,16]",
        "diagnose.ensemble_size.draws=10",
    ],
}


def _run(store: Path, out: Path, overrides: list[str]) -> tuple[float, float]:
    run = timed_diagnose(store, out, overrides)
    return run["wall_s"], run["hens_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", type=Path, default=Path("bench_ensemble_size.json"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):
            for k, (name, overrides) in enumerate(CASES.items()):
                wall, own = _run(args.store, Path(tmp) / f"out{k}_{rep}", overrides)
                rows.append({"case": name, "repeat": rep, "wall_s": wall, "diagnose_s": own})
    print(f"{'case':32s} {'repeat':>6s} {'wall [s]':>9s} {'diagnose [s]':>13s}")
    for r in rows:
        print(f"{r['case']:32s} {r['repeat']:6d} {r['wall_s']:9.1f} {r['diagnose_s']:13.1f}")
    args.json.write_text(json.dumps({"cpus": os.cpu_count(), "load": os.getloadavg(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
