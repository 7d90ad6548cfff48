"""Line extraction keeps the drawings people really make whole: 1-px pen, pencil on grey or uneven
paper, coloured ink, a small drawing on a large page, a photo of a drawing."""

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from neuroplay.common.errors import UserError
from neuroplay.vision.sketch.lines import ink_mask, sketch_edges


def _draw(size: int, box: tuple[float, float, float, float], width: int, ink=(0, 0, 0), paper=(255, 255, 255)):
    """A house (square, roof, door) and a sun, drawn inside ``box`` (fractions of the page)."""
    im = Image.new("RGB", (size, size), paper)
    d = ImageDraw.Draw(im)
    x0, y0, x1, y1 = (v * size for v in box)
    w, h = x1 - x0, y1 - y0

    def p(fx, fy):
        return (x0 + fx * w, y0 + fy * h)

    d.line([p(0.2, 0.5), p(0.8, 0.5), p(0.8, 0.95), p(0.2, 0.95), p(0.2, 0.5)], fill=ink, width=width)
    d.line([p(0.15, 0.55), p(0.5, 0.2), p(0.85, 0.55)], fill=ink, width=width)
    d.line([p(0.45, 0.95), p(0.45, 0.75), p(0.58, 0.75), p(0.58, 0.95)], fill=ink, width=width)
    d.ellipse([p(0.02, 0.02), p(0.17, 0.17)], outline=ink, width=width)
    return im


REFERENCE = sketch_edges(np.asarray(_draw(256, (0.05, 0.05, 0.95, 0.95), 3)))


def _agree(lines: np.ndarray, reference: np.ndarray = REFERENCE) -> float:
    """The smaller of: the share of the reference's line pixels near a line of ``lines``, and back."""
    if lines.shape != reference.shape:
        lines = np.asarray(Image.fromarray(lines).resize(reference.shape[::-1], Image.Resampling.NEAREST))
    near_l, near_r = (ndimage.distance_transform_edt(~m) <= 4 for m in (lines, reference))
    return min(near_l[reference].mean(), near_r[lines].mean())


def test_the_reference_is_a_whole_drawing():
    labels, n = ndimage.label(REFERENCE, structure=np.ones((3, 3)))
    assert n <= 4  # house outline with roof and door, the sun: a few connected strokes


def test_one_pixel_pen_lines_on_a_large_page_stay_whole():
    lines = sketch_edges(np.asarray(_draw(1600, (0.05, 0.05, 0.95, 0.95), 1)))
    assert _agree(lines) > 0.9
    _, n = ndimage.label(lines, structure=np.ones((3, 3)))
    assert n <= 6  # not broken into dots


def test_pencil_on_grey_and_unevenly_lit_paper():
    page = np.asarray(_draw(600, (0.05, 0.05, 0.95, 0.95), 2, ink=(150, 150, 150), paper=(200, 200, 200)), np.float32)
    light = np.linspace(0.55, 1.0, page.shape[1])[None, :, None] * np.linspace(0.8, 1.0, page.shape[0])[:, None, None]
    noise = np.random.default_rng(0).normal(0, 4, page.shape)
    scan = np.clip(page * light + noise, 0, 255).astype(np.uint8)  # the dark side is darker than the lit lines
    assert _agree(sketch_edges(scan)) > 0.85
    assert ink_mask(scan).mean() < 0.05  # the shadow is paper, not ink


@pytest.mark.parametrize("ink", [(220, 30, 30), (30, 60, 220), (230, 170, 0)])
def test_coloured_ink(ink):
    assert _agree(sketch_edges(np.asarray(_draw(400, (0.05, 0.05, 0.95, 0.95), 2, ink=ink)))) > 0.9


def test_a_small_drawing_on_a_large_page_keeps_its_detail():
    lines = sketch_edges(np.asarray(_draw(2000, (0.45, 0.45, 0.55, 0.55), 2)))
    assert max(lines.shape) == 256  # cropped to the drawing, then framed at full size
    assert _agree(lines) > 0.85


def test_a_photo_of_a_drawing():
    page = np.asarray(_draw(500, (0.1, 0.1, 0.9, 0.9), 3, ink=(40, 40, 50), paper=(235, 230, 220)), np.float32)
    yy, xx = np.mgrid[0:500, 0:500] / 500
    vignette = 1 - 0.45 * ((xx - 0.3) ** 2 + (yy - 0.4) ** 2)
    photo = ndimage.gaussian_filter(page * vignette[..., None], (1.2, 1.2, 0))
    photo = np.clip(photo + np.random.default_rng(1).normal(0, 5, photo.shape), 0, 255).astype(np.uint8)
    reference = sketch_edges(np.asarray(_draw(500, (0.1, 0.1, 0.9, 0.9), 3)))
    assert _agree(sketch_edges(photo), reference) > 0.85


def test_blank_pages_are_refused():
    for blank in (np.full((300, 300, 3), 200, np.uint8), np.linspace(0, 1, 90000).reshape(300, 300)):
        with pytest.raises(UserError, match="blank"):
            sketch_edges(blank)
