"""The paired-bootstrap CRPSS of the comparison with a baseline."""

import numpy as np
import pandas as pd
import xarray as xr

from hens.diagnostics.aggregate.bootstrap import resample_counts
from hens.diagnostics.report.compare import crpss_interval


def _ds(crps_units: np.ndarray, weight: np.ndarray) -> xr.Dataset:
    """Scores with ``unit_statistics`` (unit, statistic, variable, lead_time, region) from per-unit sums."""
    n_unit, n_lead = crps_units.shape
    data = np.stack([weight, crps_units], axis=1)[:, :, None, :, None]
    return xr.Dataset(
        {"unit_statistics": (("unit", "statistic", "variable", "lead_time", "region"), data)},
        coords={
            "unit": np.arange(n_unit),
            "statistic": ["weight", "crps"],
            "variable": ["z500"],
            "lead_time": pd.to_timedelta(np.arange(n_lead) * 24, unit="h").values,
            "region": ["global"],
        },
        attrs={"bootstrap_n_resamples": 400, "bootstrap_confidence": 0.8, "bootstrap_seed": 3},
    )


def test_paired_crpss_interval_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    w = rng.uniform(1, 2, size=(6, 3))
    a = w * rng.gamma(3.0, size=(6, 3))
    b = a * rng.uniform(1.1, 1.4, size=(6, 3))  # the baseline is worse on every unit
    got = crpss_interval(_ds(a, w), _ds(b, w), "z500", "global")
    counts = resample_counts(6, 400, 3)
    values = np.empty((400, 3))
    for k in range(400):
        sa = sb = sw = 0.0
        for u in range(6):
            sa, sb, sw = sa + counts[k, u] * a[u], sb + counts[k, u] * b[u], sw + counts[k, u] * w[u]
        values[k] = 1.0 - (sa / sw) / (sb / sw)
    np.testing.assert_allclose(got, np.percentile(values, [10, 90], axis=0), rtol=1e-12)
    assert np.all(got[0] > 0)  # paired: every unit favours the main ensemble, so the whole band is above 0
    same = crpss_interval(_ds(a, w), _ds(a, w), "z500", "global")
    np.testing.assert_allclose(same, 0.0, atol=1e-15)
    assert np.all(np.isnan(crpss_interval(_ds(a, w), _ds(a[:5], w[:5]), "z500", "global")))  # other units
