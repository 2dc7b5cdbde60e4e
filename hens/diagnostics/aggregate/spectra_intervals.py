"""Spectra of `hens diagnose` from per-start-date spectra: the pooled spectra, the power ratios to the truth, and
their bootstrap intervals.

The bootstrap unit of the spectra is the **start date**. The spectral transform needs the whole globe, so the
spectra cannot be split into the longitude sectors the other scores use when dates are few
(:func:`hens.diagnostics.aggregate.intervals.unit_masks`); with few dates these intervals rest on few units and
are rough (with U units there are only C(2U−1, U) distinct resamples: 3 for U = 2), and with one date there is
no interval at all (NaN) — the label says so. Each date's spectrum is already a mean over members (the same
members for every date), so the date sums are additive and the resamples are finished exactly like the totals,
by :func:`hens.diagnostics.aggregate.bootstrap.bootstrap_interval` (the one resampling implementation).

Shapes: per-date spectra ``(unit, spectrum, lead, degree)`` with ``spectrum = [members, ensemble_mean, truth]``;
ratios ``(kind, lead, degree)`` with ``kind = [members, ensemble_mean]`` (over the truth); the small-scale ratio
``(lead,)``. All dimensionless.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from hens.diagnostics.aggregate.bootstrap import bootstrap_interval
from hens.diagnostics.aggregate.intervals import BOUND, BootstrapSettings
from hens.diagnostics.metrics.registry import finite_ratio

__all__ = [
    "add_spectra",
    "power_ratio",
    "small_scale_degrees",
    "small_scale_ratio",
    "spectra_label",
    "spectra_variables",
]

#: Spectra in the per-date arrays, in order; the first two are compared with the last (the truth).
SPECTRA = ("members", "ensemble_mean", "truth")


def small_scale_degrees(degree: np.ndarray) -> np.ndarray:
    """Mask of the smaller half of the resolved scales: degrees l ≥ max(1, n/2) of the n resolved ones."""
    deg = np.asarray(degree)
    return deg >= max(1, deg.size // 2)


def power_ratio(sums: np.ndarray) -> np.ndarray:
    """``P_members / P_truth`` and ``P_ensemble_mean / P_truth`` from spectra ``(…, spectrum, lead, degree)``
    (sums or means over the same dates) → ``(…, kind, lead, degree)``; NaN where the truth has no power."""
    s = np.asarray(sums, dtype=np.float64)
    return finite_ratio(s[..., :2, :, :], s[..., 2:3, :, :])


def small_scale_ratio(sums: np.ndarray, degree: np.ndarray) -> np.ndarray:
    """Geometric-mean ``P_members / P_truth`` over :func:`small_scale_degrees` from spectra
    ``(…, spectrum, lead, degree)`` → ``(…, lead)``; degrees where either power is 0 are left out, NaN if all are.

    The geometric mean because the ratio is a factor: 2× too much and 2× too little power average to 1.
    """
    s = np.asarray(sums, dtype=np.float64)[..., small_scale_degrees(degree)]
    members, truth = s[..., 0, :, :], s[..., 2, :, :]
    ok = (members > 0) & (truth > 0)
    logs = np.where(ok, np.log(np.where(ok, members, 1.0) / np.where(ok, truth, 1.0)), 0.0)
    n = ok.sum(axis=-1)
    return np.where(n > 0, np.exp(logs.sum(axis=-1) / np.maximum(n, 1)), np.nan)


def spectra_label(n_units: int, settings: BootstrapSettings) -> str:
    """What a unit of the spectra intervals is, and how far to trust them with this many."""
    text = f"start date ({n_units} units; the spectra are global, so longitude sectors cannot be resampled)"
    if n_units < 2:
        return text + " — one start date: no interval"
    if n_units < settings.min_start_dates:
        text += f" — fewer than {settings.min_start_dates} start dates: a rough interval"
    return text


def _intervals(per_date: np.ndarray, degree: np.ndarray, settings: BootstrapSettings) -> tuple[np.ndarray, ...]:
    """The bootstrap intervals ``(2, kind, lead, degree)`` and ``(2, lead)`` of one variable (NaN with < 2 dates)."""
    n_units, _, n_lead, n_deg = per_date.shape
    if n_units < 2:
        return np.full((2, 2, n_lead, n_deg), np.nan), np.full((2, n_lead), np.nan)
    kw = dict(n_resamples=settings.n_resamples, confidence=settings.confidence, seed=settings.seed)
    units = {"spectra": per_date}
    ratio = bootstrap_interval(units, lambda s: power_ratio(s["spectra"]), **kw)
    small = bootstrap_interval(units, lambda s: small_scale_ratio(s["spectra"], degree), **kw)
    return ratio, small


def spectra_variables(
    per_date: Mapping[str, xr.DataArray], variables: list[str], settings: BootstrapSettings
) -> tuple[dict[str, tuple[tuple[str, ...], np.ndarray, dict[str, Any]]], dict[str, Any]]:
    """The spectra variables of the scores dataset, and its attributes about them.

    Args:
        per_date: per variable, the computed :func:`~hens.diagnostics.aggregate.fields.spectra_lazy`
            ``(spectrum, init_time, lead_time, degree)``.
        variables: dataset order; ``settings``: the bootstrap (resamples, confidence, seed; ``min_start_dates``
            only for the label).

    Returns:
        ``{name: (dims, values, attrs)}`` with ``power_spectrum(spectrum, variable, lead_time, degree)`` (the mean
        over start dates), ``power_ratio(ratio_kind, variable, lead_time, degree)``,
        ``small_scale_power_ratio(variable, lead_time)`` and their ``*_interval`` with a leading ``bound``; and the
        attributes ``spectra_n_units`` and ``spectra_bootstrap_unit``.
    """
    first = per_date[variables[0]]
    degree = first["degree"].values
    n_units = first.sizes["init_time"]
    label = spectra_label(n_units, settings)
    stacked = np.stack(
        [per_date[v].transpose("init_time", "spectrum", "lead_time", "degree").values for v in variables], axis=1
    ).astype(np.float64)  # (unit, variable, spectrum, lead, degree)
    pooled = stacked.sum(axis=0)
    parts = [_intervals(stacked[:, i], degree, settings) for i in range(len(variables))]
    conf = f"{settings.confidence:.0%} percentile-bootstrap interval"
    comment = f"{settings.n_resamples} resamples (seed {settings.seed}) of the units: {label}"
    kind = ("ratio_kind", "variable", "lead_time", "degree")
    out = {
        "power_spectrum": (
            ("spectrum", "variable", "lead_time", "degree"),
            np.moveaxis(pooled / n_units, 1, 0),
            {
                "long_name": "angular power spectrum, mean over start dates",
                "comment": "sum over m of |c_lm|^2 with orthonormal harmonics; units of the variable^2 sr",
            },
        ),
        "power_ratio": (
            kind,
            np.moveaxis(power_ratio(pooled), 1, 0),
            {"long_name": "power / truth power", "units": "1"},
        ),
        "power_ratio_interval": (
            ("bound", *kind),
            np.stack([p[0] for p in parts], axis=2),
            {"long_name": f"{conf} of power_ratio", "comment": comment},
        ),
        "small_scale_power_ratio": (
            ("variable", "lead_time"),
            small_scale_ratio(pooled, degree),
            {"long_name": "member / truth power, geometric mean over the smaller half of the scales", "units": "1"},
        ),
        "small_scale_power_ratio_interval": (
            ("bound", "variable", "lead_time"),
            np.stack([p[1] for p in parts], axis=1),
            {"long_name": f"{conf} of small_scale_power_ratio", "comment": comment},
        ),
    }
    return out, {"spectra_n_units": int(n_units), "spectra_bootstrap_unit": label}


def add_spectra(
    scores: xr.Dataset, per_date: Mapping[str, xr.DataArray], variables: list[str], settings: BootstrapSettings
) -> xr.Dataset:
    """``scores`` with the variables of :func:`spectra_variables`, the coordinates ``spectrum``, ``degree``,
    ``ratio_kind``, ``bound`` and ``wavelength_km(degree)``, and the attributes."""
    from hens.diagnostics.metrics.spectra import wavelength_km

    data, attrs = spectra_variables(per_date, variables, settings)
    degree = per_date[variables[0]]["degree"].values
    out = scores.assign_coords(
        spectrum=list(SPECTRA),
        degree=degree,
        ratio_kind=list(SPECTRA[:2]),
        bound=list(BOUND),
        wavelength_km=("degree", wavelength_km(degree)),
    )
    for name, (dims, values, var_attrs) in data.items():
        out[name] = (dims, values, var_attrs)
    out.attrs.update(attrs)
    return out
