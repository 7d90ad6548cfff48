"""Sketch regions on drawings as people make them: outlines with gaps, open strokes inside a shape,
and a figure cut off by the frame still give the object, not background."""

import numpy as np
import pytest
from scipy import ndimage
from skimage.draw import circle_perimeter, line, rectangle_perimeter

from neuroplay.vision.sketch.regions import segment_sketch


def _pen(page: np.ndarray, rr: np.ndarray, cc: np.ndarray, width: int = 3) -> None:
    mask = np.zeros(page.shape, dtype=bool)
    ok = (rr >= 0) & (rr < page.shape[0]) & (cc >= 0) & (cc < page.shape[1])
    mask[rr[ok], cc[ok]] = True
    page[ndimage.binary_dilation(mask, iterations=width // 2)] = 0.0


def _square_with_gaps(gap: int, size: int = 200) -> np.ndarray:
    """A square outline (30..170) broken in two places by ``gap`` pixels of paper."""
    page = np.ones((size, size))
    _pen(page, *rectangle_perimeter((30, 30), (170, 170)))
    page[95 : 95 + gap, 25:36] = 1.0  # left side
    page[166:176, 60 : 60 + gap] = 1.0  # bottom side
    return page


def test_an_outline_with_small_gaps_still_gives_the_object() -> None:
    for gap in (5, 7):  # wider than the 4 px the regions bridge, within the object's 8 px
        regions = segment_sketch(_square_with_gaps(gap))
        assert regions.n_regions == 1, gap
        inside = regions.labels[40:160, 40:160]
        assert (inside > 0).all(), f"paper inside a square with {gap} px gaps fell into the background"
        assert regions.labels[5, 5] == 0 and regions.labels[190, 100] == 0 and regions.labels[100, 10] == 0
        assert regions.box[0] >= 26 and regions.box[2] <= 175  # the object does not spill out of its gaps


def test_a_wide_opening_is_still_background() -> None:
    page = np.ones((200, 200))
    _pen(page, *rectangle_perimeter((30, 30), (170, 170)))
    page[60:140, 165:176] = 1.0  # the right side mostly missing: an open box, not a gap
    regions = segment_sketch(page)
    assert regions.labels[100, 100] == 0 and regions.n_regions == 0


@pytest.mark.parametrize("gap", [0, 6])
def test_open_inner_strokes_keep_the_shape_whole(gap: int) -> None:
    page = _square_with_gaps(gap)
    _pen(page, *line(100, 36, 100, 150))  # an open line from near the outline across the inside
    _pen(page, *line(37, 60, 37, 150))  # an open stroke running along the top, just inside it
    rr, cc = circle_perimeter(80, 100, 25)
    keep = rr > 80  # the lower half of a circle: a smile, open
    _pen(page, rr[keep], cc[keep])
    regions = segment_sketch(page)
    labels = regions.labels
    paper = ~regions.strokes
    inner = np.zeros_like(paper)
    inner[34:167, 34:167] = True
    assert (labels[inner & paper] > 0).all(), "an open inner stroke sent paper of the shape to the background"
    assert regions.n_regions == 1  # open strokes divide nothing
    assert (labels[regions.strokes & inner] > 0).all()  # nor do their own pixels fall out


def test_a_figure_cut_off_by_the_frame_is_an_object() -> None:
    page = np.ones((200, 200))
    for r0, c0, r1, c1 in ((199, 50, 110, 50), (110, 50, 110, 150), (110, 150, 199, 150)):
        _pen(page, *line(r0, c0, r1, c1))  # a bust: its lines run into the bottom edge, unclosed
    _pen(page, *circle_perimeter(70, 100, 30))  # its head
    regions = segment_sketch(page)
    labels = regions.labels
    assert labels[160, 100] > 0 and labels[70, 100] > 0 and labels[160, 100] != labels[70, 100]
    assert labels[20, 20] == 0 and labels[160, 20] == 0 and labels[160, 180] == 0
