"""Regions of a line drawing and of a photo, and the transform that lines the two up.

- :func:`segment_sketch`: the closed regions of a drawing. Strokes are thickened by half the
  largest gap to bridge before the paper is split into connected parts, so a region cannot leak
  out through a small break in its outline; the thickening is then given back (every stroke and
  halo pixel joins its nearest region), so the regions tile the image. Background is whatever
  connects to the image border.
- :func:`segment_photo`: object versus background by a GrabCut-style loop run on SLIC
  superpixels (colour mixtures for object and background, then a minimum cut with SciPy's max-flow
  on the superpixel graph), seeded from a box and optionally from the sketch's silhouette; then
  the object's superpixels are merged by colour into a handful of parts.
- :func:`align`: scale, shift and optional mirror that carry the sketch's object box onto the
  photo's, refined on the overlap of the two silhouettes; :class:`Alignment` warps label maps.

Label maps are ``int32`` arrays: 0 is background, 1..N the regions. Boxes are
``(top, left, bottom, right)`` in pixels, bottom and right exclusive. Typical use, with a
drawing ``page`` and a photo ``picture`` (H×W×3 arrays)::

    sketch = segment_sketch(page)
    guess = align(sketch, picture.shape)  # the page fitted into the photo
    photo = segment_photo(picture, prior=guess.warp(sketch.silhouette, picture.shape))
    fit = align(sketch, picture.shape, photo.foreground)  # object box onto object box
    matches = match_regions(fit.warp(sketch.labels, picture.shape), photo.labels)  # (match.py)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
from scipy import ndimage
from scipy.sparse import csr_array
from scipy.sparse.csgraph import breadth_first_order, maximum_flow
from skimage.color import rgb2lab
from skimage.filters import threshold_otsu
from skimage.morphology import skeletonize
from skimage.segmentation import slic

from neuroplay.common.errors import UserError

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Region:
    """One labelled region: its label, pixel count, centroid ``(y, x)``, box, and mean RGB in [0, 1]."""

    label: int
    area: int
    centroid: tuple[float, float]
    bbox: Box
    mean_color: tuple[float, float, float] | None = None


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
    regions: list[Region]
    stroke_width: float

    @property
    def n_regions(self) -> int:
        return len(self.regions)

    @property
    def shape(self) -> tuple[int, int]:
        return self.labels.shape


@dataclass(frozen=True, eq=False)
class PhotoRegions:
    """A segmented photo.

    ``labels`` (H×W int32): 0 background, 1..M object parts, largest first; ``foreground`` the
    object mask; ``superpixels`` the SLIC over-segmentation the parts are made of; ``parts`` their
    properties (with mean colours); ``box`` the seed box actually used (margin included).
    """

    labels: np.ndarray
    foreground: np.ndarray
    superpixels: np.ndarray
    parts: list[Region]
    background_color: tuple[float, float, float]
    box: Box

    @property
    def n_parts(self) -> int:
        return len(self.parts)

    @property
    def shape(self) -> tuple[int, int]:
        return self.labels.shape


# --- inputs and region tables -------------------------------------------------------------------


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


def region_table(labels: np.ndarray, image: np.ndarray | None = None) -> list[Region]:
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
            Region(
                label=label,
                area=int(area[label]),
                centroid=(float(cy[label] / area[label]), float(cx[label] / area[label])),
                bbox=(sy.start, sx.start, sy.stop, sx.stop),
                mean_color=color,
            )
        )
    return regions


def _gray(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else image @ np.array([0.299, 0.587, 0.114])


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Renumber labels > 0 to 1..N keeping their order; 0 stays 0."""
    ids = np.unique(labels[labels > 0])
    lut = np.zeros(int(labels.max(initial=0)) + 1, dtype=np.int32)
    lut[ids] = np.arange(1, len(ids) + 1, dtype=np.int32)
    return lut[labels]


# --- sketch -------------------------------------------------------------------------------------


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
    labels = _relabel(labels)

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


# --- photo: colour mixtures and a min cut on superpixels ----------------------------------------


@dataclass(frozen=True)
class _Mixture:
    log_weights: np.ndarray  # k
    means: np.ndarray  # k×3
    chols: np.ndarray  # k×3×3 lower Cholesky factors of the covariances


def _gaussians(x: np.ndarray, assign: np.ndarray, k: int) -> _Mixture:
    weights, means, chols = [], [], []
    for c in range(k):
        part = x[assign == c]
        if len(part) < 8:
            continue
        cov = np.cov(part, rowvar=False) + 2.0 * np.eye(3)  # a floor of ~1.4 Lab units of spread
        weights.append(len(part))
        means.append(part.mean(axis=0))
        chols.append(np.linalg.cholesky(cov))
    if not weights:  # too few samples for any component: one broad Gaussian
        return _Mixture(np.zeros(1), x.mean(axis=0, keepdims=True), 20.0 * np.eye(3)[None])
    w = np.asarray(weights, dtype=np.float64)
    return _Mixture(np.log(w / w.sum()), np.asarray(means), np.asarray(chols))


def _component_logp(mix: _Mixture, x: np.ndarray) -> np.ndarray:
    """N×k log of weight × density of each component."""
    channels = np.ascontiguousarray(x.T)
    out = np.empty((len(x), len(mix.means)))
    for c, (mean, chol) in enumerate(zip(mix.means, mix.chols, strict=True)):
        w = np.linalg.inv(chol)  # lower triangular: z = w (x - mean) whitens
        d0, d1, d2 = channels[0] - mean[0], channels[1] - mean[1], channels[2] - mean[2]
        z0 = w[0, 0] * d0
        z1 = w[1, 0] * d0 + w[1, 1] * d1
        z2 = w[2, 0] * d0 + w[2, 1] * d1 + w[2, 2] * d2
        log_det = 2.0 * np.log(np.diag(chol)).sum()
        out[:, c] = mix.log_weights[c] - 0.5 * (z0 * z0 + z1 * z1 + z2 * z2 + log_det + 3 * math.log(2 * math.pi))
    return out


def _log_density(mix: _Mixture, x: np.ndarray) -> np.ndarray:
    """Log of the mixture's density at each row of ``x``."""
    logp = _component_logp(mix, x)
    top = logp.max(axis=1)
    return top + np.log(np.exp(logp - top[:, None]).sum(axis=1))


def _fit_mixture(x: np.ndarray, rng: np.random.Generator, k: int = 5, rounds: int = 4) -> _Mixture:
    """k full-covariance Gaussians by k-means++ seeding and a few rounds of hard EM (as GrabCut)."""
    k = max(1, min(k, len(x) // 20))
    centres = x[rng.integers(len(x))][None]
    for _ in range(1, k):
        d2 = ((x[:, None, :] - centres[None]) ** 2).sum(axis=2).min(axis=1)
        centres = np.vstack([centres, x[rng.choice(len(x), p=d2 / d2.sum())] if d2.sum() > 0 else x[0]])
    assign = ((x[:, None, :] - centres[None]) ** 2).sum(axis=2).argmin(axis=1)
    mix = _gaussians(x, assign, k)
    for _ in range(rounds):
        mix = _gaussians(x, _component_logp(mix, x).argmax(axis=1), len(mix.means))
    return mix


def _sample(x: np.ndarray, rng: np.random.Generator, n: int = 12000) -> np.ndarray:
    return x if len(x) <= n else x[rng.choice(len(x), n, replace=False)]


def _adjacency(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(a, b)``, a < b, of 4-adjacent labels and the length of their shared border."""
    pairs = [
        np.stack([labels[:, :-1].ravel(), labels[:, 1:].ravel()], axis=1),
        np.stack([labels[:-1, :].ravel(), labels[1:, :].ravel()], axis=1),
    ]
    pairs = np.concatenate(pairs)
    pairs = np.sort(pairs[pairs[:, 0] != pairs[:, 1]], axis=1)
    edges, length = np.unique(pairs, axis=0, return_counts=True)
    return edges.reshape(-1, 2), length


def _min_cut(cost_fg: np.ndarray, cost_bg: np.ndarray, edges: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Labelling (True = object) minimising sum of unary costs plus weights of cut edges.

    Nodes on the source side of a minimum s-t cut are object; cutting node→sink pays its object
    cost, source→node its background cost. ``np.inf`` costs are hard constraints.
    """
    n = len(cost_fg)
    base = np.minimum(cost_fg, cost_bg)
    to_sink, from_source = cost_fg - base, cost_bg - base  # inf - finite stays inf
    finite = np.concatenate([to_sink[np.isfinite(to_sink)], from_source[np.isfinite(from_source)], weights])
    scale = 1e5 / max(float(finite.max(initial=0.0)), 1e-9)
    hard = 2**30 // max(n, 1)

    def ints(values: np.ndarray) -> np.ndarray:
        return np.where(np.isfinite(values), np.rint(values * scale), hard).astype(np.int64)

    source, sink = n, n + 1
    rows = np.concatenate([np.full(n, source), np.arange(n), edges[:, 0], edges[:, 1]])
    cols = np.concatenate([np.arange(n), np.full(n, sink), edges[:, 1], edges[:, 0]])
    caps = np.concatenate([ints(from_source), ints(to_sink), ints(weights), ints(weights)])
    keep = caps > 0
    graph = csr_array((caps[keep].astype(np.int32), (rows[keep], cols[keep])), shape=(n + 2, n + 2))
    graph.sum_duplicates()
    flow = maximum_flow(graph, source, sink, method="dinic").flow
    residual = (graph - flow).tocsr()
    residual.data = (residual.data > 0).astype(np.int8)
    residual.eliminate_zeros()
    reached = breadth_first_order(residual, source, directed=True, return_predecessors=False)
    side = np.zeros(n + 2, dtype=bool)
    side[reached] = True
    return side[:n]


def _merge_parts(
    means: np.ndarray,
    sizes: np.ndarray,
    nodes: np.ndarray,
    edges: np.ndarray,
    n_parts: int,
    min_contrast: float,
    min_size: float,
) -> np.ndarray:
    """Greedy merging of superpixels ``nodes`` -> a group id per superpixel (the id merged into).

    In order of priority: while there are more than ``n_parts`` groups, merge the adjacent pair
    with the smallest softened Ward cost, ``sqrt(n1 n2 / (n1 + n2)) * distance²`` (similar and
    small pairs first, but with size counting less than in Ward's, so a small part of a
    distinct colour, like an eye, outlasts large areas of similar colour);
    merge a group smaller than ``min_size`` into its most similar neighbour; merge any two groups,
    adjacent or not, closer in colour than ``min_contrast`` (Lab units) — one surface cut in two
    by a sliver of mixed superpixels is still one part — or closest in colour while separate
    pieces of the object still leave more than ``n_parts``.
    """
    sums = means * sizes[:, None]
    size = sizes.astype(np.float64).copy()
    group = np.arange(len(sizes))
    alive = list(nodes)
    while len(alive) > 1:
        mean = sums / np.maximum(size, 1e-9)[:, None]
        pick = None
        if len(edges):
            a, b = edges[:, 0], edges[:, 1]
            d2 = ((mean[a] - mean[b]) ** 2).sum(axis=1)
            small = np.minimum(size[a], size[b]) < min_size
            if len(alive) > n_parts:
                pick = edges[np.argmin(np.sqrt(size[a] * size[b] / (size[a] + size[b])) * d2)]
            elif small.any():
                pick = edges[np.flatnonzero(small)[np.argmin(d2[small])]]
        if pick is None:
            ids = np.asarray(alive)
            d2 = ((mean[ids][:, None, :] - mean[ids][None, :, :]) ** 2).sum(axis=2)
            d2[np.diag_indices(len(ids))] = np.inf
            i, j = np.unravel_index(np.argmin(d2), d2.shape)
            if d2[i, j] >= min_contrast**2 and len(alive) <= n_parts:
                break
            pick = (ids[i], ids[j])
        keep, drop = int(pick[0]), int(pick[1])
        sums[keep] += sums[drop]
        size[keep] += size[drop]
        group[group == drop] = keep
        alive.remove(drop)
        edges = edges.copy()
        edges[edges == drop] = keep
        edges = np.unique(np.sort(edges[edges[:, 0] != edges[:, 1]], axis=1), axis=0).reshape(-1, 2)
    return group


# SLIC's colour-versus-distance trade-off. 10 (scikit-image's default) lets photo noise fray the
# superpixels, which then straddle edges between parts; 20 keeps them whole and on the edges.
SLIC_COMPACTNESS = 20.0


def _superpixels(image: np.ndarray, n_segments: int) -> np.ndarray:
    """SLIC superpixels numbered 0..n-1 (SLIC measures colour in Lab)."""
    sp = slic(image, n_segments=n_segments, compactness=SLIC_COMPACTNESS, start_label=0, channel_axis=-1)
    return np.unique(sp, return_inverse=True)[1].reshape(image.shape[:2]).astype(np.int32)


def _seeds(box: Box | None, prior: np.ndarray | None, shape: tuple[int, int], margin: float) -> tuple[Box, np.ndarray]:
    """The seed box (grown by ``margin``) and the prior mask: given, or the ellipse in the box."""
    height, width = shape
    if prior is not None:
        prior = np.clip(np.asarray(prior, dtype=np.float64), 0.0, 1.0)
        if prior.shape != shape:
            raise ValueError(f"prior has shape {prior.shape}, expected {shape}")
        if not (prior > 0.5).any():  # an empty prior says nothing about where the object is
            prior = None
        elif box is None:
            box = mask_box(prior > 0.5)
    if box is None:
        box = (height // 8, width // 8, height - height // 8, width - width // 8)
    top, left, bottom, right = (int(v) for v in box)
    if prior is None:  # an object fills its box roughly like an ellipse: a weak centre prior
        ys, xs = np.ogrid[0:height, 0:width]
        ry, rx = max(bottom - top, 2) / 2, max(right - left, 2) / 2
        inside = ((ys + 0.5 - top - ry) / ry) ** 2 + ((xs + 0.5 - left - rx) / rx) ** 2 <= 1.0
        prior = inside.astype(np.float64)
    grow_y, grow_x = margin * (bottom - top), margin * (right - left)
    box = (
        max(0, math.floor(top - grow_y)),
        max(0, math.floor(left - grow_x)),
        min(height, math.ceil(bottom + grow_y)),
        min(width, math.ceil(right + grow_x)),
    )
    if box[2] - box[0] < 2 or box[3] - box[1] < 2:
        raise UserError(f"object box {box} is empty inside the {height}×{width} photo")
    return box, prior


def _grabcut(
    pixels: np.ndarray,
    sp: np.ndarray,
    box: Box,
    prior: np.ndarray,
    smoothness: float,
    prior_weight: float,
    iterations: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """GrabCut on superpixels -> object mask (a union of superpixels).

    Alternate: fit colour mixtures to the current object and background pixels; then label every
    superpixel by a minimum cut that trades its pixels' colour likelihoods (plus the prior's
    log-odds) against the border it shares with neighbours of similar colour.
    """
    height, width = sp.shape
    n = int(sp.max()) + 1
    flat = sp.ravel()
    sizes = np.bincount(flat, minlength=n).astype(np.float64)
    means = np.stack([np.bincount(flat, pixels[:, c], minlength=n) for c in range(3)], axis=1) / sizes[:, None]
    edges, border = _adjacency(sp)
    diff2 = ((means[edges[:, 0]] - means[edges[:, 1]]) ** 2).sum(axis=1)
    beta = 1.0 / (2.0 * diff2.mean()) if len(diff2) and diff2.mean() > 0 else 0.0
    pair_weights = smoothness * border * np.exp(-beta * diff2)

    in_box = np.zeros((height, width), dtype=bool)
    in_box[box[0] : box[2], box[1] : box[3]] = True
    hard_bg = np.bincount(flat, in_box.ravel(), minlength=n) / sizes < 0.5
    in_prior = np.bincount(flat, (prior > 0.5).ravel(), minlength=n) / sizes > 0.5
    if sizes[hard_bg].sum() < 0.03 * height * width:  # the box is nearly the whole photo: no sure background
        hard_bg[:] = False
        in_prior[np.unique(np.concatenate([sp[0], sp[-1], sp[:, 0], sp[:, -1]]))] = False
    fg = in_prior & ~hard_bg
    if not fg.any():
        fg = ~hard_bg

    # The prior as a unary cost: blurred, then its log-odds held within ±prior_weight nats a pixel.
    soft = ndimage.gaussian_filter(prior, sigma=0.02 * max(height, width))
    odds = (np.log(0.25 + 0.5 * soft) - np.log(0.75 - 0.5 * soft)).ravel() * (prior_weight / math.log(3))
    prior_fg = np.bincount(flat, np.maximum(-odds, 0), minlength=n)
    prior_bg = np.bincount(flat, np.maximum(odds, 0), minlength=n)

    # Colour costs are summed over a regular subset of about 64k pixels, scaled up to each
    # superpixel's size: the same costs to within noise, at a fraction of the work.
    probe = np.arange(0, len(flat), max(1, len(flat) // 65536))
    probe_sp = flat[probe]
    upscale = sizes / np.maximum(np.bincount(probe_sp, minlength=n), 1)
    for _ in range(iterations):
        if fg.all() or not fg.any():
            break
        fg_pixels = fg[flat]
        fg_mix = _fit_mixture(_sample(pixels[fg_pixels], rng), rng)
        bg_mix = _fit_mixture(_sample(pixels[~fg_pixels], rng), rng)
        cost_fg = np.bincount(probe_sp, -_log_density(fg_mix, pixels[probe]), minlength=n) * upscale + prior_fg
        cost_bg = np.bincount(probe_sp, -_log_density(bg_mix, pixels[probe]), minlength=n) * upscale + prior_bg
        cost_fg[hard_bg] = np.inf
        new = _min_cut(cost_fg, cost_bg, edges, pair_weights)
        if (new == fg).all():
            break
        fg = new
    return fg[sp] & in_box  # outside the box is background, to the pixel


def _tidy(mask: np.ndarray) -> np.ndarray:
    """Drop specks under 2 % of the mask (keeping the largest piece) and fill holes under 1 %."""
    total = mask.sum()
    pieces, _ = ndimage.label(mask)
    sizes = np.bincount(pieces.ravel())
    sizes[0] = 0
    mask = (sizes >= min(0.02 * total, sizes.max()))[pieces]
    holes, _ = ndimage.label(~mask)
    sizes = np.bincount(holes.ravel())
    fill = sizes < 0.01 * total
    fill[np.unique(np.concatenate([holes[0], holes[-1], holes[:, 0], holes[:, -1]]))] = False  # open to the edge
    fill[0] = False
    return mask | fill[holes]


def _parts(pixels: np.ndarray, sp: np.ndarray, foreground: np.ndarray, n_parts: int, min_contrast: float) -> np.ndarray:
    """Label map of the object's parts, 1..M largest first, from its superpixels merged by colour."""
    n = int(sp.max()) + 1
    flat = sp.ravel()
    sizes = np.bincount(flat, minlength=n).astype(np.float64)
    means = np.stack([np.bincount(flat, pixels[:, c], minlength=n) for c in range(3)], axis=1)
    means /= np.maximum(sizes, 1)[:, None]
    inside = np.bincount(flat, foreground.ravel(), minlength=n) / np.maximum(sizes, 1) > 0.5
    edges, _ = _adjacency(np.where(foreground, sp, -1))
    edges = edges[(edges[:, 0] >= 0) & inside[edges[:, 0]] & inside[edges[:, 1]]]
    nodes = np.flatnonzero(inside)
    group = _merge_parts(means, sizes, nodes, edges, n_parts, min_contrast, 0.01 * sizes[inside].sum())
    labels = _relabel(np.where(foreground, group[sp] + 1, 0))
    by_size = np.argsort(-np.bincount(labels.ravel())[1:], kind="stable") + 1
    lut = np.zeros(len(by_size) + 1, dtype=np.int32)
    lut[by_size] = np.arange(1, len(by_size) + 1, dtype=np.int32)
    return lut[labels]


def segment_photo(
    photo: np.ndarray | torch.Tensor,
    box: Box | None = None,
    prior: np.ndarray | None = None,
    *,
    n_parts: int = 6,
    n_segments: int = 700,
    margin: float = 0.05,
    smoothness: float = 30.0,
    prior_weight: float = 1.0,
    min_contrast: float = 8.0,
    iterations: int = 5,
    seed: int = 0,
) -> PhotoRegions:
    """Separate the object in ``photo`` from its background and split it into colour parts.

    ``box`` (top, left, bottom, right) says roughly where the object is: it is grown by
    ``margin`` of its size on each side, and superpixels mostly outside it are background for
    certain. ``prior`` (H×W, bool or in [0, 1]) is a rough object mask, e.g. the sketch's
    silhouette aligned to the photo; it favours the object inside it by up to ``prior_weight``
    nats per pixel (without one, the ellipse inscribed in the box does, so the middle of the box
    holds on to the object). With neither, the box is the central 3/4 of the photo.
    ``smoothness`` is the cost of cutting between two superpixels per pixel of shared border (less
    where their colours differ). Parts: the object's superpixels merged by colour down to at most
    ``n_parts``, fewer when colours are within ``min_contrast`` Lab units; parts under 1 % of the
    object are dissolved into a neighbour.
    """
    image = as_float_image(photo)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if n_parts < 1 or n_segments < 2 or margin < 0 or iterations < 1:
        raise UserError("n_parts must be >= 1, n_segments >= 2, margin >= 0 and iterations >= 1")
    pixels = rgb2lab(image).reshape(-1, 3)
    sp = _superpixels(image, n_segments)
    box, prior = _seeds(box, prior, sp.shape, margin)
    rng = np.random.default_rng(seed)
    foreground = _grabcut(pixels, sp, box, prior, smoothness, prior_weight, iterations, rng)
    foreground = _tidy(foreground) if foreground.any() else prior > 0.5  # no object found: trust the seed
    labels = _parts(pixels, sp, foreground, n_parts, min_contrast)
    background = labels == 0
    bg_color = image[background].mean(axis=0) if background.any() else np.zeros(3)
    return PhotoRegions(
        labels=labels,
        foreground=labels > 0,
        superpixels=sp,
        parts=region_table(labels, image),
        background_color=tuple(float(v) for v in bg_color),
        box=box,
    )


# --- alignment ----------------------------------------------------------------------------------


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
