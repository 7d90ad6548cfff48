"""Images as tensors: load, save, resize, built-in demo inputs, and the specs that name either.

An image here is a float tensor ``1×3×H×W`` with RGB values in ``[0, 1]``, the input that
:class:`~neuroplay.vision.features.VGGFeatures` expects. The demo inputs need no files and no
internet: photos bundled with scikit-image, and painting-like textures generated from a seed.
A *spec* is what a user types for an image: a file path, or ``demo:NAME`` for a built-in one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage
from scipy.spatial import cKDTree

from neuroplay.common.errors import UserError
from neuroplay.common.io import atomic_path, input_file
from neuroplay.common.outputs import builtin_name

SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
DEMO_CONTENTS = ("chelsea", "astronaut", "coffee", "rocket")  # bundled with scikit-image (no download)
DEMO_STYLES = ("swirl", "stripes", "mosaic")


# --- conversion ---------------------------------------------------------------------------------


def from_array(array: np.ndarray) -> torch.Tensor:
    """``H×W×3`` (or ``H×W`` gray) uint8 or float-in-[0,1] array -> ``1×3×H×W`` float tensor."""
    array = np.asarray(array)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"expected an H×W×3 image array, got shape {array.shape}")
    array = array[..., :3]
    scale = 255.0 if array.dtype == np.uint8 else 1.0
    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32) / scale)
    return tensor.permute(2, 0, 1).unsqueeze(0).clamp_(0.0, 1.0)


def to_array(image: torch.Tensor) -> np.ndarray:
    """``1×3×H×W`` or ``3×H×W`` tensor in [0, 1] -> ``H×W×3`` uint8 array (values clipped)."""
    if image.ndim == 4:
        if image.shape[0] != 1:
            raise ValueError(f"expected a single image, got a batch of {image.shape[0]}")
        image = image[0]
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"expected a 3×H×W image tensor, got shape {tuple(image.shape)}")
    array = image.detach().float().clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)
    return array.permute(1, 2, 0).cpu().numpy()


# --- files --------------------------------------------------------------------------------------


@contextlib.contextmanager
def opened_image(path: Path) -> Iterator[Image.Image]:
    """``path`` opened and decoded by Pillow (a truncated file fails here, not later); a file that
    is not an image, a decompression bomb or damaged data is a :class:`UserError` naming it."""
    try:
        with Image.open(path) as img:
            img.load()
            yield img
    except UnidentifiedImageError:
        raise UserError(f"{path} is not an image file (or not in a format Pillow reads)") from None
    except Image.DecompressionBombError:
        raise UserError(f"{path} is too large an image to open safely") from None
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or damaged data
        raise UserError(f"{path} is a damaged image ({' '.join(str(exc).split())})") from None


def load_image(path: str | os.PathLike[str], max_size: int | None = None) -> torch.Tensor:
    """Read an image file as a ``1×3×H×W`` tensor in [0, 1], upright (EXIF) and RGB.

    ``max_size`` shrinks it (keeping its aspect) so the longer side is at most that many pixels.
    A missing, unreadable or non-image file is a :class:`UserError`.
    """
    with opened_image(input_file(path, "an image file", "image")) as img:
        pixels = _pixels(ImageOps.exif_transpose(img))
    image = from_array(pixels)
    if max_size is not None:
        image = fit_within(image, max_size)
    return image


def _pixels(img: Image.Image) -> np.ndarray:
    """A decoded picture as an ``H×W×3`` uint8 array, or ``H×W`` floats in [0, 1] for gray
    deeper than 8 bits. Pillow opens a 16-bit gray PNG as ``I;16`` (older versions: ``I``), and its
    ``convert("RGB")`` clips those values at 255 instead of scaling them, turning nearly every
    pixel white; so they are scaled here. ``I`` (32-bit integers) is read as 16-bit too, the range
    a PNG holds and Pillow writes it in; larger values are white. 16-bit RGB needs nothing: Pillow
    reads it as 8-bit RGB."""
    if img.mode.startswith("I;16") or img.mode == "I":
        return np.clip(np.asarray(img, dtype=np.float32) / 65535.0, 0.0, 1.0)
    return np.asarray(img.convert("RGB"))


def save_image(image: torch.Tensor, path: str | os.PathLike[str], quality: int = 95) -> Path:
    """Write a ``1×3×H×W`` (or ``3×H×W``) image tensor to ``path`` atomically; PNG or JPEG by suffix."""
    path = Path(path)
    fmt = SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UserError(f"cannot save {path}: use a .png, .jpg or .jpeg file name")
    if path.is_dir():
        raise UserError(f"{path} is a directory, expected an image file name")
    picture = Image.fromarray(to_array(image), mode="RGB")
    try:
        with atomic_path(path) as tmp:
            picture.save(tmp, format=fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    except OSError as exc:
        raise UserError(f"cannot write {path} ({exc.strerror or exc})") from None
    return path


# --- sizes --------------------------------------------------------------------------------------


def resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resample ``image`` (``N×C×H×W``) to ``size = (height, width)``; antialiased when shrinking."""
    height, width = int(size[0]), int(size[1])
    if height < 1 or width < 1:
        raise UserError(f"image size must be positive, got {height}×{width}")
    if tuple(image.shape[-2:]) == (height, width):
        return image
    shrinking = height < image.shape[-2] or width < image.shape[-1]
    out = F.interpolate(image, size=(height, width), mode="bilinear", align_corners=False, antialias=shrinking)
    return out.clamp(0.0, 1.0)


def scaled_size(height: int, width: int, longest: int) -> tuple[int, int]:
    """``(h, w)`` with the same aspect as ``height×width`` and the longer side ``longest``."""
    if longest < 1:
        raise UserError(f"image size must be a positive number of pixels, got {longest}")
    scale = longest / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_longest(image: torch.Tensor, longest: int) -> torch.Tensor:
    """Resample ``image`` so its longer side is ``longest`` pixels, keeping its aspect."""
    return resize(image, scaled_size(image.shape[-2], image.shape[-1], longest))


def fit_within(image: torch.Tensor, max_size: int) -> torch.Tensor:
    """Shrink ``image`` so its longer side is at most ``max_size`` pixels (never enlarges)."""
    if max_size < 1:
        raise UserError(f"max size must be a positive number of pixels, got {max_size}")
    if max(image.shape[-2:]) <= max_size:
        return image
    return resize_longest(image, max_size)


# --- built-in inputs ----------------------------------------------------------------------------


def demo_content(name: str = "chelsea", max_size: int | None = None) -> torch.Tensor:
    """A photo bundled with scikit-image (no download): chelsea (a cat), astronaut, coffee, rocket."""
    if name not in DEMO_CONTENTS:
        raise UserError(f"unknown demo image {name!r}; choose one of: {', '.join(DEMO_CONTENTS)}")
    import skimage.data

    image = from_array(getattr(skimage.data, name)())
    return fit_within(image, max_size) if max_size is not None else image


def _size(size: int | tuple[int, int]) -> tuple[int, int]:
    height, width = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if height < 8 or width < 8:
        raise UserError(f"a demo style image needs at least 8×8 pixels, got {height}×{width}")
    return height, width


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-blurred white noise scaled to zero mean and unit spread."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (field - field.mean()) / (field.std() + 1e-8)


def _palette(t: np.ndarray, colors: list[tuple[int, int, int]]) -> np.ndarray:
    """Map ``t`` in [0, 1] along a piecewise-linear colour ramp -> ``H×W×3`` floats in [0, 1]."""
    stops = np.linspace(0.0, 1.0, len(colors))
    ramp = np.asarray(colors, dtype=np.float64) / 255.0
    return np.stack([np.interp(t, stops, ramp[:, c]) for c in range(3)], axis=-1)


def _smear(color: np.ndarray, flow_y: np.ndarray, flow_x: np.ndarray, length: int) -> np.ndarray:
    """Line-integral convolution: average ``color`` along the flow's streamline through each pixel.

    Short streaks of averaged colour that follow the flow read as brush strokes.
    """
    height, width = flow_y.shape
    total = color.copy()
    for sign in (1.0, -1.0):
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
        for _ in range(length):
            vy = ndimage.map_coordinates(flow_y, [ys, xs], order=1, mode="nearest")
            vx = ndimage.map_coordinates(flow_x, [ys, xs], order=1, mode="nearest")
            ys, xs = ys + sign * vy, xs + sign * vx
            for c in range(3):
                total[..., c] += ndimage.map_coordinates(color[..., c], [ys, xs], order=1, mode="nearest")
    return total / (2 * length + 1)


def _unit_flow(fy: np.ndarray, fx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    norm = np.sqrt(fy**2 + fx**2) + 1e-8
    return fy / norm, fx / norm


def _swirl(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Night-sky swirls: strokes circle round a few vortices, in blues with yellow eddies."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    scale = min(height, width)
    psi = 3.0 * _smooth_noise(rng, (height, width), scale / 10)  # stream function: flow runs along its contours
    for _ in range(rng.integers(3, 6)):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        radius = rng.uniform(0.08, 0.2) * scale
        psi += rng.choice([-1.0, 1.0]) * 6.0 * np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * radius**2))
    gy, gx = np.gradient(psi)
    flow_y, flow_x = _unit_flow(gx, -gy)  # perpendicular to the gradient: swirls, no sources
    tone = 0.5 + 0.25 * _smooth_noise(rng, (height, width), scale / 8) + 0.15 * np.tanh(psi / 3)
    tone += 0.2 * _smooth_noise(rng, (height, width), 1.0)  # grain a brush wide: smeared, it becomes strokes
    colors = [(12, 24, 70), (30, 70, 150), (70, 120, 190), (150, 180, 200), (230, 200, 90), (250, 230, 140)]
    color = _palette(np.clip(tone, 0, 1), colors)
    return _smear(color, flow_y, flow_x, length=max(4, scale // 24))


def _stripes(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Bold wavy bands of warm colour laid down with a broad brush."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    scale = min(height, width)
    angle = rng.uniform(0, np.pi)
    warp = 0.12 * scale * _smooth_noise(rng, (height, width), scale / 6)
    across = (ys * np.cos(angle) - xs * np.sin(angle) + warp) / scale
    bands = np.floor(across * rng.uniform(5, 8) + 100).astype(int)
    colors = np.array([(200, 60, 40), (240, 170, 50), (40, 90, 140), (235, 225, 200), (30, 30, 35), (120, 160, 90)])
    order = rng.permutation(len(colors))
    color = colors[order[bands % len(colors)]] / 255.0
    color = color + 0.08 * rng.standard_normal((height, width, 1)) + 0.04 * rng.standard_normal((height, width, 3))
    gy, gx = np.gradient(across)
    flow_y, flow_x = _unit_flow(gx, -gy)  # strokes run along the bands
    return _smear(np.clip(color, 0, 1), flow_y, flow_x, length=max(4, scale // 20))


def _mosaic(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Stained-glass cells: jewel colours in irregular tiles with dark leading between them."""
    n_cells = max(12, height * width // 900)
    seeds = np.column_stack([rng.uniform(0, height, n_cells), rng.uniform(0, width, n_cells)])
    ys, xs = np.mgrid[0:height, 0:width]
    warp = 0.03 * min(height, width) * _smooth_noise(rng, (height, width), min(height, width) / 12)
    points = np.column_stack([(ys + warp).ravel(), (xs - warp).ravel()])
    nearest, index = cKDTree(seeds).query(points, k=2)
    cell = index[:, 0].reshape(height, width)
    edge = (nearest[:, 1] - nearest[:, 0]).reshape(height, width)  # small near a border between panes
    palette = np.array([(150, 20, 40), (20, 60, 150), (230, 170, 30), (30, 120, 70), (110, 40, 120), (220, 110, 40)])
    color = palette[rng.integers(0, len(palette), n_cells)][cell] / 255.0
    color = color * (0.85 + 0.3 * rng.random((n_cells, 1))[cell])  # each pane its own shade
    color += 0.05 * _smooth_noise(rng, (height, width), 2.0)[..., None]
    lead = np.clip(edge / 2.5, 0.0, 1.0)[..., None]
    return np.clip(color, 0, 1) * lead + 0.06 * (1 - lead)


_STYLE_MAKERS = {"swirl": _swirl, "stripes": _stripes, "mosaic": _mosaic}


def demo_style(name: str = "swirl", size: int | tuple[int, int] = 256, seed: int = 0) -> torch.Tensor:
    """A painting-like style image generated in NumPy, the same for the same ``name``, ``size``, ``seed``.

    ``swirl``: swirling blue and yellow brush strokes (after a starry night); ``stripes``: bold
    wavy bands of colour; ``mosaic``: stained-glass panes. ``size`` is a side or ``(height, width)``.
    """
    maker = _STYLE_MAKERS.get(name)
    if maker is None:
        raise UserError(f"unknown demo style {name!r}; choose one of: {', '.join(DEMO_STYLES)}")
    height, width = _size(size)
    rng = np.random.default_rng([seed, DEMO_STYLES.index(name)])
    return from_array(np.clip(maker(rng, height, width), 0.0, 1.0).astype(np.float32))


# --- specs: a file or demo:NAME -----------------------------------------------------------------


def load_spec(spec: str | os.PathLike[str], max_size: int | None = None) -> torch.Tensor:
    """The image ``spec`` names: ``demo:NAME`` (a scikit-image photo, :func:`demo_content`) or a file.

    ``max_size`` shrinks it as in :func:`load_image`.
    """
    name = builtin_name(str(spec))
    return demo_content(name, max_size) if name is not None else load_image(spec, max_size)


def load_style_spec(spec: str | os.PathLike[str], size: int, seed: int) -> torch.Tensor:
    """The style image ``spec`` names: ``demo:NAME`` (a painting generated by :func:`demo_style`,
    ``size`` px square, from ``seed``) or a file (read at its own size)."""
    name = builtin_name(str(spec))
    return demo_style(name, size, seed) if name is not None else load_image(spec)
