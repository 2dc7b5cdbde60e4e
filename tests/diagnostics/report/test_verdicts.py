"""Verdicts from intervals: "yes" / "no" / "undetermined" when an interval straddles the threshold."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from hens.diagnostics.report.verdicts import both, decide, share_rule, verdicts


def test_decide_against_thresholds() -> None:
    assert decide(0.85, 1.1, 0.8, 1.2) == "yes"
    assert decide(0.7, 0.9, 0.8, 1.2) == "undetermined"
    assert decide(1.1, 1.3, 0.8, 1.2) == "undetermined"
    assert decide(0.5, 0.79, 0.8, 1.2) == "no" and decide(1.21, 2.0, 0.8, 1.2) == "no"
    assert decide(0.76, 0.9, low=0.75) == "yes" and decide(0.7, 0.8, low=0.75) == "undetermined"
    assert decide(0.6, 0.74, low=0.75) == "no" and decide(np.nan, 1.0, low=0.0) == "n/a"
    assert decide(1.0, 1.0, high=1.5) == "yes" and decide(1.6, 1.6, high=1.5) == "no"


def test_combinations() -> None:
    assert both("yes", "yes") == "yes" and both("yes", "no") == "no" and both("undetermined", "no") == "no"
    assert both("yes", "undetermined") == "undetermined" and both("yes", "n/a") == "n/a"
    assert share_rule(["yes"] * 3 + ["undetermined"], 0.75) == "yes"
    assert share_rule(["yes"] * 2 + ["undetermined"] * 2, 0.75) == "undetermined"
    assert share_rule(["yes", "no", "undetermined", "undetermined"], 0.75) == "undetermined"  # 3/4 possible
    assert share_rule(["yes", "no", "no", "undetermined"], 0.75) == "no"
    assert share_rule(["n/a"], 0.75) == "n/a"


def _scores(ssr: float, half_width: float, m: int = 20) -> xr.Dataset:
    """A minimal scores dataset: one variable, global, 4 lead times, SSR ``ssr`` ± ``half_width``."""
    lead = pd.to_timedelta([0, 24, 48, 72], unit="h").values
    metrics = ["rmse", "crps", "ssr", "outlier_fraction"]
    values = np.zeros((4, 1, 4, 1))
    values[metrics.index("ssr")] = ssr
    values[metrics.index("outlier_fraction")] = 2.0 / (m + 1)
    values[metrics.index("rmse")] = values[metrics.index("crps")] = 1.0
    bounds = np.stack([values, values])
    bounds[0, 2], bounds[1, 2] = ssr - half_width, ssr + half_width
    return xr.Dataset(
        {
            "scores": (("metric", "variable", "lead_time", "region"), values),
            "scores_interval": (("bound", "metric", "variable", "lead_time", "region"), bounds),
        },
        coords={"metric": metrics, "variable": ["z500"], "lead_time": lead, "region": ["global"]},
        attrs={"n_members": m, "n_init_times": 3, "bootstrap_unit": "start date (3 units)", "n_units": 3},
    )


@pytest.mark.parametrize(
    ("ssr", "half", "expected"),
    [(1.0, 0.1, "yes"), (1.0, 0.5, "undetermined"), (0.5, 0.1, "no"), (0.85, 0.1, "undetermined")],
)
def test_calibration_verdict_uses_the_interval(ssr: float, half: float, expected: str) -> None:
    lines = verdicts(_scores(ssr, half))
    assert lines[0].startswith(f"calibrated [global]: {expected} ("), lines[0]
    assert lines[-1].startswith("sample: 3 start date(s) × 20 members; 90% bootstrap intervals, unit: start date")
