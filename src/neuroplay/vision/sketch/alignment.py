"""The transform that lays a line drawing over a photo: :func:`align` and :class:`Alignment`.

Scale, shift and optional mirror that carry the sketch's object box onto the photo's, refined on
the overlap of the two silhouettes; :class:`Alignment` warps label maps from one frame to the
other. Typical use, with a drawing ``page`` and a photo ``picture`` (H×W×3 arrays)::

    sketch = segment_sketch(page)  # (regions.py)
    guess = align(sketch, picture.shape)  # the page fitted into the photo
    photo = segment_photo(picture, prior=guess.warp(sketch.silhouette, picture.shape))  # (photo_parts.py)
    fit = align(sketch, picture.shape, photo.foreground)  # object box onto object box
    matches = match_regions(fit.warp(sketch.labels, picture.shape), photo.labels)  # (match.py)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from neuroplay.vision.sketch.label_maps import Box, mask_box
from neuroplay.vision.sketch.regions import SketchRegions


@dataclass(frozen=True)
class Alignment:
    """An axis-aligned map from sketch to photo pixels: ``y' = sy*y + ty``, ``x' = sx*x + tx``.

    Coordinates are continuous (pixel ``(i, j)`` spans ``[i, i+1) × [j, j+1)``, centre
    ``(i + .5, j + .5)``); ``sx < 0`` mirrors left-right. ``iou`` is the overlap of the warped
    sketch silhouette with the photo's object mask when :func:`align` had one to compare with.
    """

    sy: float
    sx: float
    ty: float
    tx: float
    iou: float | None = None

    @property
    def flipped(self) -> bool:
        return self.sx < 0

    @property
    def scale(self) -> float:
        """Geometric mean of the two axis scales (they are equal for a similarity)."""
        return math.sqrt(abs(self.sy * self.sx))

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Map ``N×2`` points ``(y, x)`` from the sketch frame to the photo frame."""
        points = np.asarray(points, dtype=np.float64)
        return np.stack([self.sy * points[..., 0] + self.ty, self.sx * points[..., 1] + self.tx], axis=-1)

    def inverse(self) -> Alignment:
        """The map from the photo frame back to the sketch frame."""
        return Alignment(1 / self.sy, 1 / self.sx, -self.ty / self.sy, -self.tx / self.sx, self.iou)

    def map_box(self, box: Box) -> Box:
        """The box covering ``box`` once mapped (rounded outwards)."""
        (y0, x0), (y1, x1) = self.apply(np.array([[box[0], box[1]], [box[2], box[3]]], dtype=np.float64))
        return math.floor(min(y0, y1)), math.floor(min(x0, x1)), math.ceil(max(y0, y1)), math.ceil(max(x0, x1))

    def warp(self, array: np.ndarray, shape: tuple[int, ...], fill: int | float = 0) -> np.ndarray:
        """Resample ``array`` (H×W or H×W×C, sketch frame) into a ``shape`` canvas of the photo frame.

        Nearest neighbour, so label maps stay label maps; pixels mapped from outside get ``fill``.
        Use ``alignment.inverse().warp(...)`` for the other direction.
        """
        array = np.asarray(array)
        height, width = int(shape[0]), int(shape[1])
        back = self.inverse()
        rows = np.floor(back.sy * (np.arange(height) + 0.5) + back.ty).astype(np.int64)
        cols = np.floor(back.sx * (np.arange(width) + 0.5) + back.tx).astype(np.int64)
        row_ok = (rows >= 0) & (rows < array.shape[0])
        col_ok = (cols >= 0) & (cols < array.shape[1])
        out = np.full((height, width) + array.shape[2:], fill, dtype=array.dtype)
        out[np.ix_(row_ok, col_ok)] = array[np.ix_(rows[row_ok], cols[col_ok])]
        return out


def _fit_box(src: Box, dst: Box, uniform: bool, flip: bool, contain: bool = False) -> Alignment:
    """The map carrying the centre of ``src`` to the centre of ``dst`` with ``src`` scaled to ``dst``."""
    sy = (dst[2] - dst[0]) / max(src[2] - src[0], 1)
    sx = (dst[3] - dst[1]) / max(src[3] - src[1], 1)
    if uniform:
        sy = sx = min(sy, sx) if contain else math.sqrt(sy * sx)
    if flip:
        sx = -sx
    cy, cx = (src[0] + src[2]) / 2, (src[1] + src[3]) / 2
    dy, dx = (dst[0] + dst[2]) / 2, (dst[1] + dst[3]) / 2
    return Alignment(sy, sx, dy - sy * cy, dx - sx * cx)


def align(
    sketch: SketchRegions,
    photo_shape: tuple[int, ...],
    photo_fg: np.ndarray | None = None,
    *,
    uniform: bool = True,
    allow_flip: bool = True,
    refine: bool = True,
) -> Alignment:
    """The map that lays ``sketch`` over a photo of ``photo_shape`` (H, W[, C]).

    Without ``photo_fg`` (the photo's object mask) the whole sketch page is fitted inside the
    photo, centred: the guess to seed :func:`segment_photo` with. With it, the sketch's object box
    is carried onto the mask's box (``uniform``: one scale, the geometric mean of the two box
    ratios; otherwise each axis its own), mirrored too if that overlaps better (``allow_flip``), and
    then, with ``refine``, nudged in scale and position while the silhouettes' IoU improves.
    """
    height, width = int(photo_shape[0]), int(photo_shape[1])
    page = (0, 0, sketch.shape[0], sketch.shape[1])
    frame_fit = _fit_box(page, (0, 0, height, width), uniform, flip=False, contain=True)
    if photo_fg is None:
        return frame_fit
    photo_fg = np.asarray(photo_fg, dtype=bool)
    if photo_fg.shape != (height, width):
        raise ValueError(f"photo_fg has shape {photo_fg.shape}, expected {(height, width)}")
    target_box = mask_box(photo_fg)
    if target_box is None:
        return frame_fit

    # Score overlaps on a coarse grid (longer side ~160 px): plenty for placing a box.
    step = max(1, max(height, width) // 160)
    coarse_fg = photo_fg[step // 2 :: step, step // 2 :: step]
    silhouette = sketch.silhouette if sketch.silhouette.any() else sketch.strokes

    def iou(a: Alignment) -> float:
        # coarse pixel k is full pixel step//2 + k*step: full = step * (coarse - .5) + step//2 + .5
        offset = step // 2 + 0.5
        shrunk = Alignment(a.sy / step, a.sx / step, (a.ty - offset) / step + 0.5, (a.tx - offset) / step + 0.5)
        warped = shrunk.warp(silhouette, coarse_fg.shape, fill=False)
        union = np.count_nonzero(warped | coarse_fg)
        return np.count_nonzero(warped & coarse_fg) / union if union else 0.0

    size = max(target_box[2] - target_box[0], target_box[3] - target_box[1])
    plain = _climb(_fit_box(sketch.box, target_box, uniform, flip=False), iou, size, uniform, target_box, refine)
    if allow_flip:  # a mirror image must be clearly better: a drawing usually faces the photo's way
        mirrored = _climb(_fit_box(sketch.box, target_box, uniform, flip=True), iou, size, uniform, target_box, refine)
        if mirrored.iou > plain.iou + FLIP_MARGIN:
            return mirrored
    return plain


FLIP_MARGIN = 0.03  # IoU a mirrored alignment must gain to be preferred


def _climb(start: Alignment, score, size: float, uniform: bool, target_box: Box, refine: bool) -> Alignment:
    """Hill-climb ``score`` over shifts and scalings with halving steps; returns it with ``iou`` set."""
    best, best_score = start, score(start)
    scale_step, shift_step = 0.08, 0.04 * size
    for _ in range(4 if refine else 0):
        improved = True
        while improved:
            improved = False
            for move in _moves(best, scale_step, shift_step, uniform, target_box):
                value = score(move)
                if value > best_score + 1e-9:
                    best, best_score, improved = move, value, True
        scale_step, shift_step = scale_step / 2, shift_step / 2
    return replace(best, iou=float(best_score))


def _moves(a: Alignment, scale_step: float, shift_step: float, uniform: bool, centre_box: Box) -> list[Alignment]:
    """Neighbouring alignments: shifted, or scaled about the target box's centre."""
    cy, cx = (centre_box[0] + centre_box[2]) / 2, (centre_box[1] + centre_box[3]) / 2
    moves = [replace(a, ty=a.ty + d) for d in (shift_step, -shift_step)] + [
        replace(a, tx=a.tx + d) for d in (shift_step, -shift_step)
    ]
    for factor in (1 + scale_step, 1 / (1 + scale_step)):
        axes = [(factor, factor)] if uniform else [(factor, 1.0), (1.0, factor)]
        for fy, fx in axes:
            # scale about (cy, cx) in the photo frame: p' = c + f (p - c)
            moves.append(Alignment(a.sy * fy, a.sx * fx, cy + fy * (a.ty - cy), cx + fx * (a.tx - cx)))
    return moves
