"""``output.derived``: derived channels computed in `hens generate`'s sink from each step's states and stored (and
given statistics) beside the channels; one-line errors for missing inputs; scored by `hens diagnose` exactly like
``diagnose.derived`` computes them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hens.config import compose_config, generate_spec
from hens.data.derived import heat_index, integrated_vapour_transport, relative_humidity_from_dewpoint
from hens.diagnostics.run import run_diagnose
from hens.errors import HensError, StoreError
from hens.inference.budget import budget_from_config
from hens.inference.derived_outputs import resolve_derived_outputs
from hens.inference.run_setup import run_identity
from hens.io.integrity import verify_store
from hens.io.run_store import prepare_store
from hens.io.store import StoreLayout, stats_name
from hens.io.zarr_open import open_zarr_quiet
from tests.helpers.sink import CHANNELS, DERIVED, write_through_sink
from tests.helpers.stores import INITS, LAT, LEADS, LON, diagnose_overrides, random_fields, write_truth


def _brute_force(fields: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The three derived channels from the inputs, written out by hand in float64 (independent of the registry)."""
    f = {k: v.astype(np.float64) for k, v in fields.items()}
    return {
        "wind_speed_10m": np.sqrt(f["u10m"] ** 2 + f["v10m"] ** 2),
        "ivt": integrated_vapour_transport([f["q500"], f["q850"]], [f["u500"], f["u850"]], [f["v500"], f["v850"]],
                                           [500, 850]),
        "heat_index": heat_index(f["t2m"], relative_humidity_from_dewpoint(f["t2m"], f["d2m"])),
    }  # fmt: skip


def test_stored_derived_channels_equal_the_formula_of_the_stored_inputs(tmp_path):
    fields, _ = random_fields(CHANNELS, n_members=4, seed=5)
    store = write_through_sink(tmp_path / "s.zarr", fields, CHANNELS, DERIVED)
    ds = open_zarr_quiet(store).load()
    assert set(ds.data_vars) == {*CHANNELS, *DERIVED, "nonfinite_lead"}
    stored = {c: ds[c].values for c in CHANNELS}
    np.testing.assert_array_equal(stored["t2m"], fields["t2m"])  # lossless float32: the inputs as handed over
    expected = _brute_force(stored)
    for name in DERIVED:
        got = ds[name].values
        assert got.dtype == np.float32 and np.isfinite(got).all()
        # bit for bit with the formula applied to the stored inputs (float64 inside, rounded once to float32)
        np.testing.assert_array_equal(got, expected[name].astype(np.float32))
    assert ds["ivt"].attrs["units"] == "kg m-1 s-1" and ds["heat_index"].attrs["units"] == "K"
    assert ds["wind_speed_10m"].attrs["standard_name"] == "wind_speed"
    assert ds["ivt"].attrs["derived_from"] == "q500 q850 u500 u850 v500 v850"
    assert ds["heat_index"].attrs["derived_from"] == "t2m d2m"
    # `hens verify`: the manifest records every chunk of the derived variables too
    report = verify_store(store, full=True)
    assert report.ok and not report.unchecked
    items, lead_chunks = len(INITS) * 2, 2  # 4 members in blocks of 2; 3 leads in chunks of 2
    assert report.n_checked == items * ((len(CHANNELS) + len(DERIVED)) * lead_chunks + 1)
    damaged = next(p for p in (store / "ivt").rglob("*") if p.is_file() and p.name != "zarr.json")
    damaged.write_bytes(damaged.read_bytes()[:-1])
    assert [p.item for p in verify_store(store, full=False).problems]


def test_inputs_need_not_be_stored_and_statistics_only_output_covers_derived(tmp_path):
    fields, _ = random_fields(CHANNELS, n_members=4, seed=6)
    full = write_through_sink(tmp_path / "full.zarr", fields, CHANNELS, DERIVED)
    few = write_through_sink(tmp_path / "few.zarr", fields, ("z500",), ("ivt", "wind_speed_10m"))
    a, b = open_zarr_quiet(full).load(), open_zarr_quiet(few).load()
    assert set(b.data_vars) == {"z500", "ivt", "wind_speed_10m", "nonfinite_lead"}
    np.testing.assert_array_equal(a["ivt"].values, b["ivt"].values)
    # statistics only (output.members=none): the derived channels' ensemble mean and spread are stored
    thresholds = {"ivt": (250.0,)}
    stats = write_through_sink(tmp_path / "st.zarr", fields, ("t2m",), ("ivt",), members=(), thresholds=thresholds)
    s = open_zarr_quiet(stats).load()
    assert "ivt" not in s.data_vars and "t2m" not in s.data_vars
    ivt = a["ivt"].values.astype(np.float64)  # [init, member, lead, lat, lon]
    np.testing.assert_allclose(s[stats_name("ivt", "mean")].values, ivt.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(s[stats_name("ivt", "variance")].values, ivt.var(axis=1, ddof=1), rtol=1e-5)
    np.testing.assert_array_equal(s[stats_name("ivt", "exceedance")].values[:, 0], (ivt > 250.0).sum(axis=1))
    assert s[stats_name("ivt", "mean")].attrs["units"] == "kg m-1 s-1"
    # members and statistics together: the derived fields computed at every step (for the statistics) are written,
    # equal to those the writer threads compute once per chunk without statistics
    both = write_through_sink(tmp_path / "both.zarr", fields, ("z500",), ("ivt",), thresholds=thresholds)
    c = open_zarr_quiet(both).load()
    np.testing.assert_array_equal(c["ivt"].values, a["ivt"].values)
    np.testing.assert_array_equal(c[stats_name("ivt", "mean")].values, s[stats_name("ivt", "mean")].values)


def test_missing_inputs_and_clashes_are_one_line_errors():
    assert resolve_derived_outputs((), CHANNELS, "tiny") is None
    with pytest.raises(HensError) as err:
        resolve_derived_outputs(("heat_index", "ivt"), ("t2m", "u10m", "q850", "u850", "v850"), "sfno_a")
    text = str(err.value)
    assert "\n" not in text and text.startswith("output.derived: derived channel heat_index needs")
    assert "checkpoint sfno_a lacks d2m (or r2m)" in text and "ivt needs" in text
    assert text.endswith("drop it from output.derived or use a checkpoint with those channels")
    with pytest.raises(HensError, match=r"output.derived names t2m, a channel checkpoint sfno_a predicts"):
        resolve_derived_outputs(("t2m",), ("t2m",), "sfno_a")


def test_diagnose_scores_a_stored_derived_channel_like_diagnose_derived(tmp_path):
    """A store holding the derived channels (``output.derived``) and one holding only their inputs, scored with
    ``diagnose.derived``, give the same scores: the verification's copy comes from the same inputs either way."""
    fields, truth = random_fields(CHANNELS, n_members=4, seed=7)
    verification = write_truth(tmp_path / "truth.zarr", truth)
    with_derived = write_through_sink(tmp_path / "a.zarr", fields, CHANNELS, DERIVED)
    inputs_only = write_through_sink(tmp_path / "b.zarr", fields, CHANNELS, ())
    names = ",".join(DERIVED)
    stored = run_diagnose(
        with_derived,
        diagnose_overrides(verification, f"diagnose.variables=[t2m,{names}]", f"diagnose.output_dir={tmp_path / 'a'}"),
    )
    computed = run_diagnose(
        inputs_only,
        diagnose_overrides(verification, "diagnose.variables=[t2m]", f"diagnose.derived=[{names}]",
                           f"diagnose.output_dir={tmp_path / 'b'}"),
    )  # fmt: skip
    a, b = open_zarr_quiet(stored.scores).load(), open_zarr_quiet(computed.scores).load()
    assert a["variable"].values.tolist() == b["variable"].values.tolist() == ["t2m", *DERIVED]
    np.testing.assert_array_equal(a["scores"].values, b["scores"].values)
    assert np.isfinite(a["scores"].sel(variable="ivt", metric="rmse").values).all()


def _probe_package(path: Path, channels: tuple[str, ...]) -> Path:
    """A makani package of ``channels`` without weights (`hens plan` reads metadata only)."""
    from hens.models.makani_package import write_makani_package
    from tests.helpers.makani import CONFIG, H, W

    n = len(channels)
    config = {**CONFIG, "channel_names": list(channels), "in_channels": list(range(n)), "out_channels": list(range(n)),
              "N_in_channels": n + 8, "N_out_channels": n}  # fmt: skip
    ones = np.ones(n, dtype=np.float32)
    return write_makani_package(
        path, config=config, state_dict={}, means=ones, stds=ones, orography=np.zeros((H, W), np.float32),
        land_mask=np.zeros((H, W), np.float32),
    )  # fmt: skip


def test_plan_counts_the_derived_channels_and_names_missing_inputs(tmp_path):
    _probe_package(tmp_path / "ckpt" / "tiny", ("u10m", "v10m", "t2m", "z500"))
    base = [f"model.checkpoint_dir={tmp_path / 'ckpt'}", "model.checkpoints=[tiny]", "output.variables=[z500]"]
    plain = budget_from_config(compose_config("generate", base))
    more = budget_from_config(compose_config("generate", [*base, "output.derived=[wind_speed_10m]"]))
    assert plain.variables == ("z500",) and more.variables == ("z500", "wind_speed_10m")
    assert more.bytes_total == 2 * plain.bytes_total > 0
    with pytest.raises(HensError, match=r"^output.derived: derived channel ivt needs .*checkpoint tiny lacks q<hPa>"):
        budget_from_config(compose_config("generate", [*base, "output.derived=[ivt]"]))


def test_a_resume_with_other_derived_channels_is_refused_naming_the_key(tmp_path):
    fields, _ = random_fields(("t2m",), n_members=2)
    path = tmp_path / "run.zarr"
    layout = StoreLayout(
        variables=("t2m",), init_times=INITS, lead_times=LEADS, lat=LAT, lon=LON,
        member_coords={"checkpoint": np.array(["a", "a"], dtype=object)}, batch_size=2, lead_chunk=2,
    )  # fmt: skip

    def identity(*overrides: str) -> dict:
        spec = generate_spec(compose_config("generate", [f"output.path={path}", *overrides]))
        return run_identity(spec, {}, [], torch.device("cpu"))

    plain, derived = identity(), identity("output.derived=[ivt]")
    assert prepare_store(path, layout, "fp", overwrite=False, identity=plain) == "created"
    assert prepare_store(path, layout, "fp", overwrite=False, identity=plain) == "resumed"
    with pytest.raises(StoreError, match=r'\(output.derived: null in the store, \["ivt"\] now\); choose a new'):
        prepare_store(path, layout, "fp", overwrite=False, identity=derived)
    assert (path / "t2m").is_dir()  # nothing written is lost
