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

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hens.errors import StoreError
from hens.io.cf import DERIVED_FROM, channel_attrs
from hens.io.encoding import EncodingSpec, VariableEncoding
from hens.io.integrity import chunk_keys, describe_chunks
from hens.io.manifest import Manifest
from hens.io.zarr_open import quiet_zarr

NONFINITE = "nonfinite_lead"


@dataclass(frozen=True)
class StoreLayout:
    """Shape and labels of a store.  ``lead_times`` are timedelta64; ``member_coords`` arrays have length N.

    ``encoding`` (dtype, keepbits, compressor; None: lossless ``dtype``, blosc) must agree with ``dtype``;
    it is checked against ``variables`` on construction (ConfigError for unknown keepbits keys or channels
    float16 cannot hold).  ``derived_from`` names, for each derived variable among ``variables``
    (``output.derived``), its input channels (recorded in its ``derived_from`` attribute).
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
    stored_members: tuple[int, ...] | None = None
    statistics: dict[str, tuple[float, ...]] | None = None
    derived_from: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.encoding is not None and self.encoding.dtype != self.dtype:
            raise ValueError(f"StoreLayout dtype {self.dtype} differs from its encoding's {self.encoding.dtype}")
        self.value_encoding().check_variables(self.variables)

    def value_encoding(self) -> EncodingSpec:
        """The encoding spec of the member fields (lossless ``dtype`` + blosc when none was given)."""
        return self.encoding if self.encoding is not None else EncodingSpec(dtype=self.dtype)

    @property
    def n_members(self) -> int:
        """Members of the ensemble (stored or not)."""
        return len(next(iter(self.member_coords.values())))

    @property
    def member_index(self) -> np.ndarray:
        """Global indices of the members whose fields are stored (all, or ``stored_members``)."""
        if self.stored_members is None:
            return np.arange(self.n_members)
        return np.asarray(self.stored_members, dtype=np.int64)

    def chunks(self) -> tuple[int, int, int, int, int]:
        member_chunk = self.batch_size if self.stored_members is None else 1
        return (1, member_chunk, min(self.lead_chunk, len(self.lead_times)), len(self.lat), len(self.lon))

    def stats_chunks(self) -> tuple[int, int, int, int]:
        return (1, min(self.lead_chunk, len(self.lead_times)), len(self.lat), len(self.lon))


def create_store(path: str | Path, layout: StoreLayout) -> None:
    """Write the store template (metadata + coordinates); member data stay unwritten (NaN)."""
    import dask.array as da
    import xarray as xr

    stored = layout.member_index
    shape = (len(layout.init_times), len(stored), len(layout.lead_times), len(layout.lat), len(layout.lon))
    dims = ("init_time", "member", "lead_time", "lat", "lon")
    chunks = layout.chunks()
    data_vars = {}
    encoding: dict[str, dict[str, Any]] = {}
    spec = layout.value_encoding()
    if len(stored):
        for name in layout.variables:
            value_encoding = spec.for_variable(name)
            data_vars[name] = xr.Variable(
                dims,
                da.zeros(shape, chunks=chunks, dtype=layout.dtype),
                attrs={**channel_attrs(name), **_derived_attrs(layout, name), **value_encoding.attrs()},
            )
            encoding[name] = {"chunks": chunks, **value_encoding.zarr_encoding()}
        data_vars[NONFINITE] = xr.Variable(
            ("init_time", "member"),
            da.full(shape[:2], -2, chunks=(1, chunks[1]), dtype=np.int32),
            attrs={
                "long_name": "first lead-time index at which the member has a NaN or Inf value",
                "flag_values": [-2, -1],
                "flag_meanings": "not_generated_yet all_finite",
            },
        )
        encoding[NONFINITE] = {"chunks": (1, chunks[1]), "_FillValue": None}
    extra_coords: dict[str, Any] = {}
    if layout.statistics is not None:
        stats_vars, stats_encoding, extra_coords = _statistics_template(layout)
        data_vars.update(stats_vars)
        encoding.update(stats_encoding)
    coords: dict[str, Any] = {
        "init_time": (
            "init_time",
            np.asarray(layout.init_times, dtype="datetime64[ns]"),
            {"long_name": "forecast initialisation time", "standard_name": "forecast_reference_time"},
        ),
        "member": (
            "member",
            stored.astype(np.int32),
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
        coords[name] = ("member", np.asarray(values)[stored], {"long_name": name.replace("_", " ")})
    coords.update(extra_coords)
    ds = xr.Dataset(data_vars, coords=coords, attrs={**layout.attrs, "hens_encoding": spec.to_json(layout.variables)})
    encoding["lead_time"] = {"units": "hours", "dtype": "int64"}
    encoding["init_time"] = {"units": "hours since 1970-01-01", "dtype": "int64"}
    with quiet_zarr():
        ds.to_zarr(str(path), mode="w", compute=False, encoding=encoding, zarr_format=3, consolidated=True)
    # −2 ("not generated yet") is real data, not a fill value (xarray would mask a fill value): write it now
    import zarr

    if len(stored):
        zarr.open_array(str(Path(path) / NONFINITE), mode="r+")[...] = -2


def _derived_attrs(layout: StoreLayout, name: str) -> dict[str, str]:
    """``{derived_from: "u10m v10m"}`` for a derived variable, else nothing."""
    inputs = layout.derived_from.get(name)
    return {DERIVED_FROM: " ".join(inputs)} if inputs else {}


def stats_name(variable: str, stat: str) -> str:
    """Store name of an in-line statistic: ``<variable>_ens_<stat>`` (mean, variance, min, max, exceedance)."""
    return f"{variable}_ens_{stat}"


ENSEMBLE_COUNT = "ensemble_count"


def _statistics_template(layout: StoreLayout) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Variables, encodings and coordinates of the in-line statistics (see :mod:`hens.inference.stats`)."""
    import dask.array as da
    import xarray as xr

    thresholds = layout.statistics or {}
    n_init, n_lead, n_lat, n_lon = len(layout.init_times), len(layout.lead_times), len(layout.lat), len(layout.lon)
    chunks = layout.stats_chunks()
    dims = ("init_time", "lead_time", "lat", "lon")
    described = {
        "mean": "ensemble mean",
        "variance": "ensemble variance (unbiased, ddof = 1)",
        "min": "ensemble minimum",
        "max": "ensemble maximum",
    }
    data_vars: dict[str, Any] = {}
    encoding: dict[str, Any] = {}
    coords: dict[str, Any] = {}
    for name in layout.variables:
        base = channel_attrs(name)
        for stat, text in described.items():
            attrs = {"long_name": f"{text} of {base.get('long_name', name)}", "cell_methods": f"member: {stat}"}
            units = base.get("units")
            if units:
                attrs["units"] = f"({units})2" if stat == "variance" else units
            key = stats_name(name, stat)
            data_vars[key] = xr.Variable(
                dims, da.full((n_init, n_lead, n_lat, n_lon), np.nan, chunks=chunks, dtype=np.float32), attrs=attrs
            )
            encoding[key] = {"chunks": chunks, "_FillValue": np.float32(np.nan)}
        values = thresholds.get(name)
        if values:
            tdim = f"threshold_{name}"
            coords[tdim] = (tdim, np.asarray(values, dtype=np.float64), {"units": base.get("units", "1")})
            key = stats_name(name, "exceedance")
            data_vars[key] = xr.Variable(
                ("init_time", tdim, *dims[1:]),
                da.zeros(
                    (n_init, len(values), n_lead, n_lat, n_lon), chunks=(1, len(values), *chunks[1:]), dtype=np.int32
                ),
                attrs={"long_name": f"number of members with {name} above the threshold", "units": "1"},
            )
            encoding[key] = {"chunks": (1, len(values), *chunks[1:]), "_FillValue": None}
    data_vars[ENSEMBLE_COUNT] = xr.Variable(
        ("init_time", "lead_time"),
        da.zeros((n_init, n_lead), chunks=(1, n_lead), dtype=np.int32),
        attrs={"long_name": "members with a finite state in the statistics", "units": "1"},
    )
    encoding[ENSEMBLE_COUNT] = {"chunks": (1, n_lead), "_FillValue": None}
    return data_vars, encoding, coords


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
            has_members = (self.path / NONFINITE).is_dir()
            self.nonfinite = zarr.open_array(str(self.path / NONFINITE), mode="r+") if has_members else None
        except Exception as err:  # noqa: BLE001 - any failure to open is the same user-facing problem
            raise StoreError(
                f"cannot open store {self.path} for writing ({' '.join(str(err).split())}); its Zarr metadata is "
                "damaged — delete the folder and run again, or write to another output.path"
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
        if self.nonfinite is not None:
            self.nonfinite[init_index, member_slice] = first_bad_lead.astype(np.int32)

    def chunk_checksums(self, init_index: int, member_slices: list[slice]) -> dict[str, list[Any] | None]:
        """Size and CRC32C of every chunk file a work item wrote (its members ``member_slices`` of start date
        ``init_index``, all leads, every variable and ``nonfinite_lead``); call after its writes are flushed."""
        keys: list[str] = []
        for members in member_slices:
            region = [slice(init_index, init_index + 1), members]
            for name, array in self.arrays.items():
                keys += chunk_keys(array, name, region)
            if self.nonfinite is not None:
                keys += chunk_keys(self.nonfinite, NONFINITE, region)
        return describe_chunks(self.path, dict.fromkeys(keys))


def write_statistics(
    path: str | Path, init_index: int, variables: tuple[str, ...], stats: dict[str, np.ndarray]
) -> None:
    """Write one start date's finished statistics (:func:`hens.inference.stats.finalize` output: mean, variance,
    min, max ``[L, V, H, W]``, exceed ``[K, L, H, W]`` in threshold order, n ``[L]``) into the store."""
    import zarr

    root = Path(path)
    for v, name in enumerate(variables):
        for stat in ("mean", "variance", "min", "max"):
            zarr.open_array(str(root / stats_name(name, stat)), mode="r+")[init_index] = stats[stat][:, v]
    k = 0
    for name in variables:
        target = root / stats_name(name, "exceedance")
        if target.is_dir():
            array = zarr.open_array(str(target), mode="r+")
            n_thresholds = array.shape[1]
            array[init_index] = stats["exceed"][k : k + n_thresholds]
            k += n_thresholds
    zarr.open_array(str(root / ENSEMBLE_COUNT), mode="r+")[init_index] = stats["n"]
