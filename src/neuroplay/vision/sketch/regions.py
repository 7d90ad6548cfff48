"""The closed regions of a line drawing: :func:`segment_sketch`.

Strokes are thickened by half the largest gap to bridge before the paper is split into connected
parts, so a region cannot leak out through a small break in its outline; the thickening is then
given back (every stroke and halo pixel joins its nearest region), so the regions tile the image.
Background is whatever connects to the image border, with two exceptions that keep a drawn
object out of it:

- the object's outline is closed a second time over wider gaps (``object_gap``), by a line from
  each stroke end to the nearest other stroke within reach: paper that this outline encloses
  but that leaked out to the border through a gap of the fine one is a region of its own, not
  background (people leave gaps where strokes should meet). Only ends are bridged, so two
  shapes drawn close side by side do not enclose the paper between them;
- paper that strokes fence off against one side of the frame (a bust cut off at the bottom: the
  suit's lines run into the frame and do not close) is a region, when the frame holds less than
  :data:`FRAME_SHARE` of its boundary; the part with most frame is background all the same.

Halo and stroke pixels inside the object never take the background's label, so an open stroke
inside a shape (a face's line, a fold) cannot cut a piece of it out into the background. The
result is a label map (:mod:`~neuroplay.vision.sketch.label_maps`): 0 background, 1..N regions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage
from scipy.spatial import cKDTree
from skimage.draw import line
from skimage.filters import threshold_otsu
from skimage.morphology import skeletonize

from neuroplay.common.errors import UserError
from neuroplay.vision.sketch.label_maps import Box, RegionProps, as_float_image, mask_box, region_table, relabel

FRAME_SHARE = 0.3  # most of the frame a region fenced off against one side may have on its boundary


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


def _fill_from_seeds(seeds: np.ndarray, strokes: np.ndarray, width: float, inside: np.ndarray) -> np.ndarray:
    """Give every unlabelled pixel (``seeds < 0``) a label so that the labels tile the image.

    Halo pixels take their nearest seed's label. A stroke pixel takes its nearest object label
    unless the background is clearly nearer (by more than a line width): outlines belong to the
    object they enclose, stray lines out in the background stay background. Within ``inside``
    (the object, closed over wide gaps) no unlabelled pixel takes the background.
    """
    if not (seeds >= 0).any():  # the page is all ink and halo: no paper to fill
        return np.zeros_like(seeds)
    _, index = ndimage.distance_transform_edt(seeds < 0, return_indices=True)
    labels = seeds[tuple(index)]
    object_seed = seeds > 0
    if object_seed.any() and (labels == 0).any():
        to_object, index = ndimage.distance_transform_edt(~object_seed, return_indices=True)
        to_background = ndimage.distance_transform_edt(seeds != 0)
        take = (labels == 0) & (seeds < 0) & ((strokes & (to_object <= to_background + width)) | inside)
        labels[take] = seeds[tuple(index)][take]
    return labels


def _walls(strokes: np.ndarray, gap: int) -> tuple[np.ndarray, np.ndarray]:
    """The paper's connected parts once strokes are thickened to bridge ``gap`` px, on the page
    padded with paper (so everything open to the border is one part): ``(parts, outside)``,
    ``parts`` 0 on walls, ``outside`` the part open to the border, both cropped to the page."""
    reach = (gap + 1) / 2
    pad = math.ceil(reach) + 1
    walls = ndimage.distance_transform_edt(~np.pad(strokes, pad)) <= reach
    parts, _ = ndimage.label(~walls)  # 4-connected, so walls touching at corners still hold
    outside = parts == parts[0, 0]
    return parts[pad:-pad, pad:-pad], outside[pad:-pad, pad:-pad]


def _bridge_ends(strokes: np.ndarray, gap: int, width: float) -> np.ndarray:
    """``strokes`` with a line drawn from every stroke end to the nearest other stroke end, or to
    the nearest pixel of another stroke, within ``gap`` px: a break in an outline is where a
    line stops short of another, while two shapes side by side (no end between them) stay apart."""
    skeleton = skeletonize(strokes)
    neighbours = ndimage.convolve(skeleton.astype(np.int32), np.ones((3, 3), dtype=np.int32), mode="constant")
    ends = np.argwhere(skeleton & (neighbours == 2))
    if gap <= 0 or not len(ends):
        return strokes
    pieces, _ = ndimage.label(strokes, structure=np.ones((3, 3)))
    points = np.argwhere(skeleton)
    tree, end_tree = cKDTree(points), cKDTree(ends)
    bridges = np.zeros_like(strokes)
    gap = gap + width  # between skeleton ends, which stop short of the ink's ends
    for i, j in end_tree.query_pairs(gap):
        bridges[line(*ends[i], *ends[j])] = True
    for end in ends:
        near = points[tree.query_ball_point(end, gap)]
        near = near[pieces[near[:, 0], near[:, 1]] != pieces[end[0], end[1]]]
        if len(near):
            target = near[np.argmin(((near - end) ** 2).sum(axis=1))]
            bridges[line(*end, *target)] = True
    if not bridges.any():
        return strokes
    return strokes | (ndimage.distance_transform_edt(~bridges) <= max(1.0, width / 2))


def _grow(mask: np.ndarray, reach: float) -> np.ndarray:
    """``mask`` and every pixel within ``reach`` of it."""
    return ndimage.distance_transform_edt(~mask) <= reach if mask.any() else mask


def _frame_fenced(parts: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """The outside split by the frame into the pieces strokes fence off (walls and frame all
    hold): a mask of those pieces that touch one side of the frame only, over less than
    :data:`FRAME_SHARE` of their boundary, and are not the piece with most frame."""
    pieces, count = ndimage.label(outside)
    if count < 2:
        return np.zeros_like(outside)
    walled = np.pad(~outside, 1, constant_values=True)
    edge = walled[:-2, 1:-1] | walled[2:, 1:-1] | walled[1:-1, :-2] | walled[1:-1, 2:]
    boundary = np.bincount(pieces[edge & outside], minlength=count + 1)
    sides = [pieces[0], pieces[-1], pieces[:, 0], pieces[:, -1]]
    on_frame = sum(np.bincount(side, minlength=count + 1) for side in sides)
    n_sides = sum((np.bincount(side, minlength=count + 1) > 0).astype(int) for side in sides)
    keep = (n_sides == 1) & (on_frame < FRAME_SHARE * np.maximum(boundary, 1))
    keep[np.argmax(np.where(np.arange(count + 1) > 0, on_frame, -1))] = False
    keep[0] = False
    return keep[pieces]


def segment_sketch(
    sketch: np.ndarray | torch.Tensor,
    *,
    max_gap: int | None = None,
    min_area: int | None = None,
    object_gap: int | None = None,
) -> SketchRegions:
    """Split a line drawing (dark strokes on light paper) into its closed regions.

    Gaps in the strokes of up to ``max_gap`` pixels are bridged (default: 4 px, or 1/64 of the
    longer side if more); the object's outline, against the background, over gaps of up to
    ``object_gap`` between a stroke's end and another stroke (default: twice ``max_gap``, or
    1/32 of the longer side if more); regions
    smaller than ``min_area`` pixels (default: 0.05 % of the image, at least 16) are dissolved
    into their neighbours. A blank page is a :class:`UserError`.
    """
    gray = _gray(as_float_image(sketch))
    height, width = gray.shape
    strokes = _binarise(gray)
    max_gap = max(4, round(max(height, width) / 64)) if max_gap is None else int(max_gap)
    min_area = max(16, round(0.0005 * height * width)) if min_area is None else int(min_area)
    object_gap = max(2 * max_gap, round(max(height, width) / 32)) if object_gap is None else int(object_gap)
    if max_gap < 0 or min_area < 0 or object_gap < 0:
        raise UserError("max_gap, min_area and object_gap must be >= 0")
    line_width = _stroke_width(strokes)

    # A pixel within `reach` of a stroke is a wall: a break of max_gap px is walled over.
    components, outside = _walls(strokes, max_gap)
    # The object against the background, over wider gaps: the outside of the wide walls, grown
    # back over their halo. Fine outside paper beyond that grown outside leaked in through a gap.
    wide_parts, wide_outside = _walls(_bridge_ends(strokes, object_gap, line_width), max_gap)
    far_outside = _grow(wide_outside, (max_gap + 1) / 2)
    fenced = _grow(_frame_fenced(wide_parts, wide_outside), (max_gap + 1) / 2)
    background = outside & far_outside & ~fenced
    enclosed = (components > 0) & ~background
    seeds, count = ndimage.label(enclosed)  # the fine regions, and the leaked-in paper, each a region
    seeds = np.where(background, 0, np.where(enclosed, seeds, -1)).astype(np.int32)
    inside = ~(far_outside & ~fenced)

    labels = _fill_from_seeds(seeds, strokes, line_width, inside)
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    tiny = np.flatnonzero(areas < min_area)
    tiny = tiny[tiny > 0]
    if len(tiny):
        seeds[np.isin(seeds, tiny)] = -1
        labels = _fill_from_seeds(seeds, strokes, line_width, inside)
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
