"""How member fields are stored: dtype, bit rounding and a lossless compressor, per variable.

Output volume is the cost of huge ensembles (HENS: ≈ 3 GB per member in float32, ≈ 2 PB in all).  Three knobs,
applied in this order to every float32 block before it is written (:meth:`VariableEncoding.encode`):

1. **Bit rounding** (Klöwer et al. 2021, "Compressing atmospheric data into its real information content",
   Nat. Comput. Sci. 1, 713–724): keep ``keepbits`` of the 23 explicit mantissa bits of each float32 value,
   rounding to nearest with ties to even, and set the others to zero.  For a normal number
   x = ±1.m × 2^e the result differs from x by at most half a unit in the kept last place:

       |round(x) − x| ≤ 2^(e − keepbits − 1) ≤ 2^−(keepbits+1) · |x|

   so the relative error is at most 2^−(keepbits+1) (keepbits 7: 0.39 %, 10: 0.049 %, 13: 0.0061 %).  The
   zeroed trailing bits cost nothing once a lossless compressor has seen them.  Deterministic: a pure
   function of each float32 value, so a member regenerated alone is encoded bit for bit as in the full run.
2. **Storage dtype**: float32, or float16 (10 mantissa bits, largest finite value 65504).  float16 is only
   safe for channels whose values stay well below 65504 in their units: mean sea level / surface pressure in
   Pa (≈ 1e5) and geopotential above 500 hPa in m² s⁻² (z300 ≈ 9e4) overflow.  Such channels are refused at
   configuration time (:func:`float16_overflow_reason`), and a write whose finite values would become ±Inf
   raises :class:`~hens.errors.StoreError` naming the variable — a store never holds silent overflows.
3. **Lossless compressor**: ``blosc`` (the default: Blosc with zstd and bit shuffle, level 1–9 — bit
   shuffling groups equal bits of neighbouring values, which suits smooth fields and rounded data), ``zstd``
   (zarr's ZstdCodec, level 1–22) or ``none``.

**bfloat16 is not supported, on purpose.**  Neither numpy nor the Zarr v3 core data types have bfloat16, so a
bfloat16 store would hold uint16 that ``xarray.open_zarr`` users must decode by hand.  float32 with
``keepbits=7`` has exactly bfloat16's precision (bfloat16 = float32 rounded to 7 mantissa bits, upper half
kept), stays a plain float32 array for every reader, and with ``compressor=blosc`` is as small or smaller than
bfloat16 + zstd (0.25° z500: ratio 27.9 vs 25.4; ``scripts/bench_compression.py``, docs/benchmarks.md).
On float32 (lossless or bit rounded) ``blosc`` beat plain ``zstd`` in every case measured: lossless 1.86 vs
1.31, keepbits 10 8.1 vs 5.5 (the size of float16 + zstd at the same precision), at a similar encode speed;
on float16 plain zstd was slightly better at 0.25° (8.1 vs 7.9).

**Zarr sharding is not used.**  A shard spanning several member chunks would be written by several ranks
(chunks never straddle ranks, shards would), and a shard holding one item's lead chunks is rewritten whole on
every partial write by zarr-python 3.1 (measured ≈ 10× slower for 8 lead chunks at 0.25°).  To cut the file
count, raise ``output.lead_chunk`` and ``ensemble.batch_size`` (files per variable = dates × members / batch ×
leads / lead_chunk).

The encoding is recorded in each variable's attributes (``hens_encoding``, ``hens_keepbits``,
``hens_max_relative_error``, ``hens_compressor``, ``hens_compression_level``) and in the store's global
``hens_encoding`` (JSON); :class:`~hens.io.store.StoreWriter` reads it back from the store, so every writer —
any rank, a resumed run — applies the same encoding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hens.errors import ConfigError, StoreError

FLOAT32_MANTISSA_BITS = 23
FLOAT16_MANTISSA_BITS = 10
FLOAT16_MAX = 65504.0
STORAGE_DTYPES = ("float32", "float16")
COMPRESSORS = ("zstd", "blosc", "none")
_LEVELS = {"zstd": (1, 22), "blosc": (1, 9), "none": (0, 0)}
_MANTISSA_BITS = {"float32": FLOAT32_MANTISSA_BITS, "float16": FLOAT16_MANTISSA_BITS}


def bitround(array: np.ndarray, keepbits: int) -> np.ndarray:
    """Round float32 values to ``keepbits`` mantissa bits, to nearest with ties to even (a new float32 array).

    On the IEEE-754 bit pattern b (uint32) with d = 23 − keepbits dropped bits:
    b ← (b + 2^(d−1) − 1 + ((b >> d) & 1)) & ~(2^d − 1); a carry out of the mantissa correctly bumps the
    exponent.  Guarantees:

    - relative error ≤ 2^−(keepbits+1) for normal numbers (absolute error ≤ 2^−(127+keepbits) for subnormals);
    - exact (a copy) when keepbits ≥ 23; idempotent; the sign is kept (tiny negatives may become −0.0);
    - NaN and ±Inf are returned unchanged; a finite value within 2^−(keepbits+1) of float32's largest value
      (3.4e38) rounds to ±Inf, as round-to-nearest demands.

    ``array`` of any shape and real dtype is first converted to float32.  Reference: Klöwer et al. (2021),
    also implemented as numcodecs' ``BitRound`` and xbitinfo's ``xr_bitround``.
    """
    if isinstance(keepbits, bool) or not isinstance(keepbits, (int, np.integer)) or keepbits < 0:
        raise ValueError(f"keepbits={keepbits!r} must be a non-negative integer")
    values = np.array(array, dtype=np.float32, copy=True)
    if keepbits >= FLOAT32_MANTISSA_BITS:
        return values
    drop = FLOAT32_MANTISSA_BITS - int(keepbits)
    bits = values.view(np.uint32)
    nonfinite = (bits & np.uint32(0x7F800000)) == np.uint32(0x7F800000)  # exponent all ones: Inf or NaN
    saved = bits[nonfinite]
    lsb = (bits >> np.uint32(drop)) & np.uint32(1)  # last kept bit: adds the half-ulp for odd, ties go to even
    bits += np.uint32((1 << (drop - 1)) - 1)
    bits += lsb
    bits &= np.uint32((0xFFFFFFFF << drop) & 0xFFFFFFFF)
    bits[nonfinite] = saved
    return values


def max_relative_error(keepbits: int | None, dtype: str = "float32") -> float:
    """Bound on |stored − x| / |x| for normal numbers: 2^−(k+1) with k = min(keepbits, mantissa bits of dtype).

    0 for lossless float32 (keepbits None or ≥ 23).  For float16 the bound holds for 6.1e-5 ≤ |x| ≤ 65504;
    below, float16's subnormals add an absolute error of at most 2^−25 ≈ 3e-8.
    """
    bits = _MANTISSA_BITS[dtype]
    k = bits if keepbits is None else min(int(keepbits), bits)
    if k >= FLOAT32_MANTISSA_BITS:
        return 0.0
    return 2.0 ** -(k + 1)


_LEVEL_NAME = re.compile(r"^([a-z]+?)(\d+)$")


def float16_overflow_reason(name: str) -> str | None:
    """Why channel ``name`` cannot be stored as float16 (values beyond 65504 in its units), or None.

    Known cases: ``msl`` and ``sp`` in Pa (≈ 1e5) and geopotential ``z<p>`` above 500 hPa in m² s⁻²
    (z400 ≈ 7.5e4, z300 ≈ 9e4, z50 ≈ 2e5); z500 (≈ 4.7e4–6.0e4) fits.  Unknown channels pass here and are
    caught at write time by :meth:`VariableEncoding.encode`.
    """
    if name in ("msl", "sp"):
        return f"{name} is in Pa (≈ 1e5)"
    match = _LEVEL_NAME.match(name)
    if match and match.group(1) == "z" and int(match.group(2)) < 500:
        return f"{name} is geopotential in m2 s-2 (≈ {9.81 * _standard_height_m(int(match.group(2))):.0e})"
    return None


def _standard_height_m(level_hpa: int) -> float:
    """Height (m) of a pressure level in an isothermal 7 km scale-height atmosphere — an order of magnitude only."""
    return 7000.0 * float(np.log(1013.25 / max(level_hpa, 1)))


@dataclass(frozen=True)
class VariableEncoding:
    """The encoding of one stored variable: storage dtype, mantissa bits kept (None: no rounding), compressor."""

    dtype: str = "float32"
    keepbits: int | None = None
    compressor: str = "blosc"
    level: int = 5

    @property
    def lossless(self) -> bool:
        return max_relative_error(self.keepbits, self.dtype) == 0.0

    def zarr_encoding(self) -> dict[str, Any]:
        """The xarray ``to_zarr`` encoding entries for Zarr v3: ``dtype``, ``compressors``, ``_FillValue``."""
        compressors = zarr_compressors(self.compressor, self.level)
        return {"dtype": self.dtype, "compressors": compressors, "_FillValue": np.nan}

    def describe(self) -> str:
        """One line for humans, e.g. ``float32, 10 mantissa bits kept (max relative error 4.9e-04), blosc level 5``."""
        if self.lossless:
            precision = "lossless"
        else:
            bits = _MANTISSA_BITS[self.dtype] if self.keepbits is None else min(self.keepbits, 23)
            bound = max_relative_error(self.keepbits, self.dtype)
            precision = f"{bits} mantissa bits kept (max relative error {bound:.1e})"
        codec = "uncompressed" if self.compressor == "none" else f"{self.compressor} level {self.level}"
        return f"{self.dtype}, {precision}, {codec}"

    def attrs(self) -> dict[str, Any]:
        """Flat (NetCDF-safe) attributes recording this encoding on the stored variable."""
        out: dict[str, Any] = {
            "hens_encoding": self.describe(),
            "hens_compressor": self.compressor,
            "hens_compression_level": int(self.level),
            "hens_max_relative_error": max_relative_error(self.keepbits, self.dtype),
        }
        if self.keepbits is not None:
            out["hens_keepbits"] = int(self.keepbits)
        return out

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any], dtype: Any) -> VariableEncoding:
        """Rebuild the encoding a writer must apply from a stored variable's attributes and dtype."""
        keepbits = attrs.get("hens_keepbits")
        return cls(
            dtype=str(np.dtype(dtype)),
            keepbits=None if keepbits is None else int(keepbits),
            compressor=str(attrs.get("hens_compressor", "zstd")),  # stores written before encodings: zarr's zstd
            level=int(attrs.get("hens_compression_level", 0)),
        )

    def encode(self, data: np.ndarray, name: str) -> np.ndarray:
        """float32 (or float16) ``data`` of any shape → the stored values: bit rounded, then cast to ``dtype``.

        Raises StoreError when a finite value would overflow float16 to ±Inf.
        """
        values = np.asarray(data, dtype=np.float32)
        if self.keepbits is not None and self.keepbits < FLOAT32_MANTISSA_BITS:
            values = bitround(values, self.keepbits)
        if self.dtype == "float32":
            return values
        with np.errstate(over="ignore"):
            stored = values.astype(np.float16)
        overflow = np.isinf(stored) & np.isfinite(values)
        if overflow.any():
            biggest = float(np.max(np.abs(values[overflow])))
            raise StoreError(
                f"variable {name}: values up to {biggest:.6g} overflow float16 (largest 65504); "
                f"set output.dtype=float32 (output.keepbits gives the compression) or drop {name} from output.variables"
            )
        return stored


def zarr_compressors(compressor: str, level: int) -> tuple[Any, ...] | None:
    """Zarr v3 ``compressors=`` for a compressor name: (ZstdCodec,), (BloscCodec zstd+bitshuffle,) or None."""
    from zarr.codecs import BloscCodec, ZstdCodec

    if compressor == "zstd":
        return (ZstdCodec(level=int(level), checksum=False),)
    if compressor == "blosc":
        return (BloscCodec(cname="zstd", clevel=int(level), shuffle="bitshuffle"),)
    if compressor == "none":
        return None
    raise ValueError(f"unknown compressor {compressor!r}; use one of {COMPRESSORS}")


@dataclass(frozen=True)
class EncodingSpec:
    """The run's encoding: one storage dtype and compressor, a default keepbits and per-variable overrides.

    ``keepbits`` None = lossless.  ``keepbits_by_variable`` maps a channel to its keepbits (None there makes
    that channel lossless under a lossy default).  Construction validates ranges; :meth:`check_variables`
    validates against the stored channels.  Errors are one-line ConfigErrors naming the ``output.*`` key.
    """

    dtype: str = "float32"
    keepbits: int | None = None
    keepbits_by_variable: Mapping[str, int | None] = field(default_factory=dict)
    compressor: str = "blosc"
    level: int = 5

    def __post_init__(self) -> None:
        if self.dtype not in STORAGE_DTYPES:
            hint = " (bfloat16: use output.dtype=float32 with output.keepbits=7 — same precision, float32 on disk)"
            raise ConfigError(
                f"output.dtype={self.dtype!r} is not supported; use one of {', '.join(STORAGE_DTYPES)}"
                + (hint if self.dtype == "bfloat16" else "")
            )
        if self.compressor not in COMPRESSORS:
            raise ConfigError(
                f"output.compressor={self.compressor!r} is not supported; use one of {', '.join(COMPRESSORS)}"
            )
        low, high = _LEVELS[self.compressor]
        if self.compressor != "none" and (
            isinstance(self.level, bool) or not isinstance(self.level, int) or not low <= self.level <= high
        ):
            raise ConfigError(
                f"output.compression_level={self.level!r} must be an integer in {low}..{high} for "
                f"output.compressor={self.compressor}"
            )
        _check_keepbits("output.keepbits", self.keepbits, self.dtype)
        for name, bits in self.keepbits_by_variable.items():
            _check_keepbits(f"output.keepbits_by_variable.{name}", bits, self.dtype)

    def for_variable(self, name: str) -> VariableEncoding:
        """The encoding of channel ``name`` (its keepbits override, else the default)."""
        keepbits = self.keepbits_by_variable[name] if name in self.keepbits_by_variable else self.keepbits
        return VariableEncoding(self.dtype, keepbits, self.compressor, self.level if self.compressor != "none" else 0)

    def check_variables(self, variables: Iterable[str]) -> None:
        """ConfigError if a keepbits entry names a channel that is not stored, or float16 cannot hold a channel."""
        variables = tuple(variables)
        unknown = sorted(set(self.keepbits_by_variable) - set(variables))
        if unknown:
            raise ConfigError(
                f"output.keepbits_by_variable names {', '.join(unknown)}, which is not stored "
                f"(stored: {', '.join(variables)}); remove it or add it to output.variables"
            )
        if self.dtype == "float16":
            for name in variables:
                reason = float16_overflow_reason(name)
                if reason is not None:
                    raise ConfigError(
                        f"output.dtype=float16 cannot hold {name}: {reason} > 65504; use output.dtype=float32 with "
                        f"output.keepbits (e.g. 10) for compression, or drop {name} from output.variables"
                    )

    def to_json(self, variables: Iterable[str]) -> str:
        """The store's global ``hens_encoding`` attribute: per variable dtype, keepbits, compressor, level."""
        return json.dumps({name: self.for_variable(name).__dict__ for name in variables}, sort_keys=True)


def _check_keepbits(key: str, value: Any, dtype: str) -> None:
    if value is None:
        return
    bits = _MANTISSA_BITS[dtype]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= bits:
        raise ConfigError(
            f"{key}={value!r} must be an integer in 0..{bits} (mantissa bits kept in {dtype}) or null for lossless"
        )
