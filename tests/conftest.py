"""Shared fixtures (the demo-truth cache) and the ``e2e`` marker.

Helpers live in ``tests/helpers/`` (CLI runner and the small generate config, ERA5 and makani fixtures).
Tests that run whole commands (``hens generate`` / ``diagnose`` end to end, mostly through the CLI) are marked
``e2e``: ``pytest -m "not e2e"`` runs the fast part alone.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One demo-truth cache for the whole session (CI sets HENS_CACHE_DIR; otherwise a temp folder)."""
    existing = os.environ.get("HENS_CACHE_DIR")
    path = Path(existing) if existing else tmp_path_factory.mktemp("hens-cache")
    os.environ["HENS_CACHE_DIR"] = str(path)
    return path
