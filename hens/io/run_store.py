"""The life of one run's store: its global attributes, creation or resume, what is already finished, and the
records written when every rank is done.

Inside the store (next to the Zarr arrays of :mod:`hens.io.store`) the run keeps, under ``.hens/``
(:mod:`hens.io.manifest`), its identity (``run.json``), one record per finished work item (``done/``), and the
partial in-line statistics of each start date (``stats/<init_index:05d>/<uuid>.npz``: the raw accumulators of
:mod:`hens.inference.stats` plus the keys of the work items they contain).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hens import __version__
from hens.errors import StoreError
from hens.io.integrity import Problem, verify_store
from hens.io.manifest import Manifest
from hens.io.store import StoreLayout, create_store, is_hens_store, remove_store, update_attrs

MEMBERS_NOTE = (
    "member m: checkpoint m // (2P), perturbation (m mod 2P) // 2, sign + for even, − for odd; sign 0 = control "
    "(unperturbed)"
)


def run_attrs(
    *,
    title: str,
    source: str,
    dynamics: str,
    fingerprint: str,
    config: str,
    initial_conditions: Mapping[str, Any],
    timestep_hours: float,
) -> dict[str, Any]:
    """The CF and hens global attributes of a generated store (``config``: the resolved YAML;
    ``initial_conditions``: the source's description, stored as JSON)."""
    return {
        "Conventions": "CF-1.10",
        "title": title,
        "source": source,
        "hens_dynamics": dynamics,
        "hens_version": __version__,
        "hens_fingerprint": fingerprint,
        "hens_config": config,
        "hens_initial_conditions": json.dumps(initial_conditions, sort_keys=True, default=str),
        "hens_members": MEMBERS_NOTE,
        "hens_timestep_hours": float(timestep_hours),
    }


def prepare_store(
    path: Path, layout: StoreLayout, run_fingerprint: str, overwrite: bool, identity: dict[str, Any] | None = None
) -> str:
    """Create, recreate or validate the store (rank 0 only); returns what was done: 'created' or 'resumed'.

    A store of the same identity is resumed (``identity``: the flat dict of :func:`hens.inference.run_setup.
    run_identity`; stores without one compare ``run_fingerprint``); another hens store is replaced only with
    ``overwrite`` (or when its creation was interrupted); anything that is not a hens store is never deleted
    (StoreError).  The refusal names the keys that differ.
    """
    manifest = Manifest(path)
    if path.exists() and not (path.is_dir() and not any(path.iterdir())):
        run = manifest.read_run()
        differs = _identity_differences(run, run_fingerprint, identity) if run is not None else ["store"]
        if run is not None and not differs:
            return "resumed"
        ours = run is not None or is_hens_store(path)
        interrupted_creation = run is None and is_hens_store(path) and not manifest.finished()
        if overwrite or interrupted_creation:
            if not ours and (path.is_file() or any(path.iterdir())):
                raise StoreError(
                    f"output.path={path} exists and is not a hens store; refusing to delete it — "
                    "choose another output.path"
                )
            remove_store(path)
        elif run is not None:
            raise StoreError(
                f"output.path={path} holds a run with a different configuration ({', '.join(differs[:4])}"
                f"{', …' if len(differs) > 4 else ''}); choose a new output.path or set output.overwrite=true to "
                "replace it"
                + (" (or leave threads unset to use the store's)" if differs[0].startswith("threads:") else "")
            )
        else:
            raise StoreError(f"output.path={path} exists and is not a hens store; choose another output.path")
    path.parent.mkdir(parents=True, exist_ok=True)
    create_store(path, layout)
    record = {"fingerprint": run_fingerprint, "hens_version": __version__, "batch_size": layout.batch_size}
    if identity is not None:
        record["identity"] = identity
    manifest.write_run(record)
    return "created"


def _identity_differences(run: dict[str, Any], run_fingerprint: str, identity: dict[str, Any] | None) -> list[str]:
    """The keys whose values differ between a store's recorded run and this one ("key: stored → now")."""
    recorded = run.get("identity")
    if identity is None or recorded is None:
        return [] if run.get("fingerprint") == run_fingerprint else ["fingerprint"]
    keys = sorted(set(recorded) | set(identity))
    differs = [
        f"{k}: {_short(recorded.get(k))} in the store, {_short(identity.get(k))} now"
        for k in keys
        if recorded.get(k) != identity.get(k)
    ]
    return differs


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 24 else text[:21] + "…"


def recorded_batch_size(path: Path, run_fingerprint: str) -> int | None:
    """The batch size the store at ``path`` was created with, when it holds this run (for resuming with
    ``ensemble.batch_size=auto``); None otherwise."""
    run = Manifest(path).read_run()
    if run is not None and run.get("fingerprint") == run_fingerprint and run.get("batch_size"):
        return int(run["batch_size"])
    return None


def stats_dir(store_path: Path) -> Path:
    """Where the partial statistics accumulators of a store live (inside the manifest folder)."""
    return Manifest(store_path).root / "stats"


def save_partial(folder: Path, items: Sequence[str], arrays: Mapping[str, np.ndarray]) -> Path:
    """Write one partial accumulator (``arrays``) with the keys of its work items to a new ``<uuid>.npz`` in
    ``folder`` (atomic rename: a kill mid-save leaves nothing that looks like a partial)."""
    folder.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex
    tmp = folder / f".{name}.tmp"
    with open(tmp, "wb") as handle:
        np.savez(handle, items=np.array(items, dtype=str), **arrays)
    path = folder / f"{name}.npz"
    os.replace(tmp, path)
    return path


def read_partial(path: Path, keys: Sequence[str]) -> tuple[list[str], dict[str, np.ndarray]]:
    """The item keys and the arrays ``keys`` of one saved partial."""
    with np.load(path) as blob:
        return [str(i) for i in blob["items"]], {k: blob[k] for k in keys}


def partial_items(folder: Path) -> set[str]:
    """Keys of the work items contained in the saved partials under ``folder`` (any start date)."""
    keys: set[str] = set()
    if folder.is_dir():
        for path in folder.glob("*/*.npz"):
            with np.load(path) as blob:
                keys.update(str(i) for i in blob["items"])
    return keys


def finished_items(store_path: Path) -> set[str]:
    """Items already done: manifest records, plus items inside saved statistics partials (a kill between
    saving a partial and writing its items' records must not count them twice)."""
    return set(Manifest(store_path).finished()) | partial_items(stats_dir(store_path))


def finalize_store(path: Path) -> None:
    """Record the non-finite members of the whole run in the store's attributes (rank 0, after all ranks)."""
    records = Manifest(path).finished()
    bad = sorted(
        (entry for record in records.values() for entry in record.get("nonfinite", [])),
        key=lambda e: (e["init_time"], e["member"]),
    )
    update_attrs(path, {"hens_nonfinite_members": json.dumps(bad), "hens_chunks_finished": len(records)})


def drop_damaged_items(path: Path, full: bool) -> list[Problem]:
    """Before a resume (rank 0): check every finished item's chunks (sizes; ``full``: CRC32C too) and forget the
    items whose chunks are missing or altered, so the run recomputes and rewrites them whole; so too the items of a
    statistics partial that have no manifest record.  A statistics partial holding such an item is removed with all
    its items (they are recomputed together, counted once).
    Returns the problems found."""
    manifest = Manifest(path)
    records = manifest.finished()
    report = verify_store(path, full=full, records=records)
    folder = stats_dir(path)
    # items saved in a statistics partial but never recorded (a kill between the two): their chunks have no
    # checksums, so they are recomputed with their partial rather than trusted
    bad = report.bad_items | (partial_items(folder) - set(records))
    if not bad:
        return report.problems
    for partial in sorted(folder.glob("*/*.npz")) if folder.is_dir() else []:
        with np.load(partial) as blob:
            held = {str(i) for i in blob["items"]}
        if held & bad:
            bad |= held
            partial.unlink()
    for key in bad:
        manifest.forget(key)
    return report.problems
