"""Sketch and photo segmentation, alignment and region matching on synthetic pictures."""

import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage.draw import circle_perimeter, disk, line, rectangle, rectangle_perimeter

from neuroplay.common.errors import UserError
from neuroplay.vision.sketch.alignment import Alignment, align
from neuroplay.vision.sketch.match import Match, cost_matrix, draw_matches, match_regions, region_colors
from neuroplay.vision.sketch.photo_parts import segment_photo
from neuroplay.vision.sketch.regions import segment_sketch


def _pen(page: np.ndarray, rr: np.ndarray, cc: np.ndarray, width: int = 3) -> None:
    """Ink a stroke ``width`` pixels wide along the pixels (rr, cc)."""
    mask = np.zeros(page.shape, dtype=bool)
    ok = (rr >= 0) & (rr < page.shape[0]) & (cc >= 0) & (cc < page.shape[1])
    mask[rr[ok], cc[ok]] = True
    page[ndimage.binary_dilation(mask, iterations=width // 2) if width > 1 else mask] = 0.0


def _circle_in_square(gap: int = 4, size: int = 200) -> np.ndarray:
    """A square (30..170) around a circle (r 40), each outline broken by a ``gap``-pixel hole."""
    page = np.ones((size, size))
    _pen(page, *rectangle_perimeter((30, 30), (170, 170)))
    _pen(page, *circle_perimeter(100, 100, 40))
    page[95 : 95 + gap, 25:36] = 1.0  # a break in the square's left side
    page[52:66, 100 : 100 + gap] = 1.0  # a break at the top of the circle
    return page


def test_gaps_in_strokes_do_not_leak() -> None:
    for gap in (3, 4):
        regions = segment_sketch(_circle_in_square(gap))
        labels = regions.labels
        assert regions.n_regions == 2
        assert labels[5, 5] == 0 and labels[195, 100] == 0  # outside the square: background
        ring, centre = labels[50, 50], labels[100, 100]
        assert ring > 0 and centre > 0 and ring != centre
        assert labels[100, 40] == ring  # just inside the broken side, still the ring
        assert labels[70, 100 + gap // 2] in (ring, centre)  # the circle's break is not background
        assert regions.box[0] <= 30 and regions.box[2] >= 171


def test_open_shape_joins_the_background() -> None:
    page = np.ones((160, 220))
    _pen(page, *circle_perimeter(80, 50, 30))  # closed
    for r0, c0, r1, c1 in ((40, 120, 40, 200), (40, 120, 120, 120), (120, 120, 120, 200)):
        _pen(page, *line(r0, c0, r1, c1))  # a box with its right side missing
    regions = segment_sketch(page)
    assert regions.n_regions == 1
    assert regions.labels[80, 50] == 1
    assert regions.labels[80, 160] == 0  # inside the open box is background
    assert not regions.silhouette[80, 160]


def test_regions_tile_the_image_and_own_their_outlines() -> None:
    regions = segment_sketch(_circle_in_square(4))
    labels = regions.labels
    assert labels.dtype == np.int32 and labels.min() == 0
    assert set(np.unique(labels)) == {0, 1, 2}
    assert np.array_equal(regions.silhouette, labels > 0)
    # every stroke pixel belongs to the object: the outline is part of the shape it closes
    assert (labels[regions.strokes] > 0).mean() > 0.95
    assert sum(r.area for r in regions.regions) == regions.silhouette.sum()
    circle = next(r for r in regions.regions if r.label == labels[100, 100])
    assert abs(circle.centroid[0] - 100) < 2 and abs(circle.centroid[1] - 100) < 2
    assert abs(circle.area - np.pi * 40**2) < 0.1 * np.pi * 40**2


def test_sketch_inputs_and_small_regions() -> None:
    page = _circle_in_square(3)
    _pen(page, *circle_perimeter(150, 150, 2), width=1)  # a closed speck: too small to be a region
    as_uint8 = (page * 255).astype(np.uint8)
    as_tensor = torch.from_numpy(page).float().expand(1, 3, *page.shape)
    as_rgb = np.repeat(as_uint8[..., None], 3, axis=2)
    as_clear = np.zeros((*page.shape, 4), dtype=np.uint8)  # black ink on a transparent layer
    as_clear[..., 3] = 255 - as_uint8
    results = [segment_sketch(x) for x in (page, as_uint8, as_tensor, as_rgb, as_clear)]
    for regions in results:
        assert regions.n_regions == 2
        assert np.array_equal(regions.labels, results[0].labels)


def test_blank_sketch_is_a_user_error() -> None:
    with pytest.raises(UserError, match="blank"):
        segment_sketch(np.ones((64, 64)))
    with pytest.raises(UserError, match="blank"):
        segment_sketch(np.full((64, 64), 0.3) + 0.01 * np.random.default_rng(0).random((64, 64)))


def _photo(seed: int = 0, height: int = 160, width: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """A red block with a blue disk on it, on a textured, noisy background; returns (photo, parts)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    photo = np.stack(
        [0.55 + 0.1 * np.sin(xs / 5), 0.6 + 0.1 * np.cos(ys / 7), 0.5 + 0.05 * np.sin((xs + ys) / 9)], axis=-1
    )
    truth = np.zeros((height, width), dtype=int)
    rr, cc = rectangle((40, 50), (120, 150))
    photo[rr, cc], truth[rr, cc] = (0.85, 0.2, 0.15), 1
    rr, cc = disk((80, 100), 25)
    photo[rr, cc], truth[rr, cc] = (0.15, 0.25, 0.8), 2
    return np.clip(photo + rng.normal(0, 0.04, photo.shape), 0, 1), truth


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return (a & b).sum() / (a | b).sum()


@pytest.mark.parametrize("seed", [0, 1])
def test_photo_foreground_and_parts(seed: int) -> None:
    photo, truth = _photo(seed)
    regions = segment_photo(photo)
    assert _iou(regions.foreground, truth > 0) > 0.9
    block, spot = regions.labels[truth == 1], regions.labels[truth == 2]
    block_part, spot_part = np.bincount(block).argmax(), np.bincount(spot).argmax()
    assert block_part > 0 and spot_part > 0 and block_part != spot_part
    assert (block == block_part).mean() > 0.9 and (spot == spot_part).mean() > 0.9
    colors = {p.label: np.array(p.mean_color) for p in regions.parts}
    assert colors[block_part][0] > 0.6 and colors[spot_part][2] > 0.6  # red part, blue part
    assert regions.labels.max() == regions.n_parts


def test_photo_seeded_by_box_and_prior() -> None:
    photo, truth = _photo(2)
    prior = np.zeros(truth.shape, dtype=bool)
    prior[45:118, 55:145] = True  # a rough, slightly small silhouette
    regions = segment_photo(torch.from_numpy(photo).permute(2, 0, 1)[None].float(), prior=prior)
    assert _iou(regions.foreground, truth > 0) > 0.8
    box = regions.box
    assert not regions.foreground[: box[0]].any() and not regions.foreground[box[2] :].any()
    whole = segment_photo(photo, box=(40, 40, 130, 160), n_parts=1)
    assert whole.n_parts == 1 and _iou(whole.foreground, truth > 0) > 0.8


def test_alignment_recovers_scale_and_shift() -> None:
    sketch = segment_sketch(_circle_in_square(3))
    truth = Alignment(sy=1.5, sx=1.5, ty=12.0, tx=-20.0)
    photo_fg = truth.warp(sketch.silhouette, (320, 300))
    found = align(sketch, photo_fg.shape, photo_fg)
    assert not found.flipped
    assert found.sy == pytest.approx(1.5, rel=0.03) and found.sx == pytest.approx(1.5, rel=0.03)
    assert found.apply(np.array([[100.0, 100.0]]))[0] == pytest.approx(
        truth.apply(np.array([[100.0, 100.0]]))[0], abs=3
    )
    assert found.iou > 0.95
    # warping there and back is the identity on the object's labels
    there = found.warp(sketch.labels, photo_fg.shape)
    back = found.inverse().warp(there, sketch.shape)
    inner = ndimage.binary_erosion(sketch.silhouette, iterations=3)
    assert (back[inner] == sketch.labels[inner]).mean() > 0.99


def test_alignment_prefers_a_mirror_only_when_it_fits_better() -> None:
    page = np.ones((120, 160))
    _pen(page, *line(20, 20, 100, 20))
    _pen(page, *line(100, 20, 100, 140))
    _pen(page, *line(20, 20, 100, 140))  # a right triangle, right angle at the bottom left
    sketch = segment_sketch(page)
    mirrored_fg = sketch.silhouette[:, ::-1]
    assert align(sketch, page.shape, mirrored_fg).flipped
    assert not align(sketch, page.shape, sketch.silhouette).flipped
    assert not align(sketch, page.shape, mirrored_fg, allow_flip=False).flipped
    # without a photo mask, the page is fitted into the photo frame
    fit = align(sketch, (240, 480))
    assert fit.sy == pytest.approx(2.0) and fit.apply(np.array([[60.0, 80.0]]))[0] == pytest.approx([120, 240])


def _blocks() -> np.ndarray:
    labels = np.zeros((100, 120), dtype=np.int32)
    labels[10:50, 10:60] = 1
    labels[10:50, 60:110] = 2
    labels[50:90, 10:110] = 3
    labels[60:80, 40:70] = 4
    return labels


def test_matching_recovers_permuted_labels() -> None:
    sketch = _blocks()
    permutation = np.array([0, 3, 4, 1, 2])
    photo = permutation[np.roll(sketch, (2, -3), axis=(0, 1))]  # relabelled and slightly shifted
    matches = match_regions(sketch, photo)
    assert [m[:2] for m in matches] == [(s, int(permutation[s])) for s in range(5)]
    assert all(isinstance(m, Match) and 0 <= m.cost < 0.3 for m in matches)
    cost, sketch_ids, photo_ids = cost_matrix(sketch, photo)
    assert cost.shape == (5, 5) and list(sketch_ids) == list(photo_ids) == [0, 1, 2, 3, 4]


def test_matching_falls_back_to_many_to_one() -> None:
    sketch = _blocks()
    photo = np.where(sketch == 2, 1, sketch)  # the photo's part 1 spans sketch regions 1 and 2
    photo = np.where(photo > 2, photo - 1, photo)  # photo parts 1..3
    pairs = {m.sketch: m.photo for m in match_regions(sketch, photo)}
    assert pairs == {0: 0, 1: 1, 2: 1, 3: 2, 4: 3}
    # no photo parts at all: everything takes the background
    pairs = {m.sketch: m.photo for m in match_regions(sketch, np.zeros_like(sketch))}
    assert pairs == {0: 0, 1: 0, 2: 0, 3: 0, 4: 0}
    with pytest.raises(ValueError, match="shape"):
        match_regions(sketch, photo[:-1])


def test_draw_matches_colours_regions_by_match() -> None:
    sketch = _blocks()
    photo = np.array([0, 2, 1, 3, 4])[sketch]
    matches = match_regions(sketch, photo)
    picture = draw_matches(sketch, photo, matches, sketch_image=np.ones(sketch.shape), height=100, gap=10)
    assert picture.dtype == np.uint8 and picture.shape == (100, 120 + 10 + 120, 3)
    colors = region_colors(4)
    assert np.array_equal(picture[20, 20], colors[2])  # sketch region 1 wears photo part 2's colour
    assert np.array_equal(picture[20, 130 + 20], colors[2])


def test_pipeline_pairs_a_drawing_with_the_photo_it_depicts() -> None:
    """Draw the photo's block-and-disk at another scale and place, with gaps; segment both, align, match."""
    photo, truth = _photo(3)
    page = np.ones((150, 150))
    _pen(page, *rectangle_perimeter((20, 15), (120, 140)))  # the block, drawn a little taller
    _pen(page, *circle_perimeter(70, 77, 30))  # the disk
    page[60:64, 12:20] = 1.0  # a gap in the block's outline
    sketch = segment_sketch(page)
    guess = align(sketch, photo.shape)
    regions = segment_photo(photo, prior=guess.warp(sketch.silhouette, photo.shape))
    fit = align(sketch, photo.shape, regions.foreground)
    assert fit.iou > 0.8 and not fit.flipped
    pairs = {m.sketch: m.photo for m in match_regions(fit.warp(sketch.labels, photo.shape), regions.labels)}
    red = np.bincount(regions.labels[truth == 1]).argmax()
    blue = np.bincount(regions.labels[truth == 2]).argmax()
    assert pairs[sketch.labels[25, 25]] == red and pairs[sketch.labels[70, 77]] == blue and pairs[0] == 0
