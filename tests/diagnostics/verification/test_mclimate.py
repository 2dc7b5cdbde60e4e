"""The M-climate from hindcast stores written with hens' own store writer: quantiles per lead day of daily
aggregates pooled over members and the start dates of each centre's window, against a float64 brute force;
blocking (latitude bands) does not change it; errors name the key; the CLI route writes the same Zarr."""

from __future__ import annotations

import numpy as np
import pytest

from hens.config import compose_config
from hens.config.mclimate import mclimate_spec
from hens.diagnostics.mclimate_run import run_mclimate
from hens.diagnostics.verification.mclimate import centre_index, day_of_year, load_mclimate, window_members
from hens.errors import ConfigError, HensError
from hens.io.store import StoreLayout, StoreWriter, create_store
from hens.io.zarr_open import open_zarr_quiet

NLAT, NLON, M, NLEAD = 4, 6, 3, 9  # leads 0 … 48 h every 6 h: lead days 1 and 2


def _store(path, dates, seed, variables=("z500", "x")):
    inits = np.array(dates, dtype="datetime64[ns]")
    layout = StoreLayout(
        variables=tuple(variables),
        init_times=inits,
        lead_times=(np.arange(NLEAD) * np.timedelta64(6, "h")).astype("timedelta64[ns]"),
        lat=np.linspace(60.0, -60.0, NLAT),
        lon=np.arange(NLON) * 60.0,
        member_coords={"checkpoint": np.array(["c"] * M, dtype=object)},
        batch_size=M,
        lead_chunk=NLEAD,
    )
    create_store(path, layout)
    writer = StoreWriter(path, tuple(variables))
    rng = np.random.default_rng(seed)
    values = {}
    for i in range(inits.size):
        for v in variables:
            block = rng.normal(loc=5.0 * i, size=(M, NLEAD, NLAT, NLON)).astype("f4")
            writer.write_block(v, i, slice(0, M), slice(0, NLEAD), block)
            values[(str(inits[i]), v)] = block
        writer.write_nonfinite(i, slice(0, M), np.full(M, -1))
    return path, values


def _spec(patterns, output, *extra):
    listed = "[" + ",".join(f"'{p}'" for p in patterns) + "]"
    return mclimate_spec(
        compose_config(
            "mclimate", [f"mclimate.hindcasts={listed}", f"mclimate.output={output}", "progress=false", *extra]
        )
    )


def _bruteforce(values, var, pooled_dates, day, how):
    pos = {1: [1, 2, 3, 4], 2: [5, 6, 7, 8]}[day]
    fn = {"mean": np.mean, "max": np.max, "min": np.min}[how]
    sample = np.concatenate([fn(values[(d, var)][:, pos].astype(np.float64), axis=1) for d in pooled_dates])
    return np.quantile(sample, np.linspace(0, 1, 101), axis=0)


@pytest.fixture
def hindcasts(tmp_path):
    a, va = _store(tmp_path / "h2001.zarr", ["2001-07-01T00", "2001-07-20T00"], seed=1)
    b, vb = _store(tmp_path / "h2002.zarr", ["2002-07-05T00", "2002-09-01T00"], seed=2)
    return tmp_path, {**va, **vb}


def test_mclimate_equals_pooled_quantiles_by_lead_day(hindcasts):
    tmp, values = hindcasts
    spec = _spec(
        [tmp / "h*.zarr"],
        tmp / "mc.zarr",
        "mclimate.centres=[07-03,09-01]",
        "mclimate.window_days=10",
        "mclimate.aggregates=[mean,max]",
    )
    result = run_mclimate(spec)
    assert result.n_start_dates == 4 and result.n_members == M
    mc = open_zarr_quiet(tmp / "mc.zarr", consolidated=None)
    assert mc.attrs["kind"] == "mclimate" and mc.attrs["window_days"] == 10
    assert list(mc["lead_day"].values) == [1, 2] and list(mc["centre"].values) == ["07-03", "09-01"]
    assert list(mc["n_start_dates"].values) == [2, 1]  # 07-20 is 17 days from 07-03: outside ±10
    windows = {
        "07-03": ["2001-07-01T00:00:00.000000000", "2002-07-05T00:00:00.000000000"],
        "09-01": ["2002-09-01T00:00:00.000000000"],
    }
    for var in ("z500", "x"):
        for how in ("mean", "max"):
            for c, dates in windows.items():
                for day in (1, 2):
                    got = mc[f"{var}_mclimate"].sel(aggregate=how, centre=c, lead_day=day).values
                    want = _bruteforce(values, var, dates, day, how)
                    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-5)


def test_banding_does_not_change_the_mclimate(hindcasts):
    tmp, _ = hindcasts
    run_mclimate(_spec([tmp / "h2001.zarr", tmp / "h2002.zarr"], tmp / "one.zarr"))
    # a budget of about 1.5 latitude rows per task (5,184 bytes a row): 4 bands
    run_mclimate(_spec([tmp / "h*.zarr"], tmp / "banded.zarr", "mclimate.memory_gb=0.0000075"))
    one = open_zarr_quiet(tmp / "one.zarr", consolidated=None)
    banded = open_zarr_quiet(tmp / "banded.zarr", consolidated=None)
    assert banded["z500_mclimate"].encoding["chunks"][-2] < NLAT
    np.testing.assert_array_equal(one["z500_mclimate"].values, banded["z500_mclimate"].values)
    # default centres: every calendar day of a start date, window ±15 days
    assert list(one["centre"].values) == ["07-01", "07-05", "07-20", "09-01"]
    assert list(one["n_start_dates"].values) == [2, 3, 2, 1]  # 07-01 ↔ 07-20: 19 days apart


def test_centre_lookup_and_errors(hindcasts, tmp_path):
    tmp, _ = hindcasts
    run_mclimate(_spec([tmp / "h*.zarr"], tmp / "mc.zarr", "mclimate.centres=[07-03]", "mclimate.window_days=10"))
    mc = load_mclimate(tmp / "mc.zarr", ["z500"], np.linspace(60.0, -60.0, NLAT), np.arange(NLON) * 60.0)
    assert centre_index(mc, np.array(["2023-07-12T00", "2023-06-25T00"], dtype="datetime64[ns]")).tolist() == [0, 0]
    with pytest.raises(HensError, match="no centre within 10 days of the start date 2023-08-01"):
        centre_index(mc, np.array(["2023-08-01T00"], dtype="datetime64[ns]"))
    with pytest.raises(HensError, match="lacks t2m_mclimate"):
        load_mclimate(tmp / "mc.zarr", ["t2m"], mc["lat"].values, mc["lon"].values)
    with pytest.raises(HensError, match="another grid"):
        load_mclimate(tmp / "mc.zarr", ["z500"], mc["lat"].values + 1.0, mc["lon"].values)
    with pytest.raises(HensError, match="exists"):
        run_mclimate(_spec([tmp / "h*.zarr"], tmp / "mc.zarr"))
    with pytest.raises(HensError, match="no hindcast start date within 15 days of 12-25"):
        run_mclimate(_spec([tmp / "h*.zarr"], tmp / "x.zarr", "mclimate.centres=[12-25]"))
    assert not (tmp / "x.zarr").exists() and not (tmp / "x.zarr.partial").exists()
    with pytest.raises(HensError, match="mclimate.variables: t2m"):
        run_mclimate(_spec([tmp / "h*.zarr"], tmp / "x.zarr", "mclimate.variables=[t2m]"))
    with pytest.raises(ConfigError, match="MM-DD"):
        _spec([tmp / "h*.zarr"], tmp / "x.zarr", "mclimate.centres=[7-3]")


def test_day_of_year_and_windows_wrap_the_year():
    doy = day_of_year(np.array(["2001-01-01", "2004-02-29", "2003-12-31"], dtype="datetime64[ns]"))
    assert doy.tolist() == [1, 59, 365]
    assert day_of_year(np.array(["12-31", "01-01"])).tolist() == [365, 1]
    pooled = window_members(np.array([1, 360, 180]), np.array([365]), 5)
    assert pooled.tolist() == [[True, True, False]]


def test_cli_from_hindcasts_writes_the_same_mclimate(hindcasts):
    from typer.testing import CliRunner

    from hens.cli import app

    tmp, _ = hindcasts
    run_mclimate(_spec([tmp / "h*.zarr"], tmp / "api.zarr"))
    out = CliRunner().invoke(
        app,
        [
            "climatology",
            "--from-hindcasts",
            str(tmp / "h*.zarr"),
            f"mclimate.output={tmp / 'cli.zarr'}",
            "progress=false",
        ],
    )
    assert out.exit_code == 0, out.output
    assert "M-climate of 2 channel(s) from 4 start dates × 3 members" in out.output
    api = open_zarr_quiet(tmp / "api.zarr", consolidated=None)
    cli = open_zarr_quiet(tmp / "cli.zarr", consolidated=None)
    np.testing.assert_array_equal(api["x_mclimate"].values, cli["x_mclimate"].values)
    bad = CliRunner().invoke(
        app, ["climatology", "--from-hindcasts", str(tmp / "none*.zarr"), "mclimate.output=o.zarr"]
    )
    assert bad.exit_code == 2 and "matches no path" in bad.output
