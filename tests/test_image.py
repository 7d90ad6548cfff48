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
