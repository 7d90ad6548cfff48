"""The one-pixel line maps that sketch retrieval compares: of a drawing, and of a photo.

A drawing is binarised (ink is what is clearly darker than the paper) and thinned to its centre
lines (:func:`sketch_edges`); a photo is shrunk to the index's edge size and its edges found by
HED or Canny and thinned (:func:`photo_edges`, with :mod:`~neuroplay.vision.sketch.edges`). Both
give ``H×W`` bool maps, True on a line, that :mod:`~neuroplay.vision.sketch.descriptors` describes.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
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


def sketch_edges(sketch: np.ndarray | torch.Tensor, size: int = 256) -> np.ndarray:
    """The one-pixel lines of a drawing (``H×W`` bool, longer side ``size``).

    ``sketch`` is gray ``H×W`` (float in [0, 1] or uint8), RGB, or a tensor; dark lines on light
    paper (light lines on dark are inverted); or a bool ``H×W`` map that is True on the lines
    (an edge map). Ink is what is clearly darker than the paper; it is thinned to its centre
    lines. A blank page is a :class:`UserError`.
    """
    array = None if isinstance(sketch, torch.Tensor) else np.asarray(sketch)
    if array is not None and array.ndim == 2 and array.dtype == bool:
        gray = np.where(array, 0.0, 1.0).astype(np.float32)
    elif array is not None and array.ndim == 2:
        gray = array.astype(np.float32) / (255.0 if array.dtype == np.uint8 else 1.0)
    else:
        gray = _gray(sketch)
    if gray.ndim != 2 or min(gray.shape) < 8:
        raise UserError(f"a sketch must be a picture of at least 8×8 pixels, got shape {gray.shape}")
    scale = size / max(gray.shape)
    shape = (max(8, round(gray.shape[0] * scale)), max(8, round(gray.shape[1] * scale)))
    gray = np.asarray(Image.fromarray(gray.astype(np.float32)).resize(shape[::-1], Image.Resampling.BOX))
    if np.median(gray) < 0.5:  # light lines on a dark page
        gray = 1.0 - gray
    paper = float(np.median(gray))
    contrast = paper - float(gray.min())
    if contrast < 0.15:
        raise UserError("the sketch is blank: no lines darker than the paper")
    ink = gray < paper - 0.5 * contrast
    ink = remove_small(ink, 3)
    lines = skeletonize(ink)
    if lines.sum() < 5:
        raise UserError("the sketch is blank: too few lines to search with")
    return lines


def photo_edges(
    image: np.ndarray | torch.Tensor, config: RetrievalConfig, method: str, device: torch.device | str
) -> np.ndarray:
    """The one-pixel edge map of a photo, shrunk (never enlarged) to ``config.edge_size`` (longer side)."""
    tensor = as_image_tensor(image)
    height, width = tensor.shape[-2:]
    scale = min(1.0, config.edge_size / max(height, width))
    if scale < 1:
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        tensor = F.interpolate(tensor, size=size, mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)
    if method == "hed":
        return thin_edges(hed_edges(tensor, device))
    return canny_edges(tensor)
