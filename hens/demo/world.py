"""The demo world's truth and analyses: the two-layer baroclinic model (:mod:`hens.demo.baroclinic`) every 6 hours.

The model runs at T42 on a 64×128 Gauss grid; the truth is its state spectrally truncated to what the 33×64
equiangular output grid resolves (5.625°, both poles, like 721×1440 at 0.25°), so the truth has scales the demo
SFNOs cannot see, as the real atmosphere has.  Channels (:data:`DEMO_CHANNELS`, named like weather variables):

    z500 z850        geopotential                     m² s⁻²
    t850             850–500 hPa layer-mean (thickness) temperature   K
    u250 v250 u500 v500 u850 v850   winds             m s⁻¹

Its weather comes from baroclinic instability (no stochastic stirring): twin runs a tiny difference apart double
their error in ≈1.3 days and saturate in ≈19 days (docs/demo_world.md, ``scripts/measure_chaos.py``).

**Analyses** (:func:`analysis_states`) are what a forecast system starts from: the truth plus an *analysis error*,
a balanced, spatially correlated random streamfunction error (see :func:`analysis_error_channels`), a pure function
of (seed, sample index).  Initial conditions and breeding come from analyses; verification uses the truth.

The trajectory is a pure function of :class:`DemoWorldSpec`: its state at ``epoch`` comes from a spin-up of
``spin_up_days`` from seeded noise on radiative equilibrium (the spun-up state of the default world ships with
hens, so a cold start integrates only from the epoch), then it is integrated forward.  Computed samples are
cached in blocks of ``block_days`` under ``demo_cache_dir()/demo-truth-<fingerprint>/`` (atomic writes: several
ranks may ask at once), so the trajectory is extended only as far as needed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hens.demo.baroclinic import (
    BAROCLINIC_CHANNELS,
    Baroclinic,
    BaroclinicParams,
    BaroclinicState,
    shipped_state,
)
from hens.errors import ConfigError, HensError

log = logging.getLogger("hens.demo")

DEMO_CHANNELS: tuple[str, ...] = BAROCLINIC_CHANNELS


@dataclass(frozen=True)
class DemoWorldSpec:
    """Every parameter of the demo truth and its analyses (defaults: the world the shipped checkpoints know).

    ``physics`` holds the two-layer model's parameters (:class:`~hens.demo.baroclinic.BaroclinicParams`, its
    ``out_nlat`` × ``out_nlon`` is the output grid).  The analysis error is a streamfunction error in both layers
    whose kinetic energy per total wavenumber l ∝ exp(−((l − ``analysis_error_peak_l``)/``analysis_error_width_l``)²),
    scaled so that the area-weighted RMS of its z500 over the extratropics (|lat| ≥ 20°) is ``analysis_error_z500``
    (m² s⁻²; 100 ≈ 10 m, about 7 % of the extratropical z500 σ); 0 makes analyses equal the truth.
    """

    sample_hours: int = 6
    epoch: str = "2000-01-01T00:00"
    seed: int = 0
    spin_up_days: int = 200
    block_days: int = 30
    physics: BaroclinicParams = field(default_factory=BaroclinicParams)
    analysis_error_z500: float = 100.0
    analysis_error_peak_l: float = 8.0
    analysis_error_width_l: float = 5.0

    def fingerprint(self) -> str:
        """Short stable hash of every field that shapes the truth (cache keys, store metadata)."""
        truth = {k: v for k, v in asdict(self).items() if not k.startswith("analysis_error")}
        return hashlib.sha256(json.dumps(truth, sort_keys=True).encode()).hexdigest()[:12]

    @property
    def nlat(self) -> int:
        return self.physics.out_nlat

    @property
    def nlon(self) -> int:
        return self.physics.out_nlon

    def lat(self) -> np.ndarray:
        """Latitudes in degrees, north → south, both poles, shape (nlat,)."""
        return np.linspace(90.0, -90.0, self.nlat)

    def lon(self) -> np.ndarray:
        """Longitudes in degrees east, 0 … 360 − Δ, shape (nlon,)."""
        return np.arange(self.nlon) * (360.0 / self.nlon)

    @property
    def samples_per_block(self) -> int:
        return self.block_days * 24 // self.sample_hours

    @property
    def steps_per_sample(self) -> int:
        n = self.sample_hours * 3600.0 / self.physics.dt_s
        if abs(n - round(n)) > 1e-9:
            raise ConfigError(f"physics.dt_s={self.physics.dt_s} does not divide sample_hours={self.sample_hours}")
        return int(round(n))


def demo_world_spec(values: Mapping[str, Any] | None) -> DemoWorldSpec:
    """A :class:`DemoWorldSpec` from plain values (``ic.demo_world``, or a store's recorded ``asdict``): the model's
    parameters under ``physics``.  A ConfigError names an unknown key and where the keys are listed."""
    values = dict(values or {})
    physics = values.pop("physics", None) or {}
    known = {f.name for f in fields(DemoWorldSpec)} - {"physics"}
    known_physics = {f.name for f in fields(BaroclinicParams)}
    unknown = sorted(set(values) - known) + [f"physics.{k}" for k in sorted(set(physics) - known_physics)]
    if unknown:
        raise ConfigError(
            f"ic.demo_world has unknown key(s) {', '.join(unknown)}; the keys are DemoWorldSpec's fields "
            f"({', '.join(sorted(known))}) and physics.<BaroclinicParams field> (hens/demo/world.py, baroclinic.py)"
        )
    return DemoWorldSpec(**values, physics=BaroclinicParams(**physics))


def demo_cache_dir() -> Path:
    """``$HENS_CACHE_DIR`` if set, else ``~/.cache/hens``."""
    return Path(os.environ.get("HENS_CACHE_DIR") or Path.home() / ".cache" / "hens")


@lru_cache(maxsize=4)
def world_model(physics: BaroclinicParams) -> Baroclinic:
    """The two-layer model of ``physics`` (transforms built once per parameter set; shared by the truth, the
    analyses and the physics-ensemble baseline, :mod:`hens.demo.physics`)."""
    return Baroclinic(physics)


class one_thread:
    """The model's small transforms run fastest on one thread (several threads oversubscribe 2 cores)."""

    def __enter__(self) -> None:
        self.before = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self.before)


def epoch_day(spec: DemoWorldSpec) -> float:
    """Day of the year (0 = 1 January 00 UTC) of the epoch: the model calendar of the seasonal forcing."""
    t = np.datetime64(spec.epoch, "m")
    start = t.astype("datetime64[Y]").astype("datetime64[m]")
    return float((t - start) / np.timedelta64(1, "D"))


def spin_up(spec: DemoWorldSpec) -> BaroclinicState:
    """The model state at the epoch: the shipped spin-up for the default physics and seed, else a fresh one
    (``spin_up_days`` from seeded noise); its calendar day is set to the epoch's day of the year."""
    state = shipped_state(spec.physics) if (spec.seed, spec.spin_up_days) == (0, 200) else None
    if state is None:
        log.info("hens: spinning up the demo world (%d days)", spec.spin_up_days)
        with one_thread():
            state = world_model(spec.physics).spin_up(spec.seed, spec.spin_up_days)
    return BaroclinicState(state.q, epoch_day(spec))


def _atomic_save(path: Path, **arrays: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _block_path(spec: DemoWorldSpec, index: int) -> Path:
    return demo_cache_dir() / f"demo-truth-{spec.fingerprint()}" / f"block_{index:05d}.npz"


def _end_state(spec: DemoWorldSpec, index: int) -> BaroclinicState:
    """The model state after block ``index`` (the start of block index + 1), computing the missing blocks from
    the last cached one forward (a loop, not a recursion: far dates need hundreds of blocks)."""
    first = index
    while first >= 0 and not _block_path(spec, first).is_file():
        first -= 1
    for k in range(first + 1, index + 1):
        log.info(
            "hens: building the demo-world truth, block %d of %d (%d days each; cached in %s)",
            k - first,
            index - first,
            spec.block_days,
            _block_path(spec, k).parent,
        )
        _block(spec, k)
    with np.load(_block_path(spec, index)) as cached:
        return BaroclinicState(torch.from_numpy(cached["end_q"]), float(cached["end_day"]))


def _block(spec: DemoWorldSpec, index: int) -> np.ndarray:
    """Samples ``[samples_per_block, C, nlat, nlon]`` of block ``index`` (computed and cached if needed)."""
    path = _block_path(spec, index)
    if path.is_file():
        with np.load(path) as cached:
            return cached["samples"]
    state = spin_up(spec) if index == 0 else _end_state(spec, index - 1)
    model = world_model(spec.physics)
    samples = []
    with torch.no_grad(), one_thread():
        for _ in range(spec.samples_per_block):
            samples.append(model.to_channels(state)[0])
            state = model.step(state, spec.steps_per_sample)
    out = np.stack(samples)
    _atomic_save(path, samples=out, end_q=state.q.numpy(), end_day=np.float64(state.day))
    return out


DEMO_HORIZON_DAYS = 3660
"""How far past its epoch the demo world is offered (ten years; each further day costs computing every day
before it once)."""


def sample_indices(spec: DemoWorldSpec, times: np.ndarray) -> np.ndarray:
    """Sample numbers since the epoch of ``times``; a HensError names the first time off the 6-h grid."""
    epoch = np.datetime64(spec.epoch, "ns")
    step = np.timedelta64(spec.sample_hours, "h").astype("timedelta64[ns]")
    offsets = np.asarray(times, dtype="datetime64[ns]") - epoch
    bad = (offsets < np.timedelta64(0, "ns")) | (offsets % step != np.timedelta64(0, "ns"))
    beyond = offsets > np.timedelta64(DEMO_HORIZON_DAYS, "D")
    if beyond.any():
        t = np.asarray(times, dtype="datetime64[ns]")[beyond][0]
        last = np.datetime64(spec.epoch, "D") + np.timedelta64(DEMO_HORIZON_DAYS, "D")
        raise HensError(
            f"the demo world has no state at {np.datetime_as_string(t, unit='m')}: it is integrated forward from "
            f"{spec.epoch} and offered up to {last} ({DEMO_HORIZON_DAYS} days); choose times before {last}"
        )
    if bad.any():
        t = np.asarray(times, dtype="datetime64[ns]")[bad][0]
        raise HensError(
            f"the demo world has no state at {np.datetime_as_string(t, unit='m')}: it starts at {spec.epoch} "
            f"and is sampled every {spec.sample_hours} h; choose times on that grid"
        )
    return (offsets // step).astype(np.int64)


def truth_states(spec: DemoWorldSpec, times: Sequence[np.datetime64] | np.ndarray) -> np.ndarray:
    """The truth at ``times``: float32 ``[T, C, nlat, nlon]`` in physical units (channels ``DEMO_CHANNELS``)."""
    with torch.no_grad():
        indices = sample_indices(spec, np.atleast_1d(np.asarray(times)))
        per_block = spec.samples_per_block
        out = np.empty((len(indices), len(DEMO_CHANNELS), spec.nlat, spec.nlon), dtype=np.float32)
        for block in np.unique(indices // per_block):
            samples = _block(spec, int(block))
            sel = indices // per_block == block
            out[sel] = samples[indices[sel] % per_block]
        return out


def _error_generator(spec: DemoWorldSpec, index: int) -> torch.Generator:
    """The generator of the analysis error at sample ``index``: a pure function of (seed, index)."""
    blob = f"hens-demo-analysis-error/{spec.seed}/{index}".encode()
    gen = torch.Generator()
    gen.manual_seed(int.from_bytes(hashlib.sha256(blob).digest()[:8], "little") & (2**63 - 1))
    return gen


def extratropical_rms(field_: np.ndarray, lat_deg: np.ndarray, boundary_deg: float = 20.0) -> np.ndarray:
    """Area-weighted (cos-latitude) RMS over |lat| ≥ ``boundary_deg`` of ``field_`` ``[..., nlat, nlon]``."""
    w = np.cos(np.deg2rad(lat_deg)) * (np.abs(lat_deg) >= boundary_deg)
    w = np.clip(w, 0.0, None)[:, None] * np.ones(field_.shape[-1])
    return np.sqrt((field_**2 * w).sum(axis=(-2, -1)) / w.sum())


def analysis_error_channels(spec: DemoWorldSpec, indices: Sequence[int]) -> np.ndarray:
    """Analysis errors of samples ``indices`` as channels: float64 ``[T, C, nlat, nlon]``.

    Each is a streamfunction error ε_k,lm (layers k = 1, 2 independent), complex Gaussian with
    E|ε_lm|² ∝ exp(−((l − l₀)/w)²) / (l(l+1)) for l ≥ 1 (kinetic energy per degree ∝ (2l+1) exp(−((l − l₀)/w)²)),
    mapped to channels by the truth's own (linear) channel operator — so heights, t850 and winds are balanced
    and consistent — then scaled so its extratropical z500 RMS is exactly ``analysis_error_z500``.
    """
    model = world_model(spec.physics)
    L = model.L
    ell = torch.arange(L, dtype=torch.float64).reshape(-1, 1)
    shape = torch.exp(-(((ell - spec.analysis_error_peak_l) / spec.analysis_error_width_l) ** 2))
    std = torch.where(ell > 0, torch.sqrt(shape / torch.clamp(ell * (ell + 1), min=1.0)), 0.0) * model.mask
    zero = model.channels64(BaroclinicState(torch.zeros(1, 2, L, L, dtype=torch.complex128), 0.0))
    out = np.empty((len(indices), len(DEMO_CHANNELS), spec.nlat, spec.nlon))
    z500 = DEMO_CHANNELS.index("z500")
    for i, index in enumerate(indices):
        noise = torch.randn(1, 2, L, L, 2, generator=_error_generator(spec, int(index)), dtype=torch.float64)
        psi = torch.view_as_complex(noise) * std
        psi[..., 0] = psi[..., 0].real.to(psi.dtype)  # m = 0 coefficients of a real field are real
        err = (model.channels64(BaroclinicState(model.pv(psi), 0.0)) - zero)[0].numpy()
        rms = float(extratropical_rms(err[z500], spec.lat()))
        out[i] = err * (spec.analysis_error_z500 / rms if rms > 0 else 0.0)
    return out


def analysis_states(spec: DemoWorldSpec, times: Sequence[np.datetime64] | np.ndarray) -> np.ndarray:
    """Analyses at ``times``: the truth plus :func:`analysis_error_channels`, float32 ``[T, C, nlat, nlon]``."""
    truth = truth_states(spec, times)
    if spec.analysis_error_z500 == 0.0:
        return truth
    indices = sample_indices(spec, np.atleast_1d(np.asarray(times)))
    with torch.no_grad(), one_thread():
        err = analysis_error_channels(spec, indices)
    return (truth.astype(np.float64) + err).astype(np.float32)


def truth_dataset(spec: DemoWorldSpec, start: str | np.datetime64, end: str | np.datetime64):
    """The truth every ``sample_hours`` from ``start`` to ``end`` inclusive as a CF-labelled xarray Dataset."""
    import xarray as xr

    from hens.io.cf import channel_attrs

    try:
        t0, t1 = np.datetime64(start, "ns"), np.datetime64(end, "ns")
    except ValueError as err:
        raise HensError(f"{start!r} / {end!r}: not ISO 8601 date-times") from err
    if t1 < t0:
        raise HensError(f"end {end} is before start {start}; swap them")
    step = np.timedelta64(spec.sample_hours, "h")
    times = np.arange(t0, t1 + step, step).astype("datetime64[ns]")
    data = truth_states(spec, times)
    return xr.Dataset(
        {name: (("time", "lat", "lon"), data[:, c], channel_attrs(name)) for c, name in enumerate(DEMO_CHANNELS)},
        coords={
            "time": times,
            "lat": ("lat", spec.lat(), {"units": "degrees_north", "standard_name": "latitude"}),
            "lon": ("lon", spec.lon(), {"units": "degrees_east", "standard_name": "longitude"}),
        },
        attrs={
            "Conventions": "CF-1.10",
            "title": "hens demo world truth (two-layer baroclinic quasi-geostrophic model on the sphere)",
            "hens_demo_world": json.dumps(asdict(spec), sort_keys=True),
        },
    )


def with_changes(spec: DemoWorldSpec, **changes: Any) -> DemoWorldSpec:
    """``spec`` with fields replaced; ``physics=dict`` replaces model parameters (a convenience for scripts)."""
    physics = changes.pop("physics", None)
    if physics:
        changes["physics"] = replace(spec.physics, **physics)
    return replace(spec, **changes)


__all__ = [
    "DEMO_CHANNELS",
    "DEMO_HORIZON_DAYS",
    "DemoWorldSpec",
    "analysis_error_channels",
    "analysis_states",
    "demo_cache_dir",
    "demo_world_spec",
    "sample_indices",
    "spin_up",
    "truth_dataset",
    "truth_states",
    "world_model",
]
