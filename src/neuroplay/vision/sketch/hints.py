"""Colour hints: scribbles on a transparent layer over the drawing that say "this region, this colour".

A hints image is RGBA, the drawing's size: where it is opaque (alpha at least one half) it
holds a scribble's colour; where it is clear, nothing. :func:`read_hints` reads and checks one;
:func:`hint_colors` says which sketch region each scribble touches (only the scribble's pixels
off the strokes count, so a scribble that crosses an outline does not leak into the region on
its other side) and the colour it asks for; :func:`hinted_texture` recolours a part's style
image to that colour, keeping its shading, so the style transfer paints the hinted colour with
the photo's texture.

A hints image without an alpha channel, or fully transparent, is refused (a :class:`UserError`):
an opaque picture would cover every region in one go, and an empty layer is almost certainly the
wrong file; neither is what a user who asks for hints means.
"""

from __future__ import annotations

import os

import numpy as np
from skimage.color import lab2rgb, rgb2lab

from neuroplay.common.errors import UserError
from neuroplay.common.io import input_file
from neuroplay.vision.image import opened_image

OPAQUE = 0.5  # alpha from which a hint pixel counts
MIN_PIXELS = 3  # hint pixels a region needs to count as touched (a stray anti-aliased pixel does not)
TEXTURE_CHROMA = 0.3  # how much of the part's own colour variation a hinted texture keeps


def read_hints(hints: str | os.PathLike[str] | np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A hints image (a file or an ``H×W×4`` array, uint8 or floats in [0, 1]) -> ``H×W×4`` float
    in [0, 1], checked: it must be ``shape`` (the drawing's ``(height, width)``), have an alpha
    channel, and hold at least one opaque pixel. Anything else is a :class:`UserError`."""
    name = "the hints array"
    if isinstance(hints, np.ndarray):
        array = hints
    else:
        path = input_file(hints, "an image file", "hints image")
        name = str(path)
        with opened_image(path) as img:
            has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
            if not has_alpha:
                raise UserError(
                    f"{name} has no alpha channel: draw the colour scribbles on a transparent layer (RGBA PNG)"
                )
            array = np.asarray(img.convert("RGBA"))
    if array.ndim != 3 or array.shape[2] != 4:
        raise UserError(f"{name} has no alpha channel: expected H×W×4 (RGBA), got shape {array.shape}")
    if array.shape[:2] != tuple(shape):
        (h, w), (sh, sw) = array.shape[:2], shape
        raise UserError(f"{name} is {w}×{h} pixels but the drawing is {sw}×{sh}: draw the hints over the drawing")
    array = array / 255.0 if array.dtype == np.uint8 else np.asarray(array, dtype=np.float64)
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
        raise UserError(f"{name} must hold values in [0, 1] (floats) or 0..255 (uint8)")
    if not (array[..., 3] >= OPAQUE).any():
        raise UserError(f"{name} is fully transparent: it holds no colour scribble")
    return array.astype(np.float64)


def resize_hints(hints: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``hints`` (``H×W×4``) brought to ``shape`` by nearest neighbour (scribble colours stay pure)."""
    if hints.shape[:2] == tuple(shape):
        return hints
    height, width = shape
    rows = np.minimum((np.arange(height) + 0.5) * hints.shape[0] / height, hints.shape[0] - 1).astype(int)
    cols = np.minimum((np.arange(width) + 0.5) * hints.shape[1] / width, hints.shape[1] - 1).astype(int)
    return hints[np.ix_(rows, cols)]


def hint_colors(labels: np.ndarray, strokes: np.ndarray, hints: np.ndarray) -> dict[int, tuple[float, float, float]]:
    """``{region: rgb}`` for every region of ``labels`` (background 0 included) that a scribble
    of ``hints`` (same frame) touches with at least :data:`MIN_PIXELS` pixels off the strokes;
    the colour is the per-channel median of the scribble pixels on it (the dominant scribble's
    colour when two overlap one region)."""
    opaque = (hints[..., 3] >= OPAQUE) & ~strokes
    touched = labels[opaque]
    colours = hints[..., :3][opaque]
    out = {}
    for region in np.unique(touched):
        on = touched == region
        if on.sum() >= MIN_PIXELS:
            out[int(region)] = tuple(float(v) for v in np.median(colours[on], axis=0))
    return out


def hinted_texture(texture: np.ndarray, rgb: tuple[float, float, float]) -> np.ndarray:
    """The style image ``texture`` (``H×W×3`` in [0, 1]) moved to the colour ``rgb``: in CIELAB its
    mean becomes ``rgb``'s, its lightness keeps its variation, its chroma a part of it."""
    lab = rgb2lab(np.clip(texture, 0, 1))
    target = rgb2lab(np.asarray(rgb, dtype=np.float64).reshape(1, 1, 3))[0, 0]
    mean = lab.reshape(-1, 3).mean(axis=0)
    moved = lab - mean
    moved[..., 1:] *= TEXTURE_CHROMA
    moved += target
    moved[..., 0] = np.clip(moved[..., 0], 0, 100)
    return np.clip(lab2rgb(moved), 0, 1)


def hex_color(rgb: tuple[float, float, float]) -> str:
    """``#rrggbb`` of an RGB colour in [0, 1]."""
    return "#" + "".join(f"{round(min(max(v, 0.0), 1.0) * 255):02x}" for v in rgb)
