"""Read (and, for tests and demos, write) checkpoint packages exactly as NVIDIA makani writes them.

A makani package folder holds::

    config.json                              makani's training parameters, dumped by makani itself (no "hens" key)
    metadata.json                            earth2mip entry point only (optional here)
    global_means.npy, global_stds.npy        float32 (1, C_data, 1, 1): z-score statistics of the dataset channels
    training_checkpoints/best_ckpt_mp0.tar   torch pickle {"model_state": state dict of makani's SingleStepWrapper, ...}
    orography.nc, land_mask.nc               when add_orography / add_landmask: variables "Z" / "LSM" of shape (1, H, W)

How config.json maps onto hens (see :mod:`hens.models.makani_sfno` and :mod:`hens.models.makani_inputs`):

* channels — ``channel_names`` (the model's channels, in order; "2d" is renamed d2m as earth2studio does for the
  HENS packages); ``in_channels`` / ``out_channels`` index
  the dataset channels and must be equal; means/stds are taken at ``in_channels`` when the statistics file
  covers the whole dataset, as makani's ``ModelWrapper`` does.
* grid — ``img_shape_x`` × ``img_shape_y`` (latitude × longitude); coordinates from ``lat``/``lon`` when the
  config has them, else makani's defaults: lat = linspace(90, −90, H), lon = 360·j/W.
* timestep — ``dt · dhours`` hours (``dt`` alone when ``dhours`` is absent, as makani's earth2mip loop).
* architecture — makani's SFNO constructor keywords, read from the same names: ``scale_factor``,
  ``embed_dim``, ``num_layers``, ``mlp_ratio``, ``encoder_layers``, ``encoder_ratio``, ``decoder_ratio``,
  ``activation_function``, ``normalization_layer``, ``hard_thresholding_fraction``, ``max_modes``,
  ``big_skip``, ``use_mlp``, ``model_grid_type``, ``sht_grid_type``; ``N_in_channels`` is the network's input
  width (state + zenith + static features).
* extra inputs — ``add_zenith``, ``add_grid`` (+ ``gridtype``, ``grid_num_frequencies``, ``add_cos_to_grid``),
  ``add_orography``, ``add_landmask`` (+ ``landmask_preprocessing``).  Older packages (makani < 0.2, e.g. the
  published HENS and ``sfno_73ch_small`` ones) have sine-only grid features and no ``add_cos_to_grid`` key;
  newer makani defaults the key to true.  When the key is absent the choice that matches ``N_in_channels`` is
  taken (sine only when ``N_in_channels`` is absent, as earth2studio assumes).

Options for which makani would build something else (another network, filter or operator type, history,
input noise, position embeddings, minmax normalisation, cropping or resampling, ...) are refused with a
:class:`CheckpointError` naming the option, rather than silently building a different model.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hens.errors import CheckpointError
from hens.models.checkpoint import WEIGHTS_RELPATH, CheckpointPackage, check_package_files, read_json

ARCHITECTURE = "makani_sfno"
MAKANI_REQUIRED = ("config.json", "global_means.npy", "global_stds.npy", str(WEIGHTS_RELPATH))
SHT_GRIDS = ("legendre-gauss", "equiangular", "lobatto")

# option: (accepted values, value makani assumes when the key is absent)
_SUPPORTED: dict[str, tuple[tuple[Any, ...], Any]] = {
    "spectral_transform": (("sht",), "sht"),
    "filter_type": (("linear",), "linear"),
    "operator_type": (("dhconv",), "dhconv"),
    "model_grid_type": (("equiangular",), "equiangular"),
    "pos_embed": (("none", None), "none"),
    "factorization": ((None,), None),
    "separable": ((False,), False),
    "bias": ((False,), False),
    "n_history": ((0,), 0),
    "history_normalization_mode": (("none", None), "none"),
    "normalization": (("zscore",), None),
    "input_noise": ((None,), None),
    "bias_correction": ((None,), None),
    "constraints": ((None,), None),
    "add_soiltype": ((False,), False),
    "add_copernicus_emb": ((False,), False),
    "normalize_static_features": ((False,), False),
    "subsampling_factor": ((1,), 1),
    "gridtype": (("sinusoidal", "linear"), "sinusoidal"),
    "landmask_preprocessing": (("floor", "round", "raw"), "floor"),
}


def _none(value: Any) -> Any:
    """makani configs spell a missing value as null, "None" or "none" depending on their origin."""
    return None if value in (None, "None", "null") else value


def is_makani_package(path: str | Path) -> bool:
    """True when ``path/config.json`` exists and was not written by hens (it has no ``"hens"`` key)."""
    config_path = Path(path) / "config.json"
    if not config_path.is_file():
        return False
    try:
        config = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(config, dict) and "hens" not in config


def _check_supported(config: Mapping[str, Any], root: Path) -> None:
    for key, (accepted, default) in _SUPPORTED.items():
        value = _none(config.get(key, default))
        if key in ("pos_embed", "history_normalization_mode") and isinstance(value, str):
            value = value.lower()
        if value not in accepted:
            shown = ", ".join("none" if a is None else str(a) for a in accepted)
            raise CheckpointError(
                f"makani package {root}: option {key}={value!r} is not supported by hens (supported: {shown}); "
                "use a checkpoint trained with the HENS SFNO options"
            )
    nettype = str(config.get("nettype", "SFNO"))
    if nettype.upper() != "SFNO":
        raise CheckpointError(f"makani package {root}: nettype {nettype!r} is not supported; hens runs makani's SFNO")
    target = config.get("target", "default")
    if target == "residual":
        raise CheckpointError(f"makani package {root}: option target='residual' is not supported; hens runs SFNO steps")
    sht_grid = config.get("sht_grid_type", "legendre-gauss")
    if sht_grid not in SHT_GRIDS:
        raise CheckpointError(f"makani package {root}: option sht_grid_type={sht_grid!r} is not supported")
    data_grid = config.get("data_grid_type", config.get("model_grid_type", "equiangular"))
    if data_grid != config.get("model_grid_type", "equiangular"):
        raise CheckpointError(
            f"makani package {root}: option data_grid_type={data_grid!r} differs from model_grid_type; "
            "regridding inputs is not supported"
        )
    if config.get("normalization_layer", "instance_norm") not in ("instance_norm", "none"):
        raise CheckpointError(
            f"makani package {root}: option normalization_layer={config['normalization_layer']!r} is not supported "
            "(supported: instance_norm, none)"
        )
    if config.get("activation_function", "gelu") not in ("gelu", "relu", "silu"):
        raise CheckpointError(
            f"makani package {root}: option activation_function={config['activation_function']!r} is not supported"
        )


def _grid_shape(config: Mapping[str, Any], root: Path) -> tuple[int, int]:
    try:
        shape = (int(config["img_shape_x"]), int(config["img_shape_y"]))
    except KeyError as err:
        raise CheckpointError(f"makani package {root}: config.json lacks {err.args[0]!r}; add the grid size") from err
    for axis, size in zip("xy", shape, strict=True):
        keys = (f"img_shape_{axis}_resampled", f"img_crop_shape_{axis}", f"img_local_shape_{axis}", f"out_shape_{axis}")
        for key in keys:
            value = _none(config.get(key))
            if value is not None and int(value) != size:
                raise CheckpointError(
                    f"makani package {root}: option {key}={value} differs from img_shape_{axis}={size}; "
                    "cropped or resampled models are not supported"
                )
        offset = _none(config.get(f"img_crop_offset_{axis}"))
        if offset not in (None, 0):
            raise CheckpointError(f"makani package {root}: option img_crop_offset_{axis}={offset} is not supported")
    return shape


def _channels_and_stats(config: Mapping[str, Any], root: Path) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    names = config.get("channel_names")
    if not names:
        raise CheckpointError(f"makani package {root}: config.json has no 'channel_names'; add the channel list")
    names = [str(n) for n in names]
    in_ch = config.get("in_channels")
    out_ch = config.get("out_channels", in_ch)
    if in_ch is not None and list(in_ch) != list(out_ch):
        raise CheckpointError(
            f"makani package {root}: in_channels and out_channels differ; hens needs a model that predicts its inputs"
        )
    means = np.load(root / "global_means.npy").astype(np.float32).reshape(-1)
    stds = np.load(root / "global_stds.npy").astype(np.float32).reshape(-1)
    if means.size != stds.size:
        raise CheckpointError(f"makani package {root}: global_means.npy and global_stds.npy differ in size")
    idx = list(range(len(names))) if in_ch is None else [int(i) for i in in_ch]
    if len(names) == len(idx):
        channels = names
    elif max(idx) < len(names):  # channel_names lists the dataset channels, in_channels picks the model's
        channels = [names[i] for i in idx]
    else:
        raise CheckpointError(
            f"makani package {root}: {len(idx)} in_channels but {len(names)} channel_names; fix config.json"
        )
    if means.size == len(channels) and (max(idx) >= means.size or idx != list(range(len(idx)))):
        pass  # statistics already restricted to the model's channels (earth2studio's reading)
    elif max(idx) < means.size:
        means, stds = means[idx], stds[idx]
    else:
        raise CheckpointError(
            f"makani package {root}: global_means.npy has {means.size} channels, fewer than in_channels needs; "
            "use the package's own statistics"
        )
    if means.size != len(channels):
        raise CheckpointError(
            f"makani package {root}: statistics have {means.size} channels but the model has {len(channels)}"
        )
    if not np.all(np.isfinite(stds)) or np.any(stds <= 0):
        raise CheckpointError(f"makani package {root}: global_stds.npy must be finite and positive")
    # HENS packages call 2 m dewpoint "2d"; hens (like earth2studio) names it d2m
    return tuple("d2m" if c == "2d" else c for c in channels), means, stds


def _static_channels(config: Mapping[str, Any], add_cos: bool) -> int:
    count = 0
    if config.get("add_grid", False):
        count += 2
        if config.get("gridtype", "sinusoidal") == "sinusoidal":
            count *= int(config.get("grid_num_frequencies", 1)) * (2 if add_cos else 1)
    if config.get("add_orography", False):
        count += 1
    if config.get("add_landmask", False):
        count += 1 if config.get("landmask_preprocessing", "floor") == "raw" else 2
    return count


def read_makani_package(path: str | Path) -> CheckpointPackage:
    """Read a package written by makani (see the module docstring); weights are loaded later by load_forecaster."""
    root = Path(path)
    check_package_files(root, tuple(MAKANI_REQUIRED), "makani package")
    config = read_json(root / "config.json")
    _check_supported(config, root)
    nlat, nlon = _grid_shape(config, root)
    channels, means, stds = _channels_and_stats(config, root)
    has_latlon = config.get("lat") is not None and config.get("lon") is not None
    lat = np.asarray(config["lat"], np.float64) if has_latlon else np.linspace(90.0, -90.0, nlat)
    lon = np.asarray(config["lon"], np.float64) if has_latlon else np.linspace(0.0, 360.0, nlon, endpoint=False)
    if lat.shape != (nlat,) or lon.shape != (nlon,):
        raise CheckpointError(f"makani package {root}: lat/lon lengths do not match img_shape_x/img_shape_y")
    features = _input_features(config, root, len(channels), lat, lon, has_latlon)
    network = _network_kwargs(config, (nlat, nlon), _input_width(config, root, len(channels), features), len(channels))
    metadata: dict[str, Any] = {}
    if (root / "metadata.json").is_file():
        try:
            metadata = json.loads((root / "metadata.json").read_text())
        except json.JSONDecodeError:
            metadata = {}
    return CheckpointPackage(
        path=root,
        name=root.name,
        channels=channels,
        lat=lat,
        lon=lon,
        timestep_hours=_timestep_hours(config),
        means=means,
        stds=stds,
        architecture=ARCHITECTURE,
        model_kwargs={**network, "features": features},
        extra=dict(metadata.get("hens", {})) if isinstance(metadata.get("hens"), dict) else {},
    )


def _timestep_hours(config: Mapping[str, Any]) -> float:
    """The model step in hours: ``dt · dhours`` (``dt`` alone when ``dhours`` is absent, as makani's earth2mip loop)."""
    dt = float(config.get("dt", 1))
    dhours = _none(config.get("dhours"))
    return dt * float(dhours) if dhours is not None else dt


def _input_features(
    config: Mapping[str, Any], root: Path, n_state: int, lat: np.ndarray, lon: np.ndarray, has_latlon: bool
) -> dict[str, Any]:
    """The extra-input options of :class:`hens.models.makani_inputs.MakaniInputFeatures` (zenith, grid, orography,
    land mask).  ``add_cos_to_grid`` absent (makani < 0.2): the choice that matches ``N_in_channels``."""
    add_zenith = bool(config.get("add_zenith", False))
    n_in = _none(config.get("N_in_channels"))
    if "add_cos_to_grid" in config:
        add_cos = bool(config["add_cos_to_grid"])
    else:
        add_cos = n_in is not None and int(n_in) == n_state + int(add_zenith) + _static_channels(config, True)
    return {
        "n_state": n_state,
        "lat": lat.tolist(),
        "lon": lon.tolist(),
        "add_zenith": add_zenith,
        "add_grid": bool(config.get("add_grid", False)),
        "gridtype": config.get("gridtype", "sinusoidal"),
        "grid_num_frequencies": int(config.get("grid_num_frequencies", 1)),
        "add_cos_to_grid": add_cos,
        "grid_coords": "latlon" if has_latlon else "unit",
        "orography_path": str(root / "orography.nc") if config.get("add_orography", False) else None,
        "landmask_path": str(root / "land_mask.nc") if config.get("add_landmask", False) else None,
        "landmask_preprocessing": config.get("landmask_preprocessing", "floor"),
    }


def _input_width(config: Mapping[str, Any], root: Path, n_channels: int, features: Mapping[str, Any]) -> int:
    """The network's input width: ``N_in_channels``, else state + zenith + static features; checks N_out."""
    n_out = _none(config.get("N_out_channels"))
    if n_out is not None and int(n_out) != n_channels:
        raise CheckpointError(
            f"makani package {root}: N_out_channels={n_out} but the model has {n_channels} channels; fix config.json"
        )
    n_in = _none(config.get("N_in_channels"))
    if n_in is not None:
        return int(n_in)
    return n_channels + int(features["add_zenith"]) + _static_channels(config, bool(features["add_cos_to_grid"]))


def _network_kwargs(
    config: Mapping[str, Any], shape: tuple[int, int], inp_chans: int, out_chans: int
) -> dict[str, Any]:
    """makani's SFNO constructor keywords, read from config.json under the same names with makani's defaults."""
    max_modes = _none(config.get("max_modes"))
    return {
        "inp_shape": list(shape),
        "out_shape": list(shape),
        "inp_chans": inp_chans,
        "out_chans": out_chans,
        "scale_factor": int(config.get("scale_factor", 8)),
        "embed_dim": int(config.get("embed_dim", 32)),
        "num_layers": int(config.get("num_layers", 4)),
        "repeat_layers": int(config.get("repeat_layers", 1)),
        "use_mlp": bool(config.get("use_mlp", True)),
        "mlp_ratio": float(config.get("mlp_ratio", 2.0)),
        "encoder_ratio": float(config.get("encoder_ratio", 1)),
        "decoder_ratio": float(config.get("decoder_ratio", 1)),
        "activation_function": config.get("activation_function", "gelu"),
        "encoder_layers": int(config.get("encoder_layers", 1)),
        "normalization_layer": config.get("normalization_layer", "instance_norm"),
        "hard_thresholding_fraction": float(config.get("hard_thresholding_fraction", 1.0)),
        "max_modes": None if max_modes is None else [int(m) for m in max_modes],
        "big_skip": bool(config.get("big_skip", True)),
        "model_grid_type": config.get("model_grid_type", "equiangular"),
        "sht_grid_type": config.get("sht_grid_type", "legendre-gauss"),
    }


def write_makani_package(
    path: str | Path,
    *,
    config: Mapping[str, Any],
    state_dict: Mapping[str, Any],
    means: np.ndarray,
    stds: np.ndarray,
    orography: np.ndarray | None = None,
    land_mask: np.ndarray | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write a package in makani's on-disk layout (test fixture and demo helper); returns the folder.

    Args:
        config: makani training parameters, written verbatim as config.json (no hens keys are added).
        state_dict: makani ``SingleStepWrapper`` state dict (keys ``model.…``), saved as makani's legacy
            checkpoint ``{"model_state": …, "comm_grid": …}``.
        means / stds: statistics, saved as float32 (1, C, 1, 1).
        orography / land_mask: (H, W) fields written as "Z" / "LSM" of shape (1, H, W) HDF5 files
            (see :func:`hens.models.makani_inputs.write_invariant`).
        metadata: metadata.json content; makani writes only an earth2mip entry point, which is the default.
    """
    import torch

    from hens.models.makani_inputs import write_invariant

    root = Path(path)
    (root / WEIGHTS_RELPATH.parent).mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps(dict(config), indent=4, sort_keys=True))
    entry = {"entrypoint": {"name": "makani.models.model_package:load_time_loop"}}
    meta = dict(metadata) if metadata is not None else entry
    (root / "metadata.json").write_text(json.dumps(meta, indent=4, sort_keys=True))
    means = np.asarray(means, dtype=np.float32)
    stds = np.asarray(stds, dtype=np.float32)
    np.save(root / "global_means.npy", means.reshape(1, -1, 1, 1))
    np.save(root / "global_stds.npy", stds.reshape(1, -1, 1, 1))
    comm_grid = OrderedDict((name, {"size": 1, "rank": 0}) for name in ("model", "spatial", "matmul", "h", "w"))
    torch.save({"model_state": OrderedDict(state_dict), "comm_grid": comm_grid}, root / WEIGHTS_RELPATH)
    if orography is not None:
        write_invariant(root / "orography.nc", "Z", orography)
    if land_mask is not None:
        write_invariant(root / "land_mask.nc", "LSM", land_mask)
    return root
