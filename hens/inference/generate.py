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
from hens.io.store import StoreLayout, StoreWriter, create_store, is_hens_store, remove_store, update_attrs
from hens.io.writer import BackgroundWriter
from hens.models.forecaster import Forecaster, check_compatible, load_forecaster
from hens.models.package import CheckpointPackage, read_package

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
    dt = np.timedelta64(int(round(packages[0].timestep_hours * 3600)), "s")
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
    manifest.write_run({"fingerprint": run_fingerprint, "hens_version": __version__})
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
    ):
        self.writer, self.store, self.item = writer, store, item
        self.var_index, self.variables = var_index, variables
        self.lead_chunk, self.n_leads, self.dtype = lead_chunk, n_leads, np.dtype(dtype)
        self.buffer: list[torch.Tensor] = []
        self.chunk_start = 0
        self.on_cuda = False

    def __call__(self, k: int, state: torch.Tensor) -> None:
        if self.store is None:
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
        members = slice(self.item.member_start, self.item.member_stop)
        for v, name in enumerate(self.variables):
            data = np.ascontiguousarray(block[:, :, v])
            self.writer.submit(
                lambda name=name, data=data: self.store.write_block(name, self.item.init_index, members, leads, data)
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
    source = build_source(spec.ic)
    if spec.model.dynamics == "demo_physics" and spec.ic.source != "demo":
        raise HensError("model.dynamics=demo_physics runs the demo world's solver and needs ic.source=demo")
    check_grid(source, packages[0].lat, packages[0].lon, packages[0].name)
    model_channels = packages[0].channels
    source_index = channel_indices(source.channels, model_channels, "the initial-condition source")
    variables = tuple(spec.output.variables or model_channels)
    var_index = torch.as_tensor(channel_indices(model_channels, variables, "the model"), device=device)
    layout = EnsembleLayout(len(packages), spec.ensemble.n_perturbations, spec.ensemble.control_member)
    dt = np.timedelta64(int(round(packages[0].timestep_hours * 3600)), "s")
    needed = [t - k * dt for t in spec.ic.start_dates for k in range(spec.ensemble.bred_vector.n_cycles, -1, -1)]
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
    return RunSetup(packages, variables, var_index, layout, initial, source_info, run_fingerprint)


def _run(spec: GenerateSpec, ctx: DistContext, device: torch.device) -> GenerateResult:
    setup = setup_run(spec, device)
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
    finished = set(Manifest(store_path).finished()) if store_path is not None else set()
    barrier(ctx)  # every rank has read the same manifest before anyone adds to it
    mine = shard([it for it in items if it.key not in finished], ctx.rank, ctx.world_size)
    result = GenerateResult(store=store_path, items_skipped=len(finished))
    if ctx.is_main and status == "resumed":
        log.info("resuming %s: %d of %d chunks already finished", store_path, len(finished), len(items))

    store = StoreWriter(store_path, tuple(variables)) if store_path is not None else None
    n_leads = spec.ensemble.n_steps + 1
    forecaster: Forecaster | None = None
    start = time.perf_counter()
    bar = _progress(spec.progress, len(mine) * spec.ensemble.batch_size * spec.ensemble.n_steps, ctx)
    with BackgroundWriter(spec.output.max_pending_writes) as writer, bar:
        for item in mine:
            if forecaster is None or forecaster.name != packages[item.checkpoint].name:
                forecaster = None  # free the previous checkpoint before loading the next
                forecaster = load_forecaster(packages[item.checkpoint], device)
            states = initial.member_states(forecaster, item)
            sink = _ItemSink(
                writer, store, item, var_index, tuple(variables), spec.output.lead_chunk, n_leads, "float32"
            )

            def on_step(k: int, state: torch.Tensor, sink: _ItemSink = sink) -> None:
                sink(k, state)
                if k > 0:
                    bar.update(state.shape[0])

            step = member_dynamics(spec, forecaster, item, states)
            first_bad = rollout(step, states, spec.ensemble.n_steps, on_step)
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
                members = slice(item.member_start, item.member_stop)
                bad_leads = first_bad.numpy()
                writer.submit(lambda i=item.init_index, m=members, fb=bad_leads: store.write_nonfinite(i, m, fb))
                writer.flush()  # every chunk of the item is on disk before it is recorded as finished
                store.manifest.mark_done(item.key, {"item": item.__dict__, "nonfinite": bad})
            result.items_done += 1
    result.seconds = time.perf_counter() - start
    barrier(ctx)
    if store is not None and ctx.is_main:
        _finalize_store(store_path)
    return result


def _finalize_store(path: Path) -> None:
    """Record the non-finite members of the whole run in the store's attributes (rank 0, after all ranks)."""
    records = Manifest(path).finished()
    bad = sorted(
        (entry for record in records.values() for entry in record.get("nonfinite", [])),
        key=lambda e: (e["init_time"], e["member"]),
    )
    update_attrs(path, {"hens_nonfinite_members": json.dumps(bad), "hens_chunks_finished": len(records)})
