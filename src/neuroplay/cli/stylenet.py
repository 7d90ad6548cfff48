"""``neuroplay stylenet train|apply|list``: feed-forward style networks, trained once per painting.

The work is the library's (:mod:`neuroplay.vision.stylenet`); this module parses, shows progress
and prints.
"""

from __future__ import annotations

import signal
from contextlib import ExitStack
from pathlib import Path

import typer

from neuroplay.cli._util import (
    FORCE,
    QUIET,
    THREADS,
    Common,
    common_options,
    emit_json,
    finish_training,
    options_named,
    parse_ints,
    settings_from_params,
    typed_settings,
)
from neuroplay.cli.interrupts import stop_requests, take_back
from neuroplay.common.bounds import in_range
from neuroplay.common.errors import UserError
from neuroplay.common.outputs import plan_outputs
from neuroplay.common.progress import console, make_progress
from neuroplay.common.runtime import PRECISIONS
from neuroplay.vision.stylenet.config import ApplyConfig, TrainConfig

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Style networks: train one per painting, then style photos, folders and videos in a fraction of a second.",
    no_args_is_help=True,
)

_D, _A = TrainConfig, ApplyConfig  # the CLI's defaults are the library's (a dataclass's defaults are class attributes)


@app.command("train")
@common_options(quiet=QUIET, threads=THREADS)
def train_cmd(
    ctx: typer.Context,
    style: Path = typer.Argument(None, help="The painting (an image file). Not with --resume.", show_default=False),
    content: list[Path] = typer.Option(
        None,
        "--content",
        help="Folder of photos to train on (repeat for several; searched recursively).",
        show_default=False,
    ),
    output: Path = typer.Option(
        None,
        "--output",
        "-o",
        help="The model file to write (.pt); its run folder (checkpoint, losses, previews) is NAME-run/ beside it.",
        show_default=False,
    ),
    resume: Path = typer.Option(
        None, "--resume", help="Continue the run in this NAME-run/ folder; --steps may raise the budget."
    ),
    force: bool = FORCE,
    exclude: Path = typer.Option(
        None, "--exclude", help="A text file of image paths (one a line) not to train on.", show_default=False
    ),
    name: str = typer.Option(None, "--name", help="The network's name in its card [default: the model file's]."),
    steps: int = typer.Option(_D.steps, "--steps", help="Training steps (one batch each)."),
    batch_size: int = typer.Option(_D.batch_size, "--batch-size", help="Crops per step."),
    crop: int = typer.Option(_D.crop, "--crop", help="Side of the square training crops (GPU: 256)."),
    style_size: int = typer.Option(
        _D.style_size,
        "--style-size",
        help="Longest side of the painting for its style targets: the strokes look as in a 512 px neuroplay style run.",
    ),
    learning_rate: float = typer.Option(_D.learning_rate, "--learning-rate", "--lr", help="Adam's step size."),
    content_weight: float = typer.Option(_D.content_weight, "--content-weight"),
    style_weight: float = typer.Option(_D.style_weight, "--style-weight"),
    tv_weight: float = typer.Option(_D.tv_weight, "--tv-weight", help="Total-variation weight (smoothness)."),
    content_layers: str = typer.Option(",".join(_D.content_layers), "--content-layers"),
    style_layers: str = typer.Option(",".join(_D.style_layers), "--style-layers"),
    widths: str = typer.Option(
        ",".join(map(str, _D.widths)),
        "--widths",
        help="Channels of the three encoder stages (Johnson et al.: 32,64,128; slower, not clearly better here).",
    ),
    blocks: int = typer.Option(_D.blocks, "--blocks", help="Residual blocks."),
    precision: str = typer.Option(
        _D.precision, "--precision", help=f"Of the VGG loss network: {', '.join(PRECISIONS)} (auto: bf16 where native)."
    ),
    preview_every: int = typer.Option(
        _D.preview_every, "--preview-every", help="Steps between preview images (0: never)."
    ),
    checkpoint_every: int = typer.Option(
        _D.checkpoint_every, "--checkpoint-every", help="Steps between checkpoints (0: only at the end and on Ctrl-C)."
    ),
    *,
    common: Common,
) -> None:
    """Train a style network on STYLE with the perceptual loss of `neuroplay style`.

    Ctrl-C saves a checkpoint and the model reached so far; `--resume NAME-run` continues it exactly.
    """  # fmt: skip
    from neuroplay.vision.stylenet.train import resume as resume_run
    from neuroplay.vision.stylenet.train import run_dir_for, train

    parsed = {"content_layers": _names(content_layers), "style_layers": _names(style_layers),
              "widths": parse_ints(widths, "--widths")}  # fmt: skip
    settings = settings_from_params(ctx, TrainConfig, **parsed)
    if resume is not None:
        if style is not None or content or output is not None or force or exclude is not None:
            raise UserError(
                "--resume DIR continues a run with its saved style, photos and model file; "
                "give no STYLE, --content, --output, --exclude or --force"
            )
        typed, run_dir = typed_settings(ctx, settings, TrainConfig.RESUMABLE), resume
    else:
        if style is None or not content or output is None:
            raise UserError("give STYLE, --content DIR and --output MODEL (or --resume DIR)")
        if output.suffix.lower() != ".pt":
            raise UserError(f"cannot save {output}: use a .pt file name for the model")
        with options_named(ctx):
            config = TrainConfig(**settings)
        run_dir = run_dir_for(output)
        if (run_dir / "checkpoint.pt").exists() and not force:
            raise UserError(f"{run_dir} already holds a run; continue it with --resume {run_dir} or pass --force")
        plan_outputs(files=[output, run_dir / "checkpoint.pt"], dirs=[run_dir], inputs=[style])
        skip = _exclusions(exclude) if exclude is not None else []
    with stop_requests() as stop_requested, make_progress(disable=common.quiet or common.json) as progress:
        task = progress.add_task("stylenet", total=None, status="")

        def on_step(s) -> None:
            status = f"content {s.content_loss:.3g}  style {s.style_loss:.3g}  total {s.total_loss:.4g}"
            progress.update(task, completed=s.step, total=s.steps, status=status)

        def note(message: str) -> None:
            if not common.quiet:
                console().print(f"[dim]{message}[/dim]", highlight=False)

        callbacks = {"callback": on_step, "should_stop": stop_requested, "notify": note}
        if resume is not None:
            with options_named(ctx):
                result = resume_run(resume, **typed, **callbacks)
        else:
            result = train(config, style, content, output, exclude=skip, name=name, **callbacks)
    losses = result.losses
    report = (f"trained {result.steps} steps in {result.seconds:.0f} s: content {losses.get('content', 0):.3g}, "
              f"style {losses.get('style', 0):.3g}\nmodel: {result.model_path}\nrun: {result.run_dir} "
              "(losses.csv, loss_curve.png, previews/)")  # fmt: skip
    summary = {"model": result.model_path, "steps": result.steps, "seconds": result.seconds, "losses": losses}
    finish_training(result, Path(run_dir), "stylenet train", f"at step {result.steps}", report, common.json, summary)


def _names(text: str) -> tuple[str, ...]:
    return tuple(name for name in text.replace(" ", "").split(",") if name)


def _exclusions(path: Path) -> list[str]:
    from neuroplay.common.io import input_file

    lines = input_file(path, "a text file of image paths", "--exclude file").read_text(errors="replace").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


@app.command("apply")
@common_options(quiet=QUIET, threads=THREADS)
def apply_cmd(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="A model file (.pt) or builtin:NAME (see `neuroplay stylenet list`)."),
    input_path: Path = typer.Argument(
        ..., metavar="INPUT", help="An image, a folder of images, or a video (.mp4, .gif)."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="An image, a folder, or a video of the input's format."),
    size: int = typer.Option(
        None, "--size", "-s", help="Longest side of the output [default: the input's].", show_default=False
    ),
    original_colors: bool = typer.Option(
        _A.original_colors, "--original-colors", help="Keep the input's colours: only the stylised luminance is kept."
    ),
    deflicker: float = typer.Option(
        _A.deflicker,
        "--deflicker",
        help="Video: 0 (off) to 0.95, how much of its last "
        "output a still pixel keeps; steadies textures between frames.",
    ),
    precision: str = typer.Option(
        _A.precision,
        "--precision",
        help=f"{', '.join(PRECISIONS)} (auto: bf16 where the hardware computes it natively; 2.6× faster than "
        "fp32 on a bf16 CPU, pixels a mean 1/255 away).",
    ),
    ray: str = typer.Option(
        None,
        "--ray",
        help="A folder on Ray: 'local' for a local instance, or a cluster "
        "ADDRESS (needs neuroplay[ray]; the same outputs as one process).",
        show_default=False,
    ),
    ray_workers: int = typer.Option(None, "--ray-workers", help="Ray tasks [default: Ray's CPUs].", show_default=False),
    *,
    common: Common,
) -> None:
    """Style INPUT with a trained network: an image, every image of a folder, or every frame of a video."""  # fmt: skip
    from neuroplay.vision.stylenet.apply import prepare_apply, run_apply

    with options_named(ctx):
        config = ApplyConfig(size=size, original_colors=original_colors, deflicker=deflicker, precision=precision,
                             device=common.device,
                             threads=common.threads, seed=common.seed)  # fmt: skip
    if ray_workers is not None:
        in_range("--ray-workers", ray_workers, 1, 100_000)
        if ray is None:
            raise UserError("--ray-workers needs --ray")
    job = prepare_apply(model, input_path, output, config)
    if ray is not None and job.kind != "folder":
        raise UserError("--ray splits a folder of images; give a folder as INPUT")
    with ExitStack() as stack:
        ray_session = None
        if ray is not None:
            from neuroplay.vision.stylenet.distributed import ray_connection, run_apply_ray

            try:
                ray_session = stack.enter_context(ray_connection(ray, ray_workers))
            except SystemExit as exc:  # SIGTERM while ray.init ran: its handler exits with the signal's number
                raise (KeyboardInterrupt if exc.code == signal.SIGTERM else exc) from None
            take_back()  # Ray's SIGTERM handler would end the run with no line
        stop_requested = stack.enter_context(stop_requests())
        progress = stack.enter_context(make_progress(disable=common.quiet or common.json))
        task = progress.add_task("stylenet", total=None, status=job.kind)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        if ray_session is not None:
            summary = run_apply_ray(job, ray_session, ray_workers, on_progress, stop_requested)
        else:
            summary = run_apply(job, on_progress, stop_requested)
    if common.json:
        emit_json(summary)
    elif not common.quiet:
        per = summary["seconds_per_image"]
        skipped = summary.get("skipped") or []
        typer.echo(f"wrote {summary['output']}: {summary['images']} image(s) in {summary['wall_seconds']:.1f} s"
                   + (f" (median {per:.2f} s each)" if per is not None else "")
                   + (f"; skipped {len(skipped)} unreadable file(s)" if skipped else ""), err=True)  # fmt: skip
        for row in skipped:
            typer.echo(f"  skipped {row['file']}: {row['error']}", err=True)
    if summary.get("interrupted"):
        console().print(f"interrupted; {summary['output']} holds what was done", soft_wrap=True, highlight=False)
        raise typer.Exit(130)


@app.command("list")
@common_options(quiet=QUIET)
def list_cmd(*, common: Common) -> None:
    """The built-in style networks (builtin:NAME), each checked against its pinned sha256."""
    from neuroplay.vision.stylenet.builtin import builtin_list

    rows = builtin_list()
    if common.json:
        emit_json({"networks": rows})
        return
    for row in rows:
        state = f"{row.get('steps')} steps" if row["ok"] else f"! {row['problem']}"
        typer.echo(f"{row['spec']:24} {row['style']}  ({state})")
