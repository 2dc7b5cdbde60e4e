"""The initial perturbation methods of ``ensemble.perturbation`` beside bred vectors (HENS Part I's comparison).

HENS Part I compared its bred vectors with the alternatives an ensemble designer would try: no initial
perturbation (the spread comes from the checkpoints alone) and spatially uncorrelated Gaussian noise of the same
amplitude.  These are the perturbations those alternatives add to the analysis:

* ``bred`` (default, HENS): bred vectors, :func:`hens.perturb.bred_vectors.breed`;
* ``gaussian``: δ = R(ε), ε ~ N(0, 1) independently at every grid point and channel, R the same hemispheric
  rescaling to the same amplitudes T_c as the bred vectors (:func:`white_noise_perturbation`);
* ``none``: δ = 0 — every member starts from the analysis.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from hens.perturb.rescaling import BOUNDARY_DEG, rescale

PERTURBATIONS = ("bred", "gaussian", "none")
"""Allowed values of ``ensemble.perturbation`` (the first is the default)."""


def white_noise_perturbation(
    target: torch.Tensor,
    lat_deg: np.ndarray | torch.Tensor,
    n_lon: int,
    *,
    generators: Sequence[torch.Generator],
    boundary_deg: float = BOUNDARY_DEG,
    rescaling: str = "hens",
) -> torch.Tensor:
    """Spatially uncorrelated Gaussian perturbations of the bred vectors' size: ``[P, C, nlat, n_lon]`` float64.

    Perturbation i draws ε_i ``[C, nlat, n_lon]`` ~ N(0, 1) from ``generators[i]`` (so it is a pure function of
    that generator's seed) and returns R(ε_i): the hemispheric rescaling of :func:`hens.perturb.rescaling.rescale`
    with ``rescaling`` and ``boundary_deg`` to the amplitudes ``target`` T_c ``[C]`` — the same norm the bred
    vectors are rescaled to, so the two differ in structure only.
    """
    target = torch.as_tensor(target, dtype=torch.float64)
    nlat = len(np.asarray(lat_deg))
    if not generators:
        return torch.zeros(0, target.shape[0], nlat, n_lon, dtype=torch.float64)
    eps = torch.stack([torch.randn(target.shape[0], nlat, n_lon, generator=g, dtype=torch.float64) for g in generators])
    return rescale(eps, target, lat_deg, boundary_deg=boundary_deg, method=rescaling)
