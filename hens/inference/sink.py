"""Where a rank's rolled-out states go: chunk-aligned region writes on a background thread, the in-line
statistics, the non-finite member records, and the manifest.

Per work item, :meth:`RunSink.on_step` is the rollout's ``on_step``: it collects each lead's states
``[B, C, nlat, nlon]`` (the stored channels, and the inputs of the derived channels of ``output.derived``) into
``[B, lead_chunk, ·, nlat, nlon]`` host buffers and submits one region write per (member block × lead chunk ×
variable) to the writer threads, which encode the chunks and compute the derived channels
(:mod:`hens.inference.derived_outputs`) of theirs; and it adds the stored and derived channels to the start
date's statistics accumulator (with statistics, the derived channels are computed at every step, on the host).
:meth:`RunSink.finish_item` writes the members' first non-finite leads and records items as finished in the manifest
only once all their chunks (and statistics partials) are on disk.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hens.ensemble.plan import WorkItem
from hens.inference.derived_outputs import DerivedOutputs
from hens.inference.stats import StatsBook
from hens.io.store import StoreWriter
from hens.io.writer import BackgroundWriter

OnStep = Callable[[int, torch.Tensor], None]
"""``on_step(k, states)``: states ``[B, C, nlat, nlon]`` at lead index k (:func:`hens.inference.rollout.rollout`)."""


class ItemSink:
    """Collects one item's steps into (members × lead_chunk) buffers and submits chunk writes.

    Args:
        writer: the background writer the region writes go to.
        store: the store (None: nothing is written).
        item: the work item whose members the batch rows are.
        host_index: indices among the model channels, ``[H]`` on the rollout device, of the channels copied to the
            host: the stored channels, then the inputs of the derived channels that are not stored.
        host_names: the names of those channels (H).
        channels: the stored channels (V, the first V of ``host_names``; empty when no member is stored).
        derived: the derived channels to store after the channels (None: none).
        lead_chunk: leads per chunk.
        n_leads: leads of the rollout, t = 0 included (the last chunk may be shorter).
        dtype: host dtype of the buffers handed to the store (float32: the store encodes).
        rows: (rows of the batch, members of the store) pairs to write (see :func:`stored_rows`).

    A derived channel is computed from the host buffer by the writer thread that writes it, once per chunk, unless
    the step hands it over already computed (for the statistics; then those fields are written).
    """

    def __init__(
        self,
        writer: BackgroundWriter,
        store: StoreWriter | None,
        item: WorkItem,
        host_index: torch.Tensor,
        host_names: tuple[str, ...],
        channels: tuple[str, ...],
        derived: DerivedOutputs | None,
        lead_chunk: int,
        n_leads: int,
        dtype: str,
        rows: list[tuple[slice, slice]],
    ):
        self.writer, self.store, self.item = writer, store, item
        self.host_index, self.channels, self.derived = host_index, channels, derived
        self.position = {name: i for i, name in enumerate(host_names)}
        self.lead_chunk, self.n_leads, self.dtype = lead_chunk, n_leads, np.dtype(dtype)
        self.rows = rows
        self.buffer: list[torch.Tensor] = []
        self.ready: list[torch.Tensor] = []
        self.chunk_start = 0
        self.on_cuda = False

    @property
    def active(self) -> bool:
        """Whether this item writes anything (a store, and stored members in the item)."""
        return self.store is not None and bool(self.rows)

    def __call__(self, k: int, state: torch.Tensor, derived: torch.Tensor | None = None) -> None:
        """Collect lead ``k`` of ``state`` ``[B, C, nlat, nlon]``; ``derived`` ``[B, D, nlat, nlon]`` (host float32):
        the derived fields when the step already computed them, else None."""
        if not self.active:
            return
        self.on_cuda = state.is_cuda
        self.buffer.append(state.index_select(1, self.host_index).to("cpu", non_blocking=True))
        if derived is not None:
            self.ready.append(derived)
        if len(self.buffer) == self.lead_chunk or k == self.n_leads - 1:
            self._submit()

    def _submit(self) -> None:
        if self.on_cuda:  # the non-blocking device→host copies must land before numpy reads the buffers
            torch.cuda.synchronize()
        block = torch.stack(self.buffer, dim=1).numpy().astype(self.dtype, copy=False)  # [B, L, H, nlat, nlon]
        ready = torch.stack(self.ready, dim=1).numpy() if self.ready else None  # [B, L, D, nlat, nlon]
        leads = slice(self.chunk_start, self.chunk_start + block.shape[1])
        for batch_rows, members in self.rows:
            for v, name in enumerate(self.channels):
                self._write(name, members, leads, np.ascontiguousarray(block[batch_rows, :, v]))
            for d, name in enumerate(self.derived.names if self.derived is not None else ()):
                if ready is not None:
                    self._write(name, members, leads, np.ascontiguousarray(ready[batch_rows, :, d]))
                else:  # computed on the writer thread from the inputs' [rows, L, nlat, nlon] buffers
                    inputs = {c: block[batch_rows, :, self.position[c]] for c in self.derived.inputs[name]}
                    self._write(name, members, leads, lambda name=name, inputs=inputs: self.derived.field(name, inputs))
        self.chunk_start += block.shape[1]
        self.buffer, self.ready = [], []

    def _write(self, name: str, members: slice, leads: slice, data: np.ndarray | Callable[[], np.ndarray]) -> None:
        """Submit one region write of ``data`` ``[members, leads, nlat, nlon]`` (or of what ``data()`` returns)."""
        init_index, store = self.item.init_index, self.store
        self.writer.submit(
            lambda: store.write_block(name, init_index, members, leads, data() if callable(data) else data)
        )


def stored_rows(item: WorkItem, position: dict[int, int] | None) -> list[tuple[slice, slice]]:
    """(batch rows, store members) slices of the item's stored members: the whole item when every member is
    stored (``position`` None), else one pair per member of the ``output.members`` subset in the item."""
    if position is None:
        return [(slice(None), slice(item.member_start, item.member_stop))]
    return [
        (slice(i, i + 1), slice(position[m], position[m] + 1))
        for i, m in enumerate(range(item.member_start, item.member_stop))
        if m in position
    ]


def nonfinite_records(item: WorkItem, first_bad: torch.Tensor, init_time: np.datetime64) -> list[dict[str, Any]]:
    """One record per member of the item that went non-finite (``first_bad`` ``[B]``: first lead or −1)."""
    return [
        {
            "init_time": np.datetime_as_string(init_time, unit="m"),
            "member": item.member_start + i,
            "first_nonfinite_lead": int(b),
        }
        for i, b in enumerate(first_bad.tolist())
        if b >= 0
    ]


class RunSink:
    """One rank's output for a whole run (see module docstring); a context manager around the background writer.

    Args:
        store_path: the store (None: ``output.write=false``, nothing is written or recorded).
        variables: the stored channels (V) and ``var_index`` their indices among the model channels.
        stored_members: ``output.members`` (None: all members; empty: statistics only).
        lead_chunk: leads per chunk; ``n_leads``: leads of a rollout, t = 0 included.
        max_pending: writes the background writer holds at most (host memory bound).
        stats: this rank's statistics book.
        writer_threads: threads that encode and write chunks (any count writes the same bytes).
        derived: the derived channels (``output.derived``; None: none), stored and accumulated after the channels.
    """

    def __init__(
        self,
        store_path: Path | None,
        variables: tuple[str, ...],
        var_index: torch.Tensor,
        stored_members: tuple[int, ...] | None,
        lead_chunk: int,
        n_leads: int,
        max_pending: int,
        stats: StatsBook,
        writer_threads: int = 1,
        derived: DerivedOutputs | None = None,
    ) -> None:
        self.derived, self.channels = derived, variables
        outputs = variables + (derived.names if derived is not None else ())
        self.variables = outputs if stored_members != () else ()
        self.store = StoreWriter(store_path, self.variables) if store_path is not None else None
        self.position = None if stored_members is None else {m: i for i, m in enumerate(stored_members)}
        self.var_index, self.lead_chunk, self.n_leads, self.stats = var_index, lead_chunk, n_leads, stats
        extra = [c for c in (derived.input_channels if derived is not None else []) if c not in variables]
        self.host_names = variables + tuple(extra)  # the channels copied to the host: stored, then derived inputs
        extra_index = [derived.channels.index(c) for c in extra] if derived is not None else []
        self.host_index = torch.cat(
            [var_index, torch.as_tensor(extra_index, dtype=var_index.dtype).to(var_index.device)]
        )
        self.writer = BackgroundWriter(max_pending, threads=writer_threads)

    def __enter__(self) -> RunSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.writer.__exit__(*exc)

    def on_step(self, item: WorkItem) -> OnStep:
        """The rollout's ``on_step`` for ``item``: chunk writes, then the statistics of the stored and derived
        channels.  With statistics the derived channels are computed at every step (and those fields written);
        without, by the writer threads once per chunk, so the rollout does not wait for them."""
        rows = stored_rows(item, self.position)
        sink = ItemSink(
            self.writer,
            self.store,
            item,
            self.host_index,
            self.host_names,
            self.channels if self.variables else (),
            self.derived if self.variables else None,
            self.lead_chunk,
            self.n_leads,
            "float32",
            rows,
        )
        accumulate = self.stats.accumulator(item)
        var_index, derived = self.var_index, self.derived
        per_step = derived is not None and accumulate is not None
        input_index = derived.input_index(var_index.device) if per_step else None

        def on_step(k: int, state: torch.Tensor) -> None:
            extra = derived.from_states(state, input_index) if per_step else None  # [B, D, nlat, nlon] host
            sink(k, state, extra)
            if accumulate is not None:
                fields = state.index_select(1, var_index)
                if extra is not None:
                    fields = torch.cat([fields, extra.to(fields.device, fields.dtype)], dim=1)
                accumulate.add(k, fields)

        return on_step

    def finish_item(
        self, item: WorkItem, first_bad: torch.Tensor, init_time: np.datetime64, last: bool
    ) -> list[dict[str, Any]]:
        """After ``item``'s rollout (``first_bad`` ``[B]``): write its members' first non-finite leads, and when the
        statistics book is due (or ``last``: this rank's last item) wait for every pending write, save the
        partials and record the items as finished.  Returns the item's non-finite member records."""
        bad = nonfinite_records(item, first_bad, init_time)
        if self.store is None:
            return bad
        store, bad_leads = self.store, first_bad.numpy()
        for batch_rows, members in stored_rows(item, self.position):
            self.writer.submit(
                lambda i=item.init_index, m=members, fb=bad_leads[batch_rows]: store.write_nonfinite(i, m, fb)
            )
        self.stats.hold(item, bad)
        if self.stats.should_flush(last=last):
            self.writer.flush()  # every chunk of the items is on disk before they are recorded as finished
            for done, done_bad in self.stats.flush():
                slices = [members for _, members in stored_rows(done, self.position)]
                chunks = store.chunk_checksums(done.init_index, slices)  # read back: what is on disk now
                store.manifest.mark_done(done.key, {"item": done.__dict__, "nonfinite": done_bad, "chunks": chunks})
        return bad
