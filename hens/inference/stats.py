"""In-line ensemble statistics: accumulated on the device while members roll out, merged across batches and ranks.

For every start date, lead time, variable and grid point the accumulator keeps

    n      number of members whose whole state at that lead was finite         [L]            int64
    mean   running mean                                                         [L, V, H, W]   float64
    m2     running sum of squared deviations from the mean, Σ (x − mean)²        [L, V, H, W]   float64
    min    elementwise minimum, max: elementwise maximum                        [L, V, H, W]   float32
    exceed count of members with x > threshold, per configured threshold          [K, L, H, W]  int32

A batch of b members with batch mean m_b and sum of squared deviations M2_b is merged into (n_a, m_a, M2_a) with
Chan, Golub & LeVeque's (1979) pairwise update

    n = n_a + n_b,   δ = m_b − m_a,   m = m_a + δ·n_b/n,   M2 = M2_a + M2_b + δ²·n_a·n_b/n,

which is exact in exact arithmetic and numerically stable (no E[x²] − E[x]² cancellation); the same update merges
the partial accumulators of different ranks or of different runs of a resumed job.  The sample variance is
M2 / (n − 1) (ddof = 1, the unbiased ensemble variance; NaN for n < 2).  A member that went non-finite stops
contributing from the first lead at which it is non-finite (its earlier leads still count), so ``n`` is per lead.

Partial accumulators are saved as ``.npz`` files together with the keys of the work items they contain; the
finished statistics are merged from them by :func:`merge_partials`, which checks that every item of the start date
is counted exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hens.ensemble.plan import WorkItem
from hens.errors import HensError
from hens.io.run_store import read_partial, save_partial, stats_dir
from hens.io.store import write_statistics

STAT_NAMES = ("mean", "variance", "min", "max")
ACCUMULATOR_FIELDS = ("n", "mean", "m2", "min", "max", "exceed")


@dataclass(frozen=True)
class Thresholds:
    """Exceedance thresholds: ``(variable index, value)`` pairs in a fixed order, value in the variable's units."""

    pairs: tuple[tuple[int, float], ...]

    @property
    def count(self) -> int:
        return len(self.pairs)


class StatsAccumulator:
    """The running statistics of one start date (see module docstring for fields and shapes).

    Args:
        n_leads: L, lead times stored (t = 0 included).
        shape: (V, H, W) of the stored variables.
        thresholds: exceedance thresholds.
        device: where the accumulation runs (the rollout device).
    """

    def __init__(
        self, n_leads: int, shape: tuple[int, int, int], thresholds: Thresholds, device: torch.device | str
    ) -> None:
        n_vars, n_lat, n_lon = shape
        self.n_leads, self.shape, self.thresholds = n_leads, shape, thresholds
        self.items: list[str] = []
        self.n = torch.zeros(n_leads, dtype=torch.int64, device=device)
        self.mean = torch.zeros(n_leads, *shape, dtype=torch.float64, device=device)
        self.m2 = torch.zeros(n_leads, *shape, dtype=torch.float64, device=device)
        self.min = torch.full((n_leads, *shape), float("inf"), dtype=torch.float32, device=device)
        self.max = torch.full((n_leads, *shape), float("-inf"), dtype=torch.float32, device=device)
        self.exceed = torch.zeros(thresholds.count, n_leads, n_lat, n_lon, dtype=torch.int32, device=device)
        self._var = torch.tensor([v for v, _ in thresholds.pairs], dtype=torch.int64, device=device)
        self._value = torch.tensor([t for _, t in thresholds.pairs], dtype=torch.float32, device=device)

    def add(self, lead: int, states: torch.Tensor) -> None:
        """Merge a batch ``[B, V, H, W]`` (stored variables, physical units) at lead index ``lead``.

        Members with any non-finite value are left out of this lead.
        """
        finite = torch.isfinite(states).flatten(1).all(dim=1)
        x = states[finite]
        n_b = int(x.shape[0])
        if n_b == 0:
            return
        x64 = x.to(torch.float64)
        mean_b = x64.mean(dim=0)
        m2_b = (x64 - mean_b).pow(2).sum(dim=0)
        n_a = int(self.n[lead])
        n = n_a + n_b
        delta = mean_b - self.mean[lead]
        self.mean[lead] += delta * (n_b / n)
        self.m2[lead] += m2_b + delta.pow(2) * (n_a * n_b / n)
        self.n[lead] = n
        x32 = x.to(torch.float32)
        self.min[lead] = torch.minimum(self.min[lead], x32.amin(dim=0))
        self.max[lead] = torch.maximum(self.max[lead], x32.amax(dim=0))
        if self.thresholds.count:
            picked = x32[:, self._var]  # [B, K, H, W]
            self.exceed[:, lead] += (picked > self._value[None, :, None, None]).sum(dim=0, dtype=torch.int32)

    def arrays(self) -> dict[str, np.ndarray]:
        """The raw accumulator as host arrays (for saving and merging)."""
        return {
            "n": self.n.cpu().numpy(),
            "mean": self.mean.cpu().numpy(),
            "m2": self.m2.cpu().numpy(),
            "min": self.min.cpu().numpy(),
            "max": self.max.cpu().numpy(),
            "exceed": self.exceed.cpu().numpy(),
        }

    def save(self, folder: Path) -> Path:
        """Write the accumulator and its item keys to a new partial in ``folder`` (see
        :func:`hens.io.run_store.save_partial`)."""
        return save_partial(folder, self.items, self.arrays())


def merge(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Chan's pairwise merge of two raw accumulators (see module docstring); pure, float64."""
    n_a = a["n"].astype(np.float64).reshape(-1, *([1] * (a["mean"].ndim - 1)))
    n_b = b["n"].astype(np.float64).reshape(n_a.shape)
    n = n_a + n_b
    with np.errstate(invalid="ignore", divide="ignore"):
        frac_b = np.where(n > 0, n_b / n, 0.0)
        cross = np.where(n > 0, n_a * n_b / n, 0.0)
    delta = b["mean"] - a["mean"]
    return {
        "n": a["n"] + b["n"],
        "mean": a["mean"] + delta * frac_b,
        "m2": a["m2"] + b["m2"] + delta**2 * cross,
        "min": np.minimum(a["min"], b["min"]),
        "max": np.maximum(a["max"], b["max"]),
        "exceed": a["exceed"] + b["exceed"],
    }


def finalize(acc: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Raw accumulator → stored statistics: mean, variance (ddof = 1), min, max (float32), exceed counts, n."""
    n = acc["n"].astype(np.float64).reshape(-1, *([1] * (acc["mean"].ndim - 1)))
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = np.where(n > 1, acc["m2"] / (n - 1), np.nan)
        mean = np.where(n > 0, acc["mean"], np.nan)
    empty = n == 0
    return {
        "mean": mean.astype(np.float32),
        "variance": variance.astype(np.float32),
        "min": np.where(empty, np.nan, acc["min"]).astype(np.float32),
        "max": np.where(empty, np.nan, acc["max"]).astype(np.float32),
        "exceed": acc["exceed"].astype(np.int32),
        "n": acc["n"].astype(np.int32),
    }


def merge_partials(paths: Iterable[Path], expected_items: Sequence[str]) -> dict[str, np.ndarray]:
    """Merge saved partial accumulators of one start date; every expected item must be in exactly one.

    Raises:
        HensError: naming a missing or doubly counted item (the run is not finished, or partials were mixed).
    """
    total: dict[str, np.ndarray] | None = None
    seen: dict[str, Path] = {}
    for path in sorted(paths):
        items, part = read_partial(path, ACCUMULATOR_FIELDS)
        for item in items:
            if item in seen:
                raise HensError(
                    f"work item {item} is counted in two statistics partials ({seen[item].name}, {path.name})"
                )
            seen[item] = path
        total = part if total is None else merge(total, part)
    missing = sorted(set(expected_items) - set(seen))
    if missing or total is None:
        raise HensError(
            f"in-line statistics lack work item(s) {', '.join(missing[:3]) or 'all'}; rerun the same hens generate "
            "command to finish them"
        )
    return total


class StatsBook:
    """One rank's in-line statistics during a run: an accumulator per start date, saved as partials every
    ``flush_items`` work items (then those items are recorded as finished).  Without statistics (``thresholds``
    None) every item is due at once.

    Args:
        thresholds: exceedance thresholds per stored variable (physical units), None: no statistics.
        flush_items: work items between saves of the partials.
        folder: the store's partial-statistics folder (:func:`hens.io.run_store.stats_dir`), None: not written.
        variables: the stored variables (V), in the order of the states handed to the accumulators.
        n_leads: L, lead times including t = 0.
        grid: (H, W) of the states.
        device: where the accumulators live (the rollout device).
    """

    def __init__(
        self,
        thresholds: Mapping[str, Sequence[float]] | None,
        flush_items: int,
        folder: Path | None,
        variables: tuple[str, ...],
        n_leads: int,
        grid: tuple[int, int],
        device: torch.device,
    ) -> None:
        self.enabled = thresholds is not None
        self.flush_items = flush_items
        self.folder = folder
        self.shape = (len(variables), *grid)
        self.n_leads, self.device = n_leads, device
        pairs = []
        for v, name in enumerate(variables):
            pairs += [(v, t) for t in (thresholds or {}).get(name, ())]
        self.thresholds = Thresholds(tuple(pairs))
        self.open: dict[int, StatsAccumulator] = {}
        self.pending: list[tuple[WorkItem, list[dict[str, Any]]]] = []

    def accumulator(self, item: WorkItem) -> StatsAccumulator | None:
        """The accumulator of the item's start date (None without statistics); the item is recorded in it."""
        if not self.enabled:
            return None
        if item.init_index not in self.open:
            self.open[item.init_index] = StatsAccumulator(self.n_leads, self.shape, self.thresholds, self.device)
        acc = self.open[item.init_index]
        acc.items.append(item.key)
        return acc

    def hold(self, item: WorkItem, nonfinite: list[dict[str, Any]]) -> None:
        """Keep a rolled-out item (with its non-finite member records) until the next :meth:`flush`."""
        self.pending.append((item, nonfinite))

    def should_flush(self, last: bool) -> bool:
        return not self.enabled or last or len(self.pending) >= self.flush_items

    def flush(self) -> list[tuple[WorkItem, list[dict[str, Any]]]]:
        """Save the open accumulators (one partial per start date) and return the items they finish."""
        if self.enabled and self.folder is not None:
            for init_index, acc in sorted(self.open.items()):
                acc.save(self.folder / f"{init_index:05d}")
            self.open = {}
        done, self.pending = self.pending, []
        return done


def finish_statistics(path: Path, items: Sequence[WorkItem], variables: tuple[str, ...]) -> None:
    """Merge every start date's partials into the stored statistics (rank 0, after all ranks finished)."""
    for init_index in sorted({it.init_index for it in items}):
        expected = [it.key for it in items if it.init_index == init_index]
        folder = stats_dir(path) / f"{init_index:05d}"
        merged = merge_partials(folder.glob("*.npz") if folder.is_dir() else [], expected)
        write_statistics(path, init_index, variables, finalize(merged))
