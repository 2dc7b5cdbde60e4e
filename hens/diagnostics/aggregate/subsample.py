"""Per-block sums of the ensemble-size statistics (HENS Part II) and their Dask graph.

WeatherBench-X style, like :mod:`hens.diagnostics.aggregate.block`: each block (all M members of one start date ×
a few lead times × a lat/lon tile) is reduced, for every sub-ensemble of :func:`hens.diagnostics.metrics.subsample.
member_subsets` (S sizes × D draws), to small additive sums, which are added over start dates and tiles in a tree.
The graph uses exactly the blocks of :func:`hens.diagnostics.aggregate.graph.statistics_graphs` (same rechunking,
hence the same Dask keys), so when both are computed together the store is read once.

Arrays of :data:`SubsampleStats` (w = cos φ × region mask × valid point, n = region mask × valid point):

================== ========================= ===================================================================
key                shape                     meaning
================== ========================= ===================================================================
``weight``         (L, R)                    Σ w
``cases``          (L, R)                    Σ n (the number of valid points)
``crps``           (L, R, S, D)              Σ w · fair CRPS of the sub-ensemble
``ecdf_crps``      (L, R, S, D)              Σ w · empirical-CDF CRPS of the sub-ensemble
``variance``       (L, R, S, D)              Σ w · its unbiased variance s²
``squared_error``  (L, R, S, D)              Σ w · (x̄ − y)² of its mean
``outlier``        (L, R, S, D)              Σ w · 1{y outside its [min, max]}
``sigma_count``    (L, R, S, D, K)           Σ n · 1{|y − x̄| > k s}  (unweighted counts of kσ events)
``beyond``         (L, R, S, D, K)           Σ n · 1{|y − x̄| > k s} · fraction of members beyond the truth
================== ========================= ===================================================================

A valid point has a finite truth and every one of the M members finite (as for the full-ensemble scores), so the
size-M sub-ensemble reproduces the ``scores`` of the full ensemble exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

from hens.diagnostics.metrics.ensemble import ensemble_variance
from hens.diagnostics.metrics.extremes import outlier_fraction
from hens.diagnostics.metrics.subsample import fraction_beyond_truth, sigma_exceedance
from hens.diagnostics.weights import latitude_weights

__all__ = ["WEIGHTED_SUMS", "SubsampleOptions", "SubsampleStats", "subsample_block_statistics", "subsample_graph"]

SubsampleStats = dict[str, np.ndarray]

#: The latitude-weighted sums per sub-ensemble, in the order they are computed.
WEIGHTED_SUMS = ("crps", "ecdf_crps", "variance", "squared_error", "outlier")


@dataclass(frozen=True)
class SubsampleOptions:
    """The sub-ensembles every block scores.

    Attributes:
        n_members: M, the members of every block.
        sizes: the sub-ensemble sizes, increasing, the last being M.
        subsets: member positions ``[S, D, max size]`` (:func:`~hens.diagnostics.metrics.subsample.member_subsets`).
        sigma_thresholds: the k of the kσ-event counts, e.g. ``(3.0, 4.0)``.
        device: where the sub-ensembles' fair and ecdf CRPS run, ``cpu`` | ``cuda`` (``diagnose.device``; torch,
            equal to the NumPy functions to rounding).
    """

    n_members: int
    sizes: tuple[int, ...]
    subsets: np.ndarray
    sigma_thresholds: tuple[float, ...]
    device: str = "cpu"

    @property
    def draws(self) -> int:
        """D, the draws per size."""
        return int(self.subsets.shape[1])


def _zeros(n_lead: int, n_reg: int, options: SubsampleOptions) -> SubsampleStats:
    shape = (n_lead, n_reg)
    sub = shape + (len(options.sizes), options.draws)
    out = {"weight": np.zeros(shape), "cases": np.zeros(shape)}
    out.update({name: np.zeros(sub) for name in WEIGHTED_SUMS})
    out["sigma_count"] = np.zeros(sub + (len(options.sigma_thresholds),))
    out["beyond"] = np.zeros(sub + (len(options.sigma_thresholds),))
    return out


def _subset_sums(
    members: np.ndarray,
    obs: np.ndarray,
    valid: np.ndarray,
    weights: np.ndarray,
    counts: np.ndarray,
    sigmas: tuple,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One sub-ensemble ``[s, a, b]`` at one lead: weighted sums ``[R, 5]``, kσ counts and beyond sums ``[R, K]``."""
    from hens.diagnostics.metrics.crps_torch import crps_pair_torch  # torch only where the sums run

    mean = np.mean(members, axis=0, dtype=np.float64)
    fair, ecdf = crps_pair_torch(members, obs, member_axis=0, device=device)
    fields = np.stack(
        [
            fair,
            ecdf,
            ensemble_variance(members, member_axis=0),
            (mean - obs) ** 2,
            outlier_fraction(members, obs, member_axis=0),
        ]
    )
    fields = np.where(valid[None], fields, 0.0)
    exceed = sigma_exceedance(members, obs, sigmas, member_axis=0) & valid[None]
    beyond = np.where(exceed, fraction_beyond_truth(members, obs, member_axis=0)[None], 0.0)
    return (
        np.einsum("fab,rab->rf", fields, weights),
        np.einsum("kab,rab->rk", exceed.astype(np.float64), counts),
        np.einsum("kab,rab->rk", beyond, counts),
    )


def subsample_block_statistics(
    forecast: np.ndarray, obs: np.ndarray, lat: np.ndarray, masks: np.ndarray, options: SubsampleOptions
) -> SubsampleStats:
    """The ensemble-size sums of one block (see the module docstring for the keys).

    Args:
        forecast: members ``[M, L, nlat_b, nlon_b]`` (any float dtype; NaN marks missing values).
        obs: truth ``[L, nlat_b, nlon_b]``.
        lat: latitudes of the block, degrees ``(nlat_b,)``.
        masks: region masks of the block, bool ``[R, nlat_b, nlon_b]``.
        options: the sub-ensembles.

    Returns:
        float64 arrays with leading axes ``(L, R)``. The size-M sub-ensemble is computed once and copied to
        every draw (its draws are identical).
    """
    m, n_lead = forecast.shape[0], forecast.shape[1]
    if m != options.n_members:
        raise ValueError(f"block has {m} members, expected {options.n_members}")
    out = _zeros(n_lead, masks.shape[0], options)
    region_n = masks.astype(np.float64)
    region_w = region_n * latitude_weights(lat, normalize=False)[None, :, None]
    for lead in range(n_lead):
        fc = forecast[:, lead]
        y = np.asarray(obs[lead], dtype=np.float64)
        valid = np.isfinite(y) & np.all(np.isfinite(fc), axis=0)
        weights, counts = region_w * valid[None], region_n * valid[None]
        out["weight"][lead] = weights.sum(axis=(1, 2))
        out["cases"][lead] = counts.sum(axis=(1, 2))
        if not valid.any():
            continue
        for k, size in enumerate(options.sizes):
            for d in range(1 if size == m else options.draws):
                members = fc[options.subsets[k, d, :size]]
                sums, sigma, beyond = _subset_sums(
                    members, y, valid, weights, counts, options.sigma_thresholds, options.device
                )
                draws = slice(None) if size == m else d
                for f, name in enumerate(WEIGHTED_SUMS):
                    out[name][lead, :, k, draws] = sums[:, f, None] if size == m else sums[:, f]
                out["sigma_count"][lead, :, k, draws] = sigma[:, None] if size == m else sigma
                out["beyond"][lead, :, k, draws] = beyond[:, None] if size == m else beyond
    return out


def _add(a: SubsampleStats, b: SubsampleStats) -> SubsampleStats:
    return {key: a[key] + b[key] for key in a}


def _concat_leads(parts: list[SubsampleStats]) -> SubsampleStats:
    return {key: np.concatenate([p[key] for p in parts], axis=0) for key in parts[0]}


def _tree(items: list[Any]) -> Any:
    """Pairwise (log-depth) sum of delayed sums."""
    add = dask.delayed(_add, pure=True)
    while len(items) > 1:
        paired = [add(items[k], items[k + 1]) for k in range(0, len(items) - 1, 2)]
        items = paired + ([items[-1]] if len(items) % 2 else [])
    return items[0]


def _bounds(chunks: tuple[int, ...]) -> list[tuple[int, int]]:
    edges = np.concatenate([[0], np.cumsum(chunks)]).astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _block_task(
    forecast: np.ndarray, obs: np.ndarray, lat: np.ndarray, masks: np.ndarray, options: SubsampleOptions
) -> SubsampleStats:
    """One Dask task: the chunk ``[1, M, L, a, b]`` of one start date and its truth ``[1, L, a, b]``."""
    return subsample_block_statistics(forecast[0], obs[0], lat, masks, options)


def subsample_graph(
    forecast: xr.DataArray,
    obs: xr.DataArray,
    masks: np.ndarray,
    options: SubsampleOptions,
    *,
    lead_chunk: int | None = None,
    lat_chunk: int | None = None,
    lon_chunk: int | None = None,
) -> Any:
    """Delayed ensemble-size sums of one variable, summed over start dates and tiles (leading axes ``(L, R)``).

    Args:
        forecast: ``(init_time, member, lead_time, lat, lon)``, Dask-backed — the same array (and chunk sizes)
            given to :func:`~hens.diagnostics.aggregate.graph.statistics_graphs`, so the blocks are shared.
        obs: ``(init_time, lead_time, lat, lon)``, the truth at the valid times.
        masks: region masks, bool ``[R, nlat, nlon]``.
        options: the sub-ensembles.
        lead_chunk, lat_chunk, lon_chunk: block sizes (None: the forecast's lead chunk, the whole globe).
    """
    n_init, _, _, n_lat, n_lon = forecast.shape
    fc = forecast.data if isinstance(forecast.data, da.Array) else da.asarray(forecast.data)
    lc, ac, oc = int(lead_chunk or fc.chunks[2][0]), int(lat_chunk or n_lat), int(lon_chunk or n_lon)
    fc = fc.rechunk((1, -1, lc, ac, oc))
    ob = da.asarray(obs.transpose("init_time", "lead_time", "lat", "lon").data).rechunk((1, lc, ac, oc))
    lat = np.asarray(forecast["lat"].values, dtype=np.float64)
    fc_blocks, ob_blocks = fc.to_delayed(), ob.to_delayed()
    task = dask.delayed(_block_task, pure=True)
    lat_bounds, lon_bounds = _bounds(fc.chunks[3]), _bounds(fc.chunks[4])
    per_lead = []
    for j in range(len(fc.chunks[2])):
        parts = [
            task(fc_blocks[i, 0, j, a, b], ob_blocks[i, j, a, b], lat[a0:a1], masks[:, a0:a1, b0:b1], options)
            for i in range(n_init)
            for a, (a0, a1) in enumerate(lat_bounds)
            for b, (b0, b1) in enumerate(lon_bounds)
        ]
        per_lead.append(_tree(parts))
    return dask.delayed(_concat_leads, pure=True)(per_lead)
