"""The sketch-colouring pipeline a user runs: a drawing and a gallery in, a coloured drawing out.

:func:`colorize_from_gallery` is what ``neuroplay sketch colorize`` calls, and what the studio
calls, so the two agree. Top to bottom it does:

1. refuse a bad output name, then a blank sketch or bad colour hints, before any work (indexing
   can take a while);
2. take the photo it was given, or index the gallery (cached: only new or changed photos cost
   time, :func:`~neuroplay.vision.sketch.search.index_gallery`) and retrieve the best photo;
3. colour the drawing from that photo (:func:`~neuroplay.vision.sketch.colorize.colorize`), the
   regions under a hint scribble in the hint's colour;
4. when an output is named, write the image, its contact sheet ``NAME_sheet.png`` and the
   sidecar ``NAME.json`` (every setting and number).

It reports progress through one callback (:class:`PipelineProgress`) and returns the result with
its numbers; it never prints and never exits.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from neuroplay.common.outputs import builtin_name, check_output, sidecar_path, write_sidecar
from neuroplay.common.runtime import Notify
from neuroplay.vision.image import from_array, load_image, save_image
from neuroplay.vision.sketch.colorize import ColorizeResult, colorize, settings
from neuroplay.vision.sketch.config import ColorizeConfig, RetrievalConfig
from neuroplay.vision.sketch.hints import hex_color, read_hints
from neuroplay.vision.sketch.index import gallery_root
from neuroplay.vision.sketch.label_maps import as_float_image
from neuroplay.vision.sketch.lines import read_sketch, sketch_edges
from neuroplay.vision.sketch.search import index_gallery
from neuroplay.vision.style import StyleStep

SIDECAR_KIND = "neuroplay-sketch-colorize"
SIDECAR_VERSION = 1


@dataclass(frozen=True)
class PipelineProgress:
    """One report from :func:`colorize_from_gallery`. ``stage``, in the order they come:

    - ``"index"``: ``done`` of ``total`` gallery photos looked at; ``status`` the one at hand;
    - ``"retrieved"``: the photo chosen; ``status`` its path, ``score`` its retrieval score;
    - ``"colorize"``: colouring starts (segmentation first); ``total`` the style-transfer
      iterations to come;
    - ``"style"``: ``done`` of ``total`` iterations made; ``step`` the last one's losses and size.
    """

    stage: str
    done: int = 0
    total: int | None = None
    status: str = ""
    score: float | None = None
    step: StyleStep | None = None


@dataclass
class GalleryColorizeResult:
    """What :func:`colorize_from_gallery` made.

    ``colorized`` holds the image (``1×3×H×W`` in [0, 1]), the contact sheet, the regions and
    their matches; ``photo`` is the photo coloured from (the one given, or ``retrieved``, with its
    ``retrieval_score``); ``summary`` the JSON-ready numbers (also in the sidecar); ``files`` the
    paths written (``output``, ``sheet``, ``sidecar``), empty when no output was named.
    """

    colorized: ColorizeResult
    photo: str
    retrieved: str | None
    retrieval_score: float | None
    summary: dict
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def image(self) -> torch.Tensor:
        """The coloured drawing, ``1×3×H×W`` in [0, 1]."""
        return self.colorized.image

    @property
    def interrupted(self) -> bool:
        """Whether the style transfer was stopped early (``should_stop``)."""
        return self.colorized.interrupted


def sheet_path(output: str | os.PathLike[str]) -> Path:
    """Where the contact sheet of ``output`` goes: ``NAME_sheet.png`` beside it."""
    output = Path(output)
    return output.with_name(f"{output.with_suffix('').name}_sheet.png")


def colorize_from_gallery(
    sketch: str | np.ndarray | torch.Tensor,
    gallery: str | os.PathLike[str] | None = None,
    config: ColorizeConfig | None = None,
    retrieval: RetrievalConfig | None = None,
    *,
    photo: str | os.PathLike[str] | None = None,
    hints: str | os.PathLike[str] | np.ndarray | None = None,
    output: str | os.PathLike[str] | None = None,
    progress: Callable[[PipelineProgress], None] | None = None,
    notify: Notify | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> GalleryColorizeResult:
    """Colour ``sketch`` from the photo of ``gallery`` that it depicts (or from ``photo``).

    ``sketch`` is ``demo:NAME`` (a built-in drawing), an image file, or an array/tensor (dark
    lines on light paper). ``gallery`` is a folder of photos, searched recursively (``None``: the
    built-in gallery); ``retrieval`` says how it is indexed and searched, ``config`` how the
    drawing is coloured (its ``seed`` and ``device`` serve both). ``output`` (.png or .jpg), when
    given, is checked first and then written with its contact sheet and sidecar. ``progress``
    receives :class:`PipelineProgress` reports; ``notify`` the warnings (skipped photos, the
    Canny fallback; else :class:`RuntimeWarning`); ``should_stop`` is polled after every
    style-transfer iteration, and the result of a stopped run (``interrupted``) is still written.
    ``hints`` (an RGBA image file or ``H×W×4`` array the drawing's size: colour scribbles on a
    transparent layer, :mod:`~neuroplay.vision.sketch.hints`) colours each region a scribble
    touches in its colour; the summary's ``hinted_regions`` lists them.
    Bad input (a blank sketch, an unreadable file, an empty gallery, hints of another size, with
    no alpha channel or fully transparent) is a :class:`UserError`.
    """
    started = time.perf_counter()
    config = config or ColorizeConfig()
    retrieval = retrieval or RetrievalConfig()
    report = progress or (lambda event: None)
    spec = sketch if isinstance(sketch, str) else None
    if output is not None:
        output = Path(output)
        inputs = [str(f) for f in (spec, photo, hints) if f is not None and not isinstance(f, np.ndarray)]
        check_output(output, inputs)

    drawing = read_sketch(spec) if spec is not None else sketch
    sketch_edges(drawing)  # a blank sketch is refused before any indexing
    hint_layer = None if hints is None else read_hints(hints, as_float_image(drawing).shape[:2])
    torch.manual_seed(config.seed)
    if photo is not None:
        picture, retrieved, score = load_image(photo), None, None
        source = str(photo)
    else:
        index = index_gallery(
            gallery_root(gallery),
            retrieval,
            device=config.device,
            notify=notify,
            progress=lambda done, total, name: report(PipelineProgress("index", done, total, name)),
        )
        hit = index.search(drawing, k=1)[0]
        retrieved, score = str(hit.path), float(hit.score)
        source = retrieved
        picture = load_image(hit.path)
        report(PipelineProgress("retrieved", status=retrieved, score=score))

    total = sum(n for _, n in config.style_config().schedule())
    report(PipelineProgress("colorize", 0, total))
    name = "sketch" if spec is None else spec if builtin_name(spec) is not None else Path(spec).name
    result = colorize(
        drawing,
        picture,
        config,
        callback=lambda step: report(PipelineProgress("style", step.iteration, total, step=step)),
        labels=(name, f"{Path(source).name} (retrieved)" if retrieved else Path(source).name),
        should_stop=should_stop,
        hints=hint_layer,
    )
    files: dict[str, Path] = {}
    if output is not None:
        files = {"output": output, "sheet": sheet_path(output), "sidecar": sidecar_path(output)}
        save_image(result.image, files["output"])
        save_image(from_array(result.contact_sheet), files["sheet"])
    height, width = result.image.shape[-2:]
    summary = {
        "sketch": spec,
        "retrieved": retrieved,
        "retrieval_score": score,
        "photo": source,
        "regions": result.regions,
        "matches": [
            {"sketch_region": int(m.sketch), "photo_part": int(m.photo), "cost": round(float(m.cost), 4)}
            for m in result.matches
        ],
        "hints": None if hints is None else "array" if isinstance(hints, np.ndarray) else str(hints),
        "hinted_regions": [
            {"sketch_region": int(region), "color": hex_color(rgb)} for region, rgb in sorted(result.hinted.items())
        ],
        "width": int(width),
        "height": int(height),
        "wall_seconds": time.perf_counter() - started,
        "timings": result.timings,
        "output": str(files["output"]) if files else None,
        "sheet": str(files["sheet"]) if files else None,
        "sidecar": str(files["sidecar"]) if files else None,
        "seed": config.seed,
        "interrupted": result.interrupted,
    }
    if output is not None:
        record = {**summary, "style_losses": result.style_losses, "config": settings(config)}
        write_sidecar(output, record, SIDECAR_KIND, SIDECAR_VERSION)
    return GalleryColorizeResult(result, source, retrieved, score, summary, files)
