"""Checkpoint packages and the Forecaster built from them."""

from hens.models.forecaster import Forecaster, load_forecaster
from hens.models.package import CheckpointPackage, read_package, write_package

__all__ = ["CheckpointPackage", "Forecaster", "load_forecaster", "read_package", "write_package"]
