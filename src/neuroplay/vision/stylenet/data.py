"""The photos a style network trains on: every image under some folders, served as random crops.

Batch ``k`` is drawn from a generator seeded by ``(seed, k)`` alone, so a resumed run sees exactly
the batches the uninterrupted run would have, with no sampler state to save. Each crop is a photo
scaled so its shorter side is 1 to 1.5 crop sides (objects at several sizes), cut at a random place
and mirrored half the time. A file that cannot be decoded is passed over for the next one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from neuroplay.common.errors import UserError
from neuroplay.common.outputs import IMAGE_SUFFIXES
from neuroplay.common.seeding import derive_seed

CROP_PURPOSE = 1  # derive_seed key: the crops (other keys: 2 the network's initialisation)


def image_files(
    folders: Sequence[str | os.PathLike[str]], exclude: Iterable[str | os.PathLike[str]] = ()
) -> list[Path]:
    """Every ``.png``/``.jpg``/``.jpeg`` under ``folders`` (recursively, sorted), less ``exclude``.

    A folder that does not exist, or no image at all, is a :class:`UserError`.
    """
    skip = {Path(p).resolve() for p in exclude}
    found: list[Path] = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise UserError(
                f"content folder not found: {folder}" if not folder.exists() else f"{folder} is not a folder"
            )
        found += sorted(
            p
            for p in folder.rglob("*")
            if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and p.resolve() not in skip
        )
    if not found:
        raise UserError(f"no images (.png, .jpg, .jpeg) in {', '.join(map(str, folders))}")
    return found


def _crop(path: Path, crop: int, rng: np.random.Generator) -> np.ndarray | None:
    """One random ``crop×crop×3`` uint8 crop of the photo at ``path``; ``None`` if it cannot be read."""
    try:
        with Image.open(path) as img:
            img.draft("RGB", (crop, crop))  # JPEG: decode at a reduced size when that is still big enough
            img = ImageOps.exif_transpose(img).convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    short = crop * rng.uniform(1.0, 1.5)
    scale = short / min(img.size)
    w, h = max(crop, round(img.size[0] * scale)), max(crop, round(img.size[1] * scale))
    img = img.resize((w, h), Image.Resampling.BILINEAR, reducing_gap=2.0)
    x, y = int(rng.integers(0, w - crop + 1)), int(rng.integers(0, h - crop + 1))
    pixels = np.asarray(img)[y : y + crop, x : x + crop]
    return pixels[:, ::-1] if rng.random() < 0.5 else pixels


def batch(files: Sequence[Path], step: int, size: int, crop: int, seed: int) -> torch.Tensor:
    """Batch number ``step``: ``size×3×crop×crop`` floats in [0, 1], the same for the same arguments."""
    rng = np.random.default_rng(derive_seed(seed, CROP_PURPOSE, step))
    crops = []
    for index in rng.integers(0, len(files), size):
        for tries in range(len(files)):  # an unreadable file: the next one
            pixels = _crop(files[(int(index) + tries) % len(files)], crop, rng)
            if pixels is not None:
                crops.append(pixels)
                break
        else:
            raise UserError("none of the content images can be read")
    array = np.ascontiguousarray(np.stack(crops), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()
