"""ERA5 readers: channel mapping, WeatherBench2 / ARCO-ERA5 layouts, errors, verification for `hens diagnose`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from hens.config import ICSpec
from hens.data.channels import channel_name, parse_channel
from hens.data.era5 import (
    G0,
    Era5Source,
    available_channels,
    detect_layout,
    era5_verification_dataset,
    open_era5_zarr,
)
from hens.data.sources import build_source
from hens.diagnostics.verification.truth import align_verification, open_verification
from hens.errors import ConfigError, HensError
from tests.helpers.era5 import (
    FULL37_LEVELS,
    analytic,
    store_bytes,
    write_arco_fixture,
    write_hens_fixture,
    write_wb2_fixture,
)

TIMES = (np.datetime64("2021-03-01T00:00", "ns") + np.arange(6) * np.timedelta64(6, "h")).astype("datetime64[ns]")
#: Channels both public layouts have (WB2 lacks 100 m winds, ARCO lacks relative humidity).
COMMON = ("u10m", "v10m", "t2m", "d2m", "sp", "msl", "tcwv", "z500", "t850", "q700", "u50", "v1000", "z1000")
HENS_LAT = np.linspace(90.0, -90.0, 19)
HENS_LON = np.arange(36) * 10.0


def expected(channels, times) -> np.ndarray:
    """The analytic fields on the hens grid (lat 90 → −90, lon 0 → 350), ``[T, C, 19, 36]``."""
    out = []
    for name in channels:
        spec = parse_channel(name)
        out.append(analytic(spec.variable, spec.level, times, HENS_LAT, HENS_LON))
    return np.stack(out, axis=1)


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("era5")
    levels = (50, 500, 700, 850, 1000)
    return {
        "wb2": write_wb2_fixture(root / "wb2.zarr", times=TIMES, levels=levels),
        "wb2_north_first": write_wb2_fixture(root / "wb2n.zarr", times=TIMES, levels=levels, lat_ascending=False),
        "wb2_lon_first_desc_levels": write_wb2_fixture(
            root / "wb2t.zarr", times=TIMES, levels=levels, lon_first=True, levels_descending=True
        ),
        "wb2_pm180": write_wb2_fixture(root / "wb2pm.zarr", times=TIMES, levels=levels, lon_convention="-180..180"),
        "arco": write_arco_fixture(root / "arco.zarr", times=TIMES, levels=levels),
        "arco_pm180": write_arco_fixture(root / "arcopm.zarr", times=TIMES, levels=levels, lon_convention="-180..180"),
    }


# ---------------------------------------------------------------------------------------------- channel mapping


def test_parse_channel_surface_and_levels():
    assert parse_channel("t2m").variable == "2m_temperature" and parse_channel("t2m").level is None
    assert parse_channel("u100m").variable == "100m_u_component_of_wind"
    assert parse_channel("tcwv").variable == "total_column_water_vapour"
    z = parse_channel("z500")
    assert (z.variable, z.level, z.units) == ("geopotential", 500, "m**2 s**-2")
    assert parse_channel("r850").variable == "relative_humidity" and parse_channel("r850").units == "%"
    assert parse_channel("q1000").level == 1000 and parse_channel("u10").level == 10
    assert channel_name("geopotential", 500) == "z500" and channel_name("2m_temperature") == "t2m"
    assert channel_name("vorticity", 500) is None


@pytest.mark.parametrize("bad", ["foo", "x500", "z", "z500hPa", "T2M", "z0"])
def test_parse_channel_rejects_unknown(bad):
    with pytest.raises(HensError, match="no ERA5 mapping"):
        parse_channel(bad)


# ---------------------------------------------------------------------------------------------- layouts


def test_detect_layout(stores, tmp_path):
    assert detect_layout(open_era5_zarr(stores["wb2"])) == "wb2"
    assert detect_layout(open_era5_zarr(stores["arco"])) == "arco"
    hens = write_hens_fixture(tmp_path / "h.zarr", times=TIMES, channels=["t2m"])
    assert detect_layout(open_era5_zarr(hens)) == "hens"
    # 37 levels without ARCO's attributes still reads as ARCO
    full = write_wb2_fixture(
        tmp_path / "f.zarr", times=TIMES[:1], lat_n=5, lon_n=8, levels=FULL37_LEVELS, variables=["temperature"]
    )
    assert detect_layout(open_era5_zarr(full)) == "arco"
    with pytest.raises(HensError, match="layout"):
        detect_layout(xr.Dataset({"a": (("time", "y", "x"), np.zeros((1, 2, 2)))}))


def test_fixtures_are_small(stores):
    for path in stores.values():
        assert store_bytes(path) < 2_000_000


@pytest.mark.parametrize(
    "name", ["wb2", "wb2_north_first", "wb2_lon_first_desc_levels", "wb2_pm180", "arco", "arco_pm180"]
)
def test_states_match_analytic_fields(stores, name):
    """Every layout gives hens-ordered arrays: lat flipped, lon rolled, levels picked by value, float32."""
    source = Era5Source(stores[name], COMMON)
    assert source.layout == ("arco" if name.startswith("arco") else "wb2")
    np.testing.assert_allclose(source.lat, HENS_LAT)
    np.testing.assert_allclose(source.lon, HENS_LON)
    times = TIMES[[3, 0, 3, 5]]  # unsorted, repeated
    states = source.states(times)
    assert states.dtype == np.float32 and states.shape == (4, len(COMMON), 19, 36)
    np.testing.assert_allclose(states, expected(COMMON, times), rtol=2e-6)


def test_both_layouts_give_identical_states(stores):
    wb2 = Era5Source(stores["wb2"], COMMON).states(TIMES)
    arco = Era5Source(stores["arco_pm180"], COMMON).states(TIMES)
    np.testing.assert_array_equal(wb2, arco)


def test_layout_specific_channels(stores):
    """WB2 has relative humidity (a fraction, read as %); ARCO has 100 m winds."""
    r = Era5Source(stores["wb2"], ["r500", "r850"])
    np.testing.assert_allclose(r.states(TIMES[:2]), expected(["r500", "r850"], TIMES[:2]), rtol=2e-6)
    assert "× 100" in r.describe()["conversions"]["r500"]
    w = Era5Source(stores["arco"], ["u100m", "v100m"])
    np.testing.assert_allclose(w.states(TIMES[:2]), expected(["u100m", "v100m"], TIMES[:2]), rtol=2e-6)


@pytest.mark.parametrize("variant", ["height_units", "geopotential_height"])
def test_geopotential_height_is_converted(tmp_path, variant):
    path = write_wb2_fixture(
        tmp_path / "gh.zarr",
        times=TIMES[:2],
        levels=(500, 850),
        geopotential=variant,
        variables=["geopotential", "temperature"],
    )
    source = Era5Source(path, ["z500", "z850", "t850"])
    np.testing.assert_allclose(source.states(TIMES[:2]), expected(["z500", "z850", "t850"], TIMES[:2]), rtol=2e-6)
    assert str(G0) in source.describe()["conversions"]["z500"]


def test_missing_channels_all_named_with_layout(stores):
    wanted = ["t2m", "u100m", "v100m", "z300", "foo", "z500"]
    with pytest.raises(HensError) as err:
        Era5Source(stores["wb2"], wanted)
    message = str(err.value)
    assert "\n" not in message and "layout wb2" in message
    for name in ("u100m (100m_u_component_of_wind)", "v100m", "z300 (geopotential at 300 hPa)", "foo (no ERA5"):
        assert name in message
    assert "t2m," not in message and "z500 (" not in message
    with pytest.raises(HensError, match=r"layout arco\) lacks channel\(s\) r500 \(relative_humidity\)"):
        Era5Source(stores["arco"], ["t2m", "r500"])


def test_missing_time_names_the_first(stores):
    source = Era5Source(stores["wb2"], ["t2m"])
    source.check_available(TIMES)
    late = TIMES[-1] + np.timedelta64(6, "h")
    with pytest.raises(HensError, match=r"no data at 2021-03-02T12:00 \(2 of 3 requested"):
        source.states(np.array([TIMES[0], late + np.timedelta64(6, "h"), late]))
    with pytest.raises(HensError, match="2021-03-01T01:00"):  # between the 6-hourly analyses
        source.check_available(np.array([TIMES[0] + np.timedelta64(1, "h")]))


def test_arco_valid_window_excludes_nan_tail(stores):
    """ARCO's time axis runs past valid_time_stop (NaN there): those times count as missing."""
    ds = open_era5_zarr(stores["arco"])
    assert ds.sizes["time"] > TIMES.size and np.isnan(ds["2m_temperature"].isel(time=-1).values).all()
    source = Era5Source(stores["arco"], ["t2m"])
    np.testing.assert_array_equal(source.available_times(), TIMES)
    tail = ds["time"].values[-1]
    with pytest.raises(HensError, match="no data at 2021-03-03T0"):
        source.check_available(np.array([tail]))


def test_describe_is_json(stores):
    info = Era5Source(stores["arco"], ["t2m", "z500"]).describe()
    blob = json.loads(json.dumps(info))
    assert blob["source"] == "era5" and blob["layout"] == "arco" and blob["fields"]["z500"] == "geopotential@500hPa"
    assert blob["times"] == ["2021-03-01T00:00", "2021-03-02T06:00"]


def test_all_channels_when_none_given(stores):
    source = Era5Source(stores["wb2"])
    assert {"t2m", "z500", "r850", "q1000", "u50"} <= set(source.channels)
    assert "u100m" not in source.channels
    assert available_channels(open_era5_zarr(stores["arco"]), "arco")[:2] == ("u10m", "v10m")


def test_hens_layout_source(tmp_path):
    path = write_hens_fixture(tmp_path / "h.zarr", times=TIMES, channels=["t2m", "z500"])
    source = Era5Source(path, ["z500", "t2m"], layout="auto")
    assert source.layout == "hens"
    np.testing.assert_allclose(source.states(TIMES[:2]), expected(["z500", "t2m"], TIMES[:2]), rtol=2e-6)


def test_build_source(stores):
    ic = ICSpec(source="era5", start_dates=(TIMES[2],), demo_world=None, path=str(stores["arco"]), layout="arco")
    source = build_source(ic, channels=COMMON)
    assert isinstance(source, Era5Source) and source.channels == COMMON
    with pytest.raises(ConfigError, match="ic.path"):
        build_source(ICSpec(source="era5", start_dates=(TIMES[2],), demo_world=None))
    with pytest.raises(HensError, match="ic.layout='nope'"):
        build_source(
            ICSpec(source="era5", start_dates=(TIMES[2],), demo_world=None, path=str(stores["arco"]), layout="nope")
        )


def test_generate_config_accepts_era5(stores):
    from hens.config import compose_config, generate_spec

    cfg = compose_config("generate", ["ic=era5", f"ic.path={stores['wb2']}", "ic.start_dates=[2021-03-01T12:00]"])
    spec = generate_spec(cfg)
    assert spec.ic.source == "era5" and spec.ic.layout == "auto" and spec.ic.path == str(stores["wb2"])
    with pytest.raises(ConfigError, match="ic.path is required"):
        generate_spec(compose_config("generate", ["ic=era5"]))


# ---------------------------------------------------------------------------------------------- verification


@pytest.mark.parametrize("name", ["wb2", "arco_pm180"])
def test_verification_dataset_equals_states(stores, name):
    truth = era5_verification_dataset(stores[name], COMMON, TIMES[[4, 1]])
    assert list(truth.data_vars) == list(COMMON)
    assert all(truth[c].dims == ("time", "lat", "lon") and truth[c].dtype == np.float32 for c in COMMON)
    import dask.array

    assert isinstance(truth["z500"].data, dask.array.Array)  # lazy
    np.testing.assert_array_equal(truth["time"].values, TIMES[[1, 4]])
    np.testing.assert_allclose(truth["lat"].values, HENS_LAT)
    np.testing.assert_allclose(truth["lon"].values, HENS_LON)
    states = Era5Source(stores[name], COMMON).states(TIMES[[1, 4]])
    stacked = np.stack([truth[c].values for c in COMMON], axis=1)
    np.testing.assert_array_equal(stacked, states)
    assert truth["z500"].attrs["units"] and truth.attrs["hens_era5_layout"] in ("wb2", "arco")


def test_verification_dataset_errors(stores):
    with pytest.raises(HensError, match="lacks channel"):
        era5_verification_dataset(stores["wb2"], ["t2m", "u100m"])
    with pytest.raises(HensError, match="no data at 2021-03-03T06:00"):
        era5_verification_dataset(stores["arco"], ["t2m"], np.array([np.datetime64("2021-03-03T06:00")]))


def _forecast(lat: np.ndarray, lon: np.ndarray, init: np.datetime64) -> xr.Dataset:
    lead = np.arange(3) * np.timedelta64(6, "h")
    data = np.zeros((1, 2, 3, lat.size, lon.size), dtype=np.float32)
    return xr.Dataset(
        {"t2m": (("init_time", "member", "lead_time", "lat", "lon"), data)},
        coords={
            "init_time": [init],
            "member": [0, 1],
            "lead_time": lead.astype("timedelta64[ns]"),
            "lat": lat,
            "lon": lon,
        },
    )


@pytest.mark.parametrize("name", ["wb2", "arco_pm180"])
def test_open_verification_with_era5_path(stores, name):
    """`hens diagnose` with diagnose.verification.path at a WB2 / ARCO store: aligned to the forecast grid."""
    fc = _forecast(HENS_LAT, HENS_LON, TIMES[0])
    valid = (fc["init_time"] + fc["lead_time"]).values
    truth = open_verification({}, valid, path=str(stores[name]), variables=["t2m", "z500"])
    obs = align_verification(truth[["t2m"]], fc)
    np.testing.assert_allclose(obs["t2m"].isel(init_time=0).values, expected(["t2m"], TIMES[:3])[:, 0], rtol=2e-6)
    with pytest.raises(HensError, match="diagnose.verification.path=.* lacks channel"):
        open_verification({}, valid, path=str(stores[name]), variables=["t2m", "foo"])


def test_open_verification_hens_layout_still_works(tmp_path, stores):
    path = write_hens_fixture(tmp_path / "h.zarr", times=TIMES, channels=["t2m"])
    fc = _forecast(HENS_LAT, HENS_LON, TIMES[0])
    truth = open_verification({}, (fc["init_time"] + fc["lead_time"]).values, path=str(path), variables=["t2m"])
    np.testing.assert_allclose(
        align_verification(truth, fc)["t2m"].isel(init_time=0).values, expected(["t2m"], TIMES[:3])[:, 0], rtol=2e-6
    )
    # an explicit layout is honoured
    truth = open_verification({}, TIMES, path=str(stores["wb2"]), variables=["t2m"], layout="wb2")
    assert truth.attrs["hens_era5_layout"] == "wb2"


def _corrupt_time_chunks(store: Path, time_index: int) -> int:
    """Overwrite every data chunk file of time step ``time_index`` (v2 ``var/i.j.k`` or v3 ``var/c/i/j/k``)."""
    count = 0
    for f in store.rglob("*"):
        if not f.is_file() or f.name.startswith((".", "zarr.json")) or f.parent.name in ("time",):
            continue
        parts = f.relative_to(store).parts
        key = parts[2:] if len(parts) > 2 and parts[1] == "c" else tuple(parts[-1].split("."))
        if len(key) >= 3 and key[0] == str(time_index):
            f.write_bytes(b"not a chunk")
            count += 1
    return count


@pytest.mark.parametrize("writer", [write_wb2_fixture, write_arco_fixture])
def test_states_read_only_the_requested_times(tmp_path, writer):
    """Chunks of other time steps are never read (they are corrupted here and reading them would fail)."""
    path = writer(tmp_path / "s.zarr", times=TIMES, levels=(500, 850))
    assert _corrupt_time_chunks(path, 5) >= 5
    source = Era5Source(path, ["t2m", "z500", "t850"])
    np.testing.assert_allclose(source.states(TIMES[:2]), expected(["t2m", "z500", "t850"], TIMES[:2]), rtol=2e-6)
    truth = era5_verification_dataset(path, ["t2m", "z500"], TIMES[1:3])
    np.testing.assert_allclose(truth["z500"].values, expected(["z500"], TIMES[1:3])[:, 0], rtol=2e-6)
    with pytest.raises(Exception):  # noqa: B017 - the corrupted chunk itself
        source.states(TIMES[5:])


def test_open_verification_missing_valid_time(stores):
    late = np.array([TIMES[-1] + np.timedelta64(6, "h")])
    with pytest.raises(HensError, match=r"diagnose.verification.path=.* has no data at 2021-03-02T12:00"):
        open_verification({}, late, path=str(stores["wb2"]), variables=["t2m"])


def test_open_verification_defaults_to_the_initial_condition_store(stores):
    """A store generated from ERA5 names it in hens_initial_conditions; diagnose then verifies against it."""
    info = Era5Source(stores["arco"], ["t2m", "z500"]).describe()
    attrs = {"hens_initial_conditions": json.dumps(info)}
    truth = open_verification(attrs, TIMES[:2], variables=["z500"])
    np.testing.assert_allclose(truth["z500"].values, expected(["z500"], TIMES[:2])[:, 0], rtol=2e-6)
    with pytest.raises(HensError, match="not made from the demo world"):
        open_verification({}, TIMES[:2], variables=["z500"])


def test_full_37_levels_selected_by_value(tmp_path):
    path = write_arco_fixture(tmp_path / "a37.zarr", times=TIMES[:2], levels=FULL37_LEVELS, variables=["temperature"])
    assert store_bytes(path) < 2_000_000
    source = Era5Source(path, ["t1", "t775", "t1000"])
    np.testing.assert_allclose(source.states(TIMES[:2]), expected(["t1", "t775", "t1000"], TIMES[:2]), rtol=2e-6)


def test_unexpected_dims_and_missing_reported_together(stores):
    """A forecast-like store (extra prediction_timedelta dim) is refused, naming the variable and its dims."""
    ds = open_era5_zarr(stores["wb2"], dask=False)
    fc = ds[["2m_temperature"]].expand_dims(prediction_timedelta=[np.timedelta64(0, "h")], axis=1)
    with pytest.raises(HensError) as err:
        era5_verification_dataset(fc, ["t2m", "z500"], layout="wb2")
    message = str(err.value)
    assert "lacks channel(s) z500 (geopotential)" in message and "'prediction_timedelta'" in message


def test_nan_fields_are_refused(tmp_path):
    """Non-finite initial conditions (e.g. a NaN dew point) are an error naming the channel and time."""
    path = write_wb2_fixture(
        tmp_path / "nan.zarr", times=TIMES[:2], levels=(500,), variables=["2m_dewpoint_temperature", "2m_temperature"]
    )
    import zarr

    arr = zarr.open_array(str(path / "2m_dewpoint_temperature"), mode="r+")
    arr[1, 3, 4] = np.nan
    source = Era5Source(path, ["t2m", "d2m"])
    source.states(TIMES[:1])
    with pytest.raises(HensError, match=r"NaN/Inf in d2m \(first at 2021-03-01T06:00, d2m\)"):
        source.states(TIMES[:2])
