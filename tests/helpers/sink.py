"""A store written as `hens generate`'s sink writes it (derived channels included), from plain arrays, without a
model: the states of every lead are handed to :class:`hens.inference.sink.RunSink` step by step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from hens.ensemble.plan import WorkItem
from hens.inference.derived_outputs import resolve_derived_outputs
from hens.inference.sink import RunSink
from hens.inference.stats import StatsBook, finish_statistics
from hens.io.run_store import prepare_store, stats_dir
from tests.helpers.stores import INITS, LAT, LEADS, LON, synthetic_layout

CHANNELS = ("u10m", "v10m", "t2m", "d2m", "q500", "u500", "v500", "q850", "u850", "v850", "z500")
DERIVED = ("heat_index", "ivt", "wind_speed_10m")  # as output.derived reads them (sorted)
BATCH = 2


def write_through_sink(
    path: Path,
    fields: dict[str, np.ndarray],
    stored: tuple[str, ...],
    derived: tuple[str, ...],
    members: tuple[int, ...] | None = None,
    thresholds: dict[str, tuple[float, ...]] | None = None,
) -> Path:
    """A store written as `hens generate` writes it: every model channel's states ``fields[c]`` ``[init, member,
    lead, lat, lon]`` handed step by step to a :class:`RunSink` storing ``stored`` and the derived ``derived``."""
    n_members = fields["t2m"].shape[1]
    outputs = resolve_derived_outputs(derived, CHANNELS, "tiny")
    names = stored + (outputs.names if outputs is not None else ())
    layout = synthetic_layout(
        names,
        n_members,
        checkpoint="tiny",
        batch=BATCH,
        lead_chunk=2,
        stored_members=members,
        statistics=thresholds,
        derived_from={k: tuple(v) for k, v in (outputs.inputs if outputs else {}).items()},
    )
    prepare_store(path, layout, "synthetic", overwrite=False)
    book = StatsBook(thresholds, 1, stats_dir(path), names, LEADS.size, (LAT.size, LON.size), torch.device("cpu"))
    var_index = torch.as_tensor([CHANNELS.index(c) for c in stored])
    items = [WorkItem(i, 0, m, m + BATCH) for i in range(INITS.size) for m in range(0, n_members, BATCH)]
    with RunSink(path, stored, var_index, members, 2, LEADS.size, 4, book, derived=outputs) as sink:
        for item in items:
            on_step = sink.on_step(item)
            for k in range(LEADS.size):
                rows = slice(item.member_start, item.member_stop)
                states = np.stack([fields[c][item.init_index, rows, k] for c in CHANNELS], axis=1)  # [B, C, H, W]
                on_step(k, torch.from_numpy(states))
            sink.finish_item(item, torch.full((BATCH,), -1), INITS[item.init_index], last=item is items[-1])
    if thresholds is not None:
        finish_statistics(path, items, names)
    return path
