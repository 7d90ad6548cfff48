"""Frames to a file and back: a looping GIF or an H.264 MP4, chosen by the name's suffix, written atomically.

The one writer of every part: CartPole playback, the Flappy Bird recordings and the dream zoom.
GIFs go through imageio's Pillow plugin; MP4s through its PyAV plugin (libx264, yuv420p), the
one MP4 backend the project keeps (PyAV bundles its own FFmpeg, so nothing else is needed).
imageio and NumPy are imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from neuroplay.common.bounds import check_fits, in_range
from neuroplay.common.errors import UserError, check
from neuroplay.common.io import atomic_path

if TYPE_CHECKING:
    import numpy as np

VIDEO_SUFFIXES = (".gif", ".mp4")
T = TypeVar("T")


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

    ``.gif``: loops forever, each frame shown ``1000 / fps`` ms to the nearest 10 (a GIF's unit).
    ``.mp4``: H.264 in yuv420p, whose chroma planes need even sides, so an odd last row or column is
    repeated once. Nothing is left at ``path`` if writing fails; an unwritable place is a
    :class:`UserError`.
    """
    writer = VideoWriter(path, fps)  # checks the name and the rate
    check(len(frames) > 0, "no frames to write")
    with writer:
        for frame in frames:
            writer.write(frame)
    return writer.path


def read_video(path: str | os.PathLike[str]) -> tuple[list[np.ndarray], float]:
    """The frames (``H×W×3`` uint8) of the GIF or MP4 at ``path`` and its frame rate.

    A GIF's rate is 1000 over its mean frame duration in ms (writing it back with
    :func:`write_video` gives the same durations); an MP4's is its stream's. A missing file, one
    that is not a video of these kinds, a damaged one or one with no frames is a :class:`UserError`.
    """
    frames, fps = open_video(path)
    return list(frames), fps


def open_video(path: str | os.PathLike[str]) -> tuple[Iterator[np.ndarray], float]:
    """``(frames, fps)`` of the GIF or MP4 at ``path``, the frames decoded one at a time as they are
    iterated (``H×W×3`` uint8): a long video need not fit in memory. The file and its rate are
    checked at once; a frame that cannot be decoded, or a video with no frames, raises a
    :class:`UserError` from the iteration."""
    from neuroplay.common.io import input_file

    path = input_file(path, "a video file (.gif or .mp4)", "video")
    suffix = Path(path).suffix.lower()
    check(suffix in VIDEO_SUFFIXES, f"cannot read {path} as a video: use a .gif or .mp4 file")
    fps = _unreadable_as_user_error(path, lambda: _frame_rate(path, suffix))
    return _frames(path, suffix), fps


def _unreadable_as_user_error(path: Path, fn):
    try:
        return fn()
    except UserError:
        raise
    except Exception as exc:  # imageio, Pillow and PyAV raise many types for a damaged file
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise UserError(f"{path} is not a readable video ({reason})") from None


def _frames(path: Path, suffix: str) -> Iterator[np.ndarray]:
    import imageio.v3 as iio
    import numpy as np

    plugin = {"plugin": "pyav"} if suffix == ".mp4" else {}
    frames = iio.imiter(path, **plugin)
    count = 0
    while True:
        frame = _unreadable_as_user_error(path, lambda: next(frames, None))
        if frame is None:
            break
        frame = np.asarray(frame)
        frame = np.repeat(frame[..., None], 3, axis=2) if frame.ndim == 2 else frame[..., :3]
        count += 1
        yield np.ascontiguousarray(frame, dtype=np.uint8)
    check(count > 0, f"{path} holds no frames")


@contextlib.contextmanager
def read_ahead(items: Iterator[T], depth: int = 8) -> Iterator[Iterator[T]]:
    """``items`` drawn by a thread of their own, up to ``depth`` ahead of the caller: a video's
    decoding goes on while the caller works on the frames before. An error in the drawing is
    raised where the caller reaches it; leaving the block early stops the thread."""
    import queue
    import threading

    ahead: queue.Queue = queue.Queue(maxsize=depth)
    stop, end = threading.Event(), object()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                ahead.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def draw() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((end, None))
        except BaseException as exc:  # handed to the caller's thread
            put((end, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    def drained() -> Iterator[T]:
        while True:
            item, exc = ahead.get()
            if exc is not None:
                raise exc
            if item is end:
                return
            yield item

    thread = threading.Thread(target=draw, name="read-ahead", daemon=True)
    thread.start()
    try:
        yield drained()
    finally:
        stop.set()
        thread.join()


class VideoWriter:
    """A GIF or MP4 written a frame at a time (``with VideoWriter(path, fps) as w: w.write(frame)``);
    :func:`write_video` is this with every frame at once. An MP4 is encoded as frames arrive, in a
    thread of its own beside the caller's work, so that only a few frames are held at a time; a GIF
    is written when the block ends. Atomic: the file appears only when the block ends without an
    error and at least one frame was written; otherwise nothing is left at ``path``, and an
    unwritable place is a :class:`UserError`."""

    def __init__(self, path: str | os.PathLike[str], fps: float = 30.0) -> None:
        self.suffix = video_suffix(path)
        check(fps > 0, f"fps must be positive, got {fps}")
        self.path, self.fps = Path(path), fps
        self.frames = 0
        self._held: list[np.ndarray] = []  # a GIF's frames, written at the end
        self._queue = self._thread = self._error = self._file = self._shape = None

    def __enter__(self) -> VideoWriter:
        self._atomic = atomic_path(self.path)
        try:
            self._tmp = self._atomic.__enter__()
        except OSError as exc:
            raise self._failure(exc) from None
        if self.suffix == ".mp4":
            import queue
            import threading

            self._queue = queue.Queue(maxsize=8)
            self._thread = threading.Thread(target=self._drain, name="video-writer", daemon=True)
            self._thread.start()
        return self

    def write(self, frame: np.ndarray) -> None:
        """Add ``frame`` (``H×W×3`` uint8, the size of the first)."""
        if self._shape is None:
            self._shape = frame.shape
        check(frame.shape == self._shape, f"every frame must be {self._shape}, not {frame.shape}")
        self.frames += 1
        if self.suffix == ".gif":
            self._held.append(frame)
            return
        if self._error is not None:  # the encoder thread failed: stop the caller's work now
            raise self._failure(self._error)
        self._queue.put(frame)

    def _drain(self) -> None:
        while (frame := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._encode(frame)
                except BaseException as exc:  # handed to the caller's thread
                    self._error = exc

    def _encode(self, frame: np.ndarray) -> None:
        """One frame into the MP4: H.264 in yuv420p, whose chroma planes need even sides, so an odd
        last row or column is repeated once."""
        import imageio.v3 as iio
        import numpy as np

        h, w = frame.shape[:2]
        frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        if self._file is None:
            self._file = iio.imopen(self._tmp, "w", plugin="pyav")
            self._file.init_video_stream("libx264", fps=self.fps, pixel_format="yuv420p")
        self._file.write_frame(frame)

    def _write_gif(self) -> None:
        """A GIF stores each frame's delay in whole centiseconds and Pillow truncates: 1000 / 33.33 fps
        is 29.99... ms, which became 20 ms (50 fps). So the delay is rounded to the nearest 10 ms."""
        import imageio.v3 as iio
        import numpy as np

        delay = 10 * max(1, round(100 / self.fps))
        iio.imwrite(self._tmp, np.stack(self._held), extension=".gif", duration=delay, loop=0)

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
        error = self._error
        try:
            if self._file is not None:
                self._file.close()  # flushes the encoder
            if error is None and exc_type is None and self.suffix == ".gif" and self.frames:
                self._write_gif()
        except Exception as err:
            error = error or err
        self._held = []
        if exc_type is None and error is None and self.frames > 0:
            self._atomic.__exit__(None, None, None)  # the file replaces path in one step
        else:  # the temporary file goes, nothing replaces path
            self._atomic.__exit__(RuntimeError, RuntimeError("not written"), None)
        if exc_type is None and error is not None:
            raise self._failure(error)

    def _failure(self, error: BaseException) -> BaseException:
        if isinstance(error, OSError):  # disk full, no permission, a path under a file
            return UserError(f"cannot write {self.path} ({error.strerror or error})")
        return error


def _frame_rate(path: Path, suffix: str) -> float:
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
            return n, _frame_rate(path, suffix), height, width
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
