"""The registry of model dynamics: what advances a batch of members by one model step (``model.dynamics``).

A :class:`Dynamics` names a factory of rollout steps, the title and source text of the stores it writes, and
the initial-condition source it needs, if any.  ``network`` (the checkpoint itself) is registered here; other
dynamics are registered by their own packages (``demo_physics`` by :mod:`hens.demo.providers`), loaded by name
through :mod:`hens.models.providers` when first looked up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hens.errors import ConfigError, HensError
from hens.models.forecaster import Forecaster
from hens.models.providers import load_providers

Step = Callable[..., torch.Tensor]
"""A rollout step: ``step(x [B, C, nlat, nlon], valid_time)`` → the states one model step later, same shape."""


@dataclass(frozen=True)
class MemberBatch:
    """The members one step function advances: their checkpoint, initial states ``[B, C, nlat, nlon]`` (physical
    units, on the rollout device), start date and global member indices (``len(members) == B``)."""

    forecaster: Forecaster
    states: torch.Tensor
    init_time: np.datetime64
    members: range


@dataclass(frozen=True)
class Dynamics:
    """One registered dynamics (see module docstring).

    Args:
        name: the ``model.dynamics`` value.
        make_step: ``make_step(batch, options)`` → the rollout step of the batch's members; ``options`` holds
            ``seed`` and ``demo_world`` (plain values of the run's configuration).
        title: the store's ``title`` attribute.
        source: the store's ``source`` attribute, a :meth:`str.format` template of ``{checkpoints}`` (names,
            comma separated) and the option keys.
        needs_ic_source: the ``ic.source`` this dynamics runs from, or None for any.
        needs_reason: why (completes "model.dynamics=<name> … and needs ic.source=…").
    """

    name: str
    make_step: Callable[[MemberBatch, Mapping[str, Any]], Step]
    title: str
    source: str
    needs_ic_source: str | None = None
    needs_reason: str = ""

    def step(self, batch: MemberBatch, options: Mapping[str, Any]) -> Step:
        """The rollout step of ``batch``'s members."""
        return self.make_step(batch, options)

    def describe(self, checkpoints: Sequence[str], options: Mapping[str, Any]) -> tuple[str, str]:
        """(title, source) attributes of a store written with this dynamics from ``checkpoints``."""
        return self.title, self.source.format(checkpoints=", ".join(checkpoints), **options)

    def check_ic_source(self, ic_source: str) -> None:
        """Raise HensError when this dynamics cannot run from initial conditions of ``ic_source``."""
        if self.needs_ic_source is not None and ic_source != self.needs_ic_source:
            raise HensError(
                f"model.dynamics={self.name} {self.needs_reason} and needs ic.source={self.needs_ic_source}"
            )


_REGISTRY: dict[str, Dynamics] = {}


def register_dynamics(dynamics: Dynamics) -> None:
    """Make ``dynamics`` available as ``model.dynamics=<dynamics.name>`` (a later registration replaces it)."""
    _REGISTRY[dynamics.name] = dynamics


def get_dynamics(name: str) -> Dynamics:
    """The dynamics registered as ``name``; HensError naming the registered ones otherwise."""
    if name not in _REGISTRY:
        load_providers()
    if name not in _REGISTRY:
        raise ConfigError(f"model.dynamics={name!r} is not one of {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def _network_step(batch: MemberBatch, options: Mapping[str, Any]) -> Step:
    return batch.forecaster


register_dynamics(
    Dynamics(
        name="network",
        make_step=_network_step,
        title="hens ensemble hindcast",
        source="hens generate (SFNO checkpoints: {checkpoints})",
    )
)
