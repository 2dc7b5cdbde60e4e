"""Forecaster: a checkpoint package as a torch module mapping a physical state to the next one.

``Forecaster(x)`` with ``x`` of shape ``[B, C, nlat, nlon]`` in physical units returns the state one model
step (``timestep_hours``) later, same shape and units:  y = σ ⊙ f((x − μ) / σ) + μ, where f is the network
and μ, σ the package's per-channel ``global_means`` / ``global_stds``.

Networks that need the valid time of the input state (makani SFNOs with the solar zenith angle among their
inputs; they set ``requires_valid_time = True``) get it from ``Forecaster(x, valid_time)``: numpy datetime64
(UTC), a scalar shared by the batch or one value per member, shape [B].  Everything else about such a network
(extra input channels, residual connections) happens inside f.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from hens.errors import CheckpointError
from hens.models.network import build_network
from hens.models.package import CheckpointPackage, read_package


class Forecaster(torch.nn.Module):
    """Normalise → network → denormalise.  See module docstring for the formula and shapes."""

    def __init__(self, network: torch.nn.Module, package: CheckpointPackage) -> None:
        super().__init__()
        self.network = network
        self.package = package
        self.channels = package.channels
        self.timestep_hours = package.timestep_hours
        self.register_buffer("mean", torch.as_tensor(package.means, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.as_tensor(package.stds, dtype=torch.float32).view(1, -1, 1, 1))
        self.precision = "fp32"
        self.compile_mode = "none"

    def set_compile(self, mode: str) -> None:
        """Compile the network's tensor-only core with ``torch.compile(mode=mode)`` (see :mod:`hens.models.compile`;
        once per Forecaster: ``none`` or a second call leaves it as it is)."""
        from hens.models.compile import compile_network

        if mode == "none" or self.compile_mode != "none":
            return
        self.network = compile_network(self.network, mode)
        self.compile_mode = mode

    def _network(self, xn: torch.Tensor, kwargs: dict) -> torch.Tensor:
        if self.compile_mode == "none":
            return self.network(xn, **kwargs)
        from hens.models.compile import compiled_call

        return compiled_call(self.compile_mode, self.name, self.network, xn, **kwargs)

    @property
    def name(self) -> str:
        return self.package.name

    @property
    def requires_valid_time(self) -> bool:
        """True when the network needs ``valid_time`` (e.g. for a solar zenith angle input)."""
        return bool(getattr(self.network, "requires_valid_time", False))

    def forward(self, x: torch.Tensor, valid_time: np.ndarray | np.datetime64 | None = None) -> torch.Tensor:
        """One model step: ``x`` [B, C, nlat, nlon] physical units at ``valid_time`` → the state one step later."""
        if x.ndim != 4 or x.shape[1] != len(self.channels) or tuple(x.shape[-2:]) != self.package.grid_shape:
            raise CheckpointError(
                f"checkpoint {self.name} expects states of shape [B, {len(self.channels)}, "
                f"{self.package.grid_shape[0]}, {self.package.grid_shape[1]}], got {list(x.shape)}"
            )
        xn = (x - self.mean) / self.std
        if self.requires_valid_time and valid_time is None:
            raise CheckpointError(
                f"checkpoint {self.name} needs the valid time of its input (solar zenith angle); "
                "pass valid_time as numpy datetime64"
            )
        kwargs = {"valid_time": valid_time} if self.requires_valid_time else {}
        if self.precision == "bf16":  # matmuls/convolutions in bfloat16; normalisation and state stay float32
            _transforms_in_float32(self.network)
            with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16):
                y = self._network(xn, kwargs)
            return y.float() * self.std + self.mean
        return self._network(xn, kwargs) * self.std + self.mean


def _transforms_in_float32(network: torch.nn.Module) -> None:
    """Run the spherical-harmonic transforms of ``network`` outside autocast, in float32 (complex results have
    no bfloat16 type, and the Legendre sums lose too much in 8 mantissa bits).  Idempotent."""
    from torch_harmonics import InverseRealSHT, InverseRealVectorSHT, RealSHT, RealVectorSHT

    for module in network.modules():
        if isinstance(module, (RealSHT, InverseRealSHT, RealVectorSHT, InverseRealVectorSHT)) and not getattr(
            module, "_hens_float32", False
        ):
            inner = module.forward

            def forward(x: torch.Tensor, *args: object, _inner=inner, **kwargs: object) -> torch.Tensor:
                with torch.autocast(device_type=x.device.type, enabled=False):
                    real = x.float() if not x.is_complex() else x.to(torch.complex64)
                    return _inner(real, *args, **kwargs)

            module.forward = forward
            module._hens_float32 = True


def load_forecaster(package: CheckpointPackage | str | Path, device: torch.device | str = "cpu") -> Forecaster:
    """Build the package's network, load its weights (strict) and return an eval-mode Forecaster on ``device``."""
    pkg = package if isinstance(package, CheckpointPackage) else read_package(package)
    network = build_network(pkg.architecture, pkg.model_kwargs)
    try:
        blob = torch.load(pkg.weights_path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is the same user error
        raise CheckpointError(f"cannot read weights {pkg.weights_path}: {err}") from err
    state = blob.get("model_state", blob) if isinstance(blob, dict) else blob
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if hasattr(network, "adapt_state_dict"):  # e.g. makani's legacy filter-weight layout
        state = network.adapt_state_dict(state)
    expected = network.state_dict()
    wrong_shape = [k for k, v in state.items() if k in expected and tuple(v.shape) != tuple(expected[k].shape)]
    if wrong_shape:
        key = wrong_shape[0]
        raise CheckpointError(
            f"checkpoint {pkg.name}: weight {key} has shape {tuple(state[key].shape)} but the architecture in "
            f"config.json expects {tuple(expected[key].shape)} ({len(wrong_shape)} mismatched); check config.json"
        )
    result = network.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(
            f"checkpoint {pkg.name}: weights do not match the architecture "
            f"(missing {result.missing_keys[:3]}, unexpected {result.unexpected_keys[:3]}); check config.json"
        )
    forecaster = Forecaster(network, pkg).to(device).eval()
    for param in forecaster.parameters():
        param.requires_grad_(False)
    return forecaster


def check_compatible(packages: list[CheckpointPackage]) -> None:
    """All checkpoints of one ensemble must share channels, grid and timestep; raise naming the first mismatch."""
    first = packages[0]
    for other in packages[1:]:
        if other.channels != first.channels:
            raise CheckpointError(
                f"checkpoints {first.name} and {other.name} have different channels; use packages of one model"
            )
        if other.grid_shape != first.grid_shape or not np.allclose(other.lat, first.lat):
            raise CheckpointError(f"checkpoints {first.name} and {other.name} are on different grids")
        if other.timestep_hours != first.timestep_hours:
            raise CheckpointError(f"checkpoints {first.name} and {other.name} have different timesteps")
