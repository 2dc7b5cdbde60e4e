"""The manifest of a store: which work items (chunks) are finished, and the run's identity.

Layout inside the store folder (ignored by Zarr readers, which only follow ``zarr.json`` nodes)::

    <store>/.hens/run.json            identity of the run (config fingerprint); written last when creating
    <store>/.hens/done/<item>.json    one file per finished work item, written after its chunks are on disk

One file per item means ranks never write the same file, so no locks are needed; each file is written to a
temporary name and renamed, so a kill never leaves a half-written record.  A killed run is resumed by
skipping the items that have a record: any chunk without one is recomputed and rewritten whole.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hens.errors import StoreError

MANIFEST_DIR = ".hens"


def _atomic_write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=1, sort_keys=True, default=str))
    os.replace(tmp, path)


class Manifest:
    """Finished-item records of one store (see module docstring)."""

    def __init__(self, store_path: str | Path) -> None:
        self.root = Path(store_path) / MANIFEST_DIR
        self.done_dir = self.root / "done"

    @property
    def run_file(self) -> Path:
        return self.root / "run.json"

    def read_run(self) -> dict[str, Any] | None:
        if not self.run_file.is_file():
            return None
        try:
            return json.loads(self.run_file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise StoreError(
                f"{self.run_file} is damaged ({err}); the store's identity is lost — delete the store folder and run "
                "again, or write to another output.path"
            ) from err

    def write_run(self, payload: dict[str, Any]) -> None:
        _atomic_write_json(self.run_file, payload)

    def finished(self) -> dict[str, dict[str, Any]]:
        """Records of finished items, by item key."""
        if not self.done_dir.is_dir():
            return {}
        records = {}
        for path in sorted(self.done_dir.glob("*.json")):
            try:
                records[path.stem] = json.loads(path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue  # a damaged record counts as not finished: its item is recomputed

        return records

    def mark_done(self, key: str, record: dict[str, Any]) -> None:
        _atomic_write_json(self.done_dir / f"{key}.json", record)

    def forget(self, key: str) -> None:
        """Remove an item's record (its chunks are then recomputed by the next run)."""
        (self.done_dir / f"{key}.json").unlink(missing_ok=True)
