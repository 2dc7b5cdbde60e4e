"""`hens diagnose`: from an ensemble store (or several, one set of start dates) to a scores dataset, plots, a report.

:func:`run_diagnose` is the whole pipeline — compose and validate the ``diagnose`` config, open the store and
its verification (found from the store's own metadata for demo-world runs), drop non-finite members, build one
lazy Dask graph for every variable (per-chunk statistics, spectra, maps), compute it, and write
``scores.zarr`` (or ``scores.nc``), ``plots/*.png``, ``report.md`` and ``report.html`` into the output folder.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from hens.config import DiagnoseSpec, compose_config, diagnose_spec
from hens.diagnostics.aggregate.block import BlockOptions, prob_thresholds
from hens.diagnostics.aggregate.fields import maps_lazy, spectra_lazy, spectral_member_subset
from hens.diagnostics.aggregate.graph import statistics_graphs
from hens.diagnostics.aggregate.intervals import BootstrapSettings, add_difference_interval, add_intervals, unit_masks
from hens.diagnostics.aggregate.scores import add_maps, stats_to_dataset
from hens.diagnostics.aggregate.spectra_intervals import add_spectra
from hens.diagnostics.aggregate.tiles import block_chunks, block_forecast
from hens.diagnostics.cluster import compute_in_phases, dask_computer
from hens.diagnostics.ensemble_size import add_ensemble_size, ensemble_size_graph
from hens.diagnostics.extremes_run import add_daily, daily_graphs, daily_setup, describe_climatology
from hens.diagnostics.memory import bounded_memory
from hens.diagnostics.metrics.device import kernel_device
from hens.diagnostics.verification.climatology import (
    demo_climatology,
    load_climatology,
    month_hour_index,
    percentile_name,
    quantile_name,
    shipped_demo_climatology,
    shipped_matches,
)
from hens.diagnostics.verification.derived_fields import add_derived, forecast_blocks, plan_derived, scored_variables
from hens.diagnostics.verification.multi_store import (
    StoreSet,
    expand_stores,
    multi_output_dir,
    open_baseline,
    open_stores,
)
from hens.diagnostics.verification.store import (
    EnsembleData,
    exclude_nonfinite_members,
    forecast_variables,
    select,
    valid_times,
)
from hens.diagnostics.verification.truth import align_verification, demo_world_info, open_verification
from hens.diagnostics.weights import region_mask
from hens.errors import HensError
from hens.io.safe_write import check_owned_folder

__all__ = ["DiagnoseResult", "default_output_dir", "diagnose", "run_diagnose"]


@dataclass(frozen=True)
class DiagnoseResult:
    """What `hens diagnose` did and wrote.

    Attributes:
        output_dir: the folder of all outputs.
        scores: the scores dataset (``scores.zarr`` or ``scores.nc``).
        report: ``report.md``; ``html``: ``report.html``.
        plots: the PNG files.
        variables: the channels diagnosed; ``n_init_times``, ``n_lead_times``, ``n_members`` (M per start date
            after exclusions), ``n_excluded`` (member-dates left out).
        verdicts: one line each on calibration, physical realism and extremes.
        seconds: wall time of the whole run; ``compute_seconds``: of the Dask graph alone.
    """

    output_dir: Path
    scores: Path
    report: Path
    html: Path
    plots: tuple[Path, ...]
    variables: tuple[str, ...]
    n_init_times: int
    n_lead_times: int
    n_members: int
    n_excluded: int
    verdicts: tuple[str, ...]
    seconds: float
    compute_seconds: float
    excluded_by_reason: dict[str, int] = field(default_factory=dict)
    n_stores: int = 1

    def summary(self) -> str:
        """Lines for the command line: what was diagnosed, the verdicts, and where the report is."""
        excluded = "".join(
            f", {n} member-date(s) excluded: {why}" for why, n in sorted(self.excluded_by_reason.items())
        )
        lines = [
            f"hens diagnose: {self.n_init_times} start date(s)"
            + (f" from {self.n_stores} stores" if self.n_stores > 1 else "")
            + f" × {self.n_members} members, "
            f"{len(self.variables)} variable(s) ({', '.join(self.variables)}), {self.n_lead_times} lead times "
            f"in {self.seconds:.1f} s{excluded}",
            *[f"  {v}" for v in self.verdicts],
            f"  report: {self.report}",
            f"  scores: {self.scores}",
        ]
        return "\n".join(lines)


def default_output_dir(store: Path) -> Path:
    """``<store's folder>/<store name without .zarr>.diagnostics``."""
    name = store.name[: -len(".zarr")] if store.name.endswith(".zarr") and len(store.name) > 5 else store.name
    return store.parent / f"{name}.diagnostics"


def run_diagnose(
    store: Path | str | Sequence[Path | str], spec: DiagnoseSpec | list[str] | None = None
) -> DiagnoseResult:
    """Diagnose an ensemble store — or several stores as one set of start dates — with a ``diagnose`` config.

    Args:
        store: the store written by `hens generate`, or several stores and glob patterns (e.g. the one-date
            stores of a SLURM job array), scored as one ensemble of start dates
            (:mod:`hens.diagnostics.verification.multi_store`).
        spec: the validated config (`hens diagnose` composes and validates it, like every command); for tests and
            scripts, a list of Hydra overrides (or None for the defaults) is composed and validated here the same
            way.

    Raises:
        HensError: (including ConfigError, StoreError) with a one-line message naming the key and the fix.
    """
    if not isinstance(spec, DiagnoseSpec):
        spec = diagnose_spec(compose_config("diagnose", list(spec or [])))
    return diagnose([store] if isinstance(store, str | Path) else list(store), spec)


def _regions(spec: DiagnoseSpec, lat: np.ndarray, lon: np.ndarray) -> tuple[list[str], np.ndarray]:
    names, masks = [], []
    for name, region in spec.regions:
        mask = region_mask(lat, lon, region)
        if not mask.any():
            key = f"diagnose.boxes.{name}" if isinstance(region, tuple) else "diagnose.regions"
            raise HensError(f"{key}: region {name!r} contains no grid point of the store; widen it")
        names.append(name)
        masks.append(mask)
    return names, np.stack(masks)


def _check_spectral_grid(spec: DiagnoseSpec, lat: np.ndarray, lon: np.ndarray) -> None:
    from hens.diagnostics.metrics.spectra import grid_latitudes

    expected = grid_latitudes(lat.size, grid=spec.grid)
    if lat.size < 3 or not (np.allclose(lat, expected, atol=1e-3) or np.allclose(lat, expected[::-1], atol=1e-3)):
        raise HensError(
            f"the store's {lat.size} latitudes are not the global {spec.grid} grid the spectra need; set "
            "diagnose.spectral.grid to the store's grid (equiangular, legendre-gauss, lobatto) or "
            "diagnose.spectral.enabled=false"
        )
    steps = np.diff(np.concatenate([lon, [lon[0] + 360.0]]))
    if not np.allclose(steps, 360.0 / lon.size, atol=1e-6):
        raise HensError(
            "the store's longitudes are not equally spaced around the globe; set diagnose.spectral.enabled=false"
        )


def _map_lead_index(spec: DiagnoseSpec, hours: np.ndarray) -> list[int]:
    if spec.extremes.map_lead_hours is None:
        wanted = [120.0, float(hours[-1])]
    else:
        wanted = list(spec.extremes.map_lead_hours)
    index = []
    for h in wanted:
        hit = np.flatnonzero(np.isclose(hours, h, atol=1e-6))
        if hit.size == 0 and spec.extremes.map_lead_hours is not None:
            raise HensError(
                f"diagnose.extremes.map_lead_times: {h:g} h is not among the diagnosed lead times "
                f"({hours[0]:g} … {hours[-1]:g} h); choose one of those"
            )
        index.append(int(hit[0]) if hit.size else int(np.argmin(np.abs(hours - h))))
    return sorted(set(index))


def _select_percentiles(clim: xr.Dataset, wanted: tuple[float, ...], what: str) -> xr.Dataset:
    have = np.asarray(clim["percentile"].values, dtype=np.float64)
    missing = [p for p in wanted if not np.isclose(have, p).any()]
    if missing:
        raise HensError(
            f"{what} has percentiles {[float(h) for h in have]} but diagnose.extremes.percentiles asks for "
            f"{missing}; choose among those"
            + (" or set diagnose.climatology.source=truth" if "shipped" in what else "")
        )
    keep = [int(np.flatnonzero(np.isclose(have, p))[0]) for p in wanted]
    return clim.isel(percentile=keep)


def _climatology(
    spec: DiagnoseSpec, attrs: dict[str, Any], variables: list[str], lat: np.ndarray, lon: np.ndarray
) -> xr.Dataset:
    """The climatology: ``diagnose.climatology.path``, else the shipped demo one, else a demo truth-run build."""
    c = spec.climatology
    if c.path is not None:
        clim = load_climatology(c.path, variables, lat, lon)
        return _select_percentiles(clim, spec.extremes.percentiles, "diagnose.climatology.path")
    info = demo_world_info(attrs)
    if info is None:
        raise HensError(
            "the store was not made from the demo world, so its climatology is unknown; set "
            "diagnose.climatology.path=<Zarr of percentiles and quantiles> or diagnose.extremes.enabled=false"
        )
    world = info.get("demo_world") or {}
    use_shipped = c.source == "shipped" or (c.source == "auto" and shipped_matches(world))
    if c.source == "shipped" and not shipped_matches(world):
        raise HensError(
            "diagnose.climatology.source=shipped: the store's demo world has other physics than the shipped "
            "climatology's; use diagnose.climatology.source=truth (or auto)"
        )
    if use_shipped:
        clim = _select_percentiles(
            shipped_demo_climatology(), spec.extremes.percentiles, "the shipped demo climatology"
        )
    else:
        clim = demo_climatology(
            world,
            start=c.start,
            days=c.days,
            percentiles=spec.extremes.percentiles,
            quantile_levels=np.linspace(0.0, 1.0, c.n_quantiles),
            by_month=c.by_month,
            by_hour=c.by_hour,
            pool_longitude=c.pool_longitude,
            fingerprint=info.get("fingerprint"),
        )
    missing = [v for v in variables if percentile_name(v) not in clim or quantile_name(v) not in clim]
    if missing:
        raise HensError(f"the demo climatology lacks {', '.join(missing)}; set diagnose.climatology.source=truth")
    if not (np.allclose(clim["lat"].values, lat, atol=1e-4) and np.allclose(clim["lon"].values, lon, atol=1e-4)):
        raise HensError(
            "the demo-world climatology is on another grid than the store; set diagnose.climatology.source=truth"
        )
    return clim


@dataclass(frozen=True)
class _Scored:
    """One store's scores and what the report needs to say about them."""

    scores: xr.Dataset
    variables: list[str]
    n_init_times: int
    n_lead_times: int
    n_members: int
    n_excluded: int
    excluded_by_reason: dict[str, int]
    compute_seconds: float
    init_times: np.ndarray
    lead_hours: np.ndarray
    attrs: dict[str, Any]


@dataclass(frozen=True)
class _Inputs:
    """A store's selected forecast, its verification at the valid times, and the grid's regions.

    Attributes:
        ens: the forecast ``(init_time, member, lead_time, lat, lon)`` after excluding bad members.
        obs: the verification ``(init_time, lead_time, lat, lon)`` per variable.
        variables: the diagnosed variables; ``lat``, ``lon``: the grid (degrees); ``hours``: lead times (h);
            ``valid``: valid times ``(init_time, lead_time)``.
        region_names, masks: the configured regions and their masks ``[R, nlat, nlon]``.
        derived: the derived channels computed from the store (name → input channels).
    """

    ens: EnsembleData
    obs: xr.Dataset
    variables: list[str]
    lat: np.ndarray
    lon: np.ndarray
    hours: np.ndarray
    valid: np.ndarray
    region_names: list[str]
    masks: np.ndarray
    derived: dict[str, list[str]]


def _inputs(raw: xr.Dataset, attrs: dict[str, Any], spec: DiagnoseSpec, like: _Scored | None) -> _Inputs:
    """Select the store (as configured, or as ``like``), drop bad members, read and align the verification; derived
    channels (``diagnose.derived``) are added lazily to both (:mod:`~hens.diagnostics.verification.derived_fields`)."""
    stored = forecast_variables(raw)
    wanted = like.variables if like else scored_variables(stored, spec.variables, spec.derived_channels)
    plan = plan_derived(wanted, stored, {v: raw[v].attrs for v in stored})
    hours, dates = (like.lead_hours, like.init_times) if like else (spec.lead_hours, spec.start_dates)
    ens = exclude_nonfinite_members(select(raw, variables=plan.read, lead_hours=hours, start_dates=dates))
    ens = replace(ens, forecast=add_derived(ens.forecast, plan.compute))
    fc = ens.forecast
    lat = np.asarray(fc["lat"].values, dtype=np.float64)
    lon = np.asarray(fc["lon"].values, dtype=np.float64)
    hours = fc["lead_time"].values.astype("timedelta64[s]").astype(np.int64) / 3600.0
    valid = valid_times(fc).values
    truth = open_verification(
        attrs, valid, path=spec.verification_path, variables=plan.verification_channels,
        layout=spec.verification_layout,
    )  # fmt: skip
    obs = add_derived(align_verification(truth, fc), plan.verification)
    region_names, masks = _regions(spec, lat, lon)
    if spec.spectral:
        _check_spectral_grid(spec, lat, lon)
    return _Inputs(ens, obs, plan.scored, lat, lon, hours, valid, region_names, masks, plan.compute)


def _block_options(spec: DiagnoseSpec, n_members: int) -> BlockOptions:
    """The settings every block of an M-member ensemble shares, from the config."""
    return BlockOptions(
        n_members=n_members,
        sigma_edges=spec.extremes.sigma_edges,
        n_prob_bins=spec.extremes.reliability_bins,
        prob_thresholds=prob_thresholds(spec.extremes.roc_thresholds, n_members),
        tie_break=spec.tie_break,
        seed=spec.seed,
        device=kernel_device(spec.device),
    )


def _bootstrap(spec: DiagnoseSpec) -> BootstrapSettings:
    """The bootstrap settings of ``diagnose.bootstrap``."""
    b = spec.bootstrap
    return BootstrapSettings(b.n_resamples, b.confidence, b.seed, b.min_start_dates, b.longitude_blocks)


def _graphs(
    inputs: _Inputs, spec: DiagnoseSpec, options: BlockOptions, clim: xr.Dataset | None, store: Any
) -> dict[str, Any]:
    """One lazy graph per product and variable: ``stats/<var>``, ``spectra/<var>`` (if on), ``maps/<var>``."""
    fc, obs = inputs.ens.forecast, inputs.obs
    month_i = hour_i = None
    if clim is not None:
        month_i, hour_i = month_hour_index(clim, inputs.valid)
    map_index = _map_lead_index(spec, inputs.hours)
    units, _ = unit_masks(fc.sizes["init_time"], inputs.lat, inputs.lon, _bootstrap(spec))
    subset = spectral_member_subset(inputs.ens.n_members, spec.spectral_max_members, spec.seed)
    spectral = {"grid": spec.grid, "member_subset": subset, "device": options.device}
    graphs: dict[str, Any] = {}
    for v_i, var in enumerate(inputs.variables):
        pct = None
        if clim is not None and spec.extremes.percentiles:
            pct = clim[percentile_name(var)]
        chunks = block_chunks(
            fc[var], inputs.ens.n_members, spec.memory_gb, spec.lead_chunk, spec.lat_chunk, spec.lon_chunk
        )
        blocks = forecast_blocks(var, inputs.derived, lambda c, k=chunks: block_forecast(store, fc[c], k))
        graphs[f"stats/{var}"], graphs[f"units/{var}"] = statistics_graphs(
            blocks,
            obs[var],
            inputs.masks,
            options,
            percentile_clim=pct,
            month_index=month_i,
            hour_index=hour_i,
            lead_chunk=chunks[0],
            lat_chunk=chunks[1],
            lon_chunk=chunks[2],
            seed_key=(v_i,),
            unit_masks=units,
        )
        graphs |= ensemble_size_graph(
            spec.ensemble_size, inputs.ens.n_members, blocks, obs[var], inputs.masks, chunks, options.device
        )
        if spec.spectral:
            graphs[f"spectra/{var}"] = spectra_lazy(fc[var], obs[var], **spectral)
        graphs[f"maps/{var}"] = maps_lazy(
            blocks,
            obs[var],
            map_lead_index=map_index,
            mclimate=None if clim is None else clim[quantile_name(var)],
            mclimate_month_index=month_i,
        )
    return graphs


def _scores_dataset(
    inputs: _Inputs, spec: DiagnoseSpec, options: BlockOptions, clim: xr.Dataset | None, results: dict[str, Any]
) -> xr.Dataset:
    """The scores dataset of the computed graphs: statistics finished into scores, then spectra and maps."""
    fc, variables = inputs.ens.forecast, inputs.variables
    scores = stats_to_dataset(
        {v: results[f"stats/{v}"] for v in variables},
        n_members=inputs.ens.n_members,
        lead_time=fc["lead_time"].values,
        regions=inputs.region_names,
        options=options,
        percentiles=spec.extremes.percentiles if clim is not None else (),
        units={v: str(fc[v].attrs.get("units", "")) for v in variables},
    )
    settings = _bootstrap(spec)
    _, label = unit_masks(fc.sizes["init_time"], inputs.lat, inputs.lon, settings)
    scores = add_intervals(
        scores,
        {v: results[f"units/{v}"] for v in variables},
        masks=inputs.masks,
        n_init=fc.sizes["init_time"],
        settings=settings,
        unit_label=label,
        init_times=fc["init_time"].values,
    )
    scores = add_ensemble_size(scores, results, spec.ensemble_size, inputs.ens.n_members, inputs.region_names)
    scores = add_maps(
        scores, variables, maps={v: results[f"maps/{v}"] for v in variables}, lat=inputs.lat, lon=inputs.lon
    )
    if spec.spectral:
        scores = add_spectra(scores, {v: results[f"spectra/{v}"] for v in variables}, variables, settings)
    return scores


def _score_store(
    stores: StoreSet,
    spec: DiagnoseSpec,
    *,
    verification_attrs: dict[str, Any] | None = None,
    like: _Scored | None = None,
) -> _Scored:
    """Select from the opened ``stores`` and compute their scores dataset (one Dask graph for all variables).

    ``verification_attrs``: the attributes that name the verification and climatology (a baseline store is
    scored against its main store's); ``None`` uses the store's own.  ``like``: select the same variables,
    start dates and lead times as that (main) store's scores.
    """
    raw = stores.dataset
    attrs = dict(raw.attrs) if verification_attrs is None else verification_attrs
    inputs = _inputs(raw, attrs, spec, like)
    clim = _climatology(spec, attrs, inputs.variables, inputs.lat, inputs.lon) if spec.extremes.enabled else None
    options = _block_options(spec, inputs.ens.n_members)
    graphs = _graphs(inputs, spec, options, clim, stores.source)
    fc = inputs.ens.forecast
    daily = daily_setup(spec, inputs.variables, inputs.lat, inputs.lon, fc["init_time"].values, inputs.hours)
    if daily is not None:
        graphs |= daily_graphs(daily, spec, fc[inputs.variables], stores.source, inputs.ens.n_members)

    t_compute = time.perf_counter()
    with bounded_memory(spec.memory_gb), dask_computer(spec.dask, progress=spec.progress) as compute:
        results = compute_in_phases(compute, graphs, ("spectra/",) if spec.memory_gb is not None else ())
    compute_seconds = time.perf_counter() - t_compute

    scores = _scores_dataset(inputs, spec, options, clim, results)
    if daily is not None:
        scores = add_daily(scores, inputs.variables, results, daily)
    scores.attrs.update(_provenance(stores, attrs, inputs.ens, spec))
    subset = spectral_member_subset(inputs.ens.n_members, spec.spectral_max_members, spec.seed)
    if spec.spectral and subset is not None:  # recorded only when a subset was taken (all members otherwise)
        scores.attrs["spectra_members"] = [int(m) for m in inputs.ens.forecast["member"].values[subset]]
        scores.attrs["spectra_max_members"] = int(spec.spectral_max_members)
    if clim is not None:
        scores.attrs["climatology"] = describe_climatology(clim)
    return _Scored(
        scores=scores,
        variables=inputs.variables,
        n_init_times=fc.sizes["init_time"],
        n_lead_times=fc.sizes["lead_time"],
        n_members=inputs.ens.n_members,
        n_excluded=inputs.ens.n_excluded,
        excluded_by_reason=inputs.ens.count_by_reason(),
        compute_seconds=compute_seconds,
        init_times=fc["init_time"].values,
        lead_hours=inputs.hours,
        attrs=attrs,
    )


def diagnose(store: Path | Sequence[Path | str], spec: DiagnoseSpec) -> DiagnoseResult:
    """Run the diagnostics of a store, or of several stores (paths or glob patterns) as one set of start dates,
    for a validated :class:`DiagnoseSpec` (see :func:`run_diagnose`).

    With ``diagnose.baseline.path`` a second store (or pattern) is scored the same way against the same
    verification and climatology, written to ``<output>/baseline/scores.*``, compared side by side in the plots
    and report, and the paired-bootstrap interval of main − baseline is added to the scores.
    """
    from hens.diagnostics.report.compare import comparison_rows, comparison_verdict, plot_comparison
    from hens.diagnostics.report.document import write_report
    from hens.diagnostics.report.plots import make_plots
    from hens.diagnostics.report.verdicts import verdicts

    t_start = time.perf_counter()
    paths = expand_stores([store] if isinstance(store, str | Path) else list(store))
    default = default_output_dir(paths[0]) if len(paths) == 1 else multi_output_dir(paths)
    out_dir = Path(spec.output_dir) if spec.output_dir else default
    check_owned_folder(
        out_dir, OUTPUT_MARK, spec.overwrite, "diagnose.output_dir", "diagnose.overwrite=true", "hens diagnose"
    )
    stores = open_stores(paths, spec.verify, spec.allow_incomplete)
    baseline = None
    if spec.baseline_path is not None:
        baseline = open_baseline(stores, spec.baseline_path, spec.variables, spec.verify, spec.allow_incomplete)
    main = _score_store(stores, spec)
    base = None
    if baseline is not None:
        base = _score_store(baseline, spec, verification_attrs=main.attrs, like=main)
        base.scores.attrs["label"] = spec.baseline_label
        main = replace(main, scores=add_difference_interval(main.scores, base.scores, spec.baseline_label))
    scores = main.scores

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / OUTPUT_MARK).touch()
    scores_path = _write_scores(scores, out_dir, spec.format)
    plots = make_plots(scores, out_dir / "plots", spec.plot_variables)
    lines = verdicts(scores)
    comparison = None
    if base is not None:
        (out_dir / "baseline").mkdir(exist_ok=True)
        _write_scores(base.scores, out_dir / "baseline", spec.format)
        plots.append(plot_comparison(scores, base.scores, out_dir / "plots" / "baseline_comparison.png"))
        comparison = comparison_rows(scores, base.scores, label=spec.baseline_label)
        lines.append(comparison_verdict(comparison, spec.baseline_label))
    seconds = time.perf_counter() - t_start
    report, html = write_report(
        scores,
        out_dir,
        plots,
        lines,
        store=stores.paths,
        seconds=seconds,
        comparison=comparison,
        baseline=None if baseline is None else baseline.paths,
        command=_command_line(),
    )
    return DiagnoseResult(
        output_dir=out_dir,
        scores=scores_path,
        report=report,
        html=html,
        plots=tuple(plots),
        variables=tuple(main.variables),
        n_init_times=main.n_init_times,
        n_lead_times=main.n_lead_times,
        n_members=main.n_members,
        n_excluded=main.n_excluded,
        excluded_by_reason=main.excluded_by_reason,
        verdicts=tuple(lines),
        seconds=time.perf_counter() - t_start,
        compute_seconds=main.compute_seconds + (base.compute_seconds if base is not None else 0.0),
        n_stores=len(stores.paths),
    )


OUTPUT_MARK = ".hens-diagnose"
"""The file that marks an output folder as written by hens diagnose (reused without asking)."""


def _command_line() -> str:
    """The command line of this process, shell-quoted, as ``hens …`` (for the report's provenance)."""
    import shlex
    import sys

    args = sys.argv[1:] if sys.argv and Path(sys.argv[0]).name in ("hens", "__main__.py") else sys.argv
    return (
        "hens " + " ".join(shlex.quote(a) for a in args) if args is not sys.argv else " ".join(map(shlex.quote, args))
    )


def _provenance(stores: StoreSet, attrs: dict[str, Any], ens: EnsembleData, spec: DiagnoseSpec) -> dict[str, Any]:
    import json

    several = len(stores.paths) > 1  # then the stores and their fingerprints as JSON lists
    paths = [str(p.resolve()) for p in stores.paths]
    prints = list(stores.fingerprints)
    return {
        "title": "hens diagnose scores",
        "store": json.dumps(paths) if several else paths[0],
        "store_fingerprint": json.dumps(prints) if several else prints[0],
        "excluded_members": json.dumps(ens.reasons),
        "hens_diagnose_config": spec.resolved,
    }


def _write_scores(scores: xr.Dataset, out_dir: Path, fmt: str) -> Path:
    from hens.io.zarr_open import quiet_zarr

    if fmt == "netcdf":
        path = out_dir / "scores.nc"
        scores.to_netcdf(path, engine="scipy")  # NetCDF3: strings are stored as char arrays and read back as str
        return path
    path = out_dir / "scores.zarr"
    if path.exists():
        shutil.rmtree(path)
    scores = scores.copy()
    for name in list(scores.variables):
        if scores[name].dtype.kind == "U":  # variable-length strings: fixed-width UTF-32 has no Zarr v3 spec
            scores[name] = scores[name].astype(object)
    with quiet_zarr():
        scores.to_zarr(str(path), mode="w", zarr_format=3, consolidated=True)
    return path
