"""Initial-condition perturbations: seeded correlated noise and HENS-style bred vectors.

* :mod:`hens.perturb.noise` — unit-variance, spatially correlated Gaussian fields on the sphere.
* :mod:`hens.perturb.bred_vectors` — hemispheric rescaling, breeding cycles and ± member states.
"""

from hens.perturb.bred_vectors import (
    BOUNDARY_DEG,
    amplitude_from_rmse,
    breed,
    hemispheric_rms,
    initial_noise,
    nonnegative_mask,
    perturbed_states,
    rescale,
    rescaling_factor,
    seed_perturbation,
)
from hens.perturb.noise import (
    check_equiangular_latitudes,
    correlated_noise,
    gaussian_angular_spectrum,
    noise_correlation,
    noise_max_degree,
)

__all__ = [
    "BOUNDARY_DEG",
    "amplitude_from_rmse",
    "breed",
    "check_equiangular_latitudes",
    "correlated_noise",
    "gaussian_angular_spectrum",
    "hemispheric_rms",
    "initial_noise",
    "noise_correlation",
    "noise_max_degree",
    "nonnegative_mask",
    "perturbed_states",
    "rescale",
    "rescaling_factor",
    "seed_perturbation",
]
