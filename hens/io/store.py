"""The ensemble store: a Zarr v3 group that ``xarray.open_zarr`` opens with labelled, CF-described coordinates.

Layout (one array per output channel)::

    <var>(init_time, member, lead_time, lat, lon)   float32/float16, chunks (1, batch_size, lead_chunk, nlat, nlon),
                                                    bit rounded + compressed per :mod:`hens.io.encoding`
    nonfinite_lead(init_time, member)               int32: first lead index with NaN/Inf; −1 all finite, −2 not yet run
    coords: init_time (datetime64), member (int), lead_time (timedelta64), lat (degrees_north, N→S),
            lon (degrees_east), and per member: checkpoint (name), checkpoint_index, perturbation, sign

The template (metadata and coordinates, no member data) is written once by rank 0 with xarray; member data
are then written chunk by chunk as region writes with zarr directly — every region is exactly one chunk
along init_time and member, so ranks that own different work items never touch the same chunk file.
Unwritten chunks read as NaN (the fill value).  Each variable's encoding (dtype, keepbits, compressor) is
recorded in its attributes, and :class:`StoreWriter` reads it back from there, so every rank and every resumed
run applies exactly the encoding the store was created with.
"""

from __future__ import annotations

import contextlib
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hens.errors import StoreError
from hens.io.cf import channel_attrs
from hens.io.encoding import EncodingSpec, VariableEncoding
from hens.io.manifest import Manifest

NONFINITE = "nonfinite_lead"


@dataclass(frozen=True)
class StoreLayout:
    """Shape and labels of a store.  ``lead_times`` are timedelta64; ``member_coords`` arrays have length N.

    ``encoding`` (dtype, keepbits, compressor; None: lossless ``dtype``, blosc) must agree with ``dtype``;
    it is checked against ``variables`` on construction (ConfigError for unknown keepbits keys or channels
    float16 cannot hold).
    """

    variables: tuple[str, ...]
    init_times: np.ndarray
    lead_times: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    member_coords: dict[str, np.ndarray]
    batch_size: int
    lead_chunk: int
    dtype: str = "float32"
    attrs: dict[str, Any] = field(default_factory=dict)
    encoding: EncodingSpec | None = None

    def __post_init__(self) -> None:
        if self.encoding is not None and self.encoding.dtype != self.dtype:
            raise ValueError(f"StoreLayout dtype {self.dtype} differs from its encoding's {self.encoding.dtype}")
        self.value_encoding().check_variables(self.variables)

    def value_encoding(self) -> EncodingSpec:
        """The encoding spec of the member fields (lossless ``dtype`` + blosc when none was given)."""
        return self.encoding if self.encoding is not None else EncodingSpec(dtype=self.dtype)

    @property
    def n_members(self) -> int:
        return len(next(iter(self.member_coords.values())))

    def chunks(self) -> tuple[int, int, int, int, int]:
        return (1, self.batch_size, min(self.lead_chunk, len(self.lead_times)), len(self.lat), len(self.lon))


def create_store(path: str | Path, layout: StoreLayout) -> None:
    """Write the store template (metadata + coordinates); member data stay unwritten (NaN)."""
    import dask.array as da
    import xarray as xr

    shape = (len(layout.init_times), layout.n_members, len(layout.lead_times), len(layout.lat), len(layout.lon))
    dims = ("init_time", "member", "lead_time", "lat", "lon")
    chunks = layout.chunks()
    data_vars = {}
    encoding: dict[str, dict[str, Any]] = {}
    spec = layout.value_encoding()
    for name in layout.variables:
        value_encoding = spec.for_variable(name)
        data_vars[name] = xr.Variable(
            dims,
            da.zeros(shape, chunks=chunks, dtype=layout.dtype),
            attrs={**channel_attrs(name), **value_encoding.attrs()},
        )
        encoding[name] = {"chunks": chunks, **value_encoding.zarr_encoding()}
    data_vars[NONFINITE] = xr.Variable(
        ("init_time", "member"),
        da.full(shape[:2], -2, chunks=(1, layout.batch_size), dtype=np.int32),
        attrs={
            "long_name": "first lead-time index at which the member has a NaN or Inf value",
            "flag_values": [-2, -1],
            "flag_meanings": "not_generated_yet all_finite",
        },
    )
    encoding[NONFINITE] = {"chunks": (1, layout.batch_size), "_FillValue": None}
    coords: dict[str, Any] = {
        "init_time": (
            "init_time",
            np.asarray(layout.init_times, dtype="datetime64[ns]"),
            {"long_name": "forecast initialisation time", "standard_name": "forecast_reference_time"},
        ),
        "member": (
            "member",
            np.arange(layout.n_members, dtype=np.int32),
            {"long_name": "ensemble member", "standard_name": "realization"},
        ),
        "lead_time": (
            "lead_time",
            np.asarray(layout.lead_times, dtype="timedelta64[ns]"),
            {"long_name": "forecast lead time", "standard_name": "forecast_period"},
        ),
        "lat": (
            "lat",
            np.asarray(layout.lat, dtype=np.float64),
            {"standard_name": "latitude", "units": "degrees_north", "long_name": "latitude"},
        ),
        "lon": (
            "lon",
            np.asarray(layout.lon, dtype=np.float64),
            {"standard_name": "longitude", "units": "degrees_east", "long_name": "longitude"},
        ),
    }
    for name, values in layout.member_coords.items():
        coords[name] = ("member", values, {"long_name": name.replace("_", " ")})
    ds = xr.Dataset(data_vars, coords=coords, attrs={**layout.attrs, "hens_encoding": spec.to_json(layout.variables)})
    encoding["lead_time"] = {"units": "hours", "dtype": "int64"}
    encoding["init_time"] = {"units": "hours since 1970-01-01", "dtype": "int64"}
    with quiet_zarr():
        ds.to_zarr(str(path), mode="w", compute=False, encoding=encoding, zarr_format=3, consolidated=True)
    # −2 ("not generated yet") is real data, not a fill value (xarray would mask a fill value): write it now
    import zarr

    zarr.open_array(str(Path(path) / NONFINITE), mode="r+")[...] = -2


@contextlib.contextmanager
def quiet_zarr() -> Iterator[None]:
    """Silence zarr's notes on consolidated v3 metadata and on the manifest folder (both are intended)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        warnings.filterwarnings("ignore", message=".*not recognized as a component of a Zarr hierarchy.*")
        yield


def update_attrs(path: str | Path, attrs: dict[str, Any]) -> None:
    """Update the store's global attributes and re-consolidate its metadata (readers open it in one read)."""
    import zarr

    with quiet_zarr():
        zarr.open_group(str(path), mode="r+").attrs.update(attrs)
        zarr.consolidate_metadata(str(path))


def remove_store(path: str | Path) -> None:
    """Delete a store folder (used for output.overwrite=true)."""
    shutil.rmtree(path)


def is_hens_store(path: str | Path) -> bool:
    """True when ``path`` is a Zarr group whose attributes carry a hens fingerprint (written by hens)."""
    import json

    meta = Path(path) / "zarr.json"
    if not meta.is_file():
        return False
    try:
        return "hens_fingerprint" in json.loads(meta.read_text()).get("attributes", {})
    except (json.JSONDecodeError, AttributeError):
        return False


class StoreWriter:
    """Region writes into an existing store; one open zarr array handle per variable.

    Each block is encoded (bit rounding, dtype) as recorded in the variable's attributes before it is written.
    """

    def __init__(self, path: str | Path, variables: tuple[str, ...]) -> None:
        import zarr

        self.path = Path(path)
        try:
            self.arrays = {name: zarr.open_array(str(self.path / name), mode="r+") for name in variables}
            self.nonfinite = zarr.open_array(str(self.path / NONFINITE), mode="r+")
        except Exception as err:  # noqa: BLE001 - any failure to open is the same user-facing problem
            raise StoreError(
                f"cannot open store {self.path} for writing ({err}); remove it or set output.overwrite=true"
            ) from err
        self.encodings = {
            name: VariableEncoding.from_attrs(array.attrs, array.dtype) for name, array in self.arrays.items()
        }
        self.manifest = Manifest(self.path)

    def write_block(
        self, variable: str, init_index: int, member_slice: slice, lead_slice: slice, data: np.ndarray
    ) -> None:
        """Encode float32 ``data`` [members, leads, nlat, nlon] and write it into one chunk-aligned region.

        Pass float32: bit rounding a block already cast to float16 would round twice.
        """
        encoded = self.encodings[variable].encode(data, variable)
        self.arrays[variable][init_index, member_slice, lead_slice] = encoded

    def write_nonfinite(self, init_index: int, member_slice: slice, first_bad_lead: np.ndarray) -> None:
        self.nonfinite[init_index, member_slice] = first_bad_lead.astype(np.int32)
