"""vision/image.py: the specs a user types for an image (a file or demo:NAME)."""

import pytest
import torch

from neuroplay.common.errors import UserError
from neuroplay.vision.image import demo_content, demo_style, load_spec, load_style_spec, save_image


def test_a_demo_spec_is_the_builtin_image_and_a_path_is_the_file(tmp_path):
    assert torch.equal(load_spec("demo:coffee"), demo_content("coffee"))
    assert torch.equal(load_spec("demo:coffee", max_size=64), demo_content("coffee", 64))
    assert torch.equal(load_style_spec("demo:mosaic", 48, seed=3), demo_style("mosaic", 48, seed=3))
    image = torch.rand(1, 3, 30, 50)
    path = save_image(image, tmp_path / "picture.png")
    assert load_spec(path).shape == (1, 3, 30, 50)
    assert load_spec(str(path), max_size=25).shape == (1, 3, 15, 25)
    assert load_style_spec(path, 48, seed=3).shape == (1, 3, 30, 50)  # a file keeps its own size


def test_unknown_names_and_missing_files_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="unknown demo image"):
        load_spec("demo:nothing")
    with pytest.raises(UserError, match="unknown demo style"):
        load_style_spec("demo:nothing", 48, 0)
    with pytest.raises(UserError, match="not found"):
        load_spec(tmp_path / "missing.png")


# --- deep and odd images: 16-bit, extreme shapes --------------------------------------------------


def _png(path, rows, color_type: int) -> None:
    """A 16-bit PNG written by hand (Pillow writes 16-bit gray but not 16-bit RGB): ``rows`` is
    H×W (gray, colour type 0) or H×W×3 (RGB, colour type 2) of uint16."""
    import struct
    import zlib

    import numpy as np

    data = np.asarray(rows, dtype=">u2")
    height, width = data.shape[:2]
    raw = b"".join(b"\x00" + data[y].tobytes() for y in range(height))  # filter 0 on every row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


def _ramp(height: int = 8, width: int = 16):
    import numpy as np

    return np.tile(np.linspace(0, 65535, width).round().astype(np.uint16), (height, 1))


@pytest.mark.parametrize("how", ["by hand", "I;16", "I"])
def test_16_bit_gray_is_scaled_not_clipped_to_white(tmp_path, how):
    """A 16-bit gray PNG used to load as 99.6% white: Pillow's RGB conversion clips at 255."""
    import numpy as np
    from PIL import Image

    from neuroplay.vision.image import load_image

    ramp, path = _ramp(), tmp_path / "deep.png"
    if how == "by hand":
        _png(path, ramp, color_type=0)
    else:  # what Pillow itself writes from these modes: a 16-bit gray PNG, a 32-bit integer TIFF
        picture = Image.fromarray(ramp.astype(np.uint16 if how == "I;16" else np.int32))
        assert picture.mode == how
        path = path.with_suffix(".png" if how == "I;16" else ".tif")
        picture.save(path)
        with Image.open(path) as reread:
            assert reread.mode == how
    image = load_image(path)
    assert image.shape == (1, 3, 8, 16)
    expected = torch.from_numpy(ramp / 65535.0).float()
    for channel in range(3):
        torch.testing.assert_close(image[0, channel], expected, atol=1e-6, rtol=0)
    assert (image > 0.99).float().mean() < 0.1  # not white


def test_16_bit_rgb_keeps_its_colours(tmp_path):
    import numpy as np

    from neuroplay.vision.image import load_image

    ramp = _ramp()
    rgb = np.stack([ramp, 65535 - ramp, np.full_like(ramp, 32768)], axis=-1)
    _png(tmp_path / "rgb48.png", rgb, color_type=2)
    image = load_image(tmp_path / "rgb48.png")
    torch.testing.assert_close(image[0].permute(1, 2, 0), torch.from_numpy(rgb / 65535.0).float(), atol=1 / 255, rtol=0)


@pytest.mark.parametrize("shape", [(1, 4000), (4000, 1)])
def test_extreme_shapes_through_style_and_dream_are_clean_refusals(shape, tmp_path, run_cli):
    """1×4000 content used to make `style` fail inside the network (exit 1)."""
    from neuroplay.vision.image import load_image

    thin = save_image(torch.rand(1, 3, *shape), tmp_path / "thin.png")
    assert load_image(thin).shape == (1, 3, *shape)  # it decodes; the commands refuse it with a reason
    style = save_image(torch.rand(1, 3, 64, 64), tmp_path / "style.png")
    runs = {
        "style as content": ("style", thin, style, "-o", tmp_path / "a.png"),
        "style as style": ("style", style, thin, "-o", tmp_path / "b.png"),
        "dream": ("dream", thin, "-o", tmp_path / "c.png"),
    }
    for name, args in runs.items():
        code, out, err = run_cli(*args, "--iterations", "1") if args[0] == "style" else run_cli(*args)
        assert code == 2, (name, err)
        assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, (name, err)
        assert "thin" in err or "px" in err, (name, err)
    assert not list(tmp_path.glob("[abc].*"))  # nothing written
