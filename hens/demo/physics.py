"""The physics-ensemble baseline: the demo world's own two-layer model as the forecast model.

HENS judges its ML ensemble against the IFS ensemble, a physics model run from perturbed analyses.  On the demo
world the counterpart is the truth's own model (:mod:`hens.demo.baroclinic`) run from the *same* perturbed
initial states as the ML members, so the two ensembles differ only in their dynamics.  It is a **perfect-model
reference**: the equations, resolution and forcing of the truth, so its errors come only from the initial states
(analysis error and the perturbations) — an upper bound on what any forecast model could do from those states.

- initial state of member m: the ML member's grid state x₀ ± δ ``[C, nlat, nlon]`` on the output grid, lifted to
  the model's spectral state by :meth:`~hens.demo.baroclinic.Baroclinic.from_channels` (the streamfunctions of both
  layers from the vorticity of the 250- and 850-hPa winds; exact for the band the grid resolves, l ≤ 16 at 33×64;
  finer scales start at zero and regrow from the dynamics within a day or two).  Heights, t850 and the 500-hPa
  winds are diagnostic in the model: what the member's perturbation put there reaches the model only through the
  winds (breeding with the SFNOs spreads a z500 seed into every channel before t = 0).
- dynamics: deterministic; members are advanced together as one batch.
- output: the state's channels on the output grid every model step (6 h), exactly as the truth is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch

from hens.demo.baroclinic import BaroclinicState
from hens.demo.world import DEMO_CHANNELS, DemoWorldSpec, epoch_day, one_thread, world_model
from hens.errors import HensError


class PhysicsModel:
    """The demo world's model with the maps between its spectral state and the output grid.

    Args:
        world: the demo world whose physics to run (the store's ``ic.demo_world``).
        channels: the channel order of the states handed in and out (a permutation of :data:`DEMO_CHANNELS`).
        timestep_hours: the output step (the checkpoints' step); a whole number of model steps.
    """

    def __init__(self, world: DemoWorldSpec, channels: Sequence[str], timestep_hours: float) -> None:
        if sorted(channels) != sorted(DEMO_CHANNELS):
            raise HensError(
                f"the physics ensemble needs the demo channels {', '.join(DEMO_CHANNELS)}, the model has "
                f"{', '.join(channels)}; use model.dynamics=network for other checkpoints"
            )
        self.world = world
        self.model = world_model(world.physics)
        n = float(timestep_hours) * 3600.0 / world.physics.dt_s
        if n < 1 or abs(n - round(n)) > 1e-9:
            raise HensError(
                f"the physics ensemble cannot step {timestep_hours} h: not a whole number of its "
                f"{world.physics.dt_s:g}-s steps; use checkpoints with a 6-h step"
            )
        self.steps = int(round(n))
        self.to_demo = [list(channels).index(c) for c in DEMO_CHANNELS]  # model channel order → demo order
        self.from_demo = [DEMO_CHANNELS.index(c) for c in channels]  # demo order → model channel order

    def calendar_day(self, time: np.datetime64) -> float:
        """The model calendar day (of the seasonal forcing) at ``time``."""
        since = (np.datetime64(time, "ns") - np.datetime64(self.world.epoch, "ns")) / np.timedelta64(1, "D")
        return epoch_day(self.world) + float(since)

    def to_state(self, grid: torch.Tensor, time: np.datetime64) -> BaroclinicState:
        """Grid states ``[B, C, nlat, nlon]`` (model channel order, physical units) → model state at ``time``."""
        demo = grid.detach().to("cpu", torch.float64)[:, self.to_demo]
        return self.model.from_channels(demo, self.calendar_day(time))

    def to_grid(self, state: BaroclinicState) -> torch.Tensor:
        """Model state → grid ``[B, C, nlat, nlon]`` float32 in model channel order (the truth's channels)."""
        return self.model.channels64(state)[:, self.from_demo].to(torch.float32)

    def advance(self, state: BaroclinicState) -> BaroclinicState:
        """One output step of every member."""
        with torch.no_grad(), one_thread():
            return self.model.step(state, self.steps)


class PhysicsRollout:
    """A rollout ``step`` for :func:`hens.inference.rollout.rollout` that runs the physics model.

    Holds the members' spectral states (the grid handed back each step is their projection; the finer scales
    live on in the model).  Calling it with the current grid batch ``[B, C, nlat, nlon]`` advances one step and
    returns the next grid batch on the same device.
    """

    def __init__(self, model: PhysicsModel, x0: torch.Tensor, init_time: np.datetime64, members: Sequence[int]) -> None:
        if x0.shape[0] != len(members):
            raise ValueError(f"{x0.shape[0]} initial states for {len(members)} members")
        self.model = model
        self.device = x0.device
        self.state = model.to_state(x0, init_time)

    def __call__(self, grid: torch.Tensor, valid_time: np.datetime64 | None = None) -> torch.Tensor:
        self.state = self.model.advance(self.state)
        return self.model.to_grid(self.state).to(self.device)


@lru_cache(maxsize=2)
def physics_model(world: DemoWorldSpec, channels: tuple[str, ...], timestep_hours: float) -> PhysicsModel:
    """A cached :class:`PhysicsModel`."""
    return PhysicsModel(world, channels, timestep_hours)
