"""common/video.py: frames to a GIF or an MP4, chosen by suffix, written atomically."""

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from neuroplay.common.errors import UserError
from neuroplay.common.video import video_suffix, write_video


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
