"""Compose Hydra configs (with command-line overrides) and validate them into frozen, typed specs.

The config groups live in the top-level ``configs/`` folder of the repository, which is installed as the
``hens.configs`` package data, so the same configs are found from a checkout and from an installed wheel.
Every validation error is a one-line :class:`~hens.errors.ConfigError` naming the key and the fix.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from hens.data.channels import LAYOUTS
from hens.ensemble.plan import CONTROL_LAYOUTS
from hens.errors import ConfigError
from hens.io.encoding import STORAGE_DTYPES, EncodingSpec
from hens.perturb.bred_vectors import BREEDING_TIMES
from hens.perturb.rescaling import RESCALINGS


def config_dir() -> Path:
    """The folder holding the Hydra config groups: installed package data first, then the checkout's configs/."""
    installed = Path(__file__).resolve().parent / "configs"  # package data of an installed wheel
    if (installed / "generate.yaml").is_file():
        return installed
    checkout = Path(__file__).resolve().parent.parent / "configs"
    if (checkout / "generate.yaml").is_file():
        return checkout
    raise ConfigError("hens config files not found; reinstall hens (pip install .) from a complete checkout")


def compose_config(config_name: str, overrides: list[str] | None = None) -> DictConfig:
    """Compose ``<config_name>.yaml`` with Hydra's compose API and the given ``key=value`` overrides."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    overrides = list(overrides or [])
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value (e.g. ensemble.n_steps=20)")
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base=None):
            return compose(config_name=config_name, overrides=overrides)
    except (HydraException, OmegaConfBaseException) as err:
        message = " ".join(str(err).split())
        if "is not in struct" in message or "Could not override" in message:
            key = message.split("'")[1] if "'" in message else message
            raise ConfigError(
                f"unknown config key {key!r}; see `hens generate --cfg` for the keys, or add a new one with +{key}=..."
            ) from err
        raise ConfigError(f"invalid configuration: {message}") from err


def _require(cfg: DictConfig, key: str) -> Any:
    value = OmegaConf.select(cfg, key, default=None)
    if value is None:
        raise ConfigError(f"config key {key} is required; set it with {key}=...")
    return value


def _positive_int(cfg: DictConfig, key: str, minimum: int = 1) -> int:
    value = _require(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key}={value!r} must be an integer ≥ {minimum}")
    return int(value)


def _choice(cfg: DictConfig, key: str, allowed: tuple[str, ...]) -> str:
    """A string key restricted to ``allowed``; the first allowed value is the default when the key is absent."""
    value = OmegaConf.select(cfg, key, default=allowed[0])
    if value not in allowed:
        raise ConfigError(f"{key}={value!r} must be one of {', '.join(allowed)}")
    return str(value)


def _control(cfg: DictConfig) -> str:
    """``ensemble.control`` (hens | per_checkpoint | none); the retired boolean ``ensemble.control_member`` is
    refused with the replacement named."""
    old = OmegaConf.select(cfg, "ensemble.control_member", default=None)
    if old is not None:
        raise ConfigError(
            f"ensemble.control_member={old!r} was replaced by ensemble.control: hens (one control, as HENS), "
            "per_checkpoint (the old true) or none (the old false); remove control_member"
        )
    return _choice(cfg, "ensemble.control", CONTROL_LAYOUTS)


def _parse_time(value: Any, key: str) -> np.datetime64:
    try:
        parsed = np.datetime64(str(value), "ns")
    except ValueError as err:
        raise ConfigError(f"{key}: {value!r} is not an ISO 8601 date-time (e.g. 2000-03-01T00:00)") from err
    if np.isnat(parsed):
        raise ConfigError(f"{key}: {value!r} is not a date-time")
    return parsed


@dataclass(frozen=True)
class ModelSpec:
    checkpoint_dir: str
    checkpoints: tuple[str, ...] | None
    dynamics: str = "network"
    physics_stirring: str = "independent"


@dataclass(frozen=True)
class ICSpec:
    """Initial conditions: ``source`` demo (the demo world's truth) or era5 (a Zarr at ``path`` in ``layout``
    auto | wb2 | arco | hens, see :mod:`hens.data.era5`)."""

    source: str
    start_dates: tuple[np.datetime64, ...]
    demo_world: dict[str, Any] | None
    path: str | None = None
    layout: str = "auto"


IC_SOURCES = ("demo", "era5")


@dataclass(frozen=True)
class BredVectorSpec:
    """``ensemble.bred_vector``: ``rescaling`` is one of RESCALINGS (hens | area_rms) and ``breeding_times`` one
    of BREEDING_TIMES (hens | earth2studio); see docs/perturbations.md."""

    n_cycles: int
    amplitude_fraction: float
    amplitude: dict[str, float] | None
    seed_channels: tuple[str, ...]
    noise_length_scale_km: float
    hemisphere_boundary_deg: float
    nonnegative_channels: tuple[str, ...]
    rescaling: str = "hens"
    breeding_times: str = "hens"


@dataclass(frozen=True)
class EnsembleSpec:
    """``ensemble``: ``control`` is one of CONTROL_LAYOUTS (hens | per_checkpoint | none), see
    :mod:`hens.ensemble.plan`."""

    n_perturbations: int
    control: str
    n_steps: int
    batch_size: int
    bred_vector: BredVectorSpec
    auto_batch: bool = False
    max_batch_size: int = 64
    memory_fraction: float = 0.8
    memory_gb: float | None = None


@dataclass(frozen=True)
class StatisticsSpec:
    """In-line ensemble statistics (:mod:`hens.inference.stats`): exceedance thresholds per channel (physical
    units) and how many work items a rank accumulates before saving a partial (the work redone after a kill)."""

    thresholds: dict[str, tuple[float, ...]]
    flush_items: int


@dataclass(frozen=True)
class OutputSpec:
    """Where and how members are stored.  The encoding keys (dtype, keepbits, compressor) are described in
    ``configs/output/zarr.yaml`` and :mod:`hens.io.encoding`."""

    path: str
    variables: tuple[str, ...] | None
    dtype: str
    lead_chunk: int
    overwrite: bool
    write: bool
    max_pending_writes: int
    keepbits: int | None = None
    keepbits_by_variable: dict[str, int | None] = field(default_factory=dict)
    compressor: str = "blosc"
    compression_level: int = 5
    members: tuple[int, ...] | None = None
    statistics: StatisticsSpec | None = None

    def encoding(self) -> EncodingSpec:
        """The value encoding of the member fields (validated when the spec was built)."""
        return EncodingSpec(
            dtype=self.dtype,
            keepbits=self.keepbits,
            keepbits_by_variable=dict(self.keepbits_by_variable),
            compressor=self.compressor,
            level=self.compression_level,
        )

    def content_fields(self) -> dict[str, Any]:
        """The output keys that change stored values (for the run fingerprint); lossless runs add no keys, so
        their fingerprints are those of stores written before bit rounding existed."""
        fields: dict[str, Any] = {"variables": self.variables, "dtype": self.dtype, "lead_chunk": self.lead_chunk}
        if self.keepbits is not None or self.keepbits_by_variable:
            fields["keepbits"] = self.keepbits
            fields["keepbits_by_variable"] = dict(sorted(self.keepbits_by_variable.items()))
        if self.members is not None:
            fields["members"] = list(self.members)
        if self.statistics is not None:
            fields["statistics"] = {k: list(v) for k, v in sorted(self.statistics.thresholds.items())}
        return fields


@dataclass(frozen=True)
class LauncherSpec:
    backend: str
    timeout_s: float


@dataclass(frozen=True)
class GenerateSpec:
    """Everything `hens generate` needs, validated.  ``resolved`` is the composed config as plain YAML."""

    seed: int
    device: str
    threads: int | None
    progress: bool
    model: ModelSpec
    ic: ICSpec
    ensemble: EnsembleSpec
    output: OutputSpec
    launcher: LauncherSpec
    resolved: str
    precision: str = "fp32"

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
        return fields


DYNAMICS = ("network", "demo_physics")
PRECISIONS = ("fp32", "tf32", "bf16")
SUPPORTED_DTYPES = STORAGE_DTYPES
DATE_PLACEHOLDER = "{date}"


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


def _stored_members(cfg: DictConfig) -> tuple[int, ...] | None:
    """``output.members``: all (None) | none (()) | a list of member indices (checked against the plan later)."""
    value = OmegaConf.select(cfg, "output.members", default="all")
    if value is None or value == "all":
        return None
    if value == "none":
        return ()
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not OmegaConf.is_list(value) and not isinstance(value, list):
        raise ConfigError(f"output.members={value!r} must be all, none or a list of member indices like [0, 1, 2]")
    try:
        members = tuple(sorted({int(m) for m in value}))
    except (TypeError, ValueError) as err:
        raise ConfigError(f"output.members={list(value)!r} must hold integer member indices") from err
    if members and members[0] < 0:
        raise ConfigError(f"output.members has a negative index {members[0]}; member indices start at 0")
    return members


def _statistics_spec(cfg: DictConfig) -> StatisticsSpec | None:
    """``output.statistics``: None when disabled, else thresholds per channel and the flush interval."""
    if not bool(OmegaConf.select(cfg, "output.statistics.enabled", default=False)):
        return None
    raw = OmegaConf.select(cfg, "output.statistics.thresholds", default=None) or {}
    if not isinstance(raw, DictConfig) and not isinstance(raw, dict):
        raise ConfigError("output.statistics.thresholds must be a mapping like {z500: [55000, 57000]}")
    thresholds: dict[str, tuple[float, ...]] = {}
    for name, values in dict(raw).items():
        values = [values] if isinstance(values, (int, float)) else list(values or [])
        try:
            thresholds[str(name)] = tuple(float(v) for v in values)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"output.statistics.thresholds.{name} must be numbers (physical units)") from err
    flush = OmegaConf.select(cfg, "output.statistics.flush_items", default=32)
    if not isinstance(flush, int) or isinstance(flush, bool) or flush < 1:
        raise ConfigError(f"output.statistics.flush_items={flush!r} must be a positive integer")
    return StatisticsSpec(thresholds=thresholds, flush_items=flush)


def generate_spec(cfg: DictConfig) -> GenerateSpec:
    """Validate a composed generate config into a :class:`GenerateSpec`."""
    seed = _require(cfg, "seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed={seed!r} must be a non-negative integer")
    device = str(_require(cfg, "device"))
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise ConfigError(f"device={device!r} must be auto, cpu, cuda or cuda:N")
    threads = OmegaConf.select(cfg, "threads", default=None)
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ConfigError(f"threads={threads!r} must be a positive integer or null")
    precision = str(OmegaConf.select(cfg, "precision", default="fp32"))
    if precision not in PRECISIONS:
        raise ConfigError(f"precision={precision!r} must be one of {', '.join(PRECISIONS)}")

    checkpoints = OmegaConf.select(cfg, "model.checkpoints", default=None)
    model = ModelSpec(
        checkpoint_dir=str(_require(cfg, "model.checkpoint_dir")),
        checkpoints=tuple(str(c) for c in checkpoints) if checkpoints is not None else None,
        dynamics=str(OmegaConf.select(cfg, "model.dynamics", default="network")),
        physics_stirring=str(OmegaConf.select(cfg, "model.physics_stirring", default="independent")),
    )
    if model.dynamics not in DYNAMICS:
        raise ConfigError(f"model.dynamics={model.dynamics!r} is not one of {', '.join(DYNAMICS)}")
    if model.physics_stirring not in ("independent", "none"):
        raise ConfigError(f"model.physics_stirring={model.physics_stirring!r} must be independent or none")
    if model.checkpoints is not None and len(model.checkpoints) == 0:
        raise ConfigError("model.checkpoints is empty; list package names or set model.checkpoints=null for all")

    dates = _require(cfg, "ic.start_dates")
    if isinstance(dates, str):
        dates = [dates]
    start_dates = tuple(_parse_time(d, "ic.start_dates") for d in dates)
    if not start_dates:
        raise ConfigError("ic.start_dates is empty; give at least one start date")
    if len(set(start_dates)) != len(start_dates):
        raise ConfigError("ic.start_dates has duplicates; list each start date once")
    start_dates = select_date(start_dates, OmegaConf.select(cfg, "ic.date_index", default=None))
    demo_world = OmegaConf.select(cfg, "ic.demo_world", default=None)
    ic = ICSpec(
        source=str(_require(cfg, "ic.source")),
        start_dates=start_dates,
        demo_world=OmegaConf.to_container(demo_world) if demo_world is not None else None,
        path=OmegaConf.select(cfg, "ic.path", default=None),
        layout=str(OmegaConf.select(cfg, "ic.layout", default="auto")),
    )
    if ic.source not in IC_SOURCES:
        raise ConfigError(f"ic.source={ic.source!r} is not supported; use one of {', '.join(IC_SOURCES)}")
    if ic.source == "era5" and not ic.path:
        raise ConfigError("ic.path is required for ic.source=era5; set ic.path=<ERA5 Zarr store>")
    if ic.layout not in LAYOUTS:
        raise ConfigError(f"ic.layout={ic.layout!r} is not a layout; use one of {', '.join(LAYOUTS)}")

    bv = cfg.ensemble.bred_vector
    amplitude = OmegaConf.select(cfg, "ensemble.bred_vector.amplitude", default=None)
    bred = BredVectorSpec(
        n_cycles=_positive_int(cfg, "ensemble.bred_vector.n_cycles"),
        amplitude_fraction=float(_require(cfg, "ensemble.bred_vector.amplitude_fraction")),
        amplitude={str(k): float(v) for k, v in OmegaConf.to_container(amplitude).items()} if amplitude else None,
        seed_channels=tuple(str(c) for c in bv.seed_channels),
        noise_length_scale_km=float(_require(cfg, "ensemble.bred_vector.noise_length_scale_km")),
        hemisphere_boundary_deg=float(_require(cfg, "ensemble.bred_vector.hemisphere_boundary_deg")),
        nonnegative_channels=tuple(str(c) for c in (bv.nonnegative_channels or [])),
        rescaling=_choice(cfg, "ensemble.bred_vector.rescaling", RESCALINGS),
        breeding_times=_choice(cfg, "ensemble.bred_vector.breeding_times", BREEDING_TIMES),
    )
    if not bred.amplitude_fraction > 0:
        raise ConfigError("ensemble.bred_vector.amplitude_fraction must be > 0")
    if not 0 <= bred.hemisphere_boundary_deg < 90:
        raise ConfigError("ensemble.bred_vector.hemisphere_boundary_deg must be in [0, 90)")
    if not bred.seed_channels:
        raise ConfigError("ensemble.bred_vector.seed_channels is empty; name at least one channel (e.g. [z500])")
    n_perturbations = _positive_int(cfg, "ensemble.n_perturbations")
    auto_batch = OmegaConf.select(cfg, "ensemble.batch_size", default=None) == "auto"
    max_batch = OmegaConf.select(cfg, "ensemble.max_batch_size", default=64)
    if not isinstance(max_batch, int) or isinstance(max_batch, bool) or max_batch < 1:
        raise ConfigError(f"ensemble.max_batch_size={max_batch!r} must be a positive integer")
    fraction = float(OmegaConf.select(cfg, "ensemble.memory_fraction", default=0.8))
    if not 0 < fraction <= 1:
        raise ConfigError(f"ensemble.memory_fraction={fraction} must be in (0, 1]")
    memory_gb = OmegaConf.select(cfg, "ensemble.memory_gb", default=None)
    if memory_gb is not None and not float(memory_gb) > 0:
        raise ConfigError(f"ensemble.memory_gb={memory_gb} must be > 0 GiB (or null to measure the free memory)")
    if auto_batch:  # the upper bound; the run lowers it to what fits in memory (hens/inference/memory.py)
        batch_size = max(
            d for d in range(1, 2 * n_perturbations + 1) if (2 * n_perturbations) % d == 0 and d <= max_batch
        )
    else:
        value = _require(cfg, "ensemble.batch_size")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"ensemble.batch_size={value!r} must be a positive integer or auto (fit to free memory)")
        batch_size = int(value)
    ensemble = EnsembleSpec(
        n_perturbations=n_perturbations,
        control=_control(cfg),
        n_steps=_positive_int(cfg, "ensemble.n_steps"),
        batch_size=batch_size,
        bred_vector=bred,
        auto_batch=auto_batch,
        max_batch_size=max_batch,
        memory_fraction=fraction,
        memory_gb=None if memory_gb is None else float(memory_gb),
    )
    per_checkpoint = 2 * ensemble.n_perturbations
    if per_checkpoint % ensemble.batch_size != 0:
        divisors = [d for d in range(1, per_checkpoint + 1) if per_checkpoint % d == 0]
        raise ConfigError(
            f"ensemble.batch_size={ensemble.batch_size} must divide the {per_checkpoint} members per checkpoint "
            f"(2 × ensemble.n_perturbations); choose one of {divisors}"
        )

    variables = OmegaConf.select(cfg, "output.variables", default=None)
    if isinstance(variables, str):
        variables = [variables]
    output = OutputSpec(
        path=date_path(str(_require(cfg, "output.path")), start_dates),
        variables=tuple(str(v) for v in variables) if variables is not None else None,
        dtype=str(_require(cfg, "output.dtype")),
        lead_chunk=_positive_int(cfg, "output.lead_chunk"),
        overwrite=bool(OmegaConf.select(cfg, "output.overwrite", default=False)),
        write=bool(OmegaConf.select(cfg, "output.write", default=True)),
        max_pending_writes=_positive_int(cfg, "output.max_pending_writes"),
        keepbits=OmegaConf.select(cfg, "output.keepbits", default=None),
        keepbits_by_variable=_keepbits_map(cfg),
        compressor=str(OmegaConf.select(cfg, "output.compressor", default="blosc")),
        compression_level=OmegaConf.select(cfg, "output.compression_level", default=5),
        members=_stored_members(cfg),
        statistics=_statistics_spec(cfg),
    )
    if output.statistics is not None and not output.write:
        raise ConfigError("output.statistics.enabled=true needs output.write=true (statistics are stored)")
    if output.members == () and output.statistics is None:
        raise ConfigError("output.members=none stores nothing; set output.statistics.enabled=true or store members")
    if output.variables is not None and not output.variables:
        raise ConfigError("output.variables is empty; list channels or set output.variables=null for all")
    encoding = output.encoding()  # ConfigError naming the key for a bad dtype, keepbits, compressor or level
    if output.variables is not None:  # otherwise checked against the model's channels when the store is laid out
        encoding.check_variables(output.variables)

    backend = str(_require(cfg, "launcher.backend"))
    if backend not in ("auto", "gloo", "nccl"):
        raise ConfigError(f"launcher.backend={backend!r} must be auto, gloo or nccl")
    launcher = LauncherSpec(backend=backend, timeout_s=float(_require(cfg, "launcher.timeout_s")))

    return GenerateSpec(
        seed=int(seed),
        device=device,
        threads=threads,
        precision=precision,
        progress=bool(OmegaConf.select(cfg, "progress", default=True)),
        model=model,
        ic=ic,
        ensemble=ensemble,
        output=output,
        launcher=launcher,
        resolved=OmegaConf.to_yaml(cfg, resolve=True),
    )


def _keepbits_map(cfg: DictConfig) -> dict[str, int | None]:
    value = OmegaConf.select(cfg, "output.keepbits_by_variable", default=None)
    if value is None:
        return {}
    if not isinstance(value, DictConfig):
        raise ConfigError(
            f"output.keepbits_by_variable={value!r} must be a map of channel to mantissa bits, e.g. "
            "output.keepbits_by_variable={z500: 10, t2m: 12}"
        )
    return {str(k): v for k, v in OmegaConf.to_container(value).items()}


def fingerprint(fields: dict[str, Any]) -> str:
    """A short stable hash of JSON-serialisable fields (sorted keys)."""
    blob = json.dumps(fields, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
