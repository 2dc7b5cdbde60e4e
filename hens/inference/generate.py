"""`hens generate`: plan → load → initial states → rollout → streamed region writes → manifest.

Runs identically as one process or as one of many ranks (torchrun / srun).  Rank 0 creates or validates the
store; every rank then takes its shard of the unfinished work items (whole chunks), rolls each item's members
out in one batch, and hands each filled (member block × lead_chunk) buffer to the background writer; an item
is recorded in the manifest only after all its chunks are on disk.  Re-running the same command resumes.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hens import __version__
from hens.config import GenerateSpec, fingerprint
from hens.data.sources import build_source, channel_indices, check_grid
from hens.distributed import DistContext, barrier, broadcast_from_main, finalize, init_distributed, pick_device
from hens.ensemble.plan import EnsembleLayout, WorkItem, plan_work, shard
from hens.errors import HensError, StoreError
from hens.inference.members import InitialStates
from hens.inference.rollout import rollout
from hens.io.manifest import Manifest
from hens.io.store import (
    StoreLayout,
    StoreWriter,
    create_store,
    is_hens_store,
    remove_store,
    update_attrs,
    write_statistics,
)
from hens.io.writer import BackgroundWriter
from hens.models.forecaster import Forecaster, check_compatible, load_forecaster
from hens.models.package import CheckpointPackage, read_package
from hens.perturb.bred_vectors import breeding_offsets

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


def resolve_checkpoint_dir(checkpoint_dir: str) -> Path:
    if checkpoint_dir == "builtin:demo":
        from hens.demo.shipped import shipped_checkpoint_dir

        return shipped_checkpoint_dir()
    return Path(checkpoint_dir).expanduser()


def resolve_packages(spec: GenerateSpec) -> list[CheckpointPackage]:
    """Read (not load) the checkpoint packages of the run, in member order."""
    root = resolve_checkpoint_dir(spec.model.checkpoint_dir)
    if not root.is_dir():
        raise HensError(
            f"model.checkpoint_dir={spec.model.checkpoint_dir} is not a folder; point it at checkpoint packages"
        )
    if spec.model.checkpoints is None:
        names = sorted(p.name for p in root.iterdir() if (p / "metadata.json").is_file())
        if not names:
            raise HensError(f"model.checkpoint_dir={root} holds no checkpoint packages (folders with metadata.json)")
    else:
        names = list(spec.model.checkpoints)
    packages = [read_package(root / name) for name in names]
    check_compatible(packages)
    return packages


def member_dynamics(
    spec: GenerateSpec, forecaster: Forecaster, item: WorkItem, states: torch.Tensor
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The rollout step of an item's members: the checkpoint itself (``model.dynamics=network``), or the demo
    world's solver started from the same initial states (``demo_physics``, see :mod:`hens.demo.physics`)."""
    if spec.model.dynamics == "network":
        return forecaster
    from hens.demo.physics import PhysicsRollout, physics_model
    from hens.demo.world import DemoWorldSpec

    model = physics_model(
        DemoWorldSpec(**(spec.ic.demo_world or {})),
        tuple(forecaster.channels),
        float(forecaster.timestep_hours),
        spec.model.physics_stirring,
        spec.seed,
    )
    init_time = np.datetime64(spec.ic.start_dates[item.init_index], "ns")
    return PhysicsRollout(model, states, init_time, range(item.member_start, item.member_stop))


def store_layout(
    spec: GenerateSpec,
    packages: list[CheckpointPackage],
    variables: tuple[str, ...],
    layout: EnsembleLayout,
    source_info: dict[str, Any],
    run_fingerprint: str,
) -> StoreLayout:
    dt = packages[0].timestep
    member_coords = layout.coordinates()
    member_coords["checkpoint"] = np.array([packages[c].name for c in member_coords["checkpoint_index"]], dtype=object)
    names = ", ".join(p.name for p in packages)
    if spec.model.dynamics == "demo_physics":
        title = "hens physics-ensemble baseline (demo-world shallow-water solver)"
        source = (
            f"hens generate, model.dynamics=demo_physics (stirring {spec.model.physics_stirring}); initial states "
            f"bred with checkpoints {names}"
        )
    else:
        title, source = "hens ensemble hindcast", f"hens generate (SFNO checkpoints: {names})"
    attrs = {
        "Conventions": "CF-1.10",
        "title": title,
        "source": source,
        "hens_dynamics": spec.model.dynamics,
        "hens_version": __version__,
        "hens_fingerprint": run_fingerprint,
        "hens_config": spec.resolved,
        "hens_initial_conditions": json.dumps(source_info, sort_keys=True, default=str),
        "hens_members": "member m: checkpoint m // (2P), perturbation (m mod 2P) // 2, sign + for even, − for "
        "odd; sign 0 = control (unperturbed)",
        "hens_timestep_hours": float(packages[0].timestep_hours),
    }
    return StoreLayout(
        variables=variables,
        init_times=np.array(spec.ic.start_dates, dtype="datetime64[ns]"),
        lead_times=(np.arange(spec.ensemble.n_steps + 1) * dt).astype("timedelta64[ns]"),
        lat=packages[0].lat,
        lon=packages[0].lon,
        member_coords=member_coords,
        batch_size=spec.ensemble.batch_size,
        lead_chunk=spec.output.lead_chunk,
        dtype=spec.output.dtype,
        attrs=attrs,
        encoding=spec.output.encoding(),
        stored_members=spec.output.members,
        statistics=dict(spec.output.statistics.thresholds) if spec.output.statistics is not None else None,
    )


def prepare_store(path: Path, layout: StoreLayout, run_fingerprint: str, overwrite: bool) -> str:
    """Create, recreate or validate the store on rank 0; returns what was done ('created' / 'resumed')."""
    manifest = Manifest(path)
    if path.exists() and not (path.is_dir() and not any(path.iterdir())):
        run = manifest.read_run()
        if run is not None and run.get("fingerprint") == run_fingerprint:
            return "resumed"
        ours = run is not None or is_hens_store(path)
        interrupted_creation = run is None and is_hens_store(path) and not manifest.finished()
        if overwrite or interrupted_creation:
            if not ours and (path.is_file() or any(path.iterdir())):
                raise StoreError(
                    f"output.path={path} exists and is not a hens store; refusing to delete it — "
                    "choose another output.path"
                )
            remove_store(path)
        elif run is not None:
            raise StoreError(
                f"output.path={path} holds a run with a different configuration; choose a new output.path or set "
                "output.overwrite=true to replace it"
            )
        else:
            raise StoreError(f"output.path={path} exists and is not a hens store; choose another output.path")
    path.parent.mkdir(parents=True, exist_ok=True)
    create_store(path, layout)
    manifest.write_run({"fingerprint": run_fingerprint, "hens_version": __version__, "batch_size": layout.batch_size})
    return "created"


class _ItemSink:
    """Collects one item's steps into (members × lead_chunk) buffers and submits chunk writes."""

    def __init__(
        self,
        writer: BackgroundWriter | None,
        store: StoreWriter | None,
        item: WorkItem,
        var_index: torch.Tensor,
        variables: tuple[str, ...],
        lead_chunk: int,
        n_leads: int,
        dtype: str,
        rows: list[tuple[slice, slice]],
    ):
        """``rows``: (rows of the batch, members of the store) pairs to write (see :func:`_stored_rows`)."""
        self.writer, self.store, self.item = writer, store, item
        self.var_index, self.variables = var_index, variables
        self.lead_chunk, self.n_leads, self.dtype = lead_chunk, n_leads, np.dtype(dtype)
        self.rows = rows
        self.buffer: list[torch.Tensor] = []
        self.chunk_start = 0
        self.on_cuda = False

    def __call__(self, k: int, state: torch.Tensor) -> None:
        if self.store is None or not self.rows:
            return
        self.on_cuda = state.is_cuda
        self.buffer.append(state.index_select(1, self.var_index).to("cpu", non_blocking=True))
        if len(self.buffer) == self.lead_chunk or k == self.n_leads - 1:
            self._submit()

    def _submit(self) -> None:
        if self.on_cuda:  # the non-blocking device→host copies must land before numpy reads the buffers
            torch.cuda.synchronize()
        block = torch.stack(self.buffer, dim=1).numpy().astype(self.dtype, copy=False)  # [B, L, V, nlat, nlon]
        leads = slice(self.chunk_start, self.chunk_start + block.shape[1])
        for batch_rows, members in self.rows:
            for v, name in enumerate(self.variables):
                data = np.ascontiguousarray(block[batch_rows, :, v])
                self.writer.submit(
                    lambda name=name, data=data, members=members: self.store.write_block(
                        name, self.item.init_index, members, leads, data
                    )
                )
        self.chunk_start += block.shape[1]
        self.buffer = []


def _progress(enabled: bool, total: int, ctx: DistContext):
    from tqdm import tqdm

    return tqdm(
        total=total,
        disable=not (enabled and ctx.is_main),
        unit=" member-steps",
        desc=f"hens generate (rank 0/{ctx.world_size})" if ctx.world_size > 1 else "hens generate",
        dynamic_ncols=True,
    )


def run_generate(spec: GenerateSpec) -> GenerateResult:
    """Run (or resume) `hens generate` in this process; see module docstring."""
    from hens.distributed import environment_ranks

    if spec.threads:
        torch.set_num_threads(spec.threads)
    apply_precision(spec.precision)
    _, _, local_rank = environment_ranks()
    device = pick_device(spec.device, local_rank)
    ctx = init_distributed(spec.launcher.backend, device, spec.launcher.timeout_s)
    try:
        return _run(spec, ctx, device)
    finally:
        finalize(ctx)


@dataclass
class RunSetup:
    """Everything resolved before rolling out: checkpoints, source, channels, member layout, initial states."""

    packages: list[CheckpointPackage]
    variables: tuple[str, ...]
    var_index: torch.Tensor
    layout: EnsembleLayout
    initial: InitialStates
    source_info: dict[str, Any]
    fingerprint: str


def setup_run(spec: GenerateSpec, device: torch.device) -> RunSetup:
    """Resolve and validate the run's inputs (shared by `generate` and single-member regeneration)."""
    packages = resolve_packages(spec)
    source = build_source(spec.ic, channels=packages[0].channels)
    if spec.model.dynamics == "demo_physics" and spec.ic.source != "demo":
        raise HensError("model.dynamics=demo_physics runs the demo world's solver and needs ic.source=demo")
    check_grid(source, packages[0].lat, packages[0].lon, packages[0].name)
    model_channels = packages[0].channels
    source_index = channel_indices(source.channels, model_channels, "the initial-condition source")
    variables = tuple(spec.output.variables or model_channels)
    var_index = torch.as_tensor(channel_indices(model_channels, variables, "the model"), device=device)
    layout = EnsembleLayout(len(packages), spec.ensemble.n_perturbations, spec.ensemble.control)
    if spec.output.members and spec.output.members[-1] >= layout.n_members:
        raise HensError(
            f"output.members lists member {spec.output.members[-1]}, but the ensemble has members 0…"
            f"{layout.n_members - 1}; choose indices in that range"
        )
    if spec.output.statistics is not None:
        unknown = [v for v in spec.output.statistics.thresholds if v not in variables]
        if unknown:
            raise HensError(
                f"output.statistics.thresholds names {', '.join(unknown)}, not a stored channel "
                f"({', '.join(variables)}); use stored channels"
            )
    dt = packages[0].timestep
    bred = spec.ensemble.bred_vector
    offsets = sorted({0, *breeding_offsets(bred.n_cycles, bred.breeding_times)}, reverse=True)  # steps before t
    needed = [t - k * dt for t in spec.ic.start_dates for k in offsets]
    source.check_available(np.array(needed, dtype="datetime64[ns]"))
    source_info = source.describe()
    run_fingerprint = fingerprint(
        {
            **spec.fingerprint_fields(),
            "source": source_info,
            "packages": [(p.name, p.weights_path.stat().st_size) for p in packages],
        }
    )

    def source_states(times: np.ndarray) -> np.ndarray:
        return source.states(times)[:, source_index]

    initial = InitialStates(
        source_states=source_states,
        init_times=spec.ic.start_dates,
        layout=layout,
        bred=spec.ensemble.bred_vector,
        global_seed=spec.seed,
        channels=model_channels,
        lat=packages[0].lat,
        device=device,
    )
    initial.warn_unresolved_noise(len(packages[0].lon))
    return RunSetup(packages, variables, var_index, layout, initial, source_info, run_fingerprint)


def apply_precision(precision: str) -> None:
    """Process-wide matmul settings for ``precision`` (TF32 on CUDA for tf32; bf16 is autocast in the
    Forecaster)."""
    tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32


def resolve_batch_size(spec: GenerateSpec, setup: RunSetup, ctx: DistContext, device: torch.device) -> GenerateSpec:
    """``ensemble.batch_size=auto``: the batch the store was created with when resuming, else the largest that
    fits in memory (rank 0 measures, every rank uses its choice); see :mod:`hens.inference.memory`."""
    from dataclasses import replace

    if not spec.ensemble.auto_batch:
        return spec
    batch: Any = None
    if ctx.is_main:
        try:
            run = Manifest(Path(spec.output.path)).read_run() if spec.output.write else None
            if run is not None and run.get("fingerprint") == setup.fingerprint and run.get("batch_size"):
                batch = int(run["batch_size"])
            else:
                from hens.inference.memory import available_memory, choose_batch_size, measure

                package = setup.packages[0]
                estimate = measure(
                    load_forecaster(package, device),
                    (len(package.channels), *package.grid_shape),
                    device,
                    spec.output.lead_chunk,
                )
                available = available_memory(device, spec.ensemble.memory_gb, spec.ensemble.memory_fraction)
                batch = choose_batch_size(
                    setup.layout.members_per_checkpoint, estimate, available, spec.ensemble.max_batch_size
                )
                log.info(
                    "ensemble.batch_size=auto: %d members (%.2f GiB per member, %.2f GiB available)",
                    batch,
                    estimate.per_member / 2**30,
                    available / 2**30,
                )
        except HensError as err:
            batch = err
    batch = broadcast_from_main(ctx, batch)
    if isinstance(batch, HensError):
        raise batch
    return replace(spec, ensemble=replace(spec.ensemble, batch_size=int(batch)))


def _run(spec: GenerateSpec, ctx: DistContext, device: torch.device) -> GenerateResult:
    setup = setup_run(spec, device)
    spec = resolve_batch_size(spec, setup, ctx, device)
    packages, variables, var_index, layout = setup.packages, setup.variables, setup.var_index, setup.layout
    items = plan_work(layout, len(spec.ic.start_dates), spec.ensemble.batch_size)
    run_fingerprint, source_info, initial = setup.fingerprint, setup.source_info, setup.initial
    store_path = Path(spec.output.path) if spec.output.write else None

    status: Any = None
    if store_path is not None and ctx.is_main:
        try:
            status = prepare_store(
                store_path,
                store_layout(spec, packages, tuple(variables), layout, source_info, run_fingerprint),
                run_fingerprint,
                spec.output.overwrite,
            )
        except HensError as err:
            status = err
    status = broadcast_from_main(ctx, status)
    if isinstance(status, HensError):
        raise status
    finished = _finished_items(store_path) if store_path is not None else set()
    barrier(ctx)  # every rank has read the same manifest before anyone adds to it
    mine = shard([it for it in items if it.key not in finished], ctx.rank, ctx.world_size)
    result = GenerateResult(store=store_path, items_skipped=len(finished))
    if ctx.is_main and status == "resumed":
        log.info("resuming %s: %d of %d chunks already finished", store_path, len(finished), len(items))

    stored = spec.output.members
    store_variables = tuple(variables) if stored != () else ()
    store = StoreWriter(store_path, store_variables) if store_path is not None else None
    position = None if stored is None else {m: i for i, m in enumerate(stored)}
    n_leads = spec.ensemble.n_steps + 1
    stats = _StatsBook(spec, store_path, tuple(variables), n_leads, len(packages[0].lat), len(packages[0].lon), device)
    forecaster: Forecaster | None = None
    start = time.perf_counter()
    bar = _progress(spec.progress, len(mine) * spec.ensemble.batch_size * spec.ensemble.n_steps, ctx)
    with BackgroundWriter(spec.output.max_pending_writes) as writer, bar:
        for item in mine:
            if forecaster is None or forecaster.name != packages[item.checkpoint].name:
                forecaster = None  # free the previous checkpoint before loading the next
                forecaster = load_forecaster(packages[item.checkpoint], device)
                forecaster.precision = spec.precision
            states = initial.member_states(forecaster, item)
            rows = _stored_rows(item, position)
            sink = _ItemSink(
                writer, store, item, var_index, store_variables, spec.output.lead_chunk, n_leads, "float32", rows
            )
            accumulate = stats.accumulator(item)

            def on_step(k: int, state: torch.Tensor, sink: _ItemSink = sink, accumulate=accumulate) -> None:
                sink(k, state)
                if accumulate is not None:
                    accumulate.add(k, state.index_select(1, var_index))
                if k > 0:
                    bar.update(state.shape[0])

            step = member_dynamics(spec, forecaster, item, states)
            first_bad = rollout(
                step,
                states,
                spec.ensemble.n_steps,
                on_step,
                start_time=np.datetime64(spec.ic.start_dates[item.init_index], "ns"),
                timestep=forecaster.package.timestep,
            )
            result.member_steps += item.n_members * spec.ensemble.n_steps
            elapsed = time.perf_counter() - start
            bar.set_postfix_str(f"{result.member_steps / max(elapsed, 1e-9):.1f} member-steps/s")
            bad = [
                {
                    "init_time": np.datetime_as_string(spec.ic.start_dates[item.init_index], unit="m"),
                    "member": item.member_start + i,
                    "first_nonfinite_lead": int(b),
                }
                for i, b in enumerate(first_bad.tolist())
                if b >= 0
            ]
            result.nonfinite.extend(bad)
            if store is not None:
                bad_leads = first_bad.numpy()
                for batch_rows, members in rows:
                    writer.submit(
                        lambda i=item.init_index, m=members, fb=bad_leads[batch_rows]: store.write_nonfinite(i, m, fb)
                    )
                stats.pending.append((item, bad))
                if stats.should_flush(last=item is mine[-1]):
                    writer.flush()  # every chunk of the items is on disk before they are recorded as finished
                    for done, done_bad in stats.flush():
                        store.manifest.mark_done(done.key, {"item": done.__dict__, "nonfinite": done_bad})
            result.items_done += 1
    result.seconds = time.perf_counter() - start
    barrier(ctx)
    if store is not None and ctx.is_main:
        _finalize_store(store_path)
        if spec.output.statistics is not None:
            _finalize_statistics(store_path, items, tuple(variables))
    return result


def _stored_rows(item: WorkItem, position: dict[int, int] | None) -> list[tuple[slice, slice]]:
    """(batch rows, store members) slices of the item's stored members: the whole item when every member is
    stored (``position`` None), else one pair per member of the ``output.members`` subset in the item."""
    if position is None:
        return [(slice(None), slice(item.member_start, item.member_stop))]
    return [
        (slice(i, i + 1), slice(position[m], position[m] + 1))
        for i, m in enumerate(range(item.member_start, item.member_stop))
        if m in position
    ]


def _finished_items(store_path: Path) -> set[str]:
    """Items already done: manifest records, plus items inside saved statistics partials (a kill between
    saving a partial and writing its items' records must not count them twice)."""
    from hens.inference.stats import partial_items

    return set(Manifest(store_path).finished()) | partial_items(stats_dir(store_path))


def stats_dir(store_path: Path) -> Path:
    """Where the partial statistics accumulators of a store live (inside the manifest folder)."""
    return Manifest(store_path).root / "stats"


class _StatsBook:
    """This rank's in-line statistics: one accumulator per start date, saved as partials every ``flush_items``
    items (then those items are recorded as finished).  Without statistics, every item flushes at once."""

    def __init__(
        self,
        spec: GenerateSpec,
        store_path: Path | None,
        variables: tuple[str, ...],
        n_leads: int,
        n_lat: int,
        n_lon: int,
        device: torch.device,
    ) -> None:
        from hens.inference.stats import Thresholds

        self.spec = spec.output.statistics
        self.folder = stats_dir(store_path) if store_path is not None else None
        self.shape = (len(variables), n_lat, n_lon)
        self.n_leads, self.device = n_leads, device
        pairs = []
        if self.spec is not None:
            for v, name in enumerate(variables):
                pairs += [(v, t) for t in self.spec.thresholds.get(name, ())]
        self.thresholds = Thresholds(tuple(pairs))
        self.open: dict[int, Any] = {}
        self.pending: list[tuple[WorkItem, list[dict[str, Any]]]] = []

    def accumulator(self, item: WorkItem):
        """The accumulator of the item's start date (None without statistics); the item is recorded in it."""
        if self.spec is None:
            return None
        from hens.inference.stats import StatsAccumulator

        if item.init_index not in self.open:
            self.open[item.init_index] = StatsAccumulator(self.n_leads, self.shape, self.thresholds, self.device)
        acc = self.open[item.init_index]
        acc.items.append(item.key)
        return acc

    def should_flush(self, last: bool) -> bool:
        return self.spec is None or last or len(self.pending) >= self.spec.flush_items

    def flush(self) -> list[tuple[WorkItem, list[dict[str, Any]]]]:
        """Save the open accumulators (one partial per start date) and return the items they finish."""
        if self.spec is not None and self.folder is not None:
            for init_index, acc in sorted(self.open.items()):
                acc.save(self.folder / f"{init_index:05d}")
            self.open = {}
        done, self.pending = self.pending, []
        return done


def _finalize_statistics(path: Path, items: list[WorkItem], variables: tuple[str, ...]) -> None:
    """Merge every start date's partials into the stored statistics (rank 0, after all ranks finished)."""
    from hens.inference.stats import finalize, merge_partials

    for init_index in sorted({it.init_index for it in items}):
        expected = [it.key for it in items if it.init_index == init_index]
        folder = stats_dir(path) / f"{init_index:05d}"
        merged = merge_partials(folder.glob("*.npz") if folder.is_dir() else [], expected)
        write_statistics(path, init_index, variables, finalize(merged))


def _finalize_store(path: Path) -> None:
    """Record the non-finite members of the whole run in the store's attributes (rank 0, after all ranks)."""
    records = Manifest(path).finished()
    bad = sorted(
        (entry for record in records.values() for entry in record.get("nonfinite", [])),
        key=lambda e: (e["init_time"], e["member"]),
    )
    update_attrs(path, {"hens_nonfinite_members": json.dumps(bad), "hens_chunks_finished": len(records)})
