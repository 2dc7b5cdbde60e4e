"""The `hens generate` config schema: one frozen spec per config group, validated into a :class:`GenerateSpec`.

The groups mirror ``configs/generate.yaml`` and its groups ``model/``, ``ic/``, ``ensemble/``, ``output/`` and
``launcher/``; each field's doc says what its key means (the YAML files say it at more length).  Field names,
order and values feed :meth:`GenerateSpec.fingerprint_fields` (the store's identity): keep them stable.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from typing import Any, ClassVar

import numpy as np
from omegaconf import DictConfig

from hens.config.compose import resolved_yaml
from hens.config.fields import (
    Anything,
    Choice,
    DateTime,
    Flag,
    Group,
    Int,
    ListOf,
    MapOf,
    Number,
    Pattern,
    Setting,
    Text,
    derived,
    group,
    setting,
)
from hens.data.channels import LAYOUTS
from hens.data.derived import DERIVED
from hens.ensemble.plan import CONTROL_LAYOUTS
from hens.errors import ConfigError
from hens.io.encoding import STORAGE_DTYPES, EncodingSpec
from hens.models.compile import COMPILE_MODES
from hens.models.dynamics import get_dynamics
from hens.perturb.bred_vectors import BREEDING_TIMES
from hens.perturb.methods import PERTURBATIONS
from hens.perturb.rescaling import RESCALINGS

__all__ = [
    "DATE_PLACEHOLDER",
    "IC_SOURCES",
    "LAUNCHES",
    "PRECISIONS",
    "SUPPORTED_DTYPES",
    "BredVectorSpec",
    "EnsembleSpec",
    "GenerateSpec",
    "ICSpec",
    "LauncherSpec",
    "ModelSpec",
    "OutputSpec",
    "SlurmDiagnoseSpec",
    "StatisticsSpec",
    "date_path",
    "date_tag",
    "fingerprint",
    "generate_spec",
    "select_date",
]

IC_SOURCES = ("demo", "era5")
PRECISIONS = ("fp32", "tf32", "bf16")
BACKENDS = ("auto", "gloo", "nccl")
LAUNCHES = ("srun", "torchrun")
SUPPORTED_DTYPES = STORAGE_DTYPES
DATE_PLACEHOLDER = "{date}"

_NAMES = ListOf(Text())
_NAMES_OR_EMPTY = ListOf(Text(), nonempty=False)


@dataclass(frozen=True, kw_only=True)
class ModelSpec(Group):
    """``model``: the checkpoint packages and what rolls the members out."""

    checkpoint_dir: str = setting(Text(), 'Folder of checkpoint packages (makani layout); "builtin:demo" = shipped.')
    checkpoints: tuple[str, ...] | None = setting(
        _NAMES, "Package folder names to use, in order; null = every package there, sorted.", default=None, null=None
    )
    dynamics: str = setting(
        Text(),
        "A name in the dynamics registry (hens.models.dynamics): network = the checkpoints; demo_physics = the demo "
        "world's own model (a perfect-model baseline).",
        default="network",
    )

    def check(self) -> None:
        """``model.dynamics`` names registered dynamics (the registry is the one list of them)."""
        get_dynamics(self.dynamics)


@dataclass(frozen=True, kw_only=True)
class ICSpec(Group):
    """``ic``: initial conditions: ``source`` demo (the demo world's truth) or era5 (a Zarr at ``path`` in
    ``layout`` auto | wb2 | arco | hens, see :mod:`hens.data.era5`)."""

    source: str = setting(Choice(IC_SOURCES), "demo (the demo world's truth) or era5 (a Zarr at ic.path).")
    start_dates: tuple[np.datetime64, ...] = setting(
        ListOf(DateTime(), duplicates="error"),
        "Start dates (UTC, ISO 8601); each is one init_time of the store.",
        fix="e.g. {key}=[2000-03-01T00:00]",
    )
    demo_world: dict[str, Any] | None = setting(
        MapOf(), "Demo world parameters (hens/demo/world.py); null = the shipped world.", default=None, null=None
    )
    path: str | None = setting(
        Text(),
        "era5: the store (a folder or an fsspec URL) on the checkpoint's grid.",
        default=None,
        null=None,
        fix="set {key}=<ERA5 Zarr store>",
    )
    layout: str = setting(
        Choice(LAYOUTS), "era5: the store's layout: auto (detect) | wb2 | arco | hens.", default="auto"
    )

    EXTRA_KEYS: ClassVar[dict[str, Setting]] = {
        "date_index": Setting(
            Int(0),
            "Run only entry K of start_dates (a SLURM array task: ++ic.date_index=$SLURM_ARRAY_TASK_ID).",
            default=None,
            null=None,
            cli_only=True,
        )
    }

    @classmethod
    def derive(cls, values: dict[str, Any], extras: dict[str, Any], cfg: DictConfig, prefix: str) -> dict[str, Any]:
        """Keep only the start date ``ic.date_index`` picks, when given."""
        return {**values, "start_dates": select_date(values["start_dates"], extras["date_index"])}

    def check(self) -> None:
        """An ERA5 source needs its store (the one check of ``ic.path``)."""
        if self.source == "era5" and not self.path:
            raise ConfigError("ic.path is required for ic.source=era5; set ic.path=<ERA5 Zarr store>")


@dataclass(frozen=True, kw_only=True)
class BredVectorSpec(Group):
    """``ensemble.bred_vector``: how the bred-vector perturbations are grown and scaled."""

    n_cycles: int = setting(Int(1), "Breeding cycles of one model step each, from the analyses before t.")
    amplitude_fraction: float = setting(
        Number(0, low_open=True), "Target amplitude = this × the checkpoint's deterministic 48-h RMSE per channel."
    )
    amplitude: dict[str, float] | None = setting(
        MapOf(Number()),
        "Explicit target amplitudes per channel (physical units); override the checkpoint's rmse_48h.",
        default=None,
        null=None,
    )
    amplitude_file: str | None = setting(
        Text(),
        "A `hens skill` JSON file: T = amplitude_fraction × its 48-h RMSE per channel (pooled or per checkpoint).",
        default=None,
        null=None,
    )
    seed_channels: tuple[str, ...] = setting(_NAMES, "Channels that receive seed noise.", fix="e.g. {key}=[z500]")
    noise_length_scale_km: float = setting(Number(), "Spatial correlation length of the seed noise, km.")
    hemisphere_boundary_deg: float = setting(
        Number(0, 90, high_open=True), "Latitude bounding the extratropics for hemispheric rescaling, degrees."
    )
    nonnegative_channels: tuple[str, ...] = setting(
        _NAMES_OR_EMPTY, "Channels clipped at zero after perturbation (e.g. q*, tcwv).", default=(), null=()
    )
    rescaling: str = setting(
        Choice(RESCALINGS),
        "hens = HENS's hemispheric norm (extratropical RMS ≈ 1.088 T) | area_rms = area-weighted RMS brought to T.",
        default="hens",
    )
    breeding_times: str = setting(
        Choice(BREEDING_TIMES),
        "Analyses the cycles start from: hens = t − (n−1)Δt … t | earth2studio = t − nΔt … t − Δt.",
        default="hens",
    )

    @classmethod
    def derive(cls, values: dict[str, Any], extras: dict[str, Any], cfg: DictConfig, prefix: str) -> dict[str, Any]:
        """An empty amplitude map means none (use the checkpoint's RMSE)."""
        return {**values, "amplitude": values["amplitude"] or None}

    def check(self) -> None:
        """Explicit amplitudes and a skill file would both set T: only one may be given."""
        if self.amplitude and self.amplitude_file:
            raise ConfigError(
                "ensemble.bred_vector.amplitude and ensemble.bred_vector.amplitude_file both set the amplitudes; "
                "set one of them to null"
            )


@dataclass(frozen=True, kw_only=True)
class EnsembleSpec(Group):
    """``ensemble``: the members per start date and how many roll out together."""

    n_perturbations: int = setting(Int(1), "Bred vectors per checkpoint; each is used with + and − sign.")
    perturbation: str = setting(
        Choice(PERTURBATIONS),
        "Initial perturbations: bred = bred vectors (HENS) | gaussian = uncorrelated Gaussian noise rescaled to the "
        "same amplitudes | none = every member starts from the analysis (HENS Part I's alternatives).",
        default="bred",
    )
    control: str = setting(
        Choice(CONTROL_LAYOUTS),
        "Unperturbed controls: hens = member 0 only (as the HENS code) | per_checkpoint = the last − member of "
        "each checkpoint | none.",
        default="hens",
    )
    n_steps: int = setting(Int(1), "Autoregressive model steps (the store holds n_steps + 1 lead times).")
    batch_size: int = setting(
        Int(1),
        "Members rolled out together (the member chunk); divides 2 × n_perturbations; auto = fit to memory.",
        words={"auto": "auto"},
    )
    bred_vector: BredVectorSpec = group(BredVectorSpec, "The bred-vector perturbations.")
    auto_batch: bool = derived("batch_size=auto: batch_size is the upper bound the run lowers to fit.", False)
    max_batch_size: int = setting(Int(1), "batch_size=auto: the largest batch tried.", default=64)
    memory_fraction: float = setting(
        Number(0, 1, low_open=True), "batch_size=auto: share of the free device memory to fill.", default=0.8
    )
    memory_gb: float | None = setting(
        Number(0, low_open=True),
        "batch_size=auto: GiB to plan with instead of the measured free memory.",
        default=None,
        null=None,
    )

    @classmethod
    def derive(cls, values: dict[str, Any], extras: dict[str, Any], cfg: DictConfig, prefix: str) -> dict[str, Any]:
        """batch_size=auto: the largest divisor of the members per checkpoint ≤ max_batch_size (the run lowers it
        to what fits in memory, see hens/inference/memory.py)."""
        if values["batch_size"] != "auto":
            return values
        per_checkpoint = 2 * values["n_perturbations"]
        batch = max(
            d for d in range(1, per_checkpoint + 1) if per_checkpoint % d == 0 and d <= values["max_batch_size"]
        )
        return {**values, "batch_size": batch, "auto_batch": True}

    def check(self) -> None:
        """The member chunk must divide the members of one checkpoint."""
        per_checkpoint = 2 * self.n_perturbations
        if per_checkpoint % self.batch_size != 0:
            divisors = [d for d in range(1, per_checkpoint + 1) if per_checkpoint % d == 0]
            raise ConfigError(
                f"ensemble.batch_size={self.batch_size} must divide the {per_checkpoint} members per checkpoint "
                f"(2 × ensemble.n_perturbations); choose one of {divisors}"
            )


@dataclass(frozen=True, kw_only=True)
class StatisticsSpec(Group):
    """``output.statistics``: in-line ensemble statistics (:mod:`hens.inference.stats`): exceedance thresholds
    per channel (physical units) and how many work items a rank accumulates before saving a partial (the work
    redone after a kill).  :meth:`from_config` gives None when ``output.statistics.enabled`` is false."""

    thresholds: dict[str, tuple[float, ...]] = setting(
        MapOf(ListOf(Number(), nonempty=False), what="a mapping like {z500: [55000, 57000]}"),
        "Exceedance thresholds per channel in physical units; null = none.",
        default={},
        null={},
    )
    flush_items: int = setting(Int(1), "Work items a rank accumulates before saving a partial.", default=32)

    EXTRA_KEYS: ClassVar[dict[str, Setting]] = {
        "enabled": Setting(Flag(), "Accumulate and store the statistics during the rollout.", default=False)
    }

    @classmethod
    def from_config(cls, cfg: DictConfig, prefix: str = "") -> StatisticsSpec | None:  # type: ignore[override]
        """The statistics spec, or None when ``enabled`` is false (every key is validated either way)."""
        values, extras = cls.read_keys(cfg, prefix)
        return cls(**values) if extras["enabled"] else None


@dataclass(frozen=True, kw_only=True)
class OutputSpec(Group):
    """``output``: where and how members are stored.  The encoding keys (dtype, keepbits, compressor) are
    described in ``configs/output/zarr.yaml`` and validated by :class:`hens.io.encoding.EncodingSpec`."""

    path: str = setting(Text(), "The Zarr store; {date} is replaced by the start date of a one-date run.")
    variables: tuple[str, ...] | None = setting(
        _NAMES, "Channels to store; null = every channel of the model.", default=None, null=None
    )
    derived: tuple[str, ...] = setting(
        ListOf(Choice(tuple(DERIVED)), nonempty=False, duplicates="drop"),
        "Derived channels computed from each step's state and stored beside the channels; [] = none.",
        default=(),
        null=(),
        fix="e.g. {key}=[wind_speed_10m,ivt,heat_index]",
    )
    dtype: str = setting(Text(), "On-disk dtype of member fields: float32 | float16.")
    lead_chunk: int = setting(Int(1), "Lead times per chunk; writes stream out every lead_chunk steps.")
    overwrite: bool = setting(Flag(), "Recreate a store that has a different configuration.", default=False)
    verify: bool = setting(Flag(), "On resume, check finished chunks by CRC32C (false: by size only).", default=False)
    write: bool = setting(Flag(), "false: roll out without writing members (benchmarks, dry runs).", default=True)
    max_pending_writes: int = setting(Int(1), "Writes queued in the background writer before the model waits.")
    writer_threads: int | None = setting(
        Int(1),
        "Threads that encode and write chunks; auto = this rank's share of the cores less one, at most 8.",
        default=None,
        null=None,
        words={"auto": None},
    )
    keepbits: int | None = setting(
        Anything(), "Mantissa bits kept per value (bit rounding); null = lossless.", default=None, null=None
    )
    keepbits_by_variable: dict[str, int | None] = setting(
        MapOf(what="a map of channel to mantissa bits"),
        "Per-channel keepbits overriding the default; null = no overrides.",
        default={},
        null={},
        fix="e.g. {key}={z500: 10, t2m: 12}",
    )
    compressor: str = setting(Text(), "Lossless compressor of each chunk: blosc | zstd | none.", default="blosc")
    compression_level: int = setting(
        Anything(), "Compression level (blosc 1..9, zstd 1..22; ignored for none).", default=5, null=None
    )
    members: tuple[int, ...] | None = setting(
        ListOf(Int(0), nonempty=False, duplicates="drop"),
        "Members whose fields are stored: all | none | a list of member indices.",
        default=None,
        null=None,
        words={"all": None, "none": ()},
        fix="e.g. {key}=[0, 1, 2]",
    )
    statistics: StatisticsSpec | None = group(StatisticsSpec, "In-line ensemble statistics (None: disabled).")

    def encoding(self) -> EncodingSpec:
        """The value encoding of the member fields (validated when the spec was built)."""
        return EncodingSpec(
            dtype=self.dtype,
            keepbits=self.keepbits,
            keepbits_by_variable=dict(self.keepbits_by_variable),
            compressor=self.compressor,
            level=self.compression_level,
        )

    def check(self) -> None:
        """Statistics need writing; storing nothing needs statistics; the encoding must be valid (its keys
        named by :class:`EncodingSpec`) and, when the channels are listed, able to hold them."""
        if self.statistics is not None and not self.write:
            raise ConfigError("output.statistics.enabled=true needs output.write=true (statistics are stored)")
        if self.members == () and self.statistics is None:
            raise ConfigError("output.members=none stores nothing; set output.statistics.enabled=true or store members")
        both = sorted(set(self.derived) & set(self.variables or ()))
        if both:
            raise ConfigError(
                f"output.derived and output.variables both name {', '.join(both)}; list a derived channel in one only"
            )
        encoding = self.encoding()
        if self.variables is not None:  # otherwise checked against the model's channels when the store is laid out
            encoding.check_variables((*self.variables, *self.derived))

    def content_fields(self) -> dict[str, Any]:
        """The output keys that change stored values (for the run fingerprint); lossless runs add no keys, so
        their fingerprints are those of stores written before bit rounding existed."""
        fields: dict[str, Any] = {"variables": self.variables, "dtype": self.dtype, "lead_chunk": self.lead_chunk}
        if self.keepbits is not None or self.keepbits_by_variable:
            fields["keepbits"] = self.keepbits
            fields["keepbits_by_variable"] = dict(sorted(self.keepbits_by_variable.items()))
        if self.members is not None:
            fields["members"] = list(self.members)
        if self.derived:  # a key added later: none derived, the identity is unchanged
            fields["derived"] = list(self.derived)
        if self.statistics is not None:
            fields["statistics"] = {k: list(v) for k, v in sorted(self.statistics.thresholds.items())}
        return fields


@dataclass(frozen=True, kw_only=True)
class SlurmDiagnoseSpec(Group):
    """``launcher.diagnose``: the one-node job of `hens slurm render diagnose STORE` (launcher=slurm)."""

    job_name: str = setting(Text(), "SLURM job name.", default="hens-diagnose")
    cpus_per_task: int = setting(Int(1), "Cores of the node (the Dask workers).", default=32)
    gpus: int = setting(Int(0), "GPUs to request (0: a CPU node).", default=0, null=0)
    mem: str | None = setting(
        Text(), "Memory of the node, e.g. 256G; null = the partition's default.", default=None, null=None
    )
    time: str = setting(Text(), "Time limit of the job.", default="02:00:00")
    partition: str | None = setting(Text(), "Partition; null = the generate partition.", default=None, null=None)


@dataclass(frozen=True, kw_only=True)
class LauncherSpec(Group):
    """``launcher``: how ranks meet (every launcher) and, for launcher=slurm, the batch job of `hens slurm` and
    `hens plan` (the defaults are those of ``configs/launcher/slurm.yaml``; :mod:`hens.slurm` renders them)."""

    backend: str = setting(
        Choice(BACKENDS), "torch.distributed backend: auto (nccl on CUDA, gloo on CPU) | gloo | nccl."
    )
    timeout_s: float = setting(Number(), "Seconds to wait for other ranks at barriers.")
    account: str | None = setting(Text(), "slurm: account to charge.", default=None, null=None)
    partition: str | None = setting(Text(), "slurm: partition.", default=None, null=None)
    nodes: int = setting(Int(1), "slurm: nodes per job.", default=1)
    gpus_per_node: int = setting(Int(1), "slurm: GPUs (ranks) per node.", default=4)
    cpus_per_task: int = setting(Int(1), "slurm: cores per rank.", default=8)
    mem: str | None = setting(
        Text(), "slurm: memory per node, e.g. 256G; null = the partition's default.", default=None, null=None
    )
    time: str = setting(Text(), "slurm: time limit of the job.", default="01:30:00")
    job_name: str = setting(Text(), "slurm: job name.", default="hens-generate")
    launch: str = setting(
        Choice(LAUNCHES), "slurm: srun (one process per GPU) | torchrun (one per node).", default="srun"
    )
    array_over_dates: bool = setting(
        Flag(), "slurm: a job array with one task (and store) per start date.", default=False
    )
    array_parallel: int | None = setting(
        Int(1), "slurm: array tasks running at once; null = no limit.", default=None, null=None
    )
    setup: tuple[str, ...] = setting(_NAMES_OR_EMPTY, "slurm: shell lines run before the job.", default=(), null=())
    extra_sbatch: tuple[str, ...] = setting(_NAMES_OR_EMPTY, "slurm: further #SBATCH options.", default=(), null=())
    member_steps_per_second: float | None = setting(
        Number(0, low_open=True),
        "slurm: member-steps/s of one GPU for `hens plan`; null = the built-in figure.",
        default=None,
        null=None,
    )
    diagnose: SlurmDiagnoseSpec = group(SlurmDiagnoseSpec, "slurm: the `hens diagnose` job.")


@dataclass(frozen=True, kw_only=True)
class GenerateSpec(Group):
    """Everything `hens generate` needs, validated.  ``resolved`` is the composed config as plain YAML."""

    seed: int = setting(
        Int(0), "Global seed: every member is a pure function of (seed, date, checkpoint, perturbation)."
    )
    device: str = setting(
        Pattern(r"auto|cpu|cuda(:\d+)?", what="auto, cpu, cuda or cuda:N"),
        "auto (cuda:LOCAL_RANK when CUDA is available, else cpu) | cpu | cuda | cuda:N.",
    )
    threads: int | None = setting(
        Int(1), "CPU threads per process for torch; null = torch's default.", default=None, null=None
    )
    progress: bool = setting(Flag(), "Show a progress bar on rank 0.", default=True)
    model: ModelSpec = group(ModelSpec, "The checkpoints.")
    ic: ICSpec = group(ICSpec, "The initial conditions.")
    ensemble: EnsembleSpec = group(EnsembleSpec, "The members.")
    output: OutputSpec = group(OutputSpec, "The store.")
    launcher: LauncherSpec = group(LauncherSpec, "The processes (and the SLURM job).")
    resolved: str = derived("The composed config as plain YAML (recorded in the store).")
    precision: str = setting(Choice(PRECISIONS), "Arithmetic of the model step: fp32 | tf32 | bf16.", default="fp32")
    compile: str = setting(
        Choice(COMPILE_MODES),
        "torch.compile of the model step: none | default | reduce-overhead (CUDA graphs on GPU) | max-autotune.",
        default="none",
    )

    @classmethod
    def derive(cls, values: dict[str, Any], extras: dict[str, Any], cfg: DictConfig, prefix: str) -> dict[str, Any]:
        """``output.path`` with ``{date}`` replaced (one store per date), and the resolved YAML."""
        output: OutputSpec = values["output"]
        path = date_path(output.path, values["ic"].start_dates)
        if path != output.path:
            output = replace(output, path=path)
        return {**values, "output": output, "resolved": resolved_yaml(cfg)}

    def _memory_planning_keys(self) -> tuple[str, ...]:
        """Ensemble keys left out of the fingerprint: with batch_size=auto the store records the batch it was
        created with (``.hens/run.json``), so a resume on another device or with other limits reuses it."""
        planning = ("memory_fraction", "memory_gb")
        return (*planning, "batch_size", "max_batch_size") if self.ensemble.auto_batch else planning

    def fingerprint_fields(self) -> dict[str, Any]:
        """The fields that determine the store's content (not where or how fast it is written)."""
        fields = {
            "seed": self.seed,
            "model": asdict(self.model),
            "ic": {**asdict(self.ic), "start_dates": [str(t) for t in self.ic.start_dates]},
            "ensemble": {k: v for k, v in asdict(self.ensemble).items() if k not in self._memory_planning_keys()},
            "output": self.output.content_fields(),
        }
        if self.precision != "fp32":
            fields["precision"] = self.precision
        if self.compile != "none":  # compiled kernels round differently; unset, the identity is unchanged
            fields["compile"] = self.compile
        if self.ensemble.bred_vector.amplitude_file is None:  # a key added later: unset, the identity is unchanged
            del fields["ensemble"]["bred_vector"]["amplitude_file"]
        return fields


def generate_spec(cfg: DictConfig) -> GenerateSpec:
    """Validate a composed generate config into a :class:`GenerateSpec` (ConfigError naming the key and fix)."""
    return GenerateSpec.from_config(cfg)


def select_date(start_dates: tuple[np.datetime64, ...], date_index: Any) -> tuple[np.datetime64, ...]:
    """The start dates of this run: all of them, or only entry ``ic.date_index`` (one task of a SLURM job array,
    which passes ``++ic.date_index=$SLURM_ARRAY_TASK_ID``)."""
    if date_index is None:
        return start_dates
    n = len(start_dates)
    if isinstance(date_index, bool) or not isinstance(date_index, int) or not 0 <= date_index < n:
        raise ConfigError(f"ic.date_index={date_index!r} must be an integer in 0…{n - 1} (an entry of ic.start_dates)")
    return (start_dates[date_index],)


def date_tag(t: np.datetime64) -> str:
    """A start date as a file-name-safe tag, e.g. 2023-06-01T00:00 → 20230601T0000."""
    return np.datetime_as_string(np.datetime64(t, "m"), unit="m").replace("-", "").replace(":", "")


def date_path(path: str, start_dates: tuple[np.datetime64, ...]) -> str:
    """``output.path`` with ``{date}`` replaced by the run's only start date (one store per date)."""
    if DATE_PLACEHOLDER not in path:
        return path
    if len(start_dates) != 1:
        raise ConfigError(
            f"output.path={path} has {DATE_PLACEHOLDER} but the run has {len(start_dates)} start dates; pick one "
            "with ic.date_index=K (SLURM job arrays do), or drop {date} from output.path"
        )
    return path.replace(DATE_PLACEHOLDER, date_tag(start_dates[0]))


def fingerprint(fields: dict[str, Any]) -> str:
    """A short stable hash of JSON-serialisable fields (sorted keys)."""
    blob = json.dumps(fields, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
