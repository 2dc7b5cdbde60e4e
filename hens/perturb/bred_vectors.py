"""Bred vectors with hemispheric rescaling, as used for the HENS initial-condition perturbations.

Breeding (Toth & Kalnay 1993, 1997) grows a perturbation along the directions in which the forecast model
amplifies errors fastest, by repeatedly running the model from perturbed and unperturbed analyses and
rescaling the difference back to a fixed size.  HENS (Mahesh et al. 2024, "Huge Ensembles Part I") breeds
with the SFNO itself and rescales separately in the two extratropics:

* amplitude: T_c = 0.35 × RMSE_48h(c), the deterministic 48-h RMSE of channel c;
* seed: δ₀ = T ⊙ ε with ε a unit-variance, ≈ 500 km correlated random field (:mod:`hens.perturb.noise`) on
  the seed channels (originally z500 only), zero elsewhere;
* cycle k = 0 … n − 1 from the analyses x_k at t − o_k Δt:  δ ← M(x_k + δ) − M(x_k), δ ← R(δ), with
  o_k = n − 1 − k by default (HENS: t − 12 h, t − 6 h, t for n = 3; :func:`breeding_offsets`) and R the
  hemispheric rescaling of :mod:`hens.perturb.rescaling` (HENS's norm interpolation by default);
* members: x(t) ± δ, with humidity-like channels clipped at 0.

What the HENS code does, and how the named alternatives differ, is in docs/perturbations.md.

References:
    Toth, Z. and Kalnay, E. (1993): Ensemble forecasting at NMC: the generation of perturbations.
        Bull. Amer. Meteor. Soc. 74, 2317–2330.
    Toth, Z. and Kalnay, E. (1997): Ensemble forecasting at NCEP and the breeding method.
        Mon. Wea. Rev. 125, 3297–3319.
    Mahesh, A. et al. (2024): Huge Ensembles Part I: Design of ensemble weather forecasts using spherical
        Fourier neural operators. arXiv:2408.03100.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

from hens.constants import EARTH_RADIUS_KM
from hens.errors import ConfigError
from hens.perturb.noise import correlated_noise
from hens.perturb.rescaling import (
    BOUNDARY_DEG,
    RESCALINGS,
    hemispheric_rms,
    hens_hemispheric_norm,
    rescale,
    rescaling_factor,
)

__all__ = [
    "BOUNDARY_DEG",
    "BREEDING_TIMES",
    "RESCALINGS",
    "amplitude_from_rmse",
    "breed",
    "breeding_offsets",
    "hemispheric_rms",
    "hens_hemispheric_norm",
    "initial_noise",
    "nonnegative_mask",
    "perturbed_states",
    "rescale",
    "rescaling_factor",
    "seed_perturbation",
]

BREEDING_TIMES = ("hens", "earth2studio")
"""Allowed values of ``ensemble.bred_vector.breeding_times`` (the first is the default); :func:`breeding_offsets`."""


def breeding_offsets(n_cycles: int, mode: str = "hens") -> tuple[int, ...]:
    """Model steps before the start time t of the analyses the breeding cycles start from, oldest first.

    * ``hens`` — o_k = n − 1 − k: analyses at t − (n−1)Δt, …, t − Δt, t (the HENS authors' code: with n = 3 and
      Δt = 6 h, t − 12 h, t − 6 h and t; the last cycle grows δ over one step from the analysis at t itself);
    * ``earth2studio`` — o_k = n − k: analyses at t − nΔt, …, t − Δt, so the last grown difference is valid at
      t (earth2studio's HENS recipe, t − 18 h … t − 6 h; hens' rule before HENS-exact defaults).

    Args:
        n_cycles: n ≥ 1, the number of breeding cycles.
        mode: one of :data:`BREEDING_TIMES`.

    Returns:
        (o_0, …, o_{n−1}), non-negative integers, decreasing.
    """
    if n_cycles < 1:
        raise ValueError(f"n_cycles must be >= 1, got {n_cycles}")
    if mode not in BREEDING_TIMES:
        raise ValueError(f"breeding_times {mode!r} is not one of {', '.join(BREEDING_TIMES)}")
    last = 0 if mode == "hens" else 1
    return tuple(n_cycles - 1 - k + last for k in range(n_cycles))


def breed(
    step: Callable[[torch.Tensor], torch.Tensor],
    analyses: torch.Tensor,
    initial_delta: torch.Tensor,
    target: torch.Tensor | float,
    lat_deg: np.ndarray | torch.Tensor,
    *,
    boundary_deg: float = BOUNDARY_DEG,
    batch_size: int | None = None,
    valid_times: Sequence[np.datetime64] | None = None,
    rescaling: str = "hens",
) -> torch.Tensor:
    """Breed P perturbations through n analysis cycles; return the bred vectors to add to the analysis at t.

    Cycle k = 0 … n − 1 uses the analysis x_k (``analyses[k]``, oldest first; valid at t − o_k Δt with the
    offsets of :func:`breeding_offsets`, chosen by the caller) and the model step M (one Δt):

        δ⁽⁰⁾ = ``initial_delta``                         (seed noise × T, see :func:`seed_perturbation`)
        Δ⁽ᵏ⁾ = M(x_k + δ⁽ᵏ⁾) − M(x_k)                     (perturbation grown over one step)
        δ⁽ᵏ⁺¹⁾ = g⁽ᵏ⁾(φ) Δ⁽ᵏ⁾,                           (hemispheric rescaling, :func:`rescale`)

    with, per channel c, g(φ) = T_c / r_c(φ) where r_c(φ) is the HENS norm r_N,c poleward of +b, r_S,c
    poleward of −b and linear in latitude across the tropics (``rescaling="hens"``), or g(φ) = T_c / RMS
    per hemisphere interpolated linearly in latitude (``rescaling="area_rms"``); b = 20.25° in HENS.  δ⁽ⁿ⁾ is
    returned: with the HENS offsets the last cycle starts from the analysis at t itself, so δ⁽ⁿ⁾ is a one-step
    forecast difference valid at t + Δt that is added to x(t), as in the HENS code.

    The unperturbed M(x_k) is evaluated once per cycle with a batch of one and shared by all P
    perturbations; the perturbed states go through M in batches of ``batch_size`` (default: all P at once).
    Runs under ``torch.no_grad()``.  Toth & Kalnay (1993, 1997); Mahesh et al. (2024), Huge Ensembles Part I.

    Args:
        step: M, maps states [B, C, nlat, nlon] (physical units) to the states one step later, same shape.
        analyses: [n, C, nlat, nlon] analyses, oldest first.
        initial_delta: [P, C, nlat, nlon] seed perturbations (physical units); cast to the dtype and device
            of ``analyses``.
        target: T, [C] or scalar, physical units.
        lat_deg: [nlat] latitudes in degrees.
        boundary_deg: b (degrees).
        batch_size: how many perturbed states per call of ``step``.
        valid_times: the n valid times of ``analyses``; when given, ``step`` is called as ``step(x, valid_time)``
            (models with time-dependent inputs such as the solar zenith angle).
        rescaling: the rescaling rule, one of :data:`RESCALINGS` (see :mod:`hens.perturb.rescaling`).

    Returns:
        [P, C, nlat, nlon] bred perturbations to add to (and subtract from) the analysis at t, dtype and device
            of ``analyses``.

    A perturbation whose grown state is not finite in some cycle (the model blew up from x_k + δ) is returned
    as all-NaN rather than raising, so one bad bred vector does not stop the other members: the rollout flags
    the members built from it as non-finite at lead 0.

    Raises:
        ValueError: bad shapes.
    """
    if analyses.ndim != 4 or analyses.shape[0] < 1:
        raise ValueError(f"analyses must be [n_cycles >= 1, C, nlat, nlon], got {tuple(analyses.shape)}")
    if initial_delta.ndim != 4 or initial_delta.shape[1:] != analyses.shape[1:]:
        expected = ", ".join(map(str, analyses.shape[1:]))
        raise ValueError(f"initial_delta must be [P, {expected}], got {tuple(initial_delta.shape)}")
    n_pert = initial_delta.shape[0]
    batch = max(n_pert, 1) if batch_size is None else int(batch_size)
    if batch < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if rescaling not in RESCALINGS:
        raise ValueError(f"rescaling {rescaling!r} is not one of {', '.join(RESCALINGS)}")
    target = torch.as_tensor(target, dtype=analyses.dtype, device=analyses.device)
    delta = initial_delta.to(dtype=analyses.dtype, device=analyses.device)
    if valid_times is not None:
        if len(valid_times) != analyses.shape[0]:
            raise ValueError(f"{len(valid_times)} valid times for {analyses.shape[0]} analyses")
        timed_step = step
        step_at = lambda k: lambda x: timed_step(x, valid_times[k])  # noqa: E731
    else:
        step_at = lambda k: step  # noqa: E731
    with torch.no_grad():
        for k in range(analyses.shape[0]):
            step_k = step_at(k)
            x = analyses[k : k + 1]
            control = step_k(x)
            if control.shape != x.shape:
                raise ValueError(f"step returned shape {tuple(control.shape)} for input {tuple(x.shape)}")
            chunks = [step_k(x + delta[i : i + batch]) - control for i in range(0, n_pert, batch)]
            grown = torch.cat(chunks) if chunks else delta
            blown_up = ~torch.isfinite(grown).flatten(1).all(dim=1)  # [P]
            delta = rescale(grown, target, lat_deg, boundary_deg=boundary_deg, method=rescaling)
            if bool(blown_up.any()):  # keep it visible: NaN, not a silently zeroed (control-like) vector
                delta[blown_up] = float("nan")
    return delta


def seed_perturbation(
    n: int,
    channels: Sequence[str],
    seed_channels: Sequence[str],
    target: torch.Tensor,
    lat_deg: np.ndarray,
    n_lon: int,
    *,
    length_scale_km: float = 500.0,
    generators: Sequence[torch.Generator],
    radius_km: float = EARTH_RADIUS_KM,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Seed perturbations δ₀ = T_c ε_c on the seed channels, 0 on all others.

    ε are unit-variance correlated fields from :func:`hens.perturb.noise.correlated_noise`.  Perturbation i
    draws its fields from ``generators[i]`` only, one field per seed channel, in the order the seed channels
    appear in ``channels`` (not the order of ``seed_channels``); so perturbation i alone is
    ``seed_perturbation(1, ..., generators=[g_i])`` with g_i seeded as before.

    Args:
        n: number of perturbations P.
        channels: the C model channel names.
        seed_channels: names of the channels to seed (e.g. ["z500"]); each must be in ``channels``.
        target: [C] amplitudes T_c (physical units).
        lat_deg: [nlat] equiangular latitudes, 90 → −90 (degrees).
        n_lon: number of longitudes.
        length_scale_km: correlation length of the noise (km).
        generators: P generators, one per perturbation.
        radius_km: sphere radius (km).
        dtype: dtype of the result.

    Returns:
        [P, C, nlat, n_lon] on ``generators[0].device`` (CPU if P = 0).
    """
    channels = list(channels)
    unknown = [c for c in seed_channels if c not in channels]
    if unknown:
        raise ConfigError(f"seed channels {unknown} are not model channels; choose from {channels}")
    if len(generators) != n:
        raise ValueError(f"need one generator per perturbation: n={n}, got {len(generators)} generators")
    target = torch.as_tensor(target, dtype=torch.float64)
    if target.shape != (len(channels),):
        raise ValueError(f"target must have shape [{len(channels)}], got {tuple(target.shape)}")
    seed_idx = sorted({channels.index(c) for c in seed_channels})
    nlat = len(np.asarray(lat_deg))
    device = generators[0].device if n else torch.device("cpu")
    out = torch.zeros(n, len(channels), nlat, n_lon, dtype=torch.float64, device=device)
    amp = target[seed_idx].to(device)[:, None, None]
    for i, gen in enumerate(generators):
        eps = correlated_noise(
            len(seed_idx), lat_deg, n_lon, length_scale_km=length_scale_km, generator=gen, radius_km=radius_km
        )
        out[i, seed_idx] = eps.to(device) * amp
    return out.to(dtype)


initial_noise = seed_perturbation
"""Alias of :func:`seed_perturbation`."""


def perturbed_states(
    x0: torch.Tensor,
    delta: torch.Tensor,
    signs: torch.Tensor | Sequence[int],
    *,
    nonnegative: torch.Tensor | None = None,
) -> torch.Tensor:
    """Member initial states x_b = x0 + s_b δ_b, with s_b ∈ {+1, −1, 0}.

    s_b = 0 marks a control member: x_b = x0 exactly (whatever δ_b holds).  For perturbed members, channels
    flagged in ``nonnegative`` (humidity, total column water vapour) are clipped: x_b,c = max(x_b,c, 0).

    Args:
        x0: [C, nlat, nlon] analysis at t.
        delta: [B, C, nlat, nlon] perturbations (a ± pair passes the same δ twice).
        signs: [B] in {+1, −1, 0}.
        nonnegative: optional [C] bool mask of channels clipped at 0 (see :func:`nonnegative_mask`).

    Returns:
        [B, C, nlat, nlon], dtype of ``x0``.
    """
    if delta.ndim != x0.ndim + 1 or delta.shape[1:] != x0.shape:
        raise ValueError(f"delta must be [B, {', '.join(map(str, x0.shape))}], got {tuple(delta.shape)}")
    s = torch.as_tensor(signs, device=x0.device)
    if s.shape != (delta.shape[0],):
        raise ValueError(f"signs must have shape [{delta.shape[0]}], got {tuple(s.shape)}")
    if not bool(((s == 1) | (s == -1) | (s == 0)).all()):
        raise ValueError(f"signs must be +1, -1 or 0, got {s.tolist()}")
    s = s.to(x0.dtype).view(-1, *([1] * x0.ndim))
    delta = delta.to(dtype=x0.dtype, device=x0.device)
    states = torch.where(s == 0, x0.expand_as(delta), x0 + s * delta)
    if nonnegative is not None:
        mask = torch.as_tensor(nonnegative, dtype=torch.bool, device=x0.device)
        if mask.shape != (x0.shape[0],):
            raise ValueError(f"nonnegative must be a [{x0.shape[0]}] bool mask, got {tuple(mask.shape)}")
        clip = mask.view(1, -1, *([1] * (x0.ndim - 1))) & (s != 0)
        states = torch.where(clip, states.clamp_min(0.0), states)
    return states


_NONNEGATIVE = re.compile(r"^(q\d+|tcwv|tp|tp\d+h?|r\d+)$")


def nonnegative_mask(channels: Sequence[str]) -> torch.Tensor:
    """[C] bool mask of channels that cannot be negative: specific humidity ``q<level>``, ``tcwv``,
    precipitation ``tp``/``tp06`` and relative humidity ``r<level>``."""
    return torch.tensor([bool(_NONNEGATIVE.match(c)) for c in channels], dtype=torch.bool)


def amplitude_from_rmse(
    rmse_48h: Mapping[str, float],
    channels: Sequence[str],
    fraction: float = 0.35,
) -> torch.Tensor:
    """Per-channel breeding amplitude T_c = fraction × RMSE_48h(c) (HENS: fraction = 0.35).

    Args:
        rmse_48h: channel name → deterministic 48-h RMSE of that channel (physical units).
        channels: the C model channel names, in model order.
        fraction: multiplier (dimensionless).

    Returns:
        [C] float64 tensor of amplitudes, units of each channel.

    Raises:
        ConfigError: channels missing from ``rmse_48h`` (all named), or a negative / non-finite RMSE.
    """
    missing = [c for c in channels if c not in rmse_48h]
    if missing:
        raise ConfigError(f"48-h RMSE missing for channels {missing}; add them to the RMSE table")
    values = torch.tensor([float(rmse_48h[c]) for c in channels], dtype=torch.float64)
    bad = [c for c, v in zip(channels, values.tolist(), strict=True) if not (np.isfinite(v) and v >= 0)]
    if bad:
        raise ConfigError(f"48-h RMSE must be finite and >= 0; bad values for channels {bad}")
    return fraction * values
