"""Batched autoregressive rollout.

``rollout(step, x0, n_steps, on_step)`` computes x_{k+1} = step(x_k) for k = 0 … n_steps−1 on a batch of
members x0 ``[B, C, nlat, nlon]``, calling ``on_step(k, x_k)`` for k = 0 … n_steps (t = 0 included) so the
caller can stream outputs, and returns the first lead index at which each member became non-finite
(−1 if it never did).  A member that blows up keeps being stepped (its NaNs stay in its own batch row: every
layer of an SFNO acts per sample) and does not stop the others.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


def rollout(
    step: Callable[..., torch.Tensor],
    x0: torch.Tensor,
    n_steps: int,
    on_step: Callable[[int, torch.Tensor], None],
    *,
    start_time: np.datetime64 | None = None,
    timestep: np.timedelta64 | None = None,
) -> torch.Tensor:
    """See module docstring.  Returns int64 ``[B]`` first non-finite lead index or −1.

    With ``start_time`` and ``timestep``, ``step`` is called as ``step(x_k, t₀ + k·Δt)``: the valid time of its
    input, for models with time-dependent inputs (solar zenith angle).
    """
    timed = start_time is not None and timestep is not None
    first_bad = torch.full((x0.shape[0],), -1, dtype=torch.int64, device=x0.device)
    state = x0
    with torch.inference_mode():
        for k in range(n_steps + 1):
            if k > 0:
                state = step(state, start_time + (k - 1) * timestep) if timed else step(state)
            finite = torch.isfinite(state).flatten(1).all(dim=1)
            first_bad = torch.where((first_bad < 0) & ~finite, torch.full_like(first_bad, k), first_bad)
            on_step(k, state)
    return first_bad.cpu()
