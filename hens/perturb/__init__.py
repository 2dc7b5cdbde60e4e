"""Initial-condition perturbations: seeded correlated noise and HENS-style bred vectors.

* :mod:`hens.perturb.noise` — unit-variance, spatially correlated Gaussian fields on the sphere.
* :mod:`hens.perturb.rescaling` — hemispheric rescaling of a perturbation (HENS's rule and ``area_rms``).
* :mod:`hens.perturb.bred_vectors` — breeding cycles, seed perturbations and ± member states.
"""

from hens.perturb.bred_vectors import (
    BREEDING_TIMES,
    amplitude_from_rmse,
    breed,
    breeding_offsets,
    initial_noise,
    nonnegative_mask,
    perturbed_states,
    seed_perturbation,
)
from hens.perturb.noise import (
    check_equiangular_latitudes,
    correlated_noise,
    gaussian_angular_spectrum,
    noise_correlation,
    noise_max_degree,
)
from hens.perturb.rescaling import (
    BOUNDARY_DEG,
    RESCALINGS,
    hemispheric_rms,
    hens_hemispheric_norm,
    hens_norm_bias,
    hens_norm_profile,
    hens_rescaling_factor,
    rescale,
    rescaling_factor,
)

__all__ = [
    "BOUNDARY_DEG",
    "BREEDING_TIMES",
    "RESCALINGS",
    "amplitude_from_rmse",
    "breed",
    "breeding_offsets",
    "check_equiangular_latitudes",
    "correlated_noise",
    "gaussian_angular_spectrum",
    "hemispheric_rms",
    "hens_hemispheric_norm",
    "hens_norm_bias",
    "hens_norm_profile",
    "hens_rescaling_factor",
    "initial_noise",
    "noise_correlation",
    "noise_max_degree",
    "nonnegative_mask",
    "perturbed_states",
    "rescale",
    "rescaling_factor",
    "seed_perturbation",
]
