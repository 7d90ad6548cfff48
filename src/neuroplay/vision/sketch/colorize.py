"""Colour a line drawing from a photo: regions → matches → ONE regional style transfer.

Top to bottom, :func:`colorize` does:

1. split the drawing into closed regions (:func:`regions.segment_sketch`);
2. fit the drawing onto the photo (:func:`alignment.align`), cut the photo's object out of its
   background seeded by the drawing's silhouette, and split the object into colour parts
   (:func:`photo_parts.segment_photo`);
3. line the two up on their objects and match every sketch region to a photo part
   (:func:`match.match_regions`; background to background);
4. build the content image: each sketch region filled with its part's mean colour, or with the
   colour of the hint scribbled on it (:mod:`hints`), the strokes on top (so the layout is the
   drawing's and the palette the photo's, or the user's);
5. cut one style image per matched part out of the photo (the part's box, with the pixels that
   belong to other parts replaced by the part's own nearest pixels, so its texture is pure); a
   hinted region gets its own, its part's texture moved to the hinted colour;
6. run one regional style transfer (:func:`neuroplay.vision.style.stylize` with one
   :class:`~neuroplay.vision.style.Region` per sketch region), starting from the content image;
7. draw the strokes back on top, and compose a contact sheet of every step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from PIL import Image, ImageDraw
from scipy import ndimage

from neuroplay.common.errors import UserError
from neuroplay.vision.image import from_array, resize, scaled_size
from neuroplay.vision.sketch.alignment import align
from neuroplay.vision.sketch.config import ColorizeConfig
from neuroplay.vision.sketch.hints import hint_colors, hinted_texture, read_hints, resize_hints
from neuroplay.vision.sketch.label_maps import as_float_image, mask_box
from neuroplay.vision.sketch.match import Match, draw_matches, label_overlay, match_regions
from neuroplay.vision.sketch.photo_parts import PhotoRegions, segment_photo
from neuroplay.vision.sketch.regions import SketchRegions, segment_sketch
from neuroplay.vision.style import Region, StyleStep, stylize


@dataclass
class ColorizeResult:
    """The coloured drawing (``1×3×H×W`` in [0, 1]), what it was made from, and the contact sheet."""

    image: torch.Tensor
    sketch: SketchRegions
    photo: PhotoRegions
    matches: list[Match]
    content: torch.Tensor  # the flat-coloured drawing the transfer started from
    contact_sheet: np.ndarray  # H×W×3 uint8
    timings: dict[str, float] = field(default_factory=dict)
    style_losses: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False  # the style transfer was stopped early (Ctrl-C)
    hinted: dict[int, tuple[float, float, float]] = field(default_factory=dict)  # region -> hinted RGB

    @property
    def regions(self) -> int:
        """Closed regions of the drawing (the background not counted)."""
        return self.sketch.n_regions


def _rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image


def _resize_array(image: np.ndarray, longest: int) -> np.ndarray:
    h, w = scaled_size(image.shape[0], image.shape[1], longest)
    pil = Image.fromarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8))
    return np.asarray(pil.resize((w, h), Image.Resampling.LANCZOS)).astype(np.float64) / 255.0


def part_texture(photo: np.ndarray, labels: np.ndarray, part: int, longest: int) -> np.ndarray:
    """The photo cut to ``part``'s box, with every pixel of another part replaced by the nearest
    pixel of this one (so the style image holds only this part's texture), at ``longest`` px."""
    inside = labels == part
    box = mask_box(inside)
    if box is None:
        raise ValueError(f"part {part} is empty")
    top, left, bottom, right = box
    crop, mask = photo[top:bottom, left:right], inside[top:bottom, left:right]
    if not mask.all():
        _, (iy, ix) = ndimage.distance_transform_edt(~mask, return_indices=True)
        crop = crop[iy, ix]
    if max(crop.shape[:2]) < 32:  # a sliver: tile it up so the network sees some texture
        reps = (int(np.ceil(32 / crop.shape[0])), int(np.ceil(32 / crop.shape[1])), 1)
        crop = np.tile(crop, reps)
    return _resize_array(crop, min(longest, max(64, max(crop.shape[:2]))))


def _alpha_of_strokes(page: np.ndarray) -> np.ndarray:
    """How much ink each pixel holds, from the gray drawing (1 = full stroke)."""
    gray = page if page.ndim == 2 else page.mean(axis=2)
    paper, ink = np.percentile(gray, 90), np.percentile(gray, 0.5)
    if paper - ink < 1e-3:
        return np.zeros_like(gray)
    return np.clip((paper - gray) / (paper - ink), 0.0, 1.0)


def colorize(
    sketch: np.ndarray | torch.Tensor,
    photo: np.ndarray | torch.Tensor,
    config: ColorizeConfig | None = None,
    callback: Callable[[StyleStep], None] | None = None,
    labels: tuple[str, str] = ("sketch", "photo"),
    should_stop: Callable[[], bool] | None = None,
    hints: np.ndarray | str | None = None,
) -> ColorizeResult:
    """Colour ``sketch`` (a line drawing) with the colours and textures of ``photo``.

    Both may be NumPy arrays (H×W or H×W×3) or ``1×3×H×W`` tensors in [0, 1]. ``callback``
    receives the style transfer's progress. ``labels`` name the two inputs on the contact sheet.
    ``should_stop`` is polled after every iteration; when it returns True the transfer ends
    there and the result (``interrupted=True``) holds the image reached so far. ``hints`` (an
    RGBA image file or ``H×W×4`` array the size of ``sketch``, see :mod:`hints`) colours every
    region a scribble touches with that scribble's colour (``hinted`` lists them); the other
    regions keep the photo's colours.
    """
    config = config or ColorizeConfig()
    t0 = time.perf_counter()
    page = as_float_image(sketch)
    hints = None if hints is None else read_hints(hints, page.shape[:2])
    page = _resize_array(page, config.size)
    page = page if page.ndim == 2 else page.mean(axis=2)
    picture = _rgb(as_float_image(photo))
    picture = _resize_array(picture, config.size)

    # 1–3: regions of both, lined up, matched
    regions = segment_sketch(page)
    if regions.n_regions == 0:
        raise UserError("the sketch has no closed region to colour (close the outlines, or draw bolder lines)")
    guess = align(regions, picture.shape)
    parts = segment_photo(picture, prior=guess.warp(regions.silhouette, picture.shape), n_parts=config.parts)
    fit = align(regions, picture.shape, parts.foreground)
    matches = match_regions(fit.warp(regions.labels, picture.shape), parts.labels)
    hinted = {} if hints is None else hint_colors(regions.labels, regions.strokes, resize_hints(hints, page.shape))
    t_segment = time.perf_counter() - t0

    # 4: the flat-coloured drawing
    colours = {0: np.asarray(parts.background_color)}
    colours.update({p.label: np.asarray(p.mean_color) for p in parts.parts})
    lut = np.zeros((int(regions.labels.max()) + 1, 3))
    for m in matches:
        lut[m.sketch] = hinted.get(m.sketch, colours.get(m.photo, colours[0]))
    ink = _alpha_of_strokes(page)[..., None]
    flat = lut[regions.labels] * (1 - ink)  # strokes in black over the colours
    content = from_array(flat.astype(np.float32))

    # 5–6: one style per matched part, one region per sketch region, one optimisation
    used = sorted({m.photo for m in matches if m.sketch not in hinted})
    textures = [part_texture(picture, parts.labels, p, config.style_size) for p in used]
    index = {("part", p): i for i, p in enumerate(used)}
    for m in matches:
        if m.sketch in hinted:  # its own style: its part's texture in the hinted colour
            index["hint", m.sketch] = len(textures)
            textures.append(
                hinted_texture(part_texture(picture, parts.labels, m.photo, config.style_size), hinted[m.sketch])
            )
    styles = [from_array(t.astype(np.float32)) for t in textures]
    style_regions = [
        Region(
            torch.from_numpy((regions.labels == m.sketch).astype(np.float32)),
            index["hint", m.sketch] if m.sketch in hinted else index["part", m.photo],
        )
        for m in matches
    ]
    t1 = time.perf_counter()
    result = stylize(
        content, styles, config.style_config(), regions=style_regions, init_image=content, callback=callback,
        should_stop=should_stop,
    )  # fmt: skip
    t_style = time.perf_counter() - t1

    # 7: strokes back on top, and the contact sheet
    out = result.image
    ink_t = torch.from_numpy(ink[..., 0].astype(np.float32))[None, None]
    ink_t = resize(ink_t.expand(1, 3, -1, -1), tuple(out.shape[-2:]))[:, :1]
    out = (out * (1 - ink_t)).clamp(0, 1)
    sheet = contact_sheet(page, picture, regions, parts, matches, fit, out, labels, content=content, hinted=len(hinted))
    return ColorizeResult(
        image=out,
        sketch=regions,
        photo=parts,
        matches=matches,
        content=content,
        contact_sheet=sheet,
        timings={
            "segment_and_match": round(t_segment, 3),
            "style_transfer": round(t_style, 3),
            "total": round(time.perf_counter() - t0, 3),
        },
        style_losses={"content_loss": result.content_loss, "style_loss": result.style_loss},
        interrupted=result.interrupted,
        hinted=hinted,
    )


def contact_sheet(
    page, picture, regions, parts, matches, fit, output, labels=("sketch", "photo"), height=256, content=None, hinted=0
):
    """One PNG-ready picture of every step, in two rows of equal width: sketch, photo and both
    segmentations; their matches (two panels), the flat colours the transfer started from
    (``content``, with ``hinted`` regions in the hints' colours), and the result."""

    def fit_height(array: np.ndarray) -> np.ndarray:
        a = _rgb(as_float_image(array))
        w = max(1, round(a.shape[1] * height / a.shape[0]))
        pil = Image.fromarray((a * 255).round().astype(np.uint8)).resize((w, height), Image.Resampling.LANCZOS)
        return np.asarray(pil)

    result = output[0].permute(1, 2, 0).numpy()
    sketch_seg = label_overlay(regions.labels, page, drawing=True)
    photo_seg = label_overlay(parts.labels, picture)
    pairs = draw_matches(
        fit.warp(regions.labels, picture.shape), parts.labels, matches, photo_image=picture, height=height
    )
    start = result if content is None else content[0].permute(1, 2, 0).numpy()
    tiles = [
        (f"{labels[0]}", fit_height(page)),
        (labels[1], fit_height(picture)),
        (f"sketch regions ({regions.n_regions})", fit_height(sketch_seg)),
        (f"photo parts ({parts.n_parts})", fit_height(photo_seg)),
        ("matches (sketch aligned -> photo)", pairs),
        (f"flat colours ({hinted} hinted)" if hinted else "flat colours", fit_height(start)),
        ("result", fit_height(result)),
    ]
    caption, gap = 22, 10
    rows = [tiles[:4], tiles[4:]]
    widths = [sum(t.shape[1] for _, t in row) + gap * (len(row) - 1) for row in rows]
    sheet = Image.new("RGB", (max(widths) + 2 * gap, 2 * (height + caption) + 3 * gap), "white")
    draw = ImageDraw.Draw(sheet)
    y = gap
    for row in rows:
        x = gap
        for text, tile in row:
            draw.text((x, y), text, fill=(20, 20, 20))
            sheet.paste(Image.fromarray(tile), (x, y + caption))
            x += tile.shape[1] + gap
        y += height + caption + gap
    return np.asarray(sheet)


def settings(config: ColorizeConfig) -> dict:
    """Every setting, JSON-ready (for the sidecar)."""
    out = asdict(config)
    out["style"] = config.style_config().as_dict()
    return out
