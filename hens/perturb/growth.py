"""How fast perturbations grow under a model: the check that bred vectors point along growing directions.

Breeding (Toth & Kalnay 1993) is meant to find the perturbations a model amplifies fastest; the test of that is
to run the model from x₀ + δ and from x₀ and compare the size of their difference after a while with that of
random perturbations of the same initial size.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from hens.perturb.rescaling import BOUNDARY_DEG, hemispheric_rms


def perturbation_growth(
    step: Callable[[torch.Tensor], torch.Tensor],
    x0: torch.Tensor,
    deltas: torch.Tensor,
    n_steps: int,
    lat_deg: np.ndarray,
    *,
    boundary_deg: float = BOUNDARY_DEG,
) -> torch.Tensor:
    """Size of each perturbation's grown difference, step by step: ``[n_steps + 1, P, C]`` float64.

    e_k,p,c = ½ (r_N + r_S) of (M^k(x₀ + δ_p) − M^k(x₀)) in channel c, with r_N, r_S the area-weighted RMS over the
    northern and southern extratropics (|φ| ≥ ``boundary_deg``, :func:`hens.perturb.rescaling.hemispheric_rms`);
    row 0 is the initial size.  The growth factor over k steps is e_k / e_0.

    Args:
        step: M, maps states ``[B, C, nlat, nlon]`` to the states one step later.
        x0: ``[C, nlat, nlon]`` the unperturbed initial state.
        deltas: ``[P, C, nlat, nlon]`` perturbations (physical units).
        n_steps: k, model steps.
        lat_deg: ``[nlat]`` latitudes (degrees).
    """
    with torch.no_grad():
        control = x0[None]
        states = x0[None] + deltas.to(x0.dtype)
        sizes = []
        for k in range(n_steps + 1):
            if k:
                control, states = step(control), step(states)
            north, south = hemispheric_rms((states - control).to(torch.float64), lat_deg, boundary_deg=boundary_deg)
            sizes.append(0.5 * (north + south))
    return torch.stack(sizes)
