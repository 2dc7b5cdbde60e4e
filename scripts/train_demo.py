"""Train the demo world's SFNO checkpoints and write them as checkpoint packages (and the demo climatology).

    python scripts/train_demo.py --prepare                 # truth of the training world + hens/demo/climatology.npz
    python scripts/train_demo.py --seeds 0 1 --steps 1200  # train (several processes may train different seeds)

Reproducible: the training truth is an independent trajectory of the demo world's physics (the default
DemoWorldSpec with ``seed=1`` and an epoch in 1990, so forecasts verified on the default world in 2000 are
out-of-sample); each checkpoint differs from the others only by its seed (initial weights and batch order), and
trains for a fixed number of optimiser steps on one thread (bit for bit on one machine).  Each model:
torch-harmonics' SFNO on the 33×64 equiangular grid, trained on normalised one-step targets (MSE), starting from
persistence (zero last decoder layer), loss weighted by the inverse variance of each channel's 6-h change, the
last 20 % of steps on two-step rollouts for stability; AdamW with a cosine learning rate.

Skill is measured on held-out validation truth (the training world 10 days after the training period): forecasts
start from *analyses* (truth + the demo world's analysis error, as `hens generate` starts) and are verified
against the truth.  Printed and stored in each package's metadata: latitude-weighted RMSE and anomaly
correlation (ACC, anomalies from the training truth's per-grid-point mean) by lead for the model, persistence
(of the analysis) and climatology (the training mean), and the 48-h RMSE per channel (the bred vectors' amplitude).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from hens.demo.world import DEMO_CHANNELS, DemoWorldSpec, analysis_states, truth_states, with_changes
from hens.models.package import write_package

TRAIN_WORLD = with_changes(DemoWorldSpec(), seed=1, epoch="1990-01-01T00:00")
MODEL_KWARGS = {
    "img_size": [33, 64],
    "grid": "equiangular",
    "grid_internal": "legendre-gauss",
    "scale_factor": 1,
    "in_chans": len(DEMO_CHANNELS),
    "out_chans": len(DEMO_CHANNELS),
    "embed_dim": 32,
    "num_layers": 4,
    "residual_prediction": True,
}
LEADS_REPORTED = (1, 4, 8, 12, 20, 28, 40)  # 6-h steps: 6 h, 1, 2, 3, 5, 7, 10 days


def series_times(days: float, offset_days: float = 0.0) -> np.ndarray:
    start = np.datetime64(TRAIN_WORLD.epoch, "ns") + np.timedelta64(int(offset_days * 24), "h")
    return start + np.arange(int(days * 4)) * np.timedelta64(6, "h")


def lat_weights(lat_deg: np.ndarray) -> torch.Tensor:
    w = np.cos(np.deg2rad(lat_deg))
    return torch.as_tensor(w / w.mean(), dtype=torch.float32).view(1, 1, -1, 1)


def scores_by_lead(
    step, analyses: torch.Tensor, truth: torch.Tensor, starts: list[int], n_lead: int, clim: torch.Tensor
) -> dict[str, np.ndarray]:
    """Latitude-weighted RMSE and ACC ``[n_lead + 1, C]`` of rollouts started from ``analyses[starts]`` and verified
    against ``truth``; ``step`` maps ``[B, C, H, W]`` → the next state; ``clim`` ``[1, C, H, W]`` the climate mean."""
    w = lat_weights(TRAIN_WORLD.lat())
    x = analyses[starts]
    rmse, acc = [], []
    with torch.no_grad():
        for k in range(n_lead + 1):
            if k:
                x = step(x)
            target = truth[[s + k for s in starts]]
            rmse.append(((x - target) ** 2 * w).mean(dim=(0, 2, 3)).sqrt().numpy())
            fa, ta = x - clim, target - clim
            num = (fa * ta * w).sum(dim=(2, 3))
            den = ((fa**2 * w).sum(dim=(2, 3)) * (ta**2 * w).sum(dim=(2, 3))).sqrt()
            acc.append((num / den).mean(dim=0).numpy())
    return {"rmse": np.array(rmse), "acc": np.array(acc)}


def train_one(seed: int, data: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, total_steps: int):
    """One SFNO trained for ``total_steps`` optimiser steps (batch 16) on normalised ``data`` ``[T, C, H, W]``."""
    from torch_harmonics.examples.models import SphericalFourierNeuralOperator

    torch.manual_seed(seed)
    net = SphericalFourierNeuralOperator(**{**MODEL_KWARGS, "img_size": tuple(MODEL_KWARGS["img_size"])})
    with torch.no_grad():  # start as persistence: the residual connection carries x, the decoder adds 0
        net.decoder[-1].weight.zero_()
    norm = (data - mean) / std
    # weight each channel by the inverse variance of its normalised 6-h change: the network learns the small
    # tendency on top of the residual connection, so that is the scale its errors must be measured in
    tendency_std = (norm[1:] - norm[:-1]).std(dim=(0, 2, 3)).view(1, -1, 1, 1)
    weights = lat_weights(TRAIN_WORLD.lat()) / tendency_std**2
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.0)
    gen = torch.Generator().manual_seed(1000 + seed)
    start = time.perf_counter()
    loss = torch.zeros(())
    for steps in range(total_steps):
        for group in opt.param_groups:
            group["lr"] = 1e-3 * 0.5 * (1 + math.cos(math.pi * steps / total_steps))
        idx = torch.randint(0, norm.shape[0] - 2, (16,), generator=gen)
        x, y1, y2 = norm[idx], norm[idx + 1], norm[idx + 2]
        pred = net(x)
        loss = ((pred - y1) ** 2 * weights).mean()
        if steps >= int(0.8 * total_steps):
            loss = 0.5 * loss + 0.5 * ((net(pred) - y2) ** 2 * weights).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    return net, time.perf_counter() - start, float(loss.detach())


CLIMATOLOGY_PERCENTILES = (90.0, 95.0, 99.0, 99.9)
CLIMATOLOGY_LEVELS = 101


def write_climatology(train: np.ndarray, path: Path) -> None:
    """Pooled percentiles and M-climate quantiles of the training truth at every grid point (see
    hens.diagnostics.verification.climatology); the demo world is stationary (perpetual equinox, no diurnal
    cycle), so months and hours are pooled.  Shipped so `hens diagnose` needs no long truth run."""
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


def table_row(label: str, values: np.ndarray, fmt: str) -> str:
    return f"{label:<26}" + "".join(format(values[k], fmt).rjust(8) for k in LEADS_REPORTED)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--out", type=Path, default=Path("hens/demo/checkpoints"))
    parser.add_argument("--train-days", type=float, default=365.0)
    parser.add_argument("--valid-days", type=float, default=60.0)
    parser.add_argument("--steps", type=int, default=1200, help="optimiser steps per model (batch 16)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--prepare", action="store_true", help="only compute the truth and write the climatology")
    parser.add_argument("--json", type=Path, default=None, help="also write the skill tables here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    train = torch.as_tensor(truth_states(TRAIN_WORLD, series_times(args.train_days)))
    valid_times = series_times(args.valid_days, offset_days=args.train_days + 10)
    valid = torch.as_tensor(truth_states(TRAIN_WORLD, valid_times))
    valid_analyses = torch.as_tensor(analysis_states(TRAIN_WORLD, valid_times))
    print(f"truth: {train.shape[0]} training, {valid.shape[0]} validation samples in {time.perf_counter() - t0:.0f} s")
    if args.prepare:
        write_climatology(train.numpy(), Path("hens/demo/climatology.npz"))
        return
    mean = train.mean(dim=(0, 2, 3), keepdim=True)[0:1]
    std = train.std(dim=(0, 2, 3), keepdim=True)[0:1]
    clim = train.mean(dim=0, keepdim=True)
    starts = list(range(0, valid.shape[0] - 41, 6))
    persistence = scores_by_lead(lambda x: x, valid_analyses, valid, starts, 40, clim)
    climatology = scores_by_lead(lambda x: clim.expand_as(x), valid_analyses, valid, starts, 40, clim)
    z = DEMO_CHANNELS.index("z500")
    print(f"{'z500 (lead h)':<26}" + "".join(f"{6 * k:>8}" for k in LEADS_REPORTED))
    print(table_row("persistence RMSE", persistence["rmse"][:, z], ".0f"))
    print(table_row("climatology RMSE", climatology["rmse"][:, z], ".0f"))
    print(table_row("persistence ACC", persistence["acc"][:, z], ".3f"))
    results = {"persistence": persistence, "climatology": climatology}
    for seed in args.seeds:
        net, seconds, loss = train_one(seed, train, mean, std, args.steps)

        def step(x, net=net):
            return net((x - mean) / std) * std + mean

        scores = scores_by_lead(step, valid_analyses, valid, starts, 40, clim)
        results[f"seed{seed}"] = scores
        print(table_row(f"seed {seed} RMSE", scores["rmse"][:, z], ".0f"))
        print(table_row(f"seed {seed} ACC", scores["acc"][:, z], ".3f") + f"   ({seconds:.0f} s, loss {loss:.4f})")
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
                "rmse_48h": {c: float(scores["rmse"][8, i]) for i, c in enumerate(DEMO_CHANNELS)},
                "rmse_24h": {c: float(scores["rmse"][4, i]) for i, c in enumerate(DEMO_CHANNELS)},
                "persistence_rmse_24h": {c: float(persistence["rmse"][4, i]) for i, c in enumerate(DEMO_CHANNELS)},
                "train": {
                    "seed": seed,
                    "optimizer_steps": args.steps,
                    "seconds": round(seconds, 1),
                    "train_days": args.train_days,
                    "world_seed": TRAIN_WORLD.seed,
                    "epoch": TRAIN_WORLD.epoch,
                },
            },
        )
    if args.json:
        plain = {k: {m: v.tolist() for m, v in s.items()} for k, s in results.items()}
        args.json.write_text(json.dumps({"channels": list(DEMO_CHANNELS), "lead_steps_6h": 40, **plain}))
    print(f"total wall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
