"""The Dask graph of the per-block statistics: blocks of all members → :class:`BlockStats` → a tree of sums.

The pattern is WeatherBench-X's: map a pure NumPy function over chunks that each hold *all* members of one start
date × a few lead times × a lat/lon tile (:func:`hens.diagnostics.aggregate.block.block_statistics`), reduce every
chunk to small additive sums, and add the sums over chunks in a tree; the scores are made from the totals later
(:func:`hens.diagnostics.aggregate.scores.stats_to_dataset`). Nothing is computed here: the caller computes the
returned graph together with the spectra and maps, so every variable shares one pass over the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

from hens.diagnostics.aggregate.block import BlockOptions, BlockStats, add_stats, block_statistics_with_units

__all__ = ["statistics_graph", "statistics_graphs"]


def _chunk_bounds(chunks: Sequence[int]) -> list[tuple[int, int]]:
    """``[(start, stop), …]`` of consecutive chunks of the given lengths along one axis."""
    edges = np.concatenate([[0], np.cumsum(chunks)]).astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _tree_sum(items: list[Any]) -> Any:
    """Pairwise (log-depth) sum of delayed :class:`BlockStats`, so no task holds more than two inputs."""
    add = dask.delayed(add_stats, pure=True)
    while len(items) > 1:
        paired = [add(items[k], items[k + 1]) for k in range(0, len(items) - 1, 2)]
        if len(items) % 2:
            paired.append(items[-1])
        items = paired
    return items[0]


def _concat_leads(parts: list[BlockStats]) -> BlockStats:
    """Join the summed statistics of consecutive lead chunks along their leading (lead) axis."""
    return {key: np.concatenate([p[key] for p in parts], axis=0) for key in parts[0]}


def _thresholds_for_block(
    clim: np.ndarray | None, month_index: np.ndarray, hour_index: np.ndarray
) -> np.ndarray | None:
    """Pick ``clim[P, month, hour, a, b]`` at each lead's (month, hour) → ``[L, P, a, b]``."""
    if clim is None:
        return None
    return np.moveaxis(clim[:, month_index, hour_index], 1, 0)


def _block_task(
    forecast: np.ndarray,
    obs: np.ndarray,
    clim: np.ndarray | None,
    month_index: np.ndarray,
    hour_index: np.ndarray,
    lat: np.ndarray,
    masks: np.ndarray,
    unit_masks: np.ndarray | None,
    options: BlockOptions,
    seed_key: tuple[int, ...],
) -> tuple[BlockStats, BlockStats]:
    """One Dask task: the block's thresholds from the climatology tile, then its :class:`BlockStats`.

    ``forecast`` is the chunk ``[1, M, L, a, b]`` (one start date), ``obs`` ``[1, L, a, b]``. Returns the region
    sums ``(L, R, …)`` and the spatial units' sums ``(L, R, K, …)`` (K = 1, the block itself, without units).
    """
    thresholds = _thresholds_for_block(clim, month_index, hour_index)
    total, units = block_statistics_with_units(
        forecast[0, :], obs[0], thresholds, lat, masks, unit_masks, options, seed_key=seed_key
    )
    if units is None:
        units = {key: value[:, :, None] for key, value in total.items()}
    return total, units


def _stack_units(per_date: list[BlockStats]) -> BlockStats:
    """Per-date sums ``(L, R, K, …)`` → one leading unit axis ``(I·K, L, R, …)``, unit = date · K + k."""
    out = {}
    for key in per_date[0]:
        stacked = np.moveaxis(np.stack([d[key] for d in per_date]), 3, 1)  # (I, K, L, R, …)
        out[key] = stacked.reshape(stacked.shape[0] * stacked.shape[1], *stacked.shape[2:])
    return out


def statistics_graph(
    forecast: xr.DataArray, obs: xr.DataArray, masks: np.ndarray, options: BlockOptions, **kw: Any
) -> Any:
    """Delayed additive statistics of one variable summed over start dates and tiles (see :func:`statistics_graphs`;
    this is its first output)."""
    return statistics_graphs(forecast, obs, masks, options, **kw)[0]


def statistics_graphs(
    forecast: xr.DataArray,
    obs: xr.DataArray,
    masks: np.ndarray,
    options: BlockOptions,
    *,
    percentile_clim: xr.DataArray | None = None,
    month_index: np.ndarray | None = None,
    hour_index: np.ndarray | None = None,
    lead_chunk: int | None = None,
    lat_chunk: int | None = None,
    lon_chunk: int | None = None,
    seed_key: tuple[int, ...] = (),
    unit_masks: np.ndarray | None = None,
) -> tuple[Any, Any]:
    """Delayed additive statistics of one variable, summed over start dates and grid tiles, and per bootstrap unit.

    The forecast is rechunked so each block holds all members of one start date, ``lead_chunk`` lead times
    and a ``lat_chunk`` × ``lon_chunk`` tile (``None``: the store's lead chunk and the whole globe); each
    block becomes a :class:`~hens.diagnostics.aggregate.block.BlockStats`; blocks of the same lead times are
    added in a tree; the lead blocks are concatenated at the end.

    Args:
        forecast: ``(init_time, member, lead_time, lat, lon)``, Dask-backed.
        obs: ``(init_time, lead_time, lat, lon)``, the truth at the valid times.
        masks: region masks, bool ``[R, nlat, nlon]``.
        options: block settings (M, bins, thresholds).
        percentile_clim: thresholds ``(percentile, month, hour, lat, lon)`` or ``None`` (no event counts).
        month_index, hour_index: ``(init_time, lead_time)`` integer positions of each valid time in
            ``percentile_clim``'s month and hour axes.
        lead_chunk, lat_chunk, lon_chunk: block sizes.
        seed_key: integers mixed into the rank tie-break seed (e.g. the variable's position).
        unit_masks: bool ``[K, nlat, nlon]``, a partition of the globe into K spatial bootstrap units (e.g.
            longitude sectors), or ``None``: the units are the start dates alone.

    Returns:
        ``(totals, units)``, ``dask.delayed`` objects evaluating to :class:`BlockStats`: ``totals`` with leading
        axes ``(lead_time, region)`` — the same tree of sums, in the same order, as without units, so the scores
        do not change — and ``units`` with leading axes ``(unit, lead_time, region)``, one unit per start date
        (× spatial unit, date-major), summed over tiles: the input of the bootstrap
        (:mod:`hens.diagnostics.aggregate.bootstrap`).
    """
    n_init, _, n_lead, n_lat, n_lon = forecast.shape
    fc = forecast.data if isinstance(forecast.data, da.Array) else da.asarray(forecast.data)
    default_lead = fc.chunks[2][0]
    lc = int(lead_chunk or default_lead)
    ac = int(lat_chunk or n_lat)
    oc = int(lon_chunk or n_lon)
    fc = fc.rechunk((1, -1, lc, ac, oc))
    ob = da.asarray(obs.transpose("init_time", "lead_time", "lat", "lon").data).rechunk((1, lc, ac, oc))
    lat = np.asarray(forecast["lat"].values, dtype=np.float64)
    fc_blocks, ob_blocks = fc.to_delayed(), ob.to_delayed()
    cl_blocks = None
    if percentile_clim is not None:
        cl = da.asarray(percentile_clim.transpose("percentile", "month", "hour", "lat", "lon").data)
        cl_blocks = cl.rechunk((-1, -1, -1, ac, oc)).to_delayed()
        if month_index is None or hour_index is None:
            raise ValueError("percentile_clim needs month_index and hour_index")
    task = dask.delayed(_block_task, pure=True, nout=2)
    lead_bounds = _chunk_bounds(fc.chunks[2])
    lat_bounds = _chunk_bounds(fc.chunks[3])
    lon_bounds = _chunk_bounds(fc.chunks[4])
    per_lead = []
    per_lead_units: list[list[Any]] = []  # [lead chunk][date]
    for j, (l0, l1) in enumerate(lead_bounds):
        parts = []
        unit_parts: list[list[Any]] = [[] for _ in range(n_init)]
        for i in range(n_init):
            for a, (a0, a1) in enumerate(lat_bounds):
                for b, (b0, b1) in enumerate(lon_bounds):
                    clim_block = None if cl_blocks is None else cl_blocks[0, 0, 0, a, b]
                    mi = np.zeros(l1 - l0, dtype=np.int64) if month_index is None else month_index[i, l0:l1]
                    hi = np.zeros(l1 - l0, dtype=np.int64) if hour_index is None else hour_index[i, l0:l1]
                    total, units = task(
                        fc_blocks[i, 0, j, a, b],
                        ob_blocks[i, j, a, b],
                        clim_block,
                        mi,
                        hi,
                        lat[a0:a1],
                        masks[:, a0:a1, b0:b1],
                        None if unit_masks is None else unit_masks[:, a0:a1, b0:b1],
                        options,
                        (*seed_key, i, l0, a0, b0),
                    )
                    parts.append(total)
                    unit_parts[i].append(units)
        per_lead.append(_tree_sum(parts))
        per_lead_units.append([_tree_sum(u) for u in unit_parts])
    concat = dask.delayed(_concat_leads, pure=True)
    per_date = [concat([per_lead_units[j][i] for j in range(len(lead_bounds))]) for i in range(n_init)]
    return concat(per_lead), dask.delayed(_stack_units, pure=True)(per_date)
