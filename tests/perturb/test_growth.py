"""Perturbation growth: the formula on a linear model, and bred vectors outgrowing random perturbations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hens.perturb.growth import perturbation_growth

LAT = np.linspace(90, -90, 9)


def test_growth_of_a_linear_model_equals_brute_force():
    gain = torch.linspace(0.5, 2.0, 3).view(1, 3, 1, 1)  # channel c is multiplied by gain_c each step

    def step(x: torch.Tensor) -> torch.Tensor:
        return x * gain + 1.0  # affine: differences grow by gain_c

    x0 = torch.randn(3, 9, 16, dtype=torch.float64)
    deltas = torch.randn(2, 3, 9, 16, dtype=torch.float64)
    sizes = perturbation_growth(step, x0, deltas, 4, LAT)
    assert sizes.shape == (5, 2, 3)
    np.testing.assert_allclose(sizes[4] / sizes[0], gain.view(1, 3).expand(2, 3) ** 4, rtol=1e-10)
    # row 0 by brute force: mean of the northern and southern cos-weighted RMS over |lat| >= 20.25
    w = np.cos(np.deg2rad(LAT))
    d = deltas.numpy()
    north = np.sqrt((d[..., LAT >= 20.25, :] ** 2 * w[LAT >= 20.25, None]).sum((-2, -1)) / (16 * w[LAT >= 20.25].sum()))
    south = np.sqrt(
        (d[..., LAT <= -20.25, :] ** 2 * w[LAT <= -20.25, None]).sum((-2, -1)) / (16 * w[LAT <= -20.25].sum())
    )
    np.testing.assert_allclose(sizes[0].numpy(), 0.5 * (north + south), rtol=1e-12)


@pytest.mark.e2e
def test_bred_vectors_grow_faster_than_random_perturbations_of_equal_size(cache_dir):
    """Over the first 48 h, on the demo world with a shipped checkpoint, bred vectors grow more than correlated
    seed noise and uncorrelated noise rescaled to the same norm (the measurement of scripts/design_experiment.py)."""
    from scripts.design_experiment import growth_factors

    factors = growth_factors(dates=2, perturbations=4, steps=8)
    bred, seed_noise, white = (factors[k] for k in ("bred", "seed_noise", "gaussian"))
    assert bred > 1.0 and bred > 1.2 * seed_noise and bred > 1.2 * white, factors
