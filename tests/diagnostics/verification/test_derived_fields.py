"""``diagnose.derived``: derived channels scored from a store's channels equal the scores of the same derived fields
written as a store (and a verification) directly; missing inputs are named in one line."""

from __future__ import annotations

import numpy as np
import pytest

from hens.data.derived import compute_derived, derived_inputs
from hens.diagnostics.run import run_diagnose
from hens.diagnostics.verification.derived_fields import plan_derived, scored_variables
from hens.errors import HensError
from hens.io.zarr_open import open_zarr_quiet
from tests.helpers.stores import (
    INITS,
    LAT,
    LEADS,
    TIMES,
    diagnose_overrides,
    random_fields,
    write_hens_store,
    write_truth,
)

INPUTS = ("u10m", "v10m", "t2m", "d2m", "q500", "u500", "v500", "q850", "u850", "v850")
DERIVED = ("wind_speed_10m", "ivt", "heat_index")


def _derive_all(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    plan = derived_inputs(DERIVED, list(arrays))
    return {d: compute_derived(d, plan[d], [arrays[i] for i in plan[d]]).astype(np.float32) for d in DERIVED}


def test_plan_reads_inputs_and_keeps_stored_derived_channels():
    plan = plan_derived(scored_variables(INPUTS, ["t2m"], DERIVED), list(INPUTS), {})
    assert plan.scored == ["t2m", *DERIVED]
    assert plan.read[:3] == ["t2m", "u10m", "v10m"] and set(plan.read) == set(INPUTS)
    assert plan.verification == plan.compute
    stored = plan_derived(["ivt"], ["ivt", "t2m"], {"ivt": {"derived_from": "q500 q850 u500 u850 v500 v850"}})
    assert stored.compute == {} and stored.read == ["ivt"]
    assert stored.verification_channels == ["q500", "q850", "u500", "u850", "v500", "v850"]
    with pytest.raises(HensError, match=r"^diagnose.derived: derived channel heat_index needs .* lack d2m \(or r2m\)"):
        plan_derived(["heat_index"], ["t2m", "u10m"], {})


@pytest.mark.parametrize("tiles", [(), ("diagnose.chunks.lat=3", "diagnose.chunks.lon=5")])
def test_derived_scores_equal_those_of_stored_derived_fields(tmp_path, tiles):
    fields, truth = random_fields(INPUTS, n_members=4, seed=3)
    store = write_hens_store(tmp_path / "inputs.zarr", fields)
    verification = write_truth(tmp_path / "truth.zarr", truth)
    got = run_diagnose(
        store,
        diagnose_overrides(verification, "diagnose.variables=[t2m]", f"diagnose.derived=[{','.join(DERIVED)}]",
                           f"diagnose.output_dir={tmp_path / 'a'}", *tiles),
    )  # fmt: skip
    assert got.variables == ("t2m", *DERIVED)
    direct = write_hens_store(tmp_path / "direct.zarr", {"t2m": fields["t2m"], **_derive_all(fields)})
    direct_truth = write_truth(tmp_path / "direct_truth.zarr", {"t2m": truth["t2m"], **_derive_all(truth)})
    order = f"diagnose.variables=[t2m,{','.join(DERIVED)}]"
    want = run_diagnose(
        direct, diagnose_overrides(direct_truth, order, f"diagnose.output_dir={tmp_path / 'b'}", *tiles)
    )
    a, b = open_zarr_quiet(got.scores).load(), open_zarr_quiet(want.scores).load()
    assert a["variable"].values.tolist() == b["variable"].values.tolist()
    np.testing.assert_array_equal(a["scores"].values, b["scores"].values)
    assert a["scores"].sel(variable="ivt", metric="rmse").notnull().all()
    units = dict(zip(a["variable"].values.tolist(), a["units"].values.tolist(), strict=True)) if "units" in a else {}
    if units:
        assert units["ivt"] == "kg m-1 s-1" and units["heat_index"] == "K"
    # and one brute-force check: the global RMSE of the ensemble-mean IVT at the first lead time
    ivt_f = _derive_all(fields)["ivt"].astype(np.float64)
    ivt_t = _derive_all(truth)["ivt"].astype(np.float64)
    w = np.cos(np.deg2rad(LAT))
    w[[0, -1]] = 0.0
    obs = np.stack([ivt_t[np.searchsorted(TIMES, t0 + LEADS)] for t0 in INITS])
    mse = (((ivt_f.mean(axis=1) - obs) ** 2) * w[:, None]).sum(axis=(-2, -1)) / (w.sum() * obs.shape[-1])
    rmse = a["scores"].sel(variable="ivt", metric="rmse", region="global").values
    np.testing.assert_allclose(rmse, np.sqrt(mse.mean(axis=0)), rtol=1e-5)


def test_missing_inputs_are_named_in_one_line(tmp_path):
    fields, truth = random_fields(("u10m", "t2m"), n_members=2)
    store = write_hens_store(tmp_path / "s.zarr", fields)
    verification = write_truth(tmp_path / "t.zarr", truth)
    with pytest.raises(
        HensError, match=r"diagnose.derived: .*wind_speed_10m needs u10m and v10m; the data lack v10m"
    ) as err:
        run_diagnose(store, diagnose_overrides(verification, "diagnose.derived=[wind_speed_10m,ivt]"))
    assert "ivt needs" in str(err.value) and "\n" not in str(err.value)
    # the verification lacking an input is named too
    fields, truth = random_fields(("u10m", "v10m"), n_members=2)
    store = write_hens_store(tmp_path / "s2.zarr", fields)
    verification = write_truth(tmp_path / "t2.zarr", {"u10m": truth["u10m"]})
    with pytest.raises(HensError, match=r"verification lacks v10m"):
        run_diagnose(store, diagnose_overrides(verification, "diagnose.derived=[wind_speed_10m]"))
