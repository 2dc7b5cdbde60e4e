"""Hydra composition, overrides and validation errors."""

import hashlib
import json
import subprocess
import sys
from dataclasses import asdict

import numpy as np
import pytest
import yaml
from omegaconf import OmegaConf

from hens.config import (
    DiagnoseSpec,
    GenerateSpec,
    ICSpec,
    compose_config,
    config_dir,
    diagnose_spec,
    fingerprint,
    generate_spec,
    resolved_yaml,
)
from hens.config.climatology import ClimatologyRunSpec, climatology_spec
from hens.config.fields import REQUIRED, join_key, schema_keys
from hens.config.mclimate import MClimateRunSpec, mclimate_spec
from hens.config.skill import SkillRunSpec, skill_spec
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
        (["output.derived=[ivt,dewpoint]"], "output.derived[1]='dewpoint'"),
        (["output.variables=[ivt,z500]", "output.derived=[ivt]"], "output.derived and output.variables both name ivt"),
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


# ------------------------------------------------------------------------------------- one schema, no drift

# Fingerprints and spec dumps of these override sets.  The config package reproduced those of the code before it
# (hens/config.py + hens/diagnostics/spec.py) exactly; the fingerprints were recorded again when the HENS
# perturbation defaults (ensemble.control, bred_vector.rescaling / breeding_times) changed every run's content, and
# the spec dumps when keys were added (verify, bootstrap, writer threads, memory budget, amplitude file, compile,
# diagnose.device; the fingerprints were unchanged by those two).  A
# fingerprint change changes store identity (a resume refuses old stores): make one only on purpose.
GENERATE_CASES = {
    "default": ([], "f60cfae0c42dc061", "3d56a4d5714967a6"),
    "demo_physics": (["model=demo_physics"], "03752fa4673e38c4", "805edd635f1bb076"),
    "hens_ensemble": (["ensemble=hens"], "c933e426f43b08cd", "ceaca09aa68acd30"),
    "keepbits": (
        ["output.keepbits=10", "output.keepbits_by_variable={z500: 13}"],
        "10152aa63123d2b3",
        "6c5d0f393749436b",
    ),
    "members": (["output.members=[0,1]"], "10c5679b9aaa6ff0", "fa50be6098507513"),
    "statistics": (
        ["output.statistics.enabled=true", "output.statistics.thresholds={z500: [55000, 57000]}"],
        "d70344d7838c599e",
        "a20adc639707c63c",
    ),
    "auto_batch": (["ensemble.batch_size=auto", "ensemble.memory_gb=4"], "dc8e1b8b7387cfb8", "875d1eb4dc90cd29"),
    "date_index": (["++ic.date_index=0", 'output.path="x_{date}.zarr"'], "5059597bdf66d13e", "b439c32ab761a1e0"),
    "era5": (
        ["ic=era5", "ic.path=/data/era5.zarr", "ic.layout=wb2", "model.checkpoints=[demo_sfno_s0]"],
        "cf09fbaef3cb6f16",
        "9e5bc995302bc6b2",
    ),
    "derived": (["output.derived=[wind_speed_10m,ivt]"], "983cb65455be2533", "ddadcbb5ed4fc332"),
    "misc": (
        [
            "precision=bf16",
            "output.variables=[z500,u500]",
            "output.dtype=float16",
            "ensemble.bred_vector.amplitude={z500: 60.0}",
            "ensemble.n_perturbations=2",
            "ensemble.batch_size=2",
            "threads=2",
            "seed=7",
            "device=cpu",
            "output.members=none",
            "output.statistics.enabled=true",
        ],
        "c12daf671e8d2e1c",
        "266fd536079dfd76",
    ),
}
DIAGNOSE_CASES = {
    "default": ([], "eb4f546e3d5d6eac"),
    "boxes": (
        [
            "diagnose.variables=[z500]",
            "diagnose.lead_times=[24,120]",
            "diagnose.regions=[tropics]",
            "+diagnose.boxes.europe=[35,70,-10,40]",
            "diagnose.start_dates=['2000-03-01T00:00']",
            "diagnose.extremes.roc_thresholds=21",
            "diagnose.dask.scheduler=distributed",
            "progress=false",
        ],
        "00f5f53f82cad2d0",
    ),
    "era5": (["verification=era5", "diagnose.verification.path=/data/era5.zarr"], "03e21c0eb965e0ff"),
    "climatology": (
        [
            "diagnose.climatology.source=truth",
            "diagnose.climatology.n_quantiles=51",
            "diagnose.climatology.start=2000-01-01",
            "diagnose.climatology.days=30.5",
            "diagnose.climatology.by_month=true",
        ],
        "7e4f878a60415ca8",
    ),
    "dask": (
        [
            "diagnose.dask.jobqueue={kind: slurm, jobs: 2}",
            "diagnose.chunks.lat=8",
            "diagnose.dask.n_workers=3",
            "diagnose.dask.address=tcp://h:8786",
        ],
        "34658851a8fe34d1",
    ),
    "misc": (
        [
            "diagnose.baseline.path=/b.zarr",
            "diagnose.baseline.label=phys",
            "diagnose.extremes.map_lead_times=[24]",
            "diagnose.format=netcdf",
            "diagnose.spectral.grid=legendre-gauss",
            "diagnose.extremes.percentiles=[99,90]",
            "diagnose.seed=3",
            "diagnose.mean.tie_break=low",
            "diagnose.output_dir=/out",
        ],
        "b338204fd3da713e",
    ),
}


def _digest(obj) -> str:
    """A short hash of a spec dump: field names, order, values and types (the resolved YAML included)."""
    return hashlib.sha256(json.dumps(obj, default=str).encode()).hexdigest()[:16]


@pytest.mark.parametrize("name", GENERATE_CASES)
def test_generate_fingerprints_and_specs_are_unchanged(name):
    overrides, expected_fingerprint, expected_spec = GENERATE_CASES[name]
    spec = generate_spec(compose_config("generate", overrides))
    assert fingerprint(spec.fingerprint_fields()) == expected_fingerprint
    assert _digest(asdict(spec)) == expected_spec
    assert (spec.launcher.backend, spec.launcher.timeout_s) == ("auto", 1800.0)


@pytest.mark.parametrize("name", DIAGNOSE_CASES)
def test_diagnose_specs_are_unchanged(name):
    overrides, expected = DIAGNOSE_CASES[name]
    assert _digest(asdict(diagnose_spec(compose_config("diagnose", overrides)))) == expected


SCHEMAS = {
    "generate": (GenerateSpec, generate_spec),
    "diagnose": (DiagnoseSpec, diagnose_spec),
    "climatology": (ClimatologyRunSpec, climatology_spec),
    "mclimate": (MClimateRunSpec, mclimate_spec),
    "skill": (SkillRunSpec, skill_spec),
}


def _group_options(config_name: str) -> list[tuple[str, str]]:
    """(group, option) for every configs/<group>/*.yaml of the groups in the primary config's defaults list."""
    primary = yaml.safe_load((config_dir() / f"{config_name}.yaml").read_text())
    groups = [next(iter(entry)) for entry in primary["defaults"] if isinstance(entry, dict)]
    return [(g, p.stem) for g in groups for p in sorted((config_dir() / g).glob("*.yaml"))]


def _yaml_values(config_name: str, overrides: list[str], leaves: dict) -> dict:
    """Key → value of a composed config, descending into mappings only where the schema has keys below."""

    def walk(node: dict, prefix: str):
        for name, value in node.items():
            key = join_key(prefix, str(name))
            if key not in leaves and isinstance(value, dict) and any(k.startswith(key + ".") for k in leaves):
                yield from walk(value, key)
            else:
                yield key, value

    cfg = compose_config(config_name, overrides)
    return dict(walk(OmegaConf.to_container(cfg, resolve=False, throw_on_missing=False), ""))


@pytest.mark.parametrize("config_name", SCHEMAS)
def test_yaml_and_schema_agree(config_name):
    """Every option of every group composes and validates; every YAML key is a schema key and every schema key
    has a YAML default; schema defaults equal the YAML defaults (the default options', else where set)."""
    spec_cls, build = SCHEMAS[config_name]
    leaves = dict(schema_keys(spec_cls))
    assert all(s.doc for s in leaves.values())
    default_values = _yaml_values(config_name, [], leaves)
    seen, elsewhere = set(default_values), {}
    for group_name, option in _group_options(config_name):
        values = _yaml_values(config_name, [f"{group_name}={option}"], leaves)
        unknown = sorted(set(values) - set(leaves))
        assert not unknown, f"{config_name} with {group_name}={option}: keys the schema ignores: {unknown}"
        fills = [f"{k}=/placeholder" for k, v in values.items() if v == "???"]
        build(compose_config(config_name, [f"{group_name}={option}", *fills]))  # validates through the schema
        seen |= set(values)
        for key, value in values.items():
            if key not in default_values and value != "???":
                elsewhere.setdefault(key, []).append((f"{group_name}/{option}", value))
    missing = sorted(k for k, s in leaves.items() if k not in seen and not s.cli_only)
    assert not missing, f"schema keys with no YAML default: {missing}"
    for key, s in leaves.items():
        if s.default is REQUIRED:
            continue
        found = [("default", default_values[key])] if key in default_values else elsewhere.get(key, [])
        for where, value in found:
            if value != "???":
                assert s.convert(value, key) == s.default, f"{key}: schema default {s.default!r} ≠ {where} {value!r}"


def test_diagnose_cfg_prints_the_resolved_config_like_generate():
    from typer.testing import CliRunner

    from hens.cli import app

    runner = CliRunner()
    out = runner.invoke(app, ["diagnose", "run.zarr", "diagnose.variables=[z500]", "--cfg"])
    assert out.exit_code == 0, out.output
    assert out.stdout == resolved_yaml(compose_config("diagnose", ["diagnose.variables=[z500]"]))
    out = runner.invoke(app, ["generate", "ensemble.n_steps=3", "--cfg"])
    assert out.stdout == resolved_yaml(compose_config("generate", ["ensemble.n_steps=3"]))


def test_data_does_not_import_config():
    code = "import sys, hens.data.sources, hens.data.era5; print(any(m.startswith('hens.config') for m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (["ensemble.bred_vector.amplitude_fraction=abc"], "ensemble.bred_vector.amplitude_fraction='abc' must be"),
        (["ensemble.memory_fraction=1.5"], "ensemble.memory_fraction=1.5 must be a number in (0, 1]"),
        (["output.members=abc"], "output.members='abc' must be all, none, a list or null"),
        (["output.statistics.enabled=1"], "output.statistics.enabled=1 must be true or false"),
        (["launcher=slurm", "launcher.nodes=0"], "launcher.nodes=0 must be an integer ≥ 1"),
        (["ic=era5"], "config key ic.path is required; set ic.path=<ERA5 Zarr store>"),
        (["ic.source=era5"], "ic.path is required for ic.source=era5"),
        (["++ic.date_index=2"], "ic.date_index=2 must be an integer in 0…1"),
    ],
)
def test_schema_errors_name_the_key_and_fix(overrides, needle):
    with pytest.raises(ConfigError) as info:
        generate_spec(compose_config("generate", overrides))
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_ic_spec_checks_its_path_once_for_every_caller():
    with pytest.raises(ConfigError, match="ic.path is required for ic.source=era5"):
        ICSpec(source="era5", start_dates=(np.datetime64("2000-01-06", "ns"),), demo_world=None)
