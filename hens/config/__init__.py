"""Compose Hydra configs (with command-line overrides) and validate them into frozen, typed specs.

* :mod:`hens.config.compose` — :func:`compose_config`, the one way every command composes its config, and
  :func:`resolved_yaml` (what ``--cfg`` prints and stores record).
* :mod:`hens.config.fields` — the one helper set: typed readers (:class:`~hens.config.fields.Kind`), the
  :func:`~hens.config.fields.setting` field declaration and the :class:`~hens.config.fields.Group` base class.
* :mod:`hens.config.generate` — the `hens generate` schema (:class:`GenerateSpec` and its groups).
* :mod:`hens.config.diagnose` — the `hens diagnose` schema (:class:`DiagnoseSpec` and its groups).

Each config group is one frozen dataclass holding its keys' defaults and docs; every validation error is a
one-line :class:`~hens.errors.ConfigError` naming the key and the fix.
"""

from hens.config.compose import compose_config, config_dir, resolved_yaml
from hens.config.diagnose import ClimatologySpec, DaskSpec, DiagnoseSpec, ExtremesSpec, diagnose_spec
from hens.config.generate import (
    DATE_PLACEHOLDER,
    IC_SOURCES,
    PRECISIONS,
    SUPPORTED_DTYPES,
    BredVectorSpec,
    EnsembleSpec,
    GenerateSpec,
    ICSpec,
    LauncherSpec,
    ModelSpec,
    OutputSpec,
    SlurmDiagnoseSpec,
    StatisticsSpec,
    date_path,
    date_tag,
    fingerprint,
    generate_spec,
    select_date,
)

__all__ = [
    "DATE_PLACEHOLDER",
    "IC_SOURCES",
    "PRECISIONS",
    "SUPPORTED_DTYPES",
    "BredVectorSpec",
    "ClimatologySpec",
    "DaskSpec",
    "DiagnoseSpec",
    "EnsembleSpec",
    "ExtremesSpec",
    "GenerateSpec",
    "ICSpec",
    "LauncherSpec",
    "ModelSpec",
    "OutputSpec",
    "SlurmDiagnoseSpec",
    "StatisticsSpec",
    "compose_config",
    "config_dir",
    "date_path",
    "date_tag",
    "diagnose_spec",
    "fingerprint",
    "generate_spec",
    "resolved_yaml",
    "select_date",
]
