"""``neuroplay dream [IMAGE] -o OUT``: Deep Dream, with octaves, tiles, a guide, a mask and a zoom.

With no image it dreams on a photo bundled with scikit-image, so it works offline. Beside the
output goes ``OUT``'s name with ``.json``: every setting, the seed, the inputs and the timing.
The job itself is the library's (:func:`neuroplay.vision.dream_run.run_dream`); this module
parses, shows progress and prints.
"""

from __future__ import annotations

from pathlib import Path

import typer

from neuroplay.cli._util import QUIET, THREADS, Common, common_options, emit_json, options_named, settings_from_params
from neuroplay.cli.interrupts import stop_requests
from neuroplay.common.errors import UserError
from neuroplay.common.outputs import DEMO_PREFIX
from neuroplay.common.progress import make_progress
from neuroplay.common.runtime import PRECISIONS
from neuroplay.vision.dream_config import DreamConfig

DEFAULT_IMAGE = f"{DEMO_PREFIX}chelsea"
_D = DreamConfig  # the CLI's defaults are the library's: a dataclass's defaults are its class attributes


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


@common_options(quiet=QUIET, threads=THREADS)
def dream(
    ctx: typer.Context,
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
    zoom_frames: int = typer.Option(
        _D.zoom_frames, "--zoom-frames", help="Write a zoom-into-the-dream animation of N frames."
    ),
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
        _D.precision, "--precision", help=f"{', '.join(PRECISIONS)} (auto: bf16 where the hardware has it)."
    ),
    *,
    common: Common,
) -> None:
    """Dream on IMAGE: amplify what an ImageNet network sees in it, octave by octave."""
    from neuroplay.vision.dream_run import prepare_dream, run_dream  # torch: only when the command runs
    from neuroplay.vision.weights import get_network

    get_network(network)
    if list_layers:
        _list_layers(network, common.json)
        return
    layers = parse_layers(layer) if layer else dict(_D.layers)
    channels_by_layer = parse_channels(channels or [], list(layers))
    with options_named(ctx):
        config = DreamConfig(
            **settings_from_params(
                ctx, DreamConfig, layers=layers, channels=channels_by_layer, max_size=max_size or None
            )
        )
    image = image or DEFAULT_IMAGE
    if output is None:
        output = Path("dream.gif" if zoom_frames else "dream.png")
    job = prepare_dream(config, image, output, guide=guide, mask=mask)
    with make_progress(disable=common.quiet or common.json) as progress:
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

        with stop_requests() as stop_requested:
            summary = run_dream(job, on_step, should_stop=stop_requested)
    if common.json:
        emit_json(summary)
    elif not common.quiet:
        what = f"{summary['frames']} frames" if config.zoom_frames else f"{summary['width']}×{summary['height']}"
        wall, sidecar = summary["wall_seconds"], summary["sidecar"]
        stopped = "interrupted; " if summary["interrupted"] else ""
        typer.echo(f"{stopped}wrote {output} ({what}) in {wall:.1f} s; settings in {sidecar}", err=True)
    if summary["interrupted"]:
        raise typer.Exit(130)
