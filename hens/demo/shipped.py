"""The demo checkpoints shipped inside the hens package: where they are and what they are."""

from __future__ import annotations

from pathlib import Path

from hens.models.package import read_package


def shipped_checkpoint_dir() -> Path:
    """The folder of shipped checkpoint packages (inside the installed package)."""
    return Path(__file__).resolve().parent / "checkpoints"


def shipped_packages() -> list[Path]:
    """Shipped package folders, sorted by name."""
    root = shipped_checkpoint_dir()
    return sorted(p for p in root.iterdir() if (p / "metadata.json").is_file()) if root.is_dir() else []


def _size_kb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1024


def describe_shipped() -> str:
    """A table of the shipped checkpoints: channels, grid, step, parameters, 48-h RMSE, size on disk."""
    import torch

    from hens.demo.world import DemoWorldSpec

    packages = shipped_packages()
    spec = DemoWorldSpec()
    lines = [
        f"demo world: two-layer baroclinic QG model at T{spec.physics.lmax - 1} ({spec.physics.nlat}×"
        f"{spec.physics.nlon} Gauss), analysis error {spec.analysis_error_z500:g} m² s⁻² (z500, extratropics), "
        f"truth on a {spec.nlat}×{spec.nlon} equiangular grid every {spec.sample_hours} h from {spec.epoch} "
        f"(fingerprint {spec.fingerprint()})",
        f"checkpoints in {shipped_checkpoint_dir()}:",
        f"{'name':<16}{'channels':>9}{'grid':>8}{'step':>6}{'params':>9}  {'RMSE 48 h (z500, t850, u500)':<32}"
        f"{'size':>8}",
    ]
    for path in packages:
        pkg = read_package(path)
        state = torch.load(pkg.weights_path, map_location="cpu", weights_only=True)["model_state"]
        n_params = sum(v.numel() for v in state.values())
        rmse = pkg.extra.get("rmse_48h", {})
        rmse_text = ", ".join(f"{rmse[c]:.3g}" for c in ("z500", "t850", "u500") if c in rmse) or "n/a"
        lines.append(
            f"{pkg.name:<16}{len(pkg.channels):>9}{pkg.grid_shape[0]:>5}×{pkg.grid_shape[1]:<2}"
            f"{pkg.timestep_hours:>5g}h{n_params:>9}  {rmse_text:<32}{_size_kb(path):>6.0f}kB"
        )
    if not packages:
        lines.append("(none: run scripts/train_demo.py)")
    return "\n".join(lines)
