"""Sketch-based image retrieval: the HED port, edge maps, drawings, the gallery index, search, CLI."""

import json
import os
import warnings

import h5py
import numpy as np
import pytest
import torch
from PIL import Image

from neuroplay.common.errors import UserError
from neuroplay.vision import weight_sources as S
from neuroplay.vision import weights as W
from neuroplay.vision.sketch import edges as E
from neuroplay.vision.sketch.config import RetrievalConfig
from neuroplay.vision.sketch.drawing import (
    SAMPLE_SKETCHES,
    builtin_photo,
    render_strokes,
    sample_sketch,
    synthetic_sketch,
    trace_strokes,
)
from neuroplay.vision.sketch.lines import sketch_edges
from neuroplay.vision.sketch.search import index_gallery

GALLERY = ("coffee", "chelsea", "rocket", "astronaut", "horse", "camera", "coins", "page")
CONFIG = RetrievalConfig()  # the CLI's defaults, so the CLI test reuses the cached index


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One neuroplay cache (converted HED and VGG16 weights, indexes) for the module."""
    root = tmp_path_factory.mktemp("neuroplay-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEUROPLAY_CACHE", str(root))
        W.fetch("hed")
        yield root


@pytest.fixture(autouse=True)
def _use_cache(cache, monkeypatch):
    monkeypatch.setenv("NEUROPLAY_CACHE", str(cache))


def _write_gallery(folder, names=GALLERY, side=160):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        picture = Image.fromarray(builtin_photo(name))
        picture.thumbnail((side, side))
        picture.save(folder / f"{name}.png")
    return folder


@pytest.fixture(scope="module")
def gallery(tmp_path_factory, cache):
    return _write_gallery(tmp_path_factory.mktemp("gallery"))


@pytest.fixture(scope="module")
def index(gallery, cache):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEUROPLAY_CACHE", str(cache))
        return index_gallery(gallery, CONFIG, device="cpu")


def _rectangle(height=96, width=128):
    image = np.full((height, width, 3), 235, dtype=np.uint8)
    image[24:72, 32:96] = (180, 40, 40)
    return image


# --- HED ---------------------------------------------------------------------------------------------


def test_hed_port_has_every_weight_of_the_h5_file():
    model = E.load_hed()
    n_model = sum(p.numel() for p in model.parameters())
    sizes = []
    source = W.source_path(W.WEIGHTS["hed"])
    with h5py.File(source, "r") as h5:
        h5.visititems(lambda _, obj: sizes.append(obj.size) if isinstance(obj, h5py.Dataset) else None)
    assert n_model == sum(sizes) == E.HED_PARAMS == 14_716_171
    state = S.read_hed_h5(source.read_bytes(), "hed", W.hed_shapes())
    with h5py.File(source, "r") as h5:  # HWIO -> OIHW, no flip
        kernel = np.asarray(h5["block2/layers/conv2d_1/vars/0"])  # block2_conv2
        assert h5["block2/layers/conv2d_1/vars"].attrs["name"] == "block2_conv2"
    assert torch.equal(state["conv2_2.weight"], torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy()))


def test_hed_lights_up_on_a_rectangle_border():
    strength = E.hed_edges(_rectangle())
    assert strength.shape == (96, 128) and 0.0 <= strength.min() and strength.max() <= 1.0
    border = np.concatenate([strength[23:25, 32:96].max(0), strength[71:73, 32:96].max(0)])
    inside, outside = strength[36:60, 46:82], strength[2:14, 2:120]
    assert border.mean() > 0.7
    assert inside.mean() < 0.05 and outside.mean() < 0.05
    lines = E.thin_edges(strength)
    assert lines[20:28, 40:88].any(axis=0).all()  # the top side, unbroken
    assert not lines[32:64, 44:84].any()  # nothing inside
    assert lines[20:28, 40:88].sum(axis=0).max() <= 2  # one pixel wide (two at most where it steps)


def test_hed_keeps_odd_sizes_like_keras_same_pooling():
    model = E.HED()  # random weights suffice for shapes
    with torch.inference_mode():
        out = model(torch.rand(1, 3, 37, 53))
    assert out.shape == (1, 1, 37, 53)


def test_tampered_hed_source_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / "hed.weights.h5"
    fake.write_bytes(b"not the published file")
    monkeypatch.setenv("NEUROPLAY_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(W, "source_path", lambda spec: fake)
    with pytest.raises(UserError, match="does not match"):
        W.fetch("hed")
    assert W.status("hed").source_state == "tampered" and not W.status("hed").ok


def test_damaged_hed_cache_is_remade(tmp_path, monkeypatch, cache):
    monkeypatch.setenv("NEUROPLAY_CACHE", str(tmp_path))
    (tmp_path / "hed.pt").write_bytes((cache / "hed.pt").read_bytes()[:-10] + b"0123456789")
    (tmp_path / "hed.json").write_text((cache / "hed.json").read_text())
    assert not W.status("hed").verified and "sha256 mismatch" in W.status("hed").cache_problem
    with pytest.warns(RuntimeWarning, match="failed verification"):
        W.fetch("hed")
    assert W.status("hed").verified


def test_canny_and_the_automatic_fallback(monkeypatch):
    strength, lines = E.detect_edges(_rectangle(), method="canny")
    assert lines.dtype == bool and lines[20:28, 40:88].any(axis=0).all() and not lines[32:64, 44:84].any()
    monkeypatch.setattr(E, "hed_available", lambda: False)
    with pytest.warns(RuntimeWarning, match="falling back to Canny"):
        assert E.resolve_method("auto") == "canny"
    with pytest.raises(UserError, match="edge method"):
        E.resolve_method("sobel")


# --- drawings -------------------------------------------------------------------------------------------


def test_sample_sketches_are_line_drawings_in_their_photos_frame():
    for name, photo in SAMPLE_SKETCHES.items():
        sketch = sample_sketch(name, size=128)
        height, width = builtin_photo(photo).shape[:2]
        assert sketch.dtype == np.uint8 and max(sketch.shape) == 128
        assert abs(sketch.shape[0] / sketch.shape[1] - height / width) < 0.02
        ink = (sketch < 128).mean()
        assert 0.01 < ink < 0.25
    assert np.array_equal(sample_sketch("cup", 128, seed=3), sample_sketch("cup", 128, seed=3))


def test_trace_and_redraw_strokes():
    page = np.zeros((60, 80), dtype=bool)
    page[10, 5:70] = True  # a line
    page[20:50, 40] = True  # and a separate vertical
    strokes = trace_strokes(page, min_length=5)
    assert [len(s) for s in strokes] == [65, 30]
    assert np.array_equal(strokes[0][[0, -1]], [[10, 5], [10, 69]]) or np.array_equal(
        strokes[0][[0, -1]], [[10, 69], [10, 5]]
    )
    drawn = render_strokes([s.astype(float) for s in strokes], page.shape, seed=1, wobble=0.0)
    assert (drawn[9:12, 10:65] < 128).any(axis=0).all()


def test_synthetic_sketch_is_deterministic_partial_and_wobbly():
    photo = builtin_photo("coffee")
    a = synthetic_sketch(photo, seed=5, size=128)
    assert np.array_equal(a, synthetic_sketch(photo, seed=5, size=128))
    assert not np.array_equal(a, synthetic_sketch(photo, seed=6, size=128))
    ink = a < 128
    assert 0.005 < ink.mean() < 0.2
    edges = E.thin_edges(E.hed_edges(torch.nn.functional.interpolate(E.as_image_tensor(photo), size=a.shape)))
    assert (ink & ~np.asarray(Image.fromarray(edges).resize(a.shape[::-1]))).any()  # not a copy of the edges


# --- retrieval -----------------------------------------------------------------------------------------


def test_sketch_edges_and_blank_sketches():
    lines = sketch_edges(sample_sketch("cup", 128), size=128)
    assert lines.dtype == bool and lines.any()
    inverted = sketch_edges(255 - sample_sketch("cup", 128), size=128)
    assert (lines ^ inverted).mean() < 0.01  # light on dark reads the same
    for blank in (np.full((64, 64), 255, np.uint8), np.zeros((64, 64), np.uint8), np.full((64, 64), 0.5)):
        with pytest.raises(UserError, match="blank"):
            sketch_edges(blank)


def test_retrieval_finds_the_photo_a_sketch_was_drawn_from(index):
    assert len(index) == len(GALLERY) and index.method == "hed"
    hits = index.search(sample_sketch("cup"), k=3)
    assert hits[0].path.name == "coffee.png" and len(hits) == 3
    assert hits[0].score > hits[1].score >= hits[2].score
    for name in ("rocket", "horse"):
        sketch = synthetic_sketch(builtin_photo(name), seed=1, size=160)
        assert index.search(sketch, k=1)[0].path.name == f"{name}.png"


def test_mirrored_sketch_is_still_found(index):
    sketch = synthetic_sketch(builtin_photo("horse"), seed=2, size=160)[:, ::-1]
    hit = index.search(np.ascontiguousarray(sketch), k=1)[0]
    assert hit.path.name == "horse.png" and hit.mirrored


def test_the_drawing_as_drawn_beats_its_mirror_image(tmp_path):
    """A photo and its mirror image would tie (the mirrored sketch against one is the sketch
    against the other); the penalty on the mirrored view ranks the photo as drawn first."""
    folder = _write_gallery(tmp_path / "g", ("horse", "coffee", "rocket"))
    Image.open(folder / "horse.png").transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / "esroh.png")
    sketch = synthetic_sketch(builtin_photo("horse"), seed=2, size=160)
    for penalty in (0.5, 2.0):
        config = RetrievalConfig(mirror_penalty=penalty)
        hits = index_gallery(folder, config, device="cpu").search(sketch, k=2)
        assert [h.path.name for h in hits] == ["horse.png", "esroh.png"]
        assert not hits[0].mirrored and hits[1].mirrored
        assert hits[0].score - hits[1].score == pytest.approx(penalty, abs=0.35)
    with pytest.raises(UserError, match="mirror penalty"):
        RetrievalConfig(mirror_penalty=float("nan"))


def test_edge_maps_of_indexed_photos(index, gallery):
    edges = index.edge_map(gallery / "coffee.png")
    assert edges.dtype == bool and max(edges.shape) == 160 and 0.005 < edges.mean() < 0.2
    assert index.search(edges, k=1)[0].path.name == "coffee.png"  # a bool map is read as lines
    with pytest.raises(UserError, match="not in the index"):
        index.edge_map(gallery / "nope.png")


def test_index_is_cached_and_updated(tmp_path):
    folder = _write_gallery(tmp_path / "g", ("coffee", "horse", "coins"), side=96)
    cfg = RetrievalConfig(edge_size=96)
    first = index_gallery(folder, cfg, device="cpu")
    assert (first.stats.added, first.stats.reused) == (3, 0)
    again = index_gallery(folder, cfg, device="cpu")
    assert (again.stats.added, again.stats.reused, again.stats.removed) == (0, 3, 0)
    assert np.array_equal(again.cnn, first.cnn) and np.array_equal(again.chamfer, first.chamfer)
    Image.fromarray(builtin_photo("rocket")).resize((96, 64)).save(folder / "coins.png")  # changed
    (folder / "horse.png").unlink()  # removed
    sub = folder / "more"
    _write_gallery(sub, ("chelsea",), side=96)  # added, in a subfolder
    third = index_gallery(folder, cfg, device="cpu")
    assert (third.stats.added, third.stats.reused, third.stats.removed) == (2, 1, 1)
    assert sorted(p.relative_to(folder).as_posix() for p in third.paths) == [
        "coffee.png",
        "coins.png",
        "more/chelsea.png",
    ]
    other = index_gallery(folder, RetrievalConfig(edge_size=96, edges="canny"), device="cpu")
    assert other.stats.added == 3 and other.method == "canny"  # another edge detector: rebuilt


@pytest.mark.parametrize("damage", ["nan", "shape", "garbage", "kind"])
def test_a_damaged_cached_index_is_rebuilt_with_a_warning(tmp_path, damage):
    from neuroplay.vision.sketch.index import default_index_path

    folder = _write_gallery(tmp_path / "g", ("coffee", "horse"), side=96)
    cfg = RetrievalConfig(edge_size=96)
    first = index_gallery(folder, cfg, device="cpu")
    path = default_index_path(folder)
    blob = torch.load(path, weights_only=True)
    if damage == "nan":
        blob["embed"][0, 3] = float("nan")
    elif damage == "shape":
        blob["hog"] = blob["hog"][:1]
    elif damage == "kind":
        blob["kind"] = "something-else"
    torch.save(blob, path)
    if damage == "garbage":
        path.write_bytes(b"not a torch file")
    notes = []
    again = index_gallery(folder, cfg, device="cpu", notify=notes.append)
    assert again.stats.added == 2 and again.stats.reused == 0
    assert len(notes) == 1 and "damaged" in notes[0] and str(path) in notes[0]
    assert np.allclose(again.embed, first.embed, atol=1e-6) and np.isfinite(again.embed).all()
    quiet = []
    assert index_gallery(folder, cfg, device="cpu", notify=quiet.append).stats.reused == 2 and not quiet


def test_corrupt_files_are_skipped_with_a_warning(tmp_path, run_cli):
    folder = _write_gallery(tmp_path / "g", ("coffee", "coins"), side=96)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    (folder / "notes.txt").write_text("not an image, not looked at")
    notes = []
    built = index_gallery(folder, RetrievalConfig(edge_size=96), device="cpu", notify=notes.append)
    assert len(built) == 2 and len(notes) == 1 and "broken.jpg" in notes[0]
    assert built.stats.skipped[0][0] == "broken.jpg"
    with pytest.warns(RuntimeWarning, match="broken.jpg"):  # still reported when the index is reused
        index_gallery(folder, RetrievalConfig(edge_size=96), device="cpu")
    code, out, err = run_cli("sketch", "index", "--gallery", folder, "--json")
    assert code == 0 and "warning" in err and "broken.jpg" in err
    assert json.loads(out.strip().splitlines()[-1])["skipped"][0]["path"] == "broken.jpg"


def test_galleries_without_usable_images_are_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        index_gallery(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no images"):
        index_gallery(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"garbage")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(UserError, match="no usable images"):
            index_gallery(tmp_path / "bad")


# --- command line -----------------------------------------------------------------------------------------


def test_cli_index_and_search_json(run_cli, gallery):
    code, out, err = run_cli("sketch", "index", "--gallery", gallery, "--json")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["images"] == len(GALLERY) and summary["edges"] == "hed" and summary["skipped"] == []
    code, out, err = run_cli("sketch", "search", "demo:cup", "--gallery", gallery, "-k", "3", "--json")
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    ranked = result["results"]
    assert len(ranked) == 3 and set(ranked[0]) >= {"path", "score"}
    assert os.path.basename(ranked[0]["path"]) == "coffee.png"
    assert ranked[0]["score"] >= ranked[1]["score"] >= ranked[2]["score"]
    code, out, err = run_cli("sketch", "search", "demo:cup", "--gallery", gallery, "-k", "2")
    assert code == 0 and "coffee.png" in out.splitlines()[1]


@pytest.mark.parametrize("case", ["blank", "unreadable", "missing-sketch", "missing-gallery", "empty-gallery", "bad-k"])
def test_cli_bad_input_exits_2_with_one_line(run_cli, gallery, tmp_path, case):
    blank = tmp_path / "blank.png"
    Image.new("L", (64, 64), 255).save(blank)
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"\x89PNG broken")
    (tmp_path / "empty").mkdir()
    args = {
        "blank": [blank, "--gallery", gallery],
        "unreadable": [garbage, "--gallery", gallery],
        "missing-sketch": [tmp_path / "nope.png", "--gallery", gallery],
        "missing-gallery": ["demo:cup", "--gallery", tmp_path / "nowhere"],
        "empty-gallery": ["demo:cup", "--gallery", tmp_path / "empty"],
        "bad-k": ["demo:cup", "--gallery", gallery, "-k", "0"],
    }[case]
    code, out, err = run_cli("sketch", "search", *args, "--json")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err


def test_hed_in_bf16_gives_the_same_lines_and_its_own_index_key():
    fp32, bf16 = E.hed_edges(_rectangle()), E.hed_edges(_rectangle(), precision="bf16")
    assert np.abs(fp32 - bf16).max() < 0.05
    assert (E.thin_edges(fp32) == E.thin_edges(bf16)).mean() > 0.99
    config = RetrievalConfig()
    assert config.index_key("hed", "bf16") != config.index_key("hed", "fp32")  # one never reuses the other
    with pytest.raises(UserError, match="precision"):
        RetrievalConfig(precision="fp16")


def test_gallery_files_follow_linked_folders_once(tmp_path):
    """A gallery may be a folder of links to photo folders; a link back up the tree does not loop."""
    from neuroplay.vision.sketch.index import gallery_files

    photos = tmp_path / "photos" / "cats"
    photos.mkdir(parents=True)
    Image.new("RGB", (32, 32), "gray").save(photos / "a.png")
    (photos / ".hidden.png").write_bytes(b"")
    gallery = tmp_path / "gallery"
    gallery.mkdir()
    (gallery / "cats").symlink_to(photos, target_is_directory=True)
    (gallery / "loop").symlink_to(gallery, target_is_directory=True)
    Image.new("RGB", (32, 32), "white").save(gallery / "b.jpg")
    assert [p.relative_to(gallery).as_posix() for p in gallery_files(gallery)] == ["b.jpg", "cats/a.png"]
