"""What the demo world adds to the model registries (imported by name through :mod:`hens.models.providers`):

- the checkpoint set ``builtin:demo``: the SFNO packages shipped in :mod:`hens.demo.shipped`;
- the dynamics ``demo_physics``: the demo world's own model run from the members' initial states, the
  physics-ensemble baseline of :mod:`hens.demo.physics` (it needs the demo world's analyses, ``ic.source=demo``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hens.demo.shipped import shipped_checkpoint_dir
from hens.models.dynamics import Dynamics, MemberBatch, Step, register_dynamics
from hens.models.resolve import register_checkpoint_set


def physics_step(batch: MemberBatch, options: Mapping[str, Any]) -> Step:
    """The demo world's model started from ``batch.states`` ``[B, C, nlat, nlon]``: ``options`` ``demo_world``
    (the :class:`~hens.demo.world.DemoWorldSpec` values, None for the default world)."""
    from hens.demo.physics import PhysicsRollout, physics_model
    from hens.demo.world import demo_world_spec

    model = physics_model(
        demo_world_spec(options["demo_world"]), tuple(batch.forecaster.channels), float(batch.forecaster.timestep_hours)
    )
    return PhysicsRollout(model, batch.states, batch.init_time, batch.members)


register_checkpoint_set("demo", shipped_checkpoint_dir)
register_dynamics(
    Dynamics(
        name="demo_physics",
        make_step=physics_step,
        title="hens physics-ensemble baseline (the demo world's own two-layer model: a perfect-model reference)",
        source="hens generate, model.dynamics=demo_physics (deterministic, perfect model); initial states bred with "
        "checkpoints {checkpoints}",
        needs_ic_source="demo",
        needs_reason="runs the demo world's model",
    )
)
