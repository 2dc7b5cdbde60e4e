"""Physical constants shared by several packages (one definition each)."""

from __future__ import annotations

__all__ = ["EARTH_RADIUS_KM", "KERNEL_DEVICES"]

#: Mean radius of the Earth in km (the IUGG mean radius R₁ = 6371.0088 km, rounded):
#: the length scale of the perturbation noise and the wavelength 2πR/(l + 1) of spherical-harmonic degree l.
EARTH_RADIUS_KM = 6371.0

#: Where `hens diagnose` runs its torch kernels (``diagnose.device``): the spectral transform and the fair CRPS.
KERNEL_DEVICES = ("cpu", "cuda")
