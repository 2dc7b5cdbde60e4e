"""Modules outside :mod:`hens.models` that register dynamics (:mod:`hens.models.dynamics`) or checkpoint sets
(:mod:`hens.models.resolve`).

They are imported by name, once, on the first lookup of a name that is not registered yet: the registries never
import their providers' code (the demo world builds on :mod:`hens.models`, not the other way round), and a run
that only needs what :mod:`hens.models` registers itself never imports them.
"""

from __future__ import annotations

import importlib

PROVIDER_MODULES: tuple[str, ...] = ("hens.demo.providers",)

_loaded = False


def load_providers() -> None:
    """Import every provider module (each registers its names on import); later calls do nothing."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for name in PROVIDER_MODULES:
        importlib.import_module(name)
