"""``torch.compile`` of the model step (``compile: none | default | reduce-overhead | max-autotune``).

What is compiled is the tensor-only core of a :class:`hens.models.forecaster.Forecaster`: its network, or, for
networks that take the valid time (makani SFNOs with a solar zenith angle input, whose input features are computed
from numpy datetimes), the network's ``model`` submodule.  Normalisation, denormalisation and those input features
stay eager, so the compiled graph sees fixed-shape tensors only and is traced once per batch shape.

Modes are torch's: ``default`` (Inductor kernels), ``reduce-overhead`` (plus CUDA graphs on a GPU; on CPU the same
as ``default``), ``max-autotune`` (plus kernel autotuning; minutes of compilation on a GPU).  Compiled results
differ from eager ones in the last bits (fused kernels sum in another order), which is why the mode is part of a
run's identity.

Compilation never falls back to eager silently: a missing compiler (Inductor on CPU needs a C++ compiler, on
CUDA Triton) is a one-line :class:`hens.errors.HensError` before the run starts, and a compilation that fails on
the first step is one too.
"""

from __future__ import annotations

import importlib.util
import os
import shutil

import torch

from hens.errors import HensError

__all__ = ["COMPILE_MODES", "check_compile_available", "compile_network", "compiled_call"]

COMPILE_MODES = ("none", "default", "reduce-overhead", "max-autotune")

_CXX_CANDIDATES = ("g++", "c++", "clang++")


def _cpp_compiler() -> str | None:
    """The C++ compiler Inductor would use on CPU (``$CXX`` or the first of g++, c++, clang++ on PATH), or None."""
    configured = os.environ.get("CXX")
    for name in ((configured,) if configured else ()) + _CXX_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def check_compile_available(mode: str, device: torch.device) -> None:
    """Raise a one-line HensError when ``compile=mode`` cannot work on ``device`` (nothing to check for none)."""
    if mode not in COMPILE_MODES:
        raise HensError(f"compile={mode!r} is not one of {', '.join(COMPILE_MODES)}")
    if mode == "none":
        return
    if device.type == "cpu" and _cpp_compiler() is None:
        raise HensError(
            f"compile={mode} on CPU needs a C++ compiler for torch.compile (none of $CXX, "
            f"{', '.join(_CXX_CANDIDATES)} found); install one (e.g. apt-get install g++) or set compile=none"
        )
    if device.type == "cuda" and importlib.util.find_spec("triton") is None:
        raise HensError(
            f"compile={mode} on CUDA needs Triton for torch.compile (not importable); install the triton build "
            "matching torch or set compile=none"
        )


def compile_network(network: torch.nn.Module, mode: str) -> torch.nn.Module:
    """``network`` with its tensor-only core wrapped by ``torch.compile(mode=mode)`` (``network`` itself, or its
    ``model`` submodule when the network needs the valid time; see the module docstring).  Returns the module to
    call in place of ``network`` (``network`` itself when only the submodule was replaced); ``none`` is a no-op."""
    if mode == "none":
        return network
    if getattr(network, "requires_valid_time", False) and isinstance(getattr(network, "model", None), torch.nn.Module):
        network.model = torch.compile(network.model, mode=mode, dynamic=False)
        return network
    return torch.compile(network, mode=mode, dynamic=False)


def compiled_call(mode: str, name: str, call: object, *args: object, **kwargs: object) -> torch.Tensor:
    """``call(*args, **kwargs)`` for a network compiled with ``mode``: marks a new CUDA-graph step first
    (``reduce-overhead``: the previous step's outputs may be replayed over; the caller copies them by
    denormalising) and turns a failed compilation into a one-line HensError naming checkpoint ``name``."""
    if mode == "reduce-overhead":
        torch.compiler.cudagraph_mark_step_begin()
    try:
        return call(*args, **kwargs)  # type: ignore[operator]
    except HensError:
        raise
    except Exception as err:  # noqa: BLE001 - Dynamo/Inductor raise many types; all mean the same to the user
        if type(err).__module__.startswith(("torch._dynamo", "torch._inductor")):
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise HensError(
                f"torch.compile (compile={mode}) failed for checkpoint {name}: {first[:200]}; set compile=none"
            ) from err
        raise
