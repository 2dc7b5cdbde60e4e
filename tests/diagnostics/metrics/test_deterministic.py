"""Deterministic skill against brute force in float64: the area-weighted MSE and the RMSE of a sample."""

from __future__ import annotations

import math

import numpy as np

from hens.diagnostics.metrics.deterministic import lat_weighted_mse, rmse_of_mean_mse


def test_lat_weighted_mse_is_the_cos_weighted_mean_of_squared_errors():
    rng = np.random.default_rng(0)
    lat = np.linspace(90.0, -90.0, 7)
    f, o = rng.normal(size=(2, 3, 7, 5)), rng.normal(size=(2, 3, 7, 5))
    got = lat_weighted_mse(f.astype(np.float32), o.astype(np.float32), lat)
    for a in range(2):
        for c in range(3):
            num = den = 0.0
            for j in range(7):
                w = max(math.cos(math.radians(lat[j])), 0.0) if abs(lat[j]) < 90 else 0.0
                for k in range(5):
                    num += w * (float(np.float32(f[a, c, j, k])) - float(np.float32(o[a, c, j, k]))) ** 2
                    den += w
            assert math.isclose(got[a, c], num / den, rel_tol=1e-12)


def test_rmse_is_the_root_of_the_mean_mse_not_the_mean_rmse():
    mse = np.array([[1.0, 9.0], [4.0, 16.0]])
    np.testing.assert_allclose(rmse_of_mean_mse(mse, axis=0), [math.sqrt(2.5), math.sqrt(12.5)])
    assert math.isclose(float(rmse_of_mean_mse(mse, axis=(0, 1))), math.sqrt(7.5))
