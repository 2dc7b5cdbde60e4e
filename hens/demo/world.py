"""The demo world's truth: a forced shallow-water model (:mod:`hens.demo.solver`) sampled every 6 hours.

The model runs at T42 on a 64×128 Gauss grid; the truth is its state spectrally truncated and evaluated on the
33×64 equiangular grid (5.625°, both poles, like 721×1440 at 0.25°) that the demo SFNOs use — so the truth has
scales the forecast models cannot see, as the real atmosphere has.  Channels, named like weather variables:

    z500  geopotential φ = g h            m² s⁻²   (mean ≈ 5.4·10⁴, like the real 500 hPa surface)
    u500  eastward wind                   m s⁻¹
    v500  northward wind                  m s⁻¹

The trajectory is a pure function of :class:`DemoWorldSpec`: its state at ``epoch`` comes from a spin-up of
``spin_up_days`` from a seeded rest state (the spun-up state of the default spec ships with hens, so a cold
start integrates only from the epoch), then it is integrated forward.  Computed samples are cached in blocks of
``block_days`` under ``demo_cache_dir()/demo-truth-<fingerprint>/`` (atomic writes: several ranks may ask at
once), so the trajectory is extended only as far as needed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hens.errors import HensError

log = logging.getLogger("hens.demo")

DEMO_CHANNELS: tuple[str, ...] = ("z500", "u500", "v500")
SHIPPED_EPOCH_STATE = Path(__file__).resolve().parent / "epoch_state.npz"


@dataclass(frozen=True)
class DemoWorldSpec:
    """Every parameter of the demo truth (defaults: the world the shipped checkpoints were trained on)."""

    nlat: int = 33
    nlon: int = 64
    sample_hours: int = 6
    epoch: str = "2000-01-01T00:00"
    seed: int = 0
    spin_up_days: int = 150
    block_days: int = 30
    solver_nlat: int = 64
    solver_nlon: int = 128
    solver_lmax: int = 43
    solver_dt_s: float = 900.0
    phi0: float = 5.4e4
    delta_phi: float = 1.1e4
    jet_latitude_deg: float = 45.0
    jet_width_deg: float = 9.0
    southern_gradient: float = 0.85
    tau_relax_days: float = 4.0
    tau_drag_days: float = 20.0
    tau_hyperdiffusion_hours: float = 12.0
    mountain_geopotential: float = 1.0e4
    tropical_damping_days: float = 1.0
    tropical_damping_width_deg: float = 15.0
    stir_amplitude: float = 1.0e-10

    def fingerprint(self) -> str:
        """Short stable hash of every field (cache keys, store metadata)."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]

    def lat(self) -> np.ndarray:
        """Latitudes in degrees, north → south, both poles, shape (nlat,)."""
        return np.linspace(90.0, -90.0, self.nlat)

    def lon(self) -> np.ndarray:
        """Longitudes in degrees east, 0 … 360 − Δ, shape (nlon,)."""
        return np.arange(self.nlon) * (360.0 / self.nlon)

    @property
    def samples_per_block(self) -> int:
        return self.block_days * 24 // self.sample_hours

    def solver_kwargs(self) -> dict[str, float | int]:
        return {
            "nlat": self.solver_nlat,
            "nlon": self.solver_nlon,
            "lmax": self.solver_lmax,
            "dt": self.solver_dt_s,
            "phi0": self.phi0,
            "delta_phi": self.delta_phi,
            "jet_latitude_deg": self.jet_latitude_deg,
            "jet_width_deg": self.jet_width_deg,
            "southern_gradient": self.southern_gradient,
            "tau_relax_days": self.tau_relax_days,
            "tau_drag_days": self.tau_drag_days,
            "tau_hyperdiffusion_hours": self.tau_hyperdiffusion_hours,
            "mountain_geopotential": self.mountain_geopotential,
            "tropical_damping_days": self.tropical_damping_days,
            "tropical_damping_width_deg": self.tropical_damping_width_deg,
            "stir_amplitude": self.stir_amplitude,
        }


def demo_cache_dir() -> Path:
    """``$HENS_CACHE_DIR`` if set, else ``~/.cache/hens``."""
    return Path(os.environ.get("HENS_CACHE_DIR") or Path.home() / ".cache" / "hens")


class _Projector:
    """Solver state → (z500, u500, v500) on the output equiangular grid, by spectral truncation."""

    def __init__(self, spec: DemoWorldSpec, solver) -> None:
        import torch_harmonics as th

        lmax = min(solver.lmax, (spec.nlat + 1) // 2, spec.nlon // 2)
        self.lmax = lmax
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.isht = th.InverseRealSHT(spec.nlat, spec.nlon, lmax=lmax, mmax=lmax, grid="equiangular").double()
            self.ivsht = th.InverseRealVectorSHT(
                spec.nlat, spec.nlon, lmax=lmax, mmax=lmax, grid="equiangular"
            ).double()
        self.invlap = solver.invlap[:lmax, :lmax]
        self.radius = solver.radius

    def __call__(self, state: torch.Tensor) -> np.ndarray:
        spec = state[:, : self.lmax, : self.lmax]
        z = self.isht(spec[0])
        uv = self.ivsht(self.invlap * spec[1:] / self.radius)
        return torch.cat([z[None], uv]).numpy().astype(np.float32)


@lru_cache(maxsize=4)
def world_model(spec: DemoWorldSpec) -> tuple[Any, Any]:
    """The world's solver and the projector between its spectral state and the output grid (built once per spec;
    shared by the truth and the physics-ensemble baseline, :mod:`hens.demo.physics`)."""
    from hens.demo.solver import ForcedShallowWater

    solver = ForcedShallowWater(**spec.solver_kwargs())
    return solver, _Projector(spec, solver)


def spin_up(spec: DemoWorldSpec) -> torch.Tensor:
    """The solver state at the epoch: the shipped one for the default spec, else a fresh spin-up."""
    if SHIPPED_EPOCH_STATE.is_file():
        with np.load(SHIPPED_EPOCH_STATE) as shipped:
            if str(shipped["fingerprint"]) == spec.fingerprint():
                return torch.from_numpy(shipped["state"])
    solver, _ = world_model(spec)
    state = solver.initial_state(spec.seed)
    n = spec.spin_up_days * 24 // spec.sample_hours
    with _one_thread():
        for index in range(-n, 0):
            state = solver.advance(state, spec.sample_hours, stirring_generator(spec, index))
    return state


def stirring_generator(spec: DemoWorldSpec, index: int) -> torch.Generator:
    """The generator of the stirring held over sample interval ``index`` (samples since the epoch; negative
    during spin-up): a pure function of (seed, index), so any block can be recomputed alone."""
    blob = f"hens-demo-stirring/{spec.seed}/{index}".encode()
    gen = torch.Generator()
    gen.manual_seed(int.from_bytes(hashlib.sha256(blob).digest()[:8], "little") & (2**63 - 1))
    return gen


class _one_thread:
    """The solver's small transforms run fastest on one thread (several threads oversubscribe 2 cores)."""

    def __enter__(self) -> None:
        self.before = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self.before)


def _atomic_save(path: Path, **arrays: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _block_path(spec: DemoWorldSpec, index: int) -> Path:
    return demo_cache_dir() / f"demo-truth-{spec.fingerprint()}" / f"block_{index:05d}.npz"


def _end_state(spec: DemoWorldSpec, index: int) -> torch.Tensor:
    """The solver state after block ``index`` (the start of block index + 1), computing the missing blocks
    from the last cached one forward (a loop, not a recursion: far dates need hundreds of blocks)."""
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
        return torch.from_numpy(cached["end_state"])


def _block(spec: DemoWorldSpec, index: int) -> np.ndarray:
    """Samples ``[samples_per_block, C, nlat, nlon]`` of block ``index`` (computed and cached if needed)."""
    path = _block_path(spec, index)
    if path.is_file():
        with np.load(path) as cached:
            return cached["samples"]
    state = spin_up(spec) if index == 0 else _end_state(spec, index - 1)
    solver, project = world_model(spec)
    index0 = index * spec.samples_per_block
    samples = []
    with torch.no_grad(), _one_thread():
        for i in range(spec.samples_per_block):
            samples.append(project(state))
            index = index0 + i
            state = solver.advance(state, spec.sample_hours, stirring_generator(spec, index))
    out = np.stack(samples)
    _atomic_save(path, samples=out, end_state=state.numpy())
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
            "title": "hens demo world truth (forced shallow water on the sphere)",
            "hens_demo_world": json.dumps(asdict(spec), sort_keys=True),
        },
    )
