"""The closed regions of a line drawing: :func:`segment_sketch`.

Strokes are thickened by half the largest gap to bridge before the paper is split into connected
parts, so a region cannot leak out through a small break in its outline; the thickening is then
given back (every stroke and halo pixel joins its nearest region), so the regions tile the image.
Background is whatever connects to the image border. The result is a label map
(:mod:`~neuroplay.vision.sketch.label_maps`): 0 background, 1..N the closed regions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage
from skimage.filters import threshold_otsu
from skimage.morphology import skeletonize

from neuroplay.common.errors import UserError
from neuroplay.vision.sketch.label_maps import Box, RegionProps, as_float_image, mask_box, region_table, relabel


@dataclass(frozen=True, eq=False)
class SketchRegions:
    """A segmented line drawing.

    ``labels`` (H×W int32) tiles the image: 0 background, 1..N closed regions in raster order;
    ``strokes`` the binarised lines; ``silhouette`` the object (``labels > 0``); ``box`` the
    silhouette's box (the strokes' box when nothing is closed); ``stroke_width`` in pixels.
    """

    labels: np.ndarray
    strokes: np.ndarray
    silhouette: np.ndarray
    box: Box
    regions: list[RegionProps]
    stroke_width: float

    @property
    def n_regions(self) -> int:
        return len(self.regions)

    @property
    def shape(self) -> tuple[int, int]:
        return self.labels.shape


def _gray(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else image @ np.array([0.299, 0.587, 0.114])


def _binarise(gray: np.ndarray) -> np.ndarray:
    """Stroke mask: the darker Otsu class, or the lighter one if the dark class is most of the page."""
    if gray.max() - gray.min() < 0.1:
        raise UserError("the sketch is blank: no strokes found")
    threshold = threshold_otsu(gray)
    strokes = gray < threshold
    if strokes.mean() > 0.5:  # light lines on dark paper
        strokes = gray > threshold
    specks, n = ndimage.label(strokes, structure=np.ones((3, 3)))
    sizes = np.bincount(specks.ravel(), minlength=n + 1)
    strokes &= (sizes >= 4)[specks]  # single-pixel noise would only add halos
    if not strokes.any():
        raise UserError("the sketch is blank: no strokes found")
    return strokes


def _stroke_width(strokes: np.ndarray) -> float:
    """Typical line width: twice the distance from the skeleton to the line's edge, less one."""
    skeleton = skeletonize(strokes)
    depth = ndimage.distance_transform_edt(strokes)[skeleton]
    return float(max(1.0, 2.0 * np.median(depth) - 1.0)) if depth.size else 1.0


def _fill_from_seeds(seeds: np.ndarray, strokes: np.ndarray, width: float) -> np.ndarray:
    """Give every unlabelled pixel (``seeds < 0``) a label so that the labels tile the image.

    Halo pixels take their nearest seed's label. A stroke pixel takes its nearest object label
    unless the background is clearly nearer (by more than a line width): outlines belong to the
    object they enclose, stray lines out in the background stay background.
    """
    if not (seeds >= 0).any():  # the page is all ink and halo: no paper to fill
        return np.zeros_like(seeds)
    _, index = ndimage.distance_transform_edt(seeds < 0, return_indices=True)
    labels = seeds[tuple(index)]
    object_seed = seeds > 0
    if object_seed.any() and (labels == 0).any():
        to_object, index = ndimage.distance_transform_edt(~object_seed, return_indices=True)
        to_background = ndimage.distance_transform_edt(seeds != 0)
        take = strokes & (labels == 0) & (to_object <= to_background + width)
        labels[take] = seeds[tuple(index)][take]
    return labels


def segment_sketch(
    sketch: np.ndarray | torch.Tensor,
    *,
    max_gap: int | None = None,
    min_area: int | None = None,
) -> SketchRegions:
    """Split a line drawing (dark strokes on light paper) into its closed regions.

    Gaps in the strokes of up to ``max_gap`` pixels are bridged (default: 4 px, or 1/64 of the
    longer side if more); regions smaller than ``min_area`` pixels (default: 0.05 % of the image,
    at least 16) are dissolved into their neighbours. A blank page is a :class:`UserError`.
    """
    gray = _gray(as_float_image(sketch))
    height, width = gray.shape
    strokes = _binarise(gray)
    max_gap = max(4, round(max(height, width) / 64)) if max_gap is None else int(max_gap)
    min_area = max(16, round(0.0005 * height * width)) if min_area is None else int(min_area)
    if max_gap < 0 or min_area < 0:
        raise UserError("max_gap and min_area must be >= 0")
    line_width = _stroke_width(strokes)

    # A pixel within `reach` of a stroke is a wall: a break of max_gap px is walled over. The page
    # is padded with paper so that everything open to the border joins one outside component.
    reach = (max_gap + 1) / 2
    pad = math.ceil(reach) + 1
    walls = ndimage.distance_transform_edt(~np.pad(strokes, pad)) <= reach
    components, count = ndimage.label(~walls)  # 4-connected, so walls touching at corners still hold
    outside = components[0, 0]
    components = components[pad:-pad, pad:-pad]
    inside_ids = np.unique(components[(components > 0) & (components != outside)])
    lut = np.full(count + 1, -1, dtype=np.int32)
    lut[outside] = 0
    lut[inside_ids] = np.arange(1, len(inside_ids) + 1, dtype=np.int32)
    seeds = lut[components]

    labels = _fill_from_seeds(seeds, strokes, line_width)
    areas = np.bincount(labels.ravel(), minlength=len(inside_ids) + 1)
    tiny = np.flatnonzero(areas < min_area)
    tiny = tiny[tiny > 0]
    if len(tiny):
        seeds[np.isin(seeds, tiny)] = -1
        labels = _fill_from_seeds(seeds, strokes, line_width)
    labels = relabel(labels)

    silhouette = labels > 0
    box = mask_box(silhouette) or mask_box(strokes)
    return SketchRegions(
        labels=labels,
        strokes=strokes,
        silhouette=silhouette,
        box=box,
        regions=region_table(labels),
        stroke_width=line_width,
    )
