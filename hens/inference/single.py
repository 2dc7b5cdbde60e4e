"""Regenerate one member alone.

Member identity is a pure function of (seed, start date, checkpoint, perturbation, sign), and every layer
acts on each batch row independently, so a member rolled out in a batch of one equals, bit for bit on the
same machine, the same member inside a full run.
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from hens.config import GenerateSpec
from hens.distributed import pick_device
from hens.ensemble.plan import WorkItem
from hens.errors import HensError
from hens.inference.rollout import rollout
from hens.inference.run_setup import RunSetup, apply_precision, load_step_model, member_step, setup_run
from hens.io.cf import DERIVED_FROM, channel_attrs


def regenerate_member(spec: GenerateSpec, init_time: str, member: int) -> xr.Dataset:
    """One member's forecast as a Dataset of ``(lead_time, lat, lon)`` variables with its identity as coords."""
    try:
        t0 = np.datetime64(init_time, "ns")
    except ValueError as err:
        raise HensError(f"--init-time {init_time!r} is not an ISO 8601 date-time") from err
    dates = [np.datetime64(t, "ns") for t in spec.ic.start_dates]
    if t0 not in dates:
        raise HensError(f"--init-time {init_time} is not one of ic.start_dates ({', '.join(map(str, dates))})")
    device = pick_device(spec.device, 0)
    setup = setup_run(spec, device)
    if not 0 <= member < setup.layout.n_members:
        raise HensError(f"--member {member} is outside 0…{setup.layout.n_members - 1} for this configuration")
    key = setup.layout.member(member)
    package = setup.packages[key.checkpoint]
    forecaster = load_step_model(package, device, spec)
    apply_precision(spec.precision)
    item = WorkItem(dates.index(t0), key.checkpoint, member, member + 1)
    states = setup.initial.member_states(forecaster, item)
    outputs: list[torch.Tensor] = []
    derived, input_index = setup.derived, setup.derived.input_index(device) if setup.derived is not None else None

    def keep(k: int, s: torch.Tensor) -> None:  # the stored channels, then the derived ones (as `hens generate`)
        fields = s.index_select(1, setup.var_index).cpu()
        outputs.append(fields if derived is None else torch.cat([fields, derived.from_states(s, input_index)], 1))

    rollout(
        member_step(setup, forecaster, item, states),
        states,
        spec.ensemble.n_steps,
        keep,
        start_time=t0,
        timestep=package.timestep,
    )
    raw = torch.stack(outputs, dim=1)[0].numpy()  # [L, V + D, nlat, nlon] float32
    encoding = spec.output.encoding()  # the store's bit rounding and dtype, so values match the full run's
    data = np.stack([encoding.for_variable(n).encode(raw[:, v], n) for v, n in enumerate(setup.outputs)], axis=1)
    dt = package.timestep
    leads = (np.arange(spec.ensemble.n_steps + 1) * dt).astype("timedelta64[ns]")
    ds = xr.Dataset(
        {
            name: (("lead_time", "lat", "lon"), data[:, v], {**channel_attrs(name), **_derived_from(setup, name)})
            for v, name in enumerate(setup.outputs)
        },
        coords={
            "lead_time": leads,
            "lat": ("lat", package.lat, {"units": "degrees_north", "standard_name": "latitude"}),
            "lon": ("lon", package.lon, {"units": "degrees_east", "standard_name": "longitude"}),
            "init_time": t0,
            "member": member,
            "checkpoint": package.name,
            "perturbation": key.perturbation,
            "sign": key.sign,
        },
        attrs={"Conventions": "CF-1.10", "title": f"hens member {member} regenerated alone"},
    )
    return ds


def _derived_from(setup: RunSetup, name: str) -> dict[str, str]:
    """The ``derived_from`` attribute of a derived output, as the store records it."""
    inputs = setup.derived.inputs.get(name) if setup.derived is not None else None
    return {DERIVED_FROM: " ".join(inputs)} if inputs else {}
