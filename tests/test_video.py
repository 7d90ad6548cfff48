"""common/video.py: frames to a GIF or an MP4, chosen by suffix, written atomically."""

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from neuroplay.common.errors import UserError
from neuroplay.common.video import VideoWriter, open_video, read_ahead, read_video, video_suffix, write_video


def _frames(n: int, height: int, width: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    # flat blocks of few colours: a GIF's palette holds them exactly
    palette = np.array([(0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)], np.uint8)
    return [palette[rng.integers(0, len(palette), (height, width))] for _ in range(n)]


def test_gif_keeps_every_frame_and_its_pixels(tmp_path):
    frames = _frames(5, 20, 30)
    out = write_video(tmp_path / "clip.gif", frames, fps=10)
    with Image.open(out) as gif:
        assert gif.n_frames == 5 and gif.size == (30, 20)
        assert gif.info["loop"] == 0 and gif.info["duration"] == 100  # 1000 / fps ms
        for i, frame in enumerate(frames):
            gif.seek(i)
            assert np.array_equal(np.asarray(gif.convert("RGB")), frame)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.gif"]  # no temporary left behind


def test_mp4_keeps_the_frame_count_and_pads_odd_sides_to_even(tmp_path):
    out = write_video(tmp_path / "clip.MP4", _frames(7, 21, 33), fps=12)
    video = iio.imread(out, plugin="pyav")
    assert video.shape == (7, 22, 34, 3)


def test_bad_names_and_empty_input_are_user_errors(tmp_path):
    assert video_suffix("a/b.GIF") == ".gif"
    for name in ("clip.png", "clip", "clip.avi"):
        with pytest.raises(UserError, match=r"\.gif or \.mp4"):
            write_video(tmp_path / name, _frames(2, 8, 8), fps=10)
    with pytest.raises(UserError, match="no frames"):
        write_video(tmp_path / "clip.gif", [], fps=10)
    (tmp_path / "taken").write_text("a file, not a folder")
    with pytest.raises(UserError, match="cannot write"):
        write_video(tmp_path / "taken" / "clip.gif", _frames(2, 8, 8), fps=10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_the_streaming_writer_makes_the_file_write_video_makes(tmp_path, suffix):
    frames = _frames(6, 21, 33)
    with VideoWriter(tmp_path / f"stream{suffix}", fps=12) as writer:
        for frame in frames:
            writer.write(frame)
    write_video(tmp_path / f"whole{suffix}", frames, fps=12)
    streamed, streamed_fps = read_video(tmp_path / f"stream{suffix}")
    whole, whole_fps = read_video(tmp_path / f"whole{suffix}")
    assert (len(streamed), streamed_fps) == (6, pytest.approx(whole_fps))
    if suffix == ".gif":  # lossless: the very pixels
        assert all(np.array_equal(a, b) for a, b in zip(streamed, whole, strict=True))
    else:  # H.264 is lossy and its encoder threads may round a block differently: the same picture
        differences = [float(np.abs(a.astype(int) - b).mean()) for a, b in zip(streamed, whole, strict=True)]
        assert max(differences) < 3, differences
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"stream{suffix}", f"whole{suffix}"])


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_a_failed_or_empty_stream_leaves_the_old_file_alone(tmp_path, suffix):
    out = write_video(tmp_path / f"clip{suffix}", _frames(2, 8, 8), fps=10)
    before = out.read_bytes()
    with pytest.raises(RuntimeError, match="boom"), VideoWriter(out, fps=10) as writer:
        writer.write(_frames(1, 8, 8)[0])
        raise RuntimeError("boom")
    with VideoWriter(out, fps=10):
        pass  # no frames: nothing is written
    with pytest.raises(UserError, match="every frame must be"), VideoWriter(out, fps=10) as writer:
        writer.write(_frames(1, 8, 8)[0])
        writer.write(_frames(1, 8, 10)[0])
    assert out.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == [out.name]
    with pytest.raises(UserError, match="cannot write"), VideoWriter(out / f"under-a-file{suffix}", fps=10):
        pass


def test_frames_are_read_lazily_and_a_damaged_file_is_a_user_error(tmp_path):
    out = write_video(tmp_path / "clip.mp4", _frames(5, 16, 16), fps=10)
    frames, fps = open_video(out)
    assert fps == pytest.approx(10) and len(list(frames)) == 5
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(out.read_bytes()[:200])
    with pytest.raises(UserError, match="damaged.mp4"):
        list(open_video(damaged)[0])


def test_read_ahead_keeps_order_raises_where_reached_and_stops_early():
    with read_ahead(iter(range(100)), depth=3) as items:
        assert list(items) == list(range(100))

    def failing():
        yield 1
        raise ValueError("bad frame")

    with read_ahead(failing()) as items:
        assert next(items) == 1
        with pytest.raises(ValueError, match="bad frame"):
            next(items)
    drawn = []

    def endless():
        while True:
            drawn.append(len(drawn))
            yield drawn[-1]

    with read_ahead(endless(), depth=2) as items:
        assert next(items) == 0
    assert len(drawn) <= 5  # the thread stopped once the block was left


def test_an_encoder_failure_in_its_thread_is_one_user_error_and_leaves_the_old_file(tmp_path, monkeypatch):
    out = write_video(tmp_path / "clip.mp4", _frames(2, 8, 8), fps=10)
    before = out.read_bytes()
    real = VideoWriter._encode

    def full_disk(self, frame):
        if self.frames >= 2:
            raise OSError(28, "No space left on device")
        real(self, frame)

    monkeypatch.setattr(VideoWriter, "_encode", full_disk)
    with pytest.raises(UserError, match="No space left on device"), VideoWriter(out, fps=10) as writer:
        for frame in _frames(20, 8, 8):
            writer.write(frame)
    assert out.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == [out.name]


def test_a_gif_read_back_and_written_again_keeps_its_rate(tmp_path):
    first = write_video(tmp_path / "a.gif", _frames(3, 8, 8), fps=30)  # 33.3 ms: stored as 30 ms
    frames, fps = read_video(first)
    assert fps == pytest.approx(1000 / 30)
    again, fps_again = read_video(write_video(tmp_path / "b.gif", frames, fps=fps))
    assert len(again) == 3 and fps_again == pytest.approx(fps)  # 1000 / fps = 29.99... ms once became 20 ms
