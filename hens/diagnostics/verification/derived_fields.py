"""Derived channels in `hens diagnose` (``diagnose.derived``): which stored channels to read, and lazy fields.

A derived channel (:mod:`hens.data.derived`: ``wind_speed_10m``, ``ivt``, ``heat_index``) is scored like any
other variable: the forecast's is computed member by member from the store's channels (or read, when `hens
generate` stored it), the verification's is computed by the same formula from the verification's channels, and
both go through the same blocks.  Everything stays lazy: :func:`add_derived` is an element-wise Dask map over
the inputs' chunks, and :func:`derived_blocks` applies it to the tile-wise reads of the inputs, so a derived
channel costs one read of each input and no extra memory beyond one block of each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from hens.data.derived import DERIVED, compute_derived, derived_inputs
from hens.errors import HensError
from hens.io.cf import DERIVED_FROM

__all__ = ["DERIVED_FROM", "DerivedPlan", "add_derived", "forecast_blocks", "plan_derived", "scored_variables"]


@dataclass(frozen=True)
class DerivedPlan:
    """What to read from a store and what to compute.

    Attributes:
        scored: the variables scored, in order (stored channels, then derived ones).
        read: the store's channels to select: the scored stored ones, then the inputs of the computed ones.
        compute: per derived channel absent from the store, its input channels.
        verification: per derived channel scored, the inputs the verification's copy is computed from.
    """

    scored: list[str]
    read: list[str]
    compute: dict[str, list[str]]
    verification: dict[str, list[str]]

    @property
    def verification_channels(self) -> list[str]:
        """The channels to read from the verification: the scored non-derived ones, then the derived inputs."""
        out = [v for v in self.scored if v not in self.verification]
        for inputs in self.verification.values():
            out += [i for i in inputs if i not in out]
        return out


def scored_variables(stored: Sequence[str], variables: Sequence[str] | None, derived: Sequence[str]) -> list[str]:
    """The variables `hens diagnose` scores: ``diagnose.variables`` (null: every stored channel), then
    ``diagnose.derived`` (each once)."""
    out = list(stored if variables is None else variables)
    for d in derived:
        out += [] if d in out else [d]
    return out


def plan_derived(scored: Sequence[str], stored: Sequence[str], stored_attrs: Mapping[str, Mapping]) -> DerivedPlan:
    """Resolve the derived channels among ``scored`` against the store's channels ``stored``.

    A derived name that the store holds is read; its verification is computed from the channels its
    ``derived_from`` attribute names (as `hens generate` records them), or — without that attribute (a store from
    another tool) — read from the verification's variable of that name like any channel.  A derived name the
    store lacks is computed from the store's channels, and its verification from the verification's.

    Raises:
        HensError: one line naming every derived channel whose inputs the store lacks.
    """
    wanted = [v for v in scored if v in DERIVED and v not in stored]
    try:
        compute = derived_inputs(wanted, stored)
    except HensError as err:
        raise HensError(f"diagnose.derived: {err} in the store; drop it from diagnose.derived") from None
    verification = dict(compute)
    for v in scored:
        recorded = str(stored_attrs.get(v, {}).get(DERIVED_FROM, "")).split()
        if v in DERIVED and v in stored and recorded:
            verification[v] = recorded
    read = [v for v in scored if v not in compute]
    for inputs in compute.values():
        read += [i for i in inputs if i not in read]
    return DerivedPlan(list(scored), read, compute, verification)


def _derive(name: str, inputs: Sequence[str], arrays: Sequence[xr.DataArray]) -> xr.DataArray:
    """``name`` computed element-wise from ``arrays`` (lazy when they are Dask-backed), float32, CF attributes."""

    def formula(*values: np.ndarray) -> np.ndarray:
        return compute_derived(name, inputs, values).astype(np.float32)

    out = xr.apply_ufunc(formula, *arrays, dask="parallelized", output_dtypes=[np.float32], keep_attrs=False)
    out.attrs = {**DERIVED[name].attrs, DERIVED_FROM: " ".join(inputs)}
    return out.rename(name)


def add_derived(ds: xr.Dataset, compute: Mapping[str, Sequence[str]]) -> xr.Dataset:
    """``ds`` with each derived channel of ``compute`` (name → input channels, all in ``ds``) added lazily.

    Raises:
        HensError: naming the inputs ``ds`` lacks (e.g. a verification without ``q850``).
    """
    missing = sorted({i for inputs in compute.values() for i in inputs if i not in ds.data_vars})
    if missing:
        raise HensError(
            f"diagnose.derived: the verification lacks {', '.join(missing)} (needed for {', '.join(compute)}); "
            "use a verification with those channels or drop them from diagnose.derived"
        )
    return ds.assign({name: _derive(name, inputs, [ds[i] for i in inputs]) for name, inputs in compute.items()})


def forecast_blocks(
    name: str, derived: Mapping[str, Sequence[str]], read: Callable[[str], xr.DataArray]
) -> xr.DataArray:
    """The statistics blocks of variable ``name``: ``read(name)`` for a stored channel; for a derived one (a key of
    ``derived``, name → inputs) the formula mapped chunk by chunk over ``read(input)`` of each input (the inputs'
    blocks share their chunks)."""
    if name not in derived:
        return read(name)
    return _derive(name, derived[name], [read(i) for i in derived[name]])
