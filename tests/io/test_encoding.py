"""Bit rounding, value encodings, compressed stores and their config errors (hens.io.encoding)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hens.errors import ConfigError, StoreError
from hens.io.encoding import (
    EncodingSpec,
    VariableEncoding,
    bitround,
    float16_overflow_reason,
    max_relative_error,
    zarr_compressors,
)
from hens.io.store import StoreLayout, StoreWriter, create_store

FLOATS32 = arrays(np.float32, st.integers(1, 64), elements=st.floats(width=32, allow_nan=True, allow_infinity=True))


def reference_bitround(x: np.ndarray, keepbits: int) -> np.ndarray:
    """Brute force in float64: round x / q to the nearest integer, ties to even (np.round), times q = 2^(e−k).

    e = floor(log2 |x|), clipped at −126 so float32 subnormals share the quantum of the smallest normals.
    x / q and the product are exact in float64 (q is a power of two), so this is the exact RNE result.
    """
    with np.errstate(invalid="ignore"):  # NaN payloads
        x64 = np.asarray(x, dtype=np.float64)
    out = x64.copy()
    finite = np.isfinite(x64) & (x64 != 0)
    _, exp = np.frexp(x64[finite])  # |x| = f · 2^exp with f in [0.5, 1): e = exp − 1
    e = np.maximum(exp - 1, -126)
    q = np.ldexp(1.0, e - keepbits)
    out[finite] = np.round(x64[finite] / q) * q
    with np.errstate(over="ignore"):
        return out.astype(np.float32)


def test_bitround_matches_float64_brute_force_on_every_keepbits():
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**32, size=200_000, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)  # every bit pattern: normals, subnormals, zeros, NaN, Inf
    ties = (rng.integers(1, 2**20, size=5000).astype(np.float32) + np.float32(0.5)) * np.float32(2.0**-10)
    x = np.concatenate([x, ties, -ties, np.float32([1.5, 2.5, -0.5, 65504, 3.4028235e38, 1e-45, 0.0, -0.0])])
    for keepbits in range(0, 24):
        got = bitround(x, keepbits)
        want = reference_bitround(x, keepbits)
        assert got.dtype == np.float32 and got.shape == x.shape
        np.testing.assert_array_equal(got, want, err_msg=f"keepbits={keepbits}")
        # the sign survives, also through rounding to zero
        finite = np.isfinite(x)
        assert (np.signbit(got[finite]) == np.signbit(x[finite])).all()


def test_bitround_exact_at_23_and_keeps_nonfinite_and_input():
    x = np.float32([1.1, -3.3e-39, np.nan, np.inf, -np.inf, 0.0])
    before = x.copy()
    assert bitround(x, 23).tobytes() == x.tobytes()
    assert bitround(x, 40).tobytes() == x.tobytes()
    r = bitround(x, 0)
    assert np.isnan(r[2]) and r[3] == np.inf and r[4] == -np.inf
    assert x.tobytes() == before.tobytes()  # input untouched
    nan_payload = np.uint32([0x7FC00001, 0xFFBFFFFF]).view(np.float32)  # NaNs whose payload would carry
    assert bitround(nan_payload, 0).view(np.uint32).tolist() == [0x7FC00001, 0xFFBFFFFF]
    with pytest.raises(ValueError):
        bitround(x, -1)


@settings(max_examples=200, deadline=None)
@given(FLOATS32, st.integers(0, 23))
def test_bitround_error_bound_and_idempotence(x, keepbits):
    r = bitround(x, keepbits)
    np.testing.assert_array_equal(bitround(r, keepbits), r)  # idempotent
    assert (np.isnan(r) == np.isnan(x)).all()
    x64, r64 = x.astype(np.float64), r.astype(np.float64)
    normal = np.isfinite(x64) & (np.abs(x64) >= np.finfo(np.float32).tiny) & np.isfinite(r64)
    bound = max_relative_error(keepbits)
    assert (np.abs(r64[normal] - x64[normal]) <= bound * np.abs(x64[normal])).all()
    sub = np.isfinite(x64) & (np.abs(x64) < np.finfo(np.float32).tiny)
    assert (np.abs(r64[sub] - x64[sub]) <= 2.0 ** -(127 + keepbits)).all()
    # only values within the bound of float32's largest value may overflow to ±Inf
    overflow = np.isfinite(x64) & ~np.isfinite(r64)
    assert (np.abs(x64[overflow]) >= float(np.finfo(np.float32).max) * (1 - bound)).all()
    # the dropped mantissa bits are zero
    drop = 23 - keepbits
    if drop > 0:
        finite = np.isfinite(r)
        assert (r[finite].view(np.uint32) & np.uint32((1 << drop) - 1) == 0).all()


def test_max_relative_error():
    assert max_relative_error(None) == 0.0 and max_relative_error(23) == 0.0
    assert max_relative_error(10) == 2.0**-11 and max_relative_error(7) == 2.0**-8
    assert max_relative_error(None, "float16") == 2.0**-11 and max_relative_error(7, "float16") == 2.0**-8


def test_variable_encoding_zarr_dict_attrs_and_round_trip_of_attrs():
    from zarr.codecs import BloscCodec, ZstdCodec

    enc = VariableEncoding("float32", 10, "zstd", 5)
    zenc = enc.zarr_encoding()
    assert zenc["dtype"] == "float32" and np.isnan(zenc["_FillValue"])
    (codec,) = zenc["compressors"]
    assert isinstance(codec, ZstdCodec) and codec.level == 5
    (blosc,) = zarr_compressors("blosc", 4)
    assert isinstance(blosc, BloscCodec) and blosc.cname.value == "zstd" and blosc.shuffle.value == "bitshuffle"
    assert zarr_compressors("none", 0) is None
    attrs = enc.attrs()
    assert attrs["hens_keepbits"] == 10 and attrs["hens_compressor"] == "zstd"
    assert attrs["hens_max_relative_error"] == 2.0**-11 and "10 mantissa bits" in attrs["hens_encoding"]
    assert VariableEncoding.from_attrs(attrs, np.float32) == enc
    lossless = VariableEncoding()
    assert "hens_keepbits" not in lossless.attrs() and "lossless" in lossless.attrs()["hens_encoding"]
    # a store written before encodings existed: no rounding, zarr's default zstd (level 0 = zstd's default)
    assert VariableEncoding.from_attrs({}, np.float16) == VariableEncoding("float16", None, "zstd", 0)


def test_encode_float16_rounds_once_and_refuses_overflow():
    x = np.float32([1.0001, 3.14159, -2.5e4, 6.0e4, np.nan])
    enc = VariableEncoding("float16", 7)
    got = enc.encode(x, "z500")
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got.astype(np.float32), bitround(x, 7))  # one rounding, exact cast
    with pytest.raises(StoreError, match="variable msl: values up to 101325 overflow float16"):
        VariableEncoding("float16").encode(np.float32([1.0, 101325.0]), "msl")
    with pytest.raises(StoreError, match="overflow float16"):  # 65500 rounds up to 65536 with 7 bits
        enc.encode(np.float32([65500.0]), "z500")
    assert VariableEncoding("float16").encode(np.float32([np.inf]), "x")[0] == np.inf  # already Inf: kept


def test_encoding_spec_per_variable_and_errors():
    spec = EncodingSpec(keepbits=10, keepbits_by_variable={"z500": 13, "u500": None})
    assert spec.for_variable("z500").keepbits == 13
    assert spec.for_variable("u500").keepbits is None
    assert spec.for_variable("v500").keepbits == 10
    assert json.loads(spec.to_json(["z500", "v500"]))["z500"]["keepbits"] == 13
    assert EncodingSpec(compressor="none", level=99).for_variable("a").level == 0
    for kwargs, needle in [
        ({"keepbits": 24}, "output.keepbits=24 must be an integer in 0..23"),
        ({"keepbits": -1}, "output.keepbits=-1"),
        ({"keepbits": True}, "output.keepbits=True"),
        ({"dtype": "float16", "keepbits": 11}, "0..10 (mantissa bits kept in float16)"),
        ({"keepbits_by_variable": {"t2m": 30}}, "output.keepbits_by_variable.t2m=30"),
        ({"dtype": "bfloat16"}, "output.keepbits=7"),
        ({"compressor": "lz4"}, "output.compressor='lz4'"),
        ({"compressor": "zstd", "level": 0}, "output.compression_level=0 must be an integer in 1..22"),
        ({"compressor": "blosc", "level": 12}, "1..9"),
    ]:
        with pytest.raises(ConfigError, match=needle.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
            EncodingSpec(**kwargs)
    with pytest.raises(ConfigError, match="names t2m, which is not stored"):
        EncodingSpec(keepbits_by_variable={"t2m": 5}).check_variables(["z500"])
    with pytest.raises(ConfigError, match="float16 cannot hold z300"):
        EncodingSpec(dtype="float16").check_variables(["z500", "z300"])
    EncodingSpec(dtype="float16").check_variables(["z500", "t850", "u10m", "z1000", "tcwv"])


def test_float16_overflow_reason():
    assert float16_overflow_reason("msl") and float16_overflow_reason("sp")
    assert float16_overflow_reason("z300") and float16_overflow_reason("z50")
    assert float16_overflow_reason("z500") is None and float16_overflow_reason("z1000") is None
    assert float16_overflow_reason("t2m") is None and float16_overflow_reason("q50") is None


def test_config_keys_validate(tmp_path):
    from hens.config import compose_config, generate_spec

    spec = generate_spec(
        compose_config(
            "generate",
            ["output.keepbits=10", "output.keepbits_by_variable={z500: 13}", "output.compressor=blosc"],
        )
    )
    enc = spec.output.encoding()
    assert enc.for_variable("z500").keepbits == 13 and enc.for_variable("u500").keepbits == 10
    assert enc.compressor == "blosc" and spec.fingerprint_fields()["output"]["keepbits"] == 10
    lossless = generate_spec(compose_config("generate", []))
    assert set(lossless.fingerprint_fields()["output"]) == {"variables", "dtype", "lead_chunk"}
    for overrides, needle in [
        (["output.keepbits=30"], "output.keepbits=30 must be an integer in 0..23"),
        (["output.dtype=bfloat16"], "output.keepbits=7"),
        (["output.variables=[z500]", "output.keepbits_by_variable={t2m: 5}"], "names t2m, which is not stored"),
        (["output.variables=[z500,msl]", "output.dtype=float16"], "float16 cannot hold msl"),
        (["output.keepbits_by_variable=5"], "must be a map"),
        (["output.compressor=gzip"], "output.compressor='gzip'"),
    ]:
        with pytest.raises(ConfigError, match=needle.replace(".", r"\.").replace("(", r"\(")) as info:
            generate_spec(compose_config("generate", overrides))
        assert "\n" not in str(info.value)


def _layout(encoding: EncodingSpec | None, dtype: str = "float32", variables=("z500", "u500")) -> StoreLayout:
    return StoreLayout(
        variables=variables,
        init_times=np.array(["2000-01-01T00"], dtype="datetime64[ns]"),
        lead_times=(np.arange(4) * np.timedelta64(6, "h")).astype("timedelta64[ns]"),
        lat=np.linspace(90, -90, 9),
        lon=np.arange(16) * 22.5,
        member_coords={"sign": np.array([1, -1, 1, -1], dtype=np.int8)},
        batch_size=2,
        lead_chunk=2,
        dtype=dtype,
        attrs={"title": "t"},
        encoding=encoding,
    )


def _fields(seed: int = 0) -> np.ndarray:
    """Smooth-plus-noise geopotential-like values, [members=2, leads=2, 9, 16] float32."""
    rng = np.random.default_rng(seed)
    lat = np.linspace(90, -90, 9)[:, None]
    lon = np.arange(16)[None, :] * 22.5
    base = 5.4e4 + 4e3 * np.cos(np.deg2rad(lat)) * np.cos(np.deg2rad(2 * lon))
    return (base + 30 * rng.normal(size=(2, 2, 9, 16))).astype(np.float32)


@pytest.mark.parametrize(
    "spec",
    [
        EncodingSpec(keepbits=7, keepbits_by_variable={"u500": 13}, compressor="zstd", level=9),
        EncodingSpec(keepbits=10, compressor="blosc", level=5),
        EncodingSpec(compressor="none"),
        EncodingSpec(dtype="float16", keepbits=8),
    ],
)
def test_compressed_store_round_trips_within_the_bound(tmp_path, spec):
    path = tmp_path / "s.zarr"
    layout = _layout(spec, dtype=spec.dtype)
    create_store(path, layout)
    writer = StoreWriter(path, layout.variables)
    data = {"z500": _fields(0), "u500": (_fields(1) - 5.4e4) / 100}
    for name, block in data.items():
        writer.write_block(name, 0, slice(2, 4), slice(0, 2), block)
    ds = xr.open_zarr(path)
    recorded = json.loads(ds.attrs["hens_encoding"])
    for name, block in data.items():
        enc = spec.for_variable(name)
        stored = ds[name].values[0, 2:4, 0:2]
        assert ds[name].dtype == np.dtype(spec.dtype)
        bound = max_relative_error(enc.keepbits, enc.dtype)
        err = np.abs(stored.astype(np.float64) - block) / np.abs(block.astype(np.float64))
        assert err.max() <= bound
        if enc.keepbits is not None:  # exactly the pure function of the float32 values
            np.testing.assert_array_equal(stored, enc.encode(block, name))
            assert ds[name].attrs["hens_keepbits"] == enc.keepbits
        else:
            assert "hens_keepbits" not in ds[name].attrs
        assert ds[name].attrs["hens_compressor"] == spec.compressor
        assert ds[name].attrs["units"]  # CF attributes kept beside the encoding
        assert recorded[name] == {
            "dtype": spec.dtype,
            "keepbits": enc.keepbits,
            "compressor": spec.compressor,
            "level": enc.level,
        }
        assert np.isnan(ds[name].values[0, :2]).all()  # unwritten chunks stay NaN
    codecs = json.loads((path / "z500" / "zarr.json").read_text())["codecs"]
    names = [c["name"] for c in codecs]
    assert names == (["bytes"] if spec.compressor == "none" else ["bytes", spec.compressor])


def test_writer_rereads_encoding_from_the_store(tmp_path):
    """A second writer (another rank, a resumed run) applies the encoding the store was created with."""
    path = tmp_path / "s.zarr"
    create_store(path, _layout(EncodingSpec(keepbits=5)))
    writer = StoreWriter(path, ("z500", "u500"))
    assert writer.encodings["z500"] == VariableEncoding("float32", 5, "blosc", 5)
    block = _fields(3)
    writer.write_block("z500", 0, slice(0, 2), slice(2, 4), block)
    stored = xr.open_zarr(path)["z500"].values[0, 0:2, 2:4]
    np.testing.assert_array_equal(stored, bitround(block, 5))


def test_store_layout_refuses_float16_overflow_and_unknown_keepbits(tmp_path):
    with pytest.raises(ConfigError, match="float16 cannot hold msl"):
        _layout(EncodingSpec(dtype="float16"), dtype="float16", variables=("z500", "msl"))
    with pytest.raises(ConfigError, match="names t2m"):
        _layout(EncodingSpec(keepbits_by_variable={"t2m": 3}))
    with pytest.raises(ValueError, match="differs"):
        _layout(EncodingSpec(dtype="float16"), dtype="float32")
    # a channel not known to overflow but out of range at run time is refused at the write, not stored as Inf
    path = tmp_path / "s.zarr"
    create_store(path, _layout(EncodingSpec(dtype="float16"), dtype="float16", variables=("foo",)))
    writer = StoreWriter(path, ("foo",))
    with pytest.raises(StoreError, match="variable foo: values up to .* overflow float16"):
        writer.write_block("foo", 0, slice(0, 2), slice(0, 2), _fields(0) * 2)


@pytest.mark.e2e
def test_generate_with_bit_rounding_and_member_regenerated_alone(tmp_path, cache_dir):
    """End to end: the store records the encoding, values carry keepbits, and `hens member` gives the same bits."""
    from tests.helpers.cli import SMALL, run_hens

    out = tmp_path / "rounded.zarr"
    encoding = ["output.keepbits=9", "output.keepbits_by_variable={u500: null}", "output.compressor=blosc"]
    run_hens(["generate", *SMALL, *encoding, f"output.path={out}"], cache_dir)
    ds = xr.open_zarr(out)
    assert ds["z500"].attrs["hens_keepbits"] == 9 and "hens_keepbits" not in ds["u500"].attrs
    assert json.loads(ds.attrs["hens_encoding"])["v500"]["compressor"] == "blosc"
    z = ds["z500"].values
    assert np.isfinite(z).all() and (z.view(np.uint32) & np.uint32((1 << 14) - 1) == 0).all()
    member = tmp_path / "m5.nc"
    run_hens(
        ["member", "--init-time", "2000-01-16T00:00", "--member", "5", "--out", str(member), *SMALL, *encoding],
        cache_dir,
    )
    alone = xr.open_dataset(member)
    for name in ("z500", "u500", "v500"):
        np.testing.assert_array_equal(alone[name].values, ds[name].isel(init_time=1, member=5).values)
