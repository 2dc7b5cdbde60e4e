"""The metric registry: every registered metric's finish, on a block's summed statistics, equals a brute-force
computation of the same score with explicit loops over points and members (float64, no hens metric function)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hens.diagnostics.aggregate.block import BlockOptions, add_stats, block_statistics
from hens.diagnostics.aggregate.scores import mean_scores
from hens.diagnostics.metrics.registry import METRICS, STATISTICS

M, L, NLAT, NLON = 7, 2, 6, 8
LAT = np.linspace(75.0, -75.0, NLAT)
OPTIONS = BlockOptions(
    n_members=M,
    sigma_edges=(-np.inf, 0.0, np.inf),
    n_prob_bins=4,
    prob_thresholds=(0.0, 0.5, 1.0),
)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _point_scores(x: list[float], y: float) -> dict[str, float]:
    """Every per-point quantity a registered metric averages, by definition (no sorting tricks)."""
    m = len(x)
    mean = _mean(x)
    var = sum((v - mean) ** 2 for v in x) / (m - 1)
    pairs = sum(abs(a - b) for a in x for b in x)
    return {
        "error": mean - y,
        "squared_error": (mean - y) ** 2,
        "variance": var,
        "crps": sum(abs(v - y) for v in x) / m - pairs / (2.0 * m * (m - 1)),
        "outlier": float(y < min(x) or y > max(x)),
        "best_member_error": min(abs(v - y) for v in x),
    }


def _weighted_means(fc: np.ndarray, obs: np.ndarray, mask: np.ndarray, lead: int) -> dict[str, float]:
    """cos(latitude)-weighted means over the valid points of ``mask`` at one lead time, by loops."""
    totals: dict[str, float] = {}
    weight = 0.0
    for i in range(NLAT):
        for j in range(NLON):
            x = [float(fc[k, lead, i, j]) for k in range(M)]
            y = float(obs[lead, i, j])
            if not mask[i, j] or math.isnan(y) or any(math.isnan(v) for v in x):
                continue
            w = math.cos(math.radians(LAT[i]))
            weight += w
            for key, value in _point_scores(x, y).items():
                totals[key] = totals.get(key, 0.0) + w * value
    return {key: value / weight for key, value in totals.items()}


#: Brute-force score of each registered metric from the weighted means of :func:`_point_scores`.
REFERENCES = {
    "rmse": lambda a: math.sqrt(a["squared_error"]),
    "bias": lambda a: a["error"],
    "crps": lambda a: a["crps"],
    "spread": lambda a: math.sqrt(a["variance"]),
    "ssr": lambda a: math.sqrt((M + 1) / M) * math.sqrt(a["variance"]) / math.sqrt(a["squared_error"]),
    "outlier_fraction": lambda a: a["outlier"],
    "best_member_mae": lambda a: a["best_member_error"],
}


def _block(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centre = 280.0 + rng.normal(size=(L, NLAT, NLON))
    fc = (centre + rng.normal(size=(M, L, NLAT, NLON))).astype(np.float32)
    obs = centre + 1.5 * rng.normal(size=(L, NLAT, NLON))
    fc[2, 0, 1, 3] = np.nan  # a missing member value and a missing truth: both points are skipped
    obs[1, 4, 5] = np.nan
    masks = np.ones((3, NLAT, NLON), dtype=bool)
    masks[1, NLAT // 2 :] = False  # northern half
    masks[2] = False  # empty region: every score is NaN
    return fc, obs, masks


def test_every_metric_has_a_brute_force_reference():
    assert {metric.name for metric in METRICS} == set(REFERENCES)


@pytest.mark.parametrize("metric", METRICS, ids=[metric.name for metric in METRICS])
def test_finish_matches_brute_force(metric):
    fc, obs, masks = _block(0)
    # two tiles added, as the Dask graph does
    halves = [(0, 3), (3, NLAT)]
    parts = [
        block_statistics(fc[..., a:b, :], obs[..., a:b, :], None, LAT[a:b], masks[:, a:b], OPTIONS) for a, b in halves
    ]
    sums = add_stats(*parts)
    got = metric.finish(sums, M)
    assert got.shape == (L, masks.shape[0])
    for lead in range(L):
        for r in range(2):
            want = REFERENCES[metric.name](_weighted_means(fc, obs, masks[r], lead))
            np.testing.assert_allclose(got[lead, r], want, rtol=1e-10, atol=1e-12, err_msg=f"lead {lead} region {r}")
        assert np.isnan(got[lead, 2]), "a region without valid points must score NaN"


def test_mean_scores_stacks_the_registry_in_order():
    fc, obs, masks = _block(1)
    sums = block_statistics(fc, obs, None, LAT, masks, OPTIONS)
    stacked = mean_scores(sums, M)
    assert stacked.shape == (len(METRICS), L, masks.shape[0])
    for k, metric in enumerate(METRICS):
        np.testing.assert_array_equal(stacked[k], metric.finish(sums, M))


def test_block_keeps_one_weighted_sum_per_statistic():
    fc, obs, masks = _block(2)
    sums = block_statistics(fc, obs, None, LAT, masks, OPTIONS)
    names = [stat.name for stat in STATISTICS]
    assert len(set(names)) == len(names)
    for name in names:
        assert sums[name].shape == (L, masks.shape[0])
    needed = {stat.name for metric in METRICS for stat in metric.statistics}
    assert needed == set(names)
