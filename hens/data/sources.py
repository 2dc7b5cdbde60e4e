"""State sources: where initial conditions (and breeding analyses) come from: the demo world or ERA5 Zarr.

A source returns physical states ``[T, C, nlat, nlon]`` (float32) for requested times, in its own channel
order: ``states`` are the analyses a forecast starts from, ``truth`` what it is verified against (the same for
ERA5, where the reanalysis is both; the demo world's analyses carry an analysis error).  :func:`channel_indices`
maps a checkpoint's channel list onto it, naming every missing channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Protocol

import numpy as np

from hens.errors import ConfigError, HensError


class ICLike(Protocol):
    """What :func:`build_source` reads of the ``ic`` config (a validated :class:`hens.config.ICSpec` fits)."""

    source: str
    demo_world: dict[str, Any] | None
    path: str | None
    layout: str


class StateSource(Protocol):
    channels: tuple[str, ...]
    lat: np.ndarray
    lon: np.ndarray

    def states(self, times: np.ndarray) -> np.ndarray: ...

    def truth(self, times: np.ndarray) -> np.ndarray: ...

    def check_available(self, times: np.ndarray) -> None: ...

    def describe(self) -> dict[str, Any]: ...


class DemoTruthSource:
    """The demo world: analyses (truth + analysis error) as states, its truth for verification (cached)."""

    def __init__(self, demo_world: dict[str, Any] | None = None) -> None:
        from hens.demo.world import DEMO_CHANNELS, demo_world_spec

        self.spec = demo_world_spec(demo_world)
        self.channels = tuple(DEMO_CHANNELS)
        self.lat = self.spec.lat()
        self.lon = self.spec.lon()

    def states(self, times: np.ndarray) -> np.ndarray:
        from hens.demo.world import analysis_states

        return analysis_states(self.spec, np.asarray(times, dtype="datetime64[ns]"))

    def truth(self, times: np.ndarray) -> np.ndarray:
        from hens.demo.world import truth_states

        return truth_states(self.spec, np.asarray(times, dtype="datetime64[ns]"))

    def check_available(self, times: np.ndarray) -> None:
        """Raise a HensError naming the first time the demo world cannot provide (before its epoch, off the grid)."""
        from hens.demo.world import sample_indices

        try:
            sample_indices(self.spec, np.asarray(times, dtype="datetime64[ns]"))
        except HensError as err:
            if "offered up to" in str(err):
                raise
            raise HensError(
                f"{err} (breeding also needs the analyses before each start date: choose later ic.start_dates)"
            ) from err

    def describe(self) -> dict[str, Any]:
        return {"source": "demo", "demo_world": asdict(self.spec), "fingerprint": self.spec.fingerprint()}


def build_source(ic: ICLike, channels: Sequence[str] | None = None) -> StateSource:
    """The initial-condition source of ``ic``.

    Args:
        ic: the validated ``ic`` config (its checks, e.g. that era5 has a path, are :class:`hens.config.ICSpec`'s).
        channels: the checkpoint's channel list. An ERA5 source then reads exactly these, in this order (and a
            missing one is an error naming all of them); ``None`` exposes everything the store can provide.
            The demo world ignores it (it always has its own channels).
    """
    if ic.source == "demo":
        return DemoTruthSource(ic.demo_world)
    if ic.source == "era5":
        from hens.data.era5 import Era5Source

        assert ic.path is not None, "ICSpec.check requires ic.path for ic.source=era5"
        return Era5Source(ic.path, channels, layout=ic.layout)
    raise ConfigError(f"ic.source={ic.source!r} is not supported; use ic.source=demo or ic.source=era5")


def channel_indices(source_channels: tuple[str, ...], wanted: tuple[str, ...], what: str) -> np.ndarray:
    """Positions of ``wanted`` channels in ``source_channels``; a HensError names every missing one."""
    missing = [c for c in wanted if c not in source_channels]
    if missing:
        raise HensError(
            f"{what} lacks channel(s) {', '.join(missing)} (it has {', '.join(source_channels)}); "
            "choose a matching source or checkpoint"
        )
    return np.array([source_channels.index(c) for c in wanted], dtype=np.int64)


def check_grid(source: StateSource, lat: np.ndarray, lon: np.ndarray, what: str) -> None:
    """The source grid must equal the checkpoint grid (no regridding is done)."""
    if source.lat.shape != lat.shape or source.lon.shape != lon.shape:
        raise HensError(
            f"{what}: initial conditions are on a {len(source.lat)}×{len(source.lon)} grid but the checkpoint "
            f"expects {len(lat)}×{len(lon)}; use initial conditions on the checkpoint's grid"
        )
    if not (np.allclose(source.lat, lat, atol=1e-6) and np.allclose(source.lon, lon, atol=1e-6)):
        raise HensError(f"{what}: initial-condition latitudes/longitudes differ from the checkpoint's grid")
