"""Label maps, the common ground of sketch regions, photo parts, alignment and matching.

A label map is an ``int32`` array: 0 is background, 1..N the regions. A box is
``(top, left, bottom, right)`` in pixels, bottom and right exclusive. This room holds what every
algorithm on label maps shares: reading an image as floats (:func:`as_float_image`), the box of a
mask, renumbering labels, and the table of each region's properties (:class:`RegionProps`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from neuroplay.common.errors import UserError

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class RegionProps:
    """The properties of one labelled region of a label map: its label, pixel count, centroid
    ``(y, x)``, box, and mean RGB in [0, 1] (when the table was made with an image)."""

    label: int
    area: int
    centroid: tuple[float, float]
    bbox: Box
    mean_color: tuple[float, float, float] | None = None


def as_float_image(image: np.ndarray | torch.Tensor) -> np.ndarray:
    """An image as ``H×W`` (gray) or ``H×W×3`` float64 in [0, 1].

    Accepts NumPy arrays channels-last (uint8, bool, or float in [0, 1] or [0, 255]) and tensors
    channels-first (``1×C×H×W``, ``C×H×W`` or ``H×W``, values in [0, 1]); an alpha channel is
    composited over white.
    """
    if isinstance(image, torch.Tensor):
        tensor = image.detach().cpu().float()
        if tensor.ndim == 4:
            if tensor.shape[0] != 1:
                raise ValueError(f"expected a single image, got a batch of {tensor.shape[0]}")
            tensor = tensor[0]
        if tensor.ndim == 3:
            tensor = tensor.permute(1, 2, 0)
        array = tensor.numpy().astype(np.float64)
    else:
        array = np.asarray(image)
        if array.dtype == np.uint8:
            array = array / 255.0
        elif array.dtype == np.uint16:
            array = array / 65535.0
        else:
            array = array.astype(np.float64)
            if array.size and np.nanmax(array) > 2.0:  # 0–255 floats (a little over 1 is just noise)
                array = array / 255.0
    if array.ndim == 3 and array.shape[2] == 4:  # composite over white paper (drawing apps leave it clear)
        array = array[..., :3] * array[..., 3:] + (1.0 - array[..., 3:])
    if array.ndim == 3 and array.shape[2] in (1, 3):
        array = array[..., 0] if array.shape[2] == 1 else array
    if array.ndim not in (2, 3):
        raise ValueError(f"expected an H×W or H×W×3 image, got shape {array.shape}")
    if min(array.shape[:2]) < 8:
        raise UserError(f"image too small to segment: {array.shape[0]}×{array.shape[1]} (need at least 8×8)")
    if not np.isfinite(array).all():
        raise UserError("image has non-finite values")
    return np.clip(array, 0.0, 1.0)


def mask_box(mask: np.ndarray) -> Box | None:
    """The box around the true pixels of ``mask``, or None if there are none."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return None
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def region_table(labels: np.ndarray, image: np.ndarray | None = None) -> list[RegionProps]:
    """Area, centroid, box (and mean colour of ``image`` when given) of labels 1..max present."""
    count = int(labels.max(initial=0)) + 1
    flat = labels.ravel()
    area = np.bincount(flat, minlength=count)
    ys, xs = np.indices(labels.shape)
    cy = np.bincount(flat, ys.ravel(), minlength=count)
    cx = np.bincount(flat, xs.ravel(), minlength=count)
    colors = None
    if image is not None:
        rgb = image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
        colors = np.stack([np.bincount(flat, rgb[..., c].ravel(), minlength=count) for c in range(3)], axis=1)
    slices = ndimage.find_objects(labels)
    regions = []
    for label in range(1, count):
        if area[label] == 0:
            continue
        sy, sx = slices[label - 1]
        color = tuple(float(v) for v in colors[label] / area[label]) if colors is not None else None
        regions.append(
            RegionProps(
                label=label,
                area=int(area[label]),
                centroid=(float(cy[label] / area[label]), float(cx[label] / area[label])),
                bbox=(sy.start, sx.start, sy.stop, sx.stop),
                mean_color=color,
            )
        )
    return regions


def relabel(labels: np.ndarray) -> np.ndarray:
    """Renumber labels > 0 to 1..N keeping their order; 0 stays 0."""
    ids = np.unique(labels[labels > 0])
    lut = np.zeros(int(labels.max(initial=0)) + 1, dtype=np.int32)
    lut[ids] = np.arange(1, len(ids) + 1, dtype=np.int32)
    return lut[labels]
