"""``neuroplay dream [IMAGE] -o OUT``: Deep Dream, with octaves, tiles, a guide, a mask and a zoom.

With no image it dreams on a photo bundled with scikit-image, so it works offline. Beside the
output goes ``OUT``'s name with ``.json``: every setting, the seed, the inputs and the timing.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import typer

from neuroplay.cli._util import DEVICE, JSON, SEED, check_device, emit_json
from neuroplay.common.errors import UserError
from neuroplay.common.io import write_text
from neuroplay.common.progress import make_progress
from neuroplay.vision.dream import DreamConfig

SIDECAR_KIND = "neuroplay-dream"
SIDECAR_VERSION = 1
DEMO_PREFIX = "demo:"  # demo:chelsea, demo:astronaut ... name a built-in photo instead of a file
DEFAULT_IMAGE = "demo:chelsea"
_D = DreamConfig()  # the CLI's defaults are the library's


def parse_layers(values: list[str]) -> dict[str, float]:
    """``["relu4_3:1.0,relu3_3:0.5", "relu5_1"]`` -> ``{"relu4_3": 1.0, "relu3_3": 0.5, "relu5_1": 1.0}``."""
    layers: dict[str, float] = {}
    for item in (part for value in values for part in value.replace(" ", "").split(",") if part):
        name, _, weight = item.partition(":")
        if name in layers:
            raise UserError(f"--layer names {name} twice")
        try:
            layers[name] = float(weight) if weight else 1.0
        except ValueError:
            raise UserError(f"--layer {item!r}: the weight after ':' must be a number") from None
    return layers


def parse_channels(values: list[str], layers: list[str]) -> dict[str, tuple[int, ...]]:
    """``["12,87"]`` (for the only layer) or ``["relu4_3:12,87", "relu3_3:5"]`` -> ``{layer: channels}``."""
    channels: dict[str, tuple[int, ...]] = {}
    for value in values:
        name, sep, numbers = value.replace(" ", "").rpartition(":")
        if not sep:
            if len(layers) != 1:
                raise UserError(f"--channels {value!r}: with several layers, say which: --channels LAYER:{value}")
            name = layers[0]
        try:
            chans = tuple(int(v) for v in numbers.split(",") if v)
        except ValueError:
            raise UserError(f"--channels {value!r} must be comma-separated channel numbers") from None
        if not chans:
            raise UserError(f"--channels {value!r} names no channel")
        channels[name] = channels.get(name, ()) + chans
    return channels


def _load(spec: str, max_size: int | None = None):
    from neuroplay.vision.image import demo_content, load_image

    if spec.startswith(DEMO_PREFIX):
        return demo_content(spec[len(DEMO_PREFIX) :], max_size)
    return load_image(spec, max_size)


def sidecar_path(out: Path) -> Path:
    """Where the settings of output ``out`` are recorded: ``out`` with the suffix ``.json``."""
    return out.with_suffix(".json")


def _check_output(out: Path, animation: bool, inputs: list[str]) -> None:
    """Refuse a bad output path before any work: wrong type, a folder, an input, unwritable."""
    from neuroplay.vision.animation import ANIMATION_SUFFIXES
    from neuroplay.vision.image import SAVE_FORMATS

    suffix = out.suffix.lower()
    if animation and suffix not in ANIMATION_SUFFIXES:
        raise UserError(f"--zoom-frames writes an animation: name the output .gif or .mp4, not {out}")
    if not animation and suffix not in SAVE_FORMATS:
        hint = " (add --zoom-frames N for an animation)" if suffix in ANIMATION_SUFFIXES else ""
        raise UserError(f"cannot save {out}: use a .png, .jpg or .jpeg file name{hint}")
    if out.is_dir():
        raise UserError(f"{out} is a directory, expected a file name")
    for spec in inputs:
        if not spec.startswith(DEMO_PREFIX) and Path(spec).exists() and Path(spec).resolve() == out.resolve():
            raise UserError(f"the output {out} would overwrite an input; choose another name")
    parent = out.parent if str(out.parent) else Path(".")
    existing = next((p for p in (parent, *parent.parents) if p.exists()), Path("."))
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"cannot write {out}: {existing} is not a writable folder")


def _list_layers(network: str, json_out: bool) -> None:
    from neuroplay.vision.features import layer_channels, layer_scale

    channels = layer_channels(network)
    rows = [{"name": name, "channels": n, "scale": layer_scale(name)} for name, n in channels.items()]
    if json_out:
        emit_json({"network": network, "layers": rows})
        return
    typer.echo(f"{'layer':8} {'channels':>8} {'scale':>6}   ({network}; scale: how many times smaller the map is)")
    for row in rows:
        typer.echo(f"{row['name']:8} {row['channels']:>8} {'1/' + str(row['scale']):>6}")


def dream(
    image: str = typer.Argument(
        None, help=f"Image to dream on: a file, or demo:NAME (default: {DEFAULT_IMAGE}).", show_default=False
    ),
    output: Path = typer.Option(
        None,
        "--output",
        "-o",
        help="Output: .png/.jpg, or .gif/.mp4 with --zoom-frames (default: dream.png or dream.gif).",
        show_default=False,
    ),
    list_layers: bool = typer.Option(False, "--list-layers", help="Print the layers and channel counts, then stop."),
    layer: list[str] = typer.Option(
        None,
        "--layer",
        "-l",
        help="Layer(s) to dream on, with optional weights: relu4_3 or relu4_3:1.0,relu3_3:0.5; repeatable. "
        "Low layers: strokes and textures; high layers: eyes and faces. (default: relu4_3)",
        show_default=False,
    ),
    channels: list[str] = typer.Option(
        None,
        "--channels",
        help="Dream only these channels of a layer: 12,87 (the only layer) or relu4_3:12,87; repeatable.",
        show_default=False,
    ),
    octaves: int = typer.Option(_D.octaves, "--octaves", help="Scales to dream at, smallest first."),
    octave_scale: float = typer.Option(_D.octave_scale, "--octave-scale", help="Size ratio between octaves."),
    steps: int = typer.Option(_D.steps, "--steps", "-n", help="Gradient steps per octave."),
    step_size: float = typer.Option(_D.step_size, "--step-size", help="Mean change per step, in [0, 1] units."),
    jitter: int = typer.Option(_D.jitter, "--jitter", help="Largest random roll per step, in pixels."),
    tile_size: int = typer.Option(
        _D.tile_size, "--tile-size", help="Largest tile side (pixels); bigger images are tiled, seamlessly."
    ),
    guide: str = typer.Option(
        None,
        "--guide",
        help="Steer the dream towards the features of this image (file or demo:NAME).",
        show_default=False,
    ),
    guide_size: int = typer.Option(_D.guide_size, "--guide-size", help="The guide's longer side when it is read."),
    mask: Path = typer.Option(
        None,
        "--mask",
        help="Dream only where this image is bright (black: unchanged, grey: blended).",
        show_default=False,
    ),
    zoom_frames: int = typer.Option(0, "--zoom-frames", help="Write a zoom-into-the-dream animation of N frames."),
    zoom: float = typer.Option(_D.zoom, "--zoom", help="How much each animation frame zooms in."),
    zoom_steps: int = typer.Option(
        None, "--zoom-steps", help="Dream steps per animation frame (default: half of --steps).", show_default=False
    ),
    fps: float = typer.Option(_D.fps, "--fps", help="Frames per second of the animation."),
    max_size: int = typer.Option(
        _D.max_size, "--max-size", help="Shrink the image so its longer side is at most this; 0: keep its size."
    ),
    network: str = typer.Option(_D.network, "--network", help="vgg16 (offline) or vgg19 (downloaded)."),
    precision: str = typer.Option(
        _D.precision, "--precision", help="auto (bf16 where the hardware has it), fp32 or bf16."
    ),
    threads: int = typer.Option(
        None, "--threads", help="CPU threads for torch (default: torch's).", show_default=False
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    seed: int = SEED,
    device: str = DEVICE,
    json_out: bool = JSON,
) -> None:
    """Dream on IMAGE: amplify what an ImageNet network sees in it, octave by octave."""
    from neuroplay.vision.weights import get_network

    check_device(device)
    get_network(network)
    if list_layers:
        _list_layers(network, json_out)
        return
    layers = parse_layers(layer or ["relu4_3"])
    config = DreamConfig(
        layers=layers,
        channels=parse_channels(channels or [], list(layers)),
        octaves=octaves,
        octave_scale=octave_scale,
        steps=steps,
        step_size=step_size,
        jitter=jitter,
        tile_size=tile_size,
        max_size=max_size or None,
        guide_size=guide_size,
        zoom_frames=zoom_frames,
        zoom=zoom,
        zoom_steps=zoom_steps,
        fps=fps,
        network=network,
        seed=seed,
        device=device,
        precision=precision,
        threads=threads,
    )
    image = image or DEFAULT_IMAGE
    if output is None:
        output = Path("dream.gif" if zoom_frames else "dream.png")
    inputs = [image] + [str(p) for p in (guide, mask) if p is not None]
    _check_output(output, zoom_frames > 0, inputs)
    run_dream(config, image, output, guide=guide, mask=mask, quiet=quiet, json_out=json_out)


def run_dream(
    config: DreamConfig,
    image_spec: str,
    output: Path,
    guide: str | None = None,
    mask: Path | None = None,
    quiet: bool = False,
    json_out: bool = False,
) -> dict:
    """Load the inputs, run :func:`~neuroplay.vision.dream.dream`, write the output and its sidecar.

    Returns the summary that ``--json`` prints.
    """
    import torch

    from neuroplay import __version__
    from neuroplay.vision.animation import write_animation
    from neuroplay.vision.dream import dream, prepare_image, resolve_device
    from neuroplay.vision.image import load_image, save_image

    started = time.perf_counter()
    resolve_device(config.device)  # fail on a missing GPU before loading anything
    picture, _ = prepare_image(_load(image_spec, config.max_size), config)  # bad sizes fail before the bar
    guide_image = _load(guide) if guide is not None else None
    mask_image = load_image(mask) if mask is not None else None

    with make_progress(disable=quiet or json_out) as progress:
        task = progress.add_task("dream", total=None, status="")

        def on_step(p) -> None:
            frame = f"frame {p.frame + 1}/{p.frames}  " if p.frames > 1 else ""
            h, w = p.size
            progress.update(
                task,
                total=p.total,
                completed=p.done,
                status=f"{frame}octave {p.octave}/{p.octaves} {w}×{h}  step {p.step}/{p.steps}",
            )

        result = dream(picture, config, on_step, guide=guide_image, mask=mask_image)
    if config.zoom_frames:
        write_animation(result.frames, output, config.fps)
    else:
        save_image(result.image, output)
    wall = time.perf_counter() - started
    height, width = result.image.shape[-2:]
    summary = {
        "output": str(output),
        "sidecar": str(sidecar_path(output)),
        "wall_seconds": wall,
        "dream_seconds": result.wall_seconds,
        "width": int(width),
        "height": int(height),
        "octave_sizes": [[int(w), int(h)] for h, w in result.octave_sizes],
        "tiles": result.tiles,
        "frames": len(result.frames),
        "objective": result.objective,
        "seed": config.seed,
        "device": result.device,
        "precision": result.precision,
    }
    record = {
        "kind": SIDECAR_KIND,
        "format_version": SIDECAR_VERSION,
        **summary,
        "image": image_spec,
        "guide": guide,
        "mask": str(mask) if mask is not None else None,
        "config": config.as_dict(),
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
        what = f"{len(result.frames)} frames" if config.zoom_frames else f"{width}×{height}"
        typer.echo(f"wrote {output} ({what}) in {wall:.1f} s; settings in {sidecar_path(output)}", err=True)
    return summary
