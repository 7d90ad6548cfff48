"""Style networks: the network, its training (loss falls, same seed same weights, exact resume),
model files, and applying one to images, folders and videos."""

import numpy as np
import pytest
import torch
from PIL import Image

from neuroplay.common.errors import UserError
from neuroplay.vision.stylenet.apply import ApplyConfig, deflicker_blend, prepare_apply, run_apply
from neuroplay.vision.stylenet.config import TrainConfig
from neuroplay.vision.stylenet.model_file import load_model, save_model
from neuroplay.vision.stylenet.network import StyleNet
from neuroplay.vision.stylenet.train import resume, run_dir_for, train

TINY = dict(batch_size=2, crop=32, style_size=64, widths=(4, 8, 8), blocks=1, preview_every=2, checkpoint_every=2,
            precision="fp32", threads=1)  # fmt: skip


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A folder of three small generated photos, a style painting beside it."""
    root = tmp_path_factory.mktemp("stylenet")
    rng = np.random.default_rng(0)
    (root / "photos" / "sub").mkdir(parents=True)
    for i, name in enumerate(("a.png", "b.jpg", "sub/c.png")):
        y, x = np.mgrid[0:60, 0:80]
        pixels = np.stack([(x * 3 + i * 40) % 256, (y * 4) % 256, (x + y + i * 90) % 256], -1).astype(np.uint8)
        Image.fromarray(pixels).save(root / "photos" / name)
    style = (rng.random((48, 48, 3)) * 255).astype(np.uint8)
    Image.fromarray(style).save(root / "style.png")
    return root


def _train(root, out, steps, **kw):
    config = TrainConfig(steps=steps, **{**TINY, **kw})
    return train(config, root / "style.png", [root / "photos"], out)


def test_the_network_keeps_any_size_odd_ones_too():
    net = StyleNet((4, 8, 8), 1).eval()
    for h, w in [(37, 53), (17, 9), (1, 1), (64, 64)]:
        with torch.no_grad():
            out = net(torch.rand(1, 3, h, w))
        assert out.shape == (1, 3, h, w) and 0 <= float(out.min()) and float(out.max()) <= 1


def test_a_tiny_network_trains_and_its_loss_falls(photos, tmp_path):
    result = _train(photos, tmp_path / "m.pt", 12, learning_rate=0.05, widths=(8, 16, 16))
    totals = [row["total"] for row in result.history]
    assert len(totals) == 12 and not result.interrupted
    assert np.mean(totals[-3:]) < 0.7 * np.mean(totals[:3]), totals
    run = run_dir_for(tmp_path / "m.pt")
    assert {"checkpoint.pt", "losses.csv", "loss_curve.png", "previews"} <= {p.name for p in run.iterdir()}
    assert len(list((run / "previews").glob("*.png"))) == 6
    model = load_model(tmp_path / "m.pt")
    assert model.card["steps"] == 12 and model.card["style"] == "style.png"


def _weights(path):
    return load_model(path).net.state_dict()


def test_same_seed_same_weights_and_another_seed_others(photos, tmp_path):
    _train(photos, tmp_path / "a.pt", 3)
    _train(photos, tmp_path / "b.pt", 3)
    _train(photos, tmp_path / "c.pt", 3, seed=1)
    a, b, c = (_weights(tmp_path / f"{n}.pt") for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_a_stopped_run_resumes_exactly(photos, tmp_path):
    _train(photos, tmp_path / "whole.pt", 4)
    config = TrainConfig(steps=4, **TINY)
    calls = []
    stopped = train(config, photos / "style.png", [photos / "photos"], tmp_path / "part.pt",
                    callback=calls.append, should_stop=lambda: len(calls) >= 1)  # fmt: skip
    assert stopped.interrupted and stopped.steps == 1
    resumed = resume(run_dir_for(tmp_path / "part.pt"))
    assert resumed.steps == 4 and not resumed.interrupted
    whole, part = _weights(tmp_path / "whole.pt"), _weights(tmp_path / "part.pt")
    assert all(torch.equal(whole[k], part[k]) for k in whole)


def test_model_files_round_trip_in_float32_and_float16(tmp_path):
    net = StyleNet((4, 8, 8), 2).eval()
    x = torch.rand(1, 3, 20, 30)
    save_model(tmp_path / "full.pt", net, {"name": "n"})
    save_model(tmp_path / "half.pt", net, {"name": "n"}, half=True)
    full, half = load_model(tmp_path / "full.pt"), load_model(tmp_path / "half.pt")
    with torch.no_grad():
        assert torch.equal(full.net(x), net(x))
        assert (half.net(x) - net(x)).abs().max() < 0.02
    assert (tmp_path / "half.pt").stat().st_size < 0.7 * (tmp_path / "full.pt").stat().st_size
    assert full.name == "n"


def test_a_file_of_another_kind_or_corrupt_is_a_user_error(tmp_path):
    from neuroplay.common.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "other.pt", "neuroplay.dqn.model", 1, {"q": {}})
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(UserError, match="expected 'neuroplay-stylenet'"):
        load_model(tmp_path / "other.pt")
    with pytest.raises(UserError, match="not a (readable|safe neuroplay) checkpoint"):
        load_model(tmp_path / "junk.pt")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.pt"
    torch.manual_seed(0)
    save_model(path, StyleNet((4, 8, 8), 1), {"name": "tiny"})
    return path


def test_apply_keeps_an_odd_size_or_takes_the_size_asked(model, photos, tmp_path):
    Image.fromarray(np.zeros((33, 47, 3), np.uint8)).save(tmp_path / "odd.png")
    summary = run_apply(prepare_apply(model, tmp_path / "odd.png", tmp_path / "out.png"))
    assert Image.open(tmp_path / "out.png").size == (47, 33)
    assert summary["images"] == 1 and summary["seconds_per_image"] > 0 and summary["wall_seconds"] > 0
    run_apply(prepare_apply(model, tmp_path / "odd.png", tmp_path / "big.jpg", ApplyConfig(size=94)))
    assert Image.open(tmp_path / "big.jpg").size == (94, 66)


def test_a_folder_gives_one_output_per_image_and_skips_unreadable_files(model, photos, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for p in (photos / "photos").rglob("*.*"):
        target = src / p.relative_to(photos / "photos")
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(p.read_bytes())
    (src / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    summary = run_apply(prepare_apply(model, src, tmp_path / "out"))
    assert summary["images"] == 3 and [row["file"] for row in summary["skipped"]] == [str(src / "broken.jpg")]
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.*"))
    assert written == ["a.png", "b.jpg", "sub/c.png"]
    with pytest.raises(UserError, match="overwrite an input"):
        prepare_apply(model, src, src)


@pytest.mark.parametrize("suffix, fps", [(".mp4", 24.0), (".gif", 12.5)])
def test_a_video_keeps_its_format_frame_count_and_rate(model, tmp_path, suffix, fps):
    from neuroplay.common.video import read_video, write_video

    rng = np.random.default_rng(0)
    frames = [(rng.random((36, 64, 3)) * 255).astype(np.uint8) for _ in range(7)]
    write_video(tmp_path / f"clip{suffix}", frames, fps=fps)
    config = ApplyConfig(deflicker=0.5)
    summary = run_apply(prepare_apply(model, tmp_path / f"clip{suffix}", tmp_path / f"out{suffix}", config))
    out, out_fps = read_video(tmp_path / f"out{suffix}")
    assert len(out) == 7 and out[0].shape == (36, 64, 3) and out_fps == pytest.approx(fps)
    assert summary["frames"] == 7 and summary["images"] == 7
    with pytest.raises(UserError, match="written as"):
        prepare_apply(model, tmp_path / f"clip{suffix}", tmp_path / ("o.gif" if suffix == ".mp4" else "o.mp4"))


def test_a_stopped_video_keeps_the_frames_done_at_the_same_rate(model, tmp_path):
    from neuroplay.common.video import read_video, write_video

    frames = [np.full((16, 24, 3), 20 * i, np.uint8) for i in range(9)]
    write_video(tmp_path / "clip.mp4", frames, fps=15)
    seen = []
    job = prepare_apply(model, tmp_path / "clip.mp4", tmp_path / "out.mp4")
    summary = run_apply(job, progress=lambda *done_total: seen.append(done_total), should_stop=lambda: len(seen) >= 4)
    out, fps = read_video(tmp_path / "out.mp4")
    assert summary["interrupted"] and summary["frames"] == 4 == len(out) and fps == pytest.approx(15)
    assert seen[-1] == (4, 9)


def test_deflicker_keeps_still_pixels_and_lets_moving_ones_change():
    prev_out, out = torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2)
    prev_frame = torch.zeros(1, 3, 2, 2)
    frame = prev_frame.clone()
    frame[..., 0, 0] = 1.0  # one pixel moved
    blended = deflicker_blend(out, prev_out, frame, prev_frame, 0.8)
    assert float(blended[0, 0, 0, 0]) == pytest.approx(1.0)  # moved: the new output
    assert float(blended[0, 0, 1, 1]) == pytest.approx(0.2)  # still: 80% of the last output


def test_bad_inputs_are_user_errors(model, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "x.txt").write_text("hi")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "p.png")
    with pytest.raises(UserError, match="no images"):
        prepare_apply(model, tmp_path / "empty", tmp_path / "out")
    with pytest.raises(UserError, match="not a readable video|no frames"):
        run_apply(prepare_apply(model, tmp_path / "empty.mp4", tmp_path / "o.mp4"))
    with pytest.raises(UserError, match="cannot read"):
        prepare_apply(model, tmp_path / "x.txt", tmp_path / "o.png")
    with pytest.raises(UserError, match="no built-in style network"):
        prepare_apply("builtin:nope", tmp_path / "p.png", tmp_path / "o.png")
    with pytest.raises(UserError, match="image file"):
        prepare_apply(model, tmp_path / "p.png", tmp_path / "o.gif")


def test_the_command_line_trains_resumes_applies_and_lists(photos, tmp_path, run_cli):
    import json

    small = ["--steps", "2", "--batch-size", "1", "--crop", "32", "--style-size", "48", "--widths", "4,4,4",
             "--blocks", "1", "--precision", "fp32", "--threads", "1", "--json"]  # fmt: skip
    train_args = ["stylenet", "train", photos / "style.png", "--content", photos / "photos", "-o", tmp_path / "m.pt"]
    code, out, err = run_cli(*train_args, *small)
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["steps"] == 2
    code, _, err = run_cli(*train_args, *small)
    assert code == 2 and "already holds a run" in err and err.count("\n") == 1
    code, _, err = run_cli("stylenet", "train", "--resume", tmp_path / "m-run", "--crop", "64")
    assert code == 2 and "--crop cannot change" in err, err
    code, out, err = run_cli("stylenet", "train", "--resume", tmp_path / "m-run", "--steps", "3", "--json", "-q")
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["steps"] == 3
    code, out, err = run_cli("stylenet", "apply", tmp_path / "m.pt", photos / "photos" / "a.png", "-o",
                             tmp_path / "a.png", "--json")  # fmt: skip
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert {"wall_seconds", "seconds_per_image", "images", "output"} <= set(summary) and summary["images"] == 1
    code, out, err = run_cli("stylenet", "list", "--json")
    assert code == 0, err
    rows = json.loads(out.strip().splitlines()[-1])["networks"]
    assert [row["name"] for row in rows] == ["starry-night", "the-scream"] and all(row["ok"] for row in rows)
    assert all(row["style"] and row["steps"] > 0 for row in rows)
