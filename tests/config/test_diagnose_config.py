"""The `diagnose` config: defaults compose and validate; every bad value is a one-line ConfigError naming the key."""

from __future__ import annotations

import math

import pytest

from hens.config import compose_config, diagnose_spec
from hens.errors import ConfigError


def spec(*overrides: str):
    return diagnose_spec(compose_config("diagnose", list(overrides)))


def test_defaults():
    s = spec()
    assert s.output_dir is None and s.format == "zarr" and s.variables is None and s.lead_hours is None
    assert [name for name, _ in s.regions] == ["global", "tropics", "northern_extratropics", "southern_extratropics"]
    assert s.extremes.percentiles == (95.0, 99.0) and s.extremes.roc_thresholds is None
    assert s.extremes.sigma_edges[0] == -math.inf and s.extremes.sigma_edges[-1] == math.inf
    assert (
        s.dask.scheduler == "threads"
        and s.progress is True
        and s.climatology.days == 90
        and s.climatology.source == "auto"
        and not s.climatology.pool_longitude
    )


def test_overrides_and_boxes():
    s = spec(
        "diagnose.variables=[z500]",
        "diagnose.lead_times=[24,120]",
        "diagnose.regions=[tropics]",
        "+diagnose.boxes.europe=[35,70,-10,40]",
        "diagnose.start_dates=['2000-03-01T00:00']",
        "diagnose.extremes.roc_thresholds=21",
        "diagnose.dask.scheduler=distributed",
        "progress=false",
    )
    assert s.variables == ("z500",) and s.lead_hours == (24.0, 120.0)
    assert s.regions == (("tropics", "tropics"), ("europe", (35.0, 70.0, -10.0, 40.0)))
    assert s.extremes.roc_thresholds == 21 and s.dask.scheduler == "distributed" and not s.progress
    assert str(s.start_dates[0]).startswith("2000-03-01T00:00")


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("diagnose.regions=[arctic]", "diagnose.regions"),
        ("+diagnose.boxes.b=[10,0,0,10]", "diagnose.boxes.b"),
        ("+diagnose.boxes.b=[10,20]", "diagnose.boxes.b"),
        ("diagnose.format=csv", "diagnose.format"),
        ("diagnose.dask.scheduler=mpi", "diagnose.dask.scheduler"),
        ("diagnose.extremes.percentiles=[95,100]", "diagnose.extremes.percentiles"),
        ("diagnose.extremes.sigma_edges=[1,0]", "diagnose.extremes.sigma_edges"),
        ("diagnose.extremes.roc_thresholds=1", "diagnose.extremes.roc_thresholds"),
        ("diagnose.lead_times=[-6]", "diagnose.lead_times"),
        ("diagnose.start_dates=[notadate]", "diagnose.start_dates"),
        ("diagnose.climatology.days=0", "diagnose.climatology.days"),
        ("diagnose.chunks.lat=0", "diagnose.chunks.lat"),
        ("diagnose.mean.tie_break=middle", "diagnose.mean.tie_break"),
        ("diagnose.seed=-1", "diagnose.seed"),
        ("diagnose.ensemble_size.sizes=[1,10]", "diagnose.ensemble_size.sizes"),
        ("diagnose.ensemble_size.draws=0", "diagnose.ensemble_size.draws"),
        ("diagnose.ensemble_size.crps_tolerance=-0.1", "diagnose.ensemble_size.crps_tolerance"),
        ("diagnose.ensemble_size.criterion=median", "diagnose.ensemble_size.criterion"),
        ("diagnose.ensemble_size.sigma_thresholds=[0]", "diagnose.ensemble_size.sigma_thresholds"),
        ("diagnose.no_such_key=1", "no_such_key"),
    ],
)
def test_bad_values_name_the_key(override, needle):
    with pytest.raises(ConfigError) as err:
        spec(override)
    message = str(err.value)
    assert needle in message and "\n" not in message


def test_ensemble_size_defaults_and_overrides():
    e = spec().ensemble_size
    assert e.enabled and e.sizes == (5, 10, 20, 50, 100, 500) and e.draws == 3 and e.seed == 0
    assert e.crps_tolerance == 0.05 and e.criterion == "ecdf" and e.sigma_thresholds == (3.0, 4.0)
    e = spec("diagnose.ensemble_size.sizes=[50,10,10]", "diagnose.ensemble_size.enabled=false").ensemble_size
    assert e.sizes == (10, 50) and not e.enabled
