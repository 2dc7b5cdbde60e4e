"""Batch size from free memory: how many members one device rolls out at once (``ensemble.batch_size=auto``).

The batch is the largest divisor of the members per checkpoint (work items never straddle checkpoints) that is at
most ``ensemble.max_batch_size`` and whose estimated memory fits in ``memory_fraction`` of the free memory:

    batch = max { b | b divides 2P, b ≤ cap, fixed + b · per_member ≤ fraction · free }

``per_member`` and ``fixed`` (bytes) are measured: on CUDA from the peak allocated memory of one model step with
batches of 1 and 2 (per_member = peak₂ − peak₁, fixed = peak₁ − per_member, which includes weights and transform
tables); on CPU from the sizes of every module output of one step with a batch of 1 (an upper bound: inference
frees most of them) plus the host buffers of a lead chunk.  At 0.25° the HENS SFNO needs several GiB per member.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hens.errors import HensError

GIB = 1024**3


@dataclass(frozen=True)
class MemoryEstimate:
    """Measured memory of one model step (bytes): ``fixed`` once, ``per_member`` per batch row."""

    fixed: int
    per_member: int


def choose_batch_size(members_per_checkpoint: int, estimate: MemoryEstimate, available: int, cap: int) -> int:
    """The largest divisor of ``members_per_checkpoint`` ≤ ``cap`` with fixed + b·per_member ≤ available.

    Raises:
        HensError: when not even one member fits, naming the sizes and the fixes.
    """
    room = available - estimate.fixed
    if room < estimate.per_member:
        raise HensError(
            f"one member needs {(estimate.fixed + estimate.per_member) / GIB:.2f} GiB but only "
            f"{available / GIB:.2f} GiB are available; use a device with more memory, free it, or raise "
            "ensemble.memory_fraction / ensemble.memory_gb"
        )
    fits = max(1, room // max(estimate.per_member, 1))
    divisors = [b for b in range(1, members_per_checkpoint + 1) if members_per_checkpoint % b == 0]
    return max(b for b in divisors if b <= min(cap, fits))


def available_memory(device: torch.device, memory_gb: float | None, fraction: float) -> int:
    """Bytes usable for the rollout: ``memory_gb`` if set, else ``fraction`` × the free device (CUDA) or host
    (``MemAvailable`` of /proc/meminfo) memory."""
    if memory_gb is not None:
        return int(memory_gb * GIB)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * fraction)
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(int(line.split()[1]) * 1024 * fraction)
    except OSError:
        pass
    raise HensError("cannot read the free host memory; set ensemble.memory_gb=<GiB> or an integer ensemble.batch_size")


def measure(
    step: torch.nn.Module, shape: tuple[int, int, int], device: torch.device, lead_chunk: int
) -> MemoryEstimate:
    """Measure one step of ``step`` (a Forecaster) on zero states of ``shape`` = (C, nlat, nlon); see module doc."""
    c, h, w = shape
    host_buffers = (lead_chunk + 4) * c * h * w * 4  # lead-chunk buffers, states, perturbation rows
    needs_time = bool(getattr(step, "requires_valid_time", False))
    call = (lambda x: step(x, np.datetime64("2000-01-01T00:00", "ns"))) if needs_time else step
    with torch.inference_mode():
        if device.type == "cuda":
            peaks = []
            for batch in (1, 2):
                torch.cuda.synchronize(device)
                torch.cuda.reset_peak_memory_stats(device)
                base = torch.cuda.memory_allocated(device)
                call(torch.zeros(batch, c, h, w, device=device))
                torch.cuda.synchronize(device)
                peaks.append(torch.cuda.max_memory_allocated(device) - base)
            per_member = max(peaks[1] - peaks[0], c * h * w * 4)
            return MemoryEstimate(fixed=max(peaks[0] - per_member, 0), per_member=per_member)
        total = 0

        def add(_module: torch.nn.Module, _inputs: object, output: object) -> None:
            nonlocal total
            if isinstance(output, torch.Tensor):
                total += output.numel() * output.element_size()

        handles = [m.register_forward_hook(add) for m in step.modules()]
        try:
            call(torch.zeros(1, c, h, w, device=device))
        finally:
            for handle in handles:
                handle.remove()
        weights = sum(p.numel() * p.element_size() for p in step.parameters())
        return MemoryEstimate(fixed=weights, per_member=total + host_buffers)
