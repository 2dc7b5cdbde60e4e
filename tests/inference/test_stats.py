"""In-line ensemble statistics: the accumulator against float64 brute force, merges, partials, and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

from hens.errors import HensError
from hens.inference.stats import StatsAccumulator, Thresholds, finalize, merge, merge_partials
from tests.helpers.cli import SMALL, run_hens

L, V, H, W = 3, 2, 4, 5
THRESHOLDS = Thresholds(((0, 0.5), (1, -0.2), (1, 1.0)))


def _brute(x: np.ndarray) -> dict[str, np.ndarray]:
    """Statistics over members (axis 0) of ``x`` [M, L, V, H, W] in float64, leaving out non-finite members per lead."""
    out = {k: [] for k in ("mean", "variance", "min", "max", "exceed", "n")}
    exceed = np.zeros((THRESHOLDS.count, L, H, W))
    for lead in range(L):
        ok = np.isfinite(x[:, lead]).reshape(x.shape[0], -1).all(axis=1)
        sel = x[ok, lead].astype(np.float64)
        out["n"].append(ok.sum())
        out["mean"].append(sel.mean(axis=0))
        out["variance"].append(sel.var(axis=0, ddof=1))
        out["min"].append(sel.min(axis=0))
        out["max"].append(sel.max(axis=0))
        for k, (v, t) in enumerate(THRESHOLDS.pairs):
            exceed[k, lead] = (sel[:, v] > t).sum(axis=0)
    result = {k: np.stack(v) for k, v in out.items() if k != "exceed"}
    result["exceed"] = exceed
    return result


def _accumulate(x: np.ndarray, batches: list[int]) -> StatsAccumulator:
    acc = StatsAccumulator(L, (V, H, W), THRESHOLDS, "cpu")
    start = 0
    for size in batches:
        block = torch.from_numpy(x[start : start + size])
        for lead in range(L):
            acc.add(lead, block[:, lead])
        start += size
    return acc


@pytest.fixture
def members() -> np.ndarray:
    rng = np.random.default_rng(3)
    x = (1e4 + rng.standard_normal((11, L, V, H, W)) * 0.7).astype(np.float32)  # large mean: cancellation test
    x -= 1e4
    x[4, 2, 1, 0, 0] = np.nan  # member 4 blows up at lead 2
    x[7, 1:, 0, 2, 3] = np.inf  # member 7 from lead 1
    return x


def test_accumulator_matches_float64_brute_force(members):
    got = finalize(_accumulate(members, [3, 1, 5, 2]).arrays())
    want = _brute(members)
    np.testing.assert_array_equal(got["n"], want["n"])
    assert list(got["n"]) == [11, 10, 9]
    np.testing.assert_allclose(got["mean"], want["mean"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got["variance"], want["variance"], rtol=1e-5)
    np.testing.assert_array_equal(got["min"], want["min"].astype(np.float32))
    np.testing.assert_array_equal(got["max"], want["max"].astype(np.float32))
    np.testing.assert_array_equal(got["exceed"], want["exceed"])


def test_chan_merge_equals_one_pass(members):
    one = _accumulate(members, [11]).arrays()
    a = _accumulate(members[:4], [4]).arrays()
    b = _accumulate(members[4:], [2, 5]).arrays()
    merged = merge(a, b)
    for key in ("n", "min", "max", "exceed"):
        np.testing.assert_array_equal(merged[key], one[key])
    np.testing.assert_allclose(merged["mean"], one["mean"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(merged["m2"], one["m2"], rtol=1e-10)
    # merging with an empty accumulator changes nothing
    empty = StatsAccumulator(L, (V, H, W), THRESHOLDS, "cpu").arrays()
    np.testing.assert_allclose(merge(empty, one)["mean"], one["mean"])


def test_fewer_than_two_members_give_nan_variance():
    x = np.ones((1, L, V, H, W), dtype=np.float32)
    got = finalize(_accumulate(x, [1]).arrays())
    assert np.isnan(got["variance"]).all() and (got["mean"] == 1).all()


def test_partials_must_cover_every_item_exactly_once(tmp_path, members):
    a = _accumulate(members[:5], [5])
    a.items = ["i00000-m000000"]
    b = _accumulate(members[5:], [6])
    b.items = ["i00000-m000005"]
    pa, pb = a.save(tmp_path), b.save(tmp_path)
    merged = finalize(merge_partials([pa, pb], ["i00000-m000000", "i00000-m000005"]))
    np.testing.assert_allclose(merged["mean"], _brute(members)["mean"], rtol=1e-6, atol=1e-6)
    with pytest.raises(HensError, match="lack work item"):
        merge_partials([pa], ["i00000-m000000", "i00000-m000005"])
    b.items = ["i00000-m000000"]
    with pytest.raises(HensError, match="counted in two"):
        merge_partials([pa, b.save(tmp_path)], ["i00000-m000000"])


@pytest.mark.e2e
def test_cli_statistics_equal_statistics_of_the_stored_members(tmp_path, cache_dir):
    full, subset = tmp_path / "full.zarr", tmp_path / "subset.zarr"
    stats = [
        "output.statistics.enabled=true",
        "output.statistics.thresholds={z500: [54000, 56000], u500: [10]}",
        "output.statistics.flush_items=3",
    ]
    run_hens(["generate", *SMALL, *stats, f"output.path={full}"], cache_dir)
    ds = xr.open_zarr(full).load()
    for var in ("z500", "u500", "v500"):
        x = ds[var].values.astype(np.float64)  # [init, member, lead, lat, lon]
        np.testing.assert_allclose(ds[f"{var}_ens_mean"].values, x.mean(axis=1), rtol=1e-6, atol=1e-4)
        np.testing.assert_allclose(ds[f"{var}_ens_variance"].values, x.var(axis=1, ddof=1), rtol=1e-4, atol=1e-6)
        np.testing.assert_array_equal(ds[f"{var}_ens_min"].values, x.min(axis=1))
        np.testing.assert_array_equal(ds[f"{var}_ens_max"].values, x.max(axis=1))
    z = ds["z500"].values
    expected = (z[:, :, None] > np.array([54000, 56000])[None, None, :, None, None, None]).sum(axis=1)
    np.testing.assert_array_equal(ds["z500_ens_exceedance"].values, expected)
    assert ds["z500_ens_exceedance"].dims == ("init_time", "threshold_z500", "lead_time", "lat", "lon")
    assert "v500_ens_exceedance" not in ds
    assert (ds["ensemble_count"].values == 8).all()

    # statistics of all members with only two stored: the same statistics, the stored members unchanged
    run_hens(["generate", *SMALL, *stats, "output.members=[1,6]", f"output.path={subset}"], cache_dir)
    sub = xr.open_zarr(subset).load()
    assert list(sub["member"].values) == [1, 6] and list(sub["sign"].values) == [-1, 1]
    np.testing.assert_array_equal(sub["z500"].values, ds["z500"].sel(member=[1, 6]).values)
    for name in ("z500_ens_mean", "u500_ens_variance", "v500_ens_max", "z500_ens_exceedance", "ensemble_count"):
        np.testing.assert_allclose(sub[name].values, ds[name].values, rtol=1e-6, err_msg=name)


@pytest.mark.e2e
def test_statistics_only_store_and_config_errors(tmp_path, cache_dir):
    only = tmp_path / "only.zarr"
    run_hens(
        ["generate", *SMALL, "output.statistics.enabled=true", "output.members=none", f"output.path={only}"], cache_dir
    )
    ds = xr.open_zarr(only)
    assert "z500" not in ds and "z500_ens_mean" in ds and np.isfinite(ds["z500_ens_mean"].values).all()
    errors = [
        (["output.members=none"], "stores nothing"),
        (["output.members=[0,99]"], "output.members lists member 99"),
        (["output.statistics.enabled=true", "output.statistics.thresholds={t2m: [300]}"], "not a stored channel"),
        (["output.statistics.enabled=true", "output.statistics.flush_items=0"], "flush_items"),
    ]
    for overrides, message in errors:
        proc = run_hens(
            ["generate", *SMALL, *overrides, f"output.path={tmp_path / 'bad.zarr'}"], cache_dir, check=False
        )
        assert proc.returncode == 2 and message in proc.stderr, (overrides, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "bad.zarr").exists()


def test_choose_batch_size_is_the_largest_fitting_divisor():
    from hens.inference.memory import GIB, MemoryEstimate, choose_batch_size

    est = MemoryEstimate(fixed=2 * GIB, per_member=3 * GIB)
    assert choose_batch_size(256, est, 80 * GIB, cap=64) == 16  # 26 fit; largest divisor of 256 ≤ 26
    assert choose_batch_size(256, est, 80 * GIB, cap=8) == 8
    assert choose_batch_size(6, est, 14 * GIB, cap=64) == 3  # 4 fit, 4 does not divide 6
    assert choose_batch_size(7, est, 5 * GIB, cap=64) == 1
    with pytest.raises(HensError, match="one member needs 5.00 GiB but only 4.00 GiB"):
        choose_batch_size(256, est, 4 * GIB, cap=64)


@pytest.mark.e2e
def test_auto_batch_size_from_memory_and_resume_keeps_it(tmp_path, cache_dir):
    import zarr

    base = [o for o in SMALL if not o.startswith("ensemble.batch_size")] + ["ensemble.batch_size=auto"]
    store = tmp_path / "auto.zarr"
    run_hens(["generate", *base, "ensemble.max_batch_size=4", f"output.path={store}"], cache_dir)
    assert zarr.open_array(str(store / "z500")).chunks[1] == 4
    # a resume with other limits keeps the store's batch (same store, nothing recomputed)
    proc = run_hens(["generate", *base, "ensemble.max_batch_size=2", f"output.path={store}"], cache_dir)
    assert "0 member-steps" in proc.stderr or "resum" in proc.stderr.lower()
    assert zarr.open_array(str(store / "z500")).chunks[1] == 4
    tiny = run_hens(
        ["generate", *base, "ensemble.memory_gb=0.0001", f"output.path={tmp_path / 'tiny.zarr'}"],
        cache_dir,
        check=False,
    )
    assert tiny.returncode == 2 and "one member needs" in tiny.stderr and not (tmp_path / "tiny.zarr").exists()
