"""Train the demo world's SFNO checkpoints and write them as checkpoint packages.

    python scripts/train_demo.py [--seeds 0 1 2 3] [--out hens/demo/checkpoints] [--minutes-per-model 2]

Reproducible: the training truth is an independent trajectory of the demo world's physics (the default
DemoWorldSpec with ``seed=1`` and an epoch in 1990, so forecasts verified on the default world in 2000 are
out-of-sample); each checkpoint differs from the others only by its seed (initial weights and batch order).
Each model: torch-harmonics' SFNO on the 33×64 equiangular grid, trained on normalised one-step targets (MSE),
starting from persistence (zero last decoder layer), loss weighted by the inverse variance of each
channel's 6-h change, then briefly on two-step rollouts for stability, for a fixed number of optimiser
steps.  Prints RMSE vs lead
against persistence on held-out truth and stores the 48-h RMSE per channel (the bred vectors' amplitude) in
each package's metadata.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from hens.demo.world import DEMO_CHANNELS, DemoWorldSpec, truth_states
from hens.models.package import write_package

TRAIN_WORLD = replace(DemoWorldSpec(), seed=1, epoch="1990-01-01T00:00")
MODEL_KWARGS = {
    "img_size": [33, 64],
    "grid": "equiangular",
    "grid_internal": "legendre-gauss",
    "scale_factor": 1,
    "in_chans": 3,
    "out_chans": 3,
    "embed_dim": 32,
    "num_layers": 4,
    "residual_prediction": True,
}


def truth_series(days: float, offset_days: float = 0.0) -> np.ndarray:
    epoch = np.datetime64(TRAIN_WORLD.epoch, "ns")
    start = epoch + np.timedelta64(int(offset_days * 24), "h")
    times = start + np.arange(int(days * 4)) * np.timedelta64(6, "h")
    return truth_states(TRAIN_WORLD, times)


def lat_weights(lat_deg: np.ndarray) -> torch.Tensor:
    w = np.cos(np.deg2rad(lat_deg))
    return torch.as_tensor(w / w.mean(), dtype=torch.float32).view(1, 1, -1, 1)


def rmse_by_lead(step, data: torch.Tensor, starts: list[int], n_lead: int, weights: torch.Tensor) -> np.ndarray:
    """Latitude-weighted RMSE [n_lead + 1, C] of rollouts from ``starts`` (``step`` maps [B, C, H, W])."""
    x = data[starts]
    errs = []
    with torch.no_grad():
        for k in range(n_lead + 1):
            if k:
                x = step(x)
            target = data[[s + k for s in starts]]
            errs.append(((x - target) ** 2 * weights).mean(dim=(0, 2, 3)).sqrt().numpy())
    return np.array(errs)


def train_one(seed: int, data: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, seconds: float) -> tuple:
    from torch_harmonics.examples.models import SphericalFourierNeuralOperator

    torch.manual_seed(seed)
    net = SphericalFourierNeuralOperator(**{**MODEL_KWARGS, "img_size": tuple(MODEL_KWARGS["img_size"])})
    with torch.no_grad():  # start as persistence: the residual connection carries x, the decoder adds 0
        net.decoder[-1].weight.zero_()
    norm = (data - mean) / std
    # weight each channel by the inverse variance of its normalised 6-h change: the network learns the small
    # tendency on top of the residual connection, so that is the scale its errors must be measured in
    tendency_std = (norm[1:] - norm[:-1]).std(dim=(0, 2, 3)).view(1, -1, 1, 1)
    weights = lat_weights(np.linspace(90, -90, 33)) / tendency_std**2
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.0)
    gen = torch.Generator().manual_seed(1000 + seed)
    n = norm.shape[0]
    batch = 16
    start = time.perf_counter()
    steps = 0
    # a fixed number of optimiser steps calibrated from the first 20 steps, so runs are reproducible
    total_steps = None
    while total_steps is None or steps < total_steps:
        two_step = total_steps is not None and steps >= int(0.8 * total_steps)
        idx = torch.randint(0, n - 2, (batch,), generator=gen)
        x, y1, y2 = norm[idx], norm[idx + 1], norm[idx + 2]
        pred = net(x)
        loss = ((pred - y1) ** 2 * weights).mean()
        if two_step:
            loss = 0.5 * loss + 0.5 * ((net(pred) - y2) ** 2 * weights).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
        if steps == 20 and total_steps is None:
            per_step = (time.perf_counter() - start) / 20
            total_steps = int(seconds / (per_step * 1.15) // 50 * 50) or 50
            for group in opt.param_groups:
                group["initial_lr"] = group["lr"]
        if total_steps is not None:
            frac = steps / total_steps
            for group in opt.param_groups:
                group["lr"] = group["initial_lr"] * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))
    net.eval()
    return net, steps, time.perf_counter() - start, float(loss.detach())


CLIMATOLOGY_PERCENTILES = (90.0, 95.0, 99.0, 99.9)
CLIMATOLOGY_LEVELS = 101


def write_climatology(train: np.ndarray, path: Path) -> None:
    """Pooled percentiles and M-climate quantiles of the training truth at every grid point (see
    hens.diagnostics.verification.climatology); the demo world is stationary (no seasons, no diurnal cycle), so
    months and hours are pooled.  Shipped so `hens diagnose` needs no long truth run."""
    import xarray as xr

    from hens.diagnostics.verification.climatology import build_climatology

    times = np.datetime64(TRAIN_WORLD.epoch, "ns") + np.arange(train.shape[0]) * np.timedelta64(6, "h")
    truth = xr.Dataset(
        {c: (("time", "lat", "lon"), train[:, i]) for i, c in enumerate(DEMO_CHANNELS)},
        coords={"time": times, "lat": TRAIN_WORLD.lat(), "lon": TRAIN_WORLD.lon()},
    )
    clim = build_climatology(
        truth,
        percentiles=CLIMATOLOGY_PERCENTILES,
        quantile_levels=np.linspace(0, 1, CLIMATOLOGY_LEVELS),
        by_month=False,
        by_hour=False,
    )
    clim.attrs["source"] = f"demo world training truth ({train.shape[0]} samples, world seed {TRAIN_WORLD.seed})"
    arrays = {name: clim[name].values for name in clim.data_vars}
    arrays.update({f"coord_{name}": clim[name].values for name in clim.coords})
    np.savez_compressed(path, **arrays)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--out", type=Path, default=Path("hens/demo/checkpoints"))
    parser.add_argument("--train-days", type=float, default=365.0)
    parser.add_argument("--valid-days", type=float, default=60.0)
    parser.add_argument("--minutes-per-model", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--climatology-only", action="store_true", help="only (re)write hens/demo/climatology.npz")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    train = torch.as_tensor(truth_series(args.train_days))
    valid = torch.as_tensor(truth_series(args.valid_days, offset_days=args.train_days + 10))
    write_climatology(train.numpy(), Path("hens/demo/climatology.npz"))
    if args.climatology_only:
        return
    print(
        f"truth: {train.shape[0]} training and {valid.shape[0]} validation samples in {time.perf_counter() - t0:.0f} s"
    )
    mean = train.mean(dim=(0, 2, 3), keepdim=True)[0:1]
    std = train.std(dim=(0, 2, 3), keepdim=True)[0:1]
    weights = lat_weights(TRAIN_WORLD.lat())
    starts = list(range(0, valid.shape[0] - 41, 6))
    persistence = rmse_by_lead(lambda x: x, valid, starts, 40, weights)
    leads = [1, 4, 8, 20, 40]
    print("lead (h):            " + "".join(f"{6 * k:>9}" for k in leads))
    print("persistence z500     " + "".join(f"{persistence[k, 0]:>9.0f}" for k in leads))
    for seed in args.seeds:
        net, steps, seconds, loss = train_one(seed, train, mean, std, args.minutes_per_model * 60)

        def step(x, net=net):
            return net((x - mean) / std) * std + mean

        err = rmse_by_lead(step, valid, starts, 40, weights)
        finite60 = bool(torch.isfinite(torch.as_tensor(rmse_by_lead(step, valid, starts[:4], 60, weights))).all())
        print(
            f"seed {seed} z500        "
            + "".join(f"{err[k, 0]:>9.0f}" for k in leads)
            + f"   u500@48h {err[8, 1]:.2f}  ({steps} steps, {seconds:.0f} s, loss {loss:.4f}, "
            f"60-step finite {finite60})"
        )
        write_package(
            args.out / f"demo_sfno_s{seed}",
            state_dict=net.state_dict(),
            channels=DEMO_CHANNELS,
            lat=TRAIN_WORLD.lat(),
            lon=TRAIN_WORLD.lon(),
            timestep_hours=6.0,
            means=mean.numpy().reshape(-1),
            stds=std.numpy().reshape(-1),
            model_kwargs=MODEL_KWARGS,
            extra={
                "rmse_48h": {c: float(err[8, i]) for i, c in enumerate(DEMO_CHANNELS)},
                "rmse_24h": {c: float(err[4, i]) for i, c in enumerate(DEMO_CHANNELS)},
                "persistence_rmse_24h": {c: float(persistence[4, i]) for i, c in enumerate(DEMO_CHANNELS)},
                "train": {
                    "seed": seed,
                    "optimizer_steps": steps,
                    "seconds": round(seconds, 1),
                    "train_days": args.train_days,
                    "world_seed": TRAIN_WORLD.seed,
                    "epoch": TRAIN_WORLD.epoch,
                },
            },
        )
    print(f"total wall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
