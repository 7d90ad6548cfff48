"""Sketch–photo pairs for training retrieval, and drawings rendered the way the embedding sees them.

A *pairs folder* holds ``photos/`` and ``sketches/``, in any sub-folders: a drawing
``sketches/SUB/NAME.png`` or ``sketches/SUB/NAME-N.png`` (several drawings of one photo) pairs
with the photo ``photos/SUB/NAME.*`` (any image format). This is the Sketchy database's layout
(``photos/<category>/<id>.jpg``, ``sketches/<category>/<id>-<n>.png``). Photos without a drawing
stay in as negatives; drawings without a photo are left out and counted.

:func:`frame_drawing` puts a drawing's ink in a square frame the way the embedding sees it (dark
lines on white, the ink's box filling most of the frame); with a random generator it also draws
the drawing *as another person might have*: strokes left out, thicker or thinner lines, a
wobble, part of the drawing missing, another scale and position (:func:`augment_ink`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from neuroplay.common.errors import UserError

_NUMBERED = re.compile(r"^(?P<stem>.+)-\d+$")


@dataclass(frozen=True)
class PairSet:
    """What a pairs folder holds: every photo, and each drawing with the index of its photo."""

    root: Path
    photos: list[Path]
    sketches: list[Path]
    photo_of: list[int]  # for each sketch, its photo's index in ``photos``
    unpaired: int  # drawings whose photo is not there

    @property
    def groups(self) -> list[str]:
        """Each photo's sub-folder (its category, in the Sketchy layout)."""
        return [p.parent.relative_to(self.root / "photos").as_posix() for p in self.photos]


def find_pairs(folder: str | os.PathLike[str]) -> PairSet:
    """Read a pairs folder (see the module docstring); a missing folder, one without ``photos/``
    and ``sketches/``, or one with no pair is a :class:`UserError`."""
    from neuroplay.vision.sketch.index import IMAGE_SUFFIXES, gallery_files

    root = Path(folder)
    if not root.is_dir():
        raise UserError(f"pairs folder not found: {root}")
    photo_dir, sketch_dir = root / "photos", root / "sketches"
    if not photo_dir.is_dir() or not sketch_dir.is_dir():
        raise UserError(f"{root} needs a photos/ and a sketches/ folder (sketches/A/B-1.png pairs with photos/A/B.jpg)")
    photos = gallery_files(photo_dir)
    by_key = {p.relative_to(photo_dir).with_suffix("").as_posix(): i for i, p in enumerate(photos)}
    sketches, photo_of, unpaired = [], [], 0
    for path in gallery_files(sketch_dir):
        key = path.relative_to(sketch_dir).with_suffix("").as_posix()
        numbered = _NUMBERED.match(Path(key).name)
        candidates = [key] + ([Path(key).with_name(numbered["stem"]).as_posix()] if numbered else [])
        match = next((by_key[c] for c in candidates if c in by_key), None)
        if match is None:
            unpaired += 1
            continue
        sketches.append(path)
        photo_of.append(match)
    if not sketches:
        kinds = ", ".join(sorted(IMAGE_SUFFIXES))
        raise UserError(f"{root} holds no sketch–photo pair ({len(photos)} photos; image files: {kinds})")
    return PairSet(root, photos, sketches, photo_of, unpaired)


def augment_ink(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``ink`` (``H×W`` bool) as another drawer might have made it: some strokes left out, a part
    of the drawing missing, a gentle wobble, thinner or thicker lines."""
    ink = ink.copy()
    if rng.random() < 0.6:  # stroke dropout: connected pieces of ink
        pieces, n = ndimage.label(ndimage.binary_dilation(ink, iterations=1))
        if n > 2:
            drop = rng.random(n + 1) < rng.uniform(0.1, 0.3)
            drop[0] = False
            ink &= ~drop[pieces]
    if rng.random() < 0.25:  # a partial drawing: one side cut away
        ys, xs = np.nonzero(ink)
        if len(ys):
            angle = rng.uniform(0, 2 * np.pi)
            proj = ys * np.sin(angle) + xs * np.cos(angle)
            keep = proj <= np.quantile(proj, rng.uniform(0.75, 0.95))
            ink[ys[~keep], xs[~keep]] = False
    if rng.random() < 0.5:  # wobble: a smooth random displacement of a few pixels
        h, w = ink.shape
        amp = rng.uniform(1.0, 3.0) * max(h, w) / 256
        field = [ndimage.gaussian_filter(rng.standard_normal((h, w)), max(h, w) / 16) for _ in range(2)]
        field = [f / (np.abs(f).max() + 1e-9) * amp for f in field]
        grid = np.mgrid[0:h, 0:w].astype(np.float64)
        ink = ndimage.map_coordinates(ink.astype(np.float32), [grid[0] + field[0], grid[1] + field[1]], order=1) > 0.3
    width = int(rng.integers(-1, 3))  # -1 thins, 1-2 thicken
    if width > 0:
        ink = ndimage.binary_dilation(ink, iterations=width)
    elif width < 0:
        thinner = ndimage.binary_erosion(ink)
        ink = thinner if thinner.sum() > 0.3 * ink.sum() else ink
    return ink


def frame_drawing(ink: np.ndarray, size: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """A drawing's ink (``H×W`` bool) framed as ``size×size`` float gray, dark lines on white:
    the ink's box fills 85% of the frame, centred. With ``rng``, first :func:`augment_ink`, then
    a random fill (60-95%) and shift."""
    if rng is not None:
        ink = augment_ink(ink, rng)
    ys, xs = np.nonzero(ink)
    canvas = np.zeros((size, size), np.float32)
    if len(ys) == 0:
        return 1.0 - canvas
    crop = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32)
    fill = 0.85 if rng is None else rng.uniform(0.6, 0.95)
    scale = fill * size / max(crop.shape)
    h, w = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    small = np.asarray(Image.fromarray(crop).resize((w, h), resample), np.float32)
    top, left = (size - h) // 2, (size - w) // 2
    if rng is not None:
        slack = size // 16
        top = int(np.clip(top + rng.integers(-slack, slack + 1), 0, size - h))
        left = int(np.clip(left + rng.integers(-slack, slack + 1), 0, size - w))
    canvas[top : top + h, left : left + w] = np.clip(small * (1.5 if scale < 1 else 1.0), 0, 1)
    return 1.0 - canvas
