"""`hens skill`: deterministic forecasts of every checkpoint from the analysis at each start date, scored against
the truth at every lead time (the same reanalysis for ERA5; the demo world's analyses carry its analysis error):
the RMSE table whose 48-h row sets the bred-vector amplitudes (``ensemble.bred_vector.amplitude_file``;
Tᶜ = amplitude_fraction × RMSE₄₈ₕ(c)).

Orchestration only: packages (:mod:`hens.models.resolve`), the truth (:func:`hens.data.sources.build_source`), the
step of ``model.dynamics`` and :func:`hens.inference.rollout.rollout` as in `hens generate`; the science is
:mod:`hens.diagnostics.metrics.deterministic`; the file is :mod:`hens.io.skill_file`.  Memory: one state and
one truth field at a time (the squared error is reduced as each lead is produced).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hens.config.skill import SkillRunSpec
from hens.data.sources import build_source, channel_indices, check_grid
from hens.diagnostics.metrics.deterministic import lat_weighted_mse, rmse_of_mean_mse
from hens.distributed import pick_device
from hens.inference.rollout import rollout
from hens.io.skill_file import write_skill_file
from hens.models.dynamics import MemberBatch, get_dynamics
from hens.models.forecaster import load_forecaster
from hens.models.resolve import resolve_packages

__all__ = ["SkillResult", "run_skill"]


@dataclass(frozen=True)
class SkillResult:
    """The file written, and the RMSE ``[K, L, C]`` per checkpoint (and pooled ``[L, C]``) at the leads ``[L]`` (h)."""

    output: Path
    checkpoints: tuple[str, ...]
    channels: tuple[str, ...]
    lead_hours: np.ndarray
    rmse: np.ndarray
    pooled: np.ndarray
    seconds: float

    def summary(self) -> str:
        i48 = np.flatnonzero(np.isclose(self.lead_hours, 48.0))
        at = f"at {self.lead_hours[i48[0] if i48.size else -1]:g} h"
        row = self.pooled[i48[0] if i48.size else -1]
        shown = ", ".join(f"{c} {v:.4g}" for c, v in list(zip(self.channels, row, strict=True))[:4])
        return (
            f"hens skill: {len(self.checkpoints)} checkpoint(s), pooled RMSE {at}: {shown}"
            f"{' …' if len(self.channels) > 4 else ''} ({self.seconds:.1f} s) → {self.output}"
        )


def forecast_mse(
    step: Any, x0: torch.Tensor, truth_at: Any, n_steps: int, lat: np.ndarray, *, t0: np.datetime64, dt: np.timedelta64
) -> np.ndarray:
    """Area-weighted MSE ``[n_steps + 1, C]`` (float64) of one deterministic forecast from ``x0`` ``[1, C, H, W]``;
    ``truth_at(k)`` is the truth ``[C, H, W]`` at lead ``k``."""
    mse = np.empty((n_steps + 1, x0.shape[1]), dtype=np.float64)

    def on_step(k: int, state: torch.Tensor) -> None:
        mse[k] = lat_weighted_mse(state[0].cpu().numpy(), truth_at(k), lat)

    rollout(step, x0, n_steps, on_step, start_time=t0, timestep=dt)
    return mse


def run_skill(spec: SkillRunSpec) -> SkillResult:
    """Score every checkpoint of ``spec`` at every start date and lead, write the skill file (see module docstring)."""
    start = time.perf_counter()
    if spec.threads:
        torch.set_num_threads(spec.threads)
    device = pick_device(spec.device, 0)
    packages = resolve_packages(spec.model.checkpoint_dir, spec.model.checkpoints)
    channels = packages[0].channels
    source = build_source(spec.ic, channels=channels)
    dynamics = get_dynamics(spec.model.dynamics)
    dynamics.check_ic_source(spec.ic.source)
    check_grid(source, packages[0].lat, packages[0].lon, packages[0].name)
    index = channel_indices(source.channels, channels, "the truth")
    dt, n = packages[0].timestep, spec.skill.n_steps
    dates = [np.datetime64(t, "ns") for t in spec.skill.start_dates]
    source.check_available(np.array([t + k * dt for t in dates for k in range(n + 1)], dtype="datetime64[ns]"))

    def truth_at(t: np.datetime64) -> np.ndarray:
        """The truth ``[C, H, W]`` at valid time ``t`` (read when needed: one field in memory at a time)."""
        return source.truth(np.array([t], dtype="datetime64[ns]"))[0, index]

    def analysis_at(t: np.datetime64) -> np.ndarray:
        """The analysis ``[C, H, W]`` at ``t``: what a forecast starts from."""
        return source.states(np.array([t], dtype="datetime64[ns]"))[0, index]

    lat = np.asarray(packages[0].lat, dtype=np.float64)
    options = {"seed": spec.seed, "demo_world": spec.ic.demo_world}
    mse = np.empty((len(packages), len(dates), n + 1, len(channels)), dtype=np.float64)
    bar = _progress(len(packages) * len(dates), spec.progress)
    for i, package in enumerate(packages):
        forecaster = load_forecaster(package, device)
        for d, t0 in enumerate(dates):
            x0 = torch.as_tensor(analysis_at(t0)[None], dtype=torch.float32, device=device)
            step = dynamics.step(MemberBatch(forecaster, x0, t0, range(1)), options)
            mse[i, d] = forecast_mse(step, x0, lambda k, t0=t0: truth_at(t0 + k * dt), n, lat, t0=t0, dt=dt)
            bar.update(1)
    bar.close()
    return _write(spec, packages, channels, dates, dt, mse, source.describe(), start)


def _write(
    spec: SkillRunSpec,
    packages: list,
    channels: tuple[str, ...],
    dates: list,
    dt: np.timedelta64,
    mse: np.ndarray,
    truth: dict[str, Any],
    start: float,
) -> SkillResult:
    """RMSE per checkpoint (mean over dates) and pooled (mean over checkpoints and dates) → the skill file."""
    per_checkpoint = rmse_of_mean_mse(mse, axis=1)  # [K, L, C]
    pooled = rmse_of_mean_mse(mse, axis=(0, 1))  # [L, C]
    leads = np.arange(mse.shape[2]) * (dt / np.timedelta64(1, "h"))
    names = tuple(p.name for p in packages)

    def table(values: np.ndarray) -> dict[str, list[float]]:
        return {c: [float(v) for v in values[:, j]] for j, c in enumerate(channels)}

    content = {
        "pooled": spec.skill.pooled,
        "channels": list(channels),
        "lead_hours": [float(h) for h in leads],
        "start_dates": [str(np.datetime_as_string(t, unit="m")) for t in dates],
        "truth": truth,
        "rmse": {"pooled": table(pooled), "checkpoints": {n: table(per_checkpoint[k]) for k, n in enumerate(names)}},
        "config": spec.resolved,
    }
    path = write_skill_file(spec.skill.output, content)
    return SkillResult(path, names, channels, leads, per_checkpoint, pooled, time.perf_counter() - start)


def _progress(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc="hens skill", unit="forecast", disable=not enabled)
