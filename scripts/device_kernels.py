"""The torch kernels of `hens diagnose` (``diagnose.device``) on a device against the CPU, in one run.

    python scripts/device_kernels.py [--device cuda|cpu] [--grid 721 1440] [--members 16] [--json kernels.json]

Kernels: the fair CRPS (:func:`hens.diagnostics.metrics.crps_torch.crps_torch`) of ``--members`` members on the
grid, the ecdf CRPS of the sub-ensembles' pair kernel (:func:`~hens.diagnostics.metrics.crps_torch.crps_pair_torch`),
and the angular power spectrum (:func:`hens.diagnostics.metrics.spectra.angular_power_spectrum`) of a few
fields, float64 and float32.  References: the NumPy fair and ecdf CRPS (:mod:`hens.diagnostics.metrics.crps`)
and the spectrum on the CPU.  Tolerance (max relative difference, scaled by the reference's largest value):
1e-6 on CUDA (the acceptance of scripts/device_check.sh), 1e-10 on the CPU (float64) — float32 spectra are
compared at 1e-4 on either.  Prints a table (kernel, seconds on the device and on the CPU, max relative
difference, tolerance, pass), writes it as JSON and exits 1 if any kernel is outside its tolerance.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--grid", type=int, nargs=2, default=[721, 1440], metavar=("NLAT", "NLON"))
    parser.add_argument("--members", type=int, default=16)
    parser.add_argument("--fields", type=int, default=4)
    parser.add_argument("--json", type=Path, default=Path("bench_results/device_kernels.json"))
    args = parser.parse_args(argv)

    from hens.diagnostics.metrics.crps import ecdf_crps, fair_crps
    from hens.diagnostics.metrics.crps_torch import crps_pair_torch, crps_torch
    from hens.diagnostics.metrics.device import kernel_device
    from hens.diagnostics.metrics.spectra import angular_power_spectrum, grid_latitudes

    device = kernel_device(args.device)
    nlat, nlon = args.grid
    rng = np.random.default_rng(0)
    fc = (280.0 + 10.0 * rng.standard_normal((args.members, nlat, nlon))).astype(np.float32)
    obs = 280.0 + 10.0 * rng.standard_normal((nlat, nlon))
    fields = rng.standard_normal((args.fields, nlat, nlon))
    lat = grid_latitudes(nlat)
    tol64 = 1e-6 if device == "cuda" else 1e-10
    cases = [
        ("fair_crps", lambda: crps_torch(fc, obs, device=device), lambda: fair_crps(fc, obs), tol64),
        (
            "ecdf_crps_of_pair",  # the sub-ensembles' kernel (diagnose.ensemble_size)
            lambda: crps_pair_torch(fc, obs, device=device)[1],
            lambda: ecdf_crps(fc, obs),
            tol64,
        ),
        (
            "spectrum_float64",
            lambda: angular_power_spectrum(fields, lat, device=device),
            lambda: angular_power_spectrum(fields, lat, device="cpu"),
            tol64,
        ),
        (
            "spectrum_float32",
            lambda: angular_power_spectrum(fields.astype(np.float32), lat, device=device),
            lambda: angular_power_spectrum(fields.astype(np.float32), lat, device="cpu"),
            1e-4,
        ),
    ]
    rows = []
    for name, on_device, on_cpu, tol in cases:
        on_device()  # warm-up: the transform tables and kernels
        got, t_dev = _timed(on_device)
        ref, t_cpu = _timed(on_cpu)
        diff = float(np.max(np.abs(got.astype(np.float64) - ref)) / np.max(np.abs(ref)))
        rows.append({"kernel": name, "device_s": t_dev, "cpu_s": t_cpu, "max_rel_diff": diff, "tolerance": tol})
        rows[-1]["ok"] = bool(diff <= tol)
    print(f"device_kernels: {device}, grid {nlat}×{nlon}, {args.members} members, {args.fields} fields")
    print(f"{'kernel':<18}{'device s':>10}{'cpu s':>10}{'max rel diff':>14}{'tolerance':>11}  ok")
    for r in rows:
        print(
            f"{r['kernel']:<18}{r['device_s']:>10.3f}{r['cpu_s']:>10.3f}{r['max_rel_diff']:>14.2e}"
            f"{r['tolerance']:>11.0e}  {'yes' if r['ok'] else 'NO'}"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {"device": device, "grid": [nlat, nlon], "members": args.members, "rows": rows,
               "machine": {"platform": platform.platform()}}  # fmt: skip
    args.json.write_text(json.dumps(payload, indent=2))
    print(f"wrote {args.json}")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
