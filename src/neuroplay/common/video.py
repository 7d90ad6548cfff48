"""Frames to a file and back: a looping GIF or an H.264 MP4, chosen by the name's suffix, written atomically.

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


def read_video(path: str | os.PathLike[str]) -> tuple[list[np.ndarray], float]:
    """The frames (``H×W×3`` uint8) of the GIF or MP4 at ``path`` and its frame rate.

    A GIF's rate is 1000 over its mean frame duration in ms (writing it back with
    :func:`write_video` gives the same durations); an MP4's is its stream's. A missing file, one
    that is not a video of these kinds, a damaged one or one with no frames is a :class:`UserError`.
    """
    import imageio.v3 as iio
    import numpy as np

    from neuroplay.common.io import input_file

    path = input_file(path, "a video file (.gif or .mp4)", "video")
    suffix = Path(path).suffix.lower()
    check(suffix in VIDEO_SUFFIXES, f"cannot read {path} as a video: use a .gif or .mp4 file")
    plugin = {"plugin": "pyav"} if suffix == ".mp4" else {}
    frames: list[np.ndarray] = []
    try:
        for frame in iio.imiter(path, **plugin):
            frame = np.asarray(frame)
            frame = np.repeat(frame[..., None], 3, axis=2) if frame.ndim == 2 else frame[..., :3]
            frames.append(np.ascontiguousarray(frame, dtype=np.uint8))
        fps = _frame_rate(path, suffix, len(frames))
    except UserError:
        raise
    except Exception as exc:  # imageio, Pillow and PyAV raise many types for a damaged file
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise UserError(f"{path} is not a readable video ({reason})") from None
    check(len(frames) > 0, f"{path} holds no frames")
    return frames, fps


def _frame_rate(path: Path, suffix: str, n_frames: int) -> float:
    if suffix == ".mp4":
        import imageio.v3 as iio

        fps = float(iio.immeta(path, plugin="pyav").get("fps") or 0)
    else:
        from PIL import Image

        with Image.open(path) as gif:
            durations = []
            for i in range(getattr(gif, "n_frames", 1)):
                gif.seek(i)
                durations.append(float(gif.info.get("duration") or 0))
        mean = sum(durations) / len(durations) if durations else 0
        fps = 1000.0 / mean if mean > 0 else 10.0  # a GIF without durations: browsers show ~10 fps
    check(0 < fps <= 1000, f"{path} has an unusable frame rate ({fps})")
    return fps


def video_info(path: str | os.PathLike[str]) -> tuple[int, float, int, int]:
    """``(frames, fps, height, width)`` of a GIF or MP4 from its header, without decoding it all
    (an MP4's frame count is its duration times its rate, so it may be off by one or two): what a
    command needs to refuse a video too long for memory before reading it."""
    from neuroplay.common.io import input_file

    path = input_file(path, "a video file (.gif or .mp4)", "video")
    suffix = Path(path).suffix.lower()
    check(suffix in VIDEO_SUFFIXES, f"cannot read {path} as a video: use a .gif or .mp4 file")
    try:
        if suffix == ".gif":
            from PIL import Image

            with Image.open(path) as gif:
                n, (width, height) = getattr(gif, "n_frames", 1), gif.size
            return n, _frame_rate(path, suffix, n), height, width
        import av

        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            n = stream.frames or round(float(container.duration or 0) / 1e6 * fps)
            return int(n), fps, int(stream.height), int(stream.width)
    except UserError:
        raise
    except Exception as exc:  # damaged or not a video: Pillow and PyAV raise many types
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise UserError(f"{path} is not a readable video ({reason})") from None
