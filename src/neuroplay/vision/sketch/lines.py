"""The one-pixel line maps that sketch retrieval compares: of a drawing, and of a photo.

A drawing's ink is found against its local paper (:func:`ink_mask`: pencil on grey or uneven
paper, coloured ink, photos of drawings), cropped to the drawing, shrunk without losing 1-pixel
lines and thinned to its centre lines (:func:`sketch_edges`); a photo is shrunk to the index's
edge size and its edges found by HED or Canny and thinned (:func:`photo_edges`, with
:mod:`~neuroplay.vision.sketch.edges`). Both give ``H×W`` bool maps, True on a line, that
:mod:`~neuroplay.vision.sketch.descriptors` describes.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy import ndimage
from skimage.morphology import skeletonize

from neuroplay.common.errors import UserError
from neuroplay.common.outputs import builtin_name
from neuroplay.vision.sketch.config import RetrievalConfig
from neuroplay.vision.sketch.edges import as_image_tensor, canny_edges, hed_edges, remove_small, thin_edges


def _gray(image: np.ndarray | torch.Tensor) -> np.ndarray:
    rgb = as_image_tensor(image)[0].numpy()
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def load_sketch(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a sketch file as ``H×W`` float gray in [0, 1]; unreadable files are a :class:`UserError`."""
    from neuroplay.vision.image import load_image

    return _gray(load_image(path))


def read_sketch(spec: str) -> np.ndarray:
    """The sketch a user names: ``demo:NAME`` (a built-in drawing) or an image file -> ``H×W`` float
    gray in [0, 1]; an unknown name or an unreadable file is a :class:`UserError`."""
    from neuroplay.vision.sketch.drawing import sample_sketch

    name = builtin_name(spec)
    if name is not None:
        return sample_sketch(name).astype(np.float32) / 255.0
    return load_sketch(spec)


def ink_mask(sketch: np.ndarray | torch.Tensor) -> np.ndarray:
    """Where a drawing has ink, at its own resolution (``H×W`` bool).

    Ink is what is clearly darker than the paper *around it*, in any colour channel: the paper
    is estimated locally (a grey closing removes the lines, a blur smooths what is left), so
    pencil on grey or unevenly lit paper, coloured ink and photos of drawings read like pen on
    white. Light lines on a dark page are inverted first. A blank page is a :class:`UserError`.
    """
    array = None if isinstance(sketch, torch.Tensor) else np.asarray(sketch)
    if array is not None and array.ndim == 2 and array.dtype == bool:
        return array.copy()
    if array is not None and array.ndim == 2:
        image = (array.astype(np.float32) / (255.0 if array.dtype == np.uint8 else 1.0))[None]
    else:
        image = as_image_tensor(sketch)[0].numpy()  # 3×H×W in [0, 1]
    if image.shape[1] < 8 or image.shape[2] < 8:
        raise UserError(f"a sketch must be a picture of at least 8×8 pixels, got shape {image.shape[1:]}")
    if np.median(image.mean(axis=0)) < 0.5:  # light lines on a dark page
        image = 1.0 - image
    # the paper, line-free: found at about 256 px on the shorter side (fast), closed over ~2% of
    # the page (wider than any line), smoothed, brought back to full size
    step = max(1, min(image.shape[1:]) // 256)
    small = image[:, ::step, ::step]
    width = max(3, round(0.02 * max(small.shape[1:])))
    paper = np.stack([ndimage.gaussian_filter(ndimage.grey_closing(c, size=(width, width)), width) for c in small])
    if step > 1:
        paper = np.stack(
            [np.asarray(Image.fromarray(c).resize(image.shape[:0:-1], Image.Resampling.BILINEAR)) for c in paper]
        )
    drop = (paper - image).max(axis=0)  # how much darker than its paper, in the darkest channel
    marked = drop[drop > 0.05]
    contrast = float(np.percentile(marked, 95)) if marked.size >= 5 else 0.0
    if contrast < 0.15:
        raise UserError("the sketch is blank: no lines darker than the paper")
    return drop > 0.5 * contrast


def sketch_edges(sketch: np.ndarray | torch.Tensor, size: int = 256) -> np.ndarray:
    """The one-pixel lines of a drawing (``H×W`` bool, the drawing's box with a margin, longer side ``size``).

    ``sketch`` is gray ``H×W`` (float in [0, 1] or uint8), RGB, or a tensor, or a bool ``H×W`` map
    that is True on the lines. The ink (:func:`ink_mask`) is found at full resolution, cropped to
    its box (a small drawing on a large page keeps its detail), shrunk so that any ink in a block
    marks it (a 1-pixel pen line stays whole), and thinned to its centre lines. A blank page is a
    :class:`UserError`.
    """
    ink = remove_small(ink_mask(sketch), 3)
    ys, xs = np.nonzero(ink)
    if len(ys) < 5:
        raise UserError("the sketch is blank: too few lines to search with")
    margin = max(2, round(0.05 * max(np.ptp(ys), np.ptp(xs))))
    y0, x0 = max(0, ys.min() - margin), max(0, xs.min() - margin)
    crop = ink[y0 : ys.max() + margin + 1, x0 : xs.max() + margin + 1]
    scale = size / max(crop.shape)
    shape = (max(8, round(crop.shape[0] * scale)), max(8, round(crop.shape[1] * scale)))
    covered = np.asarray(Image.fromarray(crop.astype(np.float32)).resize(shape[::-1], Image.Resampling.BOX))
    lines = skeletonize(covered > (0.5 if scale >= 1 else 0.04))
    if lines.sum() < 5:
        raise UserError("the sketch is blank: too few lines to search with")
    return lines


def photo_edges(
    image: np.ndarray | torch.Tensor,
    config: RetrievalConfig,
    method: str,
    device: torch.device | str,
    precision: str = "fp32",
) -> np.ndarray:
    """The one-pixel edge map of a photo, shrunk (never enlarged) to ``config.edge_size`` (longer
    side); HED runs in ``precision`` (``fp32`` or ``bf16``)."""
    tensor = as_image_tensor(image)
    height, width = tensor.shape[-2:]
    scale = min(1.0, config.edge_size / max(height, width))
    if scale < 1:
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        tensor = F.interpolate(tensor, size=size, mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)
    if method == "hed":
        return thin_edges(hed_edges(tensor, device, precision))
    return canny_edges(tensor)
