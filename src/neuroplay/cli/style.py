"""``neuroplay style CONTENT STYLE [STYLE...] -o OUT``: Gatys style transfer, regional and multi-style.

With no images it renders the built-in demo (a scikit-image photo in a generated painting's
style), so it works offline. Beside the output goes ``OUT``'s name with ``.json``: every
setting, the seed, the inputs and the resulting losses.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import typer

from neuroplay.cli._util import DEVICE, JSON, SEED, check_device, ctrl_c_stops, emit_json
from neuroplay.common.errors import UserError
from neuroplay.common.io import write_text
from neuroplay.common.progress import make_progress
from neuroplay.vision.style import CONTENT_LAYERS, STYLE_LAYERS, StyleConfig

SIDECAR_KIND = "neuroplay-style"
SIDECAR_VERSION = 1
DEMO_PREFIX = "demo:"  # demo:chelsea, demo:swirl ... name a built-in image instead of a file
_D = StyleConfig()  # the CLI's defaults are the library's
_SCHEDULE = ", ".join(f"{n} at {size} px" for size, n in _D.schedule())


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


def _load_content(spec: str):
    from neuroplay.vision.image import demo_content, load_image

    if spec.startswith(DEMO_PREFIX):
        return demo_content(spec[len(DEMO_PREFIX) :])
    return load_image(spec)


def _load_style(spec: str, size: int, seed: int):
    from neuroplay.vision.image import demo_style, load_image

    if spec.startswith(DEMO_PREFIX):
        return demo_style(spec[len(DEMO_PREFIX) :], size, seed)
    return load_image(spec)


def _check_output(out: Path, inputs: list[str]) -> None:
    """Refuse a bad output path before any work: wrong type, a folder, an input, unwritable."""
    from neuroplay.vision.image import SAVE_FORMATS

    if out.suffix.lower() not in SAVE_FORMATS:
        raise UserError(f"cannot save {out}: use a .png, .jpg or .jpeg file name")
    if out.is_dir():
        raise UserError(f"{out} is a directory, expected an image file name")
    for spec in inputs:
        if not spec.startswith(DEMO_PREFIX) and Path(spec).exists() and Path(spec).resolve() == out.resolve():
            raise UserError(f"the output {out} would overwrite an input; choose another name")
    parent = out.parent if str(out.parent) else Path(".")
    existing = next((p for p in (parent, *parent.parents) if p.exists()), Path("."))
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"cannot write {out}: {existing} is not a writable folder")


def sidecar_path(out: Path) -> Path:
    """Where the settings of output ``out`` are recorded: ``out`` with the suffix ``.json``."""
    return out.with_suffix(".json")


def style(
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
    content_layers: str = typer.Option(",".join(CONTENT_LAYERS), "--content-layers"),
    style_layers: str = typer.Option(",".join(STYLE_LAYERS), "--style-layers"),
    init: str = typer.Option("content", "--init", help="Start from the content, noise, or an image FILE."),
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
        False, "--original-colors", help="Keep the content's colours: only the stylised luminance is kept."
    ),
    luminance_only: bool = typer.Option(
        False, "--luminance-only", help="Transfer the style's luminance only; the colours are the content's."
    ),
    match_histogram: bool = typer.Option(
        False,
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
        0, "--save-every", help="Also save the image every N iterations (OUT_0100.png ...); 0: never."
    ),
    network: str = typer.Option(_D.network, "--network", help="vgg16 (offline) or vgg19 (downloaded)."),
    pooling: str = typer.Option(_D.pooling, "--pooling", help="max or avg."),
    max_memory: float = typer.Option(
        None, "--max-memory", help="Memory limit in GB (default: what is free).", show_default=False
    ),
    threads: int = typer.Option(
        None, "--threads", help="CPU threads for torch (default: torch's).", show_default=False
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    seed: int = SEED,
    device: str = DEVICE,
    json_out: bool = JSON,
) -> None:
    """Render CONTENT in the style of STYLE (several styles blend; --mask gives regions their own)."""
    check_device(device)
    images = list(images or [])
    if len(images) == 1:
        raise UserError("give a CONTENT image and at least one STYLE image (or none for the built-in demo)")
    if not images:
        images = [f"{DEMO_PREFIX}chelsea", f"{DEMO_PREFIX}swirl"]
    _check_output(output, images + ([str(mask)] if mask else []))
    if region_styles is not None and mask is None:
        raise UserError("--region-styles needs --mask")
    init_kind, init_file = (init, None) if init in ("content", "noise") else ("image", init)
    config = StyleConfig(
        size=size,
        scales=_numbers(scales, "--scales", int) if scales else None,
        iterations=_iterations(iterations),
        content_layers=_names(content_layers),
        style_layers=_names(style_layers),
        content_weight=content_weight,
        style_weight=style_weight,
        tv_weight=tv_weight,
        style_scale=style_scale,
        style_blend=_numbers(style_blend, "--style-blend") if style_blend else None,
        init=init_kind,
        optimizer=optimizer,
        learning_rate=learning_rate,
        original_colors=original_colors,
        luminance_only=luminance_only,
        match_colors=match_histogram,
        network=network,
        pooling=pooling,
        seed=seed,
        device=device,
        save_every=save_every,
        max_memory_gb=max_memory,
        threads=threads,
    )
    n_styles = len(images) - 1
    if config.style_blend is not None and len(config.style_blend) != n_styles:
        raise UserError(f"--style-blend has {len(config.style_blend)} weights for {n_styles} style(s)")
    run_style(config, images[0], images[1:], output, mask, region_styles, init_file, quiet, json_out)


def _iterations(text: str | None) -> int | tuple[int, ...] | None:
    if text is None:
        return None
    values = _numbers(text, "--iterations", int)
    return values[0] if len(values) == 1 else values


def run_style(
    config: StyleConfig,
    content_spec: str,
    style_specs: list[str],
    output: Path,
    mask: Path | None = None,
    region_styles: str | None = None,
    init_file: str | None = None,
    quiet: bool = False,
    json_out: bool = False,
) -> dict:
    """Load the inputs, run :func:`~neuroplay.vision.style.stylize`, write the image and its sidecar.

    Returns the summary that ``--json`` prints.
    """
    import torch

    from neuroplay import __version__
    from neuroplay.vision.image import load_image, save_image
    from neuroplay.vision.regions import parse_region_styles, regions_from_mask
    from neuroplay.vision.style import resolve_device, stylize

    started = time.perf_counter()
    device = resolve_device(config.device)  # fail on a missing GPU before loading anything
    content = _load_content(content_spec)
    styles = [_load_style(spec, config.size, config.seed) for spec in style_specs]
    regions = None
    if mask is not None:
        mapping = parse_region_styles(region_styles, len(styles)) if region_styles else None
        regions = regions_from_mask(load_image(mask), mapping)
    init_image = load_image(init_file) if init_file else None

    stem, suffix = output.with_suffix(""), output.suffix
    with make_progress(disable=quiet or json_out) as progress:
        task = progress.add_task("style", total=sum(n for _, n in config.schedule()), status="")

        def on_step(step) -> None:
            h, w = step.size
            progress.update(
                task,
                completed=step.iteration,
                status=f"{w}×{h}  content {step.content_loss:.3g}  style {step.style_loss:.3g}  "
                f"total {step.total_loss:.4g}",
            )
            if step.image is not None:
                save_image(step.image, f"{stem}_{step.iteration:04d}{suffix}")

        with ctrl_c_stops() as stop_requested:
            result = stylize(
                content, styles, config, regions=regions, init_image=init_image, callback=on_step,
                should_stop=stop_requested,
            )  # fmt: skip
    save_image(result.image, output)
    wall = time.perf_counter() - started
    height, width = result.image.shape[-2:]
    summary = {
        "output": str(output),
        "sidecar": str(sidecar_path(output)),
        "wall_seconds": wall,
        "content_loss": result.content_loss,
        "style_loss": result.style_loss,
        "tv_loss": result.tv_loss,
        "total_loss": result.total_loss,
        "iterations": result.iterations,
        "width": int(width),
        "height": int(height),
        "scales": [[int(w), int(h)] for h, w in result.scales],
        "seed": config.seed,
        "device": str(device),
        "interrupted": result.interrupted,
    }
    record = {
        "kind": SIDECAR_KIND,
        "format_version": SIDECAR_VERSION,
        **summary,
        "content": content_spec,
        "styles": style_specs,
        "mask": str(mask) if mask else None,
        "region_styles": region_styles,
        "init_image": init_file,
        "config": config.as_dict(),
        "timings": result.timings,
        "neuroplay": __version__,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    try:
        write_text(sidecar_path(output), json.dumps(record, indent=2) + "\n")
    except OSError as exc:
        raise UserError(f"cannot write {sidecar_path(output)} ({exc.strerror or exc})") from None
    if json_out:
        emit_json(summary)
    elif not quiet:
        stopped = f"interrupted after {result.iterations} iterations; " if result.interrupted else ""
        typer.echo(
            f"{stopped}wrote {output} ({width}×{height}) in {wall:.1f} s: content loss {result.content_loss:.4g}, "
            f"style loss {result.style_loss:.4g}; settings in {sidecar_path(output)}",
            err=True,
        )
    if result.interrupted:
        raise typer.Exit(130)
    return summary
