"""Peak memory and time of `hens climatology`'s blocked build against the in-memory build_climatology (baseline),
on a WB2-layout fixture of 4 years × 6-hourly (5,844 times) at a small grid.

Each case runs in its own subprocess; peak memory is that process's high-water RSS (VmHWM, reset through
/proc/self/clear_refs after the imports) minus its RSS then, so both measure the work, not the
interpreter (Linux).  Prints a table and writes bench_climatology.json.

    PYTHONPATH=. python3 scripts/bench_climatology.py [--lat 32 --lon 64 --out bench_climatology.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CASE = r"""
import json, sys, time
import numpy as np
from hens.data.era5 import era5_verification_dataset
from hens.diagnostics.verification.climatology import build_climatology
from hens.diagnostics.verification.climatology_blocks import build_climatology_zarr
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
    p = build_climatology_zarr(truth, out, percentiles=(90, 95, 99), quantile_levels=levels, memory_bytes=budget)
    plan = {'rows': p.rows, 'n_bands': p.n_bands, 'time_block': p.time_block}
peak = [int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM')][0] / 1024
print(json.dumps({'seconds': time.perf_counter() - t, 'peak_mb': peak - base, 'plan': plan}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lat", type=int, default=32)
    parser.add_argument("--lon", type=int, default=64)
    parser.add_argument("--years", type=int, default=4)
    parser.add_argument("--out", default="bench_climatology.json")
    args = parser.parse_args()
    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.helpers.era5 import write_wb2_fixture

    times = np.arange(
        np.datetime64("2001-01-01T00:00"), np.datetime64(f"{2001 + args.years}-01-01T00:00"), np.timedelta64(6, "h")
    ).astype("datetime64[ns]")
    data_mb = times.size * args.lat * args.lon * 4 / 2**20
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        era5 = write_wb2_fixture(
            Path(tmp) / "era5.zarr", times=times, lat_n=args.lat, lon_n=args.lon, variables=("2m_temperature",)
        )
        cases = [("baseline: build_climatology in memory", "baseline", 0.0)]
        cases += [(f"blocked, memory_gb={b / 2**30:.3f}", "blocked", b) for b in (32 * 2**20, 128 * 2**20)]
        for k, (label, mode, budget) in enumerate(cases):
            proc = subprocess.run(
                [sys.executable, "-c", CASE, str(era5), str(Path(tmp) / f"c{k}.zarr"), mode, str(budget)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append({"case": label, "budget_mb": budget / 2**20, **result})
    print(f"t2m, {times.size} times × {args.lat} × {args.lon} (float32 data {data_mb:.0f} MiB), 1 worker")
    print(f"{'case':40s} {'budget MiB':>10s} {'peak MiB':>9s} {'seconds':>8s}  plan")
    for r in rows:
        print(f"{r['case']:40s} {r['budget_mb']:10.0f} {r['peak_mb']:9.0f} {r['seconds']:8.1f}  {r['plan']}")
    Path(args.out).write_text(json.dumps({"times": int(times.size), "lat": args.lat, "lon": args.lon, "rows": rows}))


if __name__ == "__main__":
    main()
