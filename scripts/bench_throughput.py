"""Benchmark the rollout engine against a plain loop over torch-harmonics' reference SFNO, in one run.

    python scripts/bench_throughput.py [--device cpu|cuda] [--size small|fcn2-small|hens] [--steps 4]
           [--batch 4] [--compile none,default,reduce-overhead] [--json bench_results/throughput.json]

Both sides run the same network (torch-harmonics' example ``SphericalFourierNeuralOperator`` with random weights)
on the same random initial states:

- **plain loop**: one member at a time (batch 1), ``x ← net(x)`` — the reference's way — in fp32, TF32 and bf16
  autocast; its best mode is the baseline.
- **hens**: the same network inside a hens :class:`~hens.models.forecaster.Forecaster` (normalisation included),
  ``--batch`` members at once through :func:`hens.inference.rollout.rollout`, with every state copied to the host
  as `hens generate` does when writing (non-blocking copies into lead-chunk buffers), in each precision.

- **hens + compile** (``--compile``): the hens engine in fp32 with the model step under ``torch.compile`` in each
  listed mode (``compile`` of `hens generate`; ``reduce-overhead`` adds CUDA graphs on a GPU), next to the eager
  hens row of the same run; the compilation's seconds (the warm-up call) are reported apart.

Reported per mode: member-steps/s (best of ``--repeats`` after a warm-up), the speed-up over the plain loop's
best mode, and the error after ``--steps`` steps against the fp32 plain loop: max |Δ| / std of the fp32 state.
Sizes: ``small`` (CPU-friendly: 16 channels, 64×128, embed 64, 4 blocks), ``fcn2-small`` (74 channels,
721×1440, embed 256, 8 blocks, scale factor 3, ≈128 M parameters) and ``hens`` (embed 620, 8 blocks, scale
factor 2, ≈1.1 B).  Writes the table, the sizes and the machine as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

SIZES = {
    "small": {"channels": 16, "img": (64, 128), "embed_dim": 64, "num_layers": 4, "scale_factor": 2},
    "fcn2-small": {"channels": 74, "img": (721, 1440), "embed_dim": 256, "num_layers": 8, "scale_factor": 3},
    "hens": {"channels": 74, "img": (721, 1440), "embed_dim": 620, "num_layers": 8, "scale_factor": 2},
}
MODES = ("fp32", "tf32", "bf16")


def build_network(size: dict, device: torch.device) -> torch.nn.Module:
    from torch_harmonics.examples.models import SphericalFourierNeuralOperator

    torch.manual_seed(0)
    net = SphericalFourierNeuralOperator(
        img_size=size["img"],
        in_chans=size["channels"],
        out_chans=size["channels"],
        embed_dim=size["embed_dim"],
        num_layers=size["num_layers"],
        scale_factor=size["scale_factor"],
    )
    return net.to(device).eval()


def set_mode(mode: str) -> None:
    torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
    torch.backends.cudnn.allow_tf32 = mode == "tf32"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_loop(net: torch.nn.Module, x0: torch.Tensor, steps: int, mode: str) -> tuple[float, torch.Tensor]:
    """Members one at a time; returns (seconds, final states)."""
    set_mode(mode)
    device = x0.device
    finals = []
    sync(device)
    start = time.perf_counter()
    with torch.inference_mode():
        for m in range(x0.shape[0]):
            x = x0[m : m + 1]
            for _ in range(steps):
                if mode == "bf16":
                    with torch.autocast(device.type, dtype=torch.bfloat16):
                        x = net(x).float()
                else:
                    x = net(x)
            finals.append(x)
    sync(device)
    return time.perf_counter() - start, torch.cat(finals)


def hens_engine(forecaster, x0: torch.Tensor, steps: int, mode: str, batch: int) -> tuple[float, torch.Tensor]:
    """hens' rollout with host copies of every state; returns (seconds, final states)."""
    from hens.inference.rollout import rollout

    set_mode(mode)
    forecaster.precision = mode
    device = x0.device
    finals = []
    sync(device)
    start = time.perf_counter()
    for b in range(0, x0.shape[0], batch):
        host: list[torch.Tensor] = []
        last: list[torch.Tensor] = []

        def on_step(k: int, state: torch.Tensor, host=host, last=last) -> None:
            host.append(state.to("cpu", non_blocking=True))
            if k == steps:
                last.append(state)

        rollout(forecaster, x0[b : b + batch], steps, on_step)
        finals.append(last[0])
    sync(device)
    return time.perf_counter() - start, torch.cat(finals)


def compile_rows(net, size, device, x0, args, reference: torch.Tensor, best) -> list[dict]:
    """One fp32 row per non-``none`` mode of ``--compile``: hens' engine with the step compiled in that mode."""
    from hens.errors import HensError
    from hens.models.compile import check_compile_available

    rows = []
    for mode in [m for m in args.compile.split(",") if m and m != "none"]:
        row = {"engine": "hens", "mode": "fp32", "compile": mode, "member_steps_per_s": float("nan")}
        try:
            check_compile_available(mode, device)
            torch._dynamo.reset()
            forecaster = make_forecaster(net, size, device)
            forecaster.set_compile(mode)
            start = time.perf_counter()
            hens_engine(forecaster, x0, args.steps, "fp32", args.batch)  # compiles (and captures CUDA graphs)
            row["compile_s"] = time.perf_counter() - start
            seconds, final = best(lambda f=forecaster: hens_engine(f, x0, args.steps, "fp32", args.batch))
        except (HensError, RuntimeError) as err:
            print(f"hens compile={mode}: not available here ({str(err).splitlines()[0][:120]})")
            rows.append({**row, "error": float("nan")})
            continue
        error = float((final.float() - reference).abs().max() / reference.std())
        rows.append({**row, "member_steps_per_s": x0.shape[0] * args.steps / seconds, "error": error})
    return rows


def make_forecaster(net: torch.nn.Module, size: dict, device: torch.device):
    """Wrap the network as a checkpoint package (zero mean, unit std: the same function as the plain loop)."""
    from hens.models.forecaster import load_forecaster
    from hens.models.package import write_package

    c, (h, w) = size["channels"], size["img"]
    with tempfile.TemporaryDirectory() as tmp:
        path = write_package(
            Path(tmp) / "bench_sfno",
            state_dict={k: v.cpu() for k, v in net.state_dict().items()},
            channels=[f"c{i}" for i in range(c)],
            lat=np.linspace(90, -90, h),
            lon=np.arange(w) * 360.0 / w,
            timestep_hours=6.0,
            means=np.zeros(c, dtype=np.float32),
            stds=np.ones(c, dtype=np.float32),
            model_kwargs={
                "img_size": list(size["img"]),
                "in_chans": c,
                "out_chans": c,
                "embed_dim": size["embed_dim"],
                "num_layers": size["num_layers"],
                "scale_factor": size["scale_factor"],
            },
        )
        return load_forecaster(path, device)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument(
        "--compile", default="none", help="comma-separated compile modes to add as fp32 rows, e.g. none,default"
    )
    parser.add_argument("--json", type=Path, default=Path("bench_results/throughput.json"))
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    size = SIZES[args.size]
    modes = [m for m in args.modes.split(",") if m]
    net = build_network(size, device)
    forecaster = make_forecaster(net, size, device)
    n_params = sum(p.numel() for p in net.parameters())
    gen = torch.Generator().manual_seed(1)
    x0 = torch.randn(args.members, size["channels"], *size["img"], generator=gen).to(device)
    member_steps = args.members * args.steps

    def best(run) -> tuple[float, torch.Tensor]:
        run()  # warm-up
        results = [run() for _ in range(args.repeats)]
        return min(r[0] for r in results), results[0][1]

    reference = None
    rows = []
    for engine in ("plain loop", "hens"):
        for mode in modes:
            try:
                if engine == "plain loop":
                    seconds, final = best(lambda mode=mode: plain_loop(net, x0, args.steps, mode))
                else:
                    seconds, final = best(lambda mode=mode: hens_engine(forecaster, x0, args.steps, mode, args.batch))
            except RuntimeError as err:  # e.g. bf16 autocast through torch-harmonics' transforms on CPU
                print(f"{engine} {mode}: not supported here ({str(err).splitlines()[0][:90]})")
                rows.append(
                    {"engine": engine, "mode": mode, "compile": "none", "member_steps_per_s": float("nan"),
                     "error": float("nan")}
                )  # fmt: skip
                continue
            if reference is None:
                reference = final.float()
            error = float((final.float() - reference).abs().max() / reference.std())
            rows.append(
                {"engine": engine, "mode": mode, "compile": "none", "member_steps_per_s": member_steps / seconds,
                 "error": error}
            )  # fmt: skip
    if reference is not None:
        rows += compile_rows(net, size, device, x0, args, reference, best)
    baseline = np.nanmax([r["member_steps_per_s"] for r in rows if r["engine"] == "plain loop"])
    for r in rows:
        r["speedup_vs_plain_best"] = r["member_steps_per_s"] / baseline

    print(
        f"bench_throughput: {args.size} ({n_params / 1e6:.1f} M parameters), {args.members} members × "
        f"{args.steps} steps, hens batch {args.batch}, device {device}"
    )
    print(f"{'engine':<12}{'mode':<6}{'compile':<17}{'member-steps/s':>16}{'× plain best':>14}{'max err / std':>15}")
    for r in rows:
        compiled = r["compile"] + (f" ({r['compile_s']:.0f} s)" if "compile_s" in r else "")
        print(
            f"{r['engine']:<12}{r['mode']:<6}{compiled:<17}{r['member_steps_per_s']:>16.2f}"
            f"{r['speedup_vs_plain_best']:>14.2f}{r['error']:>15.2e}"
        )
    machine = {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "size": args.size,
        "config": {**size, "parameters": n_params},
        "members": args.members,
        "steps": args.steps,
        "batch": args.batch,
        "rows": rows,
        "machine": machine,
    }
    args.json.write_text(json.dumps(payload, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
