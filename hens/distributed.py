"""torch.distributed set-up from the environment that ``torchrun`` or ``srun`` gives each process.

- torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT.
- srun sets SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID; MASTER_ADDR must be exported by the batch script
  (``hens slurm render`` does this); MASTER_PORT defaults to 29500.
A plain ``hens generate`` is a single process and never initialises a process group.  Backend ``auto`` is
nccl on CUDA devices and gloo on CPU.  Ranks only meet at barriers and one broadcast (the resume plan).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from hens.errors import ConfigError


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    local_rank: int
    initialized: bool

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(*names: str) -> int | None:
    for name in names:
        value = os.environ.get(name)
        if value is not None and value.strip() != "":
            return int(value)
    return None


def environment_ranks() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun or SLURM variables; (0, 1, 0) when neither is set."""
    world = _env_int("WORLD_SIZE")
    if world is not None:
        return _env_int("RANK") or 0, world, _env_int("LOCAL_RANK") or 0
    world = _env_int("SLURM_NTASKS")
    if world is not None and world > 1:
        return _env_int("SLURM_PROCID") or 0, world, _env_int("SLURM_LOCALID") or 0
    return 0, 1, 0


def local_world_size() -> int:
    """Processes launched on this node (torchrun's LOCAL_WORLD_SIZE, SLURM's SLURM_NTASKS_PER_NODE; else 1)."""
    for name in ("LOCAL_WORLD_SIZE", "SLURM_NTASKS_PER_NODE"):
        value = os.environ.get(name, "").split("(")[0]  # SLURM may write e.g. "4(x2)"
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def init_distributed(backend: str = "auto", device: torch.device | None = None, timeout_s: float = 1800) -> DistContext:
    """Initialise the default process group when more than one process was launched."""
    rank, world_size, local_rank = environment_ranks()
    if world_size == 1:
        return DistContext(rank=0, world_size=1, local_rank=0, initialized=False)
    if dist.is_initialized():
        return DistContext(
            rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank, initialized=True
        )
    if backend == "auto":
        backend = "nccl" if device is not None and device.type == "cuda" else "gloo"
    if backend == "nccl" and (device is None or device.type != "cuda"):
        raise ConfigError("launcher.backend=nccl needs CUDA devices; use launcher.backend=gloo (or auto) on CPU")
    if "MASTER_ADDR" not in os.environ:
        raise ConfigError(
            "several processes were launched but MASTER_ADDR is not set; launch with torchrun, or export "
            "MASTER_ADDR (the first node's host name) in the batch script"
        )
    os.environ.setdefault("MASTER_PORT", "29500")
    dist.init_process_group(
        backend=backend,
        init_method="env://",
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(seconds=timeout_s),
        device_id=device if backend == "nccl" else None,
    )
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, initialized=True)


def barrier(ctx: DistContext) -> None:
    if ctx.initialized:
        dist.barrier()


def broadcast_from_main(ctx: DistContext, value: Any) -> Any:
    """Rank 0's ``value`` on every rank (a picklable object)."""
    if not ctx.initialized:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def finalize(ctx: DistContext) -> None:
    if ctx.initialized and dist.is_initialized():
        dist.destroy_process_group()


def pick_device(requested: str, local_rank: int) -> torch.device:
    """``auto``: cuda:LOCAL_RANK when CUDA is available, else cpu.  ``cuda`` without a GPU is a ConfigError."""
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device={requested} but no CUDA device is available; use device=cpu or device=auto")
        if requested == "cuda":
            return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device(requested)
