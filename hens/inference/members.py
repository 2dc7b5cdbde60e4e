"""Initial states of the members of one work item: bred vectors, signs, control.

For start date t₀ and checkpoint c, bred vector p is a pure function of (global seed, t₀, c, p): its seed
noise comes from a generator seeded by :func:`hens.ensemble.perturbation_seed`, and breeding uses only the
analyses at t₀ − o_k Δt (:func:`hens.perturb.bred_vectors.breeding_offsets`; HENS: t₀ − 2Δt, t₀ − Δt, t₀) and
checkpoint c.  Members of the item are x₀ + s·δ_p (s = ±1, or 0 for a control).  Analyses are read once per
start date and kept (a rank loops over many items of the same dates).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

import numpy as np
import torch

from hens.config import BredVectorSpec
from hens.constants import EARTH_RADIUS_KM
from hens.ensemble.plan import EnsembleLayout, WorkItem, perturbation_seed
from hens.errors import HensError
from hens.io.skill_file import read_skill_file, rmse_at_lead
from hens.models.forecaster import Forecaster
from hens.perturb.bred_vectors import (
    amplitude_from_rmse,
    breed,
    breeding_offsets,
    perturbed_states,
    seed_perturbation,
)
from hens.perturb.methods import white_noise_perturbation

log = logging.getLogger("hens.generate")

MIN_GRID_SPACINGS = 2.0
"""The seed noise's length scale ℓ should span at least this many equatorial grid spacings 2πR / n_lon."""


def unresolved_length_scale(length_scale_km: float, n_lon: int, *, radius_km: float = EARTH_RADIUS_KM) -> str | None:
    """A one-line warning when the seed-noise length scale ℓ is below what the grid resolves, else None.

    Rule: ℓ < 2 Δx with Δx = 2πR / n_lon the grid spacing at the equator (km).  A Gaussian correlation of
    standard deviation ℓ needs a couple of grid points per ℓ; below that the noise is limited by the grid's
    truncation (:func:`hens.perturb.noise.noise_max_degree`), not by ℓ, and is smoother than asked for
    (e.g. 500 km on the demo's 64 longitudes, Δx ≈ 625 km; 0.25°: Δx ≈ 27.8 km).
    """
    spacing_km = 2.0 * math.pi * radius_km / n_lon
    if length_scale_km >= MIN_GRID_SPACINGS * spacing_km:
        return None
    return (
        f"warning: ensemble.bred_vector.noise_length_scale_km={length_scale_km:g} is below {MIN_GRID_SPACINGS:g} "
        f"grid spacings at the equator ({MIN_GRID_SPACINGS * spacing_km:.0f} km on {n_lon} longitudes): the seed "
        "noise is as smooth as the grid allows, not the length scale asked for"
    )


def explicit_amplitude(amplitude: Mapping[str, float], channels: Sequence[str]) -> torch.Tensor:
    """T_c [C] float64 from an explicit ``ensemble.bred_vector.amplitude`` mapping that names every channel.

    Raises:
        HensError: channels the model does not have, or model channels the mapping leaves out (a left-out
            channel used to get amplitude 0 silently).
    """
    unknown = [c for c in amplitude if c not in channels]
    if unknown:
        raise HensError(f"ensemble.bred_vector.amplitude names unknown channel(s) {', '.join(unknown)}")
    missing = [c for c in channels if c not in amplitude]
    if missing:
        raise HensError(
            f"ensemble.bred_vector.amplitude has no value for channel(s) {', '.join(missing)}; give every model "
            "channel an amplitude (0 leaves a channel unperturbed by the seed and the rescaling), or set "
            "ensemble.bred_vector.amplitude=null to use the checkpoint's rmse_48h"
        )
    return torch.tensor([float(amplitude[c]) for c in channels], dtype=torch.float64)


class InitialStates:
    """Builds member initial states ``[B, C, nlat, nlon]`` for work items (see module docstring)."""

    def __init__(
        self,
        *,
        source_states: Callable[[np.ndarray], np.ndarray],
        init_times: Sequence[np.datetime64],
        layout: EnsembleLayout,
        bred: BredVectorSpec,
        global_seed: int,
        channels: tuple[str, ...],
        lat: np.ndarray,
        device: torch.device,
        perturbation: str = "bred",
    ) -> None:
        self._source_states = source_states
        self.init_times = [np.datetime64(t, "ns") for t in init_times]
        self.layout = layout
        self.bred = bred
        self.global_seed = global_seed
        self.channels = channels
        self.lat = np.asarray(lat, dtype=np.float64)
        self.device = device
        self.perturbation = perturbation
        missing = [c for c in bred.seed_channels if c not in channels]
        if missing:
            raise HensError(
                f"ensemble.bred_vector.seed_channels names {', '.join(missing)}, which the model does not have "
                f"(channels: {', '.join(channels)})"
            )
        bad_nonneg = [c for c in bred.nonnegative_channels if c not in channels]
        if bad_nonneg:
            raise HensError(
                f"ensemble.bred_vector.nonnegative_channels names unknown channel(s) {', '.join(bad_nonneg)}"
            )
        self.nonnegative = torch.tensor([c in bred.nonnegative_channels for c in channels], device=device)
        self._amplitude = explicit_amplitude(bred.amplitude, channels) if bred.amplitude else None
        self._skill = read_skill_file(bred.amplitude_file) if bred.amplitude_file else None
        self.offsets = breeding_offsets(bred.n_cycles, bred.breeding_times)
        self._read = lru_cache(maxsize=64)(self._read_uncached)

    def warn_unresolved_noise(self, n_lon: int) -> None:
        """Log :func:`unresolved_length_scale` once, if the grid does not resolve the seed-noise length scale."""
        message = unresolved_length_scale(self.bred.noise_length_scale_km, n_lon)
        if message:
            log.warning(message)

    def _read_uncached(self, time: np.datetime64) -> torch.Tensor:
        state = self._source_states(np.array([time], dtype="datetime64[ns]"))[0]
        return torch.as_tensor(np.ascontiguousarray(state), dtype=torch.float32, device=self.device)

    def breeding_times(self, init_index: int, timestep: np.timedelta64) -> list[np.datetime64]:
        """Valid times of the breeding analyses, t₀ − o_k·Δt (oldest first; HENS: t₀ − (n−1)Δt … t₀)."""
        t0 = self.init_times[init_index]
        return [t0 - o * timestep for o in self.offsets]

    def analyses(self, init_index: int, timestep: np.timedelta64) -> tuple[torch.Tensor, torch.Tensor]:
        """x₀ ``[C, nlat, nlon]`` and the breeding analyses ``[n_cycles, C, nlat, nlon]`` (oldest first)."""
        before = torch.stack([self._read(t) for t in self.breeding_times(init_index, timestep)])
        return self._read(self.init_times[init_index]), before

    def target_amplitude(self, forecaster: Forecaster) -> torch.Tensor:
        """T_c per channel ``[C]``: explicit config amplitudes, else fraction × the 48-h RMSE of the skill file
        (``amplitude_file``: pooled, or this checkpoint's), else of the checkpoint's metadata."""
        if self._amplitude is not None:
            return self._amplitude
        if self._skill is not None:
            key = f"ensemble.bred_vector.amplitude_file={self.bred.amplitude_file}"
            table = rmse_at_lead(self._skill, forecaster.name, key=key)
            missing = [c for c in self.channels if c not in table]
            if missing:
                raise HensError(
                    f"{key} has no RMSE of channel(s) {', '.join(missing)}; rerun hens skill with this model"
                )
            return amplitude_from_rmse(table, self.channels, fraction=self.bred.amplitude_fraction)
        rmse: Mapping[str, float] | None = forecaster.package.extra.get("rmse_48h")
        if not rmse:
            raise HensError(
                f"checkpoint {forecaster.name} has no rmse_48h metadata for bred-vector amplitudes; set "
                "ensemble.bred_vector.amplitude={channel: value, ...} explicitly, or write a skill file with "
                "`hens skill` and set ensemble.bred_vector.amplitude_file=<it>"
            )
        return amplitude_from_rmse(rmse, self.channels, fraction=self.bred.amplitude_fraction)

    def bred_vectors(self, forecaster: Forecaster, item: WorkItem, perturbations: list[int]) -> torch.Tensor:
        """δ_p for the given perturbation indices, ``[P', C, nlat, nlon]`` float32 on the device: bred vectors, or
        the alternative of ``ensemble.perturbation`` (:mod:`hens.perturb.methods`)."""
        _, before = self.analyses(item.init_index, forecaster.package.timestep)
        t0 = self.init_times[item.init_index]
        if self.perturbation == "none":
            return torch.zeros(len(perturbations), *before.shape[1:], dtype=torch.float32, device=self.device)
        target = self.target_amplitude(forecaster)
        generators = []
        for p in perturbations:
            gen = torch.Generator(device="cpu")
            gen.manual_seed(perturbation_seed(self.global_seed, t0, item.checkpoint, p))
            generators.append(gen)
        if self.perturbation == "gaussian":
            white = white_noise_perturbation(
                target,
                self.lat,
                before.shape[-1],
                generators=generators,
                boundary_deg=self.bred.hemisphere_boundary_deg,
                rescaling=self.bred.rescaling,
            )
            return white.to(device=self.device, dtype=torch.float32)
        noise = seed_perturbation(
            len(perturbations),
            self.channels,
            self.bred.seed_channels,
            target,
            self.lat,
            before.shape[-1],
            length_scale_km=self.bred.noise_length_scale_km,
            generators=generators,
        )
        delta0 = noise.to(device=self.device, dtype=torch.float32)
        with torch.inference_mode():
            return breed(
                forecaster,
                before,
                delta0,
                target.to(device=self.device, dtype=torch.float32),
                self.lat,
                boundary_deg=self.bred.hemisphere_boundary_deg,
                valid_times=self.breeding_times(item.init_index, forecaster.package.timestep),
                rescaling=self.bred.rescaling,
            )

    def member_states(self, forecaster: Forecaster, item: WorkItem) -> torch.Tensor:
        """Initial states of the item's members, ``[B, C, nlat, nlon]`` float32 on the device."""
        keys = [self.layout.member(m) for m in range(item.member_start, item.member_stop)]
        perturbations = sorted({k.perturbation for k in keys if k.sign != 0})
        x0, _ = self.analyses(item.init_index, forecaster.package.timestep)
        deltas = self.bred_vectors(forecaster, item, perturbations) if perturbations else None
        rows = []
        for k in keys:
            rows.append(deltas[perturbations.index(k.perturbation)] if k.sign != 0 else torch.zeros_like(x0))
        signs = torch.tensor([k.sign for k in keys], dtype=x0.dtype, device=self.device)
        with torch.inference_mode():
            return perturbed_states(x0, torch.stack(rows), signs, nonnegative=self.nonnegative)
