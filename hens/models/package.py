"""Checkpoint packages on disk, in the makani / earth2studio layout.

A package is a folder::

    <package>/
      config.json                               makani-style training params (channel_names, img_shape_x/y,
                                                dhours, normalization, model options) + hens keys
      metadata.json                             channel names, grid (lat/lon in degrees), timestep in hours
      global_means.npy                          float32, shape (1, C, 1, 1): per-channel mean, physical units
      global_stds.npy                           float32, shape (1, C, 1, 1): per-channel standard deviation
      training_checkpoints/best_ckpt_mp0.tar    torch pickle {"model_state": state_dict}

The same layout is used by published SFNO checkpoints, so the loader here is the loader for real ones.
Everything that can be wrong with a package is reported as a one-line :class:`CheckpointError`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from hens.errors import CheckpointError
from hens.models.checkpoint import WEIGHTS_RELPATH, CheckpointPackage, check_package_files, read_json
from hens.models.makani_package import is_makani_package, read_makani_package

REQUIRED_FILES = ("config.json", "metadata.json", "global_means.npy", "global_stds.npy", str(WEIGHTS_RELPATH))


def read_package(path: str | Path) -> CheckpointPackage:
    """Read and validate a checkpoint package folder (not the weights).

    Packages written by NVIDIA makani (config.json without a ``"hens"`` key) are read by
    :func:`hens.models.makani_package.read_makani_package`; hens' own packages are read here.
    """
    root = Path(path)
    if is_makani_package(root):
        return read_makani_package(root)
    check_package_files(root, REQUIRED_FILES, "checkpoint package")
    config = read_json(root / "config.json")
    metadata = read_json(root / "metadata.json")
    channels = tuple(metadata.get("channels") or config.get("channel_names") or ())
    if not channels:
        raise CheckpointError(f"checkpoint package {root}: metadata.json has no 'channels' list; add the channel names")
    means = np.load(root / "global_means.npy").astype(np.float32)
    stds = np.load(root / "global_stds.npy").astype(np.float32)
    for label, arr in (("global_means.npy", means), ("global_stds.npy", stds)):
        if arr.size != len(channels):
            raise CheckpointError(
                f"checkpoint package {root}: {label} has {arr.size} values but metadata lists {len(channels)} "
                "channels; the statistics and channel list must match"
            )
    if np.any(stds.reshape(-1) <= 0) or not np.all(np.isfinite(stds)):
        raise CheckpointError(f"checkpoint package {root}: global_stds.npy must be finite and positive")
    try:
        lat = np.asarray(metadata["lat"], dtype=np.float64)
        lon = np.asarray(metadata["lon"], dtype=np.float64)
        timestep_hours = float(metadata["timestep_hours"])
    except KeyError as err:
        raise CheckpointError(f"checkpoint package {root}: metadata.json lacks {err.args[0]!r}; add it") from err
    hens_meta = config.get("hens", {})
    return CheckpointPackage(
        path=root,
        name=root.name,
        channels=channels,
        lat=lat,
        lon=lon,
        timestep_hours=timestep_hours,
        means=means.reshape(-1),
        stds=stds.reshape(-1),
        architecture=str(hens_meta.get("architecture", "torch_harmonics_sfno")),
        model_kwargs=dict(hens_meta.get("model_kwargs", {})),
        extra=dict(metadata.get("hens", {})),
    )


def write_package(
    path: str | Path,
    *,
    state_dict: dict[str, Any],
    channels: list[str] | tuple[str, ...],
    lat: np.ndarray,
    lon: np.ndarray,
    timestep_hours: float,
    means: np.ndarray,
    stds: np.ndarray,
    model_kwargs: dict[str, Any],
    architecture: str = "torch_harmonics_sfno",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint package in the makani layout (see module docstring) and return its path."""
    import torch

    root = Path(path)
    (root / WEIGHTS_RELPATH.parent).mkdir(parents=True, exist_ok=True)
    n_channels = len(channels)
    config = {
        "nettype": "SFNO",
        "channel_names": list(channels),
        "in_channels": list(range(n_channels)),
        "out_channels": list(range(n_channels)),
        "N_in_channels": n_channels,
        "N_out_channels": n_channels,
        "img_shape_x": int(len(lat)),
        "img_shape_y": int(len(lon)),
        "dhours": float(timestep_hours),
        "dt": 1,
        "normalization": "zscore",
        "hens": {"architecture": architecture, "model_kwargs": model_kwargs},
    }
    metadata = {
        "channels": list(channels),
        "lat": [float(v) for v in lat],
        "lon": [float(v) for v in lon],
        "timestep_hours": float(timestep_hours),
        "grid": "equiangular",
        "hens": extra or {},
    }
    (root / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (root / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    np.save(root / "global_means.npy", np.asarray(means, dtype=np.float32).reshape(1, n_channels, 1, 1))
    np.save(root / "global_stds.npy", np.asarray(stds, dtype=np.float32).reshape(1, n_channels, 1, 1))
    torch.save({"model_state": state_dict}, root / WEIGHTS_RELPATH)
    return root
