"""Small synthetic stores for diagnose tests: a hens store and a verification Zarr written from plain arrays, so that
the same values can be written in other layouts (earth2studio, WeatherBench2) and the scores compared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from hens.io.store import StoreLayout, StoreWriter, create_store
from hens.io.zarr_open import quiet_zarr

NLAT, NLON = 7, 12
LAT = np.linspace(90.0, -90.0, NLAT)
LON = np.arange(NLON) * 360.0 / NLON
INITS = np.array(["2001-07-01T00", "2001-07-03T00"], dtype="datetime64[ns]")
LEADS = (np.arange(3) * np.timedelta64(6, "h")).astype("timedelta64[ns]")
TIMES = np.arange(np.datetime64("2001-06-30T00"), np.datetime64("2001-07-06T00"), np.timedelta64(6, "h")).astype(
    "datetime64[ns]"
)

#: A plausible value range per channel: (mean, spread).
RANGES = {
    "u10m": (2.0, 6.0), "v10m": (-1.0, 6.0), "t2m": (300.0, 6.0), "d2m": (290.0, 4.0), "z500": (55000.0, 300.0),
    "z850": (15000.0, 100.0), "q500": (0.002, 0.0008), "u500": (10.0, 10.0), "v500": (0.0, 10.0),
    "q850": (0.009, 0.003), "u850": (5.0, 8.0), "v850": (0.0, 8.0),
}  # fmt: skip


def random_fields(
    variables: tuple[str, ...], n_members: int, seed: int = 0
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Member fields ``[init, member, lead, lat, lon]`` and truth ``[time, lat, lon]`` per variable, float32; the
    dew point kept below the temperature and humidity positive."""
    rng = np.random.default_rng(seed)
    shape = (INITS.size, n_members, LEADS.size, NLAT, NLON)
    fields, truth = {}, {}
    for v in variables:
        mean, spread = RANGES[v]
        truth[v] = (mean + spread * rng.normal(size=(TIMES.size, NLAT, NLON))).astype(np.float32)
        fields[v] = (mean + spread * rng.normal(size=shape)).astype(np.float32)
        if v.startswith("q"):
            truth[v], fields[v] = np.abs(truth[v]), np.abs(fields[v])
    if "d2m" in fields and "t2m" in fields:
        fields["d2m"] = np.minimum(fields["d2m"], fields["t2m"])
        truth["d2m"] = np.minimum(truth["d2m"], truth["t2m"])
    return fields, truth


def synthetic_layout(
    variables: tuple[str, ...],
    n_members: int,
    *,
    checkpoint: str = "a",
    batch: int = 2,
    lead_chunk: int = 2,
    **extra: Any,
) -> StoreLayout:
    """The layout of a synthetic store on the grid and times of this module (``extra``: further StoreLayout
    fields, e.g. ``stored_members``, ``statistics``, ``derived_from``)."""
    return StoreLayout(
        variables=variables,
        init_times=INITS,
        lead_times=LEADS,
        lat=LAT,
        lon=LON,
        member_coords={"checkpoint": np.array([checkpoint] * n_members, dtype=object)},
        batch_size=batch,
        lead_chunk=lead_chunk,
        attrs={"hens_fingerprint": "synthetic"},
        **extra,
    )


def write_hens_store(path: Path, fields: dict[str, np.ndarray], *, batch: int = 2, lead_chunk: int = 2) -> Path:
    """A hens store (as `hens generate` writes it) of ``fields`` on the grid and times of this module."""
    variables = tuple(fields)
    n_members = next(iter(fields.values())).shape[1]
    create_store(path, synthetic_layout(variables, n_members, batch=batch, lead_chunk=lead_chunk))
    writer = StoreWriter(path, variables)
    for i in range(INITS.size):
        for v in variables:
            for b in range(0, n_members, batch):
                for l0 in range(0, LEADS.size, lead_chunk):
                    sl = slice(l0, min(LEADS.size, l0 + lead_chunk))
                    writer.write_block(v, i, slice(b, b + batch), sl, fields[v][i, b : b + batch, sl])
        writer.write_nonfinite(i, slice(0, n_members), np.full(n_members, -1))
    return path


def write_truth(path: Path, truth: dict[str, np.ndarray]) -> Path:
    """A verification Zarr ``(time, lat, lon)`` with variables named by channel."""
    ds = xr.Dataset(
        {v: (("time", "lat", "lon"), a) for v, a in truth.items()}, coords={"time": TIMES, "lat": LAT, "lon": LON}
    )
    with quiet_zarr():
        ds.to_zarr(path, mode="w", zarr_format=3, consolidated=False)
    return path


def diagnose_overrides(truth: Path, *extra: str) -> list[str]:
    """Fast diagnose settings: no extremes (no climatology), no spectra, one region."""
    return [
        f"diagnose.verification.path={truth}",
        "progress=false",
        "diagnose.extremes.enabled=false",
        "diagnose.spectral.enabled=false",
        "diagnose.regions=[global]",
        "diagnose.bootstrap.n_resamples=20",
        *extra,
    ]
