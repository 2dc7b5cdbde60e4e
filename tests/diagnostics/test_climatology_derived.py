"""``climatology.derived``: `hens climatology` gives derived channels (10-m wind speed, IVT) percentiles and
quantiles like any channel, computed from the ERA5 channels (brute force here, float64, from the raw store)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from hens.config.climatology import climatology_spec
from hens.config.compose import compose_config
from hens.diagnostics.climatology_run import run_climatology
from hens.diagnostics.run import run_diagnose
from hens.diagnostics.verification.climatology import load_climatology
from hens.errors import ConfigError, HensError
from hens.io.zarr_open import open_zarr_quiet
from tests.helpers.era5 import G0, write_wb2_fixture
from tests.helpers.sink import CHANNELS, DERIVED, write_through_sink
from tests.helpers.stores import NLAT, NLON, diagnose_overrides, random_fields, write_truth

H, W = 5, 6
PCT = (90.0, 99.0)
VARIABLES = ("10m_u_component_of_wind", "10m_v_component_of_wind", "2m_temperature", "specific_humidity",
             "u_component_of_wind", "v_component_of_wind")  # fmt: skip


@pytest.fixture(scope="module")
def era5(tmp_path_factory):
    """Three weeks of 6-hourly WB2 ERA5 with noise on top of the analytic fields (percentiles differ by point)."""
    path = tmp_path_factory.mktemp("clim_derived") / "era5.zarr"
    times = np.arange(np.datetime64("2001-03-01"), np.datetime64("2001-03-22"), np.timedelta64(6, "h"))
    write_wb2_fixture(path, times=times.astype("datetime64[ns]"), lat_n=H, lon_n=W, variables=VARIABLES,
                      levels=(500, 850))  # fmt: skip
    ds = xr.open_zarr(path)
    rng = np.random.default_rng(4)
    for name in ds.data_vars:
        scale = 1e-3 if name == "specific_humidity" else 2.0
        noisy = np.abs(ds[name].values + rng.normal(0.0, scale, ds[name].shape)).astype(np.float32)
        xr.Dataset({name: ds[name].copy(data=noisy)}).to_zarr(path, mode="r+")
    return path


def _spec(era5, out, *extra: str, percentiles=PCT):
    return climatology_spec(compose_config("climatology", [
        f"climatology.path={era5}", "climatology.start=2001", "climatology.end=2001", f"climatology.output={out}",
        "climatology.by_month=false", "climatology.by_hour=false",
        f"climatology.percentiles=[{','.join(map(str, percentiles))}]", "climatology.n_quantiles=5",
        "climatology.scheduler=synchronous", "progress=false", *extra,
    ]))  # fmt: skip


def test_derived_channels_get_the_percentiles_of_the_formula_applied_to_era5(tmp_path, era5):
    out = tmp_path / "clim.zarr"
    spec = _spec(era5, out, "climatology.variables=[t2m]", "climatology.derived=[wind_speed_10m,ivt]")
    result = run_climatology(spec)
    assert result.variables == ("t2m", "ivt", "wind_speed_10m")  # the inputs are read, not kept
    raw = xr.open_zarr(era5).sortby("latitude", ascending=False).load()
    lat = raw["latitude"].values.astype(np.float64)
    lon = raw["longitude"].values.astype(np.float64)
    clim = load_climatology(out, ["t2m", "ivt", "wind_speed_10m"], lat, lon).load()
    f = {k: raw[k].values.astype(np.float64) for k in VARIABLES}
    speed = np.sqrt(f["10m_u_component_of_wind"] ** 2 + f["10m_v_component_of_wind"] ** 2)
    lvl = list(raw["level"].values)
    i5, i8 = lvl.index(500), lvl.index(850)
    q, u, v = f["specific_humidity"], f["u_component_of_wind"], f["v_component_of_wind"]
    dp = (850.0 - 500.0) * 100.0  # Pa; trapezoid over the two levels
    iu = 0.5 * dp * (q[:, i5] * u[:, i5] + q[:, i8] * u[:, i8])
    iv = 0.5 * dp * (q[:, i5] * v[:, i5] + q[:, i8] * v[:, i8])
    ivt = np.sqrt(iu**2 + iv**2) / G0
    for name, values in (("wind_speed_10m", speed), ("ivt", ivt)):
        got = clim[f"{name}_percentiles"].values.reshape(len(PCT), H, W)  # month 0 and hour −1: all pooled
        np.testing.assert_allclose(got, np.percentile(values, PCT, axis=0), rtol=1e-5)
        qs = clim[f"{name}_quantiles"].values.reshape(5, H, W)
        np.testing.assert_allclose(qs, np.quantile(values, np.linspace(0, 1, 5), axis=0), rtol=1e-5)


def test_missing_inputs_and_double_listing_are_one_line_errors(tmp_path, era5):
    with pytest.raises(HensError, match=r"^climatology.derived: derived channel heat_index needs .*ERA5 store lacks"):
        run_climatology(_spec(era5, tmp_path / "c.zarr", "climatology.derived=[heat_index]"))
    assert not (tmp_path / "c.zarr").exists()
    with pytest.raises(ConfigError, match="climatology.derived and climatology.variables both name ivt"):
        _spec(era5, tmp_path / "c.zarr", "climatology.variables=[ivt]", "climatology.derived=[ivt]")


def test_extremes_of_a_stored_derived_channel_equal_those_of_diagnose_derived(tmp_path):
    """With a climatology holding the derived channels (``climatology.derived``), `hens diagnose` scores extremes of
    a derived channel stored by ``output.derived`` exactly as those of the same channel computed by
    ``diagnose.derived`` from a store of its inputs."""
    times = np.arange(np.datetime64("2001-06-01"), np.datetime64("2001-08-01"), np.timedelta64(6, "h"))
    era5 = write_wb2_fixture(tmp_path / "era5.zarr", times=times.astype("datetime64[ns]"), lat_n=NLAT, lon_n=NLON,
                             variables=(*VARIABLES, "2m_dewpoint_temperature"), levels=(500, 850))  # fmt: skip
    clim = tmp_path / "clim.zarr"
    names = ",".join(DERIVED)
    run_climatology(_spec(era5, clim, "climatology.variables=[t2m]", f"climatology.derived=[{names}]",
                          percentiles=(95.0, 99.0)))  # fmt: skip
    fields, truth = random_fields(CHANNELS, n_members=4, seed=8)
    verification = write_truth(tmp_path / "truth.zarr", truth)
    with_derived = write_through_sink(tmp_path / "a.zarr", fields, CHANNELS, DERIVED)
    inputs_only = write_through_sink(tmp_path / "b.zarr", fields, CHANNELS, ())
    extremes = ("diagnose.extremes.enabled=true", f"diagnose.climatology.path={clim}")
    stored = run_diagnose(with_derived, diagnose_overrides(
        verification, f"diagnose.variables=[t2m,{names}]", f"diagnose.output_dir={tmp_path / 'a'}", *extremes))
    computed = run_diagnose(inputs_only, diagnose_overrides(
        verification, "diagnose.variables=[t2m]", f"diagnose.derived=[{names}]",
        f"diagnose.output_dir={tmp_path / 'b'}", *extremes))  # fmt: skip
    a, b = open_zarr_quiet(stored.scores).load(), open_zarr_quiet(computed.scores).load()
    assert a["variable"].values.tolist() == ["t2m", *DERIVED]
    assert sorted(a.data_vars) == sorted(b.data_vars) and len(a.data_vars) > 1
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    for extreme in ("brier_score", "roc_auc", "efi"):  # each derived channel's extremes were scored
        for name in DERIVED:
            assert np.isfinite(a[extreme].sel(variable=name).values).any(), (extreme, name)
