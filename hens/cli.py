"""The `hens` command line: thin — parse, compose the Hydra config, call the library.

User errors (:class:`~hens.errors.HensError`) are printed as one line ``hens: error: …`` with exit status 2
and no traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hens.errors import HensError, Interrupted, os_error_line

if TYPE_CHECKING:
    from omegaconf import DictConfig

app = typer.Typer(
    name="hens",
    help="Huge ensembles of SFNO weather hindcasts: generate them, then diagnose them.\n\n"
    "Configuration is Hydra: pass key=value overrides after the command, e.g.\n\n"
    "  hens generate ensemble.n_perturbations=8 output.path=run.zarr",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
demo_app = typer.Typer(
    help="The built-in demo world: regenerate its truth, inspect the shipped checkpoints.", no_args_is_help=True
)
slurm_app = typer.Typer(help="SLURM batch scripts for generate and diagnose runs.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")
app.add_typer(slurm_app, name="slurm")

Overrides = Annotated[
    list[str] | None, typer.Argument(help="Hydra overrides key=value (see --cfg for all keys).", show_default=False)
]


OverwriteOption = Annotated[
    bool, typer.Option("--overwrite", help="Replace the output if it exists (otherwise: refused, nothing changed).")
]
ShowConfig = Annotated[bool, typer.Option("--cfg", help="Print the resolved config and exit.")]


def _fail(err: HensError) -> None:
    typer.echo(f"hens: error: {err}", err=True)
    raise typer.Exit(code=2)


def _interrupted(stop: BaseException, saved: str) -> None:
    """One line for a run stopped by SIGINT (exit 130) or SIGTERM (exit 143): what is saved and what to do."""
    signum = stop.signum if isinstance(stop, Interrupted) else signal.SIGINT
    name = signal.Signals(signum).name
    typer.echo(f"hens: interrupted by {name}: {saved}", err=True)
    raise typer.Exit(code=128 + int(signum))


def _show_config(composed: DictConfig) -> None:
    """Print a composed config as the resolved YAML (``--cfg``), the same for every command."""
    from hens.config import resolved_yaml

    typer.echo(resolved_yaml(composed), nl=False)


@app.command(context_settings={"allow_extra_args": False})
def generate(
    overrides: Overrides = None,
    cfg: ShowConfig = False,
    verify: Annotated[
        bool, typer.Option("--verify", help="On resume, check finished chunks by CRC32C (= output.verify=true).")
    ] = False,
) -> None:
    """Roll out every member (checkpoint × bred vector × sign) for every start date into a Zarr store.

    Runs on one process, or on many under torchrun / srun (each rank owns whole chunks). Re-running the same
    command resumes an interrupted run (SIGINT, SIGTERM, kill -9, a full disk); the store is identical to an
    uninterrupted one. A resume first checks every finished chunk against the manifest (sizes; CRC32C with
    --verify) and recomputes the damaged ones. One run per store: a second `hens generate` on the same
    output.path exits with an error (lock file .<store name>.hens-lock beside the store).
    """
    from hens.config import compose_config, generate_spec

    try:
        composed = compose_config("generate", [*(overrides or []), *(["output.verify=true"] if verify else [])])
        if cfg:
            _show_config(composed)
            return
        spec = generate_spec(composed)
        from hens.inference.generate import run_generate

        try:
            result = run_generate(spec)
        except (KeyboardInterrupt, Interrupted) as stop:
            where = spec.output.path if spec.output.write else None
            _interrupted(
                stop,
                f"finished chunks are saved in {where}; re-run the same command to resume"
                if where
                else "nothing was written (output.write=false)",
            )
            return
    except HensError as err:
        _fail(err)
        return
    where = f" → {result.store}" if result.store else " (output.write=false: nothing written)"
    skipped = f", {result.items_skipped} chunk(s) already done" if result.items_skipped else ""
    typer.echo(
        f"hens generate: {result.items_done} chunk(s), {result.member_steps} member-steps in "
        f"{result.seconds:.1f} s ({result.member_steps_per_s:.1f} member-steps/s){skipped}{where}",
        err=True,
    )
    if result.nonfinite:
        typer.echo(
            f"hens generate: {len(result.nonfinite)} member(s) became non-finite; see the store's "
            "hens_nonfinite_members attribute",
            err=True,
        )


@app.command()
def member(
    init_time: Annotated[str, typer.Option(help="Start date of the member (ISO 8601), one of ic.start_dates.")],
    index: Annotated[int, typer.Option("--member", help="Member index within that start date.")],
    out: Annotated[Path, typer.Option(help="Output file (.nc or .zarr) for the member's forecast; must not exist.")],
    overrides: Overrides = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Regenerate one member alone, bit-identical to the same member of a full run with the same config."""
    from hens.config import compose_config, generate_spec
    from hens.io.safe_write import check_target, write_atomic

    try:
        check_target(out, overwrite)  # before the work, not after it
        spec = generate_spec(compose_config("generate", overrides or []))
        from hens.inference.single import regenerate_member

        ds = regenerate_member(spec, init_time, index)
        write_atomic(out, lambda tmp: _write_dataset(ds, tmp, out.suffix), overwrite)
    except HensError as err:
        _fail(err)
        return
    typer.echo(f"hens member: member {index} of {init_time} → {out}", err=True)


def _write_dataset(ds: object, path: Path, suffix: str) -> None:
    """A dataset to ``path`` as Zarr v3 (``suffix`` .zarr) or NetCDF (anything else)."""
    if suffix == ".zarr":
        ds.to_zarr(path, mode="w-", zarr_format=3, consolidated=False)
    else:
        ds.to_netcdf(path)


@app.command()
def verify(
    store: Annotated[Path, typer.Argument(help="A store written by hens generate.")],
    quick: Annotated[bool, typer.Option("--quick", help="Compare sizes only (no CRC32C; reads no chunk).")] = False,
) -> None:
    """Check every chunk of a store against the manifest: missing, truncated and altered chunks (CRC32C).

    Exit 0 when every recorded chunk is as written and the run is finished, 1 when chunks are damaged or not
    generated yet (listed), 2 when STORE is not a hens store. Repair: re-run the same `hens generate` with
    output.verify=true; it recomputes exactly the damaged work items.
    """
    from hens.io.integrity import describe_report, verify_store
    from hens.io.manifest import Manifest

    try:
        if Manifest(store).read_run() is None:
            raise HensError(f"{store} has no .hens/run.json: not a store written by hens generate")
        report = verify_store(store, full=not quick)
    except HensError as err:
        _fail(err)
        return
    for line in describe_report(store, report, full=not quick):
        typer.echo(line)
    if not report.ok:
        raise typer.Exit(code=1)


def _split_stores(args: list[str]) -> tuple[list[str], list[str]]:
    """``STORE [STORE …|GLOB] [key=value …]`` → (stores, overrides): an argument with ``=`` (or starting with
    ``+``/``~``) is a Hydra override, the others are stores; stores come first."""
    is_override = [("=" in a) or a.startswith(("+", "~")) for a in args]
    first = is_override.index(True) if True in is_override else len(args)
    late = [a for a, o in zip(args[first:], is_override[first:], strict=True) if not o]
    if late:
        raise HensError(f"{late[0]!r} after the overrides: give the stores first, then key=value overrides")
    return args[:first], args[first:]


@app.command()
def diagnose(
    args: Annotated[
        list[str],
        typer.Argument(
            help="Stores written by hens generate (paths or quoted glob patterns, e.g. 'runs/hens_*.zarr'), then "
            "Hydra overrides key=value (see --cfg for all keys).",
            show_default=False,
        ),
    ],
    cfg: ShowConfig = False,
) -> None:
    """Score ensemble stores: RMSE, fair CRPS, spread–skill, spectra, extremes; writes data, plots, report.

    Several stores (e.g. one per start date from a SLURM job array) are scored as one set of start dates: the
    scores equal those of one store holding all the dates, with bootstrap intervals over the dates. Results go
    to <store name>.diagnostics/ beside the (first) store unless diagnose.output_dir= is given. For a
    demo-world store the verification and climatology are found from the store's own metadata.
    """
    from hens.config import compose_config, diagnose_spec

    try:
        stores, overrides = _split_stores(args)
        composed = compose_config("diagnose", overrides)
        if cfg:
            _show_config(composed)
            return
        spec = diagnose_spec(composed)
        from hens.diagnostics.run import run_diagnose

        result = run_diagnose([Path(s) for s in stores], spec)
    except HensError as err:
        _fail(err)
        return
    typer.echo(result.summary(), err=True)


@demo_app.command("info")
def demo_info() -> None:
    """Describe the shipped demo checkpoints and the demo world."""
    from hens.demo.shipped import describe_shipped

    typer.echo(describe_shipped())


@demo_app.command("truth")
def demo_truth(
    start: Annotated[str, typer.Option(help="First time (ISO 8601).")] = "2000-01-01T00:00",
    end: Annotated[str, typer.Option(help="Last time (ISO 8601).")] = "2000-04-01T00:00",
    out: Annotated[Path | None, typer.Option(help="Also write the truth to this Zarr store (must not exist).")] = None,
    overwrite: OverwriteOption = False,
) -> None:
    """(Re)generate the demo world's truth (two-layer baroclinic model) between two times (cached for later runs)."""
    from hens.demo.world import DemoWorldSpec, truth_dataset
    from hens.io.safe_write import check_target, write_atomic

    try:
        if out is not None:
            check_target(out, overwrite)
        ds = truth_dataset(DemoWorldSpec(), start, end)
        if out is not None:
            write_atomic(out, lambda tmp: _write_dataset(ds, tmp, ".zarr"), overwrite)
    except HensError as err:
        _fail(err)
        return
    typer.echo(f"demo truth: {ds.sizes['time']} times from {start} to {end}" + (f" → {out}" if out else " (cached)"))


SlurmArgs = Annotated[
    list[str] | None,
    typer.Argument(
        help="What to run: generate (the default) or diagnose STORE; then Hydra overrides key=value "
        "(launcher.* keys shape the job, e.g. launcher.nodes=16 launcher.account=proj).",
        show_default=False,
    ),
]


@slurm_app.command("render")
def slurm_render(
    args: SlurmArgs = None,
    out: Annotated[Path | None, typer.Option(help="Write the script here instead of printing it.")] = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Print (or --out FILE) a ready sbatch script for `hens generate` or `hens diagnose STORE` (launcher=slurm).

    Example: hens slurm render generate launcher.nodes=16 launcher.account=proj launcher.array_over_dates=true
    'output.path="/scratch/hens_{date}.zarr"' --out generate.sbatch
    """
    from hens.slurm import render

    try:
        _, script = render(args or [])
        if out is not None:
            from hens.io.safe_write import write_text_atomic

            write_text_atomic(out, script, overwrite)
    except HensError as err:
        _fail(err)
        return
    if out is None:
        typer.echo(script, nl=False)
    else:
        typer.echo(f"wrote {out}; submit it with: sbatch {out}", err=True)


@slurm_app.command("submit")
def slurm_submit(
    args: SlurmArgs = None,
    out: Annotated[
        Path | None, typer.Option(help="Where to keep the submitted script (default: hens_<target>.sbatch).")
    ] = None,
) -> None:
    """Render the sbatch script (as `render`), write it, submit it with sbatch and print the job id."""
    import shutil

    from hens.slurm import SBATCH_MISSING, render, submit

    try:
        target, script = render(args or [])
        if shutil.which("sbatch") is None:
            raise HensError(SBATCH_MISSING)
        path = out or Path(f"hens_{target}.sbatch")
        path.write_text(script)
        job_id = submit(path)
    except HensError as err:
        _fail(err)
        return
    typer.echo(job_id)
    typer.echo(f"hens slurm submit: job {job_id} ({target}, script {path})", err=True)


@app.command()
def plan(
    overrides: Overrides = None,
    ranks: Annotated[
        int | None,
        typer.Option(help="World size of one job (default: launcher.nodes × launcher.gpus_per_node, or 1).", min=1),
    ] = None,
    member_steps_per_second: Annotated[
        float | None,
        typer.Option(
            help="Throughput of one GPU for the GPU-hour estimate (default: launcher.member_steps_per_second, else "
            "1.57 = a HENS-size SFNO on one H100 in float32)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Before a run: members, start dates, work per rank, bytes written and GPU-hours of `hens generate`.

    Uses the same plan and sharding as generate and reads only checkpoint metadata (never the weights).
    """
    from hens.config import compose_config
    from hens.inference.budget import budget_from_config, format_budget

    try:
        budget = budget_from_config(
            compose_config("generate", overrides or []), ranks=ranks, member_steps_per_second=member_steps_per_second
        )
    except HensError as err:
        _fail(err)
        return
    if as_json:
        import json

        typer.echo(json.dumps(budget.to_dict(), indent=1))
    else:
        typer.echo(format_budget(budget))


def _on_sigterm(signum: int, frame: object) -> None:
    raise Interrupted(signum)


@app.command()
def climatology(
    overrides: Overrides = None,
    cfg: ShowConfig = False,
    from_hindcasts: Annotated[
        list[str] | None,
        typer.Option(
            "--from-hindcasts",
            help="Build the M-climate of the EFI/SOT from these hindcast stores (paths or quoted globs; repeatable) "
            "with configs/mclimate.yaml instead of the ERA5 climatology.",
        ),
    ] = None,
) -> None:
    """Build the climatology Zarr of `hens diagnose` (diagnose.climatology.path=) from ERA5 over a range of years,
    or with --from-hindcasts the M-climate (diagnose.climatology.mclimate=) from hindcast stores.

    ERA5: percentiles per calendar month (or day-of-year window) and hour of day at every grid point, in bounded
    memory. Example: hens climatology climatology.path=era5.zarr climatology.start=1990 climatology.end=2019
    'climatology.variables=[t2m]' climatology.output=clim.zarr.  M-climate: quantiles of daily means (max/min)
    per lead day, pooled over members and start dates within ± mclimate.window_days. Example: hens climatology
    --from-hindcasts 'hindcasts/*.zarr' mclimate.output=mclim.zarr
    """
    from hens.config import compose_config

    try:
        if from_hindcasts:
            listed = "[" + ",".join(f"'{p}'" for p in from_hindcasts) + "]"
            composed = compose_config("mclimate", [f"mclimate.hindcasts={listed}", *(overrides or [])])
        else:
            composed = compose_config("climatology", overrides or [])
        if cfg:
            _show_config(composed)
            return
        if from_hindcasts:
            from hens.config.mclimate import mclimate_spec
            from hens.diagnostics.mclimate_run import run_mclimate

            result: Any = run_mclimate(mclimate_spec(composed))
        else:
            from hens.config.climatology import climatology_spec
            from hens.diagnostics.climatology_run import run_climatology

            result = run_climatology(climatology_spec(composed))
    except HensError as err:
        _fail(err)
        return
    typer.echo(result.summary(), err=True)


@app.command()
def skill(overrides: Overrides = None, cfg: ShowConfig = False) -> None:
    """Deterministic RMSE per channel and lead of each checkpoint against the truth (ERA5 or the demo world).

    Writes a JSON skill file; ensemble.bred_vector.amplitude_file=<it> then sets the bred-vector amplitudes to
    amplitude_fraction × the 48-h RMSE. Example: hens skill model.checkpoint_dir=/ckpt ic=era5 ic.path=era5.zarr
    'skill.start_dates=[2020-01-01T00:00,2020-01-15T00:00]' skill.output=skill.json
    """
    from hens.config import compose_config
    from hens.config.skill import skill_spec

    try:
        composed = compose_config("skill", overrides or [])
        if cfg:
            _show_config(composed)
            return
        spec = skill_spec(composed)
        from hens.inference.skill import run_skill

        result = run_skill(spec)
    except HensError as err:
        _fail(err)
        return
    typer.echo(result.summary(), err=True)


def main() -> None:
    """The console script: SIGTERM stops like SIGINT (cleanly, one line); an OSError the environment causes
    (full disk, read-only or unwritable path) is one line and exit 2 instead of a traceback."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        app()
    except OSError as err:
        line = os_error_line(err)
        if line is None:
            raise
        typer.echo(f"hens: error: {line}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("hens: interrupted by SIGINT; nothing was replaced — re-run the command to finish", err=True)
        sys.exit(130)
    except Interrupted as stop:
        typer.echo(f"hens: interrupted by {signal.Signals(stop.signum).name}; re-run the command to finish", err=True)
        sys.exit(128 + stop.signum)


if __name__ == "__main__":
    main()
