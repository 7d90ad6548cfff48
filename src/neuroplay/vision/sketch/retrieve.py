"""Sketch-based image retrieval: find the photos in a gallery folder that a line drawing depicts.

Indexing (once per gallery, cached, updated when files change) turns every photo into a
one-pixel edge map (:mod:`~neuroplay.vision.sketch.edges`: HED, or Canny) at ``edge_size`` and
describes it in a *normalised frame*: the square around the edges' robust bounding box (2nd to
98th percentile of the edge pixels, plus a margin), so a sketch drawn small, large or off-centre
lands in the same frame as the photo's object. A sketch is binarised and thinned to the same kind
of edge map and described the same way. Three descriptors compare them:

- ``cnn``: ImageNet VGG16 features of the edge map drawn as black lines on white, 96×96
  (``relu3_3`` and ``relu4_3``, averaged over a 3×3 grid, square-rooted, each L2-normalised);
  cosine similarity. The gallery keeps the features of the mirrored edge map too, so a query
  needs one forward pass.
- ``hog``: histogram of oriented gradients (scikit-image) of the blurred frame; cosine similarity.
- ``chamfer``: oriented chamfer distance on a 64×64 frame: for each sketch pixel the distance to
  the nearest photo edge of similar orientation (6 bins, each admitting its neighbours),
  truncated at 1/4 of the frame, plus half the same from photo to sketch (photos hold clutter a
  sketch leaves out); precomputed distance transforms make it a gather, done on a shortlist.

Scores are z-normalised per descriptor (``cnn`` and ``hog`` over the whole gallery, ``chamfer``
over the shortlist of the ``shortlist`` best by the first two) and summed with
:class:`RetrievalConfig` weights; each photo is scored against the sketch and its mirror image,
keeping the better. The weights are equal (1, 1, 1): on the harness ``benchmarks/sbir_eval.py``
(its tuning seeds 0-1, 138 pictures) equal weights were the best of a grid of cnn 0-1 × hog
0.5-1.5 × chamfer 0.5-2; leaving the CNN out cost 8-10 points of Recall@1 on the hard sketches,
although alone it is the weakest of the three.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy import ndimage
from skimage.feature import hog
from skimage.morphology import skeletonize

from neuroplay.common.errors import UserError
from neuroplay.common.io import atomic_open
from neuroplay.vision.sketch.edges import as_image_tensor, canny_edges, hed_edges, remove_small, resolve_method, thin_edges

Notify = Callable[[str], None]
Progress = Callable[[int, int, str], None]  # (done, total, current file)

INDEX_KIND = "neuroplay-sketch-index"
INDEX_VERSION = 1
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
INDEX_NAME = ".neuroplay-sketch-index.pt"
MIN_SIDE = 16  # smaller pictures hold no usable edges
SAMPLES = 256  # photo edge points kept for the photo-to-sketch half of the chamfer distance


@dataclass(frozen=True)
class RetrievalConfig:
    """How photos and sketches are described and scored.

    ``edge_size`` (longer side for edge detection), ``edges`` (``auto``/``hed``/``canny``),
    ``frame`` (HOG and chamfer frame side), ``cnn_size`` (CNN frame side) and ``bins``
    (orientation bins) shape the index: changing one rebuilds it. The rest act at search time.
    """

    edge_size: int = 256
    edges: str = "auto"
    frame: int = 64
    cnn_size: int = 96
    bins: int = 6
    weight_cnn: float = 1.0
    weight_hog: float = 1.0
    weight_chamfer: float = 1.0
    shortlist: int = 20
    mirror: bool = True

    def __post_init__(self) -> None:
        if not 32 <= self.edge_size <= 2048:
            raise UserError(f"edge size must be 32..2048 pixels, got {self.edge_size}")
        if self.edges not in ("auto", "hed", "canny"):
            raise UserError(f"edges must be auto, hed or canny, not {self.edges!r}")
        if self.frame < 16 or self.frame % 8 or self.frame > 255:
            raise UserError(f"frame must be a multiple of 8 in 16..248, got {self.frame}")
        if not 32 <= self.cnn_size <= 512:
            raise UserError(f"cnn size must be 32..512 pixels, got {self.cnn_size}")
        if not 2 <= self.bins <= 16:
            raise UserError(f"orientation bins must be 2..16, got {self.bins}")
        weights = (self.weight_cnn, self.weight_hog, self.weight_chamfer)
        if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
            raise UserError("descriptor weights must be non-negative and not all zero")
        if self.shortlist < 1:
            raise UserError(f"shortlist must be at least 1, got {self.shortlist}")

    def index_key(self, method: str) -> dict:
        """What an index depends on: a cached index made with another key is rebuilt."""
        return {
            "edge_size": self.edge_size,
            "edges": method,
            "frame": self.frame,
            "cnn_size": self.cnn_size,
            "bins": self.bins,
            "cnn": CNNEncoder.signature,
        }


class Hit(NamedTuple):
    """One search result: the photo, its fused score (higher is better), whether the mirrored
    sketch matched better, and each descriptor's z-score."""

    path: Path
    score: float
    mirrored: bool
    scores: dict[str, float]


# --- edge maps of sketches --------------------------------------------------------------------------


def _gray(image: np.ndarray | torch.Tensor) -> np.ndarray:
    rgb = as_image_tensor(image)[0].numpy()
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def load_sketch(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a sketch file as ``H×W`` float gray in [0, 1]; unreadable files are a :class:`UserError`."""
    from neuroplay.vision.image import load_image

    return _gray(load_image(path))


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


# --- the normalised frame and the descriptors ------------------------------------------------------


def robust_box(edges: np.ndarray, margin: float = 0.06) -> tuple[float, float, float] | None:
    """The square ``(centre_y, centre_x, side)`` around the 2nd-98th percentile box of the edge
    pixels, widened by ``margin`` of its side on each side; ``None`` when there are no edges."""
    ys, xs = np.nonzero(edges)
    if len(ys) < 2:
        return None
    y0, y1 = np.percentile(ys, [2, 98])
    x0, x1 = np.percentile(xs, [2, 98])
    side = max(y1 - y0, x1 - x0, 8.0) * (1 + 2 * margin)
    return (y0 + y1) / 2, (x0 + x1) / 2, side


def frame_canvas(edges: np.ndarray, box: tuple[float, float, float], size: int) -> np.ndarray:
    """The edge map inside ``box`` resampled to ``size×size`` (float in [0, 1], 1 on a line)."""
    cy, cx, side = box
    scale = side / size
    # affine map from output pixel centres to input coordinates (PIL: x, y order)
    coeffs = (scale, 0.0, cx - side / 2, 0.0, scale, cy - side / 2)
    image = Image.fromarray(edges.astype(np.float32))
    if scale > 1:  # shrinking: spread each line so no pixel of it is lost
        image = Image.fromarray(ndimage.maximum_filter(edges.astype(np.float32), size=int(math.ceil(scale))))
    out = image.transform((size, size), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BILINEAR)
    return np.clip(np.asarray(out, dtype=np.float32) * 2.0, 0.0, 1.0)


def line_orientation(mask: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Direction of the lines through each pixel of a binary map, in [0, π) (x right, y down),
    from the smoothed structure tensor: lines run across the dominant gradient."""
    smooth = ndimage.gaussian_filter(mask.astype(np.float64), sigma)
    gy, gx = ndimage.sobel(smooth, 0), ndimage.sobel(smooth, 1)
    jxx = ndimage.gaussian_filter(gx * gx, 1.5)
    jyy = ndimage.gaussian_filter(gy * gy, 1.5)
    jxy = ndimage.gaussian_filter(gx * gy, 1.5)
    normal = 0.5 * np.arctan2(2 * jxy, jxx - jyy)
    return np.mod(normal + np.pi / 2, np.pi)


def orientation_bins(mask: np.ndarray, bins: int) -> np.ndarray:
    """Orientation bin (0..bins-1, centred on multiples of π/bins) of each pixel of ``mask``; -1 off it."""
    theta = line_orientation(mask)
    index = np.mod(np.round(theta / (np.pi / bins)).astype(np.int64), bins)
    return np.where(mask, index, -1)


def mirror_bins(bins_map: np.ndarray, bins: int) -> np.ndarray:
    """The bin map of the mirror image: flipped left-right, angles θ -> π - θ."""
    flipped = bins_map[:, ::-1]
    return np.where(flipped >= 0, np.mod(-flipped, bins), -1)


def hog_descriptor(canvas: np.ndarray) -> np.ndarray:
    """HOG of a line frame (blurred a little so nearby lines agree), L2-normalised, float32."""
    feature = hog(
        ndimage.gaussian_filter(canvas, 1.0),
        orientations=9,
        pixels_per_cell=(8, 8),
        cells_per_block=(2, 2),
        feature_vector=True,
    )
    return (feature / (np.linalg.norm(feature) + 1e-8)).astype(np.float32)


def chamfer_maps(bins_map: np.ndarray, bins: int, truncate: float) -> np.ndarray:
    """Per orientation bin, the distance to the nearest line pixel of that bin or a neighbour bin,
    truncated at ``truncate``: ``bins×S×S`` float32."""
    out = np.empty((bins, *bins_map.shape), dtype=np.float32)
    for b in range(bins):
        near = (bins_map == b) | (bins_map == (b + 1) % bins) | (bins_map == (b - 1) % bins)
        if near.any():
            out[b] = np.minimum(ndimage.distance_transform_edt(~near), truncate)
        else:
            out[b] = truncate
    return out


def _samples(bins_map: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``count`` line pixels ``(y, x, bin)`` (uint8), repeated to exactly ``count``; zeros if none."""
    ys, xs = np.nonzero(bins_map >= 0)
    if len(ys) == 0:
        return np.zeros((count, 3), dtype=np.uint8)
    pick = rng.choice(len(ys), count, replace=len(ys) < count)
    return np.column_stack([ys[pick], xs[pick], bins_map[ys[pick], xs[pick]]]).astype(np.uint8)


class CNNEncoder:
    """VGG16 ``relu3_3`` + ``relu4_3`` features of line frames (black lines on white), averaged
    over a 3×3 grid: where the shapes are matters as much as what they are (``relu5_3`` and
    global pooling did worse on the harness)."""

    layers = ("relu3_3", "relu4_3")
    grid = 3
    signature = "vgg16:relu3_3+relu4_3:grid3:sqrt"

    def __init__(self, size: int, device: torch.device | str = "cpu"):
        from neuroplay.vision.features import VGGFeatures

        self.size, self.device = size, torch.device(device)
        self.net = VGGFeatures(self.layers, device=self.device)

    def __call__(self, canvases: np.ndarray) -> np.ndarray:
        """``N×S×S`` line frames (1 on a line) -> ``N×D`` float32 descriptors, L2-normalised."""
        lines = torch.from_numpy(np.ascontiguousarray(canvases, dtype=np.float32)).to(self.device)
        lines = F.max_pool2d(lines.unsqueeze(1), 3, 1, 1)  # a pen line, not a hairline
        image = (1.0 - lines).expand(-1, 3, -1, -1)
        with torch.inference_mode():
            maps = self.net(image)
        parts = []
        for name in self.layers:
            grid = F.adaptive_avg_pool2d(maps[name], self.grid).flatten(1)
            parts.append(F.normalize(grid.sqrt(), dim=1))  # square root tames a few loud channels
        return F.normalize(torch.cat(parts, dim=1), dim=1).float().cpu().numpy()


@lru_cache(maxsize=2)
def _encoder(size: int, device: str) -> CNNEncoder:
    return CNNEncoder(size, device)


@dataclass
class Description:
    """What the index keeps of one edge map (the photo's, or the sketch's at search time)."""

    cnn: np.ndarray  # D, of the frame
    cnn_mirror: np.ndarray  # D, of the mirrored frame
    hog: np.ndarray  # Dh
    chamfer: np.ndarray  # bins×S×S distances (float32)
    samples: np.ndarray  # SAMPLES×3 (y, x, bin) of line pixels in the frame
    hog_mirror: np.ndarray | None = None  # of the mirrored frame (kept for sketches only)
    bins_map: np.ndarray | None = None  # S×S orientation bins, -1 off the lines (sketches only)


def describe(
    edges: np.ndarray, config: RetrievalConfig, device: str = "cpu", mirror_cnn: bool = True, cnn: bool = True
) -> Description:
    """Describe a one-pixel edge map in its normalised frame (a map without edges gives empty frames).

    ``mirror_cnn`` also runs the CNN on the mirrored frame (photos); ``cnn=False`` skips the CNN
    (its features come back empty: a query for a search that does not weigh them).
    """
    box = robust_box(edges) or (edges.shape[0] / 2, edges.shape[1] / 2, float(max(edges.shape)))
    small = frame_canvas(edges, box, config.frame)
    mask = small > 0.25
    bins_map = orientation_bins(mask, config.bins)
    features = np.zeros((2, 0), dtype=np.float32)
    if cnn:
        big = frame_canvas(edges, box, config.cnn_size)
        frames = np.stack([big, big[:, ::-1]]) if mirror_cnn else big[None]
        features = _encoder(config.cnn_size, str(device))(frames)
    rng = np.random.default_rng(int(mask.sum()))  # deterministic per edge map
    return Description(
        cnn=features[0],
        cnn_mirror=features[-1],
        hog=hog_descriptor(small),
        hog_mirror=hog_descriptor(small[:, ::-1].copy()),
        chamfer=chamfer_maps(bins_map, config.bins, config.frame / 4),
        samples=_samples(bins_map, SAMPLES, rng),
        bins_map=bins_map,
    )


def photo_edges(image: np.ndarray | torch.Tensor, config: RetrievalConfig, method: str, device: str) -> np.ndarray:
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


# --- the gallery index ---------------------------------------------------------------------------------


def gallery_files(gallery: str | os.PathLike[str]) -> list[Path]:
    """Image files under ``gallery`` (recursive, by suffix, hidden files and folders skipped), sorted."""
    root = Path(gallery)
    if not root.exists():
        raise UserError(f"gallery not found: {root}")
    if not root.is_dir():
        raise UserError(f"gallery {root} is not a directory")
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES:
                files.append(Path(dirpath) / name)
    return sorted(files)


def default_index_path(gallery: str | os.PathLike[str]) -> Path:
    """Where the index of ``gallery`` is cached: under the neuroplay cache, keyed by the gallery's path."""
    from neuroplay.vision.weights import cache_dir

    key = hashlib.sha256(str(Path(gallery).resolve()).encode()).hexdigest()[:20]
    return cache_dir() / "sketch-index" / f"{key}.pt"


@dataclass
class IndexStats:
    """What the last :func:`index_gallery` call did."""

    indexed: int = 0  # photos in the index now
    added: int = 0  # described in this call (new or changed)
    reused: int = 0  # taken unchanged from the cached index
    removed: int = 0  # dropped (file gone)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (relative path, why)
    seconds: float = 0.0


@dataclass
class _Entry:
    rel: str
    size: int
    mtime_ns: int
    shape: tuple[int, int]
    edges: np.ndarray  # packed bits of the edge map
    desc: Description


def _pack(entry: _Entry) -> dict:
    return {"rel": entry.rel, "size": entry.size, "mtime_ns": entry.mtime_ns, "shape": list(entry.shape)}


class GalleryIndex:
    """The described photos of one gallery folder, ready to search.

    Build or update it with :func:`index_gallery`; :meth:`search` ranks the photos for a sketch;
    :meth:`edge_map` gives a photo's one-pixel edge map (longer side ``config.edge_size``).
    """

    def __init__(self, root: Path, config: RetrievalConfig, method: str, entries: list[_Entry], device: str):
        self.root, self.config, self.method, self.device = root, config, method, device
        self._entries = entries
        self.stats = IndexStats(indexed=len(entries))
        self._stack()

    def _stack(self) -> None:
        d = [e.desc for e in self._entries]
        dims = (0, 0)
        if d:
            dims = (d[0].cnn.shape[0], d[0].hog.shape[0])
        self.cnn = np.stack([x.cnn for x in d]) if d else np.zeros((0, dims[0]), np.float32)
        self.cnn_mirror = np.stack([x.cnn_mirror for x in d]) if d else self.cnn
        self.hog = np.stack([x.hog for x in d]) if d else np.zeros((0, dims[1]), np.float32)
        self.chamfer = np.stack([x.chamfer for x in d]) if d else np.zeros((0,), np.float32)
        self.samples = np.stack([x.samples for x in d]).astype(np.int64) if d else np.zeros((0, SAMPLES, 3), np.int64)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def paths(self) -> list[Path]:
        """The indexed photos, in index order."""
        return [self.root / e.rel for e in self._entries]

    def edge_map(self, path: str | os.PathLike[str]) -> np.ndarray:
        """The one-pixel edge map (``H×W`` bool, longer side ``edge_size`` or the photo's own if
        smaller) of an indexed photo, by absolute path or path relative to the gallery."""
        path = Path(path)
        for entry in self._entries:
            if path == self.root / entry.rel or (not path.is_absolute() and str(path) == entry.rel):
                count = entry.shape[0] * entry.shape[1]
                return np.unpackbits(entry.edges, count=count).reshape(entry.shape).astype(bool)
        raise UserError(f"{path} is not in the index of {self.root}")

    # -- search --

    def describe_sketch(self, sketch: np.ndarray | torch.Tensor) -> Description:
        """The sketch's lines, described as the photos are (the CNN without a mirrored pass, and not
        at all when the configuration gives it no weight)."""
        return self._describe_query(sketch_edges(sketch, self.config.edge_size))

    def _describe_query(self, edges: np.ndarray) -> Description:
        cfg = self.config
        return describe(edges, cfg, self.device, mirror_cnn=False, cnn=cfg.weight_cnn > 0)

    def search(self, sketch: np.ndarray | torch.Tensor | Description, k: int = 5) -> list[Hit]:
        """The ``k`` photos that best match ``sketch`` (gray/RGB array or tensor, dark lines on
        light paper, or a :meth:`describe_sketch` result), best first."""
        if k < 1:
            raise UserError(f"k must be at least 1, got {k}")
        if len(self) == 0:
            raise UserError(f"the gallery {self.root} holds no usable images")
        cfg = self.config
        query = sketch if isinstance(sketch, Description) else self.describe_sketch(sketch)
        views = 2 if cfg.mirror else 1
        # rows: view (0 as drawn, 1 mirrored); the mirrored sketch against a photo equals the
        # sketch against the mirrored photo, which is what the gallery keeps for the CNN
        if query.cnn.size:
            cnn = np.stack([self.cnn @ query.cnn, self.cnn_mirror @ query.cnn])[:views]
        else:  # described without the CNN
            cnn = np.zeros((views, len(self)))
        hogs = np.stack([self.hog @ query.hog, self.hog @ query.hog_mirror])[:views]
        partial = cfg.weight_cnn * _z(cnn) + cfg.weight_hog * _z(hogs)
        best_partial = partial.max(axis=0)
        n_short = min(len(self), max(cfg.shortlist, k))
        short = np.argpartition(-best_partial, n_short - 1)[:n_short] if n_short < len(self) else np.arange(len(self))
        cham = np.stack([self._chamfer(query, short, mirrored=bool(v)) for v in range(views)])
        fused = partial[:, short] + cfg.weight_chamfer * _z(-cham)
        view = fused.argmax(axis=0)
        score = fused[view, np.arange(len(short))]
        order = np.argsort(-score, kind="stable")[:k]
        z_cnn, z_hog, z_cham = _z(cnn), _z(hogs), _z(-cham)
        hits = []
        for j in order:
            i, v = short[j], view[j]
            parts = {"cnn": float(z_cnn[v, i]), "hog": float(z_hog[v, i]), "chamfer": float(z_cham[v, j])}
            hits.append(Hit(self.root / self._entries[i].rel, float(score[j]), bool(v), parts))
        return hits

    def _chamfer(self, query: Description, items: np.ndarray, mirrored: bool) -> np.ndarray:
        """Oriented chamfer cost of the sketch (mirrored or not) against photos ``items`` (lower is better)."""
        cfg = self.config
        bins_map, sketch_maps = query.bins_map, query.chamfer
        if mirrored:  # bin b of the mirror image is bin -b of the sketch, flipped left-right
            bins_map = mirror_bins(bins_map, cfg.bins)
            sketch_maps = sketch_maps[(-np.arange(cfg.bins)) % cfg.bins, :, ::-1]
        ys, xs = np.nonzero(bins_map >= 0)
        truncate = cfg.frame / 4
        if len(ys) == 0:
            return np.ones(len(items))
        if len(ys) > 400:  # plenty for a mean; keeps the gather small
            keep = np.linspace(0, len(ys) - 1, 400).astype(np.int64)
            ys, xs = ys[keep], xs[keep]
        bs = bins_map[ys, xs]
        to_photo = self.chamfer[items[:, None], bs, ys, xs].mean(axis=1) / truncate
        pts = self.samples[items]  # K×SAMPLES×3
        to_sketch = sketch_maps[pts[..., 2], pts[..., 0], pts[..., 1]].mean(axis=1) / truncate
        return to_photo + 0.5 * to_sketch


def _z(scores: np.ndarray) -> np.ndarray:
    """Scores standardised over all their entries (every photo, both views); flat scores give zeros."""
    spread = scores.std()
    return (scores - scores.mean()) / spread if spread > 1e-9 else np.zeros_like(scores)


# --- building, caching and loading the index --------------------------------------------------------


def _save_index(path: Path, index: GalleryIndex, skipped: dict[str, dict]) -> None:
    entries = index._entries
    blob = {
        "kind": INDEX_KIND,
        "format_version": INDEX_VERSION,
        "root": str(index.root.resolve()),
        "key": index.config.index_key(index.method),
        "entries": [_pack(e) for e in entries],
        "skipped": skipped,
        "edges": [torch.from_numpy(e.edges) for e in entries],
        "cnn": torch.from_numpy(index.cnn).half(),
        "cnn_mirror": torch.from_numpy(index.cnn_mirror).half(),
        "hog": torch.from_numpy(index.hog).half(),
        "chamfer": torch.from_numpy(np.round(index.chamfer * 8).astype(np.uint8)) if entries else torch.zeros(0),
        "samples": torch.from_numpy(index.samples.astype(np.uint8)),
    }
    buf = io.BytesIO()
    torch.save(blob, buf)
    try:
        with atomic_open(path, "wb") as fh:
            fh.write(buf.getvalue())
    except OSError as exc:
        raise UserError(f"cannot write the gallery index {path} ({exc.strerror or exc})") from None


def _as_stored(desc: Description) -> Description:
    """``desc`` at the precision the index file keeps (float16 features, 1/8-pixel distances),
    so a fresh index and a loaded one rank alike."""
    return Description(
        cnn=desc.cnn.astype(np.float16).astype(np.float32),
        cnn_mirror=desc.cnn_mirror.astype(np.float16).astype(np.float32),
        hog=desc.hog.astype(np.float16).astype(np.float32),
        chamfer=np.round(desc.chamfer * 8) / 8,
        samples=desc.samples,
    )


def _load_index(path: Path, root: Path, key: dict) -> tuple[dict[str, _Entry], dict[str, dict]]:
    """Entries of a cached index that matches ``root`` and ``key`` (empty when there is none or
    it is unusable: a damaged index is simply rebuilt)."""
    if not path.is_file():
        return {}, {}
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if blob.get("kind") != INDEX_KIND or blob.get("format_version") != INDEX_VERSION:
            return {}, {}
        if blob.get("root") != str(root.resolve()) or blob.get("key") != key:
            return {}, {}
        cnn, cnn_m, hogs = blob["cnn"].float().numpy(), blob["cnn_mirror"].float().numpy(), blob["hog"].float().numpy()
        cham = blob["chamfer"].numpy().astype(np.float32) / 8.0
        samples = blob["samples"].numpy()
        entries = {}
        for i, meta in enumerate(blob["entries"]):
            desc = Description(cnn[i], cnn_m[i], hogs[i], cham[i], samples[i])
            stamp = (int(meta["size"]), int(meta["mtime_ns"]), tuple(meta["shape"]))
            entries[meta["rel"]] = _Entry(meta["rel"], *stamp, blob["edges"][i].numpy(), desc)
        return entries, dict(blob.get("skipped") or {})
    except Exception:  # a damaged or foreign file: rebuild rather than fail
        return {}, {}


def resolve_device(device: str) -> str:
    """``cpu`` or ``cuda`` for ``auto``/``cpu``/``cuda`` (``cuda`` without a GPU is a :class:`UserError`)."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for, but no CUDA GPU is available")
    if device not in ("cpu", "cuda"):
        raise UserError(f"device must be auto, cpu or cuda, not {device!r}")
    return device


def _warn(notify: Notify | None, message: str) -> None:
    if notify:
        notify(message)
    else:
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def index_gallery(
    gallery: str | os.PathLike[str],
    config: RetrievalConfig | None = None,
    device: str = "auto",
    index_path: str | os.PathLike[str] | None = None,
    notify: Notify | None = None,
    progress: Progress | None = None,
) -> GalleryIndex:
    """Index the photos under ``gallery`` (recursively), reusing the cached index where it can.

    A photo whose size and modification time are unchanged keeps its cached description; new or
    changed files are described, removed ones dropped. Unreadable or too small files are skipped
    with a warning (through ``notify``, else a :class:`RuntimeWarning`), not an error. The index is
    saved to ``index_path`` (default :func:`default_index_path`). A missing gallery, or one with
    no usable image, is a :class:`UserError`.
    """
    import time

    from neuroplay.vision.image import load_image

    start = time.perf_counter()
    config = config or RetrievalConfig()
    device = resolve_device(device)
    root = Path(gallery)
    files = gallery_files(root)
    if not files:
        raise UserError(f"the gallery {root} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    method = resolve_method(config.edges, notify)
    key = config.index_key(method)
    path = Path(index_path) if index_path is not None else default_index_path(root)
    cached, cached_skips = _load_index(path, root, key)
    entries, skipped, stats = [], {}, IndexStats()
    for n, file in enumerate(files):
        rel = file.relative_to(root).as_posix()
        if progress:
            progress(n, len(files), rel)
        try:
            st = file.stat()
        except OSError as exc:  # vanished or unreadable since the folder was listed
            skipped[rel] = {"size": -1, "mtime_ns": -1, "why": f"cannot read it ({exc.strerror or exc})"}
            continue
        old = cached.get(rel)
        if old is not None and (old.size, old.mtime_ns) == (st.st_size, st.st_mtime_ns):
            entries.append(old)
            stats.reused += 1
            continue
        bad = cached_skips.get(rel)
        if bad is not None and (bad["size"], bad["mtime_ns"]) == (st.st_size, st.st_mtime_ns):
            skipped[rel] = bad
            continue
        try:
            image = load_image(file)
            if min(image.shape[-2:]) < MIN_SIDE:
                raise UserError(f"{file} is smaller than {MIN_SIDE}×{MIN_SIDE} pixels")
        except UserError as exc:
            skipped[rel] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "why": str(exc)}
            continue
        edges = photo_edges(image, config, method, device)
        desc = _as_stored(describe(edges, config, device))
        entries.append(_Entry(rel, st.st_size, st.st_mtime_ns, edges.shape, np.packbits(edges), desc))
        stats.added += 1
    if progress:
        progress(len(files), len(files), "")
    stats.removed = len(set(cached) - {e.rel for e in entries})
    for rel, bad in skipped.items():
        _warn(notify, f"skipped {rel}: {bad['why']}")
    stats.skipped = [(rel, bad["why"]) for rel, bad in skipped.items()]
    if not entries:
        raise UserError(f"the gallery {root} holds no usable images ({len(skipped)} unreadable)")
    index = GalleryIndex(root, config, method, entries, device)
    if stats.added or stats.removed or set(skipped) != set(cached_skips) or not path.is_file():
        _save_index(path, index, skipped)
    stats.indexed = len(entries)
    stats.seconds = time.perf_counter() - start
    index.stats = stats
    return index


def search(
    sketch: np.ndarray | torch.Tensor | str | os.PathLike[str],
    gallery: str | os.PathLike[str],
    k: int = 5,
    config: RetrievalConfig | None = None,
    device: str = "auto",
    notify: Notify | None = None,
    progress: Progress | None = None,
) -> list[Hit]:
    """Rank the photos under ``gallery`` for ``sketch`` (a file path, or an array/tensor); best first.

    Indexes the gallery first (cached: only new or changed files cost time). Each :class:`Hit`
    has ``path`` and ``score``; ``[(h.path, h.score) for h in hits]`` is the plain ranking.
    """
    if isinstance(sketch, str | os.PathLike):
        sketch = load_sketch(sketch)
    config = config or RetrievalConfig()
    edges = sketch_edges(sketch, config.edge_size)  # a blank sketch fails before any indexing
    index = index_gallery(gallery, config, device=device, notify=notify, progress=progress)
    return index.search(index._describe_query(edges), k=k)


__all__ = [
    "GalleryIndex",
    "Hit",
    "IndexStats",
    "RetrievalConfig",
    "describe",
    "gallery_files",
    "index_gallery",
    "load_sketch",
    "search",
    "sketch_edges",
]
