"""Derived channels written by `hens generate` (``output.derived``): which checkpoint channels each one reads, and
its values from one step's states.

The formulas are those of :mod:`hens.data.derived` — the same ones `hens diagnose` applies (``diagnose.derived``,
:mod:`hens.diagnostics.verification.derived_fields`) — applied to the float32 states of every lead on the host
(float64 inside, float32 out), so a stored derived channel equals the formula applied to the stored inputs bit for
bit when the inputs are stored lossless float32 (with bit rounding or float16 on the inputs, the derived channel is
computed from the unrounded states and then encoded itself).  The inputs are channels of the checkpoint; they need
not be stored (``output.variables``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from hens.data.derived import compute_derived, derived_inputs
from hens.errors import HensError

__all__ = ["DerivedOutputs", "resolve_derived_outputs"]


@dataclass(frozen=True)
class DerivedOutputs:
    """The derived channels of a run and how to compute them from a step's states.

    Attributes:
        inputs: derived channel → its input channels (names of model channels), in ``output.derived`` order.
        channels: the model channels (C), in the order of the states' channel axis.
    """

    inputs: dict[str, list[str]]
    channels: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The derived channels (D), in the order they are stored after the channels."""
        return tuple(self.inputs)

    @property
    def input_channels(self) -> list[str]:
        """Every input channel once, in first-use order (I)."""
        out: list[str] = []
        for inputs in self.inputs.values():
            out += [i for i in inputs if i not in out]
        return out

    def input_index(self, device: torch.device | str) -> torch.Tensor:
        """Indices ``[I]`` of :attr:`input_channels` among the model channels, on ``device``."""
        return torch.as_tensor([self.channels.index(c) for c in self.input_channels], device=device)

    def field(self, name: str, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        """The derived channel ``name`` (float32) of its inputs ``arrays`` (channel → float32 array, any one shape)."""
        inputs = self.inputs[name]
        return compute_derived(name, inputs, [np.ascontiguousarray(arrays[c]) for c in inputs]).astype(np.float32)

    def from_inputs(self, inputs: np.ndarray) -> np.ndarray:
        """The derived fields ``[B, D, nlat, nlon]`` float32 of host inputs ``[B, I, nlat, nlon]`` (float32, in
        :attr:`input_channels` order)."""
        arrays = {c: inputs[:, i] for i, c in enumerate(self.input_channels)}
        return np.stack([self.field(name, arrays) for name in self.inputs], axis=1)

    def from_states(self, states: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """The derived fields ``[B, D, nlat, nlon]`` (float32, on the host) of states ``[B, C, nlat, nlon]``;
        ``index`` is :meth:`input_index` on the states' device (the inputs are copied to the host, synchronously)."""
        host = states.index_select(1, index).to("cpu", dtype=torch.float32).numpy()
        return torch.from_numpy(self.from_inputs(host))


def resolve_derived_outputs(
    names: Sequence[str], channels: Sequence[str], checkpoint: str, where: str = "output.derived"
) -> DerivedOutputs | None:
    """The derived outputs ``names`` (``output.derived``) of a checkpoint with ``channels``; None when empty.

    Raises:
        HensError: one line naming the derived channels whose inputs the checkpoint lacks (and those inputs), or
            a derived name that is also a channel of the checkpoint.
    """
    if not names:
        return None
    clash = [n for n in names if n in channels]
    if clash:
        raise HensError(
            f"{where} names {', '.join(clash)}, a channel checkpoint {checkpoint} predicts; store it through "
            "output.variables and drop it from output.derived"
        )
    try:
        inputs = derived_inputs(list(names), list(channels))
    except HensError as err:
        lacks = str(err).replace("the data lack", f"checkpoint {checkpoint} lacks")
        raise HensError(f"{where}: {lacks}; drop it from {where} or use a checkpoint with those channels") from None
    return DerivedOutputs(inputs, tuple(channels))
