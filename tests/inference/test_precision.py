"""Precision options of the model step: bf16 autocast stays close to fp32; unknown modes are config errors."""

from __future__ import annotations

import pytest
import torch

from hens.config import compose_config, generate_spec
from hens.demo.shipped import shipped_checkpoint_dir
from hens.errors import ConfigError
from hens.models import load_forecaster


def test_bf16_step_is_close_to_fp32_and_fp32_is_untouched():
    forecaster = load_forecaster(shipped_checkpoint_dir() / "demo_sfno_s0")
    gen = torch.Generator().manual_seed(0)
    mean, std = forecaster.mean, forecaster.std
    x = mean + std * torch.randn(2, *forecaster.mean.shape[1:2], *forecaster.package.grid_shape, generator=gen)
    with torch.inference_mode():
        y32 = forecaster(x)
        forecaster.precision = "bf16"
        y16 = forecaster(x)
        forecaster.precision = "fp32"
        again = forecaster(x)
    assert y16.dtype == torch.float32
    torch.testing.assert_close(again, y32, rtol=0, atol=0)
    # bfloat16 keeps 8 mantissa bits: the normalised step error stays at the per-cent level
    err = ((y16 - y32) / std).abs().max().item()
    assert 0 < err < 0.1


def test_precision_is_validated_and_in_the_fingerprint():
    base = generate_spec(compose_config("generate", []))
    bf16 = generate_spec(compose_config("generate", ["precision=bf16"]))
    assert "precision" not in base.fingerprint_fields() and bf16.fingerprint_fields()["precision"] == "bf16"
    with pytest.raises(ConfigError, match="precision='fp8'"):
        generate_spec(compose_config("generate", ["precision=fp8"]))
