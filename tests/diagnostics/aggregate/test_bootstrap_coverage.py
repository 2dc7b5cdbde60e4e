"""The percentile bootstrap over start dates covers the true value at about the nominal rate (synthetic check).

Each trial draws U = 30 independent "start dates" from a known distribution, keeps their additive sums as
`hens diagnose` does, and asks :func:`bootstrap_interval` for the 90 % interval of (a) a mean score such as the
CRPS and (b) a ratio of sums such as the spread–skill ratio √(Σ var / Σ mse); over many trials the share of
intervals containing the true value must be near 0.9 (the percentile bootstrap is known to under-cover a little
for small U, so the accepted band is 0.82–0.96; a wrong resampling — e.g. of points instead of units, or a
mis-scaled finish — falls far outside it).
"""

from __future__ import annotations

import numpy as np

from hens.diagnostics.aggregate.bootstrap import bootstrap_interval

TRIALS, UNITS, RESAMPLES = 300, 30, 400


def _coverage(draw, finish, truth: float) -> float:
    rng = np.random.default_rng(12345)
    hits = 0
    for trial in range(TRIALS):
        sums = draw(rng)
        lo, hi = bootstrap_interval(sums, finish, n_resamples=RESAMPLES, confidence=0.9, seed=trial)
        hits += bool(lo <= truth <= hi)
    return hits / TRIALS


def test_interval_of_a_mean_score_covers_at_the_nominal_rate():
    mean = 3.0

    def draw(rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"crps": rng.gamma(2.0, mean / 2.0, size=UNITS), "n": np.ones(UNITS)}

    coverage = _coverage(draw, lambda s: s["crps"] / s["n"], mean)
    assert 0.82 <= coverage <= 0.96, coverage


def test_interval_of_a_ratio_of_sums_covers_at_the_nominal_rate():
    # per-date variance and MSE sums of a spread–skill ratio whose true value is √(2/3)
    def draw(rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"var": rng.gamma(4.0, 0.5, size=UNITS), "mse": rng.gamma(4.0, 0.75, size=UNITS)}

    coverage = _coverage(draw, lambda s: np.sqrt(s["var"] / s["mse"]), float(np.sqrt(2.0 / 3.0)))
    assert 0.82 <= coverage <= 0.96, coverage
