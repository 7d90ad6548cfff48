"""``neuroplay style CONTENT STYLE [STYLE...] -o OUT``: Gatys style transfer, regional and multi-style.

With no images it renders the built-in demo (a scikit-image photo in a generated painting's
style), so it works offline. Beside the output goes ``OUT``'s name with ``.json``: every
setting, the seed, the inputs and the resulting losses. The job itself is the library's
(:func:`neuroplay.vision.style_run.run_style`); this module parses, shows progress and prints.
"""

from __future__ import annotations

from pathlib import Path

import typer

from neuroplay.cli._util import (
    QUIET,
    THREADS,
    Common,
    common_options,
    emit_json,
    options_named,
    settings_from_params,
)
from neuroplay.cli.interrupts import stop_requests
from neuroplay.common.errors import UserError
from neuroplay.common.outputs import DEMO_PREFIX
from neuroplay.common.progress import make_progress
from neuroplay.common.runtime import PRECISIONS
from neuroplay.vision.style_config import StyleConfig, default_scales, iteration_schedule

_D = StyleConfig  # the CLI's defaults are the library's: a dataclass's defaults are its class attributes
_SCHEDULE = ", ".join(f"{n} at {size} px" for size, n in iteration_schedule(default_scales(_D.size)))


def _names(text: str) -> tuple[str, ...]:
    return tuple(name for name in text.replace(" ", "").split(",") if name)


def _numbers(text: str, what: str, kind: type = float) -> tuple:
    try:
        values = tuple(kind(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        raise UserError(f"{what} must be comma-separated numbers, got {text!r}") from None
    if not values:
        raise UserError(f"{what} is empty")
    return values


@common_options(quiet=QUIET, threads=THREADS)
def style(
    ctx: typer.Context,
    images: list[str] = typer.Argument(
        None,
        help="CONTENT then one or more STYLE images (files, or demo:NAME). None: the built-in demo "
        "(demo:chelsea in the style demo:swirl).",
        show_default=False,
    ),
    output: Path = typer.Option(Path("stylized.png"), "--output", "-o", help="Output image (.png or .jpg)."),
    size: int = typer.Option(_D.size, "--size", "--image-size", "-s", help="Longest side of the output in pixels."),
    iterations: str = typer.Option(
        None,
        "--iterations",
        "-n",
        help="Iterations: one count for the last scale (coarser scales keep their defaults) or one per scale, "
        f"e.g. 60,40,100. (default: {_SCHEDULE})",
        show_default=False,
    ),
    scales: str = typer.Option(
        None,
        "--scales",
        help="Longest side of each scale, coarse to fine, ending at --size (e.g. 256,512; just 512 for one scale). "
        "(default: halve --size down to 128 px, at most 3 scales)",
        show_default=False,
    ),
    content_weight: float = typer.Option(_D.content_weight, "--content-weight"),
    style_weight: float = typer.Option(_D.style_weight, "--style-weight"),
    tv_weight: float = typer.Option(_D.tv_weight, "--tv-weight", help="Total-variation weight (smoothness)."),
    content_layers: str = typer.Option(",".join(_D.content_layers), "--content-layers"),
    style_layers: str = typer.Option(",".join(_D.style_layers), "--style-layers"),
    init: str = typer.Option(_D.init, "--init", help="Start from the content, noise, or an image FILE."),
    optimizer: str = typer.Option(_D.optimizer, "--optimizer", help="lbfgs or adam."),
    learning_rate: float = typer.Option(
        None, "--learning-rate", "--lr", help="Step size (default: 1 for lbfgs, 0.02 for adam).", show_default=False
    ),
    style_scale: float = typer.Option(
        _D.style_scale, "--style-scale", help="Style image size relative to the output (bigger: coarser strokes)."
    ),
    style_blend: str = typer.Option(
        None, "--style-blend", help="Blend weights of the styles, e.g. 0.7,0.3 (default: equal).", show_default=False
    ),
    original_colors: bool = typer.Option(
        _D.original_colors, "--original-colors", help="Keep the content's colours: only the stylised luminance is kept."
    ),
    luminance_only: bool = typer.Option(
        _D.luminance_only,
        "--luminance-only",
        help="Transfer the style's luminance only; the colours are the content's.",
    ),
    match_histogram: bool = typer.Option(
        _D.match_colors,
        "--match-histogram",
        "--match-colors",
        help="Recolour the styles to the content's mean and colour covariance before optimising.",
    ),
    mask: Path = typer.Option(
        None, "--mask", help="Mask image whose colours mark regions, each with its own style.", show_default=False
    ),
    region_styles: str = typer.Option(
        None,
        "--region-styles",
        help="Style of each mask colour: '#ff0000=0,#00ff00=1,#0000ff=content' (a black-and-white mask "
        "needs none: white gets style 0, black keeps the content).",
        show_default=False,
    ),
    save_every: int = typer.Option(
        _D.save_every, "--save-every", help="Also save the image every N iterations (OUT_0100.png ...); 0: never."
    ),
    network: str = typer.Option(_D.network, "--network", help="vgg16 (offline) or vgg19 (downloaded)."),
    pooling: str = typer.Option(_D.pooling, "--pooling", help="max or avg."),
    max_memory: float = typer.Option(
        None, "--max-memory", help="Memory limit in GB (default: what is free).", show_default=False
    ),
    precision: str = typer.Option(
        _D.precision,
        "--precision",
        help=f"Of the network: {', '.join(PRECISIONS)} (auto: bf16 where the hardware has it).",
    ),
    *,
    common: Common,
) -> None:
    """Render CONTENT in the style of STYLE (several styles blend; --mask gives regions their own)."""
    from neuroplay.vision.style_run import prepare_style, run_style  # torch: only when the command runs

    images = list(images or [])
    if len(images) == 1:
        raise UserError("give a CONTENT image and at least one STYLE image (or none for the built-in demo)")
    if not images:
        images = [f"{DEMO_PREFIX}chelsea", f"{DEMO_PREFIX}swirl"]
    init_kind, init_file = (init, None) if init in ("content", "noise") else ("image", init)
    with options_named(ctx):
        config = StyleConfig(
            **settings_from_params(
                ctx,
                StyleConfig,
                scales=_numbers(scales, "--scales", int) if scales else None,
                iterations=_iterations(iterations),
                content_layers=_names(content_layers),
                style_layers=_names(style_layers),
                style_blend=_numbers(style_blend, "--style-blend") if style_blend else None,
                init=init_kind,
                match_colors=match_histogram,
                max_memory_gb=max_memory,
            )
        )
    n_styles = len(images) - 1
    if config.style_blend is not None and len(config.style_blend) != n_styles:
        raise UserError(f"--style-blend has {len(config.style_blend)} weights for {n_styles} style(s)")
    job = prepare_style(
        config, images[0], images[1:], output, mask=mask, region_styles=region_styles, init_image=init_file
    )
    with make_progress(disable=common.quiet or common.json) as progress:
        task = progress.add_task("style", total=sum(n for _, n in config.schedule()), status="")

        def on_step(step) -> None:
            h, w = step.size
            progress.update(
                task,
                completed=step.iteration,
                status=f"{w}×{h}  content {step.content_loss:.3g}  style {step.style_loss:.3g}  "
                f"total {step.total_loss:.4g}",
            )

        with stop_requests() as stop_requested:
            summary = run_style(job, on_step, should_stop=stop_requested)
    if common.json:
        emit_json(summary)
    elif not common.quiet:
        s = summary
        stopped = f"interrupted after {s['iterations']} iterations; " if s["interrupted"] else ""
        typer.echo(
            f"{stopped}wrote {output} ({s['width']}×{s['height']}) in {s['wall_seconds']:.1f} s: "
            f"content loss {s['content_loss']:.4g}, style loss {s['style_loss']:.4g}; settings in {s['sidecar']}",
            err=True,
        )
    if summary["interrupted"]:
        raise typer.Exit(130)


def _iterations(text: str | None) -> int | tuple[int, ...] | None:
    if text is None:
        return None
    values = _numbers(text, "--iterations", int)
    return values[0] if len(values) == 1 else values
