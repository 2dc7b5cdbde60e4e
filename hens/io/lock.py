"""One writer per store: a run lock beside the store.

``<parent>/.<store name>.hens-lock`` is created with ``O_CREAT | O_EXCL`` (atomic on local file systems and on
NFSv3+, Lustre and GPFS) and holds JSON ``{host, pid, started}``.  It lives beside the store, not inside it, so
``output.overwrite=true`` (which deletes the store) cannot delete a live run's lock.  It is removed when the run
ends, by an error or a signal too.  A lock left by a process that is gone (``kill -9``, a crash) is taken over
when it was written on *this* host and its pid is no longer running.  A lock from another host is never taken
over automatically — hens cannot tell whether that host's process is alive — and the error names the host,
pid and the file to delete once you know that run is over (e.g. a SLURM job that was requeued elsewhere).
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from hens.errors import StoreError


def lock_path(store: Path) -> Path:
    """Where the run lock of ``store`` lives."""
    return store.parent / f".{store.name}.hens-lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
        return {}  # half-written by a process killed while creating it


class RunLock:
    """The lock of one store (a context manager); see module docstring."""

    def __init__(self, store: Path) -> None:
        self.store = Path(store)
        self.path = lock_path(self.store)
        self.held = False

    def _create(self) -> bool:
        payload = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()})
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as handle:
            handle.write(payload)
        return True

    def acquire(self) -> None:
        """Take the lock, or raise StoreError naming the run that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            if self._create():
                self.held = True
                return
            owner = _read(self.path)
            if owner is None:
                continue  # released in between: try again
            if owner.get("host") == socket.gethostname() and not _alive(int(owner.get("pid", -1))):
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            if owner == {} and time.time() - self.path.stat().st_mtime > 60:
                self.path.unlink(missing_ok=True)  # unreadable for a minute: a creation that never finished
                continue
            break
        owner = _read(self.path) or {}
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(owner.get("started", 0))))
        raise StoreError(
            f"output.path={self.store} is being written by another hens generate (host {owner.get('host', '?')}, "
            f"pid {owner.get('pid', '?')}, since {started}); wait for it, or if that run is gone delete {self.path}"
        )

    def release(self) -> None:
        if self.held:
            owner = _read(self.path)
            if owner and owner.get("pid") == os.getpid() and owner.get("host") == socket.gethostname():
                self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
