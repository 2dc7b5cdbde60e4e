"""`hens plan` and :mod:`hens.inference.budget`: members, work per rank, bytes and GPU-hours before a run."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from hens.config import compose_config
from hens.ensemble.plan import EnsembleLayout, plan_work, shard_all
from hens.errors import ConfigError
from hens.inference.budget import (
    DEFAULT_MEMBER_STEPS_PER_SECOND,
    budget_from_config,
    compute_budget,
    field_bytes,
    format_budget,
    human_bytes,
    item_breeding_steps,
    rank_loads,
)
from hens.perturb.bred_vectors import breed
from tests.helpers.cli import SMALL, run_hens


def _small_budget(**kw):
    args = dict(
        layout=EnsembleLayout(n_checkpoints=3, n_perturbations=4, control="per_checkpoint"),
        checkpoints=("a", "b", "c"),
        start_dates=("2000-01-01T00:00", "2000-01-02T00:00"),
        n_steps=10,
        timestep_hours=6.0,
        batch_size=4,
        n_cycles=3,
        variables=("z500", "t2m"),
        grid=(33, 64),
        dtype="float32",
        ranks=4,
        member_steps_per_second=2.0,
    )
    args.update(kw)
    return compute_budget(**args)


def test_breeding_cost_matches_the_breeding_code():
    """n_cycles × (P' + 1) member-steps per item: P' perturbed states plus the unperturbed analysis per cycle."""
    calls: list[int] = []

    def step(x: torch.Tensor) -> torch.Tensor:
        calls.append(x.shape[0])
        return x * 1.01

    n_cycles, n_pert = 3, 5
    analyses = torch.randn(n_cycles, 2, 8, 16)
    breed(step, analyses, 0.1 * torch.randn(n_pert, 2, 8, 16), 1.0, np.linspace(87, -87, 8))
    layout = EnsembleLayout(n_checkpoints=1, n_perturbations=n_pert, control="none")
    (item,) = plan_work(layout, 1, batch_size=2 * n_pert)
    assert sum(calls) == item_breeding_steps(layout, item, n_cycles) == n_cycles * (n_pert + 1)
    # the control member needs no bred vector of its own; an item holding only the control breeds nothing
    ctl = EnsembleLayout(n_checkpoints=1, n_perturbations=2, control="per_checkpoint")
    items = plan_work(ctl, 1, batch_size=1)  # members: (p0,+) (p0,−) (p1,+) (p1,control)
    assert [item_breeding_steps(ctl, it, 3) for it in items] == [6, 6, 6, 0]


def test_breeding_cost_with_the_single_hens_control():
    """Only checkpoint 0's first item holds the control: the per-(offset, size) cache must not reuse its cost."""
    layout = EnsembleLayout(n_checkpoints=2, n_perturbations=2)  # control="hens": member 0 only
    items = plan_work(layout, 1, batch_size=1)
    assert [item_breeding_steps(layout, it, 3) for it in items] == [0, 6, 6, 6, 6, 6, 6, 6]
    assert rank_loads(items, 1, layout, n_steps=10, n_cycles=3).breeding_member_steps == (42, 42)
    assert "one control (member 0" in format_budget(_small_budget(layout=EnsembleLayout(3, 4)))


def test_compute_budget_counts_and_bytes():
    b = _small_budget()
    assert b.members_per_date == 24 and b.n_pairs == 48 and b.n_items == 12 and b.jobs == 1
    assert b.rollout_member_steps == 2 * 24 * 10
    # each 4-member item holds 2 perturbations (control included: its partner still needs δ): 3 × (2 + 1)
    assert b.breeding_member_steps == 12 * 9
    assert b.bytes_per_variable == field_bytes(2, 24, 11, 33, 64, "float32") == 2 * 24 * 11 * 33 * 64 * 4
    assert b.bytes_total == 2 * b.bytes_per_variable
    assert b.bytes_per_member * 24 * 2 == b.bytes_total
    assert b.gpu_hours == pytest.approx(b.member_steps / 2.0 / 3600)
    assert b.load.items == (3, 3) and b.load.member_steps == (3 * 49, 3 * 49) and b.load.idle_ranks == 0
    assert _small_budget(dtype="float16").bytes_total == b.bytes_total // 2
    text = format_budget(b)
    assert "24 members" in text and "48 (date, member) pairs" in text and "uncompressed" in text
    json.dumps(b.to_dict())


def test_array_over_dates_shards_one_date_per_job():
    b = _small_budget(array_over_dates=True, ranks=3)
    assert b.jobs == 2 and b.ranks_per_job == 3
    assert b.load.items == (2, 2)  # 6 items per date over 3 ranks
    assert b.allocated_gpu_hours == pytest.approx(b.wall_hours_per_job * 3 * 2)
    idle = _small_budget(ranks=20)
    assert idle.load.idle_ranks == 8 and "idle ranks" in format_budget(idle)


def test_hens_scale_budget():
    """HENS: 29 × 256 members, 92 dates, 60 steps, 12 saved 0.25° float32 fields ≈ 3.0 GB per member."""
    b = compute_budget(
        layout=EnsembleLayout(29, 128),
        checkpoints=tuple(f"ck{i}" for i in range(29)),
        start_dates=tuple(str(np.datetime64("2023-06-01T00:00") + np.timedelta64(d, "D")) for d in range(92)),
        n_steps=60,
        timestep_hours=6.0,
        batch_size=16,
        n_cycles=3,
        variables=tuple(f"v{i}" for i in range(12)),
        grid=(721, 1440),
        dtype="float32",
        ranks=256,
        member_steps_per_second=DEFAULT_MEMBER_STEPS_PER_SECOND,
        array_over_dates=True,
    )
    assert b.members_per_date == 7424 and b.n_pairs == 7424 * 92 and b.jobs == 92
    assert b.bytes_per_member == pytest.approx(3.04e9, rel=0.01)
    assert b.bytes_total / 92 == pytest.approx(22.6e12, rel=0.01)
    assert human_bytes(b.bytes_total) == "2.08 PB"
    assert b.load.items[1] - b.load.items[0] <= 1 and b.load.checkpoints[1] <= 2


def test_rank_loads_are_the_shards_of_generate():
    layout = EnsembleLayout(5, 6)
    items = plan_work(layout, 3, batch_size=4)
    load = rank_loads(items, 7, layout, n_steps=20, n_cycles=2)
    shards = shard_all(items, 7)
    sizes = [len(s) for s in shards]
    assert load.items == (min(sizes), max(sizes))
    steps = [sum(it.n_members * 20 + item_breeding_steps(layout, it, 2) for it in s) for s in shards]
    assert load.member_steps == (min(steps), max(steps))


def test_budget_from_config_reads_no_weights(monkeypatch, cache_dir):
    def no_weights(*args, **kwargs):
        raise AssertionError("hens plan must not load checkpoint weights")

    monkeypatch.setattr(torch, "load", no_weights)
    b = budget_from_config(compose_config("generate"))
    assert b.ranks_per_job == 1 and b.member_steps_per_second == DEFAULT_MEMBER_STEPS_PER_SECOND
    assert b.variables and b.grid[0] > 0 and len(b.checkpoints) >= 1
    with pytest.raises(ConfigError, match="--member-steps-per-second=0 must be a number > 0"):
        budget_from_config(compose_config("generate"), member_steps_per_second=0)
    with pytest.raises(ConfigError, match="launcher.member_steps_per_second=-1 must be"):
        budget_from_config(compose_config("generate", ["launcher=slurm", "launcher.member_steps_per_second=-1"]))
    slurm = budget_from_config(compose_config("generate", ["launcher=slurm", "launcher.nodes=2"]))
    assert slurm.ranks_per_job == 8 and slurm.time_limit == "01:30:00"


@pytest.mark.e2e
def test_plan_cli_on_the_demo_config(cache_dir):
    text = run_hens(["plan"], cache_dir).stdout
    args = ["plan", "--json", "--ranks", "3", "--member-steps-per-second", "100"]
    data = json.loads(run_hens(args, cache_dir).stdout)
    assert f"{data['members_per_date']} members" in text
    assert data["ranks_per_job"] == 3 and data["member_steps_per_second"] == 100
    assert data["n_pairs"] == len(data["start_dates"]) * data["members_per_date"]
    assert data["member_steps"] == data["rollout_member_steps"] + data["breeding_member_steps"]
    assert data["gpu_hours"] == pytest.approx(data["member_steps"] / 100 / 3600)
    assert sum(data["bytes_by_variable"].values()) == data["bytes_total"]
    assert data["load"]["items"][1] - data["load"]["items"][0] <= 1


@pytest.mark.e2e
def test_plan_cli_selections_and_errors(cache_dir):
    data = json.loads(
        run_hens(
            [
                "plan",
                "--json",
                "launcher=slurm",
                "launcher.array_over_dates=true",
                'output.path="/scratch/r_{date}.zarr"',
                "output.variables=[z500]",
                "output.compressor=none",
                "output.dtype=float16",
            ],
            cache_dir,
        ).stdout
    )
    assert data["variables"] == ["z500"] and data["jobs"] == len(data["start_dates"]) and data["ranks_per_job"] == 4
    assert data["compression"] is None and data["dtype"] == "float16"
    proc = run_hens(["plan", "output.variables=[nope]"], cache_dir, check=False)
    assert proc.returncode == 2 and "nope" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.e2e
def test_plan_matches_what_generate_reports(tmp_path, cache_dir):
    """The planned rollout member-steps are the ones `hens generate` counts (no store written)."""
    plan = json.loads(run_hens(["plan", "--json", *SMALL], cache_dir).stdout)
    proc = run_hens(["generate", *SMALL, "output.write=false"], cache_dir, cwd=tmp_path)
    reported = int(proc.stderr.split(" member-steps in ")[0].rsplit(" ", 1)[-1].replace(",", ""))
    assert reported == plan["rollout_member_steps"] == plan["n_pairs"] * plan["n_steps"]
    assert f"{plan['n_items']} chunk(s)" in proc.stderr


def test_plan_says_how_many_writer_threads_keep_up_and_what_diagnose_costs():
    from hens.inference.budget import (
        DIAGNOSE_CORE_SECONDS_PER_MEMBER_FIELD,
        WRITER_MB_PER_SECOND_PER_THREAD,
        WRITER_MB_PER_SECOND_PER_THREAD_KEEPBITS,
    )

    b = _small_budget()
    rollout_share = b.rollout_member_steps / b.member_steps
    mb = b.member_steps_per_second * len(b.variables) * 33 * 64 * 4 / 1e6 * rollout_share
    assert b.output_mb_per_second_per_gpu == pytest.approx(mb)
    assert b.writer_threads_needed == 1  # 33×64 fields are small
    fields = 2 * 24 * 11 * len(b.variables)
    assert b.diagnose_core_hours == pytest.approx(
        fields * DIAGNOSE_CORE_SECONDS_PER_MEMBER_FIELD * 33 * 64 / (721 * 1440) / 3600
    )
    big = _small_budget(grid=(721, 1440), variables=tuple(f"c{i}" for i in range(74)), member_steps_per_second=1.57)
    per_gpu = 1.57 * 74 * 721 * 1440 * 4 / 1e6 * big.rollout_member_steps / big.member_steps
    assert big.writer_threads_needed == int(np.ceil(per_gpu / WRITER_MB_PER_SECOND_PER_THREAD)) > 1
    text = format_budget(big)
    assert f"needs {big.writer_threads_needed} writer thread(s) per GPU" in text and "core-hours" in text
    # one writer thread (the default Budget) cannot keep up: output, not the GPU, bounds the run, with remedies
    assert big.output_bound_factor == pytest.approx(per_gpu / WRITER_MB_PER_SECOND_PER_THREAD)
    assert big.output_bound_factor > 1
    assert "output bound       YES" in text and "output.keepbits=10" in text and "output.members=none" in text
    enough = replace(big, writer_threads=big.writer_threads_needed)
    assert enough.output_bound_factor <= 1 and "output bound       no" in format_budget(enough)
    rounded = replace(big, keepbits=True)
    assert rounded.writer_mb_per_second_per_thread == WRITER_MB_PER_SECOND_PER_THREAD_KEEPBITS
    assert "output.keepbits=10" not in format_budget(rounded)
    few = replace(big, stored_members=big.members_per_date // 4)  # output.members: a quarter of the members stored
    assert few.output_mb_per_second_per_gpu == pytest.approx(big.output_mb_per_second_per_gpu / 4)
    assert big.diagnose_core_hours_all_spectra >= big.diagnose_core_hours
