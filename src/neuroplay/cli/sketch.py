"""``neuroplay sketch index|search|colorize|train``: find the photo a line drawing shows, and colour it.

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
``OUT_sheet.png`` and the settings ``OUT.json``. ``--hints IMAGE`` (a transparent RGBA image the
drawing's size) colours each region a scribble touches in the scribble's colour. ``--json`` prints
``{"retrieved", "regions", "matches", "wall_seconds", "output", "sheet", ...}``.

Retrieval fuses the descriptors with a sketch-photo embedding learned from real drawings
(``--model builtin``, the default; ``none`` leaves it out); ``train --pairs DIR -o MODEL`` learns
one from a folder of your own pairs, for ``--model MODEL``.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import typer

from neuroplay.cli._util import (
    Common,
    common_options,
    emit_json,
    option_threads,
    options_named,
    parse_ints,
)
from neuroplay.cli.interrupts import stop_requests
from neuroplay.common.bounds import in_range
from neuroplay.common.progress import console, make_progress
from neuroplay.common.runtime import Notify
from neuroplay.vision.sketch.config import TOP_K, ColorizeConfig, EmbeddingConfig, RetrievalConfig

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Sketch colouring: find the photo a line drawing shows (index, search), colour the drawing (colorize), "
    "learn retrieval from your own sketch-photo pairs (train).",
    no_args_is_help=True,
)

_C = ColorizeConfig()  # the CLI's defaults are the library's
_R = RetrievalConfig()

SKETCH = typer.Argument(..., help="Sketch image (dark lines on light paper), or demo:cup|cat|rocket|astronaut|horse.")
GALLERY = typer.Option(
    None, "--gallery", "-g", help="Folder of photos, searched recursively. Default: the built-in gallery."
)
EDGES = typer.Option(_R.edges, "--edges", help="Edge detector for the photos: auto (HED, else Canny), hed or canny.")
QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar or notes on stderr.")
MODEL = typer.Option(
    _R.embedding,
    "--model",
    help="Learned sketch-photo embedding fused into the ranking: builtin, none, or a model file "
    "made by 'neuroplay sketch train'.",
)


# --- shared with other sketch commands ---------------------------------------------------------------


def _warnings_to_stderr(quiet: bool) -> Notify:
    """The library's warnings (skipped files, the Canny fallback), printed on stderr unless ``quiet``."""

    def note(message: str) -> None:
        if not quiet:
            console().print(f"[yellow]warning:[/yellow] {message}", highlight=False)

    return note


def open_index(
    gallery: Path, edges: str, device: str, quiet: bool = False, bar: bool = True, model: str = _R.embedding
):
    """Index (or update the cached index of) ``gallery``, with a progress bar if ``bar``; warnings
    (skipped files, the Canny fallback) go to stderr unless ``quiet``; ``model``: the embedding."""
    from neuroplay.vision.sketch.search import index_gallery

    config = RetrievalConfig(edges=edges, embedding=str(model))
    with make_progress(transient=True, disable=quiet or not bar) as progress_bar:
        task = progress_bar.add_task("indexing", total=None, status="")

        def progress(done: int, total: int, name: str) -> None:
            progress_bar.update(task, completed=done, total=total, status=name)

        return index_gallery(gallery, config, device=device, notify=_warnings_to_stderr(quiet), progress=progress)


class _ColorizeDisplay(contextlib.AbstractContextManager):
    """The colouring pipeline's progress on stderr: a passing bar while the gallery is indexed,
    the retrieved photo, then a bar over the style transfer. From the start of colouring, the
    first Ctrl-C stops the transfer cleanly (the image made so far is kept); before it, Ctrl-C
    interrupts at once (nothing worth keeping is lost)."""

    def __init__(self, quiet: bool, bars: bool):
        self.quiet, self.bars = quiet, bars
        self.stage = contextlib.ExitStack()  # the bar (and Ctrl-C handler) of the stage on screen
        self.bar, self.task = None, None
        self.stop_requested = lambda: False

    def _show(self, description: str, total: int | None, status: str, transient: bool) -> None:
        self.stage.close()
        self.bar = self.stage.enter_context(make_progress(transient=transient, disable=self.quiet or not self.bars))
        self.task = self.bar.add_task(description, total=total, status=status)

    def __call__(self, event) -> None:
        if event.stage == "index":
            if self.bar is None:
                self._show("indexing", None, "", transient=True)
            self.bar.update(self.task, completed=event.done, total=event.total, status=event.status)
        elif event.stage == "retrieved":
            self.stage.close()
            if not self.quiet:
                console().print(f"retrieved {event.status} (score {event.score:.3f})", highlight=False)
        elif event.stage == "colorize":
            self._show("colorize", event.total, "segmenting", transient=False)
            self.stop_requested = self.stage.enter_context(stop_requests())
        elif event.stage == "style":
            h, w = event.step.size
            self.bar.update(self.task, completed=event.done, status=f"{w}×{h}  style {event.step.style_loss:.3g}")

    def should_stop(self) -> bool:
        """Whether Ctrl-C was pressed since colouring began."""
        return self.stop_requested()

    def __exit__(self, *exc) -> None:
        self.stage.close()


# --- commands --------------------------------------------------------------------------------------------


@app.command("index")
@common_options(quiet=QUIET)
def index_cmd(
    gallery: Path = GALLERY,
    edges: str = EDGES,
    *,
    common: Common,
) -> None:
    """Index a gallery folder: edge maps and descriptors of every photo, cached.

    The index lives under the neuroplay cache (NEUROPLAY_CACHE or ~/.cache/neuroplay), keyed by
    the gallery's path. Photos whose size and modification time are unchanged are reused, new
    and changed ones described, removed ones dropped; unreadable files are skipped with a warning.
    """
    from neuroplay.vision.sketch.index import default_index_path, gallery_root

    root = gallery_root(gallery)
    index = open_index(root, edges, common.device, common.quiet, bar=not common.json)
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
    if common.json:
        emit_json(summary)
        return
    typer.echo(
        f"{root}: {stats.indexed} photos indexed with {index.method} edges "
        f"({stats.added} new or changed, {stats.reused} reused, {stats.removed} removed, "
        f"{len(stats.skipped)} skipped) in {stats.seconds:.1f} s"
    )


@app.command("search")
@common_options(quiet=QUIET)
def search_cmd(
    sketch: str = SKETCH,
    gallery: Path = GALLERY,
    k: int = typer.Option(TOP_K, "-k", "--top", help="How many photos to return."),
    edges: str = EDGES,
    model: str = MODEL,
    *,
    common: Common,
) -> None:
    """Rank a gallery's photos by how well they match a sketch (the mirrored sketch is tried too)."""
    from neuroplay.vision.sketch.index import gallery_root
    from neuroplay.vision.sketch.lines import read_sketch, sketch_edges

    in_range("-k", k, 1, 1_000_000)
    drawing = read_sketch(sketch)
    sketch_edges(drawing)  # a blank sketch is refused before any indexing
    root = gallery_root(gallery)
    index = open_index(root, edges, common.device, common.quiet, bar=not common.json, model=model)
    start = time.perf_counter()
    hits = index.search(drawing, k=k)
    seconds = time.perf_counter() - start
    results = [{"path": str(h.path), "score": round(h.score, 4), "mirrored": h.mirrored} for h in hits]
    if common.json:
        emit_json(
            {
                "sketch": sketch,
                "gallery": str(root),
                "edges": index.method,
                "embedding": index.model.source if index.model is not None else None,
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
@common_options(
    quiet=QUIET,
    threads=typer.Option(
        _C.threads,
        "--threads",
        help="CPU threads for torch (default: torch's).",
        show_default=False,
        callback=option_threads,
    ),
)
def colorize_cmd(
    ctx: typer.Context,
    sketch: str = typer.Argument("demo:cup", help="Sketch image, or demo:cup|cat|rocket|astronaut|horse."),
    output: Path = typer.Option(Path("colorized.png"), "--output", "-o", help="Output image (.png or .jpg)."),
    gallery: Path = GALLERY,
    photo: Path = typer.Option(None, "--photo", help="Colour from this photo and skip retrieval.", show_default=False),
    hints: Path = typer.Option(
        None,
        "--hints",
        help="Colour hints: a transparent (RGBA) image the drawing's size with colour scribbles; "
        "each region a scribble touches takes its colour.",
        show_default=False,
    ),
    size: int = typer.Option(_C.size, "--size", "-s", help="Longest side of the output in pixels."),
    parts: int = typer.Option(_C.parts, "--parts", help="How many colour parts to split the photo's object into."),
    iterations: str = typer.Option(
        None,
        "--iterations",
        "-n",
        help="Style-transfer iterations per scale, coarse to fine, e.g. 40,30,12 "
        f"(default: {','.join(map(str, _C.iterations))}).",
        show_default=False,
    ),
    style_weight: float = typer.Option(
        _C.style_weight, "--style-weight", help="How strongly the photo's textures show."
    ),
    edges: str = EDGES,
    model: str = MODEL,
    *,
    common: Common,
) -> None:
    """Colour a line drawing: retrieve a photo, match regions, one regional style transfer."""
    from neuroplay.common.outputs import plan_outputs, sidecar_path
    from neuroplay.vision.sketch.pipeline import colorize_from_gallery, sheet_path

    with options_named(ctx):
        config = ColorizeConfig(
            size=size,
            parts=parts,
            iterations=parse_ints(iterations, "--iterations") if iterations else _C.iterations,
            style_weight=style_weight,
            seed=common.seed,
            device=common.device,
            threads=common.threads,
        )
        config.style_config()  # the style transfer's settings (iterations, weights) are refused before any indexing
    plan_outputs(files=[output, sheet_path(output), sidecar_path(output)], inputs=[sketch, photo, hints])
    with _ColorizeDisplay(common.quiet, bars=not common.json) as display:
        made = colorize_from_gallery(
            sketch,
            gallery,
            config,
            RetrievalConfig(edges=edges, embedding=str(model)),
            photo=photo,
            hints=hints,
            output=output,
            progress=display,
            notify=_warnings_to_stderr(common.quiet),
            should_stop=display.should_stop,
        )
    summary = made.summary
    if common.json:
        emit_json(summary)
    elif not common.quiet:
        stopped = "interrupted; " if made.interrupted else ""
        typer.echo(
            f"{stopped}wrote {output} ({summary['width']}×{summary['height']}, {summary['regions']} regions) "
            f"and {summary['sheet']} in {summary['wall_seconds']:.1f} s",
            err=True,
        )
    if made.interrupted:
        raise typer.Exit(130)


_E = EmbeddingConfig()


@app.command("train")
@common_options(
    quiet=QUIET,
    threads=typer.Option(
        None, "--threads", help="CPU threads for torch (default: torch's).", show_default=False, callback=option_threads
    ),
)
def train_cmd(
    pairs: Path = typer.Option(
        ..., "--pairs", help="Folder with photos/ and sketches/ (sketches/A/B-1.png pairs with photos/A/B.jpg)."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="The model file to write (.pt)."),
    epochs: int = typer.Option(_E.epochs, "--epochs", help="Passes over the drawings."),
    augmentations: int = typer.Option(
        _E.augmentations, "--augmentations", help="Redrawings of each drawing (strokes dropped, wobble, thickness)."
    ),
    dim: int = typer.Option(_E.dim, "--dim", help="Size of the embedding."),
    holdout: float = typer.Option(_E.holdout, "--holdout", help="Share of photo folders kept out to validate on."),
    resume: bool = typer.Option(False, "--resume", help="Carry on from OUTPUT.ckpt (left by a stopped run)."),
    *,
    common: Common,
) -> None:
    """Train a sketch-photo embedding on your own pairs; use it with search/colorize --model.

    Features of every photo and drawing come first (frozen VGG16), then the epochs; both are
    checkpointed to OUTPUT.ckpt, so Ctrl-C keeps the work and --resume carries on. The same seed
    gives the same model. Each epoch reports the loss and, with a holdout, Recall@1/10 of the
    held-out drawings.
    """
    import torch

    from neuroplay.common.outputs import check_output
    from neuroplay.common.runtime import resolve_device
    from neuroplay.vision.sketch.embedding_train import train_embedding

    config = EmbeddingConfig(epochs=epochs, augmentations=augmentations, dim=dim, holdout=holdout, seed=common.seed)
    check_output(output, [], suffixes=(".pt",))
    if common.threads:
        torch.set_num_threads(common.threads)
    bar_off = common.quiet or common.json
    with make_progress(disable=bar_off) as bar, stop_requests() as stop_requested:
        tasks: dict[str, int] = {}

        def progress(event) -> None:
            if event.stage not in tasks:
                tasks[event.stage] = bar.add_task(event.stage, total=event.total, status="")
            status = ""
            if event.loss is not None:
                status = f"loss {event.loss:.3f}" + "".join(f"  {k} {v:.2f}" for k, v in (event.recall or {}).items())
            bar.update(tasks[event.stage], completed=event.done, total=event.total, status=status)

        device = resolve_device(common.device)
        result = train_embedding(
            pairs, output, config, device=device, resume=resume, progress=progress, should_stop=stop_requested
        )
    last = result.history[-1] if result.history else {}
    summary = {
        "pairs": str(pairs),
        "photos": len(result.pairs.photos),
        "drawings": len(result.pairs.sketches),
        "unpaired_drawings": result.pairs.unpaired,
        "history": result.history,
        "seconds": round(result.seconds, 1),
        "output": None if result.interrupted else str(output),
        "checkpoint": str(result.checkpoint) if result.interrupted else None,
        "interrupted": result.interrupted,
    }
    if common.json:
        emit_json(summary)
    if result.interrupted:
        console().print(
            f"interrupted; checkpoint saved to {result.checkpoint}. Continue with: "
            f"neuroplay sketch train --pairs {pairs} -o {output} --resume",
            highlight=False,
            soft_wrap=True,  # one line, however long
        )
        raise typer.Exit(130)
    if not common.json and not common.quiet:
        scores = "".join(f", {k} {v:.3f}" for k, v in last.items() if k.startswith("holdout"))
        typer.echo(
            f"wrote {output}: {len(result.pairs.sketches)} drawings of {len(result.pairs.photos)} photos, "
            f"{len(result.history)} epochs, loss {last.get('loss', float('nan')):.3f}{scores}, {result.seconds:.0f} s"
        )
