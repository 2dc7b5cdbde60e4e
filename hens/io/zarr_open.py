"""Opening Zarr stores without zarr's notes on consolidated v3 metadata and on the ``.hens/`` manifest folder.

Both notes are about things hens does on purpose (consolidated metadata in Zarr v3 stores; a non-Zarr folder
inside the store), so every reader and writer of hens opens stores through these two helpers.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["open_zarr_quiet", "quiet_zarr"]


@contextlib.contextmanager
def quiet_zarr() -> Iterator[None]:
    """Silence zarr's notes on consolidated v3 metadata and on the manifest folder (both are intended)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        warnings.filterwarnings("ignore", message=".*not recognized as a component of a Zarr hierarchy.*")
        yield


def open_zarr_quiet(path: str | Path, **kwargs: Any):
    """``xarray.open_zarr(path, **kwargs)`` inside :func:`quiet_zarr`; returns the lazy ``xarray.Dataset``."""
    import xarray as xr

    with quiet_zarr():
        return xr.open_zarr(str(path), **kwargs)
