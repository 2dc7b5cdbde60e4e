"""`hens diagnose` at 0.25° for growing ensembles: wall time per member-field and peak memory, budget on vs off.

    python scripts/bench_diagnose_scale.py [--members 32 128] [--leads 1] [--memory-gb 0.5] [--baseline-up-to M]
                                           [--out bench_results/diagnose_scale.json]

For each M in ``--members`` a synthetic store is written at 721×1440 through hens' own writer
(:func:`hens.io.store.create_store`, :class:`hens.io.store.StoreWriter` on a
:class:`hens.io.writer.BackgroundWriter`): one start date, ``--leads`` 6-hourly lead times, one channel (z500),
member chunks of 8, one lead per chunk.  Fields are smooth: a z500-like truth (zonal mean + planetary waves)
plus, per member, a random combination of 8 smooth noise fields; the verification Zarr holds the truth at the
valid times (layout ``hens``: ``time, lat, lon``).  Then ``hens diagnose`` runs as a subprocess — the extremes off
(no 0.25° climatology is built here), spectra on with the default ``diagnose.spectral.max_members`` — twice per M:

- **baseline**: today's blocks (all members × the whole globe × one lead chunk), no budget;
- **budget**: ``diagnose.memory_gb=--memory-gb`` (lat/lon tiles chosen to fit, read tile-wise from the store);
- **all-spectra** (with ``--modes``): the budget run with ``diagnose.spectral.max_members=all`` — every member's
  spectrum instead of the seeded subset of 64, the figure `hens plan` uses for a campaign without the subset.

Each run is measured from outside: wall time of the subprocess, the ``in … s`` that hens reports (imports and
start-up excluded), and the child's peak resident memory (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` read
by a one-line wrapper process around each run, so runs do not mix).  The per-member-field time is hens' own
seconds / (M × leads).  Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_compression import _smooth_noise, machine  # noqa: E402
from diagnose_runs import timed_diagnose  # noqa: E402

from hens.io.store import StoreLayout, StoreWriter, create_store  # noqa: E402
from hens.io.writer import BackgroundWriter  # noqa: E402

NLAT, NLON = 721, 1440
BATCH = 8
INIT = np.datetime64("2000-01-01T00", "ns")


def _truth(n_leads: int, rng: np.random.Generator) -> np.ndarray:
    """z500-like truth ``[n_leads, NLAT, NLON]`` float32 (m² s⁻²)."""
    lat = np.deg2rad(np.linspace(90, -90, NLAT))[:, None]
    lon = np.deg2rad(np.arange(NLON) * 360.0 / NLON)[None, :]
    out = []
    for k in range(n_leads):
        waves = sum(np.cos(w * lon + 0.3 * k * w + rng.uniform(0, 2 * np.pi)) / w for w in (1, 2, 3, 5, 8))
        out.append(5.55e4 - 4.0e3 * np.sin(lat) ** 2 + 1.2e3 * waves * np.cos(lat))
    return np.stack(out).astype(np.float32)


def write_inputs(root: Path, n_members: int, n_leads: int, seed: int = 0) -> tuple[Path, Path]:
    """The ensemble store and its verification Zarr under ``root``; returns their paths."""
    import xarray as xr

    from hens.io.zarr_open import quiet_zarr

    rng = np.random.default_rng(seed)
    truth = _truth(n_leads, rng)
    basis = np.stack([_smooth_noise(rng, (NLAT, NLON), 24) for _ in range(8)]).astype(np.float32)  # [8, H, W]
    leads = (np.arange(n_leads) * np.timedelta64(6, "h")).astype("timedelta64[ns]")
    lat, lon = np.linspace(90, -90, NLAT), np.arange(NLON) * 360.0 / NLON
    layout = StoreLayout(
        variables=("z500",),
        init_times=np.array([INIT]),
        lead_times=leads,
        lat=lat,
        lon=lon,
        member_coords={"checkpoint": np.array(["synthetic"] * n_members, dtype=object)},
        batch_size=BATCH,
        lead_chunk=1,
        attrs={"hens_fingerprint": "bench-diagnose-scale"},
    )
    store = root / f"m{n_members}.zarr"
    create_store(store, layout)
    writer = StoreWriter(store, ("z500",))
    with BackgroundWriter(max_pending=4, threads=2) as pool:
        for b in range(0, n_members, BATCH):
            weights = rng.normal(size=(BATCH, n_leads, 8)).astype(np.float32) * np.float32(150 / np.sqrt(8))
            block = truth[None] + np.einsum("mlk,khw->mlhw", weights, basis)  # [BATCH, L, H, W]
            for k in range(n_leads):
                data = np.ascontiguousarray(block[:, k : k + 1])
                pool.submit(
                    lambda b=b, k=k, data=data: writer.write_block(
                        "z500", 0, slice(b, b + BATCH), slice(k, k + 1), data
                    )
                )
            pool.submit(lambda b=b: writer.write_nonfinite(0, slice(b, b + BATCH), np.full(BATCH, -1)))
    times = (INIT + leads).astype("datetime64[ns]")
    verification = root / "truth.zarr"
    if not verification.exists():
        ds = xr.Dataset(
            {"z500": (("time", "lat", "lon"), truth, {"units": "m2 s-2"})},
            coords={"time": times, "lat": lat, "lon": lon},
        )
        with quiet_zarr():
            ds.to_zarr(verification, mode="w", zarr_format=3, consolidated=False)
    return store, verification


def run_diagnose(store: Path, verification: Path, out: Path, extra: list[str]) -> dict[str, Any]:
    """One ``hens diagnose`` subprocess: wall seconds, hens' own seconds, peak RSS (GB)."""
    overrides = [f"diagnose.verification.path={verification}", "diagnose.extremes.enabled=false", *extra]
    return timed_diagnose(store, out, overrides)


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"\n{'M':>5} {'mode':>11} {'wall s':>8} {'hens s':>8} {'s/member-field':>15} {'peak RSS GB':>12}")
    for r in rows:
        print(
            f"{r['members']:>5} {r['mode']:>11} {r['wall_s']:>8.1f} {r['hens_s']:>8.1f} "
            f"{r['s_per_member_field']:>15.3f} {r['peak_rss_gb']:>12.2f}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--leads", type=int, default=1)
    parser.add_argument("--memory-gb", type=float, default=0.5)
    parser.add_argument(
        "--modes", nargs="+", default=["baseline", "budget"], choices=["baseline", "budget", "all-spectra"]
    )
    parser.add_argument(
        "--baseline-up-to",
        type=int,
        default=None,
        help="run the unbudgeted baseline only for M up to this (its peak grows with M; default: every M)",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where the stores go (default: a temp folder)")
    parser.add_argument("--out", type=Path, default=None, help="JSON output file")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="hens-bench-diag-scale-", dir=args.workdir))
    rows = []
    try:
        for m in args.members:
            t = time.perf_counter()
            store, verification = write_inputs(root, m, args.leads)
            print(f"M={m}: store written in {time.perf_counter() - t:.1f} s", flush=True)
            for mode in args.modes:
                if mode == "baseline" and args.baseline_up_to is not None and m > args.baseline_up_to:
                    print(f"M={m}: baseline skipped (--baseline-up-to {args.baseline_up_to})", flush=True)
                    continue
                extra = [f"diagnose.memory_gb={args.memory_gb}"] if mode != "baseline" else []
                if mode == "all-spectra":
                    extra.append("diagnose.spectral.max_members=all")
                result = run_diagnose(store, verification, root / f"out-{m}-{mode}", extra)
                result.update(members=m, mode=mode, s_per_member_field=result["hens_s"] / (m * args.leads))
                rows.append(result)
                print_table([result])
            shutil.rmtree(store)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print_table(rows)
    info = machine()
    print(
        f"\nmachine: {info['cpu']}, {info['nproc']} cores (shared); 721×1440, {args.leads} lead(s), z500 only; "
        f"budget diagnose.memory_gb={args.memory_gb}"
    )
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {"machine": info, "leads": args.leads, "memory_gb": args.memory_gb, "rows": rows}
        args.out.write_text(json.dumps(payload, indent=1))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
