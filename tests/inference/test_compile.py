"""``compile: none|default|reduce-overhead|max-autotune``: torch.compile of the model step.

The fast tests swap Inductor for torch's ``eager`` backend (same Dynamo tracing, no C++ build) to check the wiring:
which module is compiled, with which mode, that errors are one line and that the mode is part of the run's
identity.  The e2e test compiles a tiny makani SFNO with Inductor on CPU (about a minute cold on this 2-core
machine) and checks a rollout against eager.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hens.config import compose_config, generate_spec
from hens.errors import ConfigError, HensError, StoreError
from hens.inference.rollout import rollout
from hens.inference.run_setup import run_identity
from hens.io.run_store import prepare_store
from hens.io.store import StoreLayout
from hens.models import load_forecaster
from hens.models.compile import check_compile_available
from hens.models.makani_package import read_makani_package, write_makani_package
from hens.models.network import build_network
from tests.helpers.makani import CONFIG, MEANS, STDS, H, W

T0 = np.datetime64("2024-03-20T12:00", "ns")
DT = np.timedelta64(6, "h")


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """A tiny random-weight makani package (16×32, 3 channels, zenith angle input: ``requires_valid_time``)."""
    path = tmp_path_factory.mktemp("compile") / "pkg"
    rng = np.random.default_rng(0)
    extra = {
        "orography": (rng.random((H, W)) * 5e4).astype(np.float32),
        "land_mask": (rng.random((H, W)) > 0.6).astype(np.float32),
    }
    probe = write_makani_package(path, config=CONFIG, state_dict={}, means=MEANS, stds=STDS, **extra)
    torch.manual_seed(0)
    pkg = read_makani_package(probe)
    state = build_network(pkg.architecture, pkg.model_kwargs).state_dict()
    return write_makani_package(path, config=CONFIG, state_dict=state, means=MEANS, stds=STDS, **extra)


def _states(batch: int = 2) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 3, H, W, generator=gen)
    return x * torch.from_numpy(STDS).view(1, 3, 1, 1) + torch.from_numpy(MEANS).view(1, 3, 1, 1)


def _trajectory(forecaster, n_steps: int = 3) -> torch.Tensor:
    out: list[torch.Tensor] = []
    rollout(forecaster, _states(), n_steps, lambda k, s: out.append(s.clone()), start_time=T0, timestep=DT)
    return torch.stack(out, dim=1)  # [B, L, C, nlat, nlon]


@pytest.fixture
def eager_backend(monkeypatch):
    """torch.compile with the ``eager`` backend (Dynamo only); records the modes asked for."""
    original, modes = torch.compile, []

    def compile_eager(module, *, mode=None, dynamic=None, **kwargs):
        modes.append(mode)
        return original(module, backend="eager", dynamic=dynamic)

    monkeypatch.setattr(torch, "compile", compile_eager)
    torch._dynamo.reset()
    yield modes
    torch._dynamo.reset()


def test_compile_key_is_validated_and_changes_the_identity_only_when_set():
    base = generate_spec(compose_config("generate", []))
    compiled = generate_spec(compose_config("generate", ["compile=reduce-overhead"]))
    assert base.compile == "none" and "compile" not in base.fingerprint_fields()
    assert compiled.fingerprint_fields()["compile"] == "reduce-overhead"
    with pytest.raises(ConfigError, match=r"compile.*'fast'.*none, default, reduce-overhead, max-autotune"):
        generate_spec(compose_config("generate", ["compile=fast"]))


def test_resume_with_another_compile_mode_is_refused_naming_the_key(tmp_path):
    layout = StoreLayout(
        variables=("z500",),
        init_times=np.array(["2000-01-01T00"], dtype="datetime64[ns]"),
        lead_times=(np.arange(3) * DT).astype("timedelta64[ns]"),
        lat=np.linspace(90, -90, 5),
        lon=np.arange(8) * 45.0,
        member_coords={"sign": np.array([1, -1], dtype=np.int8)},
        batch_size=2,
        lead_chunk=3,
        attrs={"title": "t"},
    )
    cpu = torch.device("cpu")
    ids = {m: run_identity(generate_spec(compose_config("generate", [f"compile={m}"])), {}, [], cpu) for m in
           ("none", "default")}  # fmt: skip
    assert "compile" not in ids["none"] and ids["default"]["compile"] == "default"
    store = tmp_path / "run.zarr"
    assert prepare_store(store, layout, "fp", False, ids["default"]) == "created"
    assert prepare_store(store, layout, "fp", False, ids["default"]) == "resumed"
    with pytest.raises(StoreError, match='compile: "default" in the store, null now') as err:
        prepare_store(store, layout, "fp", False, ids["none"])
    assert "\n" not in str(err.value) and (store / "zarr.json").is_file()


def test_missing_cpp_compiler_is_a_one_line_error(monkeypatch):
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr("hens.models.compile.shutil.which", lambda name: None)
    check_compile_available("none", torch.device("cpu"))  # nothing to check
    with pytest.raises(HensError, match=r"compile=default on CPU needs a C\+\+ compiler.*set compile=none") as err:
        check_compile_available("default", torch.device("cpu"))
    assert "\n" not in str(err.value)


def test_compiled_core_is_the_makani_model_and_results_match(package, eager_backend):
    eager = load_forecaster(package)
    compiled = load_forecaster(package)
    compiled.set_compile("reduce-overhead")
    compiled.set_compile("default")  # once per forecaster: a second call changes nothing
    assert eager_backend == ["reduce-overhead"] and compiled.compile_mode == "reduce-overhead"
    # the zenith-angle features (numpy datetimes) stay eager; the SFNO itself is compiled
    assert type(compiled.network.model).__name__ == "OptimizedModule" and compiled.requires_valid_time
    with torch.inference_mode():
        torch.testing.assert_close(_trajectory(compiled), _trajectory(eager), rtol=0, atol=0)


def test_a_failing_compilation_is_one_line_and_not_a_silent_fallback(package, monkeypatch):
    original = torch.compile

    def broken_backend(gm, example_inputs):
        raise RuntimeError("no kernels today")

    monkeypatch.setattr(torch, "compile", lambda module, **kw: original(module, backend=broken_backend))
    torch._dynamo.reset()
    forecaster = load_forecaster(package)
    forecaster.set_compile("default")
    with pytest.raises(HensError, match=r"torch.compile \(compile=default\) failed for checkpoint .*set compile=none"):
        with torch.inference_mode():
            forecaster(_states(), T0)
    torch._dynamo.reset()


@pytest.mark.e2e
def test_inductor_rollout_equals_eager_on_cpu(package):
    """Inductor on CPU (mode default) vs eager over 3 steps: equal to 1e-4 in units of the channels' σ (fused
    float32 kernels round differently: measured ≈ 1.5e-6 per step)."""
    check_compile_available("default", torch.device("cpu"))
    torch._dynamo.reset()
    eager = load_forecaster(package)
    compiled = load_forecaster(package)
    compiled.set_compile("default")
    with torch.inference_mode():
        a, b = _trajectory(compiled), _trajectory(eager)
    std = eager.std.unsqueeze(1)
    err = ((a - b) / std).abs().max().item()
    assert torch.isfinite(a).all() and err < 1e-4, err
