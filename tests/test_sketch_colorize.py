"""Sketch colouring end to end: the library call on a tiny drawing, the CLI, bad input."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from neuroplay.common.errors import UserError
from neuroplay.vision.sketch.colorize import colorize, part_texture
from neuroplay.vision.sketch.config import ColorizeConfig
from neuroplay.vision.sketch.drawing import builtin_photo, sample_sketch

TINY = ["--size", "96", "--iterations", "3", "--parts", "3", "--quiet"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("neuroplay-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEUROPLAY_CACHE", str(root))
        yield root


@pytest.fixture(autouse=True)
def _use_cache(cache, monkeypatch):
    monkeypatch.setenv("NEUROPLAY_CACHE", str(cache))


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gallery")
    for name in ("coffee", "chelsea", "rocket"):
        picture = Image.fromarray(builtin_photo(name))
        picture.thumbnail((128, 128))
        picture.save(folder / f"{name}.png")
    return folder


def _two_boxes(size=96):
    """A drawing of two closed boxes, and a photo with a red box left and a blue one right."""
    page = np.ones((size, size))
    photo = np.full((size, size, 3), 0.9)
    for left, colour in ((10, (0.85, 0.1, 0.1)), (52, (0.1, 0.2, 0.85))):
        page[30:66, left : left + 34] = 0.0
        page[33:63, left + 3 : left + 31] = 1.0
        photo[30:66, left : left + 34] = colour
    return page, photo


def test_colorize_gives_each_region_its_parts_colour():
    page, photo = _two_boxes()
    config = ColorizeConfig(size=96, parts=2, iterations=(4,), style_size=64)
    steps = []
    result = colorize(page, photo, config, callback=steps.append)
    assert len(steps) == 4
    assert result.image.shape == (1, 3, 96, 96)
    assert result.regions == 2
    assert {m.sketch for m in result.matches} == {0, 1, 2}
    out = result.image[0].permute(1, 2, 0).numpy()
    left, right = out[40:56, 18:36].mean(axis=(0, 1)), out[40:56, 60:78].mean(axis=(0, 1))
    assert left[0] > left[2] + 0.2, f"the left box should be red, got {left}"
    assert right[2] > right[0] + 0.2, f"the right box should be blue, got {right}"
    assert out[30, 20:40].max() < 0.25, "the strokes are drawn back on top"
    assert result.contact_sheet.ndim == 3 and result.contact_sheet.dtype == np.uint8
    assert result.contact_sheet.shape[1] > 3 * 96  # six tiles in two rows
    assert set(result.timings) == {"segment_and_match", "style_transfer", "total"}


def test_colorize_is_reproducible():
    page, photo = _two_boxes(80)
    config = ColorizeConfig(size=80, parts=2, iterations=(2,), style_size=48)
    a = colorize(page, photo, config).image
    b = colorize(page, photo, config).image
    assert torch.equal(a, b)


def test_part_texture_holds_only_its_part():
    photo = np.zeros((40, 40, 3))
    photo[:, 20:] = (0.0, 1.0, 0.0)
    labels = np.zeros((40, 40), dtype=int)
    labels[10:30, 10:30] = 1
    labels[10:30, 20:30] = 2
    texture = part_texture(photo, labels, 1, 64)
    assert texture.max() == 0.0  # part 1 is black; part 2's green must not leak in


def test_blank_sketch_and_bad_settings_are_user_errors():
    with pytest.raises(UserError):
        colorize(np.ones((64, 64)), np.zeros((64, 64, 3)), ColorizeConfig(size=64, iterations=(1,)))
    for bad in ({"size": 10}, {"parts": 0}, {"iterations": (0,)}, {"style_weight": float("nan")}):
        with pytest.raises(UserError):
            ColorizeConfig(**bad)


# --- command line ------------------------------------------------------------------------------


def test_cli_colorize_retrieves_and_writes_everything(run_cli, gallery, tmp_path):
    out = tmp_path / "cup.png"
    code, stdout, err = run_cli("sketch", "colorize", "demo:cup", "--gallery", gallery, "-o", out, *TINY, "--json")
    assert code == 0, err
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["retrieved"].endswith("coffee.png")
    assert summary["regions"] >= 2 and summary["wall_seconds"] > 0 and summary["output"] == str(out)
    assert out.is_file() and (tmp_path / "cup_sheet.png").is_file()
    with Image.open(out) as image:
        assert max(image.size) == 96
    record = json.loads((tmp_path / "cup.json").read_text())
    assert record["config"]["size"] == 96 and record["seed"] == 0 and record["retrieved"] == summary["retrieved"]


def test_cli_colorize_with_a_photo_skips_retrieval(run_cli, tmp_path):
    page, photo = _two_boxes()
    Image.fromarray((page * 255).astype(np.uint8)).save(tmp_path / "boxes.png")
    Image.fromarray((photo * 255).astype(np.uint8)).save(tmp_path / "photo.png")
    out = tmp_path / "out.jpg"
    args = ("sketch", "colorize", tmp_path / "boxes.png", "--photo", tmp_path / "photo.png", "-o", out, *TINY)
    code, stdout, err = run_cli(*args, "--json")
    assert code == 0, err
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["retrieved"] is None and summary["photo"] == str(tmp_path / "photo.png")
    assert summary["regions"] == 2 and out.is_file()


BAD = ["blank", "corrupt-photo", "missing-photo", "bad-size", "bad-iterations", "output-is-input", "empty-gallery"]


@pytest.mark.parametrize("case", BAD)
def test_cli_colorize_bad_input_exits_2_and_keeps_files(run_cli, tmp_path, case):
    blank = tmp_path / "blank.png"
    Image.new("L", (64, 64), 255).save(blank)
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"\x89PNG broken")
    (tmp_path / "empty").mkdir()
    sketch = tmp_path / "sketch.png"
    Image.fromarray(sample_sketch("cup", 96)).save(sketch)
    out = tmp_path / "out.png"
    out.write_bytes(b"precious")
    photo = ["--photo", str(tmp_path / "sketch.png")]
    args = {
        "blank": [blank, *photo, "-o", out],
        "corrupt-photo": [sketch, "--photo", garbage, "-o", out],
        "missing-photo": [sketch, "--photo", tmp_path / "nope.jpg", "-o", out],
        "bad-size": [sketch, *photo, "-o", out, "--size", "5"],
        "bad-iterations": [sketch, *photo, "-o", out, "--iterations", "ten"],
        "output-is-input": [sketch, *photo, "-o", sketch],
        "empty-gallery": [sketch, "--gallery", tmp_path / "empty", "-o", out],
    }[case]
    before = sketch.read_bytes()
    code, _, err = run_cli("sketch", "colorize", *args, "--quiet")
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err
    assert out.read_bytes() == b"precious" and sketch.read_bytes() == before


def test_cli_ctrl_c_saves_what_it_has_and_exits_130(run_cli, tmp_path, monkeypatch):
    import contextlib

    from neuroplay.cli import sketch as sketch_cli

    @contextlib.contextmanager
    def pressed_at_once():
        yield lambda: True

    monkeypatch.setattr(sketch_cli, "stop_requests", pressed_at_once)
    page, photo = _two_boxes()
    Image.fromarray((page * 255).astype(np.uint8)).save(tmp_path / "boxes.png")
    Image.fromarray((photo * 255).astype(np.uint8)).save(tmp_path / "photo.png")
    out = tmp_path / "out.png"
    args = ("sketch", "colorize", tmp_path / "boxes.png", "--photo", tmp_path / "photo.png", "-o", out, *TINY)
    code, stdout, err = run_cli(*args, "--json")
    assert code == 130, err
    assert json.loads(stdout.strip().splitlines()[-1])["interrupted"] is True
    assert out.is_file() and (tmp_path / "out_sheet.png").is_file()


# --- the library pipeline (what the CLI and the studio call) --------------------------------------


def test_pipeline_retrieves_from_the_builtin_gallery_colours_and_writes(tmp_path):
    from neuroplay.vision.image import scaled_size
    from neuroplay.vision.sketch.pipeline import colorize_from_gallery

    out = tmp_path / "cup.png"
    events = []
    config = ColorizeConfig(size=64, parts=3, iterations=(2,), style_size=48)
    made = colorize_from_gallery("demo:cup", None, config, output=out, progress=events.append)
    assert made.retrieved.endswith("coffee.png") and made.photo == made.retrieved  # the cup's own photo
    assert made.retrieval_score > 0 and made.summary["retrieval_score"] == made.retrieval_score
    assert tuple(made.image.shape[-2:]) == scaled_size(*sample_sketch("cup").shape, 64)
    assert not made.interrupted and made.summary["regions"] == made.colorized.regions >= 2
    stages = [e.stage for e in events]
    assert stages[0] == "index" and stages.index("retrieved") < stages.index("colorize") < stages.index("style")
    assert stages.count("style") == 2 and events[-1].done == events[-1].total == 2
    assert made.files == {"output": out, "sheet": tmp_path / "cup_sheet.png", "sidecar": tmp_path / "cup.json"}
    with Image.open(out) as image:
        assert image.size == (made.summary["width"], made.summary["height"])
    assert (tmp_path / "cup_sheet.png").is_file()
    record = json.loads((tmp_path / "cup.json").read_text())
    assert record["kind"] == "neuroplay-sketch-colorize" and record["retrieved"] == made.retrieved
    assert record["config"]["size"] == 64 and record["matches"] == made.summary["matches"]


def test_pipeline_with_a_photo_and_no_output_writes_nothing(tmp_path):
    from neuroplay.vision.sketch.pipeline import colorize_from_gallery

    page, photo = _two_boxes()
    Image.fromarray((photo * 255).astype(np.uint8)).save(tmp_path / "photo.png")
    events = []
    config = ColorizeConfig(size=96, parts=2, iterations=(2,), style_size=64)
    made = colorize_from_gallery(page, photo=tmp_path / "photo.png", config=config, progress=events.append)
    assert made.retrieved is None and made.photo == str(tmp_path / "photo.png") and made.files == {}
    assert "index" not in {e.stage for e in events} and made.summary["regions"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]
    before = len(events)
    with pytest.raises(UserError, match="cannot save"):  # a bad output is refused before any work
        colorize_from_gallery(page, photo=tmp_path / "photo.png", output=tmp_path / "out.txt", progress=events.append)
    assert len(events) == before
