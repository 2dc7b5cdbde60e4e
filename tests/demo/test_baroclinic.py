"""The two-layer baroclinic truth (hens.demo.baroclinic): chaos, determinism, boundedness, channels, formulas."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from hens.demo.baroclinic import (
    BAROCLINIC_CHANNELS,
    GAS_CONSTANT_DRY,
    Baroclinic,
    BaroclinicParams,
    BaroclinicState,
    shipped_state,
)
from hens.io.cf import channel_attrs


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The model's small transforms run fastest on one thread (and the CI machine has two cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model() -> Baroclinic:
    return Baroclinic()


@pytest.fixture(scope="module")
def state(model: Baroclinic) -> BaroclinicState:
    shipped = shipped_state(model.params)
    assert shipped is not None, "hens/demo/baroclinic_state.npz does not match the default parameters"
    return shipped


def _extratropical_rms(model: Baroclinic, diff: np.ndarray) -> np.ndarray:
    lat, _ = model.output_lat_lon()
    w = np.cos(np.deg2rad(lat)) * (np.abs(lat) >= 20.0)
    return np.sqrt((diff**2 * w[:, None]).sum((-2, -1)) / (w.sum() * diff.shape[-1]))


def test_channels_shapes_units_and_ranges(model: Baroclinic, state: BaroclinicState) -> None:
    x = model.to_channels(state)
    assert x.shape == (1, len(BAROCLINIC_CHANNELS), 33, 64) and x.dtype == np.float32
    assert np.isfinite(x).all()
    ch = dict(zip(BAROCLINIC_CHANNELS, x[0], strict=True))
    units = {name: channel_attrs(name).get("units") for name in BAROCLINIC_CHANNELS}
    assert units["z500"] == units["z850"] == "m2 s-2" and units["t850"] == "K" and units["u250"] == "m s-1"
    assert 4.6e4 < ch["z500"].min() and ch["z500"].max() < 6.2e4  # ≈ 4700–6300 m
    assert 0.5e4 < ch["z850"].min() and ch["z850"].max() < 2.2e4
    assert 225.0 < ch["t850"].min() and ch["t850"].max() < 300.0
    for name in ("u250", "v250", "u500", "v500", "u850", "v850"):
        assert np.abs(ch[name]).max() < 120.0, name
    # westerlies aloft in both hemispheres' mid-latitudes, stronger than below
    lat, _ = model.output_lat_lon()
    mid = (np.abs(lat) > 30) & (np.abs(lat) < 60)
    assert ch["u250"][mid].mean() > ch["u850"][mid].mean() > 0.0


def test_deterministic_and_self_starting(model: Baroclinic) -> None:
    a = model.spin_up(seed=3, days=0.5)
    b = model.spin_up(seed=3, days=0.5)
    c = model.spin_up(seed=4, days=0.5)
    assert torch.equal(a.q, b.q) and not torch.equal(a.q, c.q)
    s0 = model.rest_state(5)
    one = model.step(s0, 4)
    two = model.step(model.step(s0, 2), 2)  # RK4 needs no history: restarting changes nothing
    assert torch.equal(one.q, two.q) and one.day == two.day == pytest.approx(4 * model.params.dt_s / 86400)


def test_twin_errors_grow_exponentially(model: Baroclinic, state: BaroclinicState) -> None:
    """A difference of ≈1e-3 of z500's σ grows by a factor consistent with a 0.75–3-day doubling in 6 days."""
    gen = torch.Generator().manual_seed(11)
    ell = torch.arange(model.L, dtype=torch.float64).reshape(-1, 1)
    amp = torch.where(ell > 0, 1.0 / ell.clamp_min(1.0), 0.0) * model.mask
    noise = torch.view_as_complex(torch.randn(1, 2, model.L, model.L, 2, generator=gen, dtype=torch.float64)) * amp
    noise[..., 0] = noise[..., 0].real.to(noise.dtype)
    dq = model.pv(noise)
    iz = BAROCLINIC_CHANNELS.index("z500")
    z0 = model.channels64(state)[:, iz].numpy()
    e = _extratropical_rms(model, model.channels64(BaroclinicState(state.q + dq, state.day))[:, iz].numpy() - z0)
    dq = dq * (1.3 / e[0])  # ≈ 1e-3 of the measured extratropical σ (≈ 1360 m² s⁻²)
    twins = BaroclinicState(torch.cat([state.q, state.q + dq]), state.day)
    z = model.channels64(twins)[:, iz].numpy()
    e0 = _extratropical_rms(model, z[1] - z[0])
    twins = model.advance_days(twins, 6.0)
    z = model.channels64(twins)[:, iz].numpy()
    e6 = _extratropical_rms(model, z[1] - z[0])
    assert e0 == pytest.approx(1.3, rel=1e-6)
    assert 2 ** (6 / 3) < e6 / e0 < 2 ** (6 / 0.75)


def test_bounded_energy_and_seasonal_forcing(model: Baroclinic, state: BaroclinicState) -> None:
    e0 = model.energy(state).item()
    s = model.advance_days(state, 10.0)
    x = model.to_channels(s)
    assert np.isfinite(x).all() and np.abs(x[0, 3:]).max() < 120.0
    assert 0.7 < model.energy(s).item() / e0 < 1.4
    seasonal = Baroclinic(replace(BaroclinicParams(), seasonal_amplitude=0.3))
    winter, summer = seasonal.shear_amplitudes(15.0), seasonal.shear_amplitudes(15.0 + 365.25 / 2)
    assert winter == pytest.approx((1.3, 0.7)) and summer == pytest.approx((0.7, 1.3))
    assert torch.isfinite(seasonal.step(state, 8).q).all()


def test_geostrophic_and_hypsometric_relations(model: Baroclinic, state: BaroclinicState) -> None:
    """Winds and heights obey geostrophy in mid-latitudes (centred differences, float64, independent of the
    spectral code), and t850 is the hypsometric 850–500 hPa layer temperature."""
    x = model.channels64(state).numpy()[0]
    ch = dict(zip(BAROCLINIC_CHANNELS, x, strict=True))
    lat, lon = model.output_lat_lon()
    phi, radius = np.deg2rad(lat), 6.371e6
    rows = np.nonzero((np.abs(lat) >= 30) & (np.abs(lat) <= 60))[0]
    f = 2 * 7.292e-5 * np.sin(phi[rows])[:, None]
    z = ch["z500"]
    ug = -(z[rows - 1] - z[rows + 1]) / (phi[rows - 1] - phi[rows + 1])[:, None] / (f * radius)
    dlon = np.deg2rad(lon[1] - lon[0])
    vg = (np.roll(z, -1, 1) - np.roll(z, 1, 1))[rows] / (2 * dlon) / (f * radius * np.cos(phi[rows])[:, None])
    for wind, geo in ((ch["u500"][rows], ug), (ch["v500"][rows], vg)):
        wind, geo = wind.ravel(), geo.ravel()
        assert np.corrcoef(wind, geo)[0, 1] > 0.95
        assert 0.85 < (wind @ geo) / (geo @ geo) < 1.2
    thickness_t = (ch["z500"] - ch["z850"]) / (GAS_CONSTANT_DRY * math.log(850.0 / 500.0))
    np.testing.assert_allclose(ch["t850"], thickness_t, rtol=1e-12)


def test_lift_from_channels_and_energy_spectrum(model: Baroclinic, state: BaroclinicState) -> None:
    x = model.channels64(state).numpy()
    lifted = model.from_channels(x, day=state.day)
    y = model.channels64(lifted).numpy()
    for name in ("u250", "v250", "u500", "v500", "u850", "v850"):
        c = BAROCLINIC_CHANNELS.index(name)
        np.testing.assert_allclose(y[:, c], x[:, c], atol=1e-5 * np.abs(x[:, c]).max())
    iz = BAROCLINIC_CHANNELS.index("z500")  # heights: balance couples the resolved band to the next degree
    assert np.sqrt(np.mean((y[:, iz] - x[:, iz]) ** 2)) < 0.02 * x[:, iz].std()
    # the spectrum sums to the grid's kinetic energy (Parseval, Gauss quadrature)
    from torch_harmonics.quadrature import precompute_latitudes

    _, w = precompute_latitudes(model.params.nlat, grid="legendre-gauss")
    uv = model.winds(model.invert(state.q))[0]
    ke_grid = (0.5 * (uv**2).sum(1) * w.reshape(-1, 1) / 2).sum((-2, -1)).sum() / model.params.nlon
    assert model.ke_spectrum(state).sum().item() == pytest.approx(ke_grid.item(), rel=1e-10)
