"""The learned sketch-photo embedding: training lowers its loss, the same seed gives the same model
(stopped and resumed or not), a drawing finds its photo through it, and bad model files or pairs
folders are refused with exit 2."""

import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from neuroplay.common.errors import UserError
from neuroplay.vision.sketch.config import EmbeddingConfig
from neuroplay.vision.sketch.embedding import (
    FEATURES,
    MODEL_KIND,
    SketchEmbedding,
    drawing_frame,
    load_embedding,
    photo_encoder,
    photo_frame,
    save_embedding,
)
from neuroplay.vision.sketch.embedding_train import checkpoint_path, train_embedding
from neuroplay.vision.sketch.pairs import find_pairs, frame_drawing

SHAPES = ("circle", "square", "triangle", "cross", "bar", "diamond")
TINY = EmbeddingConfig(dim=16, epochs=4, batch_size=8, augmentations=1, holdout=0.0, lr=1e-2)


def _polygon(shape: str, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    if shape == "square":
        return [(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    if shape == "triangle":
        return [(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    if shape == "diamond":
        return [(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)]
    if shape == "bar":
        return [(cx - r, cy - r / 4), (cx + r, cy - r / 4), (cx + r, cy + r / 4), (cx - r, cy + r / 4)]
    t = r / 3  # cross
    return [
        (cx - t, cy - r), (cx + t, cy - r), (cx + t, cy - t), (cx + r, cy - t), (cx + r, cy + t), (cx + t, cy + t),
        (cx + t, cy + r), (cx - t, cy + r), (cx - t, cy + t), (cx - r, cy + t), (cx - r, cy - t), (cx - t, cy - t),
    ]  # fmt: skip


def _draw(draw: ImageDraw.ImageDraw, shape: str, cx, cy, r, **style) -> None:
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], **style)
    else:
        draw.polygon(_polygon(shape, cx, cy, r), **style)


@pytest.fixture(scope="module")
def pairs_dir(tmp_path_factory):
    """Two photos of each shape (filled, coloured, on a noisy ground) and two outlines of each."""
    root = tmp_path_factory.mktemp("pairs")
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        (root / "photos" / shape).mkdir(parents=True)
        (root / "sketches" / shape).mkdir(parents=True)
        for n in range(2):
            ground = (rng.uniform(0.3, 0.7, (96, 96, 3)) * 255).astype(np.uint8)
            photo = Image.fromarray(ground)
            colour = tuple(int(c) for c in rng.integers(0, 255, 3))
            _draw(ImageDraw.Draw(photo), shape, 48 + rng.uniform(-6, 6), 48 + rng.uniform(-6, 6), 30, fill=colour)
            photo.save(root / "photos" / shape / f"p{n}.png")
            for k in range(2):
                page = Image.new("L", (160, 160), 255)
                r = rng.uniform(40, 60)
                _draw(ImageDraw.Draw(page), shape, 80 + rng.uniform(-10, 10), 80, r, outline=0, width=2)
                page.save(root / "sketches" / shape / f"p{n}-{k}.png")
    return root


@pytest.fixture(scope="module")
def trained(pairs_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "m.pt"
    return train_embedding(pairs_dir, out, TINY), out


def test_pairs_are_found_by_name(pairs_dir):
    pairs = find_pairs(pairs_dir)
    assert len(pairs.photos) == 12 and len(pairs.sketches) == 24 and pairs.unpaired == 0
    for sketch, j in zip(pairs.sketches, pairs.photo_of, strict=True):
        assert sketch.parent.name == pairs.photos[j].parent.name
        assert sketch.stem.rsplit("-", 1)[0] == pairs.photos[j].stem


def test_training_lowers_the_loss_and_writes_a_checked_model(trained):
    result, out = trained
    losses = [h["loss"] for h in result.history]
    assert len(losses) == TINY.epochs and losses[-1] < 0.8 * losses[0]
    model = load_embedding(out)
    assert model.dim == 16 and model.card["drawings"] == 24
    assert not checkpoint_path(out).exists()  # a finished run removes its checkpoint


def test_same_seed_same_model_even_when_stopped_and_resumed(pairs_dir, trained, tmp_path):
    _, first = trained
    out = tmp_path / "again.pt"
    polls = [0]

    def stop_once():  # stop part-way through the drawings' features
        polls[0] += 1
        return polls[0] == 3

    stopped = train_embedding(pairs_dir, out, TINY, should_stop=stop_once)
    assert stopped.interrupted and stopped.model is None and checkpoint_path(out).exists() and not out.exists()
    with pytest.raises(UserError, match="--resume"):
        train_embedding(pairs_dir, out, TINY)  # an existing checkpoint is not overwritten
    with pytest.raises(UserError, match="other settings"):
        train_embedding(pairs_dir, out, EmbeddingConfig(**{**TINY.__dict__, "dim": 8}), resume=True)
    train_embedding(pairs_dir, out, TINY, resume=True)
    a, b = load_embedding(first), load_embedding(out)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)


def test_a_drawing_finds_its_photo_through_the_learned_embedding(pairs_dir, trained):
    """A new outline (not one it trained on, drawn larger and off-centre) of each shape ranks a
    photo of that shape first among all twelve photos."""
    model = trained[0].model
    pairs = find_pairs(pairs_dir)
    encoder = photo_encoder("cpu")
    photos = encoder.photos([photo_frame(_load(p)) for p in pairs.photos], mirror=False)[:, 0]
    hits = 0
    for shape in SHAPES:
        page = Image.new("L", (300, 220), 255)
        _draw(ImageDraw.Draw(page), shape, 120, 120, 80, outline=0, width=3)
        query = encoder.drawings([drawing_frame(np.asarray(page, np.float32) / 255)])
        best = int(np.argmax(model.scores(photos, query)[0]))
        hits += pairs.photos[best].parent.name == shape
    assert hits >= 5


def _load(path):
    from neuroplay.vision.image import load_image

    return load_image(path)


def test_frames_are_dark_lines_on_white_filling_the_frame():
    ink = np.zeros((200, 300), bool)
    ink[50:150, 40] = ink[50:150, 240] = ink[50, 40:241] = ink[150, 40:241] = True
    frame = frame_drawing(ink, 128)
    assert frame.shape == (128, 128) and frame.max() == 1.0 and frame.min() < 0.3
    dark = np.nonzero(frame < 0.5)
    assert dark[1].max() - dark[1].min() >= 0.8 * 128  # the box fills ~85% of the frame


# --- bad input -------------------------------------------------------------------------------------------


def _model() -> SketchEmbedding:
    g = torch.Generator().manual_seed(0)
    weight = torch.randn(8, FEATURES, generator=g)
    return SketchEmbedding(weight, torch.zeros(8), torch.zeros(FEATURES), torch.ones(FEATURES))


def test_a_saved_model_round_trips(tmp_path):
    save_embedding(tmp_path / "m.pt", _model(), half=True)
    back = load_embedding(tmp_path / "m.pt")
    assert torch.allclose(back.weight, _model().weight, atol=1e-2)


@pytest.mark.parametrize("damage", ["truncated", "flipped", "nan", "shape", "kind"])
def test_bad_model_files_are_refused(tmp_path, run_cli, damage):
    path = tmp_path / "m.pt"
    save_embedding(path, _model())
    data = torch.load(path, weights_only=True)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:5000])
    elif damage == "flipped":  # numbers changed, its sha256 left as it was
        data["weight"][3, 5] += 1.0
        torch.save(data, path)
    elif damage == "nan":
        data["bias"][0] = float("nan")
        torch.save(data, path)
    elif damage == "shape":
        data["weight"] = data["weight"][:, :100]
        torch.save(data, path)
    else:
        data["kind"] = "neuroplay-dqn-model"
        torch.save(data, path)
    before = path.read_bytes()
    with pytest.raises(UserError):
        load_embedding(path)
    code, out, err = run_cli("sketch", "search", "demo:cup", "--model", path, "-q")
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert path.read_bytes() == before
    assert data.get("kind") in (MODEL_KIND, "neuroplay-dqn-model")


def test_the_builtin_model_is_verified_and_has_a_card():
    from neuroplay.vision.sketch import embedding

    assert embedding.file_sha256(embedding.BUILTIN) == embedding.BUILTIN_SHA256
    model = embedding.builtin_embedding()
    assert model.source == "builtin" and model.weight.shape[1] == embedding.FEATURES
    assert model.card["drawings"] > 1000 and model.card["history"][-1]["loss"] < model.card["history"][0]["loss"]
    card = embedding.BUILTIN.with_name("sketch-embedding.md").read_text()
    assert "Sketchy" in card and "terms" in card.lower() and embedding.BUILTIN_SHA256 in card


def test_each_builtin_drawing_finds_its_photo_with_the_builtin_model(run_cli):
    """The fusion weight shipped keeps every built-in drawing's own photo first in the built-in gallery."""
    own = {"cup": "coffee", "cat": "chelsea", "rocket": "rocket", "astronaut": "astronaut", "horse": "horse"}
    for name, photo in own.items():
        code, out, err = run_cli("sketch", "search", f"demo:{name}", "--json", "-q")
        result = json.loads(out)
        assert code == 0 and result["embedding"] == "builtin", err
        assert result["results"][0]["path"].endswith(f"/{photo}.png"), (name, result["results"][:2])


@pytest.mark.parametrize("damage", ["missing", "flipped"])
def test_a_damaged_builtin_model_is_a_clear_error(tmp_path, run_cli, monkeypatch, damage):
    from neuroplay.vision.sketch import embedding

    copy = tmp_path / "sketch-embedding.pt"
    if damage == "flipped":
        raw = bytearray(embedding.BUILTIN.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        copy.write_bytes(bytes(raw))
    monkeypatch.setattr(embedding, "BUILTIN", copy)
    code, out, err = run_cli("sketch", "search", "demo:cup", "-q")
    assert code == 2 and err.startswith("error: the built-in sketch embedding") and len(err.strip().splitlines()) == 1
    assert "--model none" in err
    code, out, err = run_cli("sketch", "search", "demo:cup", "--model", "none", "-q", "--json")
    assert code == 0 and json.loads(out)["embedding"] is None


def test_bad_pairs_folders_are_refused(tmp_path, run_cli):
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli("sketch", "train", "--pairs", tmp_path / "empty", "-o", tmp_path / "m.pt")
    assert code == 2 and "photos/" in err
    for sub in ("photos/a", "sketches/a"):
        (tmp_path / "nopairs" / sub).mkdir(parents=True)
    Image.new("RGB", (32, 32)).save(tmp_path / "nopairs/photos/a/x.png")
    Image.new("L", (32, 32), 255).save(tmp_path / "nopairs/sketches/a/y-1.png")
    code, _, err = run_cli("sketch", "train", "--pairs", tmp_path / "nopairs", "-o", tmp_path / "m.pt")
    assert code == 2 and "no sketch–photo pair" in err
    code, _, err = run_cli("sketch", "train", "--pairs", tmp_path / "nopairs", "-o", tmp_path / "m.png")
    assert code == 2 and ".pt" in err
    code, _, err = run_cli("sketch", "train", "--pairs", tmp_path / "empty", "-o", tmp_path / "m.pt", "--epochs", "0")
    assert code == 2 and "epochs" in err
    assert not (tmp_path / "m.pt").exists()


def test_train_command_writes_a_model_search_can_use(pairs_dir, tmp_path, run_cli):
    out = tmp_path / "cli.pt"
    code, stdout, err = run_cli(
        "sketch", "train", "--pairs", pairs_dir, "-o", out, "--epochs", "1", "--augmentations", "0", "--dim", "8",
        "--json", "-q",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["output"] == str(out) and summary["drawings"] == 24 and len(summary["history"]) == 1
    assert load_embedding(out).dim == 8
