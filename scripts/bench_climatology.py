"""Peak memory and time of `hens climatology`'s blocked build against two baselines in the same run — the in-memory
build_climatology and the blocked build with the previous pass 1 (xarray ``to_zarr(region=…)`` per time block under
a threaded nested compute) — on WB2-layout fixtures of several lengths (``--years``, 6-hourly) at a small grid, so
that the growth of the peak with the period shows; plus the day-of-year-window build (±15 days, a centre every
5 days) at the longest period.

Each case runs in its own subprocess; peak memory is that process's high-water RSS (VmHWM, reset through
/proc/self/clear_refs after the imports) minus its RSS then, so both measure the work, not the
interpreter (Linux).  Prints a table and writes bench_climatology.json.

    PYTHONPATH=. python3 scripts/bench_climatology.py [--lat 64 --lon 128 --years 2 4 8 --out bench_climatology.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CASE = r"""
import json, sys, time
import numpy as np
from hens.data.era5 import era5_verification_dataset
from hens.diagnostics.verification.climatology import build_climatology
import hens.diagnostics.verification.climatology_blocks as blocks
from hens.diagnostics.verification.climatology_blocks import build_climatology_zarr

def old_transpose(truth, scratch, plan, run):
    # the previous pass 1: xarray to_zarr(region=...) per time block, nested threaded compute (the baseline)
    import dask, dask.array as da, xarray as xr
    from hens.io.zarr_open import quiet_zarr
    n_times, n_lat, n_lon = truth.sizes["time"], truth.sizes["lat"], truth.sizes["lon"]
    chunks = (plan.time_block, plan.rows, n_lon)
    template = xr.Dataset(
        {v: (("time", "lat", "lon"), da.zeros((n_times, n_lat, n_lon), chunks=chunks, dtype=np.float32))
         for v in truth},
        coords={"time": truth["time"].values, "lat": truth["lat"].values, "lon": truth["lon"].values},
    )
    with quiet_zarr():
        template.to_zarr(str(scratch), mode="w", zarr_format=3, compute=False, consolidated=False)
    def copy(start, stop):
        block = truth.isel(time=slice(start, stop)).drop_vars(["lat", "lon", "time"]).load()
        with quiet_zarr():
            block.astype(np.float32).to_zarr(str(scratch), region={"time": slice(start, stop)}, zarr_format=3)
    tasks = [dask.delayed(copy)(s, min(s + plan.time_block, n_times)) for s in range(0, n_times, plan.time_block)]
    blocks.compute_tasks(tasks, label="pass 1 (previous)", **run)
def rss_mb():
    return int(open('/proc/self/statm').read().split()[1]) * 4096 / 2**20
era5, out, mode, budget = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
truth = era5_verification_dataset(era5, ['t2m'])
base = rss_mb()
open('/proc/self/clear_refs', 'w').write('5')  # reset the high-water mark: imports' transient peak is not the work's
t = time.perf_counter()
levels = np.linspace(0, 1, 101)
if mode == 'baseline':
    build_climatology(truth.load(), percentiles=(90, 95, 99), quantile_levels=levels)
    plan = None
else:
    if mode == 'old':
        blocks._transpose = old_transpose
    doy = {'window_days': 15, 'doy_step': 5} if mode == 'doy' else {}
    p = build_climatology_zarr(truth, out, percentiles=(90, 95, 99), quantile_levels=levels, memory_bytes=budget, **doy)
    plan = {'rows': p.rows, 'n_bands': p.n_bands, 'time_block': p.time_block}
peak = [int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM')][0] / 1024
print(json.dumps({'seconds': time.perf_counter() - t, 'peak_mb': peak - base, 'plan': plan}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lat", type=int, default=64)
    parser.add_argument("--lon", type=int, default=128)
    parser.add_argument("--years", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--budget-mb", type=float, default=32.0)
    parser.add_argument("--out", default="bench_climatology.json")
    args = parser.parse_args()
    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.helpers.era5 import write_wb2_fixture

    budget = args.budget_mb * 2**20
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for years in args.years:
            times = np.arange(
                np.datetime64("2001-01-01T00:00"), np.datetime64(f"{2001 + years}-01-01T00:00"), np.timedelta64(6, "h")
            ).astype("datetime64[ns]")
            data_mb = times.size * args.lat * args.lon * 4 / 2**20
            era5 = write_wb2_fixture(
                Path(tmp) / f"era5_{years}.zarr", times=times, lat_n=args.lat, lon_n=args.lon,
                variables=("2m_temperature",),
            )  # fmt: skip
            cases = [
                ("baseline: build_climatology in memory", "baseline"),
                ("baseline: blocked, previous pass 1", "old"),
                ("blocked (this version)", "blocked"),
            ]
            if years == max(args.years):
                cases.append(("blocked, day-of-year ±15 d every 5 d", "doy"))
            for k, (label, mode) in enumerate(cases):
                proc = subprocess.run(
                    [sys.executable, "-c", CASE, str(era5), str(Path(tmp) / f"c{years}_{k}.zarr"), mode, str(budget)],
                    capture_output=True, text=True, check=False,
                )  # fmt: skip
                if proc.returncode != 0:
                    err = (proc.stderr.strip().splitlines() or ["?"])[-1]
                    result = {"seconds": float("nan"), "peak_mb": float("nan"), "plan": f"failed: {err[:100]}"}
                else:
                    result = json.loads(proc.stdout.strip().splitlines()[-1])
                budget_mb = 0.0 if mode == "baseline" else args.budget_mb
                rows.append({"years": years, "times": int(times.size), "data_mb": data_mb, "case": label,
                             "budget_mb": budget_mb, **result})  # fmt: skip
            shutil.rmtree(era5, ignore_errors=True)
    print(f"t2m, 6-hourly × {args.lat} × {args.lon}, 1 worker; peak = high-water RSS of the build minus RSS before it")
    print(f"{'years':>5s} {'data MiB':>8s} {'case':40s} {'budget':>6s} {'peak MiB':>8s} {'seconds':>8s}  plan")
    for r in rows:
        print(
            f"{r['years']:5d} {r['data_mb']:8.0f} {r['case']:40s} {r['budget_mb']:6.0f} {r['peak_mb']:8.0f} "
            f"{r['seconds']:8.1f}  {r['plan']}"
        )
    Path(args.out).write_text(json.dumps({"lat": args.lat, "lon": args.lon, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
