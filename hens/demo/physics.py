"""The physics-ensemble baseline: the demo world's own shallow-water model as the forecast model.

HENS judges its ML ensemble against the IFS ensemble, a physics model run from perturbed analyses.  On the demo
world the counterpart is the truth's own solver (:mod:`hens.demo.solver`) run from the *same* perturbed initial
states as the ML members, so the two ensembles differ only in their dynamics:

- initial state of member m: the ML member's grid state x₀ ± δ ``[C, nlat, nlon]`` (z500, u500, v500 on the
  output grid), lifted to the solver's spectral space by :meth:`PhysicsModel.to_spectral` — geopotential by a
  scalar spherical-harmonic transform, relative vorticity ζ and divergence δ from the winds by the vector
  transform (ζ_lm, δ_lm = −l(l+1)/a · V_lm — the inverse of the truth's own projection).  The analysis therefore
  holds exactly what the ML models see: no scales finer than the output grid resolves (l ≤ 16 at 33×64);
  the solver regrows them from the forcing within a day or two.
- dynamics: the truth's equations, resolution and forcing (a perfect model), except the stochastic vorticity
  stirring — the world's unpredictable "weather from unresolved processes".  With ``stirring="independent"``
  (the default) every member draws its own stirring, seeded by (seed, start date, member, step): a stochastic-
  physics ensemble that samples the same forcing distribution the truth was drawn from, so it should be
  close to calibrated.  ``stirring="none"`` runs the deterministic dynamics: its spread can only come from
  the initial perturbations.  The truth's own stirring is never used (that would be a forecast that knows
  the future).
- output: the state projected back onto the output grid every model step (6 h), exactly as the truth is.

Members are advanced together as one batch (one batched transform per solver step, ≈3× faster than one by
one); a member regenerated alone agrees with its in-batch self to ≈1e-10 relative in float64 before the
float32 cast (batched and single matrix products may round differently), not bit for bit.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch

from hens.demo.world import DEMO_CHANNELS, DemoWorldSpec, world_model
from hens.errors import HensError

STIRRING_MODES = ("independent", "none")


def member_stirring_generator(seed: int, init_time: np.datetime64, member: int, step: int) -> torch.Generator:
    """The generator of member ``member``'s stirring over model step ``step`` (0-based) of the run from
    ``init_time``: a pure function of its arguments, disjoint from the truth's stirring stream."""
    stamp = np.datetime_as_string(np.datetime64(init_time, "m"), unit="m")
    blob = f"hens-physics-stirring/{seed}/{stamp}/{member}/{step}".encode()
    gen = torch.Generator()
    gen.manual_seed(int.from_bytes(hashlib.sha256(blob).digest()[:8], "little") & (2**63 - 1))
    return gen


class PhysicsModel:
    """The demo world's solver with the transforms between its spectral state and the output grid.

    Args:
        world: the demo world whose physics to run (the store's ``ic.demo_world``).
        channels: the channel order of the states handed in and out (a permutation of z500, u500, v500).
        timestep_hours: the output step (the checkpoints' step); a whole number of solver steps.
        stirring: ``"independent"`` or ``"none"`` (see module docstring).
        seed: global seed of the stirring streams.
    """

    def __init__(
        self,
        world: DemoWorldSpec,
        channels: Sequence[str],
        timestep_hours: float,
        *,
        stirring: str = "independent",
        seed: int = 0,
    ) -> None:
        import torch_harmonics as th

        if stirring not in STIRRING_MODES:
            raise HensError(f"model.physics_stirring={stirring!r} is not one of {', '.join(STIRRING_MODES)}")
        if sorted(channels) != sorted(DEMO_CHANNELS):
            raise HensError(
                f"the physics ensemble needs the demo channels {', '.join(DEMO_CHANNELS)}, the model has "
                f"{', '.join(channels)}; use model.dynamics=network for other checkpoints"
            )
        self.world = world
        self.solver, projector = world_model(world)
        try:
            self.solver_steps = self.solver.steps_per(timestep_hours)
        except ValueError as err:
            raise HensError(f"the physics ensemble cannot step {timestep_hours} h: {err}") from err
        self.hours = float(timestep_hours)
        self.stirring = stirring
        self.seed = seed
        self.to_zuv = [list(channels).index(c) for c in DEMO_CHANNELS]  # model channel order → (z, u, v)
        self.from_zuv = [DEMO_CHANNELS.index(c) for c in channels]  # (z, u, v) → model channel order
        self.lmax = projector.lmax
        self.isht, self.ivsht = projector.isht, projector.ivsht
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.sht = th.RealSHT(world.nlat, world.nlon, lmax=self.lmax, mmax=self.lmax, grid="equiangular").double()
            self.vsht = th.RealVectorSHT(
                world.nlat, world.nlon, lmax=self.lmax, mmax=self.lmax, grid="equiangular"
            ).double()
        lap = self.solver.lap[: self.lmax, : self.lmax]
        self.wind_to_vortdiv = lap * self.solver.radius  # ζ_lm, δ_lm from the vector coefficients of (u, v)
        self.vortdiv_to_wind = self.solver.invlap[: self.lmax, : self.lmax] / self.solver.radius

    def to_spectral(self, grid: torch.Tensor) -> torch.Tensor:
        """Grid states ``[B, C, nlat, nlon]`` (model channel order, physical units) → solver states
        ``[B, 3, lmax_solver, mmax_solver]`` complex128 of (φ, ζ, δ), zero beyond the output grid's band."""
        zuv = grid.detach().to("cpu", torch.float64)[:, self.to_zuv]
        batch = zuv.shape[0]
        state = torch.zeros(batch, 3, self.solver.lmax, self.solver.mmax, dtype=torch.complex128)
        state[:, 0, : self.lmax, : self.lmax] = self.sht(zuv[:, 0])
        state[:, 1:, : self.lmax, : self.lmax] = self.vsht(zuv[:, 1:]) * self.wind_to_vortdiv
        return state

    def to_grid(self, state: torch.Tensor) -> torch.Tensor:
        """Solver states ``[B, 3, lmax, mmax]`` → grid ``[B, C, nlat, nlon]`` float32 in model channel order,
        by spectral truncation to the output grid (the truth's projection)."""
        spec = state[..., : self.lmax, : self.lmax]
        z = self.isht(spec[:, 0])
        uv = self.ivsht(spec[:, 1:] * self.vortdiv_to_wind)
        return torch.cat([z[:, None], uv], dim=1)[:, self.from_zuv].to(torch.float32)

    def advance(self, state: torch.Tensor, init_time: np.datetime64, members: Sequence[int], step: int) -> torch.Tensor:
        """One output step of every member: per-member stirring for ``step``, the dynamics, tropical damping."""
        if self.stirring == "independent":
            gens = [member_stirring_generator(self.seed, init_time, m, step) for m in members]
            self.solver.set_member_stirring(gens)
        else:
            self.solver.set_member_stirring(None)
        with torch.no_grad():
            state = self.solver.step(state, self.solver_steps)
            return self.solver.damp_tropical_eddies(state, self.hours)


class PhysicsRollout:
    """A rollout ``step`` for :func:`hens.inference.rollout.rollout` that runs the physics model.

    Holds the members' spectral states (the grid handed back each step is their projection; the finer scales
    live on in the solver).  Calling it with the current grid batch ``[B, C, nlat, nlon]`` advances one step
    and returns the next grid batch on the same device.
    """

    def __init__(self, model: PhysicsModel, x0: torch.Tensor, init_time: np.datetime64, members: Sequence[int]) -> None:
        if x0.shape[0] != len(members):
            raise ValueError(f"{x0.shape[0]} initial states for {len(members)} members")
        self.model = model
        self.init_time = np.datetime64(init_time, "ns")
        self.members = list(members)
        self.device = x0.device
        self.state = model.to_spectral(x0)
        self.k = 0

    def __call__(self, grid: torch.Tensor, valid_time: np.datetime64 | None = None) -> torch.Tensor:
        self.state = self.model.advance(self.state, self.init_time, self.members, self.k)
        self.k += 1
        return self.model.to_grid(self.state).to(self.device)


@lru_cache(maxsize=2)
def physics_model(
    world: DemoWorldSpec, channels: tuple[str, ...], timestep_hours: float, stirring: str, seed: int
) -> PhysicsModel:
    """A cached :class:`PhysicsModel` (building the transforms takes a moment)."""
    return PhysicsModel(world, channels, timestep_hours, stirring=stirring, seed=seed)
