"""xarray + Dask wrappers: lazy graphs of per-chunk statistics, aggregation, and labelled score datasets.

The pattern is WeatherBench-X's: map a pure NumPy function over chunks that each hold *all* members of one
start date × a few lead times × a lat/lon tile (:func:`hens.diagnostics.blocks.block_statistics`), reduce every
chunk to small additive sums, add the sums over chunks in a tree, and only then turn them into scores
(:func:`stats_to_dataset`). Nothing is computed here until the caller computes the returned graphs, so all
variables, spectra and maps share one pass over the store.

* :func:`statistics_graph` — the additive sums of one variable (a ``dask.delayed`` object).
* :func:`spectra_lazy` — angular power spectra of members, ensemble mean and truth (lazy xarray).
* :func:`maps_lazy` — EFI maps and the best member's error per grid point at chosen lead times (lazy xarray).
* :func:`stats_to_dataset` — turn the summed statistics of all variables into the labelled scores dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

from hens.diagnostics.blocks import POINT_FIELDS, BlockOptions, BlockStats, add_stats, block_statistics
from hens.diagnostics.extremes import (
    ReliabilityCounts,
    RocCounts,
    brier_decomposition,
    expected_outlier_fraction,
    reliability_curve_from_counts,
    roc_curve_from_counts,
)
from hens.diagnostics.mean import spread_skill_ratio

__all__ = [
    "MEAN_METRICS",
    "maps_lazy",
    "spectra_lazy",
    "statistics_graph",
    "stats_to_dataset",
]

#: Metrics of the ``scores(metric, variable, lead_time, region)`` array, in order.
MEAN_METRICS = ("rmse", "bias", "crps", "spread", "ssr", "outlier_fraction", "best_member_mae")


def _chunk_bounds(chunks: Sequence[int]) -> list[tuple[int, int]]:
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
    options: BlockOptions,
    seed_key: tuple[int, ...],
) -> BlockStats:
    thresholds = _thresholds_for_block(clim, month_index, hour_index)
    return block_statistics(forecast[0, :], obs[0], thresholds, lat, masks, options, seed_key=seed_key)


def statistics_graph(
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
) -> Any:
    """Delayed additive statistics of one variable, summed over start dates and grid tiles.

    The forecast is rechunked so each block holds all members of one start date, ``lead_chunk`` lead times
    and a ``lat_chunk`` × ``lon_chunk`` tile (``None``: the store's lead chunk and the whole globe); each
    block becomes a :class:`~hens.diagnostics.blocks.BlockStats`; blocks of the same lead times are added in a
    tree; the lead blocks are concatenated at the end.

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

    Returns:
        A ``dask.delayed`` object evaluating to :class:`BlockStats` with leading axes ``(lead_time, region)``.
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
    task = dask.delayed(_block_task, pure=True)
    lead_bounds = _chunk_bounds(fc.chunks[2])
    lat_bounds = _chunk_bounds(fc.chunks[3])
    lon_bounds = _chunk_bounds(fc.chunks[4])
    per_lead = []
    for j, (l0, l1) in enumerate(lead_bounds):
        parts = []
        for i in range(n_init):
            for a, (a0, a1) in enumerate(lat_bounds):
                for b, (b0, b1) in enumerate(lon_bounds):
                    clim_block = None if cl_blocks is None else cl_blocks[0, 0, 0, a, b]
                    mi = np.zeros(l1 - l0, dtype=np.int64) if month_index is None else month_index[i, l0:l1]
                    hi = np.zeros(l1 - l0, dtype=np.int64) if hour_index is None else hour_index[i, l0:l1]
                    parts.append(
                        task(
                            fc_blocks[i, 0, j, a, b],
                            ob_blocks[i, j, a, b],
                            clim_block,
                            mi,
                            hi,
                            lat[a0:a1],
                            masks[:, a0:a1, b0:b1],
                            options,
                            (*seed_key, i, l0, a0, b0),
                        )
                    )
        per_lead.append(_tree_sum(parts))
    return dask.delayed(_concat_leads, pure=True)(per_lead)


def spectra_lazy(forecast: xr.DataArray, obs: xr.DataArray, *, grid: str = "equiangular") -> xr.DataArray:
    """Angular power spectra by total wavenumber, averaged over start dates (lazy).

    ``members`` is the spectrum of each member averaged over members; ``ensemble_mean`` that of the ensemble
    mean; ``truth`` that of the verification at the same valid times (see
    :func:`hens.diagnostics.spectral.angular_power_spectrum`, units of the field² · sr).

    Args:
        forecast: ``(init_time, member, lead_time, lat, lon)`` with each field's globe in one chunk (the store's
            chunks; members may be split over chunks — the member average is a Dask reduction).
        obs: ``(init_time, lead_time, lat, lon)``.
        grid: the torch-harmonics grid of the latitudes.

    Returns:
        Lazy float64 DataArray ``(spectrum, lead_time, degree)`` with ``spectrum = [members, ensemble_mean,
        truth]``.
    """
    from hens.diagnostics.spectral import angular_power_spectrum, default_lmax

    lat = np.asarray(forecast["lat"].values, dtype=np.float64)
    n_l = default_lmax(forecast.sizes["lat"], forecast.sizes["lon"], grid=grid)

    def power(x: xr.DataArray) -> xr.DataArray:
        x = x.chunk({"lat": -1, "lon": -1})
        return xr.apply_ufunc(
            angular_power_spectrum,
            x,
            input_core_dims=[["lat", "lon"]],
            output_core_dims=[["degree"]],
            dask="parallelized",
            output_dtypes=[np.float64],
            dask_gufunc_kwargs={"output_sizes": {"degree": n_l}},
            kwargs={"lat_deg": lat, "grid": grid, "lmax": n_l},
        ).astype(np.float64)

    members = power(forecast).mean(["init_time", "member"])
    ens_mean = power(forecast.astype(np.float64).mean("member")).mean("init_time")
    truth = power(obs.astype(np.float64)).mean("init_time")
    out = xr.concat([members, ens_mean, truth], dim="spectrum", coords="minimal", compat="override")
    out = out.assign_coords(spectrum=["members", "ensemble_mean", "truth"], degree=np.arange(n_l))
    return out.transpose("spectrum", "lead_time", "degree")


def maps_lazy(
    forecast: xr.DataArray,
    obs: xr.DataArray,
    *,
    map_lead_index: Sequence[int],
    mclimate: xr.DataArray | None = None,
    mclimate_month_index: np.ndarray | None = None,
) -> xr.Dataset:
    """Per-grid-point maps at a few lead times (lazy): EFI and the best member's absolute error.

    Args:
        forecast: ``(init_time, member, lead_time, lat, lon)``.
        obs: ``(init_time, lead_time, lat, lon)``.
        map_lead_index: positions along ``lead_time`` to map.
        mclimate: model-climate quantiles ``(quantile, month, lat, lon)`` with coordinate ``quantile`` (levels in
            [0, 1]), or ``None`` to skip the EFI.
        mclimate_month_index: ``(init_time, lead_time)`` positions of each valid time in ``mclimate``'s month axis.

    Returns:
        Lazy dataset with ``efi(init_time, lead_time, lat, lon)`` (dimensionless, −1 … 1; if ``mclimate`` is
        given) and ``best_member_error(lead_time, lat, lon)`` (mean over start dates, units of the data).
    """
    from hens.diagnostics.extremes import best_member_error, efi

    idx = list(map_lead_index)
    fc = forecast.isel(lead_time=idx).chunk({"member": -1})
    ob = obs.isel(lead_time=idx)
    ob = ob.chunk(dict(zip(ob.dims, [fc.variable.chunksizes[d] for d in ob.dims], strict=True)))
    best = xr.apply_ufunc(
        best_member_error,
        fc,
        ob,
        input_core_dims=[["member"], []],
        dask="parallelized",
        output_dtypes=[np.float64],
        kwargs={"member_axis": -1},
    ).mean("init_time")
    out = xr.Dataset({"best_member_error": best})
    if mclimate is not None:
        if mclimate_month_index is None:
            raise ValueError("mclimate needs mclimate_month_index")
        sel = xr.DataArray(
            np.asarray(mclimate_month_index)[:, idx],
            dims=("init_time", "lead_time"),
            coords={"init_time": fc["init_time"], "lead_time": fc["lead_time"]},
        )
        # lazy (one month and one field tile per chunk), so the quantiles of every (start date, lead) are never
        # materialised at once
        mclim = mclimate.chunk(
            {"quantile": -1, "month": 1, "lat": fc.variable.chunksizes["lat"], "lon": fc.variable.chunksizes["lon"]}
        )
        q = mclim.isel(month=sel).transpose("init_time", "lead_time", "lat", "lon", "quantile")
        q = q.chunk({d: fc.variable.chunksizes[d] for d in ("init_time", "lead_time", "lat", "lon")} | {"quantile": -1})
        levels = np.asarray(mclimate["quantile"].values, dtype=np.float64)
        out["efi"] = xr.apply_ufunc(
            efi,
            q,
            fc,
            input_core_dims=[["quantile"], ["member"]],
            dask="parallelized",
            output_dtypes=[np.float64],
            kwargs={"member_axis": -1, "quantile_axis": -1, "quantile_levels": levels},
        )
    return out


def _finite_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def stats_to_dataset(
    stats: dict[str, BlockStats],
    *,
    n_members: int,
    lead_time: np.ndarray,
    regions: Sequence[str],
    options: BlockOptions,
    percentiles: Sequence[float] = (),
    units: dict[str, str] | None = None,
) -> xr.Dataset:
    """Turn summed :class:`BlockStats` (one per variable) into the labelled scores dataset.

    Returns:
        Dataset with coordinates ``metric``, ``variable``, ``lead_time``, ``region`` (and ``rank``, ``sigma_bin``,
        ``percentile``, ``prob_bin``, ``prob_threshold``) and variables

        * ``scores(metric, variable, lead_time, region)`` — :data:`MEAN_METRICS`: ensemble-mean RMSE and bias
          (x̄ − y), fair CRPS, spread √(mean s²), spread–skill ratio with √((M+1)/M), outlier fraction, best
          member's mean absolute error; cos(lat)-weighted over the region and averaged over start dates;
        * ``rank_histogram(variable, lead_time, region, rank)`` — relative frequency of the truth's rank;
        * ``sigma_histogram(variable, lead_time, region, sigma_bin)`` — relative frequency of (y − x̄)/s;
        * ``brier_score``, ``fair_brier_score``, ``brier_skill_score``, ``base_rate``, ``roc_auc``
          ``(percentile, variable, lead_time, region)``; reliability ``reliability_prob``,
          ``reliability_freq``, ``reliability_count`` ``(…, prob_bin)``; ROC ``roc_pod``, ``roc_pofd``
          ``(…, prob_threshold)`` — for events "value above the climatological percentile".
    """
    variables = list(stats)
    n_var, n_lead, n_reg = len(variables), len(lead_time), len(regions)
    n_pct = len(percentiles)
    scores = np.full((len(MEAN_METRICS), n_var, n_lead, n_reg), np.nan)
    rank = np.zeros((n_var, n_lead, n_reg, n_members + 1))
    n_sig = len(options.sigma_edges) - 1
    sigma = np.zeros((n_var, n_lead, n_reg, n_sig))
    shape_p = (n_pct, n_var, n_lead, n_reg)
    bs, fbs, bss, base, auc = (np.full(shape_p, np.nan) for _ in range(5))
    rel_p, rel_f, rel_n = (np.full(shape_p + (options.n_prob_bins,), np.nan) for _ in range(3))
    pod, pofd = (np.full(shape_p + (len(options.prob_thresholds),), np.nan) for _ in range(2))
    for v, name in enumerate(variables):
        s = stats[name]
        w = s["weight"]
        mean_field = {f: _finite_ratio(s["sums"][..., k], w) for k, f in enumerate(POINT_FIELDS)}
        mse, var = mean_field["squared_error"], mean_field["variance"]
        scores[0, v] = np.sqrt(mse)
        scores[1, v] = mean_field["error"]
        scores[2, v] = mean_field["crps"]
        scores[3, v] = np.sqrt(var)
        scores[4, v] = np.where(w > 0, spread_skill_ratio(var, mse, n_members), np.nan)
        scores[5, v] = mean_field["outlier"]
        scores[6, v] = mean_field["best_member_error"]
        rank[v] = _finite_ratio(s["rank"], s["rank"].sum(axis=-1, keepdims=True))
        sigma[v] = _finite_ratio(s["sigma"], s["sigma"].sum(axis=-1, keepdims=True))
        for p in range(n_pct):
            fbs[p, v] = _finite_ratio(s["fair_brier"][:, :, p], w)
            for lead in range(n_lead):
                for r in range(n_reg):
                    counts = ReliabilityCounts(*s["rel"][lead, r, p])
                    dec = brier_decomposition(counts)
                    bs[p, v, lead, r] = dec.brier_score
                    base[p, v, lead, r] = _finite_ratio(counts.sum_event.sum(), counts.counts.sum())
                    bss[p, v, lead, r] = 1.0 - dec.brier_score / dec.uncertainty if dec.uncertainty > 0 else np.nan
                    curve = reliability_curve_from_counts(counts)
                    rel_p[p, v, lead, r], rel_f[p, v, lead, r], rel_n[p, v, lead, r] = (
                        curve.mean_prob,
                        curve.obs_frequency,
                        curve.counts,
                    )
                    roc = roc_curve_from_counts(RocCounts(np.asarray(options.prob_thresholds), *s["roc"][lead, r, p]))
                    pod[p, v, lead, r], pofd[p, v, lead, r], auc[p, v, lead, r] = roc.pod, roc.pofd, roc.auc

    edges = np.asarray(options.sigma_edges, dtype=np.float64)
    coords: dict[str, Any] = {
        "metric": list(MEAN_METRICS),
        "variable": variables,
        "lead_time": np.asarray(lead_time, dtype="timedelta64[ns]"),
        "region": list(regions),
        "rank": np.arange(n_members + 1),
        "sigma_bin": np.arange(n_sig),
        "sigma_lower": ("sigma_bin", edges[:-1]),
        "sigma_upper": ("sigma_bin", edges[1:]),
        "percentile": np.asarray(percentiles, dtype=np.float64),
        "prob_bin": (np.arange(options.n_prob_bins) + 0.5) / options.n_prob_bins,
        "prob_threshold": np.asarray(options.prob_thresholds, dtype=np.float64),
    }
    if units:
        coords["units"] = ("variable", [units.get(v, "") for v in variables])
    dims_p = ("percentile", "variable", "lead_time", "region")
    ds = xr.Dataset(
        {
            "scores": (
                ("metric", "variable", "lead_time", "region"),
                scores,
                {
                    "long_name": "latitude-weighted ensemble scores, mean over start dates",
                    "comment": "rmse, bias, crps, spread, best_member_mae in the variable's units; ssr and "
                    "outlier_fraction dimensionless",
                },
            ),
            "rank_histogram": (
                ("variable", "lead_time", "region", "rank"),
                rank,
                {"long_name": "relative frequency of the truth's rank among the members", "units": "1"},
            ),
            "sigma_histogram": (
                ("variable", "lead_time", "region", "sigma_bin"),
                sigma,
                {"long_name": "relative frequency of (truth - ensemble mean) / ensemble std", "units": "1"},
            ),
            "brier_score": (dims_p, bs, {"long_name": "Brier score of P(value > percentile)", "units": "1"}),
            "fair_brier_score": (dims_p, fbs, {"long_name": "fair Brier score (Ferro 2014)", "units": "1"}),
            "brier_skill_score": (
                dims_p,
                bss,
                {"long_name": "Brier skill score vs the sample climatology", "units": "1"},
            ),
            "base_rate": (dims_p, base, {"long_name": "observed event frequency", "units": "1"}),
            "roc_auc": (dims_p, auc, {"long_name": "area under the ROC curve", "units": "1"}),
            "reliability_prob": (dims_p + ("prob_bin",), rel_p, {"long_name": "mean forecast probability"}),
            "reliability_freq": (dims_p + ("prob_bin",), rel_f, {"long_name": "observed relative frequency"}),
            "reliability_count": (
                dims_p + ("prob_bin",),
                rel_n,
                {"long_name": "latitude-weighted number of forecasts in the bin"},
            ),
            "roc_pod": (dims_p + ("prob_threshold",), pod, {"long_name": "probability of detection"}),
            "roc_pofd": (dims_p + ("prob_threshold",), pofd, {"long_name": "probability of false detection"}),
        },
        coords=coords,
        attrs={"n_members": int(n_members), "expected_outlier_fraction": expected_outlier_fraction(n_members)},
    )
    return ds
