"""The calibrated σ-distance law against a simulated calibrated ensemble."""

import numpy as np
import pytest

from hens.diagnostics.metrics.reference import sigma_distance_probabilities

EDGES = [-np.inf, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, np.inf]


@pytest.mark.parametrize("m", [3, 8, 32])
def test_sigma_distance_matches_a_simulated_calibrated_ensemble(m: int) -> None:
    rng = np.random.default_rng(m)
    n = 400_000
    mu = rng.normal(size=n) * 3.0  # a different predictive distribution at each case
    sigma = rng.uniform(0.5, 2.0, size=n)
    members = mu + sigma * rng.standard_normal((m, n))
    truth = mu + sigma * rng.standard_normal(n)
    z = (truth - members.mean(axis=0)) / members.std(axis=0, ddof=1)
    counts = np.histogram(z, bins=EDGES)[0].astype(np.float64) / n
    expected = sigma_distance_probabilities(EDGES, m)
    assert expected.sum() == pytest.approx(1.0)
    se = np.sqrt(expected * (1 - expected) / n)
    assert np.all(np.abs(counts - expected) <= 5 * se + 1e-6)


def test_small_ensembles_differ_from_a_plain_normal() -> None:
    from scipy import stats

    plain = np.diff(stats.norm.cdf(EDGES))
    small = sigma_distance_probabilities(EDGES, 4)
    assert small[0] + small[-1] > 20 * (plain[0] + plain[-1])  # heavy tails of a 4-member calibrated ensemble
    np.testing.assert_allclose(sigma_distance_probabilities(EDGES, 5000), plain, atol=2e-4)
    with pytest.raises(ValueError):
        sigma_distance_probabilities(EDGES, 1)
