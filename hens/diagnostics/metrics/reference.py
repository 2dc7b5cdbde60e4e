"""What a calibrated ensemble would show: the reference curves drawn on the σ-distance histogram.

For a *calibrated* ensemble the truth y and the M members x_1…x_M are exchangeable draws from one predictive
distribution. If that distribution is normal N(μ, σ²), then x̄ ~ N(μ, σ²/M), the unbiased variance s² ~
σ² χ²_{M−1}/(M−1) is independent of x̄ and of y, and y − x̄ ~ N(0, σ² (M+1)/M). Hence, exactly,

    z = (y − x̄) / s = √((M+1)/M) · T,   T ~ Student-t with M − 1 degrees of freedom,

so the calibrated share of z in a bin [a, b) is F_{M−1}(b·√(M/(M+1))) − F_{M−1}(a·√(M/(M+1))). For large M this is
N(0, 1); for small M it has heavier tails (e.g. M = 4: P(|z| > 3) ≈ 9 %, against 0.27 % for N(0, 1)), which is
why the plain N(0, 1) overstates the outliers of a small calibrated ensemble. It is exact for Gaussian predictive
distributions and an approximation otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

__all__ = ["sigma_distance_probabilities"]


def sigma_distance_probabilities(edges: Sequence[float], n_members: int) -> np.ndarray:
    """Calibrated probability of (y − x̄)/s in each bin ``[edges[k], edges[k+1])`` for M members (M ≥ 2).

    Args:
        edges: increasing bin edges in units of the ensemble σ (±inf allowed).
        n_members: M.

    Returns:
        float64 ``(len(edges) − 1,)``, summing to the probability of the covered range (1 with ±inf ends).
    """
    if n_members < 2:
        raise ValueError(f"the σ-distance needs M ≥ 2 members, got {n_members}")
    e = np.asarray(edges, dtype=np.float64) * np.sqrt(n_members / (n_members + 1.0))
    cdf = stats.t.cdf(e, df=n_members - 1)
    return np.diff(cdf)
