"""The spectra's Legendre table at 0.25°: hens' blocked triangular table vs torch-harmonics' RealSHT, side by side.

    python scripts/bench_legendre.py [--nlat 721] [--nlon 1440] [--fields 64] [--repeats 3]
                                     [--out bench_results/legendre.json]

Each variant runs in its own subprocess (so peak memory does not mix): build the table for the equiangular grid
with lmax = (nlat + 1) // 2, then the angular power spectra of ``--fields`` float32 random fields in batches of
16 (as ``angular_power_spectrum`` does).  Reported: build seconds, the table's bytes, the process's peak resident
memory above its level before the build (``ru_maxrss``) right after the build and after the spectra, spectra
seconds (median of ``--repeats``), and the largest difference of the first 4 spectra from those of the float64
torch-harmonics transform (relative to each spectrum's largest value).

- **torch-harmonics float32 / float64**: ``RealSHT(nlat, nlon, lmax, mmax, norm="ortho")`` cast to the dtype
  (what :mod:`hens.diagnostics.metrics.spectra` used before), power summed over m;
- **hens blocked**: :func:`hens.diagnostics.metrics.legendre.build_legendre_table` (float64, l ≥ m only, blocks
  of 16 orders) and :func:`~hens.diagnostics.metrics.legendre.degree_power`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

VARIANTS = ("torch-harmonics float32", "torch-harmonics float64", "hens blocked")

CHILD = r"""
import json, resource, statistics, sys, time
import numpy as np, torch, torch_harmonics as th
from torch_harmonics.quadrature import precompute_latitudes
sys.path.insert(0, sys.argv[5])
from hens.diagnostics.metrics.legendre import build_legendre_table, degree_power
variant = sys.argv[1]
nlat, nlon, n_fields, repeats = (int(a) for a in (sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[6]))
lmax = (nlat + 1) // 2
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
fields = torch.randn(n_fields, nlat, nlon, generator=torch.Generator().manual_seed(0))
before = rss()
t = time.perf_counter()
if variant == "hens blocked":
    colat, w = precompute_latitudes(nlat, grid="equiangular")
    table = build_legendre_table(np.asarray(colat), np.asarray(w), lmax)
    nbytes = table.nbytes
    def spectra(x):
        return degree_power(x, table)
else:
    dtype = torch.float32 if variant.endswith("float32") else torch.float64
    sht = th.RealSHT(nlat, nlon, lmax=lmax, mmax=lmax, norm="ortho").to(dtype)
    nbytes = sht.weights.numel() * sht.weights.element_size()
    def spectra(x):
        c = sht(x.to(dtype))
        p = c.real.double() ** 2 + c.imag.double() ** 2
        p[..., 1:] *= 2.0
        return p.sum(-1)
build = time.perf_counter() - t
build_peak = rss() - before
times, out = [], None
for _ in range(repeats):
    t = time.perf_counter()
    out = torch.cat([spectra(fields[i : i + 16]) for i in range(0, n_fields, 16)])
    times.append(time.perf_counter() - t)
np.save(sys.argv[7], out[:4].numpy())
print(json.dumps({"build_s": build, "table_gb": nbytes / 1e9, "build_peak_gb": build_peak / 1e9,
                  "run_peak_gb": (rss() - before) / 1e9,
                  "spectra_s": statistics.median(times)}))
"""


def run_variant(variant: str, nlat: int, nlon: int, fields: int, repeats: int, spectra_file: Path) -> dict[str, Any]:
    """One variant in a fresh process; its JSON line parsed (its first 4 spectra saved to ``spectra_file``)."""
    root = str(Path(__file__).resolve().parent.parent)
    args = [variant, str(nlat), str(nlon), str(fields), root, str(repeats), str(spectra_file)]
    proc = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{variant} failed:\n{proc.stderr[-2000:]}")
    return {"variant": variant, **json.loads(proc.stdout.strip().splitlines()[-1])}


def main(argv: list[str] | None = None) -> None:
    from bench_compression import machine

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nlat", type=int, default=721)
    parser.add_argument("--nlon", type=int, default=1440)
    parser.add_argument("--fields", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="JSON output file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        files = {v: Path(tmp) / f"{i}.npy" for i, v in enumerate(VARIANTS)}
        rows = [run_variant(v, args.nlat, args.nlon, args.fields, args.repeats, files[v]) for v in VARIANTS]
        reference = np.load(files["torch-harmonics float64"])
        for row in rows:
            diff = np.abs(np.load(files[row["variant"]]) - reference) / reference.max(axis=-1, keepdims=True)
            row["max_rel_diff"] = float(diff.max())
    print(f"\n{args.nlat}×{args.nlon}, lmax = {(args.nlat + 1) // 2}, {args.fields} float32 fields")
    header = f"{'variant':<24} {'build s':>8} {'table GB':>9} {'build peak GB':>14} {'spectra s':>10}"
    print(f"{header} {'peak GB':>8} {'max rel diff':>13}")
    for r in rows:
        print(
            f"{r['variant']:<24} {r['build_s']:>8.2f} {r['table_gb']:>9.3f} {r['build_peak_gb']:>14.2f} "
            f"{r['spectra_s']:>10.2f} {r['run_peak_gb']:>8.2f} {r['max_rel_diff']:>13.1e}"
        )
    info = machine()
    print(f"machine: {info['cpu']}, {info['nproc']} cores (shared)")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {"machine": info, "nlat": args.nlat, "nlon": args.nlon, "fields": args.fields, "rows": rows}
        args.out.write_text(json.dumps(payload, indent=1))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
