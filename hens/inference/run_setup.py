"""What a run resolves before rolling out, shared by `hens generate` and `hens member` (one member alone):
checkpoint packages, initial-condition source, dynamics, stored channels, member layout, initial states, and the
run's fingerprint; plus the model step as the run wants it (precision, compile), the process-wide precision
settings and the ``ensemble.batch_size=auto`` choice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from hens.config import GenerateSpec, fingerprint
from hens.data.sources import build_source, channel_indices, check_grid
from hens.distributed import DistContext, broadcast_from_main
from hens.ensemble.plan import EnsembleLayout, WorkItem
from hens.errors import HensError
from hens.inference.derived_outputs import DerivedOutputs, resolve_derived_outputs
from hens.inference.members import InitialStates
from hens.io.run_store import recorded_batch_size
from hens.models.compile import check_compile_available
from hens.models.dynamics import Dynamics, MemberBatch, Step, get_dynamics
from hens.models.forecaster import Forecaster, load_forecaster
from hens.models.package import CheckpointPackage
from hens.models.resolve import resolve_packages
from hens.perturb.bred_vectors import breeding_offsets

log = logging.getLogger("hens.generate")

T = TypeVar("T")


@dataclass
class RunSetup:
    """Everything resolved before rolling out.

    ``variables`` are the stored channels (V) and ``var_index`` ``[V]`` (on the device) their indices among the
    model channels; ``dynamics_options`` the plain configuration values the dynamics' step factory reads;
    ``derived`` the derived channels of ``output.derived`` (None: none), stored after the channels.
    """

    packages: list[CheckpointPackage]
    variables: tuple[str, ...]
    var_index: torch.Tensor
    layout: EnsembleLayout
    initial: InitialStates
    source_info: dict[str, Any]
    fingerprint: str
    dynamics: Dynamics
    dynamics_options: dict[str, Any]
    identity: dict[str, Any]
    derived: DerivedOutputs | None = None

    @property
    def outputs(self) -> tuple[str, ...]:
        """The store's variables: the stored channels, then the derived ones."""
        return self.variables + (self.derived.names if self.derived is not None else ())


def setup_run(spec: GenerateSpec, device: torch.device) -> RunSetup:
    """Resolve and validate the run's inputs (HensError naming the key at the first problem)."""
    check_compile_available(spec.compile, device)
    packages = resolve_packages(spec.model.checkpoint_dir, spec.model.checkpoints)
    source = build_source(spec.ic, channels=packages[0].channels)
    dynamics = get_dynamics(spec.model.dynamics)
    dynamics.check_ic_source(spec.ic.source)
    check_grid(source, packages[0].lat, packages[0].lon, packages[0].name)
    model_channels = packages[0].channels
    source_index = channel_indices(source.channels, model_channels, "the initial-condition source")
    variables = tuple(spec.output.variables or model_channels)
    var_index = torch.as_tensor(channel_indices(model_channels, variables, "the model"), device=device)
    derived = None
    for package in packages:  # every checkpoint must hold the inputs (their channels agree; named per checkpoint)
        derived = resolve_derived_outputs(spec.output.derived, package.channels, package.name)
    layout = EnsembleLayout(len(packages), spec.ensemble.n_perturbations, spec.ensemble.control)
    _check_outputs(spec, variables + (derived.names if derived is not None else ()), layout)
    dt = packages[0].timestep
    bred = spec.ensemble.bred_vector
    offsets = sorted({0, *breeding_offsets(bred.n_cycles, bred.breeding_times)}, reverse=True)  # steps before t
    needed = [t - k * dt for t in spec.ic.start_dates for k in offsets]
    source.check_available(np.array(needed, dtype="datetime64[ns]"))
    source_info = source.describe()
    identity = {**run_identity(spec, source_info, packages, device), **_amplitude_file_identity(bred.amplitude_file)}
    run_fingerprint = fingerprint({k: v for k, v in identity.items() if k not in UNHASHED_IDENTITY})

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
        perturbation=spec.ensemble.perturbation,
    )
    options = {"seed": spec.seed, "demo_world": spec.ic.demo_world}
    return RunSetup(
        packages,
        variables,
        var_index,
        layout,
        initial,
        source_info,
        run_fingerprint,
        dynamics,
        options,
        identity,
        derived,
    )


UNHASHED_IDENTITY = ("threads",)
"""Identity keys checked on resume but kept out of the store's fingerprint attribute (the same ensemble run
with other threads is the same run; a resume pins the store's threads, see :func:`pinned_threads`)."""


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            _flatten(inner, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = json.loads(json.dumps(value, default=str))


def run_identity(
    spec: GenerateSpec, source_info: dict[str, Any], packages: list[CheckpointPackage], device: torch.device
) -> dict[str, Any]:
    """Everything that changes the stored values, flat by dotted key: the content config keys, the
    initial-condition source, a SHA-256 of each checkpoint's weights, the torch and hens versions, precision,
    device type and torch threads (the last bit of CPU results depends on them).  A resume compares it key by
    key and names what differs."""
    from hens import __version__
    from hens.models.weights_hash import weights_sha256

    identity: dict[str, Any] = {}
    _flatten({**spec.fingerprint_fields(), "source": source_info}, "", identity)
    for package in packages:
        identity[f"checkpoint.{package.name}.weights_sha256"] = weights_sha256(package.weights_path)
    identity.update(
        {
            "torch_version": torch.__version__,
            "hens_version": __version__,
            "precision": spec.precision,
            "device_type": device.type,
            "threads": torch.get_num_threads(),
        }
    )
    return identity


def pinned_threads(spec: GenerateSpec) -> int:
    """Torch threads of this process: ``threads`` when set, else those recorded by the store being resumed
    (results depend on them in the last bit), else :func:`hens.distributed.default_threads`."""
    from hens.distributed import default_threads
    from hens.io.manifest import Manifest

    if spec.threads:
        return spec.threads
    if spec.output.write:
        run = Manifest(Path(spec.output.path)).read_run() if Path(spec.output.path).is_dir() else None
        recorded = (run or {}).get("identity", {}).get("threads")
        if recorded:
            return int(recorded)
    return default_threads()


def _amplitude_file_identity(path: str | None) -> dict[str, str]:
    """The skill file's content hash for the fingerprint (its amplitudes shape the members); none when unset."""
    if path is None:
        return {}
    import hashlib

    from hens.io.skill_file import read_skill_file

    read_skill_file(path)  # a one-line error for a missing or foreign file
    return {"amplitude_file_sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()}


def _check_outputs(spec: GenerateSpec, variables: tuple[str, ...], layout: EnsembleLayout) -> None:
    """``output.members`` within the ensemble, ``output.statistics.thresholds`` on stored channels."""
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


def member_step(setup: RunSetup, forecaster: Forecaster, item: WorkItem, states: torch.Tensor) -> Step:
    """The rollout step of an item's members (initial states ``states`` ``[B, C, nlat, nlon]``): the checkpoint
    itself, or the run's other dynamics started from the same states (see :mod:`hens.models.dynamics`)."""
    batch = MemberBatch(
        forecaster, states, setup.initial.init_times[item.init_index], range(item.member_start, item.member_stop)
    )
    return setup.dynamics.step(batch, setup.dynamics_options)


def load_step_model(package: CheckpointPackage, device: torch.device, spec: GenerateSpec) -> Forecaster:
    """The checkpoint's Forecaster on ``device`` with the run's ``precision`` and ``compile`` mode applied."""
    forecaster = load_forecaster(package, device)
    forecaster.precision = spec.precision
    forecaster.set_compile(spec.compile)
    return forecaster


def apply_precision(precision: str) -> None:
    """Process-wide matmul settings for ``precision`` (TF32 on CUDA for tf32; bf16 is autocast in the
    Forecaster)."""
    tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32


def on_main(ctx: DistContext, compute: Callable[[], T]) -> T:
    """``compute()`` on rank 0, its value (or its HensError, raised) on every rank."""
    value: Any = None
    if ctx.is_main:
        try:
            value = compute()
        except HensError as err:
            value = err
    value = broadcast_from_main(ctx, value)
    if isinstance(value, HensError):
        raise value
    return value


def resolve_batch_size(spec: GenerateSpec, setup: RunSetup, ctx: DistContext, device: torch.device) -> GenerateSpec:
    """``ensemble.batch_size=auto``: the batch the store was created with when resuming, else the largest that
    fits in memory (rank 0 measures, every rank uses its choice); see :mod:`hens.inference.memory`."""
    if not spec.ensemble.auto_batch:
        return spec

    def choose() -> int:
        recorded = recorded_batch_size(Path(spec.output.path), setup.fingerprint) if spec.output.write else None
        return recorded if recorded is not None else _measured_batch_size(spec, setup, device)

    batch = on_main(ctx, choose)
    return replace(spec, ensemble=replace(spec.ensemble, batch_size=int(batch)))


def _measured_batch_size(spec: GenerateSpec, setup: RunSetup, device: torch.device) -> int:
    """The largest batch of one checkpoint's members that fits in the device's memory budget."""
    from hens.inference.memory import available_memory, choose_batch_size, measure

    package = setup.packages[0]
    estimate = measure(
        load_forecaster(package, device), (len(package.channels), *package.grid_shape), device, spec.output.lead_chunk
    )
    available = available_memory(device, spec.ensemble.memory_gb, spec.ensemble.memory_fraction)
    batch = choose_batch_size(setup.layout.members_per_checkpoint, estimate, available, spec.ensemble.max_batch_size)
    log.info(
        "ensemble.batch_size=auto: %d members (%.2f GiB per member, %.2f GiB available)",
        batch,
        estimate.per_member / 2**30,
        available / 2**30,
    )
    return batch
