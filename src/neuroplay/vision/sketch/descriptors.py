"""What sketch retrieval compares: three descriptors of a line map in its normalised frame.

The *normalised frame* is the square around the lines' robust bounding box (2nd to 98th
percentile of the line pixels, plus a margin), so a sketch drawn small, large or off-centre lands
in the same frame as the photo's object (:func:`robust_box`, :func:`frame_canvas`).
:func:`describe` gives a :class:`Description`:

- ``cnn``: ImageNet VGG16 features of the frame drawn as black lines on white
  (:class:`CNNEncoder`); of the mirrored frame too, for photos, so a query needs one pass.
- ``hog``: histogram of oriented gradients of the blurred frame (:func:`hog_descriptor`).
- ``chamfer``: per orientation bin, the truncated distance to the nearest line of that bin or a
  neighbour (:func:`chamfer_maps`), and ``samples`` of line pixels for the reverse direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy import ndimage
from skimage.feature import hog

from neuroplay.vision.sketch.config import RetrievalConfig

SAMPLES = 256  # photo edge points kept for the photo-to-sketch half of the chamfer distance


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

    def __init__(self, size: int, device: torch.device | str = "cpu", bf16: bool = False):
        from neuroplay.vision.features import VGGFeatures

        self.size, self.device, self.bf16 = size, torch.device(device), bf16
        self.net = VGGFeatures(self.layers, device=self.device)

    def __call__(self, canvases: np.ndarray) -> np.ndarray:
        """``N×S×S`` line frames (1 on a line) -> ``N×D`` float32 descriptors, L2-normalised."""
        lines = torch.from_numpy(np.ascontiguousarray(canvases, dtype=np.float32)).to(self.device)
        lines = F.max_pool2d(lines.unsqueeze(1), 3, 1, 1)  # a pen line, not a hairline
        image = (1.0 - lines).expand(-1, 3, -1, -1)
        with torch.inference_mode(), torch.autocast(self.device.type, torch.bfloat16, enabled=self.bf16):
            maps = self.net(image)
        parts = []
        for name in self.layers:
            grid = F.adaptive_avg_pool2d(maps[name].float(), self.grid).flatten(1)
            parts.append(F.normalize(grid.sqrt(), dim=1))  # square root tames a few loud channels
        return F.normalize(torch.cat(parts, dim=1), dim=1).float().cpu().numpy()


@lru_cache(maxsize=4)
def _encoder(size: int, device: str, bf16: bool) -> CNNEncoder:
    return CNNEncoder(size, device, bf16)


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
    embed: np.ndarray | None = None  # embedding features (F: a photo as it is, a sketch as drawn)


def describe(
    edges: np.ndarray,
    config: RetrievalConfig,
    device: torch.device | str = "cpu",
    mirror_cnn: bool = True,
    cnn: bool = True,
    precision: str = "fp32",
) -> Description:
    """Describe a one-pixel edge map in its normalised frame (a map without edges gives empty frames).

    ``mirror_cnn`` also runs the CNN on the mirrored frame (photos); ``cnn=False`` skips the CNN
    (its features come back empty: a query for a search that does not weigh them). ``precision``
    (resolved: ``fp32`` or ``bf16``) is the CNN's; an index and its queries use the same.
    """
    box = robust_box(edges) or (edges.shape[0] / 2, edges.shape[1] / 2, float(max(edges.shape)))
    small = frame_canvas(edges, box, config.frame)
    mask = small > 0.25
    bins_map = orientation_bins(mask, config.bins)
    features = np.zeros((2, 0), dtype=np.float32)
    if cnn:
        big = frame_canvas(edges, box, config.cnn_size)
        frames = np.stack([big, big[:, ::-1]]) if mirror_cnn else big[None]
        features = _encoder(config.cnn_size, str(device), precision == "bf16")(frames)
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
