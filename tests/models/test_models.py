"""Checkpoint packages: loading, the normalise → network → denormalise contract, and clear errors."""

import json

import numpy as np
import pytest
import torch

from hens.errors import CheckpointError
from hens.models.forecaster import check_compatible, load_forecaster
from hens.models.package import read_package, write_package

KW = dict(img_size=[9, 16], grid="equiangular", scale_factor=1, in_chans=2, out_chans=2, embed_dim=8, num_layers=1)
LAT = np.linspace(90, -90, 9)
LON = np.arange(16) * 22.5


def _package(tmp_path, name="p", channels=("z500", "t850"), seed=0):
    from torch_harmonics.examples.models import SphericalFourierNeuralOperator

    torch.manual_seed(seed)
    net = SphericalFourierNeuralOperator(**{**KW, "img_size": (9, 16)})
    return write_package(
        tmp_path / name,
        state_dict=net.state_dict(),
        channels=list(channels),
        lat=LAT,
        lon=LON,
        timestep_hours=6,
        means=np.array([5e4, 270.0]),
        stds=np.array([2e3, 10.0]),
        model_kwargs=KW,
        extra={"rmse_48h": {"z500": 100.0, "t850": 1.0}},
    ), net


def test_forecaster_is_normalise_network_denormalise(tmp_path):
    path, net = _package(tmp_path)
    fc = load_forecaster(path)
    assert fc.channels == ("z500", "t850") and fc.timestep_hours == 6
    x = torch.randn(3, 2, 9, 16, dtype=torch.float64).float() * torch.tensor([2e3, 10.0]).view(1, 2, 1, 1)
    x = x + torch.tensor([5e4, 270.0]).view(1, 2, 1, 1)
    mean = torch.tensor([5e4, 270.0]).view(1, 2, 1, 1)
    std = torch.tensor([2e3, 10.0]).view(1, 2, 1, 1)
    with torch.no_grad():
        expected = net.eval()((x - mean) / std) * std + mean
        torch.testing.assert_close(fc(x), expected)
    np.testing.assert_allclose(np.load(path / "global_means.npy").shape, (1, 2, 1, 1))
    assert json.loads((path / "config.json").read_text())["channel_names"] == ["z500", "t850"]


def test_package_errors_are_clear(tmp_path):
    path, _ = _package(tmp_path)
    (path / "global_stds.npy").unlink()
    with pytest.raises(CheckpointError, match="missing global_stds.npy"):
        read_package(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        read_package(tmp_path / "nowhere")

    path, _ = _package(tmp_path, name="q")
    np.save(path / "global_means.npy", np.zeros((1, 3, 1, 1), dtype=np.float32))
    with pytest.raises(CheckpointError, match="3 values but metadata lists 2"):
        read_package(path)

    path, _ = _package(tmp_path, name="r")
    fc = load_forecaster(path)
    with pytest.raises(CheckpointError, match="expects states of shape"):
        fc(torch.zeros(1, 3, 9, 16))
    with pytest.raises(CheckpointError, match="expects states of shape"):
        fc(torch.zeros(1, 2, 10, 16))

    meta = json.loads((path / "config.json").read_text())
    meta["hens"]["model_kwargs"]["embed_dim"] = 4
    (path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="do not match|cannot build|has shape"):
        load_forecaster(path)


def test_incompatible_checkpoints_are_rejected(tmp_path):
    a, _ = _package(tmp_path, name="a")
    b, _ = _package(tmp_path, name="b", channels=("z500", "t500"))
    with pytest.raises(CheckpointError, match="different channels"):
        check_compatible([read_package(a), read_package(b)])
