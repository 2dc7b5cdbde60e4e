"""The package's import structure follows docs/architecture.md: layers point down only, no cycles, no private
cross-module imports.

Every ``import``/``from … import`` in ``hens/`` is read from the source (module level and function-local alike,
so a cycle cannot hide in a function body) and checked against :data:`LAYERS`.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "hens"

LAYERS: dict[str, int] = {
    # 5 — the command line: parse, compose, call
    "hens.cli": 5,
    "hens.__main__": 5,
    # 4 — orchestration: runs that wire the domain together
    "hens.inference": 4,
    "hens.diagnostics.run": 4,
    "hens.diagnostics.cluster": 4,
    "hens.diagnostics.climatology_run": 4,
    "hens.diagnostics.ensemble_size": 4,
    "hens.diagnostics.mclimate_run": 4,
    "hens.diagnostics.extremes_run": 4,
    "hens.slurm": 4,
    # 3 — validated, frozen run specifications
    "hens.config": 3,
    # 2 — the domain: member plan, perturbations, models, data, demo world, diagnostics science and reports
    "hens.ensemble": 2,
    "hens.perturb": 2,
    "hens.models": 2,
    "hens.data": 2,
    "hens.demo": 2,
    "hens.diagnostics": 2,
    # 1 — storage and process set-up
    "hens.io": 1,
    "hens.distributed": 1,
    # 0 — errors, constants, version
    "hens.errors": 0,
    "hens.constants": 0,
    "hens": 0,
}
"""Layer of each module (longest matching prefix): a module may import its own layer or any lower one."""


def layer(module: str) -> int:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in LAYERS:
            return LAYERS[prefix]
    raise KeyError(f"{module} has no layer in LAYERS; add it (and to docs/architecture.md)")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) for every import of hens modules in the file."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names if alias.name.split(".")[0] == "hens"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "hens":
                found += [(target, alias.name, node.lineno) for alias in node.names]
    return found


def _all_imports() -> dict[str, list[tuple[str, str | None, int]]]:
    return {_module_name(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_has_a_layer():
    for module in _all_imports():
        layer(module)


def test_layers_point_down_only():
    upward = [
        f"{module} (layer {layer(module)}) imports {target} (layer {layer(target)}) at line {line}"
        for module, imports in _all_imports().items()
        for target, _, line in imports
        if layer(target) > layer(module)
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def _group(module: str, depth: int) -> str:
    return ".".join(module.split(".")[:depth])


@pytest.mark.parametrize("depth", [2, 3])
def test_no_import_cycles_between_packages(depth):
    """No cycle between the sub-packages (depth 2: hens.X; depth 3: hens.X.Y, e.g. hens.diagnostics.metrics)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for module, imports in _all_imports().items():
        for target, _, _ in imports:
            a, b = _group(module, depth), _group(target, depth)
            siblings = a.count(".") == b.count(".") == depth - 1 and _group(a, depth - 1) == _group(b, depth - 1)
            if a != b and siblings:
                edges[a].add(b)

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo += edges.get(node, ())
        return False

    cycles = sorted(f"{a} <-> {b}" for a in edges for b in edges[a] if a < b and reaches(b, a))
    assert not cycles, "import cycles: " + "; ".join(cycles)


def test_no_private_names_imported_from_other_modules():
    private = [
        f"{module} imports {name} from {target} (line {line})"
        for module, imports in _all_imports().items()
        for target, name, line in imports
        if name and name.startswith("_") and not name.startswith("__") and target != module
    ]
    assert not private, "private cross-module imports:\n" + "\n".join(private)


def test_layer_table_detects_an_upward_import(tmp_path):
    """The checker itself: an io module importing the CLI is reported."""
    assert layer("hens.io.store") < layer("hens.cli")
    assert layer("hens.diagnostics.metrics.crps") < layer("hens.diagnostics.run")
