"""Deep Dream: objective routing, octaves, exact tiles, mask, guide, zoom, the `dream` CLI."""

import contextlib
import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neuroplay.common.errors import UserError
from neuroplay.vision import weights as W
from neuroplay.vision.dream import dream, objective_gradient, octave_sizes
from neuroplay.vision.dream_config import DreamConfig
from neuroplay.vision.dream_run import prepare_dream, run_dream
from neuroplay.vision.features import VGGFeatures
from neuroplay.vision.image import demo_content, save_image
from neuroplay.vision.tiling import halo_and_align, layer_reach, plan_tiles

FP32 = {"precision": "fp32", "jitter": 0, "octaves": 1}


@pytest.fixture(scope="module", autouse=True)
def weights_cache(tmp_path_factory):
    """VGG16 converted once into a private cache for this module."""
    root = tmp_path_factory.mktemp("neuroplay-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEUROPLAY_CACHE", str(root))
        W.fetch("vgg16")
        yield root


@pytest.fixture(scope="module")
def cat():
    return demo_content("chelsea", 64)  # 64×43


def test_objective_gradient_is_the_stated_objective(cat):
    """Layers, weights and channels route the gradient exactly as the formula says."""
    config = DreamConfig(layers={"relu1_2": 0.5, "relu3_3": 2.0}, channels={"relu3_3": (1, 4)}, **FP32)
    grad, value = objective_gradient(cat, config)

    net = VGGFeatures(["relu1_2", "relu3_3"])
    x = cat.clone().requires_grad_(True)
    feats = net(x)
    low, high = feats["relu1_2"], feats["relu3_3"][:, [1, 4]]
    loss = 0.5 * 0.5 * low.pow(2).sum() / low.numel() + 2.0 * 0.5 * high.pow(2).sum() / high.numel()
    (expected,) = torch.autograd.grad(loss, x)
    assert value == pytest.approx(loss.item(), rel=1e-4)
    torch.testing.assert_close(grad, expected, rtol=1e-3, atol=1e-4 * expected.abs().max().item())
    only_low, _ = objective_gradient(cat, DreamConfig(layers="relu1_2", **FP32))
    assert not torch.allclose(only_low, grad, rtol=0.05)  # the deeper layer did contribute


def test_channel_objective_raises_that_channel(cat):
    net = VGGFeatures(["relu3_3"])
    config = DreamConfig(layers="relu3_3", channels={"relu3_3": (7,)}, steps=3, **FP32)
    result = dream(cat, config)
    with torch.no_grad():
        before = net(cat)["relu3_3"].mean(dim=(0, 2, 3))
        after = net(result.image)["relu3_3"].mean(dim=(0, 2, 3))
    change = after - before
    assert change[7] > 3 * before[7]
    assert int((change > change[7]).sum()) == 0  # no other channel grew as much


def test_octave_sizes_and_too_small_image():
    assert octave_sizes(300, 400, 3, 2.0) == [(300, 400), (150, 200), (75, 100)]
    assert octave_sizes(768, 1024, 4, 1.4)[-1] == (280, 373)
    config = DreamConfig(layers="relu4_3", octaves=4)  # needs 32 px at the smallest octave
    assert config.min_side == 32
    with pytest.raises(UserError, match="smallest of 4 octaves .* needs at least 32 px"):
        dream(torch.rand(1, 3, 60, 80), config)


def test_tile_plan_partitions_the_image():
    halo, align = halo_and_align(("relu4_3",))
    assert layer_reach("relu4_3") == 42 and (halo, align) == (48, 8)
    height, width, size = 301, 517, 160
    tiles = plan_tiles(height, width, size, halo, align)
    cover = torch.zeros(height, width, dtype=torch.int32)
    for tile in tiles:
        assert tile.rows.stop - tile.rows.start <= size and tile.cols.stop - tile.cols.start <= size
        assert tile.rows.start % align == 0 and tile.cols.start % align == 0
        y0, y1, x0, x1 = tile.core
        cover[tile.rows.start + y0 : tile.rows.start + y1, tile.cols.start + x0 : tile.cols.start + x1] += 1
    assert len(tiles) > 4 and bool((cover == 1).all())
    assert len(plan_tiles(300, 400, 512, halo, align)) == 1  # fits: not split


def test_tiled_gradient_equals_untiled(cat):
    image = demo_content("astronaut", 120)[..., :96, :120]
    layers = {"relu3_3": 1.0, "relu4_1": 0.5}
    whole, value = objective_gradient(image, DreamConfig(layers=layers, **FP32))
    tiled, tiled_value = objective_gradient(image, DreamConfig(layers=layers, tile_size=112, **FP32))
    halo, align = halo_and_align(tuple(layers))
    assert len(plan_tiles(96, 120, 112, halo, align)) > 1
    assert tiled_value == pytest.approx(value, rel=1e-5)
    torch.testing.assert_close(tiled, whole, rtol=1e-4, atol=1e-5 * whole.abs().max().item())


def test_mask_keeps_outside_pixels_exactly(cat):
    mask = torch.zeros(1, 3, *cat.shape[-2:])
    mask[..., 32:] = 1.0
    result = dream(cat, DreamConfig(layers="relu3_3", octaves=2, steps=2, jitter=8, precision="fp32"), mask=mask)
    assert torch.equal(result.image[..., :32], cat[..., :32])
    assert (result.image[..., 36:] - cat[..., 36:]).abs().mean() > 1e-3


def test_guide_increases_similarity_to_the_guide(cat):
    guide = demo_content("coffee", 64)
    config = DreamConfig(layers="relu4_3", steps=5, step_size=0.01, guide_size=64, **FP32)
    guided = dream(cat, config, guide=guide).image
    plain = dream(cat, config).image
    net = VGGFeatures(["relu4_3"])

    def nearest_cosine(x):  # mean over positions of the best cosine similarity to a guide position
        with torch.no_grad():
            a, g = (F.normalize(net(i)["relu4_3"][0].flatten(1), dim=0) for i in (x, guide))
        return (a.t() @ g).max(1).values.mean().item()

    assert nearest_cosine(guided) > nearest_cosine(cat) + 0.03
    assert nearest_cosine(guided) > nearest_cosine(plain) + 0.03


def test_zoom_frames_and_seed(cat):
    config = DreamConfig(layers="relu2_2", steps=1, zoom_frames=3, zoom_steps=1, jitter=4)
    result = dream(cat, config)
    assert len(result.frames) == 3 and all(f.shape == cat.shape for f in result.frames)
    assert torch.equal(result.frames[0], result.image)
    again = dream(cat, config)
    assert all(torch.equal(a, b) for a, b in zip(result.frames, again.frames, strict=True))


def test_config_validation():
    with pytest.raises(UserError, match="unknown vgg16 layer 'relu9_1'"):
        DreamConfig(layers="relu9_1")
    with pytest.raises(UserError, match="relu2_2 has channels 0..127; there is no channel 128"):
        DreamConfig(layers="relu2_2", channels={"relu2_2": (3, 128)})
    with pytest.raises(UserError, match="not a dream layer"):
        DreamConfig(layers="relu2_2", channels={"relu3_3": (3,)})
    with pytest.raises(UserError, match="steps"):
        DreamConfig(steps=0)
    with pytest.raises(UserError, match="tile size"):
        DreamConfig(tile_size=64)
    with pytest.raises(UserError, match="octave scale"):
        DreamConfig(octave_scale=1.0)
    with pytest.raises(UserError, match="precision"):
        DreamConfig(precision="fp8")
    assert DreamConfig(layers=["relu4_3", "relu3_3"]).layers == (("relu4_3", 1.0), ("relu3_3", 1.0))


# --- command line -------------------------------------------------------------------------------


def test_cli_dream_json_and_sidecar(run_cli, tmp_path):
    out = tmp_path / "out.png"
    code, stdout, stderr = run_cli(
        "dream", "--max-size", "64", "--octaves", "2", "--steps", "1", "--layer", "relu3_3",
        "--channels", "5,9", "-o", out, "--json", "--seed", "3", "--quiet",
    )  # fmt: skip
    assert code == 0, stderr
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert {"wall_seconds", "output", "sidecar", "octave_sizes"} <= set(summary)
    assert summary["output"] == str(out) and summary["wall_seconds"] > 0
    assert iio.imread(out).shape == (43, 64, 3)
    sidecar = json.loads((tmp_path / "out.json").read_text())
    assert sidecar["kind"] == "neuroplay-dream" and sidecar["image"] == "demo:chelsea"
    assert sidecar["config"]["layers"] == {"relu3_3": 1.0} and sidecar["config"]["channels"] == {"relu3_3": [5, 9]}
    assert sidecar["config"]["seed"] == 3 and sidecar["config"]["octaves"] == 2


def test_cli_zoom_writes_n_frames(run_cli, tmp_path):
    out = tmp_path / "zoom.gif"
    args = ("--max-size", "48", "--octaves", "1", "--steps", "1", "--layer", "relu2_2", "--quiet")
    code, _, stderr = run_cli("dream", *args, "--zoom-frames", "4", "--zoom-steps", "1", "-o", out)
    assert code == 0, stderr
    assert iio.imread(out, index=None).shape[0] == 4
    assert json.loads((tmp_path / "zoom.json").read_text())["frames"] == 4


def test_cli_list_layers(run_cli):
    code, stdout, _ = run_cli("dream", "--list-layers")
    assert code == 0 and "relu4_3" in stdout and "512" in stdout
    code, stdout, _ = run_cli("dream", "--list-layers", "--json")
    layers = {row["name"]: row["channels"] for row in json.loads(stdout)["layers"]}
    assert code == 0 and layers["relu4_3"] == 512 and layers["relu2_2"] == 128 and len(layers) == 31


def test_cli_bad_input(run_cli, tmp_path):
    out = tmp_path / "out.png"
    out.write_bytes(b"an earlier result")
    not_image = tmp_path / "notes.png"
    not_image.write_text("not a picture")
    tiny = tmp_path / "tiny.png"
    save_image(torch.from_numpy(np.full((1, 3, 40, 40), 0.5, np.float32)), tiny)
    cases = [
        (["--layer", "relu9_9"], "unknown vgg16 layer"),
        (["--layer", "relu2_2", "--channels", "500"], "no channel 500"),
        (["--layer", "relu2_2,relu3_3", "--channels", "5"], "say which"),
        ([str(not_image)], "not an image"),
        ([str(tiny), "--octaves", "4"], "octaves"),
        (["--max-size", "100000"], "--max-size must be"),
        (["--steps", "0"], "steps"),
        (["--zoom-frames", "3"], ".gif or .mp4"),
        (["--device", "tpu"], "device"),
    ]
    for args, message in cases:
        code, _, stderr = run_cli("dream", *args, "-o", out)
        assert code == 2, (args, stderr)
        assert stderr.startswith("error: ") and message in stderr and stderr.count("\n") == 1, (args, stderr)
    code, _, stderr = run_cli("dream", "-o", tmp_path / "out.txt")
    assert code == 2 and "use a .png" in stderr
    assert out.read_bytes() == b"an earlier result"
    assert not (tmp_path / "out.json").exists()


# --- the library job the CLI and the studio call ------------------------------------------------


def test_should_stop_ends_the_dream_and_keeps_what_it_reached(cat, tmp_path):
    config = DreamConfig(layers="relu3_3", octaves=2, steps=3, jitter=0, precision="fp32")
    whole = dream(cat, config)
    asked = []

    def stop_after(n):
        return lambda: asked.append(1) or len(asked) >= n

    early = dream(cat, config, should_stop=stop_after(2))  # in the smaller octave
    assert early.interrupted and not whole.interrupted and len(asked) == 2
    assert early.image.shape == cat.shape  # the small octave's detail is carried up to the full size
    assert (early.image - cat).abs().mean() > 1e-3  # and it is a dream, not the input
    assert not torch.equal(early.image, whole.image)
    zoom = DreamConfig(layers="relu2_2", octaves=1, steps=1, zoom_frames=5, zoom_steps=1)
    asked.clear()
    out = tmp_path / "zoom.gif"
    summary = run_dream(prepare_dream(zoom, "demo:coffee", out), should_stop=stop_after(3))
    assert summary["interrupted"] and summary["frames"] == 3  # the frames made so far, written
    assert iio.imread(out, index=None).shape[0] == 3


def test_cli_dream_interrupted_writes_what_it_reached(run_cli, tmp_path, monkeypatch):
    calls = []

    @contextlib.contextmanager
    def stop_at_once():  # as if Ctrl-C came during the first step
        yield lambda: calls.append(1) or True

    monkeypatch.setattr("neuroplay.cli.dream.stop_requests", stop_at_once)
    out = tmp_path / "d.png"
    code, stdout, _ = run_cli(
        "dream", "demo:coffee", "-o", out, "--octaves", "2", "--steps", "4", "--max-size", 96, "--json"
    )
    assert code == 130 and calls == [1]
    assert json.loads(stdout.strip().splitlines()[-1])["interrupted"] is True and out.is_file()


def test_prepare_and_run_dream_write_a_zoom_video_and_its_sidecar(tmp_path):
    out = tmp_path / "zoom.mp4"
    config = DreamConfig(layers="relu2_2", octaves=1, steps=1, max_size=33, zoom_frames=3, zoom_steps=1)
    seen = []
    summary = run_dream(prepare_dream(config, "demo:coffee", out), seen.append)
    assert summary["frames"] == 3 and seen[-1].done == seen[-1].total == 3
    assert iio.imread(out, plugin="pyav").shape[:3] == (3, 22, 34)  # 33×22 padded to even sides
    assert json.loads((tmp_path / "zoom.json").read_text())["image"] == "demo:coffee"


def test_prepare_dream_names_the_right_kind_of_output():
    with pytest.raises(UserError, match="--zoom-frames writes an animation"):
        prepare_dream(DreamConfig(zoom_frames=2), "demo:coffee", Path("out.png"))
    with pytest.raises(UserError, match=r"use a \.png.*add --zoom-frames"):
        prepare_dream(DreamConfig(), "demo:coffee", Path("out.gif"))
