"""Chunk checksums: what a finished work item wrote, and whether it is still on disk unchanged.

When an item is recorded as finished (:mod:`hens.io.manifest`), its record lists every chunk file it wrote, by
its key inside the store (``z500/c/0/1/0/0/0``), with the file's size in bytes and the CRC32C (Castagnoli) of
its bytes — the encoded, compressed chunk exactly as Zarr stored it, read back after the write was flushed.
A chunk that Zarr did not write because it held only the fill value is recorded as ``None`` (expected absent).

:func:`verify_store` compares the records with the files: *missing* (file gone), *truncated* (other size),
*mismatch* (same size, other CRC32C; only with ``full=True``, which reads every chunk), and lists the member
chunks no record covers (*not generated*: the run has not finished them).  The cheap check (sizes only) is
what a resume does by default; ``hens verify`` and ``hens diagnose`` read every byte.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import google_crc32c

from hens.io.manifest import Manifest

FORECAST_DIMS = ("init_time", "member", "lead_time", "lat", "lon")
_READ_BLOCK = 1 << 22  # bytes read at a time while checksumming one chunk file


def file_crc32c(path: Path) -> str:
    """CRC32C of a file's bytes as 8 hex digits (read in 4 MiB blocks)."""
    crc = google_crc32c.Checksum()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_READ_BLOCK), b""):
            crc.update(block)
    return crc.hexdigest().decode()


def chunk_keys(array: Any, name: str, region: Sequence[slice]) -> list[str]:
    """Store keys (``<name>/c/i/j/…``) of the chunks of zarr ``array`` that ``region`` (one slice per leading
    dimension; the others whole) touches."""
    ranges = []
    for dim, (size, chunk) in enumerate(zip(array.shape, array.chunks, strict=True)):
        sel = region[dim] if dim < len(region) else slice(None)
        start, stop, _ = sel.indices(size)
        ranges.append(range(start // chunk, (max(stop, start + 1) - 1) // chunk + 1))
    return [f"{name}/{array.metadata.encode_chunk_key(coords)}" for coords in itertools.product(*ranges)]


def describe_chunks(root: Path, keys: Iterable[str]) -> dict[str, list[Any] | None]:
    """``{key: [size in bytes, crc32c hex]}`` of chunk files under ``root``; ``None`` for a chunk not on disk
    (Zarr writes no file for a chunk of fill values only)."""
    out: dict[str, list[Any] | None] = {}
    for key in keys:
        path = root / key
        out[key] = [path.stat().st_size, file_crc32c(path)] if path.is_file() else None
    return out


@dataclass
class Problem:
    """One chunk that is not as its record says: ``kind`` missing | truncated | resized | mismatch."""

    kind: str
    chunk: str
    item: str

    def line(self) -> str:
        return f"{self.kind}: {self.chunk} (work item {self.item})"


@dataclass
class IntegrityReport:
    """The outcome of :func:`verify_store`.

    Attributes:
        problems: chunks recorded as written that are missing, truncated or (full check) altered.
        not_generated: member chunks no finished record covers (the run is not finished).
        unchecked: finished records without chunk checksums (written by hens before they existed).
        n_checked: chunk files compared with their records.
    """

    problems: list[Problem] = field(default_factory=list)
    not_generated: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    n_checked: int = 0

    @property
    def bad_items(self) -> set[str]:
        return {p.item for p in self.problems}

    @property
    def ok(self) -> bool:
        return not self.problems and not self.not_generated


def check_record(root: Path, item: str, record: dict[str, Any], full: bool) -> tuple[list[Problem], int]:
    """Compare one finished item's recorded chunks with the files (``full``: also the CRC32C)."""
    problems: list[Problem] = []
    chunks = record.get("chunks") or {}
    for key, expected in chunks.items():
        path = root / key
        if expected is None:
            continue  # a fill-value-only chunk: absent on purpose (a file here reads as the data it holds)
        if not path.is_file():
            problems.append(Problem("missing", key, item))
        elif path.stat().st_size != expected[0]:
            problems.append(Problem("truncated" if path.stat().st_size < expected[0] else "resized", key, item))
        elif full and file_crc32c(path) != expected[1]:
            problems.append(Problem("mismatch", key, item))
    return problems, len(chunks)


def member_array_chunks(root: Path) -> list[str]:
    """Keys of every chunk of the store's member arrays (dims :data:`FORECAST_DIMS`) and ``nonfinite_lead``."""
    import json

    import zarr

    keys: list[str] = []
    for meta in sorted(root.glob("*/zarr.json")):
        info = json.loads(meta.read_text())
        dims = tuple(info.get("dimension_names") or ())
        if info.get("node_type") != "array" or dims not in (FORECAST_DIMS, FORECAST_DIMS[:2]):
            continue
        array = zarr.open_array(str(meta.parent), mode="r")
        keys += chunk_keys(array, meta.parent.name, [slice(None)] * len(dims))
    return keys


def verify_store(
    path: str | Path, full: bool = True, records: dict[str, dict[str, Any]] | None = None
) -> IntegrityReport:
    """Check every finished record of the store at ``path`` against its chunk files (see module docstring)."""
    root = Path(path)
    records = Manifest(root).finished() if records is None else records
    report = IntegrityReport()
    covered: set[str] = set()
    for item, record in records.items():
        if "chunks" not in record:
            report.unchecked.append(item)
            continue
        problems, n = check_record(root, item, record, full)
        report.problems += problems
        report.n_checked += n
        covered.update(record["chunks"])
    if not report.unchecked:
        report.not_generated = [k for k in member_array_chunks(root) if k not in covered]
    return report


NOT_GENERATED, DAMAGED = -2, -3
"""``nonfinite_lead``-style flags of member-dates whose chunks were never written / are damaged."""


def member_flags(path: str | Path, report: IntegrityReport) -> dict[tuple[int, int], int]:
    """``{(init_time index, stored member index): flag}`` of the member-dates in chunks that are not generated
    (:data:`NOT_GENERATED`) or damaged (:data:`DAMAGED`, which wins), from the chunk keys of ``report``."""
    import zarr

    root = Path(path)
    member_chunk: dict[str, tuple[int, int]] = {}
    flags: dict[tuple[int, int], int] = {}
    keyed = [(k, NOT_GENERATED) for k in report.not_generated] + [(p.chunk, DAMAGED) for p in report.problems]
    for key, flag in keyed:
        name, _, coords = key.partition("/c/")
        if name not in member_chunk:
            array = zarr.open_array(str(root / name), mode="r")
            member_chunk[name] = (array.chunks[1], array.shape[1])
        size, n_members = member_chunk[name]
        i, j = (int(c) for c in coords.split("/")[:2])
        for m in range(j * size, min((j + 1) * size, n_members)):
            flags[(i, m)] = min(flags.get((i, m), 0), flag)
    return flags


def describe_report(path: str | Path, report: IntegrityReport, full: bool) -> list[str]:
    """Lines for ``hens verify``: every damaged chunk, then a summary with the repair."""
    lines = [p.line() for p in report.problems]
    what = "sizes and CRC32C" if full else "sizes"
    lines.append(
        f"checked {report.n_checked} chunk(s) by {what}: {len(report.problems)} damaged, in "
        f"{len(report.bad_items)} work item(s)"
        if report.problems
        else f"checked {report.n_checked} chunk(s) by {what}: all as recorded"
    )
    if report.unchecked:
        lines.append(
            f"{len(report.unchecked)} finished work item(s) have no chunk checksums (written before hens "
            "recorded them); they were not checked"
        )
    if report.not_generated:
        lines.append(
            f"{len(report.not_generated)} chunk(s) not generated yet (the run is not finished): re-run the "
            "same `hens generate` to finish it"
        )
    if report.problems:
        lines.append(
            f"repair: re-run the same `hens generate` command with output.verify=true (output.path={path}); "
            "it recomputes exactly the damaged work items"
        )
    return lines


def require_intact(path: str | Path, full: bool, allow_incomplete: bool) -> IntegrityReport:
    """The integrity report of a store to be read; StoreError (one line, naming the first bad chunk and the
    repair) when chunks are damaged or not generated, unless ``allow_incomplete``."""
    from hens.errors import StoreError

    report = verify_store(path, full=full)
    if allow_incomplete or report.ok:
        return report
    if report.problems:
        first = report.problems[0]
        raise StoreError(
            f"store {path} has {len(report.problems)} damaged chunk(s), first {first.kind} {first.chunk}; run "
            f"`hens verify {path}` for the list and re-run its `hens generate` with output.verify=true to recompute "
            "them, or set diagnose.allow_incomplete=true to score the intact members"
        )
    raise StoreError(
        f"store {path} is not finished: {len(report.not_generated)} chunk(s) not generated yet (first "
        f"{report.not_generated[0]}); re-run its `hens generate` to finish it, or set diagnose.allow_incomplete=true "
        "to score the members already generated"
    )
