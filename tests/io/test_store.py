"""Background writer, manifest and store template."""

import json
import threading
import time

import numpy as np
import pytest
import xarray as xr

from hens.io.manifest import Manifest
from hens.io.store import NONFINITE, StoreLayout, StoreWriter, create_store
from hens.io.writer import BackgroundWriter


def test_writer_runs_in_order_in_background_and_reraises():
    seen = []
    main = threading.get_ident()
    with BackgroundWriter(max_pending=2) as writer:
        for i in range(5):
            writer.submit(lambda i=i: (time.sleep(0.01), seen.append((i, threading.get_ident()))))
        writer.flush()
    assert [i for i, _ in seen] == list(range(5))
    assert all(tid != main for _, tid in seen)

    writer = BackgroundWriter()
    writer.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        writer.flush()
    writer.close()


def test_writer_threads_run_concurrently_and_reraise_the_first_error():
    started, release = threading.Barrier(3, timeout=5), threading.Event()
    seen = []
    with BackgroundWriter(max_pending=1, threads=3) as writer:
        assert writer.n_threads == 3
        for i in range(3):  # all three must be in flight at once, or the barrier times out
            writer.submit(lambda i=i: (started.wait(), seen.append((i, threading.get_ident()))))
        writer.flush()
    assert sorted(i for i, _ in seen) == [0, 1, 2] and len({tid for _, tid in seen}) == 3

    writer = BackgroundWriter(max_pending=4, threads=2)
    writer.submit(lambda: 1 / 0)
    writer.submit(lambda: release.wait(1))
    with pytest.raises(ZeroDivisionError):
        writer.flush()
    writer.flush()  # the error was reported once
    writer.close()
    with pytest.raises(ValueError, match="threads"):
        BackgroundWriter(threads=0)


def test_default_writer_threads_from_the_cores():
    from hens.io.writer import default_writer_threads

    assert default_writer_threads(1, cores=2) == 1
    assert default_writer_threads(1, cores=1) == 1
    assert default_writer_threads(1, cores=4) == 3
    assert default_writer_threads(4, cores=64) == 8
    assert default_writer_threads(8, cores=32) == 3


def test_manifest_records(tmp_path):
    manifest = Manifest(tmp_path / "s.zarr")
    assert manifest.finished() == {} and manifest.read_run() is None
    manifest.write_run({"fingerprint": "abc"})
    manifest.mark_done("i00000-m000000", {"nonfinite": []})
    assert manifest.read_run() == {"fingerprint": "abc"}
    assert list(manifest.finished()) == ["i00000-m000000"]
    assert not list(manifest.root.rglob("*.tmp"))


def _layout():
    return StoreLayout(
        variables=("z500", "u500"),
        init_times=np.array(["2000-01-01T00", "2000-01-02T00"], dtype="datetime64[ns]"),
        lead_times=(np.arange(5) * np.timedelta64(6, "h")).astype("timedelta64[ns]"),
        lat=np.linspace(90, -90, 5),
        lon=np.arange(8) * 45.0,
        member_coords={
            "checkpoint": np.array(["a", "a", "b", "b"], dtype=object),
            "sign": np.array([1, -1, 1, -1], dtype=np.int8),
        },
        batch_size=2,
        lead_chunk=3,
        attrs={"title": "t"},
    )


def test_store_template_opens_with_xarray_and_region_writes(tmp_path):
    path = tmp_path / "s.zarr"
    create_store(path, _layout())
    Manifest(path).write_run({"fingerprint": "x"})
    ds = xr.open_zarr(path)
    assert ds["z500"].dims == ("init_time", "member", "lead_time", "lat", "lon")
    assert ds["z500"].attrs["standard_name"] == "geopotential" and ds["z500"].attrs["units"] == "m2 s-2"
    assert ds["lead_time"].dtype.kind == "m" and ds["init_time"].dtype.kind == "M"
    assert ds.lat.attrs["units"] == "degrees_north"
    assert list(ds.checkpoint.values) == ["a", "a", "b", "b"]
    assert np.isnan(ds["z500"].values).all()
    assert (ds[NONFINITE].values == -2).all()
    assert ds["z500"].encoding["chunks"] == (1, 2, 3, 5, 8)
    # default encoding: lossless float32, blosc (zstd + bit shuffle), recorded per variable and globally
    assert "lossless" in ds["z500"].attrs["hens_encoding"] and "hens_keepbits" not in ds["z500"].attrs
    assert json.loads(ds.attrs["hens_encoding"])["u500"] == {
        "dtype": "float32",
        "keepbits": None,
        "compressor": "blosc",
        "level": 5,
    }
    codecs = json.loads((path / "z500" / "zarr.json").read_text())["codecs"]
    assert [c["name"] for c in codecs] == ["bytes", "blosc"] and codecs[1]["configuration"]["shuffle"] == "bitshuffle"

    writer = StoreWriter(path, ("z500", "u500"))
    block = np.random.default_rng(0).normal(size=(2, 3, 5, 8)).astype(np.float32)
    writer.write_block("z500", 1, slice(2, 4), slice(0, 3), block)
    writer.write_nonfinite(1, slice(2, 4), np.array([-1, 2]))
    ds = xr.open_zarr(path)
    np.testing.assert_array_equal(ds["z500"].values[1, 2:4, 0:3], block)
    assert np.isnan(ds["z500"].values[0]).all()
    assert ds[NONFINITE].values.tolist() == [[-2, -2, -2, -2], [-2, -2, -1, 2]]


def test_prepare_store_never_deletes_foreign_data(tmp_path):
    from hens.errors import StoreError
    from hens.io.run_store import prepare_store

    foreign = tmp_path / "foreign.zarr"
    foreign.mkdir()
    (foreign / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group", "attributes": {}}')
    (foreign / "precious.txt").write_text("keep me")
    for overwrite in (False, True):
        with pytest.raises(StoreError, match="not a hens store"):
            prepare_store(foreign, _layout(), "fp", overwrite=overwrite)
    assert (foreign / "precious.txt").read_text() == "keep me"

    layout = _layout()
    layout.attrs["hens_fingerprint"] = "fp1"
    ours = tmp_path / "ours.zarr"
    assert prepare_store(ours, layout, "fp1", overwrite=False) == "created"
    assert prepare_store(ours, layout, "fp1", overwrite=False) == "resumed"
    with pytest.raises(StoreError, match="different configuration"):
        prepare_store(ours, layout, "fp2", overwrite=False)
    assert prepare_store(ours, layout, "fp2", overwrite=True) == "created"
    empty = tmp_path / "empty.zarr"
    empty.mkdir()
    assert prepare_store(empty, layout, "fp1", overwrite=False) == "created"
