"""What every checkpoint package is once read: :class:`CheckpointPackage`, plus the file checks both package
layouts share (hens' own, :mod:`hens.models.package`, and makani's, :mod:`hens.models.makani_package`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hens.errors import CheckpointError

WEIGHTS_RELPATH = Path("training_checkpoints") / "best_ckpt_mp0.tar"


@dataclass(frozen=True)
class CheckpointPackage:
    """What a checkpoint package holds, validated; weights are read lazily by :func:`load_forecaster`.

    Attributes:
        path: the package folder.
        name: the folder name, used as the checkpoint's label in stores.
        channels: channel names, length C, in the network's channel order.
        lat: latitudes in degrees, shape (nlat,), north to south.
        lon: longitudes in degrees east, shape (nlon,), ascending from 0.
        timestep_hours: the model's step, hours.
        means: per-channel normalisation mean, shape (C,), physical units.
        stds: per-channel normalisation standard deviation, shape (C,), physical units.
        architecture: which network builder to use (see :mod:`hens.models.network`).
        model_kwargs: keyword arguments for that builder.
        extra: any further hens metadata (e.g. ``rmse_48h``: per-channel deterministic RMSE at 48 h).
    """

    path: Path
    name: str
    channels: tuple[str, ...]
    lat: np.ndarray
    lon: np.ndarray
    timestep_hours: float
    means: np.ndarray
    stds: np.ndarray
    architecture: str
    model_kwargs: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def weights_path(self) -> Path:
        return self.path / WEIGHTS_RELPATH

    @property
    def timestep(self) -> np.timedelta64:
        """The model step as a timedelta64 in whole seconds."""
        return np.timedelta64(int(round(self.timestep_hours * 3600)), "s")

    @property
    def grid_shape(self) -> tuple[int, int]:
        return (len(self.lat), len(self.lon))


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"checkpoint file {path} is not valid JSON ({err.msg}); re-export the package") from err


def check_package_files(root: Path, required: tuple[str, ...], what: str) -> None:
    """Raise a one-line CheckpointError when ``root`` is not a folder or lacks any of ``required``."""
    if not root.is_dir():
        raise CheckpointError(
            f"checkpoint package {root} does not exist; check model.checkpoint_dir / model.checkpoints"
        )
    missing = [name for name in required if not (root / name).is_file()]
    if missing:
        raise CheckpointError(f"{what} {root} is missing {', '.join(missing)}; a package needs {', '.join(required)}")
