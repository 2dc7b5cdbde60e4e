"""Compose a command's Hydra config (with command-line overrides): the one way every command gets its config.

The config groups live in the top-level ``configs/`` folder of the repository, which is installed as the
``hens.configs`` package data, so the same configs are found from a checkout and from an installed wheel.
``generate.yaml`` and ``diagnose.yaml`` are the primary configs of `hens generate` and `hens diagnose`.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from hens.errors import ConfigError

__all__ = ["compose_config", "config_dir", "resolved_yaml"]


def config_dir() -> Path:
    """The folder holding the Hydra config groups: installed package data first, then the checkout's configs/."""
    package = Path(__file__).resolve().parent.parent  # the hens package
    installed = package / "configs"  # package data of an installed wheel
    if (installed / "generate.yaml").is_file():
        return installed
    checkout = package.parent / "configs"
    if (checkout / "generate.yaml").is_file():
        return checkout
    raise ConfigError("hens config files not found; reinstall hens (pip install .) from a complete checkout")


RETIRED_KEYS = {
    "ensemble.control_member": "ensemble.control: hens (one control, as HENS), per_checkpoint (the old true) or "
    "none (the old false)",
    "model.physics_stirring": "nothing: the demo world's weather is now chaotic (no stochastic stirring) and "
    "model.dynamics=demo_physics is deterministic",
}
"""Keys of earlier versions and what replaced them (named in the unknown-key error)."""


def compose_config(config_name: str, overrides: list[str] | None = None) -> DictConfig:
    """Compose ``<config_name>.yaml`` with Hydra's compose API and the given ``key=value`` overrides.

    Raises:
        ConfigError: a malformed override, an unknown key (naming it and ``hens <config_name> --cfg``), or any
            other composition error, as one line.
    """
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    overrides = list(overrides or [])
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value (e.g. ensemble.n_steps=20)")
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base=None):
            return compose(config_name=config_name, overrides=overrides)
    except (HydraException, OmegaConfBaseException) as err:
        message = " ".join(str(err).split())
        if "is not in struct" in message or "Could not override" in message:
            key = message.split("'")[1] if "'" in message else message
            if key in RETIRED_KEYS:
                raise ConfigError(f"{key} was replaced by {RETIRED_KEYS[key]}; remove {key}") from err
            raise ConfigError(
                f"unknown config key {key!r}; see `hens {config_name} --cfg` for the keys, or add a new one with "
                f"+{key}=..."
            ) from err
        raise ConfigError(f"invalid configuration: {message}") from err


def resolved_yaml(cfg: DictConfig) -> str:
    """The composed config as plain YAML, interpolations resolved: what ``--cfg`` prints and stores record."""
    return OmegaConf.to_yaml(cfg, resolve=True)
