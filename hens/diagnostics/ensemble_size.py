"""`hens diagnose`'s ensemble-size statistics (``diagnose.ensemble_size``): from the config to the graphs and back.

Orchestration only, so :mod:`hens.diagnostics.run` stays a pipeline: the sizes and seeded draws come from
:mod:`hens.diagnostics.metrics.subsample`, the per-block sums and their Dask graph from
:mod:`hens.diagnostics.aggregate.subsample` (the same blocks as the other statistics, so the store is read once),
the finish step from :mod:`hens.diagnostics.aggregate.subsample_scores`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from hens.config.diagnose import EnsembleSizeSpec
from hens.diagnostics.aggregate.subsample import SubsampleOptions, subsample_graph
from hens.diagnostics.aggregate.subsample_scores import SubsampleSettings, subsample_dataset
from hens.diagnostics.metrics.subsample import member_subsets, subset_sizes

__all__ = ["GRAPH_PREFIX", "add_ensemble_size", "ensemble_size_graph", "ensemble_size_options"]

GRAPH_PREFIX = "ensemble_size/"
"""Key prefix of the per-variable graphs among `hens diagnose`'s graphs."""


def ensemble_size_options(spec: EnsembleSizeSpec, n_members: int, device: str = "cpu") -> SubsampleOptions | None:
    """The sub-ensembles of an M-member ensemble (their CRPS run on ``device``, ``diagnose.device``), or None when
    ``diagnose.ensemble_size.enabled`` is false."""
    if not spec.enabled:
        return None
    sizes = subset_sizes(spec.sizes, n_members)
    return SubsampleOptions(
        n_members=n_members,
        sizes=sizes,
        subsets=member_subsets(n_members, sizes, spec.draws, spec.seed),
        sigma_thresholds=tuple(float(k) for k in spec.sigma_thresholds),
        device=device,
    )


def ensemble_size_graph(
    spec: EnsembleSizeSpec,
    n_members: int,
    forecast: xr.DataArray,
    obs: xr.DataArray,
    masks: np.ndarray,
    chunks: tuple[int, int | None, int | None],
    device: str = "cpu",
) -> dict[str, Any]:
    """``{"ensemble_size/<var>": delayed sums}`` of one variable (empty when off); ``forecast`` and ``chunks`` as
    given to the other statistics, so the blocks are shared."""
    options = ensemble_size_options(spec, n_members, device)
    if options is None:
        return {}
    graph = subsample_graph(
        forecast, obs, masks, options, lead_chunk=chunks[0], lat_chunk=chunks[1], lon_chunk=chunks[2]
    )
    return {f"{GRAPH_PREFIX}{forecast.name}": graph}


def add_ensemble_size(
    scores: xr.Dataset,
    results: dict[str, Any],
    spec: EnsembleSizeSpec,
    n_members: int,
    regions: Sequence[str],
) -> xr.Dataset:
    """``scores`` with the ensemble-size variables of the computed ``results`` merged in (unchanged when off)."""
    options = ensemble_size_options(spec, n_members)
    variables = [str(v) for v in scores["variable"].values]
    if options is None:
        return scores
    extra = subsample_dataset(
        {v: results[f"{GRAPH_PREFIX}{v}"] for v in variables},
        lead_time=scores["lead_time"].values,
        regions=regions,
        options=options,
        settings=SubsampleSettings(spec.seed, spec.crps_tolerance, spec.criterion),
    )
    merged = xr.merge([scores, extra], compat="override", join="exact", combine_attrs="override")
    merged.attrs = {**scores.attrs, **extra.attrs}
    return merged
