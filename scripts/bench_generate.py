"""Benchmark `hens generate`: member-steps/s with output written vs not written, side by side in one run.

    python scripts/bench_generate.py [--device cpu|cuda] [--repeats 3] [--json bench_results/generate.json]
           [hydra overrides...]

Both modes run the same configuration (default: the demo world's default run) in this process; each mode is
repeated and the best and median wall times are reported.  The overhead of writing is the ratio of the two.
Writes a JSON file with the table, the configuration and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from hens.config import compose_config, generate_spec
from hens.inference.generate import run_generate


def machine() -> dict[str, str | int]:
    info: dict[str, str | int] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count() or 0,
        "torch_threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=Path("bench_results/generate.json"))
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="hens-bench-"))
    rows = []
    try:
        for mode, write in (("output off", False), ("output on (zarr)", True)):
            times, member_steps = [], 0
            for repeat in range(args.repeats + 1):  # the first run warms caches (truth, weights) and is dropped
                store = workdir / f"run{repeat}.zarr"
                spec = generate_spec(
                    compose_config(
                        "generate",
                        [
                            f"device={args.device}",
                            "progress=false",
                            f"output.write={str(write).lower()}",
                            f"output.path={store}",
                            *args.overrides,
                        ],
                    )
                )
                start = time.perf_counter()
                result = run_generate(spec)
                elapsed = time.perf_counter() - start
                shutil.rmtree(store, ignore_errors=True)
                if repeat > 0:
                    times.append(elapsed)
                    member_steps = result.member_steps
            best, median = min(times), statistics.median(times)
            rows.append(
                {
                    "mode": mode,
                    "member_steps": member_steps,
                    "best_s": best,
                    "median_s": median,
                    "member_steps_per_s_best": member_steps / best,
                    "member_steps_per_s_median": member_steps / median,
                }
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    base = rows[0]["member_steps_per_s_median"]
    print(f"{'mode':<20}{'member-steps':>14}{'best s':>10}{'median s':>10}{'member-steps/s':>16}{'vs off':>9}")
    for row in rows:
        row["relative_to_output_off"] = row["member_steps_per_s_median"] / base
        print(
            f"{row['mode']:<20}{row['member_steps']:>14}{row['best_s']:>10.2f}{row['median_s']:>10.2f}"
            f"{row['member_steps_per_s_median']:>16.1f}{row['relative_to_output_off']:>9.2f}"
        )
    payload = {
        "benchmark": "generate",
        "device": args.device,
        "overrides": args.overrides,
        "repeats": args.repeats,
        "machine": machine(),
        "rows": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(payload, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
