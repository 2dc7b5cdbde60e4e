"""Wall time of `hens diagnose` on one store with two code trees side by side (e.g. main vs this branch).

Runs ``python3 -m hens diagnose STORE`` with ``PYTHONPATH`` set to each tree, alternating, ``--repeats`` times, and
prints a table of the wall time (process) and the run's own reported seconds; writes the rows as JSON.

    python3 scripts/bench_diagnose_report.py STORE --trees /work/main . --repeats 2 --json bench_diagnose_report.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from diagnose_runs import timed_diagnose


def _run(tree: Path, store: Path, out: Path) -> tuple[float, float]:
    run = timed_diagnose(store, out, env={**os.environ, "PYTHONPATH": str(tree)})
    return run["wall_s"], run["hens_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--trees", nargs="+", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", type=Path, default=Path("bench_diagnose_report.json"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):
            for k, tree in enumerate(args.trees):
                wall, own = _run(tree.resolve(), args.store, Path(tmp) / f"out{k}_{rep}")
                rows.append({"tree": str(tree), "repeat": rep, "wall_s": wall, "diagnose_s": own})
    print(f"{'tree':40s} {'repeat':>6s} {'wall [s]':>9s} {'diagnose [s]':>13s}")
    for r in rows:
        print(f"{r['tree']:40s} {r['repeat']:6d} {r['wall_s']:9.1f} {r['diagnose_s']:13.1f}")
    args.json.write_text(json.dumps({"cpus": os.cpu_count(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
