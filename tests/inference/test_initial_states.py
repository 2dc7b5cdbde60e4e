"""Member initial states: breeding analysis times, explicit amplitudes, the noise-resolution warning, and the
config keys of the HENS-faithful perturbation options."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from hens.config import BredVectorSpec, compose_config, generate_spec
from hens.ensemble.plan import EnsembleLayout
from hens.errors import ConfigError, HensError
from hens.inference.members import InitialStates, unresolved_length_scale
from hens.perturb import breeding_offsets

CHANNELS = ("z500", "u500", "v500")
T0 = np.datetime64("2000-01-16T00:00", "ns")
DT = np.timedelta64(6, "h")


def _bred(**kw) -> BredVectorSpec:
    args = dict(
        n_cycles=3,
        amplitude_fraction=0.35,
        amplitude=None,
        seed_channels=("z500",),
        noise_length_scale_km=500.0,
        hemisphere_boundary_deg=20.25,
        nonnegative_channels=(),
    )
    args.update(kw)
    return BredVectorSpec(**args)


def _initial(bred: BredVectorSpec, reads: list | None = None) -> InitialStates:
    def source_states(times: np.ndarray) -> np.ndarray:
        if reads is not None:
            reads.extend(times.tolist())
        hours = (times - T0) / np.timedelta64(1, "h")
        return np.broadcast_to(hours[:, None, None, None], (len(times), 3, 9, 16)).astype(np.float32)

    return InitialStates(
        source_states=source_states,
        init_times=[T0],
        layout=EnsembleLayout(1, 2),
        bred=bred,
        global_seed=1,
        channels=CHANNELS,
        lat=np.linspace(90, -90, 9),
        device=torch.device("cpu"),
    )


def test_breeding_offsets_hens_and_earth2studio() -> None:
    assert breeding_offsets(3) == breeding_offsets(3, "hens") == (2, 1, 0)  # t−12 h, t−6 h, t
    assert breeding_offsets(3, "earth2studio") == (3, 2, 1)  # t−18 h … t−6 h
    assert breeding_offsets(1) == (0,)
    with pytest.raises(ValueError, match="hens, earth2studio"):
        breeding_offsets(3, "lagged")


@pytest.mark.parametrize("mode, hours", [("hens", [-12, -6, 0]), ("earth2studio", [-18, -12, -6])])
def test_analyses_read_for_breeding(mode: str, hours: list[int]) -> None:
    reads: list = []
    initial = _initial(_bred(breeding_times=mode), reads)
    expected = [T0 + np.timedelta64(h, "h") for h in hours]
    assert initial.breeding_times(0, DT) == expected
    x0, before = initial.analyses(0, DT)
    assert before[:, 0, 0, 0].tolist() == [float(h) for h in hours]  # oldest first, valid at those hours
    assert float(x0[0, 0, 0]) == 0.0
    read_hours = sorted({int((np.datetime64(t, "ns") - T0) / np.timedelta64(1, "h")) for t in reads})
    assert read_hours == sorted({*hours, 0})  # nothing else is read


def test_explicit_amplitude_must_name_every_channel() -> None:
    with pytest.raises(HensError) as err:
        _initial(_bred(amplitude={"z500": 60.0}))
    message = str(err.value)
    assert "\n" not in message and "u500, v500" in message and "amplitude=null" in message
    with pytest.raises(HensError, match="unknown channel.*t850"):
        _initial(_bred(amplitude={"z500": 60.0, "u500": 1.0, "v500": 1.0, "t850": 0.5}))
    full = _initial(_bred(amplitude={"z500": 60.0, "u500": 0.0, "v500": 1.5}))
    assert full.target_amplitude(None).tolist() == [60.0, 0.0, 1.5]


def test_length_scale_warning_rule(caplog) -> None:
    # rule: ℓ < 2 · 2πR / n_lon (two grid spacings at the equator)
    assert unresolved_length_scale(500.0, 1440) is None  # 0.25°: 2Δx ≈ 56 km
    assert unresolved_length_scale(1300.0, 64) is None  # 5.625°: 2Δx ≈ 1251 km
    message = unresolved_length_scale(500.0, 64)
    assert message and "noise_length_scale_km=500" in message and "1251 km" in message and "\n" not in message
    with caplog.at_level(logging.WARNING, logger="hens.generate"):
        _initial(_bred()).warn_unresolved_noise(64)
        _initial(_bred()).warn_unresolved_noise(1440)
    assert [r.getMessage() for r in caplog.records] == [message]


def test_config_keys_defaults_and_errors() -> None:
    spec = generate_spec(compose_config("generate"))
    assert spec.ensemble.control == "hens"
    assert (spec.ensemble.bred_vector.rescaling, spec.ensemble.bred_vector.breeding_times) == ("hens", "hens")
    fields = spec.fingerprint_fields()["ensemble"]
    assert fields["control"] == "hens" and fields["bred_vector"]["rescaling"] == "hens"
    other = generate_spec(
        compose_config(
            "generate",
            [
                "ensemble.control=per_checkpoint",
                "ensemble.bred_vector.rescaling=area_rms",
                "ensemble.bred_vector.breeding_times=earth2studio",
            ],
        )
    )
    assert other.ensemble.control == "per_checkpoint" and other.ensemble.bred_vector.rescaling == "area_rms"
    assert other.ensemble.bred_vector.breeding_times == "earth2studio"
    for override, needle in [
        ("ensemble.control=all", "ensemble.control='all' must be one of hens, per_checkpoint, none"),
        ("ensemble.bred_vector.rescaling=rms", "ensemble.bred_vector.rescaling='rms' must be one of hens, area_rms"),
        ("ensemble.bred_vector.breeding_times=t0", "breeding_times='t0' must be one of hens, earth2studio"),
        ("ensemble.control_member=true", "replaced by ensemble.control"),
    ]:
        with pytest.raises(ConfigError, match=needle.replace("(", r"\(")):
            generate_spec(compose_config("generate", [override]))
