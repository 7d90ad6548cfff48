"""Pair each region of a sketch with the photo region that should lend it its style.

Both label maps must be in one frame (warp the sketch's with :meth:`Alignment.warp` first).
The cost of pairing sketch region *s* with photo region *p* is a weighted sum of four terms,
each in [0, 1]:

- overlap: ``1 - (coverage + IoU) / 2``, where coverage is the share of *s* lying on *p*
  (coverage alone would favour the biggest part, IoU alone punishes a small *s* on a big *p*);
- position: distance between centroids over half the diagonal of the object's box, capped at 1;
- area: ``|log(area_s / area_p)| / log 16``, capped at 1 (a factor of 4 costs 0.5);
- shape: distance between the normalised second moments ``(η20, η11, η02)`` of the two regions,
  relative to their sizes: elongation and orientation, independent of size and place.

A Hungarian assignment (``scipy.optimize.linear_sum_assignment``) pairs object regions one to
one. A sketch region left over (more sketch regions than photo parts), or paired at a cost above
``max_cost`` or with a part it hardly overlaps, takes instead the photo part it overlaps most
(the cheapest if it overlaps none): several sketch regions may share a part, and every region
gets a style. Background goes with background.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from PIL import Image
from scipy.optimize import linear_sum_assignment
from skimage.draw import disk, line_aa
from skimage.segmentation import find_boundaries

from neuroplay.vision.sketch.label_maps import as_float_image


class Match(NamedTuple):
    """Sketch region ``sketch`` takes its style from photo region ``photo`` (0 = background)."""

    sketch: int
    photo: int
    cost: float


@dataclass(frozen=True)
class MatchWeights:
    """Weights of the four cost terms (see the module docstring); they need not sum to one."""

    overlap: float = 0.5
    position: float = 0.25
    area: float = 0.1
    shape: float = 0.15

    def __post_init__(self) -> None:
        values = (self.overlap, self.position, self.area, self.shape)
        if min(values) < 0 or sum(values) <= 0:
            raise ValueError(f"match weights must be >= 0 and not all zero, got {values}")


class _Stats(NamedTuple):
    ids: np.ndarray  # labels present, ascending
    area: np.ndarray
    centroid: np.ndarray  # n×2 (y, x)
    moments: np.ndarray  # n×3 normalised central moments (η20, η11, η02)


def _stats(labels: np.ndarray) -> _Stats:
    count = int(labels.max(initial=0)) + 1
    flat = labels.ravel()
    ys, xs = (a.ravel().astype(np.float64) for a in np.indices(labels.shape))
    area = np.bincount(flat, minlength=count).astype(np.float64)
    ids = np.flatnonzero(area)
    safe = np.maximum(area, 1)
    cy, cx = np.bincount(flat, ys, minlength=count) / safe, np.bincount(flat, xs, minlength=count) / safe
    dy, dx = ys - cy[flat], xs - cx[flat]
    mu = np.stack([np.bincount(flat, w, minlength=count) for w in (dy * dy, dy * dx, dx * dx)], axis=1)
    eta = mu / safe[:, None] ** 2  # second-order η_pq = μ_pq / μ00^2: blind to size and place
    return _Stats(ids, area[ids], np.stack([cy, cx], axis=1)[ids], eta[ids])


def cost_matrix(
    sketch_labels: np.ndarray, photo_labels: np.ndarray, weights: MatchWeights = MatchWeights()
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Costs of pairing every sketch label with every photo label (background included).

    Returns ``(cost, sketch_ids, photo_ids)``: ``cost[i, j]`` pairs ``sketch_ids[i]`` with
    ``photo_ids[j]``; the ids are the labels present in each map, ascending.
    """
    cost, _, sketch_ids, photo_ids = _costs(sketch_labels, photo_labels, weights)
    return cost, sketch_ids, photo_ids


def _costs(
    sketch_labels: np.ndarray, photo_labels: np.ndarray, weights: MatchWeights
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(cost, coverage, sketch_ids, photo_ids)``; coverage[i, j]: share of sketch i on photo j."""
    sketch_labels, photo_labels = np.asarray(sketch_labels), np.asarray(photo_labels)
    if sketch_labels.shape != photo_labels.shape:
        raise ValueError(f"label maps differ in shape: {sketch_labels.shape} vs {photo_labels.shape}")
    if sketch_labels.min(initial=0) < 0 or photo_labels.min(initial=0) < 0:
        raise ValueError("labels must be >= 0")
    sketch_labels = sketch_labels.astype(np.int64)
    photo_labels = photo_labels.astype(np.int64)
    s, p = _stats(sketch_labels), _stats(photo_labels)
    n_photo = int(photo_labels.max(initial=0)) + 1
    joint = np.bincount((sketch_labels * n_photo + photo_labels).ravel(), minlength=n_photo * (s.ids[-1] + 1))
    inter = joint.reshape(-1, n_photo)[np.ix_(s.ids, p.ids)].astype(np.float64)
    coverage = inter / s.area[:, None]
    iou = inter / (s.area[:, None] + p.area[None, :] - inter)
    overlap = 1.0 - (coverage + iou) / 2

    objects = (sketch_labels > 0) | (photo_labels > 0)
    rows, cols = np.flatnonzero(objects.any(axis=1)), np.flatnonzero(objects.any(axis=0))
    if len(rows):
        diagonal = math.hypot(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)
    else:
        diagonal = math.hypot(*sketch_labels.shape)
    distance = np.linalg.norm(s.centroid[:, None, :] - p.centroid[None, :, :], axis=2)
    position = np.minimum(distance / (diagonal / 2), 1.0)

    area = np.minimum(np.abs(np.log(s.area[:, None] / p.area[None, :])) / math.log(16), 1.0)

    gap = np.linalg.norm(s.moments[:, None, :] - p.moments[None, :, :], axis=2)
    scale = np.linalg.norm(s.moments, axis=1)[:, None] + np.linalg.norm(p.moments, axis=1)[None, :]
    shape = np.where(scale > 0, gap / np.maximum(scale, 1e-12), 0.0)

    total = weights.overlap + weights.position + weights.area + weights.shape
    cost = (
        weights.overlap * overlap + weights.position * position + weights.area * area + weights.shape * shape
    ) / total
    return cost, coverage, s.ids, p.ids


def match_regions(
    sketch_labels: np.ndarray,
    photo_labels: np.ndarray,
    *,
    weights: MatchWeights = MatchWeights(),
    max_cost: float = 0.8,
    min_overlap: float = 0.05,
) -> list[Match]:
    """Give every sketch region a photo region to take its style from (see the module docstring).

    Both maps are H×W labels in one frame, 0 = background. Returns one :class:`Match` per label
    present in ``sketch_labels``, ascending, background first. A one-to-one pair is kept only if
    it costs at most ``max_cost`` and the sketch region has at least ``min_overlap`` of its area
    on the part; otherwise the region falls back on the part it overlaps most. Sketch background
    goes with photo background (or, if the photo has none, its cheapest region); object regions
    go with object parts, and with the photo background only when the photo has no parts.
    """
    cost, coverage, sketch_ids, photo_ids = _costs(sketch_labels, photo_labels, weights)
    sketch_objects = np.flatnonzero(sketch_ids > 0)
    photo_objects = np.flatnonzero(photo_ids > 0)
    chosen: dict[int, int] = {}  # row in cost -> column in cost

    if len(sketch_objects) and len(photo_objects):
        sub = cost[np.ix_(sketch_objects, photo_objects)]
        rows, cols = linear_sum_assignment(sub)
        for r, c in zip(rows, cols, strict=True):
            row, col = int(sketch_objects[r]), int(photo_objects[c])
            if cost[row, col] <= max_cost and coverage[row, col] >= min_overlap:
                chosen[row] = col

    for row, label in enumerate(sketch_ids):
        if row in chosen:
            continue
        if label == 0:
            candidates = np.flatnonzero(photo_ids == 0)
            candidates = candidates if len(candidates) else np.arange(len(photo_ids))
        else:
            candidates = photo_objects if len(photo_objects) else np.arange(len(photo_ids))
        if coverage[row, candidates].max() > 0:  # most overlap; the cheaper of equals
            best = candidates[np.lexsort((cost[row, candidates], -coverage[row, candidates]))[0]]
        else:
            best = candidates[np.argmin(cost[row, candidates])]
        chosen[row] = int(best)

    return [
        Match(int(sketch_ids[row]), int(photo_ids[col]), float(cost[row, col])) for row, col in sorted(chosen.items())
    ]


# --- pictures -----------------------------------------------------------------------------------

# distinct label colours, as hex RGB (after Trubetskoy's list of twenty)
_PALETTE = np.array(
    [
        list(bytes.fromhex(h))
        for h in "e6194b 3cb44b 0082c8 f58230 911eb4 ffe119 46f0f0 f032e6 aa6e28 008080 800000 aaffc3".split()
    ],
    dtype=np.float64,
)
_BACKGROUND = np.array((200, 200, 200), dtype=np.float64)


def region_colors(n: int) -> np.ndarray:
    """``(n + 1)×3`` uint8 colours: grey for label 0, then distinct colours for labels 1..n."""
    colors = [_BACKGROUND]
    for label in range(1, n + 1):
        if label <= len(_PALETTE):
            colors.append(_PALETTE[label - 1])
        else:  # golden-angle hues once the palette runs out
            hue = (label * 0.618034) % 1.0
            rgb = np.clip(np.abs((hue * 6 + np.array([0, 4, 2])) % 6 - 3) - 1, 0, 1)
            colors.append(60 + 180 * rgb)
    return np.asarray(colors).astype(np.uint8)


def label_overlay(
    labels: np.ndarray,
    image: np.ndarray | None = None,
    colors: np.ndarray | None = None,
    *,
    drawing: bool = False,
    alpha: float = 0.55,
) -> np.ndarray:
    """H×W×3 uint8 picture of a label map in flat colours (``colors[label]``) with black borders.

    With ``image``, a photo shows through (``alpha`` of colour); a line drawing (``drawing``)
    multiplies the colours instead, so its lines stay dark on coloured paper.
    """
    labels = np.asarray(labels)
    colors = region_colors(int(labels.max(initial=0))) if colors is None else np.asarray(colors)
    picture = colors[labels].astype(np.float64)
    if image is not None:
        base = as_float_image(image)
        base = np.repeat(base[..., None], 3, axis=2) if base.ndim == 2 else base
        if base.shape[:2] != labels.shape:
            raise ValueError(f"image {base.shape[:2]} and labels {labels.shape} differ in size")
        if drawing:
            picture *= base.mean(axis=2, keepdims=True)
        else:
            picture = alpha * picture + (1 - alpha) * 255 * base
    picture[find_boundaries(labels, mode="inner")] = 0
    return np.clip(picture, 0, 255).astype(np.uint8)


def _resize_nearest(array: np.ndarray, height: int) -> np.ndarray:
    width = max(1, round(array.shape[1] * height / array.shape[0]))
    rows = np.minimum((np.arange(height) + 0.5) * array.shape[0] / height, array.shape[0] - 1).astype(int)
    cols = np.minimum((np.arange(width) + 0.5) * array.shape[1] / width, array.shape[1] - 1).astype(int)
    return array[np.ix_(rows, cols)]


def _resize_image(image: np.ndarray, height: int) -> np.ndarray:
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    picture = Image.fromarray((as_float_image(image) * 255).round().astype(np.uint8))
    return np.asarray(picture.convert("RGB").resize((width, height), Image.Resampling.LANCZOS))


def draw_matches(
    sketch_labels: np.ndarray,
    photo_labels: np.ndarray,
    matches: list[Match],
    *,
    sketch_image: np.ndarray | None = None,
    photo_image: np.ndarray | None = None,
    height: int = 256,
    gap: int = 12,
) -> np.ndarray:
    """Both segmentations side by side (sketch left, photo right), coloured by match, as uint8 RGB.

    Each photo part has its own colour; each sketch region wears the colour of the part it is
    matched to, and a line joins the two centroids. The label maps may be in different frames and
    sizes (each panel is scaled to ``height``); images, when given, show through.
    """
    sketch_labels, photo_labels = np.asarray(sketch_labels), np.asarray(photo_labels)
    if height < 8:
        raise ValueError(f"height must be at least 8 pixels, got {height}")
    photo_colors = region_colors(int(photo_labels.max(initial=0)))
    sketch_colors = np.tile(region_colors(0), (int(sketch_labels.max(initial=0)) + 1, 1))
    pairs = {m.sketch: m.photo for m in matches}
    for s, p in pairs.items():
        if 0 <= s < len(sketch_colors) and 0 <= p < len(photo_colors):
            sketch_colors[s] = photo_colors[p]

    left_labels, right_labels = _resize_nearest(sketch_labels, height), _resize_nearest(photo_labels, height)
    left_image = _resize_image(sketch_image, height) if sketch_image is not None else None
    right_image = _resize_image(photo_image, height) if photo_image is not None else None
    left = label_overlay(left_labels, left_image, sketch_colors, drawing=True)
    right = label_overlay(right_labels, right_image, photo_colors)
    canvas = np.full((height, left.shape[1] + gap + right.shape[1], 3), 255, dtype=np.uint8)
    canvas[:, : left.shape[1]] = left
    offset = left.shape[1] + gap
    canvas[:, offset:] = right

    left_centres, right_centres = _centroids(left_labels), _centroids(right_labels)
    radius = max(2, height // 80)
    for s, p in sorted(pairs.items()):
        if s == 0 or s not in left_centres or p not in right_centres:
            continue
        (y0, x0), (y1, x1) = left_centres[s], right_centres[p]
        x1 += offset
        rr, cc, value = line_aa(round(y0), round(x0), round(y1), round(x1))
        ok = (rr >= 0) & (rr < canvas.shape[0]) & (cc >= 0) & (cc < canvas.shape[1])
        shade = canvas[rr[ok], cc[ok]].astype(np.float64) * (1 - value[ok, None])
        canvas[rr[ok], cc[ok]] = shade.astype(np.uint8)  # dark line
        for y, x in ((y0, x0), (y1, x1)):
            rr, cc = disk((y, x), radius + 1, shape=canvas.shape[:2])
            canvas[rr, cc] = 0
            rr, cc = disk((y, x), radius, shape=canvas.shape[:2])
            canvas[rr, cc] = photo_colors[p]
    return canvas


def _centroids(labels: np.ndarray) -> dict[int, tuple[float, float]]:
    stats = _stats(labels.astype(np.int64))
    return {int(i): (float(c[0]), float(c[1])) for i, c in zip(stats.ids, stats.centroid, strict=True)}
