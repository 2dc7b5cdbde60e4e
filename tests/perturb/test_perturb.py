"""Tests for hens.perturb: correlated seed noise and bred vectors (float64, independent references)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch_harmonics

from hens.errors import ConfigError
from hens.perturb import (
    amplitude_from_rmse,
    breed,
    correlated_noise,
    gaussian_angular_spectrum,
    hemispheric_rms,
    hens_hemispheric_norm,
    noise_correlation,
    noise_max_degree,
    nonnegative_mask,
    perturbed_states,
    rescale,
    rescaling_factor,
    seed_perturbation,
)
from tests.helpers.sphere import F64, B, gen, lat_grid

# ----------------------------------------------------------------------------------------------------------
# independent numpy references
# ----------------------------------------------------------------------------------------------------------


def ref_hemispheric_rms(delta: np.ndarray, lat: np.ndarray, b: float = B) -> tuple[np.ndarray, np.ndarray]:
    """Explicit loop over rows: weighted mean of squares with cos(lat) row weights."""
    out = []
    for sel in (lat >= b, lat <= -b):
        num = np.zeros(delta.shape[:-2])
        den = 0.0
        for i in np.nonzero(sel)[0]:
            w = math.cos(math.radians(lat[i]))
            num = num + w * np.mean(delta[..., i, :] ** 2, axis=-1)
            den += w
        out.append(np.sqrt(num / den))
    return out[0], out[1]


def ref_rescale(delta: np.ndarray, target: np.ndarray, lat: np.ndarray, b: float = B) -> np.ndarray:
    rn, rs = ref_hemispheric_rms(delta, lat, b)
    gn, gs = target / rn, target / rs
    out = np.empty_like(delta)
    for i, phi in enumerate(lat):
        if phi >= b:
            g = gn
        elif phi <= -b:
            g = gs
        else:
            g = gs + (gn - gs) * (phi + b) / (2 * b)
        out[..., i, :] = delta[..., i, :] * g[..., None]
    return out


# ----------------------------------------------------------------------------------------------------------
# rescaling
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 33, 64), (2, 4, 33, 64), (1, 2, 3, 2, 65, 16)])
def test_rescale_hits_target_in_both_extratropics(shape: tuple[int, ...]) -> None:
    g = gen(1)
    lat = lat_grid(shape[-2])
    scale = 7 * torch.rand(shape[-3], 1, 1, generator=g, dtype=F64)
    delta = torch.randn(shape, generator=g, dtype=F64) * scale
    target = torch.rand(shape[-3], generator=g, dtype=F64) + 0.1
    out = rescale(delta, target, lat, method="area_rms")  # the area_rms option; HENS's rule: test_rescaling.py
    rn, rs = hemispheric_rms(out, lat)
    expected = target.expand(rn.shape)
    torch.testing.assert_close(rn, expected, rtol=1e-12, atol=0)
    torch.testing.assert_close(rs, expected, rtol=1e-12, atol=0)
    # and against the explicit reference, everywhere
    np.testing.assert_allclose(out.numpy(), ref_rescale(delta.numpy(), target.numpy(), lat), rtol=1e-12)


def test_hemispheric_rms_matches_reference() -> None:
    lat = lat_grid(721)[::8]  # 2° grid with rows at ±20 and ±22 (20.25 is not a row)
    delta = torch.randn(2, 3, lat.size, 12, generator=gen(2), dtype=F64)
    rn, rs = hemispheric_rms(delta, lat)
    ref_n, ref_s = ref_hemispheric_rms(delta.numpy(), lat)
    np.testing.assert_allclose(rn.numpy(), ref_n, rtol=1e-13)
    np.testing.assert_allclose(rs.numpy(), ref_s, rtol=1e-13)
    # only extratropical rows matter
    delta2 = delta.clone()
    delta2[..., np.abs(lat) < B, :] *= 100.0
    torch.testing.assert_close(hemispheric_rms(delta2, lat)[0], rn, rtol=1e-14, atol=0)


def test_factor_linear_in_tropics_and_continuous_at_boundary() -> None:
    lat = lat_grid(721)  # 0.25°: ±20.25 are grid rows
    rn = torch.tensor([2.0, 0.5], dtype=F64)
    rs = torch.tensor([4.0, 0.25], dtype=F64)
    target = torch.tensor([1.0, 3.0], dtype=F64)
    f = rescaling_factor(rn, rs, target, lat)
    assert f.shape == (2, 721, 1)
    f = f[..., 0]
    gn, gs = target / rn, target / rs
    north, south, tropics = lat >= B, lat <= -B, np.abs(lat) < B
    torch.testing.assert_close(f[:, north], gn[:, None].expand(-1, int(north.sum())), rtol=1e-15, atol=0)
    torch.testing.assert_close(f[:, south], gs[:, None].expand(-1, int(south.sum())), rtol=1e-15, atol=0)
    lin = gs[:, None] + (gn - gs)[:, None] * torch.tensor((lat[tropics] + B) / (2 * B))
    torch.testing.assert_close(f[:, tropics], lin, rtol=1e-13, atol=1e-14)
    # constant slope: second differences vanish across the tropics, rows at ±b included
    band = np.abs(lat) <= B
    second = torch.diff(f[:, band], n=2, dim=-1)
    assert second.abs().max() < 1e-12
    # continuity: the jump between neighbouring rows never exceeds slope × spacing
    slope = ((gn - gs) / (2 * B)).abs()
    assert (torch.diff(f, dim=-1).abs() <= slope[:, None] * 0.25 + 1e-12).all()


NORMS = {"hens": hens_hemispheric_norm, "area_rms": hemispheric_rms}  # the norm each rule brings to T


@pytest.mark.parametrize("method", ["hens", "area_rms"])
def test_zero_and_constant_channels_give_zero_not_nan(method: str) -> None:
    lat = lat_grid(33)
    delta = torch.randn(2, 3, 33, 64, generator=gen(3), dtype=F64)
    delta[:, 1] = 0.0  # a constant channel has zero perturbation
    delta[0, 2, lat > 0] = 0.0  # perturbation only in the south for one sample
    out = rescale(delta, torch.tensor([1.0, 2.0, 3.0], dtype=F64), lat, method=method)
    assert torch.isfinite(out).all()
    assert (out[:, 1] == 0).all()
    rs = NORMS[method](out, lat)[1]
    torch.testing.assert_close(rs[0, 2], torch.tensor(3.0, dtype=F64))
    # non-finite norms also give a finite, zero factor
    f = rescaling_factor(
        torch.tensor([0.0, float("inf"), float("nan")], dtype=F64), torch.zeros(3, dtype=F64), 1.0, lat
    )
    assert torch.isfinite(f).all() and (f == 0).all()
    # a non-finite tropical row does not enter the extratropical norms
    delta[:, 0, 16, 3] = float("nan")  # the equator of the 33-row grid
    rn, rs = hemispheric_rms(delta, lat)
    assert torch.isfinite(rn).all() and torch.isfinite(rs).all()


@pytest.mark.parametrize("method", ["hens", "area_rms"])
def test_rescale_float32_and_scalar_target(method: str) -> None:
    lat = lat_grid(33)
    delta = torch.randn(4, 33, 64, generator=gen(4), dtype=torch.float32)
    out = rescale(delta, 2.0, lat, method=method)
    assert out.dtype == torch.float32
    rn, rs = NORMS[method](out, lat)
    torch.testing.assert_close(rn, torch.full((4,), 2.0), rtol=1e-5, atol=0)
    torch.testing.assert_close(rs, torch.full((4,), 2.0), rtol=1e-5, atol=0)


# ----------------------------------------------------------------------------------------------------------
# members
# ----------------------------------------------------------------------------------------------------------


def test_pairs_average_to_unperturbed_and_control_is_exact() -> None:
    x0 = torch.randn(3, 9, 16, generator=gen(5), dtype=F64)
    d = torch.randn(2, 3, 9, 16, generator=gen(6), dtype=F64)
    delta = torch.stack([d[0], d[0], d[1], d[1], d[1]])
    states = perturbed_states(x0, delta, torch.tensor([1, -1, 1, -1, 0]))
    torch.testing.assert_close(states[:2].mean(0), x0, rtol=0, atol=1e-14)
    torch.testing.assert_close(states[2:4].mean(0), x0, rtol=0, atol=1e-14)
    assert torch.equal(states[4], x0)
    torch.testing.assert_close(states[0], x0 + d[0], rtol=0, atol=0)


def test_nonnegative_clipping() -> None:
    x0 = torch.full((3, 5, 8), 0.1, dtype=F64)
    delta = torch.full((3, 3, 5, 8), 0.3, dtype=F64)
    nonneg = nonnegative_mask(["z500", "q700", "tcwv"])
    assert nonneg.tolist() == [False, True, True]
    states = perturbed_states(x0, delta, [1, -1, 0], nonnegative=nonneg)
    assert torch.allclose(states[1, 0], torch.tensor(-0.2, dtype=F64))  # z500 not clipped
    assert (states[1, 1:] == 0).all()  # q, tcwv clipped at 0
    assert torch.allclose(states[0, 1:], torch.tensor(0.4, dtype=F64))
    assert torch.equal(states[2], x0)
    with pytest.raises(ValueError):
        perturbed_states(x0, delta, [1, 2, 0])


def test_amplitude_from_rmse() -> None:
    rmse = {"z500": 200.0, "t850": 1.5, "q700": 1e-3}
    t = amplitude_from_rmse(rmse, ["t850", "z500"])
    torch.testing.assert_close(t, torch.tensor([0.35 * 1.5, 0.35 * 200.0], dtype=F64))
    with pytest.raises(ConfigError, match="u10m.*msl|msl.*u10m"):
        amplitude_from_rmse(rmse, ["z500", "u10m", "msl"])


# ----------------------------------------------------------------------------------------------------------
# breeding
# ----------------------------------------------------------------------------------------------------------


def test_breed_matches_manual_cycles_and_counts_control_calls() -> None:
    """The area_rms option against ref_rescale; HENS's rule (the default) is checked in test_rescaling.py."""
    lat = lat_grid(17)
    n_cycles, n_pert, c = 3, 4, 2
    analyses = torch.randn(n_cycles, c, 17, 32, generator=gen(7), dtype=F64)
    delta0 = 0.1 * torch.randn(n_pert, c, 17, 32, generator=gen(8), dtype=F64)
    target = torch.tensor([0.1, 0.2], dtype=F64)
    batches: list[int] = []

    def step(x: torch.Tensor) -> torch.Tensor:  # a nonlinear "model"
        batches.append(x.shape[0])
        return x + 0.3 * torch.sin(torch.roll(x, 1, dims=-1)) * x.flip(1)

    out = breed(step, analyses, delta0, target, lat, rescaling="area_rms")
    assert batches == [1, n_pert] * n_cycles  # control once per cycle, all perturbations in one batch
    # independent reference
    d = delta0.numpy()
    for k in range(n_cycles):
        x = analyses[k : k + 1].numpy()
        grown = (x + d) + 0.3 * np.sin(np.roll(x + d, 1, axis=-1)) * (x + d)[:, ::-1]
        ctrl = x + 0.3 * np.sin(np.roll(x, 1, axis=-1)) * x[:, ::-1]
        d = ref_rescale(grown - ctrl, target.numpy(), lat)
    np.testing.assert_allclose(out.numpy(), d, rtol=1e-11, atol=1e-14)

    batches.clear()
    out2 = breed(step, analyses, delta0, target, lat, batch_size=3, rescaling="area_rms")
    assert batches == [1, 3, 1] * n_cycles
    torch.testing.assert_close(out2, out, rtol=1e-14, atol=0)


def test_breed_converges_to_fastest_growing_direction() -> None:
    nlat, nlon = 9, 8
    lat = lat_grid(nlat)
    n = nlat * nlon
    g = gen(9)
    # leading direction: symmetric about the equator, so its two hemispheric norms are equal
    lead = torch.randn(nlat, nlon, generator=g, dtype=F64)
    lead = lead + lead.flip(0)
    v1 = lead.flatten() / lead.norm()
    q, _ = torch.linalg.qr(torch.cat([v1[:, None], torch.randn(n, n - 1, generator=g, dtype=F64)], dim=1))
    q[:, 0] = v1
    growth = torch.cat([torch.tensor([3.0], dtype=F64), torch.linspace(1.2, 0.2, n - 1, dtype=F64)])
    a = q @ torch.diag(growth) @ q.T

    def step(x: torch.Tensor) -> torch.Tensor:
        return (x.reshape(x.shape[0], -1) @ a.T).reshape(x.shape)

    n_cycles = 25
    analyses = torch.randn(n_cycles, 1, nlat, nlon, generator=g, dtype=F64)
    delta0 = torch.randn(2, 1, nlat, nlon, generator=g, dtype=F64)
    cos0 = (delta0.reshape(2, -1) @ v1).abs() / delta0.reshape(2, -1).norm(dim=1)
    out = breed(step, analyses, delta0, 1.0, lat)
    cos = (out.reshape(2, -1) @ v1).abs() / out.reshape(2, -1).norm(dim=1)
    assert (cos0 < 0.5).all()
    assert (cos > 0.9999).all()
    # hemispheric norms (HENS's, the default rule) at the target
    rn, rs = hens_hemispheric_norm(out, lat)
    torch.testing.assert_close(rn, torch.ones_like(rn), rtol=1e-12, atol=0)
    torch.testing.assert_close(rs, torch.ones_like(rs), rtol=1e-12, atol=0)


def test_breed_constant_channel_stays_zero_and_blowup_is_flagged_nan() -> None:
    lat = lat_grid(17)
    analyses = torch.randn(2, 2, 17, 8, generator=gen(10), dtype=F64)
    delta0 = torch.randn(3, 2, 17, 8, generator=gen(11), dtype=F64)

    def step(x: torch.Tensor) -> torch.Tensor:
        y = 1.1 * x
        y[:, 1] = 5.0  # the model keeps channel 1 constant
        return y

    out = breed(step, analyses, delta0, torch.tensor([1.0, 1.0], dtype=F64), lat)
    assert torch.isfinite(out).all() and (out[:, 1] == 0).all()

    def bad_step(x: torch.Tensor) -> torch.Tensor:
        y = x.clone()
        if x.shape[0] > 1:  # the second perturbed state blows up at the equator (a tropical row)
            y[1, 0, 8, 0] = float("nan")
        return y

    # the blown-up perturbation comes back all-NaN (flagged downstream), never zeroed; the others are untouched
    out = breed(bad_step, analyses, delta0, 1.0, lat)
    assert torch.isnan(out[1]).all()
    assert torch.isfinite(out[0]).all() and torch.isfinite(out[2:]).all()


# ----------------------------------------------------------------------------------------------------------
# seed noise
# ----------------------------------------------------------------------------------------------------------


def test_inverse_sht_normalisation_gives_addition_theorem() -> None:
    """torch-harmonics' convention: Σ_m w_m P̄_lm² = (2l + 1)/(4π), w_0 = 1, w_{m>0} = 2 (m > 0 doubled)."""
    nlat, nlon, lmax = 33, 64, 17
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        isht = torch_harmonics.InverseRealSHT(nlat, nlon, lmax=lmax, mmax=lmax, grid="equiangular")
    var = torch.zeros(nlat, nlon, dtype=F64)
    for l in range(lmax):
        for m in range(l + 1):
            for part in (1.0, 1j) if m > 0 else (1.0,):
                c = torch.zeros(1, lmax, lmax, dtype=torch.complex128)
                c[0, l, m] = part
                var += (0.5 if m > 0 else 1.0) * isht(c)[0] ** 2 / ((2 * l + 1) / (4 * math.pi)) / lmax
    torch.testing.assert_close(var, torch.ones_like(var), rtol=1e-10, atol=0)


def test_noise_shape_determinism_and_field_by_field_reproduction() -> None:
    lat = lat_grid(33)
    a = correlated_noise(5, lat, 64, generator=gen(123))
    b = correlated_noise(5, lat, 64, generator=gen(123))
    assert a.shape == (5, 33, 64) and a.dtype == F64
    assert torch.equal(a, b)
    g = gen(123)
    for k in range(5):
        assert torch.equal(correlated_noise(1, lat, 64, generator=g)[0], a[k])
    assert not torch.equal(a, correlated_noise(5, lat, 64, generator=gen(124)))
    assert torch.equal(correlated_noise(2, lat, 64, generator=gen(123), dtype=torch.float32), a[:2].float())


def test_seed_perturbation_reproduces_one_perturbation_alone() -> None:
    lat = lat_grid(33)
    channels = ["u10m", "z500", "t850", "q700"]
    target = torch.tensor([1.0, 70.0, 0.5, 1e-4], dtype=F64)
    seeds = [11, 22, 33]
    gens = [gen(s) for s in seeds]
    batch = seed_perturbation(3, channels, ["t850", "z500"], target, lat, 64, generators=gens)
    assert batch.shape == (3, 4, 33, 64)
    assert (batch[:, [0, 3]] == 0).all()
    for i, s in enumerate(seeds):
        alone = seed_perturbation(1, channels, ["z500", "t850"], target, lat, 64, generators=[gen(s)])
        assert torch.equal(alone[0], batch[i])
        eps = correlated_noise(2, lat, 64, generator=gen(s))  # channel order: z500 then t850
        assert torch.equal(batch[i, 1], eps[0] * 70.0)
        assert torch.equal(batch[i, 2], eps[1] * 0.5)
    with pytest.raises(ConfigError, match="z850"):
        seed_perturbation(1, channels, ["z850"], target, lat, 64, generators=[gen(0)])


def test_noise_unit_variance_zero_mean() -> None:
    lat = lat_grid(33)
    n = 6000
    f = correlated_noise(n, lat, 64, generator=gen(7))
    assert abs(f.mean().item()) < 0.02
    var = (f**2).mean(0)  # known mean 0
    tol = 5 * math.sqrt(2.0 / n)
    assert (var - 1).abs().max() < 1.6 * tol  # max over 2112 points
    assert abs(var.mean().item() - 1) < 0.03
    band = var.mean(-1)  # per latitude: poles as well as the equator
    assert (band - 1).abs().max() < 0.06
    # the analytic normaliser
    for max_degree in (0, 5, 16, 120):
        spec = gaussian_angular_spectrum(max_degree)
        l = torch.arange(max_degree + 1, dtype=F64)
        torch.testing.assert_close(((2 * l + 1) * spec).sum() / (4 * math.pi), torch.tensor(1.0, dtype=F64))


def test_noise_correlation_decreases_with_distance() -> None:
    nlat, nlon = 65, 128  # 2.8125°, ≈ 313 km
    lat = lat_grid(nlat)
    L = noise_max_degree(nlat, nlon)
    assert L == 32
    f = correlated_noise(1000, lat, nlon, generator=gen(8))
    eq = f[:, nlat // 2, :]  # equator: distance = R Δλ
    lags = np.arange(0, 9)
    emp = np.array([(eq * torch.roll(eq, -int(k), dims=-1)).mean().item() for k in lags])
    dist = 6371.0 * np.radians(360.0 / nlon) * lags
    ana = noise_correlation(dist, L).numpy()
    np.testing.assert_allclose(emp, ana, atol=0.05)
    assert np.all(np.diff(ana[:6]) < 0) and np.all(np.diff(emp[:5]) < 0)
    assert abs(emp[-1]) < 0.1
    # meridional correlation agrees too (isotropy)
    mer = np.array([(f[:, 16] * f[:, 16 + int(k)]).mean().item() for k in lags[:4]])
    np.testing.assert_allclose(mer, ana[:4], atol=0.06)


def test_noise_length_scale_where_resolved_and_coarse_grid_limit() -> None:
    d = np.array([0.0, 250.0, 500.0, 1000.0, 1500.0])
    rho = noise_correlation(d, 200).numpy()  # untruncated
    np.testing.assert_allclose(rho, np.exp(-(d**2) / (2 * 500.0**2)), atol=2e-3)
    assert noise_max_degree(721, 1440) == 113  # cut where the spectrum is negligible, not at the grid limit
    assert noise_max_degree(33, 64) == 16  # 5.625°: the grid limits the spectrum
    coarse = noise_correlation(np.array([0.0, 625.0, 1250.0]), 16).numpy()
    assert 1.0 > coarse[1] > coarse[2] > 0
    with pytest.raises(ValueError, match="equiangular"):
        correlated_noise(1, lat_grid(33)[::-1], 64, generator=gen(0))
