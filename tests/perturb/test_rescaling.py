"""HENS's hemispheric rescaling (the default) against an independent float64 re-implementation of the published
rule, and its measured difference from the ``area_rms`` option (docs/perturbations.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hens.perturb import (
    breed,
    hemispheric_rms,
    hens_hemispheric_norm,
    hens_norm_bias,
    hens_norm_profile,
    rescale,
)
from tests.helpers.sphere import F64, B, gen, lat_grid


def ref_hens_norm_profile(delta: np.ndarray, b: float = B) -> np.ndarray:
    """The rule as the HENS code states it, for an equiangular grid with poles, in loops over channels and rows.

    Row weights are sin of the colatitudes linspace(0, π, nlat) divided by their mean over all rows; each
    extratropical norm is the root of the mean of weight × δ² over its rows (poleward of ±b) and all
    longitudes; across the n_t tropical rows the norm runs linearly (linspace) from r_N to r_S.
    Returns r [C, nlat].
    """
    n_chan, nlat, nlon = delta.shape
    colat = [math.pi * i / (nlat - 1) for i in range(nlat)]
    w = np.array([math.sin(c) for c in colat])
    w = w / w.mean()
    n_ext = sum(1 for i in range(nlat) if 90.0 - 180.0 * i / (nlat - 1) >= b - 1e-9)
    out = np.zeros((n_chan, nlat))
    for c in range(n_chan):
        total_n = total_s = 0.0
        for i in range(n_ext):
            total_n += w[i] * float(np.sum(delta[c, i] ** 2))
            total_s += w[nlat - 1 - i] * float(np.sum(delta[c, nlat - 1 - i] ** 2))
        r_n = math.sqrt(total_n / (n_ext * nlon))
        r_s = math.sqrt(total_s / (n_ext * nlon))
        tropics = np.linspace(r_n, r_s, nlat - 2 * n_ext)
        out[c] = np.concatenate([np.full(n_ext, r_n), tropics, np.full(n_ext, r_s)])
    return out


def ref_hens_rescale(delta: np.ndarray, target: np.ndarray, b: float = B) -> np.ndarray:
    r = ref_hens_norm_profile(delta, b)
    return delta / (r / target[:, None])[:, :, None]


def area_rms_loops(delta: np.ndarray, lat: np.ndarray, b: float = B) -> tuple[np.ndarray, np.ndarray]:
    """True area-weighted RMS per channel over φ ≥ b and φ ≤ −b (cos φ row weights), in loops."""
    out = []
    for sel in (lat >= b - 1e-9, lat <= -b + 1e-9):
        num = np.zeros(delta.shape[0])
        den = 0.0
        for i in np.nonzero(sel)[0]:
            wi = math.cos(math.radians(lat[i]))
            num += wi * np.mean(delta[:, i] ** 2, axis=-1)
            den += wi
        out.append(np.sqrt(num / den))
    return out[0], out[1]


@pytest.mark.parametrize("nlat, nlon", [(33, 64), (91, 180), (121, 240)])
def test_hens_rescale_matches_published_rule(nlat: int, nlon: int) -> None:
    lat = lat_grid(nlat)  # 5.625° (demo), 2° (±20.25 not a row), 1.5°
    g = gen(nlat)
    scale = torch.tensor([1.0, 50.0, 1e-3], dtype=F64)[:, None, None]
    delta = torch.randn(3, nlat, nlon, generator=g, dtype=F64) * scale
    delta[:, lat < 0] *= 2.5  # unequal hemispheres, so the tropical interpolation matters
    target = torch.tensor([0.5, 60.0, 2e-4], dtype=F64)
    out = rescale(delta, target, lat)  # the default is HENS's rule
    np.testing.assert_allclose(out.numpy(), ref_hens_rescale(delta.numpy(), target.numpy()), rtol=1e-12, atol=0)
    rn, rs = hens_hemispheric_norm(delta, lat)
    profile = hens_norm_profile(rn, rs, lat)
    np.testing.assert_allclose(profile.numpy(), ref_hens_norm_profile(delta.numpy()), rtol=1e-12)
    # at the equator δ is divided by (r_N + r_S) / 2, not multiplied by the mean gain
    eq = nlat // 2
    np.testing.assert_allclose(out[:, eq].numpy(), (delta[:, eq] * (2 * target / (rn + rs))[:, None]).numpy())
    # the HENS norms of the result are T
    rn2, rs2 = hens_hemispheric_norm(out, lat)
    torch.testing.assert_close(rn2, target, rtol=1e-12, atol=0)
    torch.testing.assert_close(rs2, target, rtol=1e-12, atol=0)


def test_hens_rescaling_is_1088_times_target_in_true_rms_on_the_quarter_degree_grid() -> None:
    lat = lat_grid(721)
    delta = torch.randn(2, 721, 1440, generator=gen(5), dtype=F64)
    delta[1, lat < 0] *= 3.0
    target = np.array([1.0, 70.0])
    out = rescale(delta, torch.tensor(target), lat)
    np.testing.assert_allclose(out.numpy(), ref_hens_rescale(delta.numpy(), target), rtol=1e-12, atol=0)
    rms_n, rms_s = area_rms_loops(out.numpy(), lat)
    # the grid's number: √(mean cos φ over all rows / mean over the extratropical rows), in loops
    cos = [math.cos(math.radians(p)) for p in lat]
    north = [c for c, p in zip(cos, lat, strict=True) if p >= B]
    bias = math.sqrt((sum(cos) / len(cos)) / (sum(north) / len(north)))
    assert 1.0881 < bias < 1.0883  # ≈ 1.088
    np.testing.assert_allclose(rms_n / target, bias, rtol=1e-12)
    np.testing.assert_allclose(rms_s / target, bias, rtol=1e-12)
    assert hens_norm_bias(lat) == pytest.approx((bias, bias), rel=1e-14)
    # area_rms brings the true RMS to T: HENS's bred vectors are `bias` times larger in the extratropics
    area = rescale(delta, torch.tensor(target), lat, method="area_rms")
    ratio = hemispheric_rms(out, lat)[0] / hemispheric_rms(area, lat)[0]
    np.testing.assert_allclose(ratio.numpy(), bias, rtol=1e-12)


def test_norm_bias_on_the_demo_grid_and_a_single_tropical_row() -> None:
    lat = lat_grid(33)
    cos = np.cos(np.deg2rad(lat))
    expected = math.sqrt(cos.mean() / cos[lat >= B].mean())
    assert hens_norm_bias(lat) == pytest.approx((expected, expected), rel=1e-14)
    # a grid with one tropical row (the equator) takes (r_N + r_S) / 2 there
    lat5 = np.array([90.0, 45.0, 0.0, -45.0, -90.0])
    r = hens_norm_profile(torch.tensor([2.0], dtype=F64), torch.tensor([4.0], dtype=F64), lat5)
    assert r.tolist() == [[2.0, 2.0, 3.0, 4.0, 4.0]]


def test_breed_uses_hens_rule_by_default_and_rejects_unknown_rules() -> None:
    lat = lat_grid(17)
    analyses = torch.randn(2, 2, 17, 32, generator=gen(7), dtype=F64)
    delta0 = 0.1 * torch.randn(3, 2, 17, 32, generator=gen(8), dtype=F64)
    target = np.array([0.1, 0.2])

    def step(x: torch.Tensor) -> torch.Tensor:
        return x + 0.3 * torch.sin(torch.roll(x, 1, dims=-1)) * x.flip(1)

    out = breed(step, analyses, delta0, torch.tensor(target), lat)
    d = delta0.numpy()
    for k in range(2):
        x = analyses[k : k + 1].numpy()
        grown = (x + d) + 0.3 * np.sin(np.roll(x + d, 1, axis=-1)) * (x + d)[:, ::-1]
        ctrl = x + 0.3 * np.sin(np.roll(x, 1, axis=-1)) * x[:, ::-1]
        d = np.stack([ref_hens_rescale(p, target) for p in grown - ctrl])
    np.testing.assert_allclose(out.numpy(), d, rtol=1e-11, atol=1e-14)
    with pytest.raises(ValueError, match="hens, area_rms"):
        breed(step, analyses, delta0, 1.0, lat, rescaling="global")
