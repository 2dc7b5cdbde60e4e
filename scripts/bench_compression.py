"""Compression ratio, error and speed of the store encodings, side by side with uncompressed float32.

    python scripts/bench_compression.py [--times 64] [--hires-times 4] [--repeats 3]
                                        [--out bench_results/compression.json]

Two kinds of fields, each variable encoded with every setting in this one process:

- **demo**: the demo world's truth (``hens.demo.world.truth_states`` on the default ``DemoWorldSpec``, 33×64,
  channels z500, u500, v500), ``--times`` consecutive 6-hourly states in chunks of 8 states (≈ 68 kB, the
  size of a store chunk of 8 members × 1 lead);
- **0.25°**: synthetic 721×1440 fields for scale, ``--hires-times`` states each — a large-scale smooth part
  (zonal mean + planetary waves with realistic amplitudes) plus spatially correlated small-scale noise, with
  the magnitudes of z500 (m² s⁻², ≈ 5.5e4), t2m (K), msl (Pa, ≈ 1e5, overflows float16) and tcwv (kg m⁻²,
  positive and skewed).

Settings: float32 uncompressed (the baseline the ratios are relative to), float32 + zstd, float32 + blosc
(zstd, bit shuffle), float16 + zstd / + blosc, bfloat16 as uint16 + zstd (what a bfloat16 store would cost;
not offered by hens, see ``hens.io.encoding``), and bit rounding to 7 / 10 / 13 mantissa bits + zstd and
+ blosc.  Each setting is encoded with :meth:`hens.io.encoding.VariableEncoding.encode` (the store writer's
code path) and written through zarr-python 3 to a local Zarr v3 array (0.25°: one chunk per state, 4.15 MB);
the ratio is float32 bytes / bytes of the chunk files on disk.  Errors are against the float32 input:
max |stored − x| and max |stored − x| / |x| over x ≠ 0.  Speeds are MB of float32 input per second, best of
``--repeats``: ``encode`` = rounding + cast + compression + file writes; ``read`` = read back + decompress.

Prints a table per field set and writes JSON (settings, machine, rows) to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hens.errors import StoreError  # noqa: E402
from hens.io.encoding import VariableEncoding, max_relative_error, zarr_compressors  # noqa: E402

SETTINGS: list[tuple[str, str, int | None, str, int]] = [
    # label, storage dtype, keepbits, compressor, level
    ("float32 raw", "float32", None, "none", 0),
    ("float32 + zstd", "float32", None, "zstd", 3),
    ("float32 + blosc", "float32", None, "blosc", 5),
    ("float16 + zstd", "float16", None, "zstd", 3),
    ("float16 + blosc", "float16", None, "blosc", 5),
    ("bfloat16(u16) + zstd", "bfloat16", None, "zstd", 3),
    ("keepbits 13 + zstd", "float32", 13, "zstd", 3),
    ("keepbits 10 + zstd", "float32", 10, "zstd", 3),
    ("keepbits 7 + zstd", "float32", 7, "zstd", 3),
    ("keepbits 13 + blosc", "float32", 13, "blosc", 5),
    ("keepbits 10 + blosc", "float32", 10, "blosc", 5),
    ("keepbits 7 + blosc", "float32", 7, "blosc", 5),
]


def machine() -> dict[str, Any]:
    import numcodecs
    import zarr

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "zarr": zarr.__version__,
        "numcodecs": numcodecs.__version__,
        "nproc": os.cpu_count() or 0,
        "cpu": cpu,
    }


def demo_fields(n_times: int) -> dict[str, np.ndarray]:
    """The default demo world's truth: {channel: float32 [T, 33, 64]} for ``n_times`` 6-hourly states."""
    from hens.demo.world import DEMO_CHANNELS, DemoWorldSpec, truth_states

    spec = DemoWorldSpec()
    t0 = np.datetime64("2000-01-16T00:00", "ns")
    times = t0 + np.arange(n_times) * np.timedelta64(spec.sample_hours, "h")
    states = truth_states(spec, times)
    return {name: np.ascontiguousarray(states[:, c]) for c, name in enumerate(DEMO_CHANNELS)}


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale: int) -> np.ndarray:
    """Unit-variance noise correlated over ≈ ``scale`` grid points (box-averaged white noise, bilinear upsampled)."""
    ny, nx = shape
    coarse = rng.normal(size=(ny // scale + 2, nx // scale + 2))
    y = np.linspace(0, coarse.shape[0] - 1.001, ny)
    x = np.linspace(0, coarse.shape[1] - 1.001, nx)
    iy, ix = y.astype(int), x.astype(int)
    fy, fx = (y - iy)[:, None], (x - ix)[None, :]
    field = (
        coarse[iy][:, ix] * (1 - fy) * (1 - fx)
        + coarse[iy + 1][:, ix] * fy * (1 - fx)
        + coarse[iy][:, ix + 1] * (1 - fy) * fx
        + coarse[iy + 1][:, ix + 1] * fy * fx
    )
    return field / field.std()


def hires_fields(n_times: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Synthetic 0.25° fields: {name: float32 [T, 721, 1440]} with realistic magnitudes (see module docstring)."""
    rng = np.random.default_rng(seed)
    lat = np.deg2rad(np.linspace(90, -90, 721))[:, None]
    lon = np.deg2rad(np.arange(1440) * 0.25)[None, :]
    out: dict[str, list[np.ndarray]] = {"z500": [], "t2m": [], "msl": [], "tcwv": []}
    for t in range(n_times):
        phase = 0.3 * t
        waves = sum(np.cos(k * lon + phase * k + rng.uniform(0, 2 * np.pi)) / k for k in (1, 2, 3, 5, 8)) * np.cos(lat)
        small = _smooth_noise(rng, (721, 1440), 12) + 0.3 * _smooth_noise(rng, (721, 1440), 3)
        out["z500"].append(5.55e4 - 4.0e3 * np.sin(lat) ** 2 + 1.2e3 * waves + 150 * small)
        out["t2m"].append(300 - 45 * np.sin(lat) ** 2 + 4 * waves + 2.5 * small)
        out["msl"].append(1.0125e5 + 900 * waves + 350 * small)
        out["tcwv"].append(50 * np.cos(lat) ** 4 * np.exp(0.4 * waves + 0.5 * small) + 1.0)
    return {name: np.stack(v).astype(np.float32) for name, v in out.items()}


def _bfloat16(values: np.ndarray) -> np.ndarray:
    """float32 → bfloat16 bit patterns as uint16 (round to nearest even = bit rounding to 7 bits, upper half)."""
    from hens.io.encoding import bitround

    return (bitround(values, 7).view(np.uint32) >> np.uint32(16)).astype(np.uint16)


def _from_bfloat16(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)


def _best(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def measure(
    name: str, data: np.ndarray, setting: tuple, workdir: Path, repeats: int, chunk_states: int = 1
) -> dict[str, Any]:
    """One variable × one setting on ``data`` [T, nlat, nlon]: ratio vs float32 bytes, max abs / rel error,
    encode and read MB/s; chunks of ``chunk_states`` states."""
    import zarr

    label, dtype, keepbits, compressor, level = setting
    row: dict[str, Any] = {"variable": name, "setting": label, "dtype": dtype, "keepbits": keepbits}
    row.update({"compressor": compressor, "level": level, "shape": list(data.shape)})
    raw_mb = data.nbytes / 1e6
    if dtype == "bfloat16":
        encode: Callable[[np.ndarray], np.ndarray] = _bfloat16
        decode: Callable[[np.ndarray], np.ndarray] = _from_bfloat16
        store_dtype = "uint16"
        fill: Any = 0
    else:
        enc = VariableEncoding(dtype, keepbits, compressor, level)
        encode = lambda x: enc.encode(x, name)  # noqa: E731
        decode = lambda x: x.astype(np.float32)  # noqa: E731
        store_dtype, fill = dtype, np.nan
        row["bound"] = max_relative_error(keepbits, dtype)
    path = workdir / f"{name}-{label.replace(' ', '_')}.zarr"

    def write() -> np.ndarray:
        if path.exists():
            shutil.rmtree(path)
        stored = encode(data)
        array = zarr.create_array(
            store=str(path),
            shape=data.shape,
            chunks=(min(chunk_states, data.shape[0]), *data.shape[1:]),
            dtype=store_dtype,
            compressors=zarr_compressors(compressor, level),
            fill_value=fill,
            zarr_format=3,
        )
        array[...] = stored
        return stored

    try:
        seconds, _ = _best(write, repeats)
    except StoreError as err:
        row["skipped"] = f"overflow: {err}"
        return row
    read_seconds, back = _best(lambda: zarr.open_array(str(path), mode="r")[...], repeats)
    values = decode(back).astype(np.float64)
    x = data.astype(np.float64)
    abs_err = np.abs(values - x)
    nonzero = x != 0
    stored_bytes = sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and f.name != "zarr.json")
    row.update(
        {
            "raw_MB": raw_mb,
            "stored_MB": stored_bytes / 1e6,
            "ratio": data.nbytes / max(stored_bytes, 1),
            "max_abs_error": float(abs_err.max()),
            "max_rel_error": float((abs_err[nonzero] / np.abs(x[nonzero])).max()),
            "encode_MBps": raw_mb / seconds,
            "read_MBps": raw_mb / read_seconds,
        }
    )
    if "bound" in row:
        row["within_bound"] = bool(row["max_rel_error"] <= row["bound"] or row["bound"] == 0.0)
    return row


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n## {title}")
    head = f"| {'variable':8} | {'setting':22} | {'ratio':>6} | {'max abs err':>11} | {'max rel err':>11} |"
    print(head + f" {'encode MB/s':>11} | {'read MB/s':>9} |")
    print("|" + "|".join("-" * (len(c) + 0) for c in head.split("|")[1:-1]) + "|" + "-" * 13 + "|" + "-" * 11 + "|")
    for r in rows:
        if "skipped" in r:
            print(f"| {r['variable']:8} | {r['setting']:22} | {'—':>6} | {'overflow: refused (StoreError)':>25} |")
            continue
        print(
            f"| {r['variable']:8} | {r['setting']:22} | {r['ratio']:6.2f} | {r['max_abs_error']:11.3g} | "
            f"{r['max_rel_error']:11.2e} | {r['encode_MBps']:11.0f} | {r['read_MBps']:9.0f} |"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--times", type=int, default=64, help="demo-world states per channel")
    parser.add_argument("--hires-times", type=int, default=4, help="721×1440 states per variable")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="JSON output file")
    args = parser.parse_args(argv)

    results: dict[str, Any] = {"machine": machine(), "settings": [list(s) for s in SETTINGS], "rows": {}}
    sets: list[tuple[str, Callable[[], dict[str, np.ndarray]], int]] = []
    if not args.skip_demo:
        sets.append((f"demo world truth (33×64, {args.times} states)", lambda: demo_fields(args.times), 8))
    if args.hires_times > 0:
        title = f"synthetic 0.25° (721×1440, {args.hires_times} states)"
        sets.append((title, lambda: hires_fields(args.hires_times), 1))
    with tempfile.TemporaryDirectory(prefix="hens-bench-compression-") as tmp:
        for title, make, chunk_states in sets:
            fields = make()
            rows = [
                measure(name, data, setting, Path(tmp), args.repeats, chunk_states)
                for name, data in fields.items()
                for setting in SETTINGS
            ]
            results["rows"][title] = rows
            print_table(title, rows)
    info = results["machine"]
    print(f"\nmachine: {info['cpu']}, {info['nproc']} cores, zarr {info['zarr']}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
