"""Colour hints (``--hints``): scribbles recolour exactly the regions they touch; bad hint files
are refused with exit 2; and the contact sheet has no empty cell."""

import json

import numpy as np
import pytest
from PIL import Image

from neuroplay.common.errors import UserError
from neuroplay.vision.sketch.colorize import colorize
from neuroplay.vision.sketch.config import ColorizeConfig
from neuroplay.vision.sketch.hints import hint_colors, read_hints

SIZE = 80
CONFIG = ColorizeConfig(size=SIZE, parts=3, iterations=(3,), style_size=48)
GREEN = (0.1, 0.8, 0.15)


def _three_boxes():
    """Three closed boxes side by side; the photo has them red, blue and yellow on light grey."""
    page = np.ones((SIZE, SIZE))
    photo = np.full((SIZE, SIZE, 3), 0.9)
    for left, colour in ((4, (0.85, 0.1, 0.1)), (29, (0.1, 0.2, 0.85)), (54, (0.9, 0.8, 0.1))):
        page[25:55, left : left + 22] = 0.0
        page[27:53, left + 2 : left + 20] = 1.0
        photo[25:55, left : left + 22] = colour
    return page, photo


def _scribble(rows=slice(35, 42), cols=slice(8, 20), colour=GREEN):
    hints = np.zeros((SIZE, SIZE, 4))
    hints[rows, cols] = (*colour, 1.0)
    return hints


@pytest.fixture(scope="module")
def plain_and_hinted():
    page, photo = _three_boxes()
    return colorize(page, photo, CONFIG), colorize(page, photo, CONFIG, hints=_scribble())


def _mean(result, label):
    image = result.image[0].permute(1, 2, 0).numpy()
    inside = (result.sketch.labels == label) & ~result.sketch.strokes
    return image[inside].mean(axis=0)


def test_hints_recolour_exactly_the_touched_region(plain_and_hinted):
    plain, hinted = plain_and_hinted
    touched = int(plain.sketch.labels[38, 14])
    assert touched > 0 and set(hinted.hinted) == {touched}
    assert np.allclose(hinted.hinted[touched], GREEN)
    green = _mean(hinted, touched)
    assert green[1] > green[0] + 0.3 and green[1] > green[2] + 0.3, f"the hinted box should be green, got {green}"
    assert _mean(plain, touched)[0] > 0.6, "without hints it is the photo's red"
    for label in np.unique(plain.sketch.labels):
        if label != touched:  # the same seed: the other regions keep the photo's colours
            assert np.abs(_mean(hinted, label) - _mean(plain, label)).max() < 0.05, label


def test_a_scribble_counts_off_the_strokes_only():
    from neuroplay.vision.sketch.regions import segment_sketch

    page, _ = _three_boxes()
    regions = segment_sketch(page)
    box = int(regions.labels[40, 14])
    across = _scribble(rows=slice(12, 33), cols=slice(10, 14))  # paper above box 1, its top outline, its inside
    assert set(hint_colors(regions.labels, regions.strokes, across)) == {0, box}
    on_the_line = _scribble(rows=slice(25, 27), cols=slice(8, 20))  # only the outline's ink
    assert hint_colors(regions.labels, regions.strokes, on_the_line) == {}


def test_pipeline_records_the_hinted_regions(tmp_path):
    from neuroplay.vision.sketch.pipeline import colorize_from_gallery

    page, photo = _three_boxes()
    Image.fromarray((photo * 255).astype(np.uint8)).save(tmp_path / "photo.png")
    made = colorize_from_gallery(page, config=CONFIG, photo=tmp_path / "photo.png", hints=_scribble())
    (region,) = made.summary["hinted_regions"]
    assert region["color"] == "#1acc26" and region["sketch_region"] == int(made.colorized.sketch.labels[38, 14])


def test_read_hints_refuses_bad_layers():
    with pytest.raises(UserError, match="fully transparent"):
        read_hints(np.zeros((SIZE, SIZE, 4)), (SIZE, SIZE))
    with pytest.raises(UserError, match="no alpha"):
        read_hints(np.zeros((SIZE, SIZE, 3)), (SIZE, SIZE))
    with pytest.raises(UserError, match="but the drawing is"):
        read_hints(_scribble(), (SIZE, SIZE + 1))


HINT_CASES = ["wrong-size", "not-an-image", "no-alpha", "transparent", "corrupt", "missing"]


@pytest.mark.parametrize("case", HINT_CASES)
def test_cli_bad_hints_exit_2_with_one_error_line(run_cli, tmp_path, case):
    page, photo = _three_boxes()
    Image.fromarray((page * 255).astype(np.uint8)).save(tmp_path / "boxes.png")
    Image.fromarray((photo * 255).astype(np.uint8)).save(tmp_path / "photo.png")
    hints = tmp_path / "hints.png"
    if case == "wrong-size":
        Image.fromarray((_scribble()[:40] * 255).astype(np.uint8), "RGBA").save(hints)
    elif case == "not-an-image":
        hints.write_text("colour the cup red, please\n")
    elif case == "no-alpha":
        Image.new("RGB", (SIZE, SIZE), (0, 200, 0)).save(hints)
    elif case == "transparent":
        Image.new("RGBA", (SIZE, SIZE), (0, 200, 0, 0)).save(hints)
    elif case == "corrupt":
        buffer = tmp_path / "good.png"
        Image.fromarray((_scribble() * 255).astype(np.uint8), "RGBA").save(buffer)
        hints.write_bytes(buffer.read_bytes()[:60])
    out = tmp_path / "out.png"
    args = ["sketch", "colorize", tmp_path / "boxes.png", "--photo", tmp_path / "photo.png", "-o", out]
    code, _, err = run_cli(*args, "--hints", tmp_path / ("nope.png" if case == "missing" else "hints.png"), "-q")
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert not out.exists()


def test_cli_hints_colour_the_region_and_land_in_the_sidecar(run_cli, tmp_path):
    page, photo = _three_boxes()
    Image.fromarray((page * 255).astype(np.uint8)).save(tmp_path / "boxes.png")
    Image.fromarray((photo * 255).astype(np.uint8)).save(tmp_path / "photo.png")
    Image.fromarray((_scribble() * 255).round().astype(np.uint8), "RGBA").save(tmp_path / "hints.png")
    out = tmp_path / "out.png"
    args = ["sketch", "colorize", tmp_path / "boxes.png", "--photo", tmp_path / "photo.png", "-o", out]
    tiny = ["--size", str(SIZE), "--iterations", "2", "--parts", "3", "-q", "--json"]
    code, stdout, err = run_cli(*args, "--hints", tmp_path / "hints.png", *tiny)
    assert code == 0, err
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert len(summary["hinted_regions"]) == 1 and summary["hints"] == str(tmp_path / "hints.png")
    record = json.loads((tmp_path / "out.json").read_text())
    assert record["hinted_regions"] == summary["hinted_regions"]
    with Image.open(out) as image:
        r, g, b = np.asarray(image.convert("RGB"))[36:42, 10:18].reshape(-1, 3).mean(axis=0)
    assert g > r + 60 and g > b + 60


def _cells(sheet: np.ndarray) -> list[np.ndarray]:
    """The tiles of a contact sheet: the picture between two white gutters, row by row."""
    ink = (sheet < 250).any(axis=2)
    rows = ink.any(axis=1)
    cells = []
    starts = np.flatnonzero(np.diff(np.r_[0, rows.astype(int)]) == 1)
    ends = np.flatnonzero(np.diff(np.r_[rows.astype(int), 0]) == -1) + 1
    for top, bottom in zip(starts, ends, strict=True):
        if bottom - top < 20:  # a caption line
            continue
        band = ink[top:bottom].any(axis=0)
        lefts = np.flatnonzero(np.diff(np.r_[0, band.astype(int)]) == 1)
        rights = np.flatnonzero(np.diff(np.r_[band.astype(int), 0]) == -1) + 1
        cells += [sheet[top:bottom, a:b] for a, b in zip(lefts, rights, strict=True)]
    return cells


def test_contact_sheet_has_no_empty_cell(plain_and_hinted):
    for result in plain_and_hinted:
        sheet = result.contact_sheet
        h, w = sheet.shape[:2]
        cells = _cells(sheet)
        assert len(cells) >= 6
        for cell in cells:
            assert cell.reshape(-1, 3).std(axis=0).max() > 3, "a cell of one uniform colour"
        # the rows fill the sheet: no row leaves a blank cell's width at its end
        ink = (sheet < 250).any(axis=2)
        for band in (ink[: h // 2], ink[h // 2 :]):
            used = np.flatnonzero(band.any(axis=0))
            assert w - used.max() < 0.1 * w, "a row ends well short of the sheet's width"
