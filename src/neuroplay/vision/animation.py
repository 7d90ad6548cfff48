"""Write image frames as a looping GIF or an H.264 MP4 (PyAV), atomically."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from neuroplay.common.errors import UserError
from neuroplay.common.io import atomic_path
from neuroplay.vision.image import to_array

ANIMATION_SUFFIXES = (".gif", ".mp4")


def check_animation_path(path: str | os.PathLike[str]) -> str:
    """The suffix of ``path`` if it names an animation we can write, else a :class:`UserError`."""
    suffix = Path(path).suffix.lower()
    if suffix not in ANIMATION_SUFFIXES:
        raise UserError(f"cannot write an animation to {path}: use a .gif or .mp4 file name")
    return suffix


def write_animation(frames: Sequence[torch.Tensor], path: str | os.PathLike[str], fps: float = 12.0) -> Path:
    """Write ``frames`` (``1×3×H×W`` tensors in [0, 1], all one size) to ``path`` (.gif or .mp4)."""
    import imageio.v3 as iio

    suffix = check_animation_path(path)
    if not frames:
        raise UserError("no frames to write")
    stack = np.stack([to_array(frame) for frame in frames])
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            if suffix == ".gif":
                iio.imwrite(tmp, stack, extension=".gif", duration=1000 / fps, loop=0)
            else:  # H.264 in yuv420p needs even sides: repeat the last row/column where odd
                h, w = stack.shape[1:3]
                stack = np.pad(stack, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
                iio.imwrite(tmp, stack, plugin="pyav", codec="libx264", fps=fps, out_pixel_format="yuv420p")
    except OSError as exc:
        raise UserError(f"cannot write {path} ({exc.strerror or exc})") from None
    return path
