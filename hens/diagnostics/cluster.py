"""Run Dask graphs for `hens diagnose`: the local threaded scheduler, a local distributed cluster, a scheduler
address or a dask-jobqueue cluster — with a progress bar.

On a laptop-sized run the threaded scheduler is fastest (the NumPy/torch kernels release the GIL and nothing is
serialised between processes); a distributed cluster pays off when the store is larger than one machine's
memory bandwidth or when workers run on other nodes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

from hens.config import DaskSpec
from hens.errors import ConfigError, HensError

__all__ = ["Computer", "compute_in_phases", "dask_computer"]

Computer = Callable[[dict[str, Any]], dict[str, Any]]


def _as_delayed(objects: dict[str, Any]) -> list[Any]:
    """Every collection as a ``dask.delayed`` object.

    dask 2026.8 returns the results of ``dask.compute``/``Client.compute`` out of order when ``Delayed`` objects
    and array collections (xarray, dask.array) are mixed in one call; wrapping each collection in
    ``dask.delayed`` keeps the order (and the whole graph is still computed in one pass).
    """
    import dask
    from dask.delayed import Delayed

    return [obj if isinstance(obj, Delayed) else dask.delayed(obj) for obj in objects.values()]


def _tqdm_callback(desc: str) -> Any:
    from dask.callbacks import Callback
    from tqdm.auto import tqdm

    class TqdmCallback(Callback):
        """Progress of the local schedulers: one tick per finished task."""

        def _start_state(self, dsk: Any, state: dict[str, Any]) -> None:
            total = sum(len(state[k]) for k in ("ready", "waiting", "running", "finished"))
            self._bar = tqdm(total=total, desc=desc, unit="task", leave=False, mininterval=0.5)

        def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
            self._bar.update(1)

        def _finish(self, dsk: Any, state: Any, errored: bool) -> None:
            self._bar.close()

    return TqdmCallback()


def _local_computer(scheduler: str, num_workers: int | None, progress: bool) -> Computer:
    import dask

    def compute(objects: dict[str, Any]) -> dict[str, Any]:
        keys = list(objects)
        ctx = _tqdm_callback("hens diagnose") if progress else contextlib.nullcontext()
        with ctx, dask.config.set(scheduler=scheduler, num_workers=num_workers):
            values = dask.compute(*_as_delayed(objects))
        return dict(zip(keys, values, strict=True))

    return compute


def _client_computer(client: Any, progress: bool) -> Computer:
    from distributed import as_completed

    def compute(objects: dict[str, Any]) -> dict[str, Any]:
        keys = list(objects)
        futures = client.compute(_as_delayed(objects))
        if progress:
            from tqdm.auto import tqdm

            for _ in tqdm(as_completed(futures), total=len(futures), desc="hens diagnose", unit="result", leave=False):
                pass
        return dict(zip(keys, client.gather(futures), strict=True))

    return compute


def _jobqueue_cluster(settings: dict[str, Any]) -> Any:
    try:
        import dask_jobqueue
    except ImportError as err:
        raise HensError("diagnose.dask.jobqueue needs the dask-jobqueue package; pip install dask-jobqueue") from err
    opts = dict(settings)
    kind = str(opts.pop("kind", "slurm")).lower()
    jobs = int(opts.pop("jobs", 1))
    classes = {
        "slurm": "SLURMCluster",
        "pbs": "PBSCluster",
        "sge": "SGECluster",
        "lsf": "LSFCluster",
        "htcondor": "HTCondorCluster",
        "oar": "OARCluster",
        "moab": "MoabCluster",
    }
    if kind not in classes:
        raise ConfigError(f"diagnose.dask.jobqueue.kind={kind!r} must be one of {', '.join(classes)}")
    try:
        cluster = getattr(dask_jobqueue, classes[kind])(**opts)
    except TypeError as err:
        raise ConfigError(f"diagnose.dask.jobqueue: {err}; see the dask-jobqueue {classes[kind]} options") from err
    cluster.scale(jobs=jobs)
    return cluster


@contextlib.contextmanager
def dask_computer(spec: DaskSpec, *, progress: bool) -> Iterator[Computer]:
    """A function computing a dict of Dask collections on the configured scheduler (closed on exit).

    Order of precedence: ``jobqueue`` settings, then ``address``, then ``scheduler``.
    """
    if spec.jobqueue is None and spec.address is None and spec.scheduler != "distributed":
        workers = spec.n_workers if spec.scheduler != "synchronous" else None
        yield _local_computer(spec.scheduler, workers, progress)
        return
    from distributed import Client, LocalCluster

    cluster = None
    try:
        if spec.jobqueue is not None:
            cluster = _jobqueue_cluster(spec.jobqueue)
            client = Client(cluster)
        elif spec.address is not None:
            try:
                client = Client(spec.address, timeout="30s")
            except OSError as err:
                raise HensError(
                    f"diagnose.dask.address={spec.address}: cannot connect ({err}); is the scheduler running?"
                ) from err
        else:
            n_workers = spec.n_workers or max(1, (os.cpu_count() or 1) // spec.threads_per_worker)
            cluster = LocalCluster(
                n_workers=n_workers,
                threads_per_worker=spec.threads_per_worker,
                processes=True,
                dashboard_address=None,
                silence_logs=40,
            )
            client = Client(cluster)
        with client:
            yield _client_computer(client, progress)
    finally:
        if cluster is not None:
            cluster.close()


def compute_in_phases(compute: Computer, graphs: dict[str, Any], first: tuple[str, ...] = ()) -> dict[str, Any]:
    """``compute(graphs)``, but the graphs whose keys start with ``first`` computed on their own before the rest.

    Under ``diagnose.memory_gb`` the spectra read whole-globe store chunks while the statistics read tiles: in one
    pass the scheduler interleaves both and their peaks add up; in two passes the process peak is the larger of
    the two (measured at M = 512, 0.25°: docs/benchmarks.md).  Nothing is shared between the phases but the
    (small) verification reads, so the extra cost is those reads.  Results are the same either way.
    """
    early = {k: v for k, v in graphs.items() if k.startswith(first)} if first else {}
    rest = {k: v for k, v in graphs.items() if k not in early}
    results = compute(early) if early else {}
    if rest:
        results |= compute(rest)
    return results
