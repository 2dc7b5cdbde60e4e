"""HENS Part I's design experiment on the demo world: which ensemble design is calibrated, realistic and skilful?

    python scripts/design_experiment.py --dates 30 --work /tmp/design --out docs/design_experiment

Runs `hens generate` (the real command, default demo configuration otherwise) over ``--dates`` start dates
``--spacing-days`` apart, with the same total ensemble size (4 checkpoints × 2 × 4 bred vectors = 32 members by
default) under five designs:

    (i)   one_checkpoint_bred     one checkpoint + bred vectors (1 × 2 × 16)
    (ii)  checkpoints_only        all checkpoints, no initial perturbation (ensemble.perturbation=none)
    (iii) checkpoints_gaussian    all checkpoints + uncorrelated Gaussian noise of the bred vectors' size
    (iv)  hens                    all checkpoints + bred vectors (HENS, the default)
    (v)   physics_perfect_model   the truth's own model from the same perturbed analyses (model=demo_physics):
                                  a perfect-model reference, not an achievable forecast

and scores every store against the truth per start date: area-weighted fair CRPS, the spread–skill ratio
√((M+1)/M · mean variance / MSE of the mean), the rank histogram's flatness (RMS relative departure of the
pooled rank frequencies from uniform; 0 = flat) and the member/truth small-scale power ratio (geometric mean over
the upper half of the degrees, as `hens diagnose`'s "realistic" verdict).  90 % intervals are percentile
bootstraps over start dates (hens' own :mod:`hens.diagnostics.aggregate.bootstrap`), differences paired on the
same resamples.  Also measures the growth over 48 h of bred vectors vs random perturbations of the same norm.

Writes ``<out>/results.json``, ``<out>/results.md`` (tables and the acceptance checks of issue 10) and
``<out>/<variable>.png``; stores stay in ``--work`` (a rerun resumes / reuses them).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

DESIGNS: dict[str, list[str]] = {
    "one_checkpoint_bred": ["model.checkpoints=[demo_sfno_s0]", "ensemble.n_perturbations=16"],
    "checkpoints_only": ["ensemble.perturbation=none"],
    "checkpoints_gaussian": ["ensemble.perturbation=gaussian"],
    "hens": [],
    "physics_perfect_model": ["model=demo_physics"],
}
REGIONS = {"global": -90.0, "nh_extratropics": 20.0}


def start_dates(n: int, first: str, spacing_days: float) -> list[str]:
    t0 = np.datetime64(first, "h")
    return [str(t0 + np.timedelta64(int(round(k * spacing_days * 24)), "h")) for k in range(n)]


def generate(design: str, dates: list[str], work: Path, n_steps: int, threads: int) -> Path:
    """Run (or resume) `hens generate` for one design; returns the store."""
    store = work / f"{design}.zarr"
    cmd = [
        sys.executable,
        "-m",
        "hens",
        "generate",
        *DESIGNS[design],
        f"ic.start_dates=[{','.join(dates)}]",
        f"ensemble.n_steps={n_steps}",
        f"output.path={store}",
        f"threads={threads}",
        "progress=false",
    ]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    print(f"{design}: generated in {time.perf_counter() - t:.0f} s", flush=True)
    return store


def date_statistics(store: Path, variables: list[str]) -> dict[str, dict[str, np.ndarray]]:
    """Per start date additive statistics of each variable and region: ``{var/region: {name: (D, L, …)}}``."""
    import xarray as xr

    from hens.demo.world import DEMO_CHANNELS, DemoWorldSpec, truth_states
    from hens.diagnostics.metrics.crps import fair_crps
    from hens.diagnostics.metrics.rank import obs_rank, rank_counts
    from hens.diagnostics.metrics.spectra import angular_power_spectrum

    ds = xr.open_zarr(store)
    spec = DemoWorldSpec()
    lat = ds["lat"].values
    leads = ds["lead_time"].values
    m = ds.sizes["member"]
    cos = np.cos(np.deg2rad(lat))
    out: dict[str, dict[str, list]] = {}
    for d, t0 in enumerate(ds["init_time"].values):
        truth_all = truth_states(spec, t0 + leads)  # [L, C, H, W]
        for var in variables:
            c = DEMO_CHANNELS.index(var)
            fc = ds[var].isel(init_time=d).values.astype(np.float64)  # [M, L, H, W]
            truth = truth_all[:, c].astype(np.float64)  # [L, H, W]
            crps = fair_crps(fc, truth, member_axis=0)
            mean = fc.mean(axis=0)
            var_m = fc.var(axis=0, ddof=1)
            ranks = obs_rank(fc, truth, member_axis=0, seed=d)
            p_members = angular_power_spectrum(fc.reshape(-1, *fc.shape[2:]), lat, batch_size=4096).reshape(
                m, len(leads), -1
            )
            p_truth = angular_power_spectrum(truth, lat)
            for region, edge in REGIONS.items():
                w = (cos * (lat >= edge))[:, None] * np.ones(fc.shape[-1])
                w = w / w.sum()
                stats = out.setdefault(f"{var}/{region}", {})

                def add(name: str, value: np.ndarray, stats: dict = stats) -> None:
                    stats.setdefault(name, []).append(value)

                add("crps", (crps * w).sum(axis=(-2, -1)))
                add("mse", ((mean - truth) ** 2 * w).sum(axis=(-2, -1)))
                add("var", (var_m * w).sum(axis=(-2, -1)))
                add("ranks", np.stack([rank_counts(ranks[k], m, weights=w) for k in range(len(leads))]))
                add("power_members", p_members.mean(axis=0))
                add("power_truth", p_truth)
    return {key: {k: np.stack(v) for k, v in stats.items()} for key, stats in out.items()} | {
        "_meta": {"members": np.array(m), "lead_hours": leads / np.timedelta64(1, "h")}
    }


def finish(sums: Mapping[str, np.ndarray], n_members: int, n_dates: int) -> dict[str, np.ndarray]:
    """Scores ``(B, L)`` from summed (or resampled) per-date statistics ``(B, L, …)``."""
    crps = sums["crps"] / n_dates
    ssr = np.sqrt((n_members + 1) / n_members * sums["var"] / sums["mse"])
    freq = sums["ranks"] / sums["ranks"].sum(axis=-1, keepdims=True)
    flatness = np.sqrt(((freq * freq.shape[-1] - 1.0) ** 2).mean(axis=-1))
    pm, pt = sums["power_members"], sums["power_truth"]
    upper = np.arange(pm.shape[-1]) >= max(1, pm.shape[-1] // 2)
    ratio = np.exp(np.mean(np.log(pm[..., upper] / pt[..., upper]), axis=-1))
    return {"crps": crps, "ssr": ssr, "rank_flatness": flatness, "spectral_ratio": ratio}


def score_all(stats: dict[str, dict], n_resamples: int, seed: int) -> dict:
    """Scores, their 90 % intervals and the paired differences of (iv) with every other design."""
    from hens.diagnostics.aggregate.bootstrap import bootstrap_interval

    results: dict = {}
    for key in next(iter(stats.values())):
        if key.startswith("_"):
            continue
        per_design = {}
        for design, s in stats.items():
            m, unit = int(s["_meta"]["members"]), s[key]
            n = unit["crps"].shape[0]
            total = finish({k: v.sum(axis=0)[None] for k, v in unit.items()}, m, n)
            scores = {}
            for name in total:
                interval = bootstrap_interval(
                    unit,
                    lambda r, name=name, m=m, n=n: finish(r, m, n)[name],
                    n_resamples=n_resamples,
                    confidence=0.9,
                    seed=seed,
                )
                scores[name] = {
                    "value": total[name][0].tolist(),
                    "lo": interval[0].tolist(),
                    "hi": interval[1].tolist(),
                }
            per_design[design] = scores
        diffs = {}
        if "hens" in stats:
            for other in stats:
                if other == "hens":
                    continue
                both = {f"a/{k}": v for k, v in stats["hens"][key].items()} | {
                    f"b/{k}": v for k, v in stats[other][key].items()
                }
                ma, mb = int(stats["hens"]["_meta"]["members"]), int(stats[other]["_meta"]["members"])
                n = stats["hens"][key]["crps"].shape[0]

                def crps_diff(r: Mapping[str, np.ndarray], ma: int = ma, mb: int = mb, n: int = n) -> np.ndarray:
                    a = finish({k[2:]: v for k, v in r.items() if k.startswith("a/")}, ma, n)["crps"]
                    b = finish({k[2:]: v for k, v in r.items() if k.startswith("b/")}, mb, n)["crps"]
                    return a - b

                interval = bootstrap_interval(both, crps_diff, n_resamples=n_resamples, confidence=0.9, seed=seed)
                value = crps_diff({k: v.sum(axis=0)[None] for k, v in both.items()})[0]
                diffs[other] = {"value": value.tolist(), "lo": interval[0].tolist(), "hi": interval[1].tolist()}
        results[key] = {"scores": per_design, "crps_hens_minus": diffs}
    return results


def growth_factors(dates: int = 10, perturbations: int = 8, steps: int = 8, first: str = "2000-02-01") -> dict:
    """Mean growth factor e_k / e_0 of the z500 extratropical size over ``steps`` (48 h) of bred vectors, unbred
    correlated seed noise and uncorrelated Gaussian noise, all rescaled to the same norm, with the first shipped
    checkpoint from the demo world's analyses (geometric mean over dates and perturbations)."""
    import torch

    from hens.demo.shipped import shipped_packages
    from hens.demo.world import DEMO_CHANNELS, DemoWorldSpec, analysis_states
    from hens.models.forecaster import load_forecaster
    from hens.perturb.bred_vectors import amplitude_from_rmse, breed, breeding_offsets, seed_perturbation
    from hens.perturb.growth import perturbation_growth
    from hens.perturb.methods import white_noise_perturbation
    from hens.perturb.rescaling import rescale

    spec = DemoWorldSpec()
    fc = load_forecaster(shipped_packages()[0])
    lat, n_lon = spec.lat(), spec.nlon
    target = amplitude_from_rmse(fc.package.extra["rmse_48h"], DEMO_CHANNELS, 0.35)
    z = DEMO_CHANNELS.index("z500")
    logs: dict[str, list[float]] = {"bred": [], "seed_noise": [], "gaussian": []}
    for d, t0 in enumerate(start_dates(dates, first, 8.0)):
        t0 = np.datetime64(t0, "ns")
        times = [t0 - o * np.timedelta64(6, "h") for o in breeding_offsets(3)]
        before = torch.as_tensor(analysis_states(spec, times))
        x0 = torch.as_tensor(analysis_states(spec, [t0]))[0]

        def gens(k: int, d: int = d) -> list[torch.Generator]:
            return [torch.Generator().manual_seed(1000 * d + k * 100 + p) for p in range(perturbations)]

        seed = seed_perturbation(perturbations, DEMO_CHANNELS, ["z500"], target, lat, n_lon, generators=gens(0))
        deltas = {
            "bred": breed(fc, before, seed.float(), target.float(), lat),
            "seed_noise": rescale(seed, target, lat).float(),
            "gaussian": white_noise_perturbation(target, lat, n_lon, generators=gens(1)).float(),
        }
        for name, delta in deltas.items():
            sizes = perturbation_growth(fc, x0, delta, steps, lat)[:, :, z]
            logs[name].extend(np.log((sizes[-1] / sizes[0]).numpy()).tolist())
    return {k: float(np.exp(np.mean(v))) for k, v in logs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dates", type=int, default=30)
    parser.add_argument("--first", default="2000-02-01T00:00")
    parser.add_argument("--spacing-days", type=float, default=8.0)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--designs", nargs="+", default=list(DESIGNS))
    parser.add_argument("--variables", nargs="+", default=["z500", "t850"])
    parser.add_argument("--work", type=Path, default=Path("design_experiment_stores"))
    parser.add_argument("--out", type=Path, default=Path("docs/design_experiment"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    dates = start_dates(args.dates, args.first, args.spacing_days)
    t = time.perf_counter()
    stats = {}
    for design in args.designs:
        store = generate(design, dates, args.work, args.steps, args.threads)
        stats[design] = date_statistics(store, args.variables)
    results = score_all(stats, args.resamples, seed=0)
    growth = growth_factors()
    meta = {
        "dates": dates,
        "designs": args.designs,
        "lead_hours": stats[args.designs[0]]["_meta"]["lead_hours"].tolist(),
    }
    meta["members"] = {d: int(stats[d]["_meta"]["members"]) for d in args.designs}
    payload = {"meta": meta, "results": results, "growth_48h": growth, "seconds": time.perf_counter() - t}
    (args.out / "results.json").write_text(json.dumps(payload, indent=1))
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script from anywhere
    from design_report import write_report

    write_report(payload, args.out)
    print(f"wrote {args.out} in {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
