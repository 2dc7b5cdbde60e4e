"""HENS Part I's alternative perturbations: uncorrelated Gaussian noise of the bred vectors' size, and none."""

from __future__ import annotations

import numpy as np
import torch

from hens.perturb.methods import PERTURBATIONS, white_noise_perturbation
from hens.perturb.rescaling import hens_hemispheric_norm

LAT = np.linspace(90, -90, 33)


def _gens(*seeds: int) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(s) for s in seeds]


def test_white_noise_has_the_target_norm_and_no_spatial_correlation():
    target = torch.tensor([100.0, 2.0, 0.0])
    delta = white_noise_perturbation(target, LAT, 64, generators=_gens(1, 2))
    assert delta.shape == (2, 3, 33, 64) and delta.dtype == torch.float64
    north, south = hens_hemispheric_norm(delta, LAT)  # HENS's norm in each extratropics is T_c
    np.testing.assert_allclose(north[:, :2].numpy(), np.broadcast_to(target[:2].numpy(), (2, 2)), rtol=1e-10)
    np.testing.assert_allclose(south[:, :2].numpy(), np.broadcast_to(target[:2].numpy(), (2, 2)), rtol=1e-10)
    assert torch.all(delta[:, 2] == 0)  # T = 0 leaves a channel unperturbed
    z = delta[:, 0, 5:28].numpy()
    lag = np.corrcoef(z[..., :-1].ravel(), z[..., 1:].ravel())[0, 1]
    assert abs(lag) < 0.1  # neighbours uncorrelated (bred vectors and the seed noise are smooth)


def test_white_noise_is_a_pure_function_of_each_generator():
    target = torch.tensor([1.0])
    both = white_noise_perturbation(target, LAT, 64, generators=_gens(5, 6))
    alone = white_noise_perturbation(target, LAT, 64, generators=_gens(6))
    # the rescaling gain depends only on the perturbation's own norm, so perturbation 1 alone is the same
    torch.testing.assert_close(both[1], alone[0], rtol=0, atol=0)
    assert white_noise_perturbation(target, LAT, 64, generators=[]).shape == (0, 1, 33, 64)
    assert PERTURBATIONS[0] == "bred"
