"""`hens diagnose` with the ensemble-size statistics, end to end through the CLI on a small demo-world run."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from tests.helpers.cli import SMALL, run_hens


@pytest.mark.e2e
def test_diagnose_ensemble_size_on_the_demo_world(tmp_path, cache_dir):
    small = [o for o in SMALL if not o.startswith("ensemble.n_steps")] + ["ensemble.n_steps=3"]
    store = tmp_path / "run.zarr"
    run_hens(["generate", *small, f"output.path={store}"], cache_dir)
    m = xr.open_zarr(store).sizes["member"]
    assert m >= 4
    common = [
        "progress=false",
        "diagnose.spectral.enabled=false",
        "diagnose.extremes.enabled=false",
        "diagnose.bootstrap.n_resamples=20",
        "diagnose.ensemble_size.sizes=[2,3,1000]",
        "diagnose.ensemble_size.draws=4",
        "diagnose.ensemble_size.seed=11",
    ]
    outs = []
    for k in range(2):
        out = tmp_path / f"diag{k}"
        run_hens(["diagnose", str(store), f"diagnose.output_dir={out}", *common], cache_dir)
        outs.append(out)
    ds = xr.open_zarr(outs[0] / "scores.zarr").load()
    assert ds["subset_size"].values.tolist() == [2, 3, m]  # 1000 ≥ M dropped, M added
    assert ds.sizes["draw"] == 4 and ds.attrs["ensemble_size_draws"] == 4 and ds.attrs["ensemble_size_seed"] == 11
    assert ds["subset_scores"].attrs["seed"] == 11
    # the full size reproduces the ensemble's own scores
    full = ds["subset_scores"].sel(subset_size=m, subset_metric="crps").isel(draw=0)
    np.testing.assert_allclose(full.values, ds["scores"].sel(metric="crps").values, rtol=1e-12)
    assert ds["sufficient_size"].dims == ("variable", "region")
    assert set(np.unique(ds["sufficient_size"].values)) <= {2.0, 3.0, float(m)}
    # same seed, same draws and numbers
    again = xr.open_zarr(outs[1] / "scores.zarr").load()
    np.testing.assert_array_equal(ds["subset_members"].values, again["subset_members"].values)
    np.testing.assert_array_equal(ds["subset_scores"].values, again["subset_scores"].values)
    report = (outs[0] / "report.md").read_text()
    assert "## Ensemble size" in report and "Smallest sufficient M" in report
    assert (outs[0] / "plots" / "ensemble_size.png").stat().st_size > 10_000
    off = tmp_path / "off"
    run_hens(
        ["diagnose", str(store), f"diagnose.output_dir={off}", *common, "diagnose.ensemble_size.enabled=false"],
        cache_dir,
    )
    assert "subset_scores" not in xr.open_zarr(off / "scores.zarr")
    assert "## Ensemble size" not in (off / "report.md").read_text()
