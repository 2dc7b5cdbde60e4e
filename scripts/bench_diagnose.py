"""Benchmark hens' fair CRPS against `scores.probability.crps_for_ensemble(method="fair")` on the same data.

    python scripts/bench_diagnose.py [--members 50 500 5000] [--values 4000000] [--repeats 3]
           [--json bench_results/diagnose.json] [--store run.zarr [--schedulers threads distributed]]

For every member count M the same random float32 ensemble of about ``--values`` member values (N = values / M
points) is scored per point by both implementations in this process: ``hens.diagnostics.metrics.crps.fair_crps`` (NumPy,
sorted members) and ``scores`` (xarray, also sorted members). Each is repeated and the best and median wall
times are reported, with throughput in points/s and member-values/s, and the peak memory allocated during one
call (``tracemalloc``, which sees NumPy buffers). The largest relative difference between the two results is
printed as a check.

With ``--store``, ``run_diagnose`` is also timed on that store for each scheduler in ``--schedulers`` (extra
Hydra overrides after ``--``), to compare the threaded scheduler with a local distributed cluster.
Writes a JSON file with the table, the settings and the machine.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def machine() -> dict[str, Any]:
    import dask

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "dask": dask.__version__,
        "cpu_count": os.cpu_count() or 0,
    }
    try:
        import scores

        info["scores"] = scores.__version__
    except (ImportError, AttributeError):
        pass
    return info


def _timed(fn: Callable[[], Any], repeats: int) -> tuple[list[float], float, Any]:
    """Wall times of ``repeats`` calls (after one warm-up), the peak traced memory of one call (MB), a result."""
    result = fn()
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return times, peak / 2**20, result


def bench_crps(members: list[int], n_values: int, repeats: int, seed: int) -> list[dict[str, Any]]:
    import xarray as xr
    from scores.probability import crps_for_ensemble

    from hens.diagnostics.metrics.crps import fair_crps

    rows = []
    for m in members:
        n = max(1, n_values // m)
        rng = np.random.default_rng(seed)
        centre = rng.normal(size=n).astype(np.float32)
        fc = (centre[None] + rng.normal(size=(m, n))).astype(np.float32)
        obs = (centre + rng.normal(size=n)).astype(np.float32)
        fc_da = xr.DataArray(fc.T, dims=("point", "member"))  # member last, as scores' apply_ufunc wants it
        obs_da = xr.DataArray(obs, dims=("point",))
        impls = {
            "hens fair_crps": lambda fc=fc, obs=obs: fair_crps(fc, obs, member_axis=0),
            "scores crps_for_ensemble(fair)": lambda fc_da=fc_da, obs_da=obs_da: (
                crps_for_ensemble(fc_da, obs_da, "member", method="fair", preserve_dims="all").values
            ),
        }
        results = {}
        for name, fn in impls.items():
            times, peak_mb, value = _timed(fn, repeats)
            results[name] = np.asarray(value, dtype=np.float64)
            best, median = min(times), statistics.median(times)
            rows.append(
                {
                    "implementation": name,
                    "members": m,
                    "points": n,
                    "member_values": m * n,
                    "input_mb": fc.nbytes / 2**20,
                    "best_s": best,
                    "median_s": median,
                    "points_per_s": n / median,
                    "member_values_per_s": m * n / median,
                    "peak_mb": peak_mb,
                }
            )
        a, b = results.values()
        diff = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))
        # scores computes in the input precision (float32 here); hens accumulates in float64 — check both
        # against scores on float64 copies of the same data
        ref64 = crps_for_ensemble(
            fc_da.astype(np.float64), obs_da.astype(np.float64), "member", method="fair", preserve_dims="all"
        ).values
        diff64 = float(np.max(np.abs(a - ref64) / np.maximum(np.abs(ref64), 1e-12)))
        for row in rows[-2:]:
            row["max_rel_diff"] = diff
            row["max_rel_diff_hens_vs_scores_float64"] = diff64
    return rows


def bench_store(store: Path, schedulers: list[str], overrides: list[str], repeats: int) -> list[dict[str, Any]]:
    from hens.diagnostics.run import run_diagnose

    rows = []
    with tempfile.TemporaryDirectory(prefix="hens-bench-diag-") as tmp:
        for scheduler in schedulers:
            times, compute = [], []
            for r in range(repeats + 1):  # the first run warms caches (climatology, truth, imports) and is dropped
                start = time.perf_counter()
                result = run_diagnose(
                    store,
                    [
                        f"diagnose.output_dir={tmp}/{scheduler}{r}",
                        "progress=false",
                        f"diagnose.dask.scheduler={scheduler}",
                        *overrides,
                    ],
                )
                if r > 0:
                    times.append(time.perf_counter() - start)
                    compute.append(result.compute_seconds)
            rows.append(
                {
                    "scheduler": scheduler,
                    "best_s": min(times),
                    "median_s": statistics.median(times),
                    "compute_median_s": statistics.median(compute),
                    "members": result.n_members,
                    "init_times": result.n_init_times,
                    "lead_times": result.n_lead_times,
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, nargs="+", default=[50, 500, 5000])
    parser.add_argument("--values", type=int, default=4_000_000, help="member values per case (M × points)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=Path("bench_results/diagnose.json"))
    parser.add_argument("--store", type=Path, default=None, help="also time run_diagnose on this store")
    parser.add_argument("--schedulers", nargs="+", default=["threads", "distributed"])
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for run_diagnose (with --store)")
    args = parser.parse_args(argv)

    rows = bench_crps(args.members, args.values, args.repeats, args.seed)
    print(
        f"{'implementation':<32}{'M':>6}{'points':>10}{'median s':>10}{'Mvalues/s':>11}{'peak MB':>9}"
        f"{'input MB':>9}{'rel diff':>10}{'vs f64':>9}"
    )
    for row in rows:
        print(
            f"{row['implementation']:<32}{row['members']:>6}{row['points']:>10}{row['median_s']:>10.3f}"
            f"{row['member_values_per_s'] / 1e6:>11.1f}{row['peak_mb']:>9.1f}{row['input_mb']:>9.1f}"
            f"{row['max_rel_diff']:>10.1e}{row['max_rel_diff_hens_vs_scores_float64']:>9.1e}"
        )
    payload: dict[str, Any] = {
        "benchmark": "diagnose",
        "crps": rows,
        "settings": {"members": args.members, "values": args.values, "repeats": args.repeats, "seed": args.seed},
        "machine": machine(),
    }
    if args.store is not None:
        store_rows = bench_store(args.store, args.schedulers, args.overrides, args.repeats)
        print(f"\nrun_diagnose on {args.store}")
        print(f"{'scheduler':<14}{'best s':>9}{'median s':>10}{'compute s':>11}")
        for row in store_rows:
            print(
                f"{row['scheduler']:<14}{row['best_s']:>9.2f}{row['median_s']:>10.2f}{row['compute_median_s']:>11.2f}"
            )
        payload["run_diagnose"] = {"store": str(args.store), "overrides": args.overrides, "rows": store_rows}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(payload, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
