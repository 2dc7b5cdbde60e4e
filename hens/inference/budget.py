"""The budget of a `hens generate` run, known before it starts: members, work per rank, bytes, GPU-hours.

Everything here is computed from the same plan the run uses (:func:`hens.ensemble.plan.plan_work` and
:func:`hens.ensemble.plan.shard_all`), so the per-rank numbers are the ranks' real shares of a fresh run.
Costs are counted in *member-steps* — one member advanced by one model step, the unit the engine reports:

* rollout: every member of every start date runs ``n_steps`` steps;
* breeding: each work item breeds the bred vectors of its own members — ``n_cycles`` cycles, each one step of
  the P' perturbed states plus one step of the unperturbed analysis (batch of one), i.e. n_cycles × (P' + 1)
  member-steps per item (:meth:`hens.inference.members.InitialStates.member_states`).

GPU-hours are member-steps divided by a throughput in member-steps per second per GPU.  The default,
:data:`DEFAULT_MEMBER_STEPS_PER_SECOND`, is our measurement of a HENS-size SFNO on one H100 in float32 (see
/work/shared/ANCHORS.md, "Measured here"); measure your own model with `hens generate` (it prints
member-steps/s) and pass it with ``--member-steps-per-second`` or ``launcher.member_steps_per_second``.

Only :func:`budget_from_config` touches the file system (checkpoint package metadata, never the weights);
the rest are pure functions of numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from hens.ensemble.plan import EnsembleLayout, WorkItem, plan_work, shard_all

#: Member-steps per second of one GPU: HENS SFNO (E620 L8, 1.1 B parameters, 74 channels, 721×1440) on one
#: H100, float32, batch 1 — the precision `hens generate` runs in (measured; ANCHORS.md).
DEFAULT_MEMBER_STEPS_PER_SECOND = 1.57
DEFAULT_RATE_SOURCE = "default: HENS-size SFNO on one H100, float32, batch 1"
#: MB/s of float32 fields one writer thread encodes (blosc, lossless) and writes at 0.25°: the median of
#: scripts/bench_writer.py on the 2-core development machine (docs/benchmarks.md); threads add up to the cores.
WRITER_MB_PER_SECOND_PER_THREAD = 156.0
#: The same with ``output.keepbits`` = 10 (bit rounding makes the fields compress faster): 189 MB/s per thread.
WRITER_MB_PER_SECOND_PER_THREAD_KEEPBITS = 189.0
#: Core-seconds `hens diagnose` spends per member-field (one member, lead time and channel) at 721×1440 with the
#: default members' spectra subset (diagnose.spectral.max_members = 64): 0.58 s wall on 2 cores at M = 512 with
#: diagnose.memory_gb = 0.5 (scripts/bench_diagnose_scale.py, spectra and ensemble-size statistics on, extremes
#: off; docs/benchmarks.md); scaled by grid points for other grids.
DIAGNOSE_CORE_SECONDS_PER_MEMBER_FIELD = 1.16
#: The same with every member's spectrum (diagnose.spectral.max_members = all): 0.60 s wall, same run.
DIAGNOSE_CORE_SECONDS_PER_MEMBER_FIELD_ALL_SPECTRA = 1.19
_QUARTER_DEGREE_POINTS = 721 * 1440


@dataclass(frozen=True)
class RankLoad:
    """Work of the ranks of one job: (min, max) over ranks of items, member-steps and checkpoints loaded."""

    world_size: int
    items: tuple[int, int]
    member_steps: tuple[int, int]
    breeding_member_steps: tuple[int, int]
    checkpoints: tuple[int, int]
    idle_ranks: int


@dataclass(frozen=True)
class Budget:
    """What a generate run will do and write; sizes in bytes, times in hours (see module docstring)."""

    checkpoints: tuple[str, ...]
    n_perturbations: int
    control: str
    members_per_date: int
    start_dates: tuple[str, ...]
    n_steps: int
    timestep_hours: float
    batch_size: int
    n_cycles: int
    n_items: int
    n_pairs: int
    jobs: int
    ranks_per_job: int
    load: RankLoad
    rollout_member_steps: int
    breeding_member_steps: int
    variables: tuple[str, ...]
    grid: tuple[int, int]
    dtype: str
    bytes_per_variable: int
    bytes_total: int
    bytes_per_member: int
    compression: str | None
    member_steps_per_second: float
    rate_source: str
    time_limit: str | None = None
    writer_threads: int = 1
    writer_threads_source: str = "output.writer_threads"
    gpus_per_node: int = 1
    stored_members: int | None = None
    keepbits: bool = False

    @property
    def n_leads(self) -> int:
        return self.n_steps + 1

    @property
    def member_steps(self) -> int:
        return self.rollout_member_steps + self.breeding_member_steps

    @property
    def gpu_hours(self) -> float:
        """Busy GPU-hours of the whole run (every job), at :attr:`member_steps_per_second` per GPU."""
        return self.member_steps / self.member_steps_per_second / 3600.0

    @property
    def wall_hours_per_job(self) -> float:
        """Hours of compute of the slowest rank of one job (excludes start-up and checkpoint loading)."""
        return self.load.member_steps[1] / self.member_steps_per_second / 3600.0

    @property
    def allocated_gpu_hours(self) -> float:
        """GPU-hours held: every rank of every job for as long as its slowest rank runs."""
        return self.wall_hours_per_job * self.ranks_per_job * self.jobs

    @property
    def output_mb_per_second_per_gpu(self) -> float:
        """MB/s of float32 member fields one GPU hands to its writers (rollout steps of the stored members are
        written, breeding steps not)."""
        per_step = len(self.variables) * self.grid[0] * self.grid[1] * 4 / 1e6
        stored = 1.0 if self.stored_members is None else self.stored_members / max(1, self.members_per_date)
        return self.member_steps_per_second * per_step * stored * self.rollout_member_steps / max(1, self.member_steps)

    @property
    def writer_mb_per_second_per_thread(self) -> float:
        """The measured rate of one writer thread for this output's encoding (lossless or with keepbits)."""
        return WRITER_MB_PER_SECOND_PER_THREAD_KEEPBITS if self.keepbits else WRITER_MB_PER_SECOND_PER_THREAD

    @property
    def writer_threads_needed(self) -> int:
        """Writer threads per GPU that keep up at :attr:`writer_mb_per_second_per_thread` each; with fewer free
        cores per rank, output — not the GPU — bounds the run."""
        return max(1, int(np.ceil(self.output_mb_per_second_per_gpu / self.writer_mb_per_second_per_thread)))

    @property
    def output_bound_factor(self) -> float:
        """Output rate over what the run's :attr:`writer_threads` write: above 1, writing — not the GPU — bounds
        the run, and the rollout slows by about this factor (the writer queue fills and the model waits)."""
        return self.output_mb_per_second_per_gpu / (self.writer_threads * self.writer_mb_per_second_per_thread)

    @property
    def diagnose_core_hours(self) -> float:
        """Core-hours of `hens diagnose` over every stored member-field, at the measured cost per member-field
        (members' spectra from the default subset of 64)."""
        return self._diagnose_fields_scaled() * DIAGNOSE_CORE_SECONDS_PER_MEMBER_FIELD / 3600.0

    @property
    def diagnose_core_hours_all_spectra(self) -> float:
        """:attr:`diagnose_core_hours` with every member's spectrum (``diagnose.spectral.max_members=all``)."""
        return self._diagnose_fields_scaled() * DIAGNOSE_CORE_SECONDS_PER_MEMBER_FIELD_ALL_SPECTRA / 3600.0

    def _diagnose_fields_scaled(self) -> float:
        """Member-fields of the run in 0.25° equivalents (grid points relative to 721×1440)."""
        fields = self.n_pairs * self.n_leads * len(self.variables)
        return fields * self.grid[0] * self.grid[1] / _QUARTER_DEGREE_POINTS

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary: every field plus the derived totals."""
        out = asdict(self)
        out["load"] = {k: list(v) if isinstance(v, tuple) else v for k, v in out["load"].items()}
        out.update(
            n_leads=self.n_leads,
            member_steps=self.member_steps,
            gpu_hours=self.gpu_hours,
            wall_hours_per_job=self.wall_hours_per_job,
            allocated_gpu_hours=self.allocated_gpu_hours,
            output_mb_per_second_per_gpu=self.output_mb_per_second_per_gpu,
            writer_mb_per_second_per_thread=self.writer_mb_per_second_per_thread,
            writer_threads_needed=self.writer_threads_needed,
            output_bound_factor=self.output_bound_factor,
            diagnose_core_hours=self.diagnose_core_hours,
            diagnose_core_hours_all_spectra=self.diagnose_core_hours_all_spectra,
            bytes_by_variable=dict.fromkeys(self.variables, self.bytes_per_variable),
        )
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def item_breeding_steps(layout: EnsembleLayout, item: WorkItem, n_cycles: int) -> int:
    """Member-steps spent breeding the bred vectors of one item: n_cycles × (P' + 1), 0 when P' = 0."""
    perturbations = {
        key.perturbation
        for key in (layout.member(m) for m in range(item.member_start, item.member_stop))
        if key.sign != 0
    }
    return n_cycles * (len(perturbations) + 1) if perturbations else 0


def rank_loads(items: list[WorkItem], world_size: int, layout: EnsembleLayout, n_steps: int, n_cycles: int) -> RankLoad:
    """Min/max work over the ranks of ``shard_all(items, world_size)`` — the shards `hens generate` runs."""
    if world_size < 1:
        raise ValueError(f"world_size {world_size} must be ≥ 1")
    breeding_of: dict[tuple[int, int, bool], int] = {}  # by (offset in checkpoint, size, holds a control)
    controls = set(layout.control_members)

    def breeding(item: WorkItem) -> int:
        has_control = any(m in controls for m in range(item.member_start, item.member_stop))
        key = (item.member_start % layout.members_per_checkpoint, item.n_members, has_control)
        if key not in breeding_of:
            breeding_of[key] = item_breeding_steps(layout, item, n_cycles)
        return breeding_of[key]

    shards = shard_all(items, world_size)
    n_items = np.array([len(s) for s in shards])
    bred = np.array([sum(breeding(it) for it in s) for s in shards])
    steps = np.array([sum(it.n_members for it in s) * n_steps for s in shards]) + bred
    ckpts = np.array([len({it.checkpoint for it in s}) for s in shards])

    def span(a: np.ndarray) -> tuple[int, int]:
        return int(a.min()), int(a.max())

    return RankLoad(
        world_size=world_size,
        items=span(n_items),
        member_steps=span(steps),
        breeding_member_steps=span(bred),
        checkpoints=span(ckpts),
        idle_ranks=int((n_items == 0).sum()),
    )


def field_bytes(n_dates: int, n_members: int, n_leads: int, nlat: int, nlon: int, dtype: str) -> int:
    """Uncompressed bytes of one member-field variable: init_time × member × lead_time × lat × lon × itemsize."""
    return n_dates * n_members * n_leads * nlat * nlon * np.dtype(dtype).itemsize


def compute_budget(
    *,
    layout: EnsembleLayout,
    checkpoints: tuple[str, ...],
    start_dates: tuple[str, ...],
    n_steps: int,
    timestep_hours: float,
    batch_size: int,
    n_cycles: int,
    variables: tuple[str, ...],
    grid: tuple[int, int],
    dtype: str,
    ranks: int,
    member_steps_per_second: float,
    array_over_dates: bool = False,
    compression: str | None = None,
    rate_source: str = DEFAULT_RATE_SOURCE,
    time_limit: str | None = None,
) -> Budget:
    """The budget of a run (pure).  ``ranks`` is the world size of one job; with ``array_over_dates`` each
    start date is its own job of ``ranks`` ranks (SLURM job array), otherwise one job covers every date."""
    if ranks < 1:
        raise ValueError(f"ranks {ranks} must be ≥ 1")
    if not member_steps_per_second > 0:
        raise ValueError(f"member_steps_per_second {member_steps_per_second} must be > 0")
    n_dates = len(start_dates)
    items = plan_work(layout, n_dates, batch_size)
    job_items = plan_work(layout, 1, batch_size) if array_over_dates else items
    load = rank_loads(job_items, ranks, layout, n_steps, n_cycles)
    per_date_breeding = sum(item_breeding_steps(layout, it, n_cycles) for it in plan_work(layout, 1, batch_size))
    per_var = field_bytes(n_dates, layout.n_members, n_steps + 1, grid[0], grid[1], dtype)
    return Budget(
        checkpoints=checkpoints,
        n_perturbations=layout.n_perturbations,
        control=layout.control,
        members_per_date=layout.n_members,
        start_dates=start_dates,
        n_steps=n_steps,
        timestep_hours=timestep_hours,
        batch_size=batch_size,
        n_cycles=n_cycles,
        n_items=len(items),
        n_pairs=n_dates * layout.n_members,
        jobs=n_dates if array_over_dates else 1,
        ranks_per_job=ranks,
        load=load,
        rollout_member_steps=n_dates * layout.n_members * n_steps,
        breeding_member_steps=n_dates * per_date_breeding,
        variables=variables,
        grid=grid,
        dtype=dtype,
        bytes_per_variable=per_var,
        bytes_total=per_var * len(variables),
        bytes_per_member=len(variables) * (n_steps + 1) * grid[0] * grid[1] * np.dtype(dtype).itemsize,
        compression=compression,
        member_steps_per_second=float(member_steps_per_second),
        rate_source=rate_source,
        time_limit=time_limit,
    )


def human_bytes(n: float) -> str:
    """Decimal units (kB = 1000 B), as storage is sold and as the HENS papers quote sizes."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def _num(x: float) -> str:
    """Three significant digits, with thousands separators above 1000 (7,450 not 7.45e+03)."""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def _hours(h: float) -> str:
    return f"{_num(h)} h" if h >= 0.01 else f"{h * 3600:.3g} s"


def _limit_hours(limit: str) -> float | None:
    """SLURM time ``[D-]HH:MM:SS`` / ``MM:SS`` / ``MM`` in hours; None when not parseable."""
    try:
        days, _, rest = limit.rpartition("-")
        parts = [int(p) for p in rest.split(":")]
        h, m, s = ([0] * (3 - len(parts)) + parts) if len(parts) > 1 else (0, parts[0], 0)
        return int(days or 0) * 24 + h + m / 60 + s / 3600
    except ValueError:
        return None


def format_budget(b: Budget) -> str:
    """The plan as aligned text (what `hens plan` prints)."""
    lo, hi = b.load.items
    sign_note = {
        "hens": "; one control (member 0, unperturbed) for the whole ensemble, as HENS",
        "per_checkpoint": "; control replaces the last − member of each checkpoint",
        "none": "",
    }[b.control]
    dates = list(b.start_dates)
    shown = ", ".join(dates if len(dates) <= 6 else [*dates[:3], "…", *dates[-2:]])
    ckpts = list(b.checkpoints)
    shown_ck = ", ".join(ckpts if len(ckpts) <= 6 else [*ckpts[:3], "…", *ckpts[-2:]])
    per_date_items = b.n_items // len(dates)
    if b.jobs > 1:
        jobs = f"{b.jobs} array jobs (one per start date) × {b.ranks_per_job:,} ranks = {b.jobs * b.ranks_per_job:,}"
    else:
        jobs = f"{b.ranks_per_job:,} rank(s) in one job"
    lines = [
        f"hens plan: {len(dates)} start date(s) × {b.members_per_date:,} members = {b.n_pairs:,} (date, member) pairs",
        f"  members per date   {b.members_per_date:,} = {len(ckpts)} checkpoint(s) × {b.n_perturbations} "
        f"perturbation(s) × 2 signs{sign_note}",
        f"  checkpoints        {shown_ck}",
        f"  start dates        {shown}",
        f"  lead times         {b.n_leads} ({b.n_steps} steps of {b.timestep_hours:g} h = "
        f"{b.n_steps * b.timestep_hours:g} h, t = 0 included)",
        f"  work items         {b.n_items:,} chunks of {b.batch_size} members ({per_date_items:,} per date)",
        f"  ranks              {jobs}",
        f"  per rank           items {lo:,}–{hi:,}; member-steps {b.load.member_steps[0]:,}–"
        f"{b.load.member_steps[1]:,} (breeding {b.load.breeding_member_steps[0]:,}–"
        f"{b.load.breeding_member_steps[1]:,}); checkpoints loaded {b.load.checkpoints[0]}–{b.load.checkpoints[1]}",
    ]
    if b.load.idle_ranks:
        lines.append(
            f"  idle ranks         {b.load.idle_ranks:,} of {b.ranks_per_job:,} have no item; use fewer ranks or "
            "a smaller ensemble.batch_size"
        )
    shape = f"{len(dates)} × {b.members_per_date:,} × {b.n_leads} × {b.grid[0]} × {b.grid[1]} {b.dtype}"
    lines.append(f"  output             {len(b.variables)} variable(s) of (init_time, member, lead, lat, lon) {shape}")
    width = max(len(v) for v in b.variables)
    if len(b.variables) <= 12:
        lines += [f"    {v:<{width}}  {human_bytes(b.bytes_per_variable)}" for v in b.variables]
    else:
        lines.append(f"    each variable  {human_bytes(b.bytes_per_variable)}")
    note = f"uncompressed; with {b.compression} the store on disk is smaller" if b.compression else "uncompressed"
    lines += [
        f"  total written      {human_bytes(b.bytes_total)} ({note}); {human_bytes(b.bytes_per_member)} per member",
        f"  member-steps       {b.rollout_member_steps:,} rollout + {b.breeding_member_steps:,} breeding = "
        f"{b.member_steps:,}",
        f"  GPU-hours          {_num(b.gpu_hours)} busy at {b.member_steps_per_second:g} member-steps/s per GPU "
        f"({b.rate_source}); {_num(b.allocated_gpu_hours)} allocated",
    ]
    wall = f"  wall time per job  {_hours(b.wall_hours_per_job)} (slowest rank, compute only)"
    limit = _limit_hours(b.time_limit) if b.time_limit else None
    if limit is not None:
        verdict = "fits" if b.wall_hours_per_job <= limit else "EXCEEDS it: the job will requeue and resume"
        wall += f"; launcher.time={b.time_limit} {verdict}"
    lines.append(wall)
    lines += _output_lines(b)
    lines.append(
        f"  hens diagnose      ≈ {_num(b.diagnose_core_hours)} core-hours for every member-field "
        f"(≈ {DIAGNOSE_CORE_SECONDS_PER_MEMBER_FIELD:g} core-s per 0.25° member-field with the members' spectra of a "
        f"64-member subset, measured; scaled by grid); ≈ {_num(b.diagnose_core_hours_all_spectra)} with every "
        "member's spectrum (diagnose.spectral.max_members=all)"
    )
    return "\n".join(lines)


def _output_lines(b: Budget) -> list[str]:
    """Whether the writers keep up with a GPU, and if not what to change (the `output rate` lines of the plan)."""
    encoding = "keepbits" if b.keepbits else "lossless"
    per_node = b.output_mb_per_second_per_gpu * b.gpus_per_node / 1e3
    lines = [
        f"  output rate        {_num(b.output_mb_per_second_per_gpu)} MB/s of float32 fields per GPU "
        f"({per_node:.3g} GB/s per node of {b.gpus_per_node} GPU(s)); at ≈ {b.writer_mb_per_second_per_thread:g} MB/s "
        f"per writer thread ({encoding}, measured) it needs {b.writer_threads_needed} writer thread(s) per GPU; "
        f"this run has {b.writer_threads} ({b.writer_threads_source}), writing "
        f"{b.writer_threads * b.writer_mb_per_second_per_thread / 1e3 * b.gpus_per_node:.3g} GB/s per node",
    ]
    if b.output_bound_factor <= 1.0:
        lines.append("  output bound       no: the writers keep up with the GPU")
        return lines
    remedies = ["store fewer channels (output.variables)"]
    if not b.keepbits:
        remedies.append(
            f"round mantissas (output.keepbits=10: {WRITER_MB_PER_SECOND_PER_THREAD_KEEPBITS:g} vs "
            f"{WRITER_MB_PER_SECOND_PER_THREAD:g} MB/s per thread, and smaller files)"
        )
    remedies += [
        "store statistics instead of members (output.statistics.enabled=true output.members=none, or a few members)",
        "give each rank more cores (launcher.cpus_per_task, output.writer_threads)",
    ]
    lines.append(
        f"  output bound       YES: writing needs {b.output_bound_factor:.1f}× what the writers manage, so output, "
        f"not the GPU, sets the pace; {'; '.join(remedies)}"
    )
    return lines


def _compression_note(output: Any) -> str | None:
    """The output's compression settings (an :class:`~hens.config.OutputSpec`: compressor, level, keepbits) as
    text, or None when the store is written uncompressed."""
    parts = []
    if output.compressor not in (None, "none"):
        level = output.compression_level
        parts.append(f"output.compressor={output.compressor}" + (f" (level {level})" if level is not None else ""))
    if output.keepbits is not None:
        parts.append(f"output.keepbits={output.keepbits}")
    if output.keepbits_by_variable:
        parts.append("output.keepbits_by_variable")
    return ", ".join(parts) or None


def budget_from_config(cfg: Any, *, ranks: int | None = None, member_steps_per_second: float | None = None) -> Budget:
    """The budget of a composed generate config: validated like `hens generate`, packages read for channels and
    grid (metadata only, never the weights).

    ``ranks`` defaults to ``launcher.nodes × launcher.gpus_per_node`` when the launcher has them (SLURM), else 1;
    ``member_steps_per_second`` to ``launcher.member_steps_per_second``, else the default figure.
    """
    from omegaconf import OmegaConf

    from hens.config import generate_spec
    from hens.data.sources import channel_indices
    from hens.errors import ConfigError
    from hens.inference.derived_outputs import resolve_derived_outputs
    from hens.models.resolve import resolve_packages

    path = OmegaConf.select(cfg, "output.path", default=None)
    if isinstance(path, str) and "{date}" in path:  # one store per date: validate with a neutral name
        cfg = cfg.copy()
        OmegaConf.update(cfg, "output.path", path.replace("{date}", "DATE"))
    spec = generate_spec(cfg)
    launcher = spec.launcher
    batch_job = OmegaConf.select(cfg, "launcher.nodes", default=None) is not None  # launcher=slurm sets the job
    if ranks is None:
        ranks = launcher.nodes * launcher.gpus_per_node if batch_job else 1
    if ranks < 1:
        raise ConfigError(f"--ranks {ranks} must be a positive integer")
    source = "--member-steps-per-second"
    if member_steps_per_second is None:
        member_steps_per_second = launcher.member_steps_per_second
        source = "launcher.member_steps_per_second"
    if member_steps_per_second is None:
        member_steps_per_second, source = DEFAULT_MEMBER_STEPS_PER_SECOND, DEFAULT_RATE_SOURCE
    try:
        rate = float(member_steps_per_second) if not isinstance(member_steps_per_second, bool) else 0.0
    except (TypeError, ValueError):
        rate = 0.0
    if not rate > 0:  # also rejects NaN
        raise ConfigError(f"{source}={member_steps_per_second!r} must be a number > 0 (member-steps/s per GPU)")
    time_limit = launcher.time if batch_job else None
    packages = resolve_packages(spec.model.checkpoint_dir, spec.model.checkpoints)  # metadata only
    channels = packages[0].channels
    variables = tuple(spec.output.variables or channels)
    channel_indices(channels, variables, "the model")
    derived = resolve_derived_outputs(spec.output.derived, channels, packages[0].name)  # stored after the channels
    variables += derived.names if derived is not None else ()
    budget = compute_budget(
        layout=EnsembleLayout(len(packages), spec.ensemble.n_perturbations, spec.ensemble.control),
        checkpoints=tuple(p.name for p in packages),
        start_dates=tuple(np.datetime_as_string(t, unit="m") for t in spec.ic.start_dates),
        n_steps=spec.ensemble.n_steps,
        timestep_hours=float(packages[0].timestep_hours),
        batch_size=spec.ensemble.batch_size,
        n_cycles=spec.ensemble.bred_vector.n_cycles,
        variables=variables,
        grid=packages[0].grid_shape,
        dtype=spec.output.dtype,
        ranks=int(ranks),
        member_steps_per_second=rate,
        array_over_dates=launcher.array_over_dates and batch_job,
        compression=_compression_note(spec.output),
        rate_source=source,
        time_limit=time_limit,
    )
    return replace(budget, **_writer_settings(spec, launcher, batch_job, int(ranks)))


def _writer_settings(spec: Any, launcher: Any, batch_job: bool, ranks: int) -> dict[str, Any]:
    """The plan's writer fields: threads per rank as `hens generate` will pick them (``output.writer_threads``, or
    auto from a SLURM rank's ``launcher.cpus_per_task`` / this machine's cores shared by the local ranks), GPUs
    per node, stored members and whether mantissas are rounded."""
    from hens.io.writer import available_cores, default_writer_threads

    output = spec.output
    if output.writer_threads is not None:
        threads, source = int(output.writer_threads), "output.writer_threads"
    elif batch_job:
        threads = default_writer_threads(1, cores=launcher.cpus_per_task)
        source = f"auto: launcher.cpus_per_task={launcher.cpus_per_task} less one, at most 8"
    else:
        threads = default_writer_threads(ranks, cores=available_cores())
        source = f"auto: {available_cores()} core(s) here shared by {ranks} rank(s), less one, at most 8"
    members = output.members
    return {
        "writer_threads": threads,
        "writer_threads_source": source,
        "gpus_per_node": int(launcher.gpus_per_node) if batch_job else ranks,
        "stored_members": 0 if not output.write else (None if members is None else len(members)),
        "keepbits": output.keepbits is not None or bool(output.keepbits_by_variable),
    }


__all__ = [
    "DEFAULT_MEMBER_STEPS_PER_SECOND",
    "Budget",
    "RankLoad",
    "budget_from_config",
    "compute_budget",
    "field_bytes",
    "format_budget",
    "human_bytes",
    "item_breeding_steps",
    "rank_loads",
]
