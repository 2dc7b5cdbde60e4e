"""Spectra per start date: the pooled spectra and ratios against a direct computation, the bands against brute-force
resampling in float64 loops, and the "physically realistic" verdict on the interval."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from hens.diagnostics.aggregate.fields import spectra_lazy
from hens.diagnostics.aggregate.intervals import BootstrapSettings
from hens.diagnostics.aggregate.spectra_intervals import add_spectra, spectra_variables
from hens.diagnostics.metrics.spectra import angular_power_spectrum
from hens.diagnostics.report.verdicts import realistic, verdicts

NLAT, NLON = 9, 16
VARIABLES = ["a", "b"]  # any names: nothing here depends on the demo world's channels


def _fields(n_init: int, seed: int = 0, m: int = 4, n_lead: int = 3) -> tuple[xr.DataArray, xr.DataArray]:
    """Random forecasts whose small-scale power differs by start date (so the dates disagree), and a truth."""
    rng = np.random.default_rng(seed)
    lat = np.linspace(90.0, -90.0, NLAT)
    coords = {
        "init_time": np.arange(n_init),
        "member": np.arange(m),
        "lead_time": np.arange(n_lead),
        "lat": lat,
        "lon": np.arange(NLON) * 360.0 / NLON,
    }
    scale = rng.uniform(0.5, 2.0, size=(n_init, 1, 1, 1, 1))
    fc = rng.normal(size=(n_init, m, n_lead, NLAT, NLON)) * scale
    obs = rng.normal(size=(n_init, n_lead, NLAT, NLON))
    fc_da = xr.DataArray(fc, dims=tuple(coords), coords=coords).chunk({"member": 2})
    obs_da = xr.DataArray(
        obs,
        dims=("init_time", "lead_time", "lat", "lon"),
        coords={k: coords[k] for k in ("init_time", "lead_time", "lat", "lon")},
    )
    return fc_da, obs_da


def _per_date(n_init: int) -> tuple[dict[str, xr.DataArray], dict[str, tuple[np.ndarray, np.ndarray]]]:
    per_date, raw = {}, {}
    for k, var in enumerate(VARIABLES):
        fc, obs = _fields(n_init, seed=k)
        per_date[var] = spectra_lazy(fc, obs).compute()
        raw[var] = (fc.values, obs.values)
    return per_date, raw


def _brute_small_scale(members: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Geometric mean of members/truth over the degrees l ≥ n/2, lead by lead, in plain Python."""
    n_lead, n_deg = members.shape
    out = np.empty(n_lead)
    for t in range(n_lead):
        logs = [math.log(members[t, l] / truth[t, l]) for l in range(n_deg // 2, n_deg)]
        out[t] = math.exp(sum(logs) / len(logs))
    return out


def test_pooled_spectra_and_ratios_equal_the_direct_computation() -> None:
    per_date, raw = _per_date(n_init=3)
    data, attrs = spectra_variables(per_date, VARIABLES, BootstrapSettings(n_resamples=50))
    lat = np.linspace(90.0, -90.0, NLAT)
    for i, var in enumerate(VARIABLES):
        fc, obs = raw[var]
        members = angular_power_spectrum(fc, lat).mean(axis=(0, 1))  # over every (date, member) at once
        ens_mean = angular_power_spectrum(fc.mean(axis=1), lat).mean(axis=0)
        truth = angular_power_spectrum(obs, lat).mean(axis=0)
        np.testing.assert_allclose(data["power_spectrum"][1][:, i], np.stack([members, ens_mean, truth]), rtol=1e-12)
        np.testing.assert_allclose(data["power_ratio"][1][0, i], members / truth, rtol=1e-12)
        np.testing.assert_allclose(data["power_ratio"][1][1, i], ens_mean / truth, rtol=1e-12)
        np.testing.assert_allclose(
            data["small_scale_power_ratio"][1][i], _brute_small_scale(members, truth), rtol=1e-12
        )
    assert attrs["spectra_n_units"] == 3 and "start date (3 units" in attrs["spectra_bootstrap_unit"]
    assert "rough" in attrs["spectra_bootstrap_unit"]  # 3 < min_start_dates


def test_bands_match_brute_force_resampling_of_the_dates() -> None:
    n_init, n_resamples, seed = 5, 400, 7
    per_date, _ = _per_date(n_init)
    settings = BootstrapSettings(n_resamples=n_resamples, confidence=0.8, seed=seed, min_start_dates=5)
    data, attrs = spectra_variables(per_date, VARIABLES, settings)
    assert "rough" not in attrs["spectra_bootstrap_unit"]
    draws = np.random.default_rng(seed).integers(0, n_init, size=(n_resamples, n_init))  # the documented draws
    for i, var in enumerate(VARIABLES):
        spec = per_date[var].transpose("init_time", "spectrum", "lead_time", "degree").values
        ratios, small = [], []
        for b in range(n_resamples):
            total = np.zeros(spec.shape[1:])
            for u in draws[b]:
                total += spec[u]
            ratios.append(total[:2] / total[2:3])
            small.append(_brute_small_scale(total[0], total[2]))
        np.testing.assert_allclose(
            data["power_ratio_interval"][1][:, :, i], np.percentile(ratios, [10.0, 90.0], axis=0), rtol=1e-10
        )
        expected = np.percentile(small, [10.0, 90.0], axis=0)
        got = data["small_scale_power_ratio_interval"][1][:, i]
        np.testing.assert_allclose(got, expected, rtol=1e-10)
        assert np.all(got[0] < got[1])  # the dates disagree, so the band has width


def test_one_start_date_has_no_interval_and_the_verdict_is_undetermined() -> None:
    per_date, _ = _per_date(n_init=1)
    lead = pd.to_timedelta([0, 6, 12], unit="h").values
    base = xr.Dataset(coords={"variable": VARIABLES, "lead_time": lead})
    ds = add_spectra(base, per_date, VARIABLES, BootstrapSettings(n_resamples=20))
    assert np.isnan(ds["small_scale_power_ratio_interval"]).all() and np.isnan(ds["power_ratio_interval"]).all()
    assert np.isfinite(ds["small_scale_power_ratio"]).all()
    assert "one start date: no interval" in ds.attrs["spectra_bootstrap_unit"]
    value = float(ds["small_scale_power_ratio"].isel(variable=0, lead_time=-1))
    assert realistic(value, float("nan"), float("nan")) == "undetermined"


def test_realistic_verdict_on_the_interval() -> None:
    assert realistic(1.0, 0.8, 1.3) == "yes"
    assert realistic(1.4, 1.2, 1.6) == "undetermined" and realistic(0.7, 0.6, 0.7) == "undetermined"
    assert realistic(2.0, 1.6, 2.5) == "no" and realistic(0.5, 0.4, 0.6) == "no"
    assert realistic(float("nan"), float("nan"), float("nan")) == "n/a"


def _verdict_dataset(ratio: float, lo: float, hi: float) -> xr.Dataset:
    """A minimal scores dataset: one variable with its small-scale ratio and interval at the last lead."""
    lead = pd.to_timedelta([0, 24], unit="h").values
    metrics = ["rmse", "crps", "ssr", "outlier_fraction"]
    values = np.ones((4, 1, 2, 1))
    values[3] = 2.0 / 21
    return xr.Dataset(
        {
            "scores": (("metric", "variable", "lead_time", "region"), values),
            "small_scale_power_ratio": (("variable", "lead_time"), np.array([[1.0, ratio]])),
            "small_scale_power_ratio_interval": (
                ("bound", "variable", "lead_time"),
                np.array([[[1.0, lo]], [[1.0, hi]]]),
            ),
        },
        coords={"metric": metrics, "variable": ["x"], "lead_time": lead, "region": ["global"]},
        attrs={"n_members": 20, "n_init_times": 4, "spectra_bootstrap_unit": "start date (4 units)"},
    )


@pytest.mark.parametrize(
    ("ratio", "lo", "hi", "expected"),
    [(1.1, 0.9, 1.3, "yes"), (1.4, 1.1, 1.8, "undetermined"), (2.0, 1.7, 2.4, "no")],
)
def test_realism_line_uses_the_interval(ratio: float, lo: float, hi: float, expected: str) -> None:
    line = verdicts(_verdict_dataset(ratio, lo, hi))[1]
    assert line.startswith(f"physically realistic: {expected} ("), line
    assert f"{ratio:.2f} [{lo:.2f}, {hi:.2f}]" in line and "spectra unit: start date (4 units)" in line
