"""makani SFNO checkpoints: parameter layout, package reading, extra input channels, forward math, errors.

The expectations below were read from NVIDIA makani's source (github.com/NVIDIA/makani, commit 2dfc4c89,
and the older layout at commit 6cc4b10):
  makani/models/networks/sfnonet.py          SphericalFourierNeuralOperatorNet, NeuralOperatorBlock
  makani/models/common/layers.py             EncoderDecoder (fwd.0 conv+bias, fwd.1 act, fwd.2 conv), MLP (fwd.0, fwd.3)
  makani/models/common/spectral_convolution.py  SpectralConv weight (groups, in, out, lmax) complex64 for dhconv
  makani/models/stepper.py                   SingleStepWrapper: network under ``model.``, preprocessor stateless
  makani/models/preprocessor_helpers.py      static features: grid (sin[, cos] per frequency), orography, land mask
  makani/third_party/climt/zenith_angle_v2.py  cosine of the solar zenith angle
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hens.errors import CheckpointError
from hens.models import load_forecaster, read_package
from hens.models.makani_inputs import (
    as_datetime64,
    cos_zenith,
    grid_features,
    landmask_feature,
    orography_feature,
    read_invariant,
    write_invariant,
)
from hens.models.makani_package import read_makani_package, write_makani_package
from hens.models.makani_sfno import MakaniSFNOStep, SpectralConvDH
from tests.helpers.makani import CHANNELS, CONFIG, MEANS, STDS, TIMES, H, W

# Keys and shapes of makani's SingleStepWrapper state dict for CONFIG (E=8, hidden 2E=16, C_in=11, C_out=3,
# internal grid 8x16 so lmax = 8): see the files named in the module docstring.
EXPECTED_LAYOUT = {
    "model.encoder.fwd.0.weight": (8, 11, 1, 1),
    "model.encoder.fwd.0.bias": (8,),
    "model.encoder.fwd.2.weight": (8, 8, 1, 1),
    **{
        f"model.blocks.{i}.{name}": shape
        for i in range(2)
        for name, shape in {
            "norm0.weight": (8,),
            "norm0.bias": (8,),
            "filter.filter.weight": (1, 8, 8, 8),
            "norm1.weight": (8,),
            "norm1.bias": (8,),
            "outer_skip.weight": (8, 8, 1, 1),
            "mlp.fwd.0.weight": (16, 8, 1, 1),
            "mlp.fwd.0.bias": (16,),
            "mlp.fwd.3.weight": (8, 16, 1, 1),
            "mlp.fwd.3.bias": (8,),
        }.items()
    },
    "model.decoder.fwd.0.weight": (8, 8, 1, 1),
    "model.decoder.fwd.0.bias": (8,),
    "model.decoder.fwd.2.weight": (3, 8, 1, 1),
    "model.residual_transform.weight": (3, 11, 1, 1),
}


def _invariants(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    orography = (rng.random((H, W)) * 5e4).astype(np.float32)
    land = (rng.random((H, W)) > 0.6).astype(np.float32)
    return orography, land


def _random_state(layout: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights for a layout, written independently of hens' module (plain tensors of the listed shapes)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in layout.items():
        if key.endswith("filter.filter.weight"):
            state[key] = 0.3 * torch.randn(*shape, dtype=torch.complex64, generator=gen)
        elif key.endswith("norm0.weight") or key.endswith("norm1.weight"):
            state[key] = 1.0 + 0.1 * torch.randn(*shape, generator=gen)
        else:
            state[key] = torch.randn(*shape, generator=gen) / np.sqrt(max(1, int(np.prod(shape[1:]))))
    state["model.encoder.fwd.0.weight"].sharded_dims_mp = [None, None, None, None]  # as makani's checkpoints
    return state


def _package(tmp_path, name="pkg", config=None, state=None, means=MEANS, stds=STDS):
    orography, land = _invariants()
    return write_makani_package(
        tmp_path / name,
        config=config or CONFIG,
        state_dict=_random_state(EXPECTED_LAYOUT) if state is None else state,
        means=means,
        stds=stds,
        orography=orography,
        land_mask=land,
    )


def _states(batch: int, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, H, W, generator=gen)
    return x * torch.from_numpy(STDS).view(1, 3, 1, 1) + torch.from_numpy(MEANS).view(1, 3, 1, 1)


# --------------------------------------------------------------------------------------------- (1) layout
def test_state_dict_layout_matches_makani(tmp_path):
    pkg = read_package(_package(tmp_path))
    net = MakaniSFNOStep(**pkg.model_kwargs)
    got = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert got == EXPECTED_LAYOUT
    assert net.state_dict()["model.blocks.0.filter.filter.weight"].dtype == torch.complex64


def test_package_mapping(tmp_path):
    pkg = read_package(_package(tmp_path))
    assert pkg.architecture == "makani_sfno" and pkg.channels == tuple(CHANNELS)
    assert pkg.timestep_hours == 6.0 and pkg.grid_shape == (H, W)
    np.testing.assert_allclose(pkg.lat, np.linspace(90, -90, H))
    np.testing.assert_allclose(pkg.lon, np.arange(W) * 360 / W)
    assert pkg.model_kwargs["features"]["add_cos_to_grid"] is False  # resolved from N_in_channels

    # newer makani: cos grid features by default, resolved from N_in_channels = 3 + 1 + 8 + 1 + 2
    newer = {**CONFIG, "N_in_channels": 15}
    assert read_makani_package(_package(tmp_path, "new", newer)).model_kwargs["features"]["add_cos_to_grid"]

    # statistics of a 5-channel dataset, model uses channels 0, 2, 4
    wide = {**CONFIG, "in_channels": [0, 2, 4], "out_channels": [0, 2, 4]}
    means5 = np.array([1.0, -1.0, 280.0, -2.0, 5.5e4], np.float32)
    stds5 = np.array([5.0, 9.0, 20.0, 9.0, 3e3], np.float32)
    pkg = read_package(_package(tmp_path, "wide", wide, means=means5, stds=stds5))
    np.testing.assert_array_equal(pkg.means, MEANS)
    np.testing.assert_array_equal(pkg.stds, STDS)
    assert np.load(tmp_path / "wide" / "global_means.npy").shape == (1, 5, 1, 1)


# ------------------------------------------------------------------------------------------ (2) round trip
def test_round_trip_step_is_finite_and_deterministic(tmp_path):
    fc = load_forecaster(_package(tmp_path))
    assert fc.requires_valid_time
    x = _states(2)
    with torch.no_grad():
        y1 = fc(x, valid_time=TIMES[:2])
        y2 = fc(x, valid_time=TIMES[:2])
    assert y1.shape == (2, 3, H, W) and torch.isfinite(y1).all()
    torch.testing.assert_close(y1, y2, rtol=0, atol=0)
    with torch.no_grad():  # the valid time matters (zenith channel), and a scalar time is shared by the batch
        assert not torch.allclose(fc(x, valid_time=TIMES[2]), y1)
        shared = fc(x, valid_time=TIMES[0])
        torch.testing.assert_close(shared[:1], y1[:1])
    aware = [dt.datetime(2024, 3, 20, 13, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))]  # 12:00 UTC
    np.testing.assert_array_equal(as_datetime64(aware), TIMES[:1].astype("datetime64[us]"))


def test_legacy_filter_layout_and_prefixes_load(tmp_path):
    state = _random_state(EXPECTED_LAYOUT)
    legacy = {
        "module." + k.removeprefix("model."): (v[0] if k.endswith("filter.filter.weight") else v)
        for k, v in state.items()
    }
    assert legacy["module.blocks.0.filter.filter.weight"].shape == (8, 8, 8)
    new = load_forecaster(_package(tmp_path, "new", state=state))
    old = load_forecaster(_package(tmp_path, "old", state=legacy))
    x = _states(1)
    with torch.no_grad():
        torch.testing.assert_close(old(x, TIMES[:1]), new(x, TIMES[:1]), rtol=0, atol=0)


# -------------------------------------------------------------------------------------- (3) batch members
def test_batch_members_equal_single_runs(tmp_path):
    fc = load_forecaster(_package(tmp_path))
    x = _states(3)
    with torch.no_grad():
        batched = fc(x, valid_time=TIMES)
        for b in range(3):
            alone = fc(x[b : b + 1], valid_time=TIMES[b : b + 1])
            torch.testing.assert_close(batched[b : b + 1], alone, rtol=1e-5, atol=1e-5 * float(STDS.max()))


# ------------------------------------------------------------------------------------------------ (4) errors
def test_clear_errors(tmp_path):
    state = _random_state(EXPECTED_LAYOUT)
    del state["model.decoder.fwd.2.weight"]
    with pytest.raises(CheckpointError, match="missing"):
        load_forecaster(_package(tmp_path, "missing", state=state))

    state = _random_state(EXPECTED_LAYOUT)
    state["model.encoder.fwd.0.weight"] = torch.zeros(8, 10, 1, 1)
    with pytest.raises(CheckpointError, match=r"model.encoder.fwd.0.weight has shape \(8, 10, 1, 1\)"):
        load_forecaster(_package(tmp_path, "shape", state=state))

    for option, value in [
        ("filter_type", "non-linear"),
        ("pos_embed", "direct"),
        ("n_history", 1),
        ("operator_type", "diagonal"),
        ("normalization", "minmax"),
    ]:
        with pytest.raises(CheckpointError, match=f"option {option}="):
            read_package(_package(tmp_path, f"bad_{option}", {**CONFIG, option: value}))
    with pytest.raises(CheckpointError, match="nettype"):
        read_package(_package(tmp_path, "afno", {**CONFIG, "nettype": "AFNO"}))
    with pytest.raises(CheckpointError, match="input channels"):
        load_forecaster(_package(tmp_path, "nin", {**CONFIG, "N_in_channels": 12}))

    fc = load_forecaster(_package(tmp_path))
    with pytest.raises(CheckpointError, match="valid time"):
        fc(_states(1))
    with pytest.raises(CheckpointError, match="valid times for a batch"):
        fc(_states(3), valid_time=TIMES[:2])
    (tmp_path / "pkg" / "orography.nc").unlink()
    with pytest.raises(CheckpointError, match="orography.nc is missing"):
        load_forecaster(tmp_path / "pkg")


# ------------------------------------------------------------------------------------------- (5) zenith
def _almanac_cos_zenith(time: np.datetime64, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Astronomical Almanac low-precision sun position, float64 (independent of makani's formula)."""
    n = (np.datetime64(time, "s") - np.datetime64("2000-01-01T12:00:00", "s")) / np.timedelta64(1, "D")
    mean_lon = np.deg2rad(280.460 + 0.9856474 * n)
    anomaly = np.deg2rad(357.528 + 0.9856003 * n)
    ecl = mean_lon + np.deg2rad(1.915) * np.sin(anomaly) + np.deg2rad(0.020) * np.sin(2 * anomaly)
    obl = np.deg2rad(23.439 - 0.0000004 * n)
    ra = np.arctan2(np.cos(obl) * np.sin(ecl), np.cos(ecl))
    dec = np.arcsin(np.sin(obl) * np.sin(ecl))
    gmst = np.deg2rad(280.46061837 + 360.98564736629 * n)
    phi, lam = np.meshgrid(np.deg2rad(lat), np.deg2rad(lon), indexing="ij")
    return np.sin(phi) * np.sin(dec) + np.cos(phi) * np.cos(dec) * np.cos(gmst + lam - ra)


def test_cos_zenith_against_almanac_and_equinox():
    lat = np.linspace(90, -90, 181)
    lon = np.arange(360.0)
    got = cos_zenith(TIMES, lat, lon)
    assert got.shape == (3, 181, 360) and got.dtype == np.float32
    for i, time in enumerate(TIMES):
        np.testing.assert_allclose(got[i], _almanac_cos_zenith(time, lat, lon), atol=3e-3)
    # March equinox 2024 (20 Mar 03:06 UTC): at 12:00 UTC the sun stands over the equator; the equation of time
    # is about −7.5 min, so solar noon reaches Greenwich only at 12:07.5 UTC: the subsolar point is near 1.9°E
    fine = cos_zenith(TIMES[0], np.linspace(90, -90, 721), np.arange(1440) * 0.25)[0]
    i, j = np.unravel_index(np.argmax(fine), fine.shape)
    assert fine[i, j] > 0.9999 and abs(90 - 0.25 * i) <= 0.5 and abs(0.25 * j - 1.9) <= 0.5
    assert fine.min() < -0.9999


# --------------------------------------------------------------------------------- static features
def test_static_features(tmp_path):
    lat, lon = np.linspace(90, -90, H), np.arange(W) * 360.0 / W
    grid = grid_features(lat, lon, (H, W), num_frequencies=2, add_cos=True)
    phi = torch.deg2rad(torch.tensor(lat, dtype=torch.float32)).view(H, 1).expand(H, W)
    lam = torch.deg2rad(torch.tensor(lon, dtype=torch.float32)).view(1, W).expand(H, W)
    expected = [
        torch.sin(phi),
        torch.sin(lam),
        torch.cos(phi),
        torch.cos(lam),
        torch.sin(2 * phi),
        torch.sin(2 * lam),
        torch.cos(2 * phi),
        torch.cos(2 * lam),
    ]
    torch.testing.assert_close(grid[0], torch.stack(expected))
    unit = grid_features(None, None, (4, 8), num_frequencies=1, add_cos=False)  # makani's fallback coordinates
    torch.testing.assert_close(unit[0, 0, :, 0], torch.sin(torch.arange(4) / 4.0))

    orography, land = _invariants()
    write_invariant(tmp_path / "o.nc", "Z", orography)
    np.testing.assert_array_equal(read_invariant(tmp_path / "o.nc", "Z"), orography)
    oro = orography_feature(orography)[0, 0].double()
    assert abs(float(oro.mean())) < 1e-6 and abs(float(oro.std()) - 1.0) < 1e-5
    lsm = landmask_feature(np.array([[0.0, 0.4], [1.0, 0.99]]))
    np.testing.assert_array_equal(lsm[0].numpy(), [[[1, 1], [0, 1]], [[0, 0], [1, 0]]])  # floor, one-hot
    assert landmask_feature(np.array([[0.0, 0.6]]), "round")[0, 1, 0, 1] == 1


# ------------------------------------------------------------------------------- (6) forward equivalence
def test_identity_filter_is_identity_on_band_limited_fields():
    import torch_harmonics as th

    sht = th.RealSHT(8, 16, lmax=8, mmax=9, grid="legendre-gauss").float()
    isht = th.InverseRealSHT(8, 16, lmax=8, mmax=9, grid="legendre-gauss").float()
    conv = SpectralConvDH(sht, isht, 4)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(4, dtype=torch.complex64).view(1, 4, 4, 1).expand(1, 4, 4, 8))
        field = isht(sht(torch.randn(2, 4, 8, 16)))  # band-limited: a fixed point of the transform pair
        out, residual = conv(field)
    torch.testing.assert_close(out, field, rtol=1e-5, atol=1e-5)
    assert residual is field  # same grid in and out: the skip sees the input itself


def _reference_step(state, xn, times, lat, lon, orography, land):
    """makani's step rebuilt from the state dict with plain torch ops (no hens module), 3 blocks."""
    import torch_harmonics as th

    sd = {k.removeprefix("model."): v for k, v in state.items()}
    gelu = F.gelu
    # CONFIG has no "lat"/"lon" keys, so makani's grid channels use its fallback coordinates i/H and j/W
    phi = (torch.arange(H, dtype=torch.float32) / H).view(-1, 1).expand(H, W)
    lam = (torch.arange(W, dtype=torch.float32) / W).view(1, -1).expand(H, W)
    oro = (orography - orography.min()) / (orography.max() - orography.min())
    oro = torch.tensor(oro)
    oro = (oro - oro.mean()) / (oro.std() + 1e-6)
    sea = torch.tensor(land < 1).float()
    static = torch.stack([torch.sin(phi), torch.sin(lam), torch.sin(2 * phi), torch.sin(2 * lam), oro, sea, 1 - sea])
    cosz = torch.from_numpy(cos_zenith(times, lat, lon)).unsqueeze(1)
    x = torch.cat([xn, cosz, static.unsqueeze(0).expand(xn.shape[0], -1, -1, -1)], dim=1)

    ea = dict(lmax=8, mmax=9, grid="equiangular")
    lg = dict(lmax=8, mmax=9, grid="legendre-gauss")
    down, up = th.RealSHT(H, W, **ea).float(), th.InverseRealSHT(H, W, **ea).float()
    fwd, inv = th.RealSHT(8, 16, **lg).float(), th.InverseRealSHT(8, 16, **lg).float()
    h = F.conv2d(gelu(F.conv2d(x, sd["encoder.fwd.0.weight"], sd["encoder.fwd.0.bias"])), sd["encoder.fwd.2.weight"])
    for i in range(3):
        p = f"blocks.{i}."
        t_in, t_out = (down if i == 0 else fwd), (up if i == 2 else inv)
        coeffs = t_in(h)
        skip = t_out(coeffs) if i in (0, 2) else h
        y = t_out(torch.einsum("bilm,iol->bolm", coeffs, sd[p + "filter.filter.weight"][0]))
        y = gelu(F.instance_norm(y, weight=sd[p + "norm0.weight"], bias=sd[p + "norm0.bias"], eps=1e-6))
        y = F.conv2d(
            gelu(F.conv2d(y, sd[p + "mlp.fwd.0.weight"], sd[p + "mlp.fwd.0.bias"])),
            sd[p + "mlp.fwd.3.weight"],
            sd[p + "mlp.fwd.3.bias"],
        )
        y = F.instance_norm(y, weight=sd[p + "norm1.weight"], bias=sd[p + "norm1.bias"], eps=1e-6)
        h = y + F.conv2d(skip, sd[p + "outer_skip.weight"])
    out = F.conv2d(gelu(F.conv2d(h, sd["decoder.fwd.0.weight"], sd["decoder.fwd.0.bias"])), sd["decoder.fwd.2.weight"])
    return out + F.conv2d(x, sd["residual_transform.weight"])


def test_forward_matches_independent_reference(tmp_path):
    config = {**CONFIG, "num_layers": 3}
    layout = dict(EXPECTED_LAYOUT)
    for name in [k for k in EXPECTED_LAYOUT if k.startswith("model.blocks.0.")]:
        layout[name.replace("blocks.0.", "blocks.2.")] = EXPECTED_LAYOUT[name]
    state = _random_state(layout, seed=3)
    fc = load_forecaster(_package(tmp_path, "three", config, state=state))
    pkg = fc.package
    x = _states(2, seed=4)
    orography, land = _invariants()
    mean, std = torch.from_numpy(MEANS).view(1, 3, 1, 1), torch.from_numpy(STDS).view(1, 3, 1, 1)
    with torch.no_grad():
        got = (fc(x, valid_time=TIMES[1:]) - mean) / std
        want = _reference_step(state, (x - mean) / std, TIMES[1:], pkg.lat, pkg.lon, orography, land)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
