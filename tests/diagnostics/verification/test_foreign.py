"""Stores of other tools (earth2studio, WeatherBench2) diagnosed through the layout adapter give exactly the scores
of the same values written as a hens store; a store in no known layout is refused naming what it lacks."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import xarray as xr

from hens.diagnostics.run import run_diagnose
from hens.diagnostics.verification.foreign import adapt_store, detect_layout
from hens.diagnostics.verification.store import open_store
from hens.errors import StoreError
from hens.io.zarr_open import open_zarr_quiet, quiet_zarr
from tests.helpers.stores import (
    INITS,
    LAT,
    LEADS,
    LON,
    diagnose_overrides,
    random_fields,
    write_hens_store,
    write_truth,
)

CHANNELS = ("t2m", "u10m", "v10m", "z500", "z850", "u500", "u850")


def _earth2studio(path, fields):
    """dims (ensemble, time, lead_time, lat, lon), channel names, Zarr v2 (as earth2studio writes with zarr 2)."""
    ds = xr.Dataset(
        {v: (("ensemble", "time", "lead_time", "lat", "lon"), a.transpose(1, 0, 2, 3, 4)) for v, a in fields.items()},
        coords={"ensemble": np.arange(4), "time": INITS, "lead_time": LEADS, "lat": LAT, "lon": LON},
    )
    with quiet_zarr():
        ds.chunk({"ensemble": 1, "lead_time": 1}).to_zarr(path, mode="w", zarr_format=2)
    return path


def _wb2(path, fields):
    """dims (time, prediction_timedelta, number, [level], latitude, longitude), ERA5 long names, latitudes ascending,
    members numbered from 1, one variable without a hens channel."""

    def surface(channel):  # hens [init, member, lead, lat, lon] → WB2 [time, lead, number, latitude ↑, longitude]
        return fields[channel].transpose(0, 2, 1, 3, 4)[..., ::-1, :]

    dims = ("time", "prediction_timedelta", "number", "latitude", "longitude")
    upper = (*dims[:3], "level", *dims[3:])
    ds = xr.Dataset(
        {
            "2m_temperature": (dims, surface("t2m")),
            "10m_u_component_of_wind": (dims, surface("u10m")),
            "10m_v_component_of_wind": (dims, surface("v10m")),
            "geopotential": (upper, np.stack([surface("z500"), surface("z850")], axis=3)),
            "u_component_of_wind": (upper, np.stack([surface("u500"), surface("u850")], axis=3)),
            "total_precipitation_6hr": (dims, np.zeros_like(surface("t2m"))),
        },
        coords={
            "time": INITS, "prediction_timedelta": LEADS, "number": np.arange(1, 5), "level": [500, 850],
            "latitude": LAT[::-1], "longitude": LON,
        },
    )  # fmt: skip
    with quiet_zarr():
        ds.chunk({"time": 1, "prediction_timedelta": 1}).to_zarr(path, mode="w", zarr_format=3, consolidated=False)
    return path


WRITERS = {"earth2studio": _earth2studio, "wb2": _wb2}
TILES = ((), ("diagnose.chunks.lat=3",))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The fields, the verification, and the scores of the same values as a hens store."""
    root = tmp_path_factory.mktemp("foreign")
    fields, truth = random_fields(CHANNELS, n_members=4, seed=5)
    verification = write_truth(root / "truth.zarr", truth)
    store = write_hens_store(root / "hens.zarr", fields)
    extra = (f"diagnose.variables=[{','.join(CHANNELS)}]", "diagnose.derived=[wind_speed_10m]")
    scores = {}
    for k, tiles in enumerate(TILES):  # tiles change the order of sums: compare like with like
        result = run_diagnose(
            store, diagnose_overrides(verification, *extra, *tiles, f"diagnose.output_dir={root / str(k)}")
        )
        scores[tiles] = open_zarr_quiet(result.scores).load()
    return root, fields, verification, scores, extra


@pytest.mark.parametrize("layout", sorted(WRITERS))
@pytest.mark.parametrize("tiles", TILES)
def test_foreign_store_scores_equal_the_hens_store_scores(reference, layout, tiles, tmp_path, caplog):
    root, fields, verification, scores, extra = reference
    want = scores[tiles]
    store = WRITERS[layout](tmp_path / f"{layout}.zarr", fields)
    with caplog.at_level(logging.INFO, logger="hens.diagnose"):
        result = run_diagnose(store, diagnose_overrides(verification, *extra, *tiles))
    assert any("has no hens manifest" in r.getMessage() and str(store) in r.getMessage() for r in caplog.records)
    got = open_zarr_quiet(result.scores).load()
    assert got["variable"].values.tolist() == [*CHANNELS, "wind_speed_10m"]
    np.testing.assert_array_equal(got["scores"].values, want["scores"].values)
    np.testing.assert_array_equal(got["rank_histogram"].values, want["rank_histogram"].values)


def test_adapter_maps_names_dims_and_latitude_order(reference, tmp_path):
    _, fields, *_ = reference
    ds = open_store(_wb2(tmp_path / "w.zarr", fields))
    assert sorted(ds.data_vars) == sorted(CHANNELS)  # total_precipitation_6hr has no channel: left out
    assert ds["z850"].dims == ("init_time", "member", "lead_time", "lat", "lon")
    assert ds["member"].values.tolist() == [1, 2, 3, 4] and ds["lat"].values[0] == 90.0
    np.testing.assert_array_equal(ds["z850"].values, fields["z850"])
    assert detect_layout(xr.Dataset(coords={"x": [0]})) is None


def test_store_in_no_known_layout_names_what_it_lacks(tmp_path):
    ds = xr.Dataset(
        {"t2m": (("time", "prediction_timedelta", "latitude", "longitude"), np.zeros((1, 2, 3, 4)))},
        coords={"time": INITS[:1], "prediction_timedelta": LEADS[:2]},
    )
    with pytest.raises(StoreError, match=r"is not a WeatherBench2 forecast either: it lacks a member dim") as err:
        adapt_store(ds, tmp_path / "x.zarr")
    assert "\n" not in str(err.value)
    e2s = xr.Dataset({"t2m": (("time", "lead_time", "lat", "lon"), np.zeros((1, 2, 3, 4)))})
    with pytest.raises(StoreError, match=r"not an earth2studio ensemble store either: it lacks ensemble"):
        adapt_store(e2s, tmp_path / "y.zarr")
