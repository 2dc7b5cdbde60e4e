"""Several stores as one set of start dates: find them, check they belong together, open them as one dataset.

SLURM job arrays (``launcher.array_over_dates=true``) write one store per start date; `hens diagnose` scores them
as one ensemble of start dates.  Members are pure functions of (seed, start date, checkpoint, perturbation,
sign), so the stores of one configuration hold exactly the members one multi-date store would hold, and the
scores of the combined stores are those of that one store (same blocks, same sums in the same order).

* :func:`expand_stores` turns the command line's paths and glob patterns into store paths.
* :func:`open_stores` opens each store (with its own integrity check, :func:`~hens.diagnostics.verification.
  store.flag_incomplete`), checks that they are compatible and share no start date, and concatenates them along
  ``init_time`` in time order.  :class:`StoreSet` keeps which store holds which start date, for the tile-wise
  reads of :mod:`hens.diagnostics.aggregate.tiles`.
* :func:`open_baseline` opens the baseline store(s) and checks them against the (combined) main stores.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from hens.diagnostics.verification.store import NONFINITE, flag_incomplete, forecast_variables, open_store
from hens.errors import HensError
from hens.io.manifest import Manifest

__all__ = [
    "EXECUTION_KEYS",
    "StoreSet",
    "check_compatible",
    "expand_stores",
    "multi_output_dir",
    "open_baseline",
    "open_stores",
]

#: Keys of a store's recorded identity (``.hens/run.json``) that may differ between the stores of one ensemble:
#: the start dates themselves, and how the run was executed (which does not change the members' science).
EXECUTION_KEYS = frozenset(
    {
        "ic.start_dates",
        "device_type",
        "threads",
        "torch_version",
        "hens_version",
        "ensemble.batch_size",
        "ensemble.auto_batch",
        "ensemble.max_batch_size",
    }
)
_MEMBER_COORDS = ("checkpoint", "checkpoint_index", "perturbation", "sign")
_GLOB_CHARS = ("*", "?", "[")


def expand_stores(patterns: Sequence[str | Path]) -> list[Path]:
    """Store paths from paths and glob patterns (``runs/hens_*.zarr``), in the order given, each pattern's
    matches sorted; a store named twice counts once.

    Raises:
        HensError: no pattern given, or a glob pattern that matches nothing.
    """
    if not patterns:
        raise HensError("hens diagnose needs at least one store: hens diagnose STORE [STORE …|'GLOB'] [overrides]")
    paths: list[Path] = []
    for pattern in patterns:
        text = str(pattern)
        if any(c in text for c in _GLOB_CHARS) and not Path(text).exists():
            hits = sorted(glob.glob(text))
            if not hits:
                raise HensError(f"the store pattern {text!r} matches no path; check it (quote it for the shell)")
            paths.extend(Path(h) for h in hits)
        else:
            paths.append(Path(text))
    unique: dict[Path, Path] = {}
    for p in paths:
        unique.setdefault(p.resolve(), p)
    return list(unique.values())


def multi_output_dir(paths: Sequence[Path]) -> Path:
    """Default output folder of several stores: ``<first store's folder>/<first>_to_<last>.diagnostics`` (names
    without ``.zarr``, stores in start-date order)."""

    def stem(p: Path) -> str:
        return p.name[: -len(".zarr")] if p.name.endswith(".zarr") and len(p.name) > 5 else p.name

    return paths[0].parent / f"{stem(paths[0])}_to_{stem(paths[-1])}.diagnostics"


@dataclass(frozen=True)
class StoreSet:
    """The stores of one diagnosis, opened as one dataset.

    Attributes:
        paths: the stores, ordered by their first start date.
        dataset: the stores' variables concatenated along ``init_time`` (ascending), integrity flags applied;
            attributes of the first store.
        store_of: per start date (datetime64[ns]), the store that holds it.
        fingerprints: each store's ``hens_fingerprint`` attribute ("" without one), in the order of ``paths``.
    """

    paths: tuple[Path, ...]
    dataset: xr.Dataset
    store_of: Mapping[np.datetime64, Path]
    fingerprints: tuple[str, ...]

    @property
    def source(self) -> Path | Mapping[np.datetime64, Path]:
        """What tile-wise reads read from: the one store, or the store of each start date."""
        return self.paths[0] if len(self.paths) == 1 else self.store_of


def _identity(path: Path) -> dict[str, Any] | None:
    run = Manifest(path).read_run()
    return None if run is None else dict(run.get("identity", {}))


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape != b.shape or not bool(np.all(a == b))
    return a != b


def _mismatch(path: Path, first: Path, key: str, a: Any, b: Any) -> HensError:
    def short(v: Any) -> str:
        text = json.dumps(v, default=str) if not isinstance(v, np.ndarray) else f"{v.size} values {v.ravel()[:3]}…"
        return text if len(text) <= 60 else text[:57] + "..."

    return HensError(
        f"store {path} does not match {first}: {key} differs ({short(b)} vs {short(a)}); diagnose together only "
        "stores of one configuration that differ in their start dates"
    )


def check_compatible(datasets: Sequence[xr.Dataset], paths: Sequence[Path]) -> None:
    """Raise a one-line HensError naming the first store and key that differ from the first store.

    Compared: the forecast variables (names, order and units), ``lat``, ``lon``, ``lead_time``, the members
    (count and their checkpoint / perturbation / sign), and — for stores written by hens generate — every key of
    the recorded run identity except :data:`EXECUTION_KEYS` (same checkpoints, seed, perturbations, world, …).
    """
    first, ref = paths[0], datasets[0]
    ref_identity = _identity(first)
    for path, ds in zip(paths[1:], datasets[1:], strict=True):
        if forecast_variables(ds) != forecast_variables(ref):
            raise _mismatch(path, first, "variables", forecast_variables(ref), forecast_variables(ds))
        for var in forecast_variables(ref):
            if ref[var].attrs.get("units") != ds[var].attrs.get("units"):
                raise _mismatch(path, first, f"{var} units", ref[var].attrs.get("units"), ds[var].attrs.get("units"))
        for coord in ("lat", "lon", "lead_time", "member"):
            if _differs(ref[coord].values, ds[coord].values):
                raise _mismatch(path, first, coord, ref[coord].values, ds[coord].values)
        for coord in _MEMBER_COORDS:
            if coord in ref.coords and (coord not in ds.coords or _differs(ref[coord].values, ds[coord].values)):
                other = ds[coord].values if coord in ds.coords else None
                raise _mismatch(path, first, f"member coordinate {coord}", ref[coord].values, other)
        identity = _identity(path)
        if (ref_identity is None) != (identity is None):
            raise _mismatch(path, first, ".hens/run.json", ref_identity is not None, identity is not None)
        if identity is not None and ref_identity is not None:
            for key in sorted(set(ref_identity) | set(identity)):
                if key not in EXECUTION_KEYS and ref_identity.get(key) != identity.get(key):
                    raise _mismatch(path, first, key, ref_identity.get(key), identity.get(key))


def _check_disjoint(datasets: Sequence[xr.Dataset], paths: Sequence[Path]) -> dict[np.datetime64, Path]:
    owner: dict[np.datetime64, Path] = {}
    for path, ds in zip(paths, datasets, strict=True):
        for t in ds["init_time"].values.astype("datetime64[ns]"):
            if t in owner:
                when = np.datetime_as_string(t, unit="m")
                raise HensError(
                    f"start date {when} is in both {owner[t]} and {path}; pass each start date once (leave one of "
                    "the stores out)"
                )
            owner[t] = path
    return owner


def open_stores(paths: Sequence[Path], verify: str, allow_incomplete: bool) -> StoreSet:
    """Open and check every store (each against its own manifest), then concatenate them along ``init_time``.

    One store is returned as opened (its own start-date order).  Several are checked with
    :func:`check_compatible` and for overlapping start dates, and their start dates sorted ascending; the
    concatenation is lazy (Dask) and keeps each store's chunks.

    Raises:
        HensError / StoreError: a missing, damaged or unfinished store (naming it), incompatible stores (naming
            the store and key), or a start date held by two stores.
    """
    paths = [Path(p) for p in paths]
    opened = [flag_incomplete(open_store(p), p, verify, allow_incomplete) for p in paths]
    if len(paths) == 1:
        only = opened[0]
        owner = {t: paths[0] for t in only["init_time"].values.astype("datetime64[ns]")}
        return StoreSet((paths[0],), only, owner, (str(only.attrs.get("hens_fingerprint", "")),))
    order = np.argsort([ds["init_time"].values.astype("datetime64[ns]").min() for ds in opened], kind="stable")
    paths = [paths[i] for i in order]
    opened = [opened[i] for i in order]
    check_compatible(opened, paths)
    owner = _check_disjoint(opened, paths)
    keep = [*forecast_variables(opened[0]), *([NONFINITE] if all(NONFINITE in ds for ds in opened) else [])]
    combined = xr.concat(
        [ds[keep] for ds in opened],
        dim="init_time",
        data_vars="all",
        coords="minimal",
        compat="override",
        join="exact",
        combine_attrs="override",
    )
    inits = combined["init_time"].values
    if np.any(inits[1:] < inits[:-1]):  # stores whose dates interleave; otherwise keep the chunks as they are
        combined = combined.sortby("init_time")
    combined.attrs["hens_stores"] = json.dumps([str(p) for p in paths])
    prints = tuple(str(ds.attrs.get("hens_fingerprint", "")) for ds in opened)
    return StoreSet(tuple(paths), combined, owner, prints)


def open_baseline(
    main: StoreSet, pattern: str, variables: Sequence[str] | None, verify: str, allow_incomplete: bool
) -> StoreSet:
    """The baseline store(s) of ``diagnose.baseline.path`` (a path or a glob pattern), opened like the main stores
    and checked to cover their start dates, lead times, grid and variables.

    Raises:
        HensError: naming ``diagnose.baseline.path`` and what differs.
    """
    main_paths = {p.resolve() for p in main.paths}
    paths = expand_stores([pattern])
    for path in paths:
        if path.resolve() in main_paths:
            raise HensError(
                f"diagnose.baseline.path={path} is the store itself (one of the diagnosed stores); point it at another "
                "ensemble store"
            )
        if not path.exists():
            raise HensError(f"diagnose.baseline.path={path} does not exist; point it at a store from hens generate")
    base_set = open_stores(paths, verify, allow_incomplete)
    base, ref = base_set.dataset, main.dataset
    for coord in ("lat", "lon"):
        if ref.sizes[coord] != base.sizes[coord] or not np.allclose(ref[coord].values, base[coord].values):
            raise HensError(
                f"diagnose.baseline.path={pattern} is on another grid ({coord} differs); compare stores on one grid"
            )
    for coord in ("init_time", "lead_time"):
        lacking = np.setdiff1d(ref[coord].values, base[coord].values)
        if lacking.size:
            raise HensError(
                f"diagnose.baseline.path={pattern} lacks {coord} {lacking[0]} of the store; select common ones with "
                f"diagnose.{'start_dates' if coord == 'init_time' else 'lead_times'}"
            )
    wanted = list(variables) if variables else forecast_variables(ref)
    missing = [v for v in wanted if v not in base.data_vars]
    if missing:
        raise HensError(
            f"diagnose.baseline.path={pattern} lacks variable(s) {', '.join(missing)}; choose common ones with "
            "diagnose.variables"
        )
    return base_set
