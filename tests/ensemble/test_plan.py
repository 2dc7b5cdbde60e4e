"""Member identity and chunk-aligned sharding."""

import itertools

import numpy as np
import pytest

from hens.ensemble.plan import EnsembleLayout, perturbation_seed, plan_work, shard, shard_all


@pytest.mark.parametrize("control", ["hens", "per_checkpoint", "none"])
def test_member_mapping_roundtrip_and_pairs(control):
    layout = EnsembleLayout(n_checkpoints=3, n_perturbations=4, control=control)
    assert layout.n_members == 24
    keys = [layout.member(m) for m in range(layout.n_members)]
    for key in keys:
        assert layout.index(key.checkpoint, key.perturbation, key.sign) == key.member
        assert key.checkpoint == key.member // 8
        assert layout.is_control(key.member) == (key.sign == 0)
    # each (checkpoint, perturbation) appears with + and −, except where a control replaced one of them:
    # HENS: the + member of (0, 0) (its − partner keeps −δ); per_checkpoint: the − member of (c, P−1)
    replaced = {"hens": {(0, 0): [-1, 0]}, "per_checkpoint": {(c, 3): [0, 1] for c in range(3)}, "none": {}}[control]
    for c, p in itertools.product(range(3), range(4)):
        signs = sorted(k.sign for k in keys if (k.checkpoint, k.perturbation) == (c, p))
        assert signs == replaced.get((c, p), [-1, 1])
    controls = [k.member for k in keys if k.sign == 0]
    assert controls == list(layout.control_members) == {"hens": [0], "per_checkpoint": [7, 15, 23], "none": []}[control]
    with pytest.raises(IndexError):
        layout.member(24)
    with pytest.raises(ValueError, match="no member"):
        layout.index(0, 0, 1 if control == "hens" else 0)


def test_hens_layout_has_one_control_for_the_whole_ensemble():
    """HENS's 29 × 256 = 7,424 members: exactly one control (member 0), 3,711 intact ± pairs and one unpaired −."""
    layout = EnsembleLayout(29, 128)
    assert layout.control == "hens"
    signs = layout.coordinates()["sign"]
    assert signs.size == 7424 and list(np.flatnonzero(signs == 0)) == [0]
    assert signs[1] == -1 and (signs[2::2] == 1).all() and (signs[3::2] == -1).all()
    assert sum(signs) == -1  # the control's partner is the only member without its opposite
    with pytest.raises(ValueError, match="hens, per_checkpoint, none"):
        EnsembleLayout(2, 2, control=True)


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


@pytest.mark.parametrize("world_size", [4, 64, 1000, 4096])
def test_huge_ensemble_sharding_simulation(world_size):
    """HENS scale: 29 checkpoints × 256 members (7,424) × 92 dates over 4 … 4,096 ranks — every (date, member)
    exactly once, in whole chunks that never straddle checkpoints, ranks within one chunk of each other."""
    batch = 16
    layout = EnsembleLayout(n_checkpoints=29, n_perturbations=128)
    items = plan_work(layout, n_init_times=92, batch_size=batch)
    shards = shard_all(items, world_size)
    sizes = np.array([len(s) for s in shards])
    assert sizes.sum() == len(items) == 92 * 7424 // batch
    assert sizes.max() - sizes.min() <= 1  # balanced within one chunk
    flat = [it for s in shards for it in s]
    init = np.array([it.init_index for it in flat])
    start = np.array([it.member_start for it in flat])
    stop = np.array([it.member_stop for it in flat])
    ckpt = np.array([it.checkpoint for it in flat])
    assert np.all(start % batch == 0) and np.all(stop - start == batch)  # chunk-aligned
    assert np.all(start // layout.members_per_checkpoint == ckpt)
    assert np.all((stop - 1) // layout.members_per_checkpoint == ckpt)
    covered = np.zeros((92, 7424), dtype=np.int32)  # every (date, member) pair exactly once
    for i, a in zip(init.tolist(), start.tolist(), strict=True):
        covered[i, a : a + batch] += 1
    assert np.all(covered == 1)
    # a rank loads at most two checkpoints when ranks ≥ checkpoints (contiguous slices ordered by checkpoint)
    n_ckpts = [len({it.checkpoint for it in s}) for s in shards]
    assert max(n_ckpts) <= (2 if world_size >= 29 else -(-29 // world_size) + 1)


def test_batch_size_must_divide_members_per_checkpoint():
    with pytest.raises(ValueError):
        plan_work(EnsembleLayout(2, 3), 1, batch_size=4)
