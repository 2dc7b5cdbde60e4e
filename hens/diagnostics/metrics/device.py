"""Where the torch kernels of `hens diagnose` run (``diagnose.device``): the spectral transform and the fair CRPS.

Imported on its own (like :mod:`hens.diagnostics.metrics.spectra`) to keep torch out of the NumPy metrics.
"""

from __future__ import annotations

import torch

from hens.constants import KERNEL_DEVICES
from hens.errors import HensError

__all__ = ["KERNEL_DEVICES", "kernel_device"]


def kernel_device(name: str) -> str:
    """``name`` checked for this process: ``cpu`` always, ``cuda`` only when torch sees a CUDA GPU.

    Raises:
        HensError: one line naming the fix, for an unknown name or ``cuda`` without a usable GPU.
    """
    if name not in KERNEL_DEVICES:
        raise HensError(f"diagnose.device={name!r} is not one of {', '.join(KERNEL_DEVICES)}")
    if name == "cuda" and not torch.cuda.is_available():
        raise HensError(
            "diagnose.device=cuda but torch sees no CUDA GPU here (a CPU-only torch build, or no visible GPU); "
            "set diagnose.device=cpu or run on a GPU node"
        )
    return name
