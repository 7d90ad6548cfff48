"""Line drawings the project makes itself: built-in sample sketches, a built-in photo gallery, and
hand-like sketches drawn from any photo.

- :data:`BUILTIN_GALLERY`: photos bundled with scikit-image (no download), written out by
  :func:`write_builtin_gallery` so they can be indexed like any folder.
- :func:`sample_sketch`: hand-coded strokes (``cup``, ``cat``, ``rocket``, ``astronaut``) laid over
  the built-in photo each depicts, plus ``horse``, traced from the outline of the horse silhouette;
  drawn with a little wobble so they look drawn, with closed outlines so they can be coloured.
- :func:`synthetic_sketch`: a photo's main edge contours, simplified, partly dropped, slightly
  misplaced and redrawn with wobble, varying thickness and small gaps; the same for the same seed.

A sketch is an ``H×W`` uint8 array: 255 paper, 0 ink. Points are ``(y, x)`` pixel coordinates.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from scipy import ndimage

from neuroplay.common.errors import UserError
from neuroplay.common.io import atomic_path

# name -> what it shows; every one ships inside scikit-image, so it works offline
BUILTIN_GALLERY: dict[str, str] = {
    "astronaut": "an astronaut in an orange suit holding a helmet",
    "brick": "a brick wall",
    "camera": "a man with a camera on a tripod (gray)",
    "cell": "a cell under a microscope (gray)",
    "chelsea": "a tabby cat's face",
    "clock": "a blurred wall clock (gray)",
    "coffee": "a cup of coffee on a saucer",
    "coins": "rows of coins (gray)",
    "colorwheel": "a colour wheel",
    "grass": "grass (gray)",
    "gravel": "gravel (gray)",
    "horse": "a horse silhouette",
    "hubble_deep_field": "galaxies in the Hubble deep field",
    "immunohistochemistry": "stained tissue",
    "logo": "the scikit-image logo",
    "moon": "the moon's surface (gray)",
    "page": "a page of text (gray)",
    "rocket": "a rocket on its launch pad",
    "text": "handwriting on a board (gray)",
}

# sample sketch -> the built-in photo it was drawn over
SAMPLE_SKETCHES: dict[str, str] = {
    "cup": "coffee",
    "cat": "chelsea",
    "rocket": "rocket",
    "astronaut": "astronaut",
    "horse": "horse",
}


def builtin_photo(name: str) -> np.ndarray:
    """A built-in gallery photo as an ``H×W×3`` uint8 array (gray and binary images made RGB)."""
    if name not in BUILTIN_GALLERY:
        raise UserError(f"unknown built-in photo {name!r}; choose one of: {', '.join(BUILTIN_GALLERY)}")
    import skimage.data

    array = np.asarray(getattr(skimage.data, name)())
    if array.dtype == bool:
        array = np.where(array, 255, 0).astype(np.uint8)
    elif array.dtype != np.uint8:
        array = np.clip(array * 255.0, 0, 255).astype(np.uint8)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    return np.ascontiguousarray(array[..., :3])


def write_builtin_gallery(folder: str | os.PathLike[str], names: list[str] | None = None) -> list[Path]:
    """Write built-in photos (all, or ``names``) into ``folder`` as ``NAME.png``; return their paths."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder} exists and is not a directory")
    paths = []
    for name in names or list(BUILTIN_GALLERY):
        path = folder / f"{name}.png"
        with atomic_path(path) as tmp:
            Image.fromarray(builtin_photo(name)).save(tmp, format="PNG")
        paths.append(path)
    return paths


def builtin_gallery_dir() -> Path:
    """The built-in gallery as a folder of PNGs under the neuroplay cache (written on first use)."""
    from neuroplay.vision.weights import cache_dir

    folder = cache_dir() / "builtin-gallery"
    missing = [name for name in BUILTIN_GALLERY if not (folder / f"{name}.png").is_file()]
    if missing:
        try:
            write_builtin_gallery(folder, missing)
        except OSError as exc:
            raise UserError(f"cannot write the built-in gallery to {folder} ({exc.strerror or exc})") from None
    return folder


# --- strokes -----------------------------------------------------------------------------------------


def _ellipse(cx: float, cy: float, rx: float, ry: float, start: float = 0.0, end: float = 360.0) -> np.ndarray:
    """Points ``(y, x)`` (in units of the frame) along an ellipse arc from ``start`` to ``end`` degrees."""
    t = np.radians(np.linspace(start, end, max(12, int(abs(end - start) / 6)) + 1))
    return np.column_stack([cy + ry * np.sin(t), cx + rx * np.cos(t)])


def _poly(*points: tuple[float, float], closed: bool = False) -> np.ndarray:
    """A polyline through ``(x, y)`` points (written x first, as one reads a picture), as ``(y, x)``."""
    array = np.array([(y, x) for x, y in points], dtype=np.float64)
    return np.vstack([array, array[:1]]) if closed else array


def _chaikin(points: np.ndarray, rounds: int = 2) -> np.ndarray:
    """Round a polyline's corners (Chaikin's corner cutting); ends stay put unless it is closed."""
    closed = len(points) > 2 and np.allclose(points[0], points[-1])
    for _ in range(rounds):
        if len(points) < 3:
            return points
        a, b = points[:-1], points[1:]
        cut = np.empty((2 * len(a), 2))
        cut[0::2], cut[1::2] = 0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b
        points = np.vstack([cut, cut[:1]]) if closed else np.vstack([points[:1], cut, points[-1:]])
    return points


def _sample_strokes(name: str) -> list[np.ndarray]:
    """The strokes of a sample sketch in units of its photo's frame (``y`` down, both in [0, 1])."""
    if name == "cup":
        return [
            _ellipse(0.46, 0.58, 0.34, 0.38),  # saucer
            _ellipse(0.49, 0.275, 0.195, 0.225),  # rim
            _ellipse(0.48, 0.34, 0.14, 0.13),  # coffee
            _chaikin(_poly((0.30, 0.30), (0.32, 0.46), (0.37, 0.58), (0.48, 0.63), (0.59, 0.58), (0.65, 0.45))),
            _chaikin(_poly((0.38, 0.58), (0.33, 0.60), (0.32, 0.71), (0.37, 0.76), (0.41, 0.72), (0.41, 0.62))),
            _ellipse(0.61, 0.71, 0.065, 0.09),  # spoon bowl
            _poly((0.625, 0.62), (0.69, 0.18)),  # spoon handle
        ]
    if name == "cat":
        return [
            _ellipse(0.375, 0.38, 0.075, 0.095),  # eyes and pupils
            _ellipse(0.385, 0.37, 0.02, 0.065),
            _ellipse(0.705, 0.44, 0.06, 0.085),
            _ellipse(0.69, 0.44, 0.018, 0.06),
            _chaikin(_poly((0.51, 0.76), (0.65, 0.77), (0.59, 0.88), (0.56, 0.87), closed=True), 1),  # nose
            _chaikin(_poly((0.50, 0.97), (0.575, 0.93), (0.575, 0.88))),  # mouth
            _chaikin(_poly((0.575, 0.93), (0.66, 0.96))),
            _chaikin(_poly((0.13, 0.0), (0.06, 0.35), (0.12, 0.72), (0.27, 0.99))),  # cheeks
            _chaikin(_poly((0.80, 0.04), (0.86, 0.45), (0.79, 0.79), (0.72, 0.99))),
            _chaikin(_poly((0.77, 0.10), (0.86, 0.0), (0.95, 0.22))),  # ear
            _poly((0.42, 0.80), (0.05, 0.72)),  # whiskers
            _poly((0.42, 0.84), (0.08, 0.88)),
            _poly((0.69, 0.82), (0.97, 0.76)),
            _poly((0.69, 0.86), (0.95, 0.90)),
            _chaikin(_poly((0.45, 0.08), (0.47, 0.25), (0.44, 0.40))),  # forehead stripes
            _chaikin(_poly((0.55, 0.06), (0.56, 0.30), (0.53, 0.45))),
        ]
    if name == "rocket":
        return [
            _poly(
                (0.487, 0.93),
                (0.487, 0.36),
                (0.494, 0.31),
                (0.502, 0.29),
                (0.510, 0.31),
                (0.518, 0.36),
                (0.518, 0.93),
                closed=True,
            ),  # fmt: skip
            _poly((0.48, 0.40), (0.525, 0.40)),
            _poly((0.285, 0.95), (0.305, 0.45), (0.31, 0.29), (0.315, 0.45), (0.33, 0.95)),  # pylons
            _poly((0.685, 0.95), (0.70, 0.45), (0.705, 0.29), (0.71, 0.45), (0.73, 0.95)),
            _poly((0.105, 0.0), (0.105, 0.96)),  # service towers
            _poly((0.135, 0.0), (0.13, 0.96)),
            _poly((0.0, 0.96), (0.105, 0.25)),
            _poly((0.875, 0.0), (0.88, 0.96)),
            _poly((0.905, 0.0), (0.91, 0.96)),
            _poly((1.0, 0.96), (0.905, 0.25)),
            _poly((0.42, 1.0), (0.43, 0.93), (0.58, 0.93), (0.59, 1.0)),  # launch pad
        ]
    if name == "astronaut":
        return [
            _chaikin(
                _poly(
                    (0.31, 0.30),
                    (0.29, 0.12),
                    (0.36, 0.04),
                    (0.47, 0.03),
                    (0.57, 0.10),
                    (0.58, 0.20),
                    (0.53, 0.30),
                    (0.43, 0.33),
                    closed=True,
                )
            ),  # fmt: skip
            _ellipse(0.41, 0.43, 0.18, 0.13),  # neck ring
            _chaikin(_poly((0.24, 0.42), (0.08, 0.55), (0.04, 0.80), (0.05, 1.0))),  # suit
            _chaikin(_poly((0.58, 0.50), (0.68, 0.60), (0.70, 0.70))),
            _ellipse(0.76, 0.88, 0.21, 0.21, 180.0, 360.0),  # helmet
            _ellipse(0.76, 0.88, 0.21, 0.21, 90.0, 180.0),
            _ellipse(0.33, 0.75, 0.07, 0.07),  # patch
            _poly(
                (0.76, 0.10),
                (0.79, 0.0),
                (0.83, 0.0),
                (0.85, 0.10),
                (0.86, 0.40),
                (0.90, 0.48),
                (0.70, 0.48),
                (0.74, 0.40),
                closed=True,
            ),  # fmt: skip
        ]
    if name == "horse":
        from skimage.measure import approximate_polygon, find_contours  # scipy.signal: slow to import

        outline = builtin_photo("horse")[..., 0] < 128
        contour = max(find_contours(np.pad(outline, 1).astype(float), 0.5), key=len) - 1.0
        contour = approximate_polygon(contour, tolerance=2.0)
        return [contour / np.array(outline.shape, dtype=np.float64)]
    raise UserError(f"unknown sample sketch {name!r}; choose one of: {', '.join(SAMPLE_SKETCHES)}")


def _resample(points: np.ndarray, step: float) -> np.ndarray:
    """Points every ``step`` pixels along a polyline (ends kept)."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    if arc[-1] < 1e-9:
        return points[:1]
    s = np.linspace(0.0, arc[-1], max(2, int(math.ceil(arc[-1] / step)) + 1))
    return np.column_stack([np.interp(s, arc, points[:, 0]), np.interp(s, arc, points[:, 1])])


def _wobble(points: np.ndarray, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """Push a densely sampled polyline sideways by a smooth random wave: a hand's slow drift."""
    if len(points) < 3 or amplitude <= 0:
        return points
    tangent = np.gradient(points, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True) + 1e-9
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    s = np.linspace(0.0, 1.0, len(points))
    length = len(points)
    shift = np.zeros(len(points))
    for _ in range(3):  # wavelengths of 40-160 px, however long the stroke
        cycles = length / rng.uniform(40.0, 160.0)
        shift += rng.normal(0.0, 1.0) * np.sin(2 * np.pi * (cycles * s + rng.uniform()))
    shift = amplitude * shift / 1.7
    return points + normal * shift[:, None] + rng.normal(0.0, 0.25 * amplitude, 2)


def render_strokes(
    strokes: list[np.ndarray],
    shape: tuple[int, int],
    seed: int = 0,
    width: float = 2.0,
    wobble: float = 1.5,
    gaps: float = 0.0,
    supersample: int = 3,
) -> np.ndarray:
    """Draw polylines (``(y, x)`` pixel coordinates) as pen strokes on white paper.

    Each stroke gets a smooth sideways ``wobble`` (pixels), a thickness that varies around
    ``width`` (pixels) along it, and, with probability ``gaps`` per 100 pixels of length, a small
    break. Rendered ``supersample`` times larger and shrunk, so lines are antialiased.
    Returns ``H×W`` uint8, 255 paper and 0 ink; the same seed gives the same picture.
    """
    height, width_px = int(shape[0]), int(shape[1])
    rng = np.random.default_rng(seed)
    ss = supersample
    paper = Image.new("L", (width_px * ss, height * ss), 255)
    pen = ImageDraw.Draw(paper)
    for stroke in strokes:
        points = np.asarray(stroke, dtype=np.float64)
        if len(points) < 2:
            continue
        points = _wobble(_resample(points, 1.5), rng, wobble)
        pieces = [points]
        if gaps > 0:  # break the stroke where the pen lifted
            n_gaps = rng.poisson(gaps * len(points) * 1.5 / 100.0)
            cuts = np.sort(rng.integers(4, max(5, len(points) - 4), n_gaps)) if len(points) > 12 else []
            pieces, start = [], 0
            for cut in cuts:
                if cut - 1 > start:
                    pieces.append(points[start : cut - 1])
                start = cut + int(rng.integers(2, 4))
            pieces.append(points[start:])
        base = width * rng.uniform(0.8, 1.25)
        for piece in pieces:
            if len(piece) < 2:
                continue
            phase, cycles = rng.uniform(0, 2 * np.pi), rng.uniform(0.5, 2.0)
            for i in range(0, len(piece) - 1, 6):  # pressure changes slowly along the stroke
                chunk = piece[i : i + 7]
                t = (i + 3) / max(1, len(piece))
                w = base * (0.8 + 0.2 * math.sin(2 * math.pi * cycles * t + phase))
                xy = [(float(x) * ss + ss / 2, float(y) * ss + ss / 2) for y, x in chunk]
                pen.line(xy, fill=0, width=max(1, round(w * ss)), joint="curve")
                r = w * ss / 2  # round caps, so chunks join without notches
                for x, y in (xy[0], xy[-1]):
                    pen.ellipse((x - r, y - r, x + r, y + r), fill=0)
    return np.asarray(paper.resize((width_px, height), Image.Resampling.BOX), dtype=np.uint8)


def sample_sketch(name: str, size: int = 256, seed: int = 0) -> np.ndarray:
    """A built-in sample sketch (see :data:`SAMPLE_SKETCHES`) with the aspect of the photo it depicts,
    its longer side ``size`` pixels; ``H×W`` uint8, 255 paper, 0 ink."""
    if name not in SAMPLE_SKETCHES:
        raise UserError(f"unknown sample sketch {name!r}; choose one of: {', '.join(SAMPLE_SKETCHES)}")
    if size < 32:
        raise UserError(f"a sample sketch needs at least 32 pixels, got {size}")
    photo_h, photo_w = builtin_photo(SAMPLE_SKETCHES[name]).shape[:2]
    scale = size / max(photo_h, photo_w)
    height, width = max(1, round(photo_h * scale)), max(1, round(photo_w * scale))
    frame = np.array([height - 1, width - 1], dtype=np.float64)
    strokes = [stroke * frame for stroke in _sample_strokes(name)]
    return render_strokes(strokes, (height, width), seed=seed, width=max(1.5, size / 128), wobble=size / 200)


# --- hand-like sketches from photos ------------------------------------------------------------------

_STEPS = [(0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1)]  # 4-neighbours first


def trace_strokes(edges: np.ndarray, min_length: int = 8) -> list[np.ndarray]:
    """Split a one-pixel edge map into ordered polylines (``(y, x)`` int arrays), longest first.

    Each stroke is walked from an end point (a pixel with one neighbour) as far as it goes; at a
    junction the walk follows one branch and the others become strokes of their own. Strokes
    shorter than ``min_length`` pixels are dropped.
    """
    edges = np.asarray(edges, dtype=bool)
    neighbours = ndimage.convolve(edges.astype(np.int32), np.ones((3, 3), np.int32), mode="constant") - 1
    height, width = edges.shape
    visited = np.zeros_like(edges)
    ends = [tuple(p) for p in np.argwhere(edges & (neighbours == 1))]
    rest = [tuple(p) for p in np.argwhere(edges & (neighbours != 1))]
    strokes = []
    for start in ends + rest:  # ends first, so open curves are walked end to end
        if visited[start]:
            continue
        path = [start]
        visited[start] = True
        y, x = start
        while True:
            for dy, dx in _STEPS:
                ny, nx = y + dy, x + dx
                if 0 <= ny < height and 0 <= nx < width and edges[ny, nx] and not visited[ny, nx]:
                    break
            else:
                break
            y, x = ny, nx
            visited[y, x] = True
            path.append((y, x))
        if len(path) >= min_length:
            strokes.append(np.array(path, dtype=np.int32))
    strokes.sort(key=len, reverse=True)
    return strokes


def _main_strokes(strokes: list[np.ndarray], keep_length: float, max_strokes: int) -> list[np.ndarray]:
    """The longest strokes that together hold ``keep_length`` of all the ink (at most ``max_strokes``)."""
    total = sum(len(s) for s in strokes)
    kept, length = [], 0
    for stroke in strokes[:max_strokes]:
        if length >= keep_length * total:
            break
        kept.append(stroke)
        length += len(stroke)
    return kept


def _jitter(shape: tuple[int, int], rng: np.random.Generator, amount: float):
    """A small random similarity transform about the picture's centre (a sketch is never exactly in place)."""
    angle = np.radians(rng.uniform(-4.0, 4.0) * amount)
    scale = 1.0 + rng.uniform(-0.06, 0.06) * amount
    shift = rng.uniform(-0.03, 0.03, 2) * np.array(shape) * amount
    centre = (np.array(shape, dtype=np.float64) - 1) / 2
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return lambda pts: (pts - centre) @ rot.T + centre + shift


def synthetic_sketch(
    photo: np.ndarray | torch.Tensor,
    seed: int = 0,
    size: int = 256,
    edges: np.ndarray | None = None,
    method: str = "auto",
    keep_length: float = 0.85,
    drop: float = 0.25,
    wobble: float = 1.0,
    jitter: float = 1.0,
) -> np.ndarray:
    """A hand-like line drawing of ``photo`` (``H×W×3`` array or ``1×3×H×W`` tensor), longer side ``size``.

    The photo's strong edges (HED, or Canny; or the one-pixel ``edges`` given, at the sketch's
    size) are traced into strokes; the longest ones holding ``keep_length`` of the ink are kept,
    each further stroke but the two longest is dropped with probability ``drop`` and some are cut
    short; the rest are simplified to polygons, rounded, moved by a small random rotation,
    scaling and shift (up to ±4°, ±6%, ±3%, times ``jitter``), and drawn with ``wobble``
    (× 1% of ``size`` pixels of sideways drift), varying thickness and small gaps.
    Returns ``H×W`` uint8 (255 paper, 0 ink).
    """
    from neuroplay.vision.sketch.edges import as_image_tensor, canny_edges, hed_edges, resolve_method, thin_edges

    if size < 32:
        raise UserError(f"a sketch needs at least 32 pixels, got {size}")
    rng = np.random.default_rng(seed)
    image = as_image_tensor(photo)
    scale = size / max(image.shape[-2:])
    shape = (max(1, round(image.shape[-2] * scale)), max(1, round(image.shape[-1] * scale)))
    if edges is None:
        small = torch.nn.functional.interpolate(image, size=shape, mode="bilinear", antialias=True)
        if resolve_method(method) == "hed":  # only the strong contours: a person draws few lines
            lines = thin_edges(hed_edges(small), low=0.3, high=0.6, min_size=max(8, size // 20))
        else:
            lines = canny_edges(small)
    else:
        lines = np.asarray(edges, dtype=bool)
        shape = lines.shape
    strokes = _main_strokes(trace_strokes(lines, min_length=max(6, size // 25)), keep_length, max_strokes=60)
    if not strokes:
        return np.full(shape, 255, dtype=np.uint8)
    from skimage.measure import approximate_polygon  # scipy.signal: slow to import

    move = _jitter(shape, rng, jitter)
    drawn = []
    for i, stroke in enumerate(strokes):
        if i >= 2 and rng.random() < drop:
            continue
        if len(stroke) > 20 and rng.random() < 0.3:  # the pen stopped early (or started late)
            cut = int(len(stroke) * rng.uniform(0.1, 0.35))
            stroke = stroke[cut:] if rng.random() < 0.5 else stroke[:-cut]
        polygon = approximate_polygon(stroke.astype(np.float64), tolerance=max(1.0, size / 200))
        drawn.append(move(_chaikin(polygon)))
    return render_strokes(
        drawn, shape, seed=int(rng.integers(2**31)), width=max(1.2, size / 160), wobble=wobble * size / 100, gaps=0.3
    )
