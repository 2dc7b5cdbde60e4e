"""Small grids and seeded generators shared by the perturbation tests."""

from __future__ import annotations

import numpy as np
import torch

F64 = torch.float64
B = 20.25  # HENS's hemisphere boundary, degrees


def lat_grid(nlat: int) -> np.ndarray:
    """Equiangular latitudes from 90 to −90 degrees, poles included, shape (nlat,)."""
    return np.linspace(90.0, -90.0, nlat)


def gen(seed: int) -> torch.Generator:
    """A CPU torch generator seeded with ``seed``."""
    return torch.Generator().manual_seed(seed)
