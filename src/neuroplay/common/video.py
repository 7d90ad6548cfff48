"""Frames to a file: a looping GIF or an H.264 MP4, chosen by the name's suffix, written atomically.

The one writer of every part: CartPole playback, the Flappy Bird recordings and the dream zoom.
GIFs go through imageio's Pillow plugin; MP4s through its PyAV plugin (libx264, yuv420p), the
one MP4 backend the project keeps (PyAV bundles its own FFmpeg, so nothing else is needed).
imageio and NumPy are imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from neuroplay.common.bounds import check_fits, in_range
from neuroplay.common.errors import UserError, check
from neuroplay.common.io import atomic_path

if TYPE_CHECKING:
    import numpy as np

VIDEO_SUFFIXES = (".gif", ".mp4")


MAX_FRAMES = 1_000_000  # game frames of one recording: about 9 hours of play at 30 fps


def check_recording(
    fps: float, frame_skip: int, scale: float, max_frames: int | None = None, frame_size: tuple[int, int] | None = None
) -> None:
    """Refuse recording settings out of range (NaN and infinity too) before anything is played; with
    ``max_frames`` and the full-size ``frame_size`` (height, width), also a recording whose frames,
    all held until the file is written, would not fit in memory (naming the largest --max-frames)."""
    in_range("--fps", fps, 0.0, 100.0, open_lo=True)
    in_range("--frame-skip", frame_skip, 1, 100)
    in_range("--scale", scale, 0.05, 4.0)
    if max_frames is None:
        return
    in_range("--max-frames", max_frames, 1, MAX_FRAMES)
    if frame_size is not None:
        frame = 3 * round(frame_size[0] * scale) * round(frame_size[1] * scale)

        def need(frames: int) -> int:  # kept frames, and the encoder's copy of them
            return 2 * frame * (frames // frame_skip + 1)

        check_fits(f"a recording of {max_frames} frames", need(max_frames), "--max-frames", max_frames, need)


def video_suffix(path: str | os.PathLike[str]) -> str:
    """The lower-case suffix of ``path`` if it names a video this module writes, else a :class:`UserError`."""
    suffix = Path(path).suffix.lower()
    check(suffix in VIDEO_SUFFIXES, f"cannot write a video to {path}: use a .gif or .mp4 file name")
    return suffix


def write_video(path: str | os.PathLike[str], frames: Sequence[np.ndarray], fps: float = 30.0) -> Path:
    """Write ``frames`` (``H×W×3`` uint8 arrays, all one size) to ``path`` at ``fps`` frames a second.

    ``.gif``: loops forever, each frame shown ``1000 / fps`` ms. ``.mp4``: H.264 in yuv420p, whose
    chroma planes need even sides, so an odd last row or column is repeated once. Nothing is left
    at ``path`` if writing fails; an unwritable place is a :class:`UserError`.
    """
    import imageio.v3 as iio
    import numpy as np

    suffix = video_suffix(path)
    check(len(frames) > 0, "no frames to write")
    check(fps > 0, f"fps must be positive, got {fps}")
    stack = np.stack(frames)
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            if suffix == ".gif":
                iio.imwrite(tmp, stack, extension=".gif", duration=1000 / fps, loop=0)
            else:
                h, w = stack.shape[1:3]
                stack = np.pad(stack, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
                iio.imwrite(tmp, stack, plugin="pyav", codec="libx264", fps=fps, out_pixel_format="yuv420p")
    except OSError as exc:
        raise UserError(f"cannot write {path} ({exc.strerror or exc})") from None
    return path
