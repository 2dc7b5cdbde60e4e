"""scripts/design_experiment.py: the scores finished from per-date sums, and paired differences, by brute force."""

from __future__ import annotations

import numpy as np

from scripts.design_experiment import finish, score_all


def _unit(rng: np.random.Generator, dates: int, leads: int, m: int, degrees: int) -> dict[str, np.ndarray]:
    return {
        "crps": rng.uniform(1, 2, (dates, leads)),
        "mse": rng.uniform(1, 2, (dates, leads)),
        "var": rng.uniform(1, 2, (dates, leads)),
        "ranks": rng.uniform(0, 1, (dates, leads, m + 1)),
        "power_members": rng.uniform(1, 2, (dates, leads, degrees)),
        "power_truth": rng.uniform(1, 2, (dates, leads, degrees)),
    }


def test_finish_matches_the_definitions():
    rng = np.random.default_rng(0)
    u = _unit(rng, 3, 2, 4, 6)
    total = finish({k: v.sum(axis=0)[None] for k, v in u.items()}, 4, 3)
    np.testing.assert_allclose(total["crps"][0], u["crps"].mean(axis=0))
    np.testing.assert_allclose(total["ssr"][0], np.sqrt(5 / 4 * u["var"].sum(0) / u["mse"].sum(0)))
    for k in range(2):
        counts = u["ranks"][:, k].sum(0)
        freq = counts / counts.sum()
        flat = np.sqrt(np.mean((freq * 5 - 1) ** 2))
        np.testing.assert_allclose(total["rank_flatness"][0, k], flat)
        pm, pt = u["power_members"][:, k].sum(0)[3:], u["power_truth"][:, k].sum(0)[3:]
        np.testing.assert_allclose(total["spectral_ratio"][0, k], np.prod(pm / pt) ** (1 / 3))
    assert total["rank_flatness"].shape == (1, 2)


def test_paired_difference_is_zero_for_identical_designs_and_brackets_the_value():
    rng = np.random.default_rng(1)
    meta = {"members": np.array(4), "lead_hours": np.array([0.0, 6.0])}
    a = {"z500/global": _unit(rng, 5, 2, 4, 6), "_meta": meta}
    b = {"z500/global": {k: v + (0.5 if k == "crps" else 0.0) for k, v in a["z500/global"].items()}, "_meta": meta}
    out = score_all({"hens": a, "other": a, "worse": b}, n_resamples=200, seed=0)["z500/global"]
    same = out["crps_hens_minus"]["other"]
    assert np.all(np.asarray(same["lo"]) == 0) and np.all(np.asarray(same["hi"]) == 0)
    worse = out["crps_hens_minus"]["worse"]  # a constant shift of every date: the interval is that shift
    np.testing.assert_allclose(worse["value"], -0.5)
    np.testing.assert_allclose(worse["lo"], -0.5)
    np.testing.assert_allclose(worse["hi"], -0.5)
    s = out["scores"]["hens"]["crps"]
    assert all(lo <= v <= hi for lo, v, hi in zip(s["lo"], s["value"], s["hi"], strict=True))
