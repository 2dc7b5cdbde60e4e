"""Background writer threads so that the model never waits for disk.

The rollout submits closures (each one encode + region write of one whole chunk); a bounded queue caps the
host memory held by pending writes: at most ``max_pending`` queued blocks plus one in flight per thread.  An
error in a write is re-raised in the submitting thread at the next :meth:`BackgroundWriter.submit` or
:meth:`BackgroundWriter.flush`, so a failed write can never be recorded as finished (the manifest is written by
the caller only after :meth:`~BackgroundWriter.flush`).

Several threads (``threads``) encode and write chunks concurrently.  That is safe and gives a store that is byte
for byte the one a single thread writes because every closure writes a different chunk file in full (chunks
never straddle work items), the encoding is a pure function of the block, and zarr-python 3 hands its calls
from any thread to its one event loop.  The expensive parts — numpy bit rounding and blosc/zstd compression
(numcodecs, called by zarr on its own thread pool) — release the GIL, so the threads use several cores
(``scripts/bench_writer.py`` measures the speed-up).  With one thread the closures run in submission order.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable

MAX_AUTO_THREADS = 8
"""The most writer threads :func:`default_writer_threads` picks (beyond it, the file system bounds a rank)."""


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one, else ``os.cpu_count``)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def default_writer_threads(ranks_on_node: int = 1, cores: int | None = None) -> int:
    """``output.writer_threads: auto``: this rank's share of the node's cores less one for the rollout thread,
    clamped to 1..:data:`MAX_AUTO_THREADS` (2 cores, 1 rank → 1; 64 cores, 4 ranks → 8)."""
    cores = available_cores() if cores is None else cores
    share = cores // max(1, ranks_on_node)
    return max(1, min(MAX_AUTO_THREADS, share - 1))


class BackgroundWriter:
    """Runs submitted write closures on ``threads`` background threads (in order when ``threads`` is 1).

    Args:
        max_pending: closures queued at most before :meth:`submit` blocks (host memory bound).
        threads: worker threads (≥ 1).
    """

    def __init__(self, max_pending: int = 16, threads: int = 1) -> None:
        if threads < 1:
            raise ValueError(f"threads={threads} must be ≥ 1")
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=max_pending)
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, name=f"hens-writer-{i}", daemon=True) for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()
        self.bytes_written = 0

    @property
    def n_threads(self) -> int:
        return len(self._threads)

    def _run(self) -> None:
        while True:
            task = self._queue.get()
            try:
                if task is None:
                    return
                if self._error is None:
                    task()
            except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
                with self._lock:
                    if self._error is None:  # keep the first error; later tasks are skipped
                        self._error = err
            finally:
                self._queue.task_done()

    def _raise_pending_error(self) -> None:
        with self._lock:
            err, self._error = self._error, None
        if err is not None:
            raise err

    def submit(self, task: Callable[[], None]) -> None:
        self._raise_pending_error()
        self._queue.put(task)

    def flush(self) -> None:
        """Wait until every submitted write is done; re-raise the first error."""
        self._queue.join()
        self._raise_pending_error()

    def _stop(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()

    def close(self) -> None:
        self.flush()
        self._stop()

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:  # do not mask the original error
            for _ in self._threads:
                self._queue.put(None)
