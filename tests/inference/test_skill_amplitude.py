"""``ensemble.bred_vector.amplitude_file``: the target amplitude handed to breeding is amplitude_fraction × the
skill file's 48-h RMSE (pooled, or the checkpoint's own), and it excludes explicit amplitudes."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from hens.config import compose_config, generate_spec
from hens.ensemble.plan import EnsembleLayout
from hens.errors import ConfigError
from hens.inference.members import InitialStates
from hens.io.skill_file import write_skill_file

CHANNELS = ("z500", "t2m")


def _states(tmp_path, pooled: bool) -> InitialStates:
    path = write_skill_file(tmp_path / "skill.json", {
        "pooled": pooled, "channels": list(CHANNELS), "lead_hours": [0.0, 24.0, 48.0],
        "rmse": {"pooled": {"z500": [0.0, 1.0, 200.0], "t2m": [0.0, 1.0, 2.0]},
                 "checkpoints": {"a": {"z500": [0.0, 1.0, 100.0], "t2m": [0.0, 1.0, 4.0]}}},
    })  # fmt: skip
    spec = generate_spec(compose_config("generate", [f"ensemble.bred_vector.amplitude_file={path}"]))
    return InitialStates(
        source_states=lambda t: np.zeros((len(t), 2, 3, 4), np.float32),
        init_times=spec.ic.start_dates,
        layout=EnsembleLayout(1, 2, "hens"),
        bred=spec.ensemble.bred_vector,
        global_seed=0,
        channels=CHANNELS,
        lat=np.linspace(60, -60, 3),
        device=torch.device("cpu"),
    )


def _forecaster(name: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, package=SimpleNamespace(extra={"rmse_48h": {"z500": 1e6, "t2m": 1e6}}))


def test_pooled_and_per_checkpoint_amplitudes(tmp_path):
    pooled = _states(tmp_path, pooled=True).target_amplitude(_forecaster("a"))
    torch.testing.assert_close(pooled, torch.tensor([0.35 * 200.0, 0.35 * 2.0], dtype=torch.float64))
    own = _states(tmp_path, pooled=False).target_amplitude(_forecaster("a"))
    torch.testing.assert_close(own, torch.tensor([0.35 * 100.0, 0.35 * 4.0], dtype=torch.float64))


def test_amplitude_and_amplitude_file_exclude_each_other(tmp_path):
    with pytest.raises(ConfigError, match="set one of them to null"):
        generate_spec(compose_config("generate", [
            "ensemble.bred_vector.amplitude_file=x.json", "ensemble.bred_vector.amplitude={z500: 1.0}"]))  # fmt: skip
