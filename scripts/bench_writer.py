"""Speed of the store writer with 1, 2, … writer threads at 0.25°, side by side in one process.

    python scripts/bench_writer.py [--threads 1 2 3] [--chunks 24] [--repeats 3] [--out bench_results/writer.json]

What ``hens generate`` does with each rolled-out chunk, minus the model: ``--chunks`` blocks of float32
``[1 member, 2 leads, 721, 1440]`` (8.3 MB each; synthetic z500-like fields from ``bench_compression.py``) are
submitted to :class:`hens.io.writer.BackgroundWriter` with ``threads`` worker threads, each closure calling
:meth:`hens.io.store.StoreWriter.write_block` (bit rounding, blosc zstd + bit shuffle level 5 via zarr-python 3,
the chunk file write) into a fresh store made by :func:`hens.io.store.create_store`; the time runs from the
first submit to the end of :meth:`~hens.io.writer.BackgroundWriter.flush`.  Speeds are MB of float32 input per
second.  Two encodings: lossless float32 and ``keepbits`` 10.  Each (encoding, threads) is repeated
``--repeats`` times, interleaved (1, 2, 3, 1, 2, 3, …) so that load from other users of a shared machine hits
every setting alike; the table gives the median and the min–max spread, and the speed-up of the medians over
one thread.

A GIL check next to it: the bare numcodecs Blosc encode of the same blocks on 1 vs N plain Python threads
(no zarr, no files).  A speed-up there means the codec releases the GIL.

Prints a table and writes JSON (machine, settings, every repeat) to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_compression import hires_fields, machine  # noqa: E402

from hens.io.encoding import EncodingSpec  # noqa: E402
from hens.io.store import StoreLayout, StoreWriter, create_store  # noqa: E402
from hens.io.writer import BackgroundWriter  # noqa: E402

LEADS_PER_CHUNK = 2
ENCODINGS: dict[str, int | None] = {"lossless float32 + blosc": None, "keepbits 10 + blosc": 10}


def _store(path: Path, n_chunks: int, keepbits: int | None, shape: tuple[int, int]) -> StoreWriter:
    """A fresh one-variable store with ``n_chunks`` member chunks of ``[1, LEADS_PER_CHUNK, *shape]``."""
    layout = StoreLayout(
        variables=("z500",),
        init_times=np.array(["2000-01-01T00"], dtype="datetime64[ns]"),
        lead_times=(np.arange(LEADS_PER_CHUNK) * np.timedelta64(6, "h")).astype("timedelta64[ns]"),
        lat=np.linspace(90, -90, shape[0]),
        lon=np.arange(shape[1]) * 360.0 / shape[1],
        member_coords={"sign": np.ones(n_chunks, dtype=np.int32)},
        batch_size=1,
        lead_chunk=LEADS_PER_CHUNK,
        encoding=EncodingSpec(keepbits=keepbits),
    )
    create_store(path, layout)
    return StoreWriter(path, ("z500",))


def time_writer(blocks: list[np.ndarray], n_chunks: int, keepbits: int | None, threads: int, tmp: Path) -> float:
    """Seconds to encode and write ``n_chunks`` blocks (cycling through ``blocks``) with ``threads`` threads."""
    path = Path(tempfile.mkdtemp(dir=tmp)) / "s.zarr"
    store = _store(path, n_chunks, keepbits, blocks[0].shape[-2:])
    leads = slice(0, LEADS_PER_CHUNK)
    start = time.perf_counter()
    with BackgroundWriter(max_pending=2 * threads, threads=threads) as writer:
        for m in range(n_chunks):
            data = blocks[m % len(blocks)]
            writer.submit(lambda m=m, data=data: store.write_block("z500", 0, slice(m, m + 1), leads, data))
        writer.flush()
    seconds = time.perf_counter() - start
    written = sum(1 for f in (path / "z500").rglob("*") if f.is_file() and f.name != "zarr.json")
    assert written == n_chunks, f"{written} chunk files for {n_chunks} chunks"
    import shutil

    shutil.rmtree(path.parent)
    return seconds


def time_codec(blocks: list[np.ndarray], n_chunks: int, threads: int) -> float:
    """Seconds for the bare numcodecs Blosc encode of ``n_chunks`` blocks split over ``threads`` Python threads."""
    from numcodecs import Blosc

    codec = Blosc(cname="zstd", clevel=5, shuffle=Blosc.BITSHUFFLE)
    work = [blocks[m % len(blocks)] for m in range(n_chunks)]

    def run(part: list[np.ndarray]) -> None:
        for block in part:
            codec.encode(block)

    pool = [threading.Thread(target=run, args=(work[i::threads],)) for i in range(threads)]
    start = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return time.perf_counter() - start


def summarise(label: str, threads: int, seconds: list[float], megabytes: float, base: float | None) -> dict[str, Any]:
    speeds = [megabytes / s for s in seconds]
    median = statistics.median(speeds)
    return {
        "setting": label,
        "threads": threads,
        "mb_per_s_median": median,
        "mb_per_s_min": min(speeds),
        "mb_per_s_max": max(speeds),
        "speedup_vs_1_thread": None if base is None else median / base,
        "seconds": seconds,
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"\n{'setting':30} {'threads':>7} {'MB/s median':>12} {'min–max':>15} {'× 1 thread':>10}")
    for r in rows:
        speedup = "" if r["speedup_vs_1_thread"] is None else f"{r['speedup_vs_1_thread']:.2f}"
        spread = f"{r['mb_per_s_min']:.0f}–{r['mb_per_s_max']:.0f}"
        print(f"{r['setting']:30} {r['threads']:>7} {r['mb_per_s_median']:>12.0f} {spread:>15} {speedup:>10}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--chunks", type=int, default=24, help="chunks written per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="JSON output file")
    args = parser.parse_args(argv)
    threads = sorted(set(args.threads) | {1})
    z500 = hires_fields(2 * LEADS_PER_CHUNK)["z500"]
    blocks = [np.ascontiguousarray(z500[i : i + LEADS_PER_CHUNK][None]) for i in range(0, len(z500), LEADS_PER_CHUNK)]
    megabytes = args.chunks * blocks[0].nbytes / 1e6
    seconds: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="hens-bench-writer-") as tmp:
        for _ in range(args.repeats):
            for label, keepbits in ENCODINGS.items():
                for n in threads:
                    t = time_writer(blocks, args.chunks, keepbits, n, Path(tmp))
                    seconds.setdefault((label, n), []).append(t)
            for n in threads:
                seconds.setdefault(("numcodecs Blosc encode only", n), []).append(time_codec(blocks, args.chunks, n))
    rows = []
    for label in [*ENCODINGS, "numcodecs Blosc encode only"]:
        base = statistics.median(megabytes / s for s in seconds[(label, 1)])
        rows += [summarise(label, n, seconds[(label, n)], megabytes, None if n == 1 else base) for n in threads]
    print_table(rows)
    info = machine()
    versions = f"zarr {info['zarr']}, numcodecs {info['numcodecs']}"
    print(f"\nmachine: {info['cpu']}, {info['nproc']} cores (shared), {versions}")
    print(f"{args.chunks} chunks of {blocks[0].shape} float32 ({blocks[0].nbytes / 1e6:.1f} MB) per measurement")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {"machine": info, "chunk_shape": list(blocks[0].shape), "chunks": args.chunks, "rows": rows}
        args.out.write_text(json.dumps(payload, indent=1))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
