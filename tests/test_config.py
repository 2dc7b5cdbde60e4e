"""Hydra composition, overrides and validation errors."""

import pytest

from hens.config import compose_config, config_dir, generate_spec
from hens.errors import ConfigError


def test_default_config_composes_and_validates():
    spec = generate_spec(compose_config("generate"))
    assert spec.model.checkpoint_dir == "builtin:demo"
    assert spec.ensemble.n_steps >= 40 and len(spec.ic.start_dates) >= 2
    assert (2 * spec.ensemble.n_perturbations) % spec.ensemble.batch_size == 0
    assert (config_dir() / "generate.yaml").is_file()


def test_overrides_apply_like_hydra():
    spec = generate_spec(
        compose_config(
            "generate", ["ensemble.n_perturbations=8", "output.path=run.zarr", "ic.start_dates=[2000-03-02T00:00]"]
        )
    )
    assert spec.ensemble.n_perturbations == 8
    assert spec.output.path == "run.zarr"
    assert len(spec.ic.start_dates) == 1


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (["ensemble.nope=1"], "unknown config key 'ensemble.nope'"),
        (["ensemble.batch_size=3"], "ensemble.batch_size=3 must divide"),
        (["ensemble.n_steps=0"], "ensemble.n_steps=0 must be an integer"),
        (["ic.start_dates=[notadate]"], "not an ISO 8601"),
        (["output.dtype=int8"], "output.dtype='int8' is not supported"),
        (["device=tpu"], "device='tpu'"),
        (["seed=-1"], "seed=-1"),
        (["ensemble.n_steps"], "not of the form key=value"),
        (["model=doesnotexist"], "invalid configuration"),
    ],
)
def test_bad_values_name_the_key(overrides, needle):
    with pytest.raises(ConfigError) as info:
        generate_spec(compose_config("generate", overrides))
    assert needle in str(info.value)
    assert "\n" not in str(info.value)
