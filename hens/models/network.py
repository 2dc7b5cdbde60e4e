"""Network builders: architecture name + keyword arguments → an untrained ``torch.nn.Module``.

Kept separate from packages so that a new architecture (e.g. makani's SFNO parameter naming) is one more
builder here, not a change to loading or rollout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from hens.errors import CheckpointError


def _torch_harmonics_sfno(**kwargs: Any) -> torch.nn.Module:
    """torch-harmonics' example SFNO; kwargs as ``SphericalFourierNeuralOperator`` (img_size, embed_dim, ...)."""
    from torch_harmonics.examples.models import SphericalFourierNeuralOperator

    kwargs = dict(kwargs)
    if "img_size" in kwargs:
        kwargs["img_size"] = tuple(kwargs["img_size"])
    return SphericalFourierNeuralOperator(**kwargs)


def _makani_sfno(**kwargs: Any) -> torch.nn.Module:
    """NVIDIA makani's SFNO with its extra input channels; kwargs as read by :mod:`hens.models.makani_package`."""
    from hens.models.makani_sfno import MakaniSFNOStep

    return MakaniSFNOStep(**kwargs)


BUILDERS: dict[str, Callable[..., torch.nn.Module]] = {
    "torch_harmonics_sfno": _torch_harmonics_sfno,
    "makani_sfno": _makani_sfno,
}


def build_network(architecture: str, model_kwargs: dict[str, Any]) -> torch.nn.Module:
    """Build the network named ``architecture`` with ``model_kwargs``; unknown names are a CheckpointError."""
    if architecture not in BUILDERS:
        raise CheckpointError(f"unknown network architecture {architecture!r}; known: {', '.join(sorted(BUILDERS))}")
    try:
        return BUILDERS[architecture](**model_kwargs)
    except TypeError as err:
        raise CheckpointError(f"cannot build {architecture} from the package's model options: {err}") from err
