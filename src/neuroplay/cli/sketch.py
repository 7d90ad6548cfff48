"""``neuroplay sketch index|search|colorize``: find the photo a line drawing shows, and colour it.

``SKETCH`` is an image file (dark lines on light paper) or ``demo:NAME``, a built-in sample
sketch (cup, cat, rocket, astronaut, horse). ``--gallery DIR`` is a folder of photos, searched
recursively; without it, the built-in gallery of photos bundled with scikit-image is used, so
every command runs with no files. The gallery's index is cached (see ``neuroplay sketch index
--help``) and brought up to date on every call: only new or changed photos cost time.

``search --json`` prints one JSON object on the last line of stdout::

    {"sketch": ..., "gallery": ..., "edges": "hed", "results": [{"path": ..., "score": ..., "mirrored": ...}, ...], ...}

``results`` is the ranked list, best first; ``score`` is the fused z-score (higher is better,
comparable within one search only).

``colorize SKETCH -o OUT`` retrieves the best photo (or takes ``--photo FILE``), splits both into
regions, matches them and runs one regional style transfer; it writes ``OUT``, a contact sheet
``OUT_sheet.png`` and the settings ``OUT.json``. ``--json`` prints
``{"retrieved", "regions", "matches", "wall_seconds", "output", "sheet", ...}``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import typer

from neuroplay.cli._util import DEVICE, JSON, SEED, check_device, ctrl_c_stops, emit_json
from neuroplay.common.errors import UserError
from neuroplay.common.progress import console, make_progress

app = typer.Typer(
    help="Sketch colouring: find the photo a line drawing shows (index, search) and colour the drawing (colorize).",
    no_args_is_help=True,
)

DEMO_PREFIX = "demo:"
SKETCH = typer.Argument(..., help="Sketch image (dark lines on light paper), or demo:cup|cat|rocket|astronaut|horse.")
GALLERY = typer.Option(
    None, "--gallery", "-g", help="Folder of photos, searched recursively. Default: the built-in gallery."
)
EDGES = typer.Option("auto", "--edges", help="Edge detector for the photos: auto (HED, else Canny), hed or canny.")
QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar or notes on stderr.")


# --- shared with other sketch commands ---------------------------------------------------------------


def read_sketch(spec: str) -> np.ndarray:
    """The sketch named on the command line: ``demo:NAME`` or an image file -> ``H×W`` float gray in [0, 1]."""
    from neuroplay.vision.sketch.drawing import sample_sketch
    from neuroplay.vision.sketch.retrieve import load_sketch

    if spec.startswith(DEMO_PREFIX):
        return sample_sketch(spec[len(DEMO_PREFIX) :]).astype(np.float32) / 255.0
    return load_sketch(spec)


def gallery_dir(gallery: Path | None) -> Path:
    """``--gallery`` checked (exists, is a folder), or the built-in gallery written to the cache."""
    from neuroplay.vision.sketch.drawing import builtin_gallery_dir

    if gallery is None:
        return builtin_gallery_dir()
    if not gallery.exists():
        raise UserError(f"gallery not found: {gallery}")
    if not gallery.is_dir():
        raise UserError(f"gallery {gallery} is not a directory")
    return gallery


def open_index(gallery: Path, edges: str, device: str, quiet: bool = False, bar: bool = True):
    """Index (or update the cached index of) ``gallery``, with a progress bar if ``bar``; warnings
    (skipped files, the Canny fallback) go to stderr unless ``quiet``."""
    from neuroplay.vision.sketch.retrieve import RetrievalConfig, index_gallery, resolve_device

    config = RetrievalConfig(edges=edges)
    device = resolve_device(check_device(device))

    def note(message: str) -> None:
        if not quiet:
            console().print(f"[yellow]warning:[/yellow] {message}", highlight=False)

    with make_progress(transient=True, disable=quiet or not bar) as progress_bar:
        task = progress_bar.add_task("indexing", total=None, status="")

        def progress(done: int, total: int, name: str) -> None:
            progress_bar.update(task, completed=done, total=total, status=name)

        return index_gallery(gallery, config, device=device, notify=note, progress=progress)


# --- commands --------------------------------------------------------------------------------------------


@app.command("index")
def index_cmd(
    gallery: Path = GALLERY,
    edges: str = EDGES,
    json_out: bool = JSON,
    quiet: bool = QUIET,
    seed: int = SEED,
    device: str = DEVICE,
) -> None:
    """Index a gallery folder: edge maps and descriptors of every photo, cached.

    The index lives under the neuroplay cache (NEUROPLAY_CACHE or ~/.cache/neuroplay), keyed by
    the gallery's path. Photos whose size and modification time are unchanged are reused, new
    and changed ones described, removed ones dropped; unreadable files are skipped with a warning.
    """
    from neuroplay.vision.sketch.retrieve import default_index_path

    root = gallery_dir(gallery)
    index = open_index(root, edges, device, quiet, bar=not json_out)
    stats = index.stats
    summary = {
        "gallery": str(root),
        "index": str(default_index_path(root)),
        "edges": index.method,
        "images": stats.indexed,
        "added": stats.added,
        "reused": stats.reused,
        "removed": stats.removed,
        "skipped": [{"path": rel, "why": why} for rel, why in stats.skipped],
        "seconds": round(stats.seconds, 3),
    }
    if json_out:
        emit_json(summary)
        return
    typer.echo(
        f"{root}: {stats.indexed} photos indexed with {index.method} edges "
        f"({stats.added} new or changed, {stats.reused} reused, {stats.removed} removed, "
        f"{len(stats.skipped)} skipped) in {stats.seconds:.1f} s"
    )


@app.command("search")
def search_cmd(
    sketch: str = SKETCH,
    gallery: Path = GALLERY,
    k: int = typer.Option(5, "-k", "--top", help="How many photos to return."),
    edges: str = EDGES,
    json_out: bool = JSON,
    quiet: bool = QUIET,
    seed: int = SEED,
    device: str = DEVICE,
) -> None:
    """Rank a gallery's photos by how well they match a sketch (the mirrored sketch is tried too)."""
    from neuroplay.vision.sketch.retrieve import sketch_edges

    if k < 1:
        raise UserError(f"-k must be at least 1, got {k}")
    check_device(device)
    drawing = read_sketch(sketch)
    sketch_edges(drawing)  # a blank sketch is refused before any indexing
    root = gallery_dir(gallery)
    index = open_index(root, edges, device, quiet, bar=not json_out)
    start = time.perf_counter()
    hits = index.search(drawing, k=k)
    seconds = time.perf_counter() - start
    results = [{"path": str(h.path), "score": round(h.score, 4), "mirrored": h.mirrored} for h in hits]
    if json_out:
        emit_json(
            {
                "sketch": sketch,
                "gallery": str(root),
                "edges": index.method,
                "images": len(index),
                "results": results,
                "search_seconds": round(seconds, 4),
            }
        )
        return
    typer.echo(f"{'rank':>4}  {'score':>7}  photo")
    for rank, hit in enumerate(hits, start=1):
        typer.echo(f"{rank:>4}  {hit.score:>7.3f}  {hit.path}{'  (mirrored)' if hit.mirrored else ''}")


@app.command("colorize")
def colorize_cmd(
    sketch: str = typer.Argument("demo:cup", help="Sketch image, or demo:cup|cat|rocket|astronaut|horse."),
    output: Path = typer.Option(Path("colorized.png"), "--output", "-o", help="Output image (.png or .jpg)."),
    gallery: Path = GALLERY,
    photo: Path = typer.Option(None, "--photo", help="Colour from this photo and skip retrieval.", show_default=False),
    size: int = typer.Option(512, "--size", "-s", help="Longest side of the output in pixels."),
    parts: int = typer.Option(6, "--parts", help="How many colour parts to split the photo's object into."),
    iterations: str = typer.Option(
        None,
        "--iterations",
        "-n",
        help="Style-transfer iterations per scale, coarse to fine, e.g. 40,30,20 (default: 40,30,20).",
        show_default=False,
    ),
    style_weight: float = typer.Option(1e5, "--style-weight", help="How strongly the photo's textures show."),
    edges: str = EDGES,
    threads: int = typer.Option(
        None, "--threads", help="CPU threads for torch (default: torch's).", show_default=False
    ),
    json_out: bool = JSON,
    quiet: bool = QUIET,
    seed: int = SEED,
    device: str = DEVICE,
) -> None:
    """Colour a line drawing: retrieve a photo, match regions, one regional style transfer."""
    import json

    import torch

    from neuroplay import __version__
    from neuroplay.cli._util import parse_ints
    from neuroplay.cli.style import _check_output, sidecar_path
    from neuroplay.common.io import write_text
    from neuroplay.vision.image import from_array, load_image, save_image
    from neuroplay.vision.sketch.colorize import ColorizeConfig, colorize, settings
    from neuroplay.vision.sketch.retrieve import sketch_edges

    started = time.perf_counter()
    check_device(device)
    inputs = [sketch] + ([str(photo)] if photo is not None else [])
    _check_output(output, inputs)
    sheet_path = output.with_name(f"{output.with_suffix('').name}_sheet.png")
    config = ColorizeConfig(
        size=size,
        parts=parts,
        iterations=parse_ints(iterations, "--iterations") if iterations else ColorizeConfig.iterations,
        style_weight=style_weight,
        seed=seed,
        device=device,
        threads=threads,
    )
    drawing = read_sketch(sketch)
    sketch_edges(drawing)  # a blank sketch is refused before any indexing
    torch.manual_seed(seed)
    if photo is not None:
        picture, retrieved, score = load_image(photo), None, None
        source = str(photo)
    else:
        root = gallery_dir(gallery)
        index = open_index(root, edges, device, quiet, bar=not json_out)
        hits = index.search(drawing, k=1)
        retrieved, score = str(hits[0].path), float(hits[0].score)
        source = retrieved
        picture = load_image(hits[0].path)
        if not quiet:
            console().print(f"retrieved {retrieved} (score {score:.3f})", highlight=False)

    with make_progress(disable=quiet or json_out) as progress, ctrl_c_stops() as stop_requested:
        total = sum(n for _, n in config.style_config().schedule())
        task = progress.add_task("colorize", total=total, status="segmenting")

        def on_step(step) -> None:
            h, w = step.size
            progress.update(task, completed=step.iteration, status=f"{w}×{h}  style {step.style_loss:.3g}")

        result = colorize(
            drawing,
            picture,
            config,
            callback=on_step,
            labels=(Path(sketch).name if not sketch.startswith(DEMO_PREFIX) else sketch, Path(source).name),
            should_stop=stop_requested,
        )
    save_image(result.image, output)
    save_image(from_array(result.contact_sheet), sheet_path)
    wall = time.perf_counter() - started
    height, width = result.image.shape[-2:]
    summary = {
        "sketch": sketch,
        "retrieved": retrieved,
        "retrieval_score": score,
        "photo": source,
        "regions": result.regions,
        "matches": [
            {"sketch_region": int(m.sketch), "photo_part": int(m.photo), "cost": round(float(m.cost), 4)}
            for m in result.matches
        ],
        "width": int(width),
        "height": int(height),
        "wall_seconds": wall,
        "timings": result.timings,
        "output": str(output),
        "sheet": str(sheet_path),
        "sidecar": str(sidecar_path(output)),
        "seed": seed,
        "interrupted": result.interrupted,
    }
    record = {
        "kind": "neuroplay-sketch-colorize",
        "format_version": 1,
        **summary,
        "style_losses": result.style_losses,
        "config": settings(config),
        "neuroplay": __version__,
        "torch": torch.__version__,
    }
    try:
        write_text(sidecar_path(output), json.dumps(record, indent=2) + "\n")
    except OSError as exc:
        raise UserError(f"cannot write {sidecar_path(output)} ({exc.strerror or exc})") from None
    if json_out:
        emit_json(summary)
    elif not quiet:
        stopped = "interrupted; " if result.interrupted else ""
        typer.echo(
            f"{stopped}wrote {output} ({width}×{height}, {result.regions} regions) and {sheet_path} in {wall:.1f} s",
            err=True,
        )
    if result.interrupted:
        raise typer.Exit(130)
