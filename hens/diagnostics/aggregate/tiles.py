"""Blocks that fit a memory budget: the lat/lon tile of the per-block statistics, and tile-wise reads of a store.

A block of :func:`hens.diagnostics.aggregate.graph.statistics_graph` holds all M members of one start date, one
lead chunk and one lat × lon tile, so its memory grows with M.  With ``diagnose.memory_gb`` the tile is chosen
(:func:`choose_tiles`) so that one block — its float32 values and the working arrays of
:func:`hens.diagnostics.aggregate.block.block_statistics` — fits the budget, whatever M.

Store chunks hold whole globes (``(1, batch, lead_chunk, nlat, nlon)``).  Rechunking such chunks into tiles
with Dask keeps the source chunks of every member in memory until all their tiles are used, so memory would
still grow with M; :func:`tiled_forecast` instead builds the forecast from tile-sized reads of the store (each
read decodes the store chunks it touches and keeps only the tile), trading repeated decoding (once per tile)
for memory that is flat in M.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import xarray as xr

__all__ = ["BLOCK_BYTES_PER_VALUE", "block_bytes", "choose_tiles", "tiled_forecast"]

BLOCK_BYTES_PER_VALUE = 32
"""Bytes a block needs per member value: measured 17–20 for ``block_statistics``' working arrays (tracemalloc,
M = 32 and 128 at 0.25° tiles), plus the float32 block and its concatenation from member chunks (4 + 4), rounded
up."""


def block_bytes(n_members: int, n_leads: int, n_lat: int, n_lon: int) -> int:
    """Estimated peak bytes of one block of ``n_members × n_leads × n_lat × n_lon`` values."""
    return int(n_members) * int(n_leads) * int(n_lat) * int(n_lon) * BLOCK_BYTES_PER_VALUE


def choose_tiles(
    n_members: int,
    lead_chunk: int,
    shape: tuple[int, int],
    memory_gb: float | None,
    lat_chunk: int | None = None,
    lon_chunk: int | None = None,
) -> tuple[int | None, int | None]:
    """(lat_chunk, lon_chunk) of the blocks: the configured ones, or — for those left None under a budget —
    the largest that fit ``memory_gb`` (None = whole axis).

    Whole rows first: ``lat_chunk`` = the rows that fit with ``lon_chunk`` (or every longitude); only when not
    even one such row fits is the longitude split too.  A single point that does not fit gives 1 × 1 tiles (the
    smallest blocks there are; lower ``diagnose.chunks.lead_time`` to go further).

    Args:
        n_members: M, members in every block.
        lead_chunk: lead times per block.
        shape: (nlat, nlon) of the grid.
        memory_gb: the budget of one block in GB (1e9 bytes), or None: no budget.
        lat_chunk, lon_chunk: configured tile sizes (``diagnose.chunks.lat``/``lon``), kept as given.
    """
    n_lat, n_lon = shape
    if memory_gb is None or (lat_chunk is not None and lon_chunk is not None):
        return lat_chunk, lon_chunk
    budget = float(memory_gb) * 1e9
    per_point = block_bytes(n_members, lead_chunk, 1, 1)
    row = per_point * (lon_chunk or n_lon)
    rows = int(budget // row)
    if lat_chunk is None:
        if rows >= n_lat:
            return None, lon_chunk
        if rows >= 1 or lon_chunk is not None:
            return max(1, rows), lon_chunk
        lat_chunk = 1
    if lon_chunk is None:
        cols = int(budget // (per_point * lat_chunk))
        lon_chunk = None if cols >= n_lon else max(1, cols)
    return lat_chunk, lon_chunk


Source = str | Path | Mapping[np.datetime64, Path]
"""Where a forecast is read from: one store, or per start date (datetime64[ns]) the store holding it."""


def tiled_forecast(store: Source, forecast: xr.DataArray, chunks: dict[str, int]) -> xr.DataArray:
    """``forecast`` (a selection of a store variable) read again from ``store`` in blocks of ``chunks``.

    Each Dask chunk is one read of the store for one tile of all selected members (zarr decodes the store
    chunks it touches and keeps the tile), so no task holds whole-globe chunks of many members.  Members are
    selected by their store labels (``source_member`` where :func:`~hens.diagnostics.verification.store.
    exclude_nonfinite_members` relabelled them), so the values are exactly those of ``forecast``.

    Args:
        store: the store path, or per start date the store that holds it (several stores diagnosed together).
        forecast: ``(init_time, member, lead_time, lat, lon)`` as selected from the store(s).
        chunks: Dask chunks by dimension (e.g. ``{"init_time": 1, "member": -1, "lead_time": 8, "lat": 90}``).
    """
    from hens.diagnostics.verification.store import open_store

    opened: dict[str, xr.DataArray] = {}
    pieces = []
    for i, t in enumerate(forecast["init_time"].values):
        path = str(store[np.datetime64(t, "ns")] if isinstance(store, Mapping) else store)
        if path not in opened:
            opened[path] = open_store(path, chunks=None, announce=False)[forecast.name]  # also a foreign layout
        lazy = opened[path]
        labels = (
            forecast["source_member"].values[i] if "source_member" in forecast.coords else forecast["member"].values
        )
        piece = lazy.sel(init_time=[t], lead_time=forecast["lead_time"].values).sel(member=np.asarray(labels))
        piece = piece.sel(lat=forecast["lat"].values, lon=forecast["lon"].values)
        pieces.append(piece.variable.chunk(chunks))
    data = xr.Variable.concat(pieces, dim="init_time") if len(pieces) > 1 else pieces[0]
    return forecast.copy(data=data.data)


def block_chunks(
    fc: xr.DataArray,
    n_members: int,
    memory_gb: float | None,
    lead_chunk: int | None,
    lat_chunk: int | None,
    lon_chunk: int | None,
) -> tuple[int, int | None, int | None]:
    """(lead_chunk, lat_chunk, lon_chunk) of the statistics blocks of ``fc`` ``(init_time, member, lead_time, lat,
    lon)``: the given ``diagnose.chunks.*`` values, the tiles that fit ``memory_gb`` (GiB) where those are null
    (:func:`choose_tiles`), and the store's lead chunk by default."""
    if lead_chunk is None:
        lead_chunk = int(fc.chunks[2][0]) if fc.chunks else int(fc.sizes["lead_time"])
    shape = (fc.sizes["lat"], fc.sizes["lon"])
    lat, lon = choose_tiles(n_members, lead_chunk, shape, memory_gb, lat_chunk, lon_chunk)
    return int(lead_chunk), lat, lon


def block_forecast(store: Source, fc: xr.DataArray, chunks: tuple[int, int | None, int | None]) -> xr.DataArray:
    """The forecast the blocks read: as opened (whole-globe store chunks), or — when a tile is smaller than the
    globe — read from the store tile by tile (:func:`tiled_forecast`; memory flat in the ensemble size)."""
    lead_chunk, lat_chunk, lon_chunk = chunks
    if lat_chunk is None and lon_chunk is None:
        return fc
    dims = {"init_time": 1, "member": -1, "lead_time": lead_chunk, "lat": lat_chunk or -1, "lon": lon_chunk or -1}
    return tiled_forecast(store, fc, dims)
