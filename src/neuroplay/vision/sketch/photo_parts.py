"""The object in a photo and its colour parts: :func:`segment_photo`.

Object versus background by a GrabCut-style loop run on SLIC superpixels (colour mixtures for
object and background, then a minimum cut with SciPy's max-flow on the superpixel graph), seeded
from a box and optionally from the sketch's silhouette; then the object's superpixels are merged
by colour into a handful of parts. The result is a label map
(:mod:`~neuroplay.vision.sketch.label_maps`): 0 background, 1..M the parts, largest first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage
from scipy.sparse import csr_array
from scipy.sparse.csgraph import breadth_first_order, maximum_flow
from skimage.color import rgb2lab
from skimage.segmentation import slic

from neuroplay.common.errors import UserError
from neuroplay.vision.sketch.label_maps import Box, RegionProps, as_float_image, mask_box, region_table, relabel


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
    parts: list[RegionProps]
    background_color: tuple[float, float, float]
    box: Box

    @property
    def n_parts(self) -> int:
        return len(self.parts)

    @property
    def shape(self) -> tuple[int, int]:
        return self.labels.shape


# --- colour mixtures and a min cut on superpixels ----------------------------------------------


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
    labels = relabel(np.where(foreground, group[sp] + 1, 0))
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
