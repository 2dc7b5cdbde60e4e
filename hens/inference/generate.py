"""`hens generate`: plan → load → initial states → rollout → streamed region writes → manifest.

Runs identically as one process or as one of many ranks (torchrun / srun).  Rank 0 creates or validates the
store; every rank then takes its shard of the unfinished work items (whole chunks), rolls each item's members
out in one batch, and hands each filled (member block × lead_chunk) buffer to the background writer; an item
is recorded in the manifest only after all its chunks are on disk.  Re-running the same command resumes.

Where the pieces live: inputs and their checks in :mod:`hens.inference.run_setup`, initial states in
:mod:`hens.inference.members`, the step loop in :mod:`hens.inference.rollout`, what happens to each state in
:mod:`hens.inference.sink` (writes, statistics, manifest), the store's creation, resume and final records in
:mod:`hens.io.run_store`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hens.config import GenerateSpec
from hens.distributed import DistContext, barrier, finalize, init_distributed, local_world_size, pick_device
from hens.ensemble.plan import plan_work, shard
from hens.inference.rollout import rollout
from hens.inference.run_setup import (
    RunSetup,
    apply_precision,
    load_step_model,
    member_step,
    on_main,
    pinned_threads,
    resolve_batch_size,
    setup_run,
)
from hens.inference.sink import OnStep, RunSink
from hens.inference.stats import StatsBook, finish_statistics
from hens.io.lock import RunLock
from hens.io.run_store import (
    drop_damaged_items,
    finalize_store,
    finished_items,
    prepare_store,
    run_attrs,
    stats_dir,
)
from hens.io.store import StoreLayout
from hens.io.writer import default_writer_threads
from hens.models.forecaster import Forecaster
from hens.models.package import CheckpointPackage

log = logging.getLogger("hens.generate")


@dataclass
class GenerateResult:
    """What one rank did: items and member-steps computed, seconds, and the store path."""

    store: Path | None
    items_done: int = 0
    items_skipped: int = 0
    member_steps: int = 0
    seconds: float = 0.0
    nonfinite: list[dict[str, Any]] = field(default_factory=list)

    @property
    def member_steps_per_s(self) -> float:
        return self.member_steps / self.seconds if self.seconds > 0 else 0.0


def run_generate(spec: GenerateSpec) -> GenerateResult:
    """Run (or resume) `hens generate` in this process; see module docstring."""
    from hens.distributed import environment_ranks

    torch.set_num_threads(pinned_threads(spec))
    apply_precision(spec.precision)
    _, _, local_rank = environment_ranks()
    device = pick_device(spec.device, local_rank)
    ctx = init_distributed(spec.launcher.backend, device, spec.launcher.timeout_s)
    lock = RunLock(Path(spec.output.path)) if spec.output.write and ctx.is_main else None
    try:
        return _run(spec, ctx, device, lock)
    finally:
        if lock is not None:
            lock.release()
        finalize(ctx)


def _run(spec: GenerateSpec, ctx: DistContext, device: torch.device, lock: RunLock | None) -> GenerateResult:
    """Open the store, roll out this rank's unfinished items (initial states → rollout → sink), finish the store."""
    setup = setup_run(spec, device)
    spec = resolve_batch_size(spec, setup, ctx, device)
    items = plan_work(setup.layout, len(spec.ic.start_dates), spec.ensemble.batch_size)
    store_path, finished = _open_store(spec, setup, ctx, len(items), lock)
    if ctx.is_main:  # after the store checks, so a refused run prints its one error line alone
        setup.initial.warn_unresolved_noise(len(setup.packages[0].lon))
    barrier(ctx)  # every rank has read the same manifest before anyone adds to it
    mine = shard([it for it in items if it.key not in finished], ctx.rank, ctx.world_size)
    result = GenerateResult(store=store_path, items_skipped=len(finished))
    n_steps, forecasters = spec.ensemble.n_steps, _Forecasters(device, spec)
    start = time.perf_counter()
    with _sink(spec, setup, store_path, device) as sink, _progress(spec, len(mine), ctx) as bar:
        for item in mine:
            package = setup.packages[item.checkpoint]
            forecaster = forecasters.get(package)
            states = setup.initial.member_states(forecaster, item)  # [B, C, nlat, nlon]
            init_time = setup.initial.init_times[item.init_index]
            step = member_step(setup, forecaster, item, states)  # the checkpoint, or the run's other dynamics
            on_step = _counted(sink.on_step(item), bar)  # chunk writes + statistics of every lead
            first_bad = rollout(step, states, n_steps, on_step, start_time=init_time, timestep=package.timestep)
            result.nonfinite += sink.finish_item(item, first_bad, init_time, last=item is mine[-1])
            result.items_done += 1
            result.member_steps += item.n_members * n_steps
            bar.set_postfix_str(f"{result.member_steps / max(time.perf_counter() - start, 1e-9):.1f} member-steps/s")
    result.seconds = time.perf_counter() - start
    barrier(ctx)
    if store_path is not None and ctx.is_main:
        finalize_store(store_path)
        if spec.output.statistics is not None:
            finish_statistics(store_path, items, setup.outputs)
    return result


def _open_store(
    spec: GenerateSpec, setup: RunSetup, ctx: DistContext, n_items: int, lock: RunLock | None
) -> tuple[Path | None, set[str]]:
    """Rank 0 takes the run lock, creates, recreates or validates the store and, when resuming, forgets the
    finished items whose chunks are damaged (:func:`drop_damaged_items`); every rank then reads which items are
    finished.  Returns the store path (None: ``output.write=false``) and the keys of the finished items."""
    if not spec.output.write:
        return None, set()
    path = Path(spec.output.path)

    def prepare() -> str:  # rank 0 only; an error (e.g. a float16 overflow of the encoding) reaches every rank
        if lock is not None:
            lock.acquire()
        status = prepare_store(
            path, store_layout(spec, setup), setup.fingerprint, spec.output.overwrite, identity=setup.identity
        )
        if status == "resumed":
            problems = drop_damaged_items(path, full=spec.output.verify)
            for problem in problems:
                log.warning("hens generate: recomputing %s", problem.line())
        return status

    status = on_main(ctx, prepare)
    finished = finished_items(path)
    if ctx.is_main and status == "resumed":
        log.info("resuming %s: %d of %d chunks already finished", path, len(finished), n_items)
    return path, finished


def store_layout(spec: GenerateSpec, setup: RunSetup) -> StoreLayout:
    """The store of this run: coordinates, chunking, encoding, statistics and attributes (:mod:`hens.io.store`)."""
    packages = setup.packages
    names = [p.name for p in packages]
    member_coords = setup.layout.coordinates()
    member_coords["checkpoint"] = np.array([names[c] for c in member_coords["checkpoint_index"]], dtype=object)
    title, source = setup.dynamics.describe(names, setup.dynamics_options)
    attrs = run_attrs(
        title=title,
        source=source,
        dynamics=setup.dynamics.name,
        fingerprint=setup.fingerprint,
        config=spec.resolved,
        initial_conditions=setup.source_info,
        timestep_hours=packages[0].timestep_hours,
    )
    statistics = spec.output.statistics
    derived = setup.derived.inputs if setup.derived is not None else {}
    return StoreLayout(
        variables=setup.outputs,
        init_times=np.array(spec.ic.start_dates, dtype="datetime64[ns]"),
        lead_times=(np.arange(spec.ensemble.n_steps + 1) * packages[0].timestep).astype("timedelta64[ns]"),
        lat=packages[0].lat,
        lon=packages[0].lon,
        member_coords=member_coords,
        batch_size=spec.ensemble.batch_size,
        lead_chunk=spec.output.lead_chunk,
        dtype=spec.output.dtype,
        attrs=attrs,
        encoding=spec.output.encoding(),
        stored_members=spec.output.members,
        statistics=dict(statistics.thresholds) if statistics is not None else None,
        derived_from={name: tuple(inputs) for name, inputs in derived.items()},
    )


def _sink(spec: GenerateSpec, setup: RunSetup, store_path: Path | None, device: torch.device) -> RunSink:
    """This rank's output: the store writer and the in-line statistics book (a context manager)."""
    statistics = spec.output.statistics
    n_leads = spec.ensemble.n_steps + 1
    lat, lon = setup.packages[0].lat, setup.packages[0].lon
    book = StatsBook(
        thresholds=dict(statistics.thresholds) if statistics is not None else None,
        flush_items=statistics.flush_items if statistics is not None else 1,
        folder=stats_dir(store_path) if store_path is not None else None,
        variables=setup.outputs,
        n_leads=n_leads,
        grid=(len(lat), len(lon)),
        device=device,
    )
    return RunSink(
        store_path,
        setup.variables,
        setup.var_index,
        spec.output.members,
        spec.output.lead_chunk,
        n_leads,
        spec.output.max_pending_writes,
        book,
        writer_threads=spec.output.writer_threads or default_writer_threads(local_world_size()),
        derived=setup.derived,
    )


class _Forecasters:
    """The loaded checkpoint of the current items: a rank's items are grouped by checkpoint, so one at a time."""

    def __init__(self, device: torch.device, spec: GenerateSpec) -> None:
        self.device, self.spec = device, spec
        self.current: Forecaster | None = None

    def get(self, package: CheckpointPackage) -> Forecaster:
        if self.current is None or self.current.name != package.name:
            self.current = None  # free the previous checkpoint before loading the next
            self.current = load_step_model(package, self.device, self.spec)
        return self.current


def _progress(spec: GenerateSpec, n_items: int, ctx: DistContext) -> Any:
    """A member-steps progress bar (a context manager) shown on rank 0 unless ``progress=false``."""
    from tqdm import tqdm

    return tqdm(
        total=n_items * spec.ensemble.batch_size * spec.ensemble.n_steps,
        disable=not (spec.progress and ctx.is_main),
        unit=" member-steps",
        desc=f"hens generate (rank 0/{ctx.world_size})" if ctx.world_size > 1 else "hens generate",
        dynamic_ncols=True,
    )


def _counted(on_step: OnStep, bar: Any) -> OnStep:
    """``on_step`` that also advances the progress bar by the batch's members at every step after t = 0."""

    def counted(k: int, state: torch.Tensor) -> None:
        on_step(k, state)
        if k > 0:
            bar.update(state.shape[0])

    return counted
