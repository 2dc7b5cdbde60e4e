"""Process settings that keep `hens diagnose` within ``diagnose.memory_gb``: allocator and zarr read concurrency.

Two things outside hens' own arrays decide the resident memory of a tiled diagnose (measured at M = 512, 0.25°,
``memory_gb = 0.5``: docs/benchmarks.md):

- **glibc's allocator** keeps freed blocks for reuse.  Its mmap threshold grows with every large array freed (up
  to 32 MiB), after which arrays of tile size come from heap arenas that are not returned to the system, so the
  resident set climbs to the sum of what every thread ever held (3.8 GB instead of 2.6 GB).  A fixed threshold
  of :data:`MMAP_THRESHOLD_BYTES` maps every large array on its own and unmaps it when freed.
- **zarr's read concurrency** (``async.concurrency``, 10 by default) decodes that many store chunks at once for
  one tile read: at 8 members × 721 × 1440 float32 per chunk that is 0.33 GB per read, per thread.
  :data:`ZARR_CONCURRENCY` chunks at a time keep it to two chunks.

Both apply only under a budget; without one hens leaves the defaults (they are faster for untiled runs).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
from collections.abc import Iterator

__all__ = ["MMAP_THRESHOLD_BYTES", "ZARR_CONCURRENCY", "bounded_memory", "fix_mmap_threshold"]

MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024
"""Arrays above this many bytes are mapped on their own and returned to the system when freed (glibc)."""

ZARR_CONCURRENCY = 2
"""Store chunks zarr decodes at once for one read under a budget."""

_M_MMAP_THRESHOLD = -3  # mallopt parameter number in glibc's malloc.h


def fix_mmap_threshold(nbytes: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Fix glibc's mmap threshold for this process and the processes it starts (``MALLOC_MMAP_THRESHOLD_``).

    Returns:
        True where it was applied (Linux with glibc), False elsewhere (other allocators keep their behaviour).
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", str(int(nbytes)))  # Dask worker processes started later
    return bool(ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, int(nbytes)))


@contextlib.contextmanager
def bounded_memory(memory_gb: float | None) -> Iterator[None]:
    """Within the block: with a budget, the fixed mmap threshold (for the rest of the process) and zarr reads of
    :data:`ZARR_CONCURRENCY` chunks; without one (``None``), nothing changes."""
    if memory_gb is None:
        yield
        return
    import zarr

    fix_mmap_threshold()
    with zarr.config.set({"async.concurrency": ZARR_CONCURRENCY}):
        yield
