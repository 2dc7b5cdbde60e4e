"""Which checkpoint packages a run uses: ``model.checkpoint_dir`` (a folder, or ``builtin:<set>`` for a set
registered by a provider, e.g. ``builtin:demo``) and ``model.checkpoints`` (names, or None for every package
in the folder).  Packages are read (metadata), never loaded (weights)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from hens.errors import HensError
from hens.models.forecaster import check_compatible
from hens.models.package import CheckpointPackage, read_package
from hens.models.providers import load_providers

BUILTIN_PREFIX = "builtin:"

_CHECKPOINT_SETS: dict[str, Callable[[], Path]] = {}


def register_checkpoint_set(name: str, folder: Callable[[], Path]) -> None:
    """Make ``model.checkpoint_dir=builtin:<name>`` mean the folder ``folder()`` returns."""
    _CHECKPOINT_SETS[name] = folder


def resolve_checkpoint_dir(checkpoint_dir: str) -> Path:
    """The folder of ``checkpoint_dir``: a registered ``builtin:<name>`` set, else the path itself (``~``
    expanded; an unknown ``builtin:`` name is taken as a path, which then is not a folder)."""
    if checkpoint_dir.startswith(BUILTIN_PREFIX):
        name = checkpoint_dir[len(BUILTIN_PREFIX) :]
        if name not in _CHECKPOINT_SETS:
            load_providers()
        if name in _CHECKPOINT_SETS:
            return _CHECKPOINT_SETS[name]()
    return Path(checkpoint_dir).expanduser()


def resolve_packages(checkpoint_dir: str, names: Sequence[str] | None) -> list[CheckpointPackage]:
    """Read (not load) the checkpoint packages of a run, in member order: ``names`` in ``checkpoint_dir``, or
    every package there (sorted by name) when ``names`` is None.  They must share channels, grid and step."""
    root = resolve_checkpoint_dir(checkpoint_dir)
    if not root.is_dir():
        raise HensError(f"model.checkpoint_dir={checkpoint_dir} is not a folder; point it at checkpoint packages")
    if names is None:
        names = sorted(p.name for p in root.iterdir() if (p / "metadata.json").is_file())
        if not names:
            raise HensError(f"model.checkpoint_dir={root} holds no checkpoint packages (folders with metadata.json)")
    packages = [read_package(root / name) for name in names]
    check_compatible(packages)
    return packages
