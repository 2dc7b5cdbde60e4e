"""Member identity and chunk-aligned sharding."""

import itertools

import numpy as np
import pytest

from hens.ensemble.plan import EnsembleLayout, perturbation_seed, plan_work, shard, shard_all


@pytest.mark.parametrize("control", [True, False])
def test_member_mapping_roundtrip_and_pairs(control):
    layout = EnsembleLayout(n_checkpoints=3, n_perturbations=4, control_member=control)
    assert layout.n_members == 24
    keys = [layout.member(m) for m in range(layout.n_members)]
    for key in keys:
        assert layout.index(key.checkpoint, key.perturbation, key.sign) == key.member
        assert key.checkpoint == key.member // 8
    # each (checkpoint, perturbation) appears with + and − (one − replaced by the control per checkpoint)
    for c, p in itertools.product(range(3), range(4)):
        signs = sorted(k.sign for k in keys if (k.checkpoint, k.perturbation) == (c, p))
        expected = [0, 1] if control and p == 3 else [-1, 1]
        assert signs == expected
    assert sum(k.sign == 0 for k in keys) == (3 if control else 0)
    with pytest.raises(IndexError):
        layout.member(24)


def test_perturbation_seed_is_pure_and_distinct():
    t = np.datetime64("2000-03-01T00:00")
    a = perturbation_seed(1, t, 0, 0)
    assert a == perturbation_seed(1, np.datetime64("2000-03-01T00:00:00.000000000"), 0, 0)
    seeds = {
        perturbation_seed(s, t + np.timedelta64(d, "D"), c, p)
        for s in (1, 2)
        for d in range(3)
        for c in range(3)
        for p in range(5)
    }
    assert len(seeds) == 2 * 3 * 3 * 5
    assert all(0 <= s < 2**63 for s in seeds)


@pytest.mark.parametrize("world_size", [1, 2, 3, 4, 7, 16, 64])
def test_sharding_covers_every_chunk_once_and_is_balanced(world_size):
    layout = EnsembleLayout(n_checkpoints=5, n_perturbations=6)
    items = plan_work(layout, n_init_times=4, batch_size=4)
    assert len(items) == 4 * 5 * 12 // 4
    shards = [shard(items, r, world_size) for r in range(world_size)]
    flat = [it for s in shards for it in s]
    assert sorted(flat, key=lambda it: it.key) == sorted(items, key=lambda it: it.key)
    assert len({it.key for it in flat}) == len(items)
    sizes = [len(s) for s in shards]
    assert max(sizes) - min(sizes) <= 1
    assert shard_all(items, world_size) == shards
    for it in items:  # chunks never straddle checkpoints
        assert (
            layout.member(it.member_start).checkpoint == layout.member(it.member_stop - 1).checkpoint == it.checkpoint
        )


def test_huge_ensemble_sharding_simulation():
    """HENS scale: 29 checkpoints × 256 members × 92 dates over many rank counts."""
    layout = EnsembleLayout(n_checkpoints=29, n_perturbations=128)
    items = plan_work(layout, n_init_times=92, batch_size=16)
    n_members_total = 0
    for world_size in (4, 256, 4096):
        shards = shard_all(items, world_size)
        sizes = [len(s) for s in shards]
        assert sum(sizes) == len(items) and max(sizes) - min(sizes) <= 1
        n_members_total = sum(it.n_members for s in shards for it in s)
    assert n_members_total == 7424 * 92


def test_batch_size_must_divide_members_per_checkpoint():
    with pytest.raises(ValueError):
        plan_work(EnsembleLayout(2, 3), 1, batch_size=4)
