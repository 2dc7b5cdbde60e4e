"""The extra input channels makani appends to the normalised state before its SFNO runs.

Channel order of the network input (makani's preprocessor, ``n_history = 0``)::

    [ state (C, normalised) | cos zenith (1, if add_zenith) | grid features | orography (1) | land mask (1 or 2) ]

* **cos zenith** — cosine of the solar zenith angle at the *valid time of the input state*, unitless in [−1, 1],
  not normalised.  The formula is the low-precision solar ephemeris of makani's
  ``third_party/climt/zenith_angle_v2.py`` (Meeus mean anomaly / ecliptic longitude, 5th-order obliquity,
  AIAA-2006 Greenwich mean sidereal time), evaluated in float32 in the same order of operations, so the
  channel agrees with makani to float32 rounding.  Time enters as float32 days since 2000-01-01 12:00 UTC.
* **grid features** (``add_grid``) — from the grid coordinates ``x`` (latitude) and ``y`` (longitude): with
  ``gridtype = "sinusoidal"`` the channels ``sin(f·x), sin(f·y)`` and, when ``add_cos_to_grid`` (makani ≥ 0.2
  default), ``cos(f·x), cos(f·y)`` for f = 1 … ``grid_num_frequencies``; with ``"linear"`` just ``x, y``.
  The coordinates are latitude/longitude in *radians* when config.json lists ``lat``/``lon`` (makani reads them
  from the dataset metadata), otherwise makani's fallback ``i / nlat`` and ``j / nlon`` in [0, 1).
* **orography** (``add_orography``) — variable ``Z`` (surface geopotential) of ``orography.nc``, first time
  index, min–max scaled to [0, 1], then standardised over the whole grid: (o − mean) / (std + 1e-6), with
  torch's unbiased std, as makani does when ``normalize_static_features`` is off.
* **land mask** (``add_landmask``) — variable ``LSM`` of ``land_mask.nc``; with ``landmask_preprocessing``
  "floor" (default) or "round" it is cast to an integer and one-hot encoded (2 channels: sea, land); "raw"
  keeps the fraction as one channel.

The two ``.nc`` files are NetCDF-4/HDF5 in real packages; like makani, hens reads them with ``h5py`` (a
dependency).  NetCDF-3 files are read with SciPy as a fallback.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hens.errors import CheckpointError

F32 = np.float32
_J2000 = np.datetime64("2000-01-01T12:00:00", "us")


# ----------------------------------------------------------------------------------------------- valid times
def as_datetime64(valid_time: Any) -> np.ndarray:
    """Valid time(s) as a 1-D ``datetime64[us]`` array (UTC).

    Accepts numpy datetime64 scalars/arrays, ISO strings, ``datetime`` objects (aware ones are converted to
    UTC, naive ones are taken as UTC) and sequences of these.
    """
    arr = np.atleast_1d(np.asarray(valid_time))
    if arr.dtype == object or arr.dtype.kind in "US":
        items = []
        for item in arr.ravel():
            if isinstance(item, dt.datetime) and item.tzinfo is not None:
                item = item.astimezone(dt.timezone.utc).replace(tzinfo=None)
            items.append(np.datetime64(item, "us"))
        return np.asarray(items, dtype="datetime64[us]")
    if arr.dtype.kind != "M":
        raise CheckpointError(f"valid times must be numpy datetime64 values, got dtype {arr.dtype}; pass datetime64")
    return arr.astype("datetime64[us]").ravel()


# ------------------------------------------------------------------------------------------- solar zenith
def cos_zenith(valid_time: Any, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Cosine of the solar zenith angle on a lat/lon grid, float32, as makani computes it.

    Args:
        valid_time: T valid times (UTC), see :func:`as_datetime64`.
        lat: latitudes in degrees, shape (H,).
        lon: longitudes in degrees east, shape (W,).
    Returns:
        float32 array of shape (T, H, W): sin φ sin δ + cos φ cos δ cos h, with δ the solar declination and
        h = GMST − α + λ the hour angle.
    """
    times = as_datetime64(valid_time)
    days = ((times - _J2000) / np.timedelta64(1, "D")).astype(F32)  # float64 days, then float32 as makani
    jc = days / F32(36525.0)  # Julian centuries since J2000

    # obliquity of the ecliptic (5th-order polynomial, arcseconds)
    eps = np.deg2rad(
        23.0
        + 26.0 / 60
        + 21.406 / 3600.0
        - (46.836769 * jc - 0.0001831 * jc**2 + 0.00200340 * jc**3 - 0.576e-6 * jc**4 - 4.34e-8 * jc**5) / 3600.0,
        dtype=F32,
    )
    # apparent ecliptic longitude of the sun (mean longitude + equation of centre)
    anomaly = np.deg2rad(357.52910 + 35999.05030 * jc - 0.0001559 * jc * jc - 0.00000048 * jc * jc * jc, dtype=F32)
    mean_lon = np.deg2rad(280.46645 + 36000.76983 * jc + 0.0003032 * jc * jc, dtype=F32)
    centre = np.deg2rad(
        (1.914600 - 0.004817 * jc - 0.000014 * jc * jc) * np.sin(anomaly)
        + (0.019993 - 0.000101 * jc) * np.sin(2 * anomaly)
        + 0.000290 * np.sin(3 * anomaly),
        dtype=F32,
    )
    eclon = mean_lon + centre
    # equatorial coordinates: declination and right ascension
    ex = np.cos(eclon)
    ey = np.cos(eps) * np.sin(eclon)
    ez = np.sin(eps) * np.sin(eclon)
    er = np.sqrt(1.0 - ez * ez)
    dec = np.arctan2(ez, er)
    right_ascension = F32(2.0) * np.arctan2(ey, ex + er)
    # Greenwich mean sidereal time (seconds of time → radians)
    theta = F32(67310.54841 + jc * (876600 * 3600 + 8640184.812866 + jc * (0.093104 - jc * 6.2e-5)))
    gmst = (np.deg2rad(theta / 240.0) % (2 * np.pi)).astype(F32)

    sin_dec = np.sin(dec).astype(F32)[:, None, None]
    cos_dec = np.cos(dec).astype(F32)[:, None, None]
    offset = (gmst - right_ascension).astype(F32)[:, None, None]
    lon_grid, lat_grid = np.meshgrid(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    lon_rad = np.deg2rad(lon_grid, dtype=F32)
    lat_rad = np.deg2rad(lat_grid, dtype=F32)
    sin_lat = np.sin(lat_rad).astype(F32)
    cos_lat = np.cos(lat_rad).astype(F32)
    return (sin_lat * sin_dec + cos_lat * cos_dec * np.cos(offset + lon_rad)).astype(F32)


# ------------------------------------------------------------------------------------------ static fields
def grid_features(
    lat: np.ndarray | None,
    lon: np.ndarray | None,
    shape: tuple[int, int],
    *,
    gridtype: str = "sinusoidal",
    num_frequencies: int = 1,
    add_cos: bool = True,
) -> torch.Tensor:
    """makani's grid channels, float32 tensor of shape (1, G, H, W) (see the module docstring).

    ``lat``/``lon`` in degrees give radian coordinates; ``None`` gives makani's [0, 1) fallback coordinates.
    G = 2 for "linear", 2·F (sin only) or 4·F (sin and cos) for "sinusoidal" with F frequencies.
    """
    if lat is not None and lon is not None:
        tx = torch.deg2rad(torch.as_tensor(np.asarray(lat, dtype=np.float64)).to(torch.float32))
        ty = torch.deg2rad(torch.as_tensor(np.asarray(lon, dtype=np.float64)).to(torch.float32))
    else:
        tx = torch.linspace(0, 1, shape[0] + 1, dtype=torch.float32)[:-1]
        ty = torch.linspace(0, 1, shape[1] + 1, dtype=torch.float32)[:-1]
    x_grid, y_grid = torch.meshgrid(tx, ty, indexing="ij")
    grid = torch.stack([x_grid, y_grid]).unsqueeze(0)  # (1, 2, H, W)
    if gridtype == "linear":
        return grid
    if gridtype != "sinusoidal":
        raise CheckpointError(f"makani option gridtype={gridtype!r} is not supported; supported: sinusoidal, linear")
    parts: list[torch.Tensor] = []
    for freq in range(1, int(num_frequencies) + 1):
        scaled = grid if freq == 1 else freq * grid
        parts.append(torch.sin(scaled))
        if add_cos:
            parts.append(torch.cos(scaled))
    return torch.cat(parts, dim=1)


def orography_feature(geopotential: np.ndarray) -> torch.Tensor:
    """Orography channel (1, 1, H, W): min–max scale to [0, 1], then (o − mean) / (unbiased std + 1e-6)."""
    field = np.asarray(geopotential)
    scaled = (field - field.min()) / (field.max() - field.min())
    oro = torch.as_tensor(scaled, dtype=torch.float32).reshape(1, 1, *field.shape)
    return (oro - torch.mean(oro)) / (torch.std(oro) + 1e-6)


def landmask_feature(fraction: np.ndarray, preprocessing: str = "floor") -> torch.Tensor:
    """Land-mask channels (1, K, H, W): one-hot classes of ⌊lsm⌋ ("floor") or round(lsm) ("round"), or raw."""
    field = np.asarray(fraction)
    if preprocessing == "raw":
        return torch.as_tensor(field, dtype=torch.float32).reshape(1, 1, *field.shape)
    if preprocessing == "floor":
        classes = torch.as_tensor(field, dtype=torch.long)
    elif preprocessing == "round":
        classes = torch.as_tensor(field, dtype=torch.float32).round().to(torch.long)
    else:
        raise CheckpointError(
            f"makani option landmask_preprocessing={preprocessing!r} is not supported; supported: floor, round, raw"
        )
    onehot = torch.nn.functional.one_hot(classes).permute(2, 0, 1).to(torch.float32)
    return onehot.unsqueeze(0)


# ----------------------------------------------------------------------------------------- netCDF files
def read_invariant(path: str | Path, variable: str) -> np.ndarray:
    """First time slice ``variable[0, :, :]`` of a package's ``orography.nc`` / ``land_mask.nc``, raw values.

    Reads HDF5 / NetCDF-4 with h5py (what makani uses), and NetCDF-3 with SciPy; values are not unpacked
    (no scale_factor/add_offset), exactly like makani's h5py read.
    """
    import h5py
    from scipy.io import netcdf_file

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"makani package file {path} is missing; the config enables the feature it holds")
    try:
        with h5py.File(path, "r") as f:
            return np.asarray(f[variable][0, :, :])
    except KeyError:
        raise CheckpointError(f"{path} has no variable {variable!r}; re-export the package's invariant files") from None
    except OSError as hdf5_error:  # not HDF5: try NetCDF-3
        try:
            with netcdf_file(path, "r", mmap=False) as f:
                raw = np.asarray(f.variables[variable][0, :, :])
                return raw.astype(raw.dtype.newbyteorder("="))  # NetCDF-3 is big-endian
        except KeyError:
            raise CheckpointError(
                f"{path} has no variable {variable!r}; re-export the package's invariant files"
            ) from None
        except (TypeError, ValueError, OSError) as err:
            raise CheckpointError(
                f"cannot read {path} as HDF5/NetCDF-4 ({hdf5_error}) or NetCDF-3 ({err}); re-export the package"
            ) from err


def write_invariant(path: str | Path, variable: str, field: np.ndarray) -> Path:
    """Write ``field`` (H, W) as the HDF5 dataset ``variable`` of shape (1, H, W) float32 — what makani reads."""
    import h5py

    path = Path(path)
    with h5py.File(path, "w") as f:
        f.create_dataset(variable, data=np.asarray(field, dtype=np.float32)[None])
    return path


# ---------------------------------------------------------------------------------------------- module
class MakaniInputFeatures(nn.Module):
    """Appends makani's extra channels to a normalised state: ``[B, C, H, W]`` → ``[B, C + 1? + S, H, W]``.

    Args:
        n_state: C, the number of state channels.
        lat, lon: grid in degrees (H,), (W,), used for the zenith angle.
        add_zenith: append cos(solar zenith) at the valid time.
        add_grid, gridtype, grid_num_frequencies, add_cos_to_grid: grid channels (see :func:`grid_features`).
        grid_coords: "latlon" (radian lat/lon coordinates) or "unit" (makani's [0, 1) fallback).
        orography_path / landmask_path: package files when orography / land mask are added.
        landmask_preprocessing: "floor", "round" or "raw".
    The static channels live in a non-persistent buffer, so they never appear in the state dict.
    """

    def __init__(
        self,
        *,
        n_state: int,
        lat: Sequence[float],
        lon: Sequence[float],
        add_zenith: bool = False,
        add_grid: bool = False,
        gridtype: str = "sinusoidal",
        grid_num_frequencies: int = 1,
        add_cos_to_grid: bool = True,
        grid_coords: str = "latlon",
        orography_path: str | None = None,
        landmask_path: str | None = None,
        landmask_preprocessing: str = "floor",
    ):
        super().__init__()
        self.n_state = int(n_state)
        self.lat = np.asarray(lat, dtype=np.float64)
        self.lon = np.asarray(lon, dtype=np.float64)
        self.add_zenith = bool(add_zenith)
        shape = (len(self.lat), len(self.lon))
        parts: list[torch.Tensor] = []
        if add_grid:
            use_latlon = grid_coords == "latlon"
            parts.append(
                grid_features(
                    self.lat if use_latlon else None,
                    self.lon if use_latlon else None,
                    shape,
                    gridtype=gridtype,
                    num_frequencies=grid_num_frequencies,
                    add_cos=add_cos_to_grid,
                )
            )
        if orography_path is not None:
            parts.append(orography_feature(_checked(read_invariant(orography_path, "Z"), shape, orography_path)))
        if landmask_path is not None:
            lsm = _checked(read_invariant(landmask_path, "LSM"), shape, landmask_path)
            parts.append(landmask_feature(lsm, landmask_preprocessing))
        static = torch.cat(parts, dim=1) if parts else torch.zeros(1, 0, *shape)
        self.register_buffer("static", static, persistent=False)

    def n_out_channels(self, n_state: int) -> int:
        """Channels of the network input for ``n_state`` state channels."""
        return n_state + int(self.add_zenith) + int(self.static.shape[1])

    def forward(self, x: torch.Tensor, valid_time: Any = None) -> torch.Tensor:
        batch = x.shape[0]
        parts = [x]
        if self.add_zenith:
            if valid_time is None:
                raise CheckpointError(
                    "this makani checkpoint uses the solar zenith angle; pass valid_time (datetime64 of the input)"
                )
            cosz = cos_zenith(valid_time, self.lat, self.lon)
            if cosz.shape[0] not in (1, batch):
                raise CheckpointError(
                    f"got {cosz.shape[0]} valid times for a batch of {batch} states; pass one per state or one for all"
                )
            z = torch.from_numpy(cosz).to(device=x.device, dtype=x.dtype).unsqueeze(1)
            parts.append(z.expand(batch, -1, -1, -1))
        if self.static.shape[1]:
            parts.append(self.static.to(dtype=x.dtype).expand(batch, -1, -1, -1))
        return torch.cat(parts, dim=1)


def _checked(field: np.ndarray, shape: tuple[int, int], path: str | Path) -> np.ndarray:
    if tuple(field.shape) != shape:
        raise CheckpointError(
            f"{path} holds a {field.shape[0]}x{field.shape[1]} field but the model grid is {shape[0]}x{shape[1]}; "
            "use the package's own invariant files"
        )
    return field
