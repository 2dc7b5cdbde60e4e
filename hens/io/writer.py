"""A background writer thread so that the model never waits for disk.

The rollout submits closures (each one region write of one chunk); a bounded queue caps the host memory
held by pending writes (``max_pending``).  An error in a write is re-raised in the submitting thread at the
next :meth:`submit` or :meth:`flush`, so a failed write can never be recorded as finished.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable


class BackgroundWriter:
    """Runs submitted write closures in order on one background thread."""

    def __init__(self, max_pending: int = 16) -> None:
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=max_pending)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="hens-writer", daemon=True)
        self._thread.start()
        self.bytes_written = 0

    def _run(self) -> None:
        while True:
            task = self._queue.get()
            try:
                if task is None:
                    return
                if self._error is None:
                    task()
            except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
                self._error = err
            finally:
                self._queue.task_done()

    def _raise_pending_error(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def submit(self, task: Callable[[], None]) -> None:
        self._raise_pending_error()
        self._queue.put(task)

    def flush(self) -> None:
        """Wait until every submitted write is done; re-raise the first error."""
        self._queue.join()
        self._raise_pending_error()

    def close(self) -> None:
        self.flush()
        self._queue.put(None)
        self._thread.join()

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:  # do not mask the original error
            self._queue.put(None)
