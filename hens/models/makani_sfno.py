"""NVIDIA makani's SFNO, rebuilt so that makani checkpoints load as they are and compute the same step.

Published SFNO checkpoints (HENS, ``sfno_73ch_small``) are state dicts of makani's ``SingleStepWrapper``:
the network sits under the attribute ``model`` and makani's preprocessor owns no persistent tensors, so every
key starts with ``model.``.  :class:`MakaniSFNOStep` mirrors that: ``model`` is :class:`MakaniSFNO`, whose
module tree (and so every parameter name and shape) follows makani's ``SphericalFourierNeuralOperatorNet``
for the options makani's HENS configuration uses, and ``features`` (no persistent tensors) appends the extra
input channels makani's preprocessor appends.  For ``embed_dim`` E, ``num_layers`` L, ``C_in`` network
inputs (state + zenith + static channels), ``C_out`` outputs and ``lmax`` spherical-harmonic degrees::

    model.encoder.fwd.0.weight              (E·encoder_ratio, C_in, 1, 1)   1×1 conv with bias, then activation
    model.encoder.fwd.0.bias                (E·encoder_ratio,)              (repeated encoder_layers times)
    model.encoder.fwd.2.weight              (E, E·encoder_ratio, 1, 1)      bias-free output projection
    model.blocks.N.norm0.weight / .bias     (E,)                            InstanceNorm2d(eps=1e-6, affine)
    model.blocks.N.filter.filter.weight     (1, E, E, lmax) complex64       "dhconv": one E×E matrix per degree l
    model.blocks.N.norm1.weight / .bias     (E,)
    model.blocks.N.outer_skip.weight        (E, E, 1, 1)                    linear skip around the whole block
    model.blocks.N.mlp.fwd.0.weight / bias  (E·mlp_ratio, E, 1, 1) / (E·mlp_ratio,)
    model.blocks.N.mlp.fwd.3.weight / bias  (E, E·mlp_ratio, 1, 1) / (E,)
    model.decoder.fwd.0.weight / .bias      (E·decoder_ratio, E, 1, 1) / (E·decoder_ratio,)
    model.decoder.fwd.2.weight              (C_out, E·decoder_ratio, 1, 1)
    model.residual_transform.weight         (C_out, C_in, 1, 1)             "big skip" from the network input

Checkpoints written by makani before its spectral filters gained a channel-group axis (the published HENS
and ``sfno_73ch_small`` packages) store the filter weight as ``(E, E, lmax)``; :meth:`MakaniSFNOStep.
adapt_state_dict` accepts both layouts, a bare network state dict without the ``model.`` prefix, and a
``module.`` prefix from distributed training.

Forward computation (makani's, for these options), all in float32, on normalised inputs ``x`` of shape
``[B, C_in, H, W]``:

1. ``residual = x`` (projected through the input-grid SHT pair first when the output grid differs);
2. ``x = encoder(x)``;
3. each block: ``y, r = filter(x)`` where ``filter`` is SHT → per-degree channel mixing → inverse SHT and ``r``
   is ``x`` (or, for the first and last block, ``x`` carried through the same transform pair onto the output
   grid); then ``y = norm1(mlp(act(norm0(y)))) + outer_skip(r)``.  The first block goes from the input grid
   (``model_grid_type``, H×W) to the internal ``sht_grid_type`` grid (H//scale_factor × W//scale_factor),
   the last one back;
4. ``x = decoder(x) + residual_transform(residual)`` (big skip).

The spherical transforms are torch-harmonics' ``RealSHT`` / ``InverseRealSHT`` with their defaults
(orthonormal harmonics, Condon–Shortley phase), as makani builds them, cast to float32 as makani does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from hens.errors import CheckpointError

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}


class EncoderDecoder(nn.Module):
    """Pointwise (1×1 conv) stack: ``num_layers`` × (conv with bias → activation), then a bias-free conv.

    Parameter names ``fwd.<i>.weight`` / ``fwd.<i>.bias`` follow makani's ``EncoderDecoder``.
    Shapes: ``[B, input_dim, H, W]`` → ``[B, output_dim, H, W]``.
    """

    def __init__(self, num_layers: int, input_dim: int, output_dim: int, hidden_dim: int, act: type[nn.Module]):
        super().__init__()
        layers: list[nn.Module] = []
        width = input_dim
        for _ in range(num_layers):
            layers += [nn.Conv2d(width, hidden_dim, 1, bias=True), act()]
            width = hidden_dim
        layers.append(nn.Conv2d(width, output_dim, 1, bias=False))
        self.fwd = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fwd(x)


class ChannelMLP(nn.Module):
    """Block MLP: 1×1 conv (bias) → activation → 1×1 conv (bias); makani's ``MLP`` layout ``fwd.{0,3}``.

    Indices 2 and 4 are makani's (here always inactive) dropout slots, kept so the names line up.
    """

    def __init__(self, dim: int, hidden: int, act: type[nn.Module]):
        super().__init__()
        fc1 = nn.Conv2d(dim, hidden, 1, bias=True)
        fc2 = nn.Conv2d(hidden, dim, 1, bias=True)
        self.fwd = nn.Sequential(fc1, act(), nn.Identity(), fc2, nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fwd(x)


class SpectralConvDH(nn.Module):
    """Linear spectral filter with the ``dhconv`` operator: y_lm = Σ_i W[i, o, l] · x_lm (one matrix per degree l).

    ``weight`` is complex64 of shape ``(1, E, E, lmax)`` (makani's group axis first).  Forward maps
    ``[B, E, H_in, W_in]`` on the forward transform's grid to ``([B, E, H_out, W_out], residual)`` on the
    inverse transform's grid; ``residual`` is the input, re-synthesised on the output grid when the two
    transforms differ in grid or size (that is how makani's first and last block change resolution).
    Transforms and contraction run in float32.
    """

    def __init__(self, forward_transform: nn.Module, inverse_transform: nn.Module, embed_dim: int):
        super().__init__()
        self.forward_transform = forward_transform
        self.inverse_transform = inverse_transform
        self.scale_residual = (
            forward_transform.nlat != inverse_transform.nlat
            or forward_transform.nlon != inverse_transform.nlon
            or forward_transform.grid != inverse_transform.grid
        )
        lmax = inverse_transform.lmax
        scale = math.sqrt(1.0 / embed_dim)
        self.weight = nn.Parameter(scale * torch.randn(1, embed_dim, embed_dim, lmax, dtype=torch.complex64))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dtype = x.dtype
        residual = x
        coeffs = self.forward_transform(x.float()).contiguous()
        if self.scale_residual:
            residual = self.inverse_transform(coeffs).to(dtype)
        batch, channels, nl, nm = coeffs.shape
        grouped = coeffs.reshape(batch, 1, channels, nl, nm)  # makani's (batch, group, channel, l, m) layout
        mixed = torch.einsum("bgixy,giox->bgoxy", grouped, self.weight).reshape(batch, -1, nl, nm).contiguous()
        return self.inverse_transform(mixed).to(dtype), residual


class SpectralFilterLayer(nn.Module):
    """Holds the filter under the name ``filter`` (makani's ``SpectralFilterLayer``), hence ``filter.filter.weight``."""

    def __init__(self, forward_transform: nn.Module, inverse_transform: nn.Module, embed_dim: int):
        super().__init__()
        self.filter = SpectralConvDH(forward_transform, inverse_transform, embed_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.filter(x)


class NeuralOperatorBlock(nn.Module):
    """One SFNO block as makani builds it (inner skip "none", outer skip "linear", no final activation).

    ``y, r = filter(x)``; ``y = norm0(y)``; ``y = act(y)``; ``y = mlp(y)``; ``y = norm1(y)``;
    return ``y + outer_skip(r)``.  Shapes ``[B, E, H_in, W_in]`` → ``[B, E, H_out, W_out]``.
    """

    def __init__(
        self,
        forward_transform: nn.Module,
        inverse_transform: nn.Module,
        embed_dim: int,
        *,
        mlp_ratio: float,
        use_mlp: bool,
        act: type[nn.Module],
        normalization_layer: str,
    ):
        super().__init__()
        self.norm0 = _norm(normalization_layer, embed_dim)
        self.filter = SpectralFilterLayer(forward_transform, inverse_transform, embed_dim)
        self.act_layer0 = act()
        self.norm1 = _norm(normalization_layer, embed_dim)
        self.outer_skip = nn.Conv2d(embed_dim, embed_dim, 1, 1, bias=False)
        if use_mlp:
            self.mlp = ChannelMLP(embed_dim, int(embed_dim * mlp_ratio), act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, residual = self.filter(x)
        x = self.act_layer0(self.norm0(x))
        if hasattr(self, "mlp"):
            x = self.mlp(x)
        return self.norm1(x) + self.outer_skip(residual)


def _norm(kind: str, embed_dim: int) -> nn.Module:
    if kind == "instance_norm":
        return nn.InstanceNorm2d(embed_dim, eps=1e-6, affine=True, track_running_stats=False)
    return nn.Identity()  # "none"; other kinds are rejected in MakaniSFNO.__init__


class MakaniSFNO(nn.Module):
    """makani's ``SphericalFourierNeuralOperatorNet`` for the supported options (see the module docstring).

    Args:
        inp_shape / out_shape: (nlat, nlon) of the input and output grids (must be equal here).
        inp_chans / out_chans: network input channels (state + extra features) and output channels.
        scale_factor: the internal grid is (nlat // scale_factor, nlon // scale_factor).
        hard_thresholding_fraction / max_modes: spectral truncation, as makani (``max_modes`` wins).
        model_grid_type: grid of the data ("equiangular"); sht_grid_type: internal grid ("legendre-gauss").
        Other arguments as makani's constructor.
    Forward: ``[B, inp_chans, nlat, nlon]`` (normalised) → ``[B, out_chans, nlat, nlon]`` (normalised).
    """

    def __init__(
        self,
        *,
        inp_shape: Sequence[int],
        out_shape: Sequence[int],
        inp_chans: int,
        out_chans: int,
        scale_factor: int,
        embed_dim: int,
        num_layers: int,
        repeat_layers: int = 1,
        use_mlp: bool = True,
        mlp_ratio: float = 2.0,
        encoder_ratio: float = 1,
        decoder_ratio: float = 1,
        activation_function: str = "gelu",
        encoder_layers: int = 1,
        normalization_layer: str = "instance_norm",
        hard_thresholding_fraction: float = 1.0,
        max_modes: Sequence[int] | None = None,
        big_skip: bool = True,
        model_grid_type: str = "equiangular",
        sht_grid_type: str = "legendre-gauss",
    ):
        super().__init__()
        import torch_harmonics as th

        if activation_function not in ACTIVATIONS:
            raise CheckpointError(
                f"makani option activation_function={activation_function!r} is not supported; "
                f"supported: {', '.join(ACTIVATIONS)}"
            )
        if normalization_layer not in ("instance_norm", "none"):
            raise CheckpointError(
                f"makani option normalization_layer={normalization_layer!r} is not supported; "
                "supported: instance_norm, none"
            )
        self.inp_shape = (int(inp_shape[0]), int(inp_shape[1]))
        self.out_shape = (int(out_shape[0]), int(out_shape[1]))
        self.inp_chans, self.out_chans = int(inp_chans), int(out_chans)
        self.embed_dim = int(embed_dim)
        self.big_skip = bool(big_skip)
        self.repeat_layers = int(repeat_layers)
        self.h = self.inp_shape[0] // int(scale_factor)
        self.w = self.inp_shape[1] // int(scale_factor)
        if max_modes is not None:
            modes_lat, modes_lon = int(max_modes[0]), int(max_modes[1])
        else:
            modes_lat = int(self.h * hard_thresholding_fraction)
            modes_lon = int((self.w // 2 + 1) * hard_thresholding_fraction)
        modes = dict(lmax=modes_lat, mmax=modes_lon)
        self.trans_down = th.RealSHT(*self.inp_shape, **modes, grid=model_grid_type).float()
        self.itrans_up = th.InverseRealSHT(*self.out_shape, **modes, grid=model_grid_type).float()
        self.trans = th.RealSHT(self.h, self.w, **modes, grid=sht_grid_type).float()
        self.itrans = th.InverseRealSHT(self.h, self.w, **modes, grid=sht_grid_type).float()

        act = ACTIVATIONS[activation_function]
        E = self.embed_dim
        self.encoder = EncoderDecoder(int(encoder_layers), self.inp_chans, E, int(encoder_ratio * E), act)
        self.blocks = nn.ModuleList()
        for i in range(int(num_layers)):
            fwd = self.trans_down if i == 0 else self.trans
            inv = self.itrans_up if i == int(num_layers) - 1 else self.itrans
            self.blocks.append(
                NeuralOperatorBlock(
                    fwd, inv, E, mlp_ratio=mlp_ratio, use_mlp=use_mlp, act=act, normalization_layer=normalization_layer
                )
            )
        self.decoder = EncoderDecoder(int(encoder_layers), E, self.out_chans, int(decoder_ratio * E), act)
        if self.big_skip:
            self.residual_transform = nn.Conv2d(self.inp_chans, self.out_chans, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x
        if self.big_skip and self.out_shape != self.inp_shape:
            residual = self.itrans_up(self.trans_down(x.float()).contiguous()).to(x.dtype)
        x = self.encoder(x)
        for _ in range(self.repeat_layers):
            for block in self.blocks:
                x = block(x)
        x = self.decoder(x)
        if self.big_skip:
            x = x + self.residual_transform(residual)
        return x


class MakaniSFNOStep(nn.Module):
    """One model step on normalised states: append makani's extra input channels, run :class:`MakaniSFNO`.

    ``forward(x, valid_time)``: ``x`` is ``[B, C, nlat, nlon]``, the state already normalised with the
    package's means/stds ((x − μ)/σ); ``valid_time`` is the valid time of ``x`` (numpy datetime64, a scalar
    or shape [B]; UTC), needed when the package adds the solar zenith angle.  Returns the normalised next
    state ``[B, C, nlat, nlon]``; :class:`hens.models.forecaster.Forecaster` denormalises it.
    """

    def __init__(self, *, features: Mapping[str, Any], **network: Any):
        super().__init__()
        from hens.models.makani_inputs import MakaniInputFeatures

        self.features = MakaniInputFeatures(**features)
        expected = self.features.n_out_channels(int(features["n_state"]))
        if int(network["inp_chans"]) != expected:
            raise CheckpointError(
                f"makani network expects {network['inp_chans']} input channels but the state and extra features "
                f"give {expected}; check N_in_channels and the add_* options in config.json"
            )
        self.model = MakaniSFNO(**network)
        self.requires_valid_time = self.features.add_zenith

    def forward(self, x: torch.Tensor, valid_time: np.ndarray | None = None) -> torch.Tensor:
        return self.model(self.features(x, valid_time))

    def adapt_state_dict(self, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Bring a makani state dict to this module's layout (prefixes, legacy filter-weight layout).

        Accepts keys with ``module.`` / ``model.`` prefixes or none, and ``filter.filter.weight`` tensors of
        shape ``(E, E, lmax)`` (makani checkpoints from before channel groups) as well as ``(1, E, E, lmax)``.
        Anything else is left as is, so that strict loading still reports real mismatches.
        """
        out: dict[str, torch.Tensor] = {}
        for key, value in state.items():
            key = key.removeprefix("module.")
            if not key.startswith("model."):
                key = "model." + key
            if key.endswith(".filter.filter.weight") and value.ndim == 3:
                value = value.unsqueeze(0)
            out[key] = value
        return out
