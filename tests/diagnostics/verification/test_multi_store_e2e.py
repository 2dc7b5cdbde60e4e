"""Whole commands: `hens diagnose` of one-date stores (as a SLURM job array writes them) equals the diagnosis of
one store holding all the dates, bit for bit; damaged or incompatible stores among them are refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from hens.diagnostics.verification.store import forecast_variables
from hens.io.zarr_open import open_zarr_quiet
from tests.helpers.cli import SMALL, run_hens

DATES = ["2000-01-06T00:00", "2000-01-16T00:00", "2000-01-26T00:00"]
DIAGNOSE = [
    "progress=false",
    "diagnose.bootstrap.n_resamples=50",
    "diagnose.chunks.lat=11",  # tile-wise reads: each tile is read from the store that holds its start date
]


@pytest.fixture(scope="module")
def stores(tmp_path_factory, cache_dir) -> tuple[Path, list[Path]]:
    """A three-date store and the three one-date stores of the same config (job-array style, ic.date_index)."""
    root = tmp_path_factory.mktemp("multistore")
    dates = f"ic.start_dates=[{','.join(DATES)}]"
    run_hens(["generate", *SMALL, dates, f"output.path={root / 'all.zarr'}"], cache_dir)
    for k in range(len(DATES)):
        run_hens(
            ["generate", *SMALL, dates, f"++ic.date_index={k}", f'output.path="{root}/one_{{date}}.zarr"'], cache_dir
        )
    singles = sorted(root.glob("one_*.zarr"))
    assert len(singles) == len(DATES)
    return root / "all.zarr", singles


def _numbers(path: Path) -> xr.Dataset:
    return open_zarr_quiet(path).load()


@pytest.mark.e2e
def test_one_date_stores_score_exactly_as_one_store(stores, cache_dir, tmp_path):
    whole, singles = stores
    run_hens(["diagnose", str(whole), *DIAGNOSE, f"diagnose.output_dir={tmp_path / 'one'}"], cache_dir)
    # a glob for two of them and a plain path for the third, given out of date order
    pattern = str(singles[0].parent / "one_200001[12]*.zarr")
    proc = run_hens(
        ["diagnose", str(singles[0]), pattern, *DIAGNOSE, f"diagnose.output_dir={tmp_path / 'many'}"], cache_dir
    )
    assert "3 start date(s) from 3 stores" in proc.stderr
    a, b = _numbers(tmp_path / "one" / "scores.zarr"), _numbers(tmp_path / "many" / "scores.zarr")
    assert set(a.data_vars) == set(b.data_vars)
    for name in a.data_vars:  # every score, interval, histogram, spectrum and map: bit for bit
        if a[name].dtype.kind in "fc":
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
        else:
            assert np.array_equal(a[name].values, b[name].values), name
    assert a.sizes["init_time"] == len(DATES)
    # per-date scores kept, and the date-mean of their CRPS sums to the total (equal weights per date)
    by_date = b["scores_by_init_time"].sel(metric="crps")
    np.testing.assert_allclose(by_date.mean("init_time"), b["scores"].sel(metric="crps"), rtol=1e-12)
    assert json.loads(b.attrs["store"]) == [str(p.resolve()) for p in singles]


@pytest.mark.e2e
def test_damaged_or_overlapping_stores_are_refused(stores, cache_dir, tmp_path):
    whole, singles = stores
    damaged = tmp_path / singles[1].name
    shutil.copytree(singles[1], damaged)
    var = forecast_variables(open_zarr_quiet(damaged))[0]
    chunk = sorted(p for p in (damaged / var / "c").rglob("*") if p.is_file())[0]
    chunk.unlink()
    out = tmp_path / "out"
    proc = run_hens(
        ["diagnose", str(singles[0]), str(damaged), "progress=false", f"diagnose.output_dir={out}"],
        cache_dir,
        check=False,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("hens: error:"), proc.stderr
    assert str(damaged) in lines[0] and not out.exists()

    proc = run_hens(
        ["diagnose", str(whole), str(singles[2]), "progress=false", f"diagnose.output_dir={out}"],
        cache_dir,
        check=False,
    )
    assert proc.returncode == 2 and "2000-01-26T00:00 is in both" in proc.stderr, proc.stderr
