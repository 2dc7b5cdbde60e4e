"""How much HENS's hemispheric rescaling (``ensemble.bred_vector.rescaling=hens``, the default) differs from the
``area_rms`` option, on the demo grid and on the 0.25° grid.

    python scripts/perturbation_rescaling.py [--seed 0]

For each grid (equiangular with poles: 33×64 = the demo world, 721×1440 = ERA5 0.25°) it prints

* ``bias`` — true area-weighted extratropical RMS after the HENS rescaling / T, = √(w̄ / w̄_N)
  (:func:`hens.perturb.hens_norm_bias`); a property of the grid alone, the same for every δ and channel.
  After ``area_rms`` this RMS is exactly T, so it is also the ratio hens / area_rms of the bred vectors'
  extratropical RMS;
* for two test perturbations (white noise, same RMS in both hemispheres, and 2× larger in the south), the
  ratio hens / area_rms of the area-weighted RMS over the tropics (|φ| < 20.25°) and over the globe.

Pure computation in float64 (a few seconds); the numbers are quoted in docs/perturbations.md.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from hens.perturb import BOUNDARY_DEG, hens_norm_bias, rescale


def _area_rms(delta: torch.Tensor, lat: np.ndarray, rows: np.ndarray) -> float:
    """cos φ-weighted RMS of a [nlat, nlon] field over the selected rows."""
    w = np.cos(np.deg2rad(lat[rows]))
    ms = (delta[rows] ** 2).mean(dim=-1).numpy()
    return float(np.sqrt((w * ms).sum() / w.sum()))


def grid_rows(nlat: int, nlon: int, seed: int) -> list[str]:
    """Printed lines for one grid (see module docstring)."""
    lat = np.linspace(90.0, -90.0, nlat)
    bias_n, bias_s = hens_norm_bias(lat)
    lines = [f"{nlat}×{nlon}: extratropical RMS after hens rescaling = {bias_n:.4f} T (N), {bias_s:.4f} T (S)"]
    tropics = np.abs(lat) < BOUNDARY_DEG
    everywhere = np.ones(nlat, dtype=bool)
    for south_factor in (1.0, 2.0):
        gen = torch.Generator().manual_seed(seed)
        delta = torch.randn(1, nlat, nlon, generator=gen, dtype=torch.float64)
        delta[:, lat < 0] *= south_factor
        hens = rescale(delta, 1.0, lat, method="hens")[0]
        area = rescale(delta, 1.0, lat, method="area_rms")[0]
        ratios = [_area_rms(hens, lat, rows) / _area_rms(area, lat, rows) for rows in (tropics, everywhere)]
        lines.append(
            f"  white noise, RMS_S/RMS_N = {south_factor:g}: hens/area_rms RMS ratio tropics {ratios[0]:.4f}, "
            f"globe {ratios[1]:.4f}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the test perturbations")
    args = parser.parse_args()
    for nlat, nlon in ((33, 64), (721, 1440)):
        print("\n".join(grid_rows(nlat, nlon, args.seed)))


if __name__ == "__main__":
    main()
