"""The ensemble store `hens diagnose` reads: open it, select, and drop bad members.

Everything here is lazy (xarray over Dask) except small coordinate arrays and the ``nonfinite_lead`` flags.

* :func:`open_store` opens a store written by ``hens generate`` (Zarr v3) and checks its layout.
* :func:`select` applies the configured variables, lead times and start dates, naming anything missing.
* :func:`flag_incomplete` checks the chunks against the manifest (:mod:`hens.io.integrity`): refuses a damaged
  or unfinished store, or flags its damaged / not generated member-dates so that they are excluded by reason.
* :func:`exclude_nonfinite_members` drops members flagged non-finite (or never generated) per start date,
  so that they neither poison averages nor change the ensemble size between start dates.
* :func:`valid_times` gives ``init_time + lead_time``, where the verification is needed
  (:mod:`hens.diagnostics.verification.truth`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from hens.errors import HensError, StoreError
from hens.io.zarr_open import open_zarr_quiet

__all__ = [
    "FORECAST_DIMS",
    "NONFINITE",
    "EnsembleData",
    "exclude_nonfinite_members",
    "flag_incomplete",
    "forecast_variables",
    "open_store",
    "select",
    "valid_times",
]

FORECAST_DIMS = ("init_time", "member", "lead_time", "lat", "lon")
NONFINITE = "nonfinite_lead"
_REASONS = {-2: "not generated", -3: "damaged chunk"}
_STORE_CHUNKS = object()  # open_store's default: the store's own chunks


def open_store(path: str | Path, *, chunks: Any = _STORE_CHUNKS, announce: bool = True) -> xr.Dataset:
    """Open an ensemble store lazily in the `hens generate` layout — or a store of another tool (earth2studio,
    WeatherBench2) mapped onto it by :func:`~hens.diagnostics.verification.foreign.adapt_store`.

    Args:
        path: the store folder (the ``output.path`` of ``hens generate``, or a foreign ensemble Zarr v2/v3).
        chunks: as ``xarray.open_zarr``: the store's chunks by default; None for lazily indexed arrays (tile reads).
        announce: log the line that says a foreign store has no manifest to check (once per diagnosis).

    Returns:
        The dataset: one variable per channel with dims ``(init_time, member, lead_time, lat, lon)``, Dask-backed
        with the store's chunks, plus ``nonfinite_lead(init_time, member)`` in a hens store.

    Raises:
        StoreError: if the path is missing, not a Zarr store, or has no forecast variables in any known layout.
    """
    from hens.diagnostics.verification.foreign import adapt_store

    p = Path(path)
    if not p.exists():
        raise StoreError(f"store {p} does not exist; pass the output.path of a `hens generate` run")
    if not any((p / name).is_file() for name in ("zarr.json", ".zgroup", ".zmetadata")):
        raise StoreError(
            f"{p} is not a Zarr store (no zarr.json or .zgroup); pass the output.path of a `hens generate` run"
        )
    try:
        ds = open_zarr_quiet(p, consolidated=None, **({} if chunks is _STORE_CHUNKS else {"chunks": chunks}))
    except Exception as err:  # noqa: BLE001 - any failure to open is the same user-facing problem
        raise StoreError(f"cannot open store {p} ({' '.join(str(err).split())}); is it a complete hens store?") from err
    if not forecast_variables(ds):
        ds = adapt_store(ds, p, announce=announce)
    return ds


def flag_incomplete(ds: xr.Dataset, path: str | Path, verify: str, allow_incomplete: bool) -> xr.Dataset:
    """Check a hens store's chunks (``verify``: full | size | none) before reading it.

    A damaged or unfinished store raises StoreError (one line, the first bad chunk and the repair) unless
    ``allow_incomplete``; then its ``nonfinite_lead`` flags are set to −3 (damaged chunk) or −2 (not generated)
    for the member-dates in those chunks, so :func:`exclude_nonfinite_members` leaves them out by reason.  A
    store without a manifest (not written by hens generate) cannot be checked and is returned as it is.
    """
    from hens.io.integrity import member_flags, require_intact
    from hens.io.manifest import Manifest

    if verify == "none" or Manifest(path).read_run() is None or NONFINITE not in ds:
        return ds
    report = require_intact(path, full=verify == "full", allow_incomplete=allow_incomplete)
    flags = member_flags(path, report)
    if not flags:
        return ds
    try:
        values = np.array(ds[NONFINITE].values)
    except Exception:  # noqa: BLE001 - its own chunk is damaged: the flags below mark those members
        values = np.full((ds.sizes["init_time"], ds.sizes["member"]), -1, dtype=np.int32)
    for (i, m), flag in flags.items():
        values[i, m] = min(int(values[i, m]), flag) if values[i, m] < 0 else flag
    return ds.assign({NONFINITE: (ds[NONFINITE].dims, values, ds[NONFINITE].attrs)})


def forecast_variables(ds: xr.Dataset) -> list[str]:
    """Names of the member-field variables (dims ``(init_time, member, lead_time, lat, lon)``), in store order."""
    return [str(name) for name, var in ds.data_vars.items() if tuple(var.dims) == FORECAST_DIMS]


def _lead_hours(ds: xr.Dataset) -> np.ndarray:
    return ds["lead_time"].values.astype("timedelta64[s]").astype(np.int64) / 3600.0


def select(
    ds: xr.Dataset,
    *,
    variables: Sequence[str] | None = None,
    lead_hours: Sequence[float] | None = None,
    start_dates: Sequence[np.datetime64] | None = None,
) -> xr.Dataset:
    """Select forecast variables, lead times (hours) and start dates; ``None`` keeps everything.

    Returns:
        A dataset with only the chosen forecast variables, ``nonfinite_lead`` and the coordinates.

    Raises:
        HensError: naming the first requested variable, lead time or start date absent from the store, and
            the config key that selects it.
    """
    available = forecast_variables(ds)
    chosen = list(available) if variables is None else list(variables)
    missing = [v for v in chosen if v not in available]
    if missing:
        raise HensError(
            f"diagnose.variables: {', '.join(missing)} not in the store (it has {', '.join(available)}); "
            "choose among those or set diagnose.variables=null"
        )
    keep = chosen + ([NONFINITE] if NONFINITE in ds else [])
    out = ds[keep]
    if lead_hours is not None:
        hours = _lead_hours(ds)
        index = []
        for h in lead_hours:
            hit = np.flatnonzero(np.isclose(hours, float(h), atol=1e-6))
            if hit.size == 0:
                raise HensError(
                    f"diagnose.lead_times: {h} h is not a lead time of the store (it has {hours[0]:g} … "
                    f"{hours[-1]:g} h every {hours[1] - hours[0] if hours.size > 1 else 0:g} h); "
                    "choose stored lead times"
                )
            index.append(int(hit[0]))
        out = out.isel(lead_time=sorted(set(index)))
    if start_dates is not None:
        inits = ds["init_time"].values.astype("datetime64[ns]")
        index = []
        for t in start_dates:
            hit = np.flatnonzero(inits == np.datetime64(t, "ns"))
            if hit.size == 0:
                have = ", ".join(np.datetime_as_string(inits, unit="m"))
                raise HensError(
                    f"diagnose.start_dates: {np.datetime_as_string(np.datetime64(t, 'ns'), unit='m')} is not a start "
                    f"date of the store (it has {have}); choose among those or set diagnose.start_dates=null"
                )
            index.append(int(hit[0]))
        out = out.isel(init_time=sorted(set(index)))
    return out


@dataclass(frozen=True)
class EnsembleData:
    """The forecast after excluding bad members.

    Attributes:
        forecast: lazy dataset, forecast variables ``(init_time, member, lead_time, lat, lon)`` with the same
            ensemble size M for every start date; when members were dropped the ``member`` coordinate is
            0 … M−1 and ``source_member(init_time, member)`` holds the store's member ids.
        n_members: M.
        excluded: per start date (ISO string), the store's member ids that were left out.
        reasons: per start date, ``{member id: "non-finite from lead index k" | "not generated" | "surplus"}``.
    """

    forecast: xr.Dataset
    n_members: int
    excluded: dict[str, list[int]] = field(default_factory=dict)
    reasons: dict[str, dict[int, str]] = field(default_factory=dict)

    @property
    def n_excluded(self) -> int:
        return sum(len(v) for v in self.excluded.values())

    def count_by_reason(self) -> dict[str, int]:
        """Member-dates left out per reason: non-finite | not generated | damaged chunk | surplus."""
        counts: dict[str, int] = {}
        for why in self.reasons.values():
            for text in why.values():
                key = "non-finite" if text.startswith("non-finite") else text
                counts[key] = counts.get(key, 0) + 1
        return counts


def exclude_nonfinite_members(ds: xr.Dataset) -> EnsembleData:
    """Drop members whose ``nonfinite_lead`` flag is not −1 (all finite), keeping one ensemble size M.

    A member flagged ``k ≥ 0`` became NaN/Inf at lead index k; one flagged −2 was never generated (its
    chunks read as NaN). Such members are removed from their start date. To keep every metric on the
    same ensemble size (rank-histogram bins, the √((M+1)/M) correction, the expected outlier rate
    2/(M+1)), every start date keeps its first M valid members, M being the smallest count of valid
    members over the start dates; the valid members beyond M at other dates are reported as "surplus".

    Args:
        ds: a (selected) store dataset with ``nonfinite_lead``; without it all members are kept.

    Returns:
        :class:`EnsembleData`.

    Raises:
        HensError: if some start date has fewer than 2 valid members.
    """
    variables = forecast_variables(ds)
    n_total = ds.sizes["member"]
    if NONFINITE not in ds:
        return EnsembleData(ds[variables], n_total)
    flags = np.asarray(ds[NONFINITE].values)
    inits = np.datetime_as_string(ds["init_time"].values.astype("datetime64[ns]"), unit="m")
    valid = flags == -1
    counts = valid.sum(axis=1)
    if counts.min() < 2:
        worst = inits[int(np.argmin(counts))]
        raise HensError(
            f"start date {worst} has {int(counts.min())} finite member(s) of {n_total} (nonfinite_lead flags); "
            "diagnostics need at least 2 — finish the run (`hens generate` resumes) or exclude that date with "
            "diagnose.start_dates=[...]"
        )
    m = int(counts.min())
    fc = ds[variables]
    if valid.all():
        return EnsembleData(fc, n_total)
    excluded: dict[str, list[int]] = {}
    reasons: dict[str, dict[int, str]] = {}
    pieces = []
    member_ids = ds["member"].values
    for i, label in enumerate(inits):
        good = np.flatnonzero(valid[i])
        keep, surplus = good[:m], good[m:]
        why: dict[int, str] = {}
        for j in np.flatnonzero(~valid[i]):
            why[int(member_ids[j])] = _REASONS.get(int(flags[i, j]), f"non-finite from lead index {flags[i, j]}")
        for j in surplus:
            why[int(member_ids[j])] = "surplus"
        if why:
            excluded[label] = sorted(why)
            reasons[label] = why
        piece = fc.isel(init_time=[i], member=keep)
        piece = piece.drop_vars([c for c in piece.coords if "member" in piece[c].dims])
        piece = piece.assign_coords(
            member=np.arange(m), source_member=(("init_time", "member"), member_ids[keep][None])
        )
        pieces.append(piece)
    out = xr.concat(pieces, dim="init_time", data_vars="all", coords="different", compat="equals", join="exact")
    return EnsembleData(out, m, excluded, reasons)


def valid_times(ds: xr.Dataset) -> xr.DataArray:
    """Valid times ``init_time + lead_time``, dims ``(init_time, lead_time)``, datetime64[ns]."""
    return (ds["init_time"] + ds["lead_time"]).rename("valid_time")
