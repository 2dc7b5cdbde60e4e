"""Inputs for `hens generate` on real formats without a download: an ERA5 Zarr and random-weight makani packages.

    python scripts/device_inputs.py OUT_DIR [--grid 721 1440] [--embed 64] [--layers 4] [--packages 2]

Writes ``OUT_DIR/era5.zarr`` (WeatherBench2 layout, analytic fields from ``tests/helpers/era5.py`` at 6-hourly
times around 2023-06-01) and ``OUT_DIR/checkpoints/seed<k>`` (makani's on-disk layout via
:func:`hens.models.makani_package.write_makani_package`: the test config of ``tests/helpers/makani.py`` with six
channels — u10m, v10m, t2m, msl, z500, t850 — on the chosen grid, random weights scaled by 0.05 so forecasts stay
near the big skip), then prints the `hens generate` overrides that use them, one per line.  Used by
``scripts/device_check.sh``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hens.models.makani_package import read_makani_package, write_makani_package  # noqa: E402
from tests.helpers.era5 import analytic, write_wb2_fixture  # noqa: E402
from tests.helpers.makani import CONFIG  # noqa: E402

CHANNELS = {  # channel → (ERA5 variable, level)
    "u10m": ("10m_u_component_of_wind", None),
    "v10m": ("10m_v_component_of_wind", None),
    "t2m": ("2m_temperature", None),
    "msl": ("mean_sea_level_pressure", None),
    "z500": ("geopotential", 500),
    "t850": ("temperature", 850),
}
START = np.datetime64("2023-06-01T00:00", "ns")
AMPLITUDE = "{u10m: 1.0, v10m: 1.0, t2m: 0.5, msl: 60.0, z500: 40.0, t850: 0.5}"


def write_inputs(out: Path, nlat: int, nlon: int, embed: int, layers: int, n_packages: int, n_steps: int) -> list[str]:
    """Write the ERA5 Zarr and the packages; returns the generate overrides."""
    import torch

    from hens.models.network import build_network

    times = np.arange(
        START - np.timedelta64(18, "h"), START + np.timedelta64(6 * n_steps + 1, "h"), np.timedelta64(6, "h")
    ).astype("datetime64[ns]")
    era5 = write_wb2_fixture(out / "era5.zarr", times=times, lat_n=nlat, lon_n=nlon, lat_ascending=True)
    lat, lon = np.linspace(90.0, -90.0, nlat), np.arange(nlon) * (360.0 / nlon)
    fields = [analytic(var, level, times[:2], lat, lon) for var, level in CHANNELS.values()]
    means = np.array([f.mean() for f in fields], dtype=np.float32)
    stds = np.array([max(f.std(), 1e-3 * abs(f.mean()) + 1e-3) for f in fields], dtype=np.float32)
    config = {
        **CONFIG,
        "channel_names": list(CHANNELS),
        "in_channels": list(range(6)),
        "out_channels": list(range(6)),
        "N_in_channels": 14,
        "N_out_channels": 6,
        "img_shape_x": nlat,
        "img_shape_y": nlon,
        "embed_dim": embed,
        "num_layers": layers,
    }
    rng = np.random.default_rng(0)
    extra = {
        "orography": (rng.random((nlat, nlon)) * 3e4).astype(np.float32),
        "land_mask": (rng.random((nlat, nlon)) > 0.6).astype(np.float32),
    }
    for seed in range(n_packages):
        path = out / "checkpoints" / f"seed{seed}"
        probe = write_makani_package(path, config=config, state_dict={}, means=means, stds=stds, **extra)
        pkg = read_makani_package(probe)
        torch.manual_seed(seed)
        net = build_network(pkg.architecture, pkg.model_kwargs)
        state = {k: 0.05 * v for k, v in net.state_dict().items()}
        write_makani_package(path, config=config, state_dict=state, means=means, stds=stds, **extra)
    return [
        f"model.checkpoint_dir={out / 'checkpoints'}",
        "ic=era5",
        f"ic.path={era5}",
        "ic.start_dates=[2023-06-01T00:00]",
        f"ensemble.n_steps={n_steps}",
        f"ensemble.bred_vector.amplitude={AMPLITUDE}",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--grid", type=int, nargs=2, default=[721, 1440], metavar=("NLAT", "NLON"))
    parser.add_argument("--embed", type=int, default=64)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--packages", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    overrides = write_inputs(args.out, *args.grid, args.embed, args.layers, args.packages, args.steps)
    print("\n".join(overrides))


if __name__ == "__main__":
    main()
