"""Rollout: streaming every lead time, isolating non-finite members."""

import torch

from hens.inference.rollout import rollout


def test_rollout_streams_all_leads_and_flags_nonfinite_rows():
    calls = []

    def step(x: torch.Tensor) -> torch.Tensor:
        y = x + 1.0
        if len(calls) == 2:  # during the third step, member 1 blows up
            y[1, 0, 0, 0] = float("inf")
        calls.append(1)
        return y

    seen = []
    x0 = torch.zeros(3, 2, 4, 8)
    first_bad = rollout(step, x0, 5, lambda k, s: seen.append((k, s.clone())))
    assert [k for k, _ in seen] == list(range(6))
    assert first_bad.tolist() == [-1, 3, -1]
    final = seen[-1][1]
    assert torch.equal(final[0], torch.full((2, 4, 8), 5.0)) and torch.equal(final[2], final[0])
    assert not torch.isfinite(final[1]).all()
