"""`hens diagnose` with an M-climate: daily EFI and SOT maps per start date and lead day equal the metric functions
(and earthkit-meteo) applied by hand to the daily means and the M-climate of the start date's centre; the report
names the M-climate; errors name the key."""

from __future__ import annotations

import numpy as np
import pytest

from hens.config import compose_config
from hens.config.mclimate import mclimate_spec
from hens.diagnostics.mclimate_run import run_mclimate
from hens.diagnostics.metrics.extremes import efi, sot
from hens.diagnostics.run import run_diagnose
from hens.errors import HensError
from hens.io.zarr_open import open_zarr_quiet
from tests.diagnostics.test_run import _overrides, make_store


@pytest.fixture(scope="module")
def with_mclimate(tmp_path_factory):
    root = tmp_path_factory.mktemp("daily")
    store, truth, clim, fields = make_store(root, n_members=8, n_lead=9, mode="calibrated")  # leads 0 … 48 h
    hind_root = tmp_path_factory.mktemp("hind")
    hind, _, _, hind_fields = make_store(hind_root, n_members=6, n_lead=9, mode="calibrated", seed=7)
    overrides = [
        f"mclimate.hindcasts=['{hind}']",
        f"mclimate.output={root / 'mc.zarr'}",
        "progress=false",
        "mclimate.aggregates=[mean,max]",
        "mclimate.centres=[03-08]",
        "mclimate.window_days=10",
    ]
    run_mclimate(mclimate_spec(compose_config("mclimate", overrides)))
    extra = [
        f"diagnose.climatology.mclimate={root / 'mc.zarr'}",
        "diagnose.extremes.daily_aggregates=[mean,max]",
        "diagnose.spectral.enabled=false",
        f"diagnose.output_dir={root / 'out'}",
    ]
    result = run_diagnose(store, _overrides(truth, clim, *extra))
    return root, store, truth, clim, fields, result


def test_daily_efi_sot_equal_the_metrics_on_daily_aggregates(with_mclimate):
    ek = pytest.importorskip("earthkit.meteo.extreme")
    root, _, _, _, fields, result = with_mclimate
    ds = open_zarr_quiet(result.scores)
    mc = open_zarr_quiet(root / "mc.zarr", consolidated=None)
    assert ds["efi_daily"].dims == ("variable", "aggregate", "init_time", "lead_day", "lat", "lon")
    assert list(ds["lead_day"].values) == [1, 2] and sorted(ds["aggregate"].values) == ["max", "mean"]
    steps = {1: [1, 2, 3, 4], 2: [5, 6, 7, 8]}
    for var in ("z500", "u500"):
        for how, fn in (("mean", np.mean), ("max", np.max)):
            for i in range(2):  # both start dates (03-01, 03-15) use the one centre 03-08
                for day, pos in steps.items():
                    daily = fn(fields[var][i][:, pos].astype(np.float64), axis=1)  # [member, lat, lon]
                    q = mc[f"{var}_mclimate"].sel(aggregate=how, centre="03-08", lead_day=day).values
                    got = ds.sel(variable=var, aggregate=how, lead_day=day).isel(init_time=i)
                    np.testing.assert_allclose(got["efi_daily"].values, efi(q, daily), atol=1e-6)
                    np.testing.assert_allclose(got["efi_daily"].values, ek.efi(q, daily), atol=1e-6)
                    for name, p in (("sot_upper", 90), ("sot_lower", 10)):
                        want = ek.sot(q.astype(np.float64), daily, p)
                        np.testing.assert_allclose(got[name].values, want, atol=1e-5, equal_nan=True)
                        np.testing.assert_allclose(got[name].values, sot(q, daily, percentile=p), atol=1e-5)
    text = result.report.read_text()
    assert "M-climate of the daily EFI and SOT" in text and "efi_sot_daily.png" in {p.name for p in result.plots}


def test_daily_errors_name_the_key(with_mclimate):
    root, store, truth, clim, _, _ = with_mclimate
    base = [
        f"diagnose.climatology.mclimate={root / 'mc.zarr'}",
        "diagnose.spectral.enabled=false",
        f"diagnose.output_dir={root / 'err'}",
        "diagnose.overwrite=true",
    ]
    with pytest.raises(HensError, match="daily_aggregates: the M-climate .* has no daily min"):
        run_diagnose(store, _overrides(truth, clim, *base, "diagnose.extremes.daily_aggregates=[min]"))
    with pytest.raises(HensError, match="efi_lead_days: lead day 3"):
        run_diagnose(store, _overrides(truth, clim, *base, "diagnose.extremes.efi_lead_days=[3]"))
    with pytest.raises(HensError, match="diagnose.climatology.mclimate=.* does not exist"):
        run_diagnose(store, _overrides(truth, clim, *base[1:], f"diagnose.climatology.mclimate={root / 'no.zarr'}"))
