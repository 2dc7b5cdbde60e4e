"""The member plan of a huge ensemble.

Members of one start date are numbered ``0 … N−1`` with N = n_checkpoints × 2·n_perturbations, grouped by
checkpoint so that a rank holding one checkpoint's weights rolls out contiguous members::

    member m  ↔  checkpoint c = m // (2P),  j = m mod 2P,  perturbation p = j // 2,  sign s = +1 if j even else −1

and the ``control`` layout (``ensemble.control``) turns some members into unperturbed controls (s = 0, δ = 0):

* ``hens`` (default) — one control in the whole ensemble: member 0 (c = 0, p = 0, would-be s = +1).  Its
  partner, member 1 (c = 0, p = 0, s = −1), keeps −δ and is the one unpaired perturbed member.  This is the
  HENS code (the authors' earth2mip fork, branch HENS, ``inference_ensemble.py``): ranks 2k and 2k + 1 share
  one seed (seed = (rank // 2) · n_models · n_ensemble + model_idx · n_ensemble + batch_id) and rank 2k + 1
  subtracts the perturbation; the noise is zeroed only for rank 0, batch 0, model_idx 0 (and only when no
  seed is given for regenerating a member), so rank 1's −δ stays.  hens' checkpoint 0 is HENS's model_idx 0
  and its (p, +) member is rank 2p's, hence member 0.
* ``per_checkpoint`` — the last member of each checkpoint (p = P−1, s = −1) becomes the control, so every
  checkpoint has one (and its (P−1, +) member is unpaired); hens' layout before HENS-exact defaults.
* ``none`` — every member is perturbed, all pairs intact (earth2studio's HENS recipe has no control).

Each member's bred vector is seeded by :func:`perturbation_seed` from (global seed, start date, c, p) alone,
so any member can be regenerated without the others.

Work is cut into :class:`WorkItem` s — one start date × one block of ``batch_size`` consecutive members of
one checkpoint — which are exactly the store's (init_time, member) chunks: a rank owns whole chunks, so
concurrent writers need no locks, and the manifest records finished items.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MemberKey:
    """Identity of one member within a start date."""

    member: int
    checkpoint: int
    perturbation: int
    sign: int  # +1, −1, or 0 for the control member


CONTROL_LAYOUTS = ("hens", "per_checkpoint", "none")
"""Allowed values of ``ensemble.control`` (the first is the default); see the module docstring."""


@dataclass(frozen=True)
class EnsembleLayout:
    """How members map onto checkpoints, bred vectors and signs (see module docstring)."""

    n_checkpoints: int
    n_perturbations: int
    control: str = "hens"

    def __post_init__(self) -> None:
        if self.control not in CONTROL_LAYOUTS:
            raise ValueError(f"control={self.control!r} must be one of {', '.join(CONTROL_LAYOUTS)}")

    @property
    def members_per_checkpoint(self) -> int:
        return 2 * self.n_perturbations

    @property
    def n_members(self) -> int:
        return self.n_checkpoints * self.members_per_checkpoint

    def is_control(self, m: int) -> bool:
        """Whether member m is an unperturbed control (a pure function of m and the layout)."""
        if self.control == "hens":
            return m == 0
        return self.control == "per_checkpoint" and m % self.members_per_checkpoint == self.members_per_checkpoint - 1

    @property
    def control_members(self) -> tuple[int, ...]:
        """The control members' indices: (0,) for ``hens``, one per checkpoint for ``per_checkpoint``."""
        if self.control == "hens":
            return (0,) if self.n_members else ()
        if self.control == "per_checkpoint":
            return tuple((c + 1) * self.members_per_checkpoint - 1 for c in range(self.n_checkpoints))
        return ()

    def member(self, m: int) -> MemberKey:
        if not 0 <= m < self.n_members:
            raise IndexError(f"member {m} outside 0…{self.n_members - 1}")
        c, j = divmod(m, self.members_per_checkpoint)
        p, parity = divmod(j, 2)
        sign = 0 if self.is_control(m) else (1 if parity == 0 else -1)
        return MemberKey(member=m, checkpoint=c, perturbation=p, sign=sign)

    def index(self, checkpoint: int, perturbation: int, sign: int) -> int:
        """Inverse of :meth:`member`: the member with this (checkpoint, perturbation, sign)."""
        if not (0 <= checkpoint < self.n_checkpoints and 0 <= perturbation < self.n_perturbations):
            raise ValueError(f"no member with checkpoint={checkpoint}, perturbation={perturbation}")
        first = checkpoint * self.members_per_checkpoint + 2 * perturbation
        for m in (first, first + 1):
            if self.member(m).sign == sign:
                return m
        raise ValueError(f"no member with checkpoint={checkpoint}, perturbation={perturbation}, sign={sign}")

    def coordinates(self) -> dict[str, np.ndarray]:
        """Per-member labels (length N): checkpoint index, perturbation index, sign."""
        keys = [self.member(m) for m in range(self.n_members)]
        return {
            "checkpoint_index": np.array([k.checkpoint for k in keys], dtype=np.int32),
            "perturbation": np.array([k.perturbation for k in keys], dtype=np.int32),
            "sign": np.array([k.sign for k in keys], dtype=np.int8),
        }


def perturbation_seed(global_seed: int, init_time: np.datetime64, checkpoint: int, perturbation: int) -> int:
    """A 63-bit seed for one bred vector, a pure function of its identity (stable across runs and machines)."""
    stamp = str(np.datetime64(init_time, "s"))
    blob = f"hens-bred-vector/{global_seed}/{stamp}/{checkpoint}/{perturbation}".encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "little") & (2**63 - 1)


@dataclass(frozen=True)
class WorkItem:
    """One chunk-aligned unit of work: start date ``init_index``, members ``[member_start, member_stop)``."""

    init_index: int
    checkpoint: int
    member_start: int
    member_stop: int

    @property
    def key(self) -> str:
        return f"i{self.init_index:05d}-m{self.member_start:06d}"

    @property
    def n_members(self) -> int:
        return self.member_stop - self.member_start


def plan_work(layout: EnsembleLayout, n_init_times: int, batch_size: int) -> list[WorkItem]:
    """Every (start date, member block) once, blocks of ``batch_size`` that never straddle checkpoints."""
    if layout.members_per_checkpoint % batch_size:
        raise ValueError(f"batch_size {batch_size} must divide {layout.members_per_checkpoint}")
    items = []
    for i in range(n_init_times):
        for start in range(0, layout.n_members, batch_size):
            items.append(
                WorkItem(
                    init_index=i,
                    checkpoint=start // layout.members_per_checkpoint,
                    member_start=start,
                    member_stop=start + batch_size,
                )
            )
    return items


def shard(items: list[WorkItem], rank: int, world_size: int) -> list[WorkItem]:
    """Items of ``rank``: a contiguous, balanced slice of the items ordered by (checkpoint, date, member).

    Ordering by checkpoint first means each rank loads as few checkpoints as possible; slices differ in
    length by at most one item.  The union over ranks is every item exactly once.
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} outside 0…{world_size - 1}")
    return shard_all(items, world_size)[rank]


def shard_all(items: list[WorkItem], world_size: int) -> list[list[WorkItem]]:
    """The shards of every rank at once (one sort): ``shard_all(items, W)[r] == shard(items, r, W)``."""
    ordered = sorted(items, key=lambda it: (it.checkpoint, it.init_index, it.member_start))
    n = len(ordered)
    return [ordered[r * n // world_size : (r + 1) * n // world_size] for r in range(world_size)]
