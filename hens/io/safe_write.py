"""Writing command outputs without losing anything: refuse to replace what exists unless told to, and write
to a temporary name beside the target, then rename, so a kill or a full disk never leaves a half-written file
under the target's name (and never destroys the old one before the new one is complete)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from hens.errors import HensError


def check_target(path: Path, overwrite: bool, option: str = "--out") -> None:
    """HensError when ``path`` exists (and ``overwrite`` is false) or when its parent is not a folder."""
    path = Path(path)
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise HensError(f"{option} {path}: {parent} is a file, not a folder; choose another path")
            break
    if (path.exists() or path.is_symlink()) and not overwrite:
        kind = "folder" if path.is_dir() else "file"
        raise HensError(f"{option} {path} exists (a {kind}); choose another path or pass --overwrite to replace it")


def check_owned_folder(folder: Path, mark: str, overwrite: bool, key: str, fix: str, writer: str) -> None:
    """HensError when ``folder`` is a file, or an existing non-empty folder without the ``mark`` file that the
    command leaves in folders it wrote (so it never writes into someone else's folder) — unless ``overwrite``.
    ``key`` names the setting, ``fix`` the override that allows writing anyway, ``writer`` the command."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise HensError(f"{key}={folder} is a file; choose a folder")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / mark).exists() and not overwrite:
        raise HensError(f"{key}={folder} exists and was not written by {writer}; choose another folder or set {fix}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def write_atomic(path: Path, write: Callable[[Path], None], overwrite: bool, option: str = "--out") -> None:
    """``write(tmp)`` to a temporary sibling of ``path`` (a file or a folder), then move it to ``path``; the old
    ``path`` (allowed only with ``overwrite``) is replaced only once the new one is complete."""
    path = Path(path)
    check_target(path, overwrite, option)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    old = path.with_name(f".{path.name}.{os.getpid()}.old")
    try:
        _remove(tmp)
        write(tmp)
        if path.exists() or path.is_symlink():
            os.replace(path, old) if not path.is_dir() else path.rename(old)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        if old.exists() and not path.exists():
            old.rename(path)  # put the previous one back
        raise
    _remove(old)


def write_text_atomic(path: Path, text: str, overwrite: bool, option: str = "--out") -> None:
    """A text file written by :func:`write_atomic`."""
    write_atomic(path, lambda tmp: tmp.write_text(text), overwrite, option)
