"""Style transfer: Gram maths, the optimisation, colour control, regions, multiscale, memory, CLI."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from neuroplay.common.errors import UserError
from neuroplay.vision import color
from neuroplay.vision import weights as W
from neuroplay.vision.features import VGGFeatures
from neuroplay.vision.image import demo_content, demo_style, from_array, load_image, save_image
from neuroplay.vision.regions import parse_region_styles, regions_from_mask
from neuroplay.vision.style import stylize
from neuroplay.vision.style_config import DEFAULT_ITERATIONS, Region, StyleConfig, default_scales
from neuroplay.vision.style_loss import Objective, _layer_mask, gram, masked_gram, needed_layers
from neuroplay.vision.style_memory import check_memory, estimate_memory
from neuroplay.vision.style_run import prepare_style, run_style

TINY = {"size": 48, "scales": (48,), "iterations": (8,)}


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory):
    """One converted VGG16 cache for the whole session."""
    root = tmp_path_factory.mktemp("neuroplay-style-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEUROPLAY_CACHE", str(root))
        W.fetch("vgg16")
    return root


@pytest.fixture(autouse=True)
def cache(session_cache, monkeypatch):
    monkeypatch.setenv("NEUROPLAY_CACHE", str(session_cache))
    return session_cache


@pytest.fixture(scope="module")
def content():
    return demo_content("chelsea", max_size=64)


@pytest.fixture(scope="module")
def style_img():
    return demo_style("swirl", 64, seed=1)


def _mid(image: torch.Tensor) -> torch.Tensor:
    """Squeeze an image into [0.25, 0.75] so colour conversions never clip."""
    return 0.25 + 0.5 * image


# --- Gram maths ---------------------------------------------------------------------------------


def test_gram_matches_direct_sum():
    feats = torch.randn(1, 5, 6, 7, dtype=torch.float64)
    c, h, w = 5, 6, 7
    direct = torch.zeros(c, c, dtype=torch.float64)
    for y in range(h):
        for x in range(w):
            v = feats[0, :, y, x]
            direct += torch.outer(v, v)
    assert torch.allclose(gram(feats)[0], direct / (c * h * w))


def test_masked_gram_is_the_gram_of_the_region_alone():
    feats = torch.randn(1, 4, 10, 12, dtype=torch.float64)
    mask = torch.zeros(10, 12, dtype=torch.float64)
    mask[2:5, 3:9] = 1.0
    region = feats[:, :, 2:5, 3:9]
    assert torch.allclose(masked_gram(feats, mask), gram(region))  # normalised by the region's area
    assert torch.allclose(masked_gram(feats, torch.ones(10, 12, dtype=torch.float64)), gram(feats))
    # a uniform soft mask changes nothing: the weights cancel in the normalisation
    assert torch.allclose(masked_gram(feats, torch.full((10, 12), 0.3, dtype=torch.float64)), gram(feats))


def test_small_and_large_regions_of_one_texture_have_the_same_gram():
    tile = torch.randn(1, 3, 2, 2, dtype=torch.float64)
    feats = tile.repeat(1, 1, 8, 8)  # 16×16 of a periodic texture
    small, large = torch.zeros(16, 16, dtype=torch.float64), torch.zeros(16, 16, dtype=torch.float64)
    small[:2, :2] = 1.0
    large[:, :12] = 1.0
    assert torch.allclose(masked_gram(feats, small), masked_gram(feats, large))


def test_a_full_region_gives_the_unmasked_loss(content, style_img):
    config = StyleConfig(size=48)
    net = VGGFeatures(needed_layers(config))
    image = torch.rand(1, 3, 32, 48, generator=torch.Generator().manual_seed(0))
    c = torch.nn.functional.interpolate(content, size=(32, 48))
    plain = Objective(net, config, c, [style_img]).terms(image)
    regional = Objective(net, config, c, [style_img], [Region(torch.ones(32, 48), 0)]).terms(image)
    assert regional["style"].item() == pytest.approx(plain["style"].item(), rel=1e-5)
    assert regional["content"].item() == pytest.approx(plain["content"].item(), rel=1e-6)


def test_regions_cut_to_their_boxes_give_the_full_frame_loss(content, style_img):
    """Each region's Gram is taken over its bounding box only: the same loss as over the whole frame."""
    config = StyleConfig(size=48, style_layers=("relu1_1", "relu2_1", "relu3_1"))
    net = VGGFeatures(needed_layers(config))
    c = torch.nn.functional.interpolate(content, size=(40, 48))
    soft = torch.zeros(40, 48)
    soft[5:17, 30:44] = 1.0
    soft[17, 30:44] = 0.5  # a soft edge
    corner = torch.zeros(40, 48)
    corner[-3:, :4] = 1.0
    regions = [Region(soft, 0), Region(corner, 0), Region(1 - soft - corner, None)]
    objective = Objective(net, config, c, [style_img], regions)
    image = torch.rand(1, 3, 40, 48, generator=torch.Generator().manual_seed(2))
    feats, style_feats = net(image), net(style_img)
    expected = 0.0
    for name in config.style_layers:
        target = gram(style_feats[name])
        for region in regions[:2]:
            m = _layer_mask(region.mask, tuple(feats[name].shape[-2:]))
            g = masked_gram(feats[name], m)
            expected += float((m * m).mean()) * torch.nn.functional.mse_loss(g, target.expand_as(g)).item()
    assert objective.terms(image, exact=True)["style"].item() == pytest.approx(expected, rel=1e-5)
    assert [masks["relu1_1"][0] for masks, _, _ in objective.regions] == [(5, 18, 30, 44), (37, 40, 0, 4)]


def test_a_regions_style_gradient_stays_inside_it(content, style_img):
    """At relu1_1 (one 3×3 convolution) a region's style loss cannot move pixels more than 1 px outside it."""
    config = StyleConfig(content_layers=(), content_weight=0.0, style_layers=("relu1_1",))
    net = VGGFeatures(needed_layers(config))
    mask = torch.zeros(40, 40)
    mask[:, :20] = 1.0
    c = torch.nn.functional.interpolate(content, size=(40, 40))
    objective = Objective(net, config, c, [style_img], [Region(mask, 0), Region(1 - mask, None)])
    image = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
    objective.terms(image)["total"].backward()
    grad = image.grad.abs().sum(dim=(0, 1))
    assert grad[:, :20].sum() > 0
    assert grad[:, 21:].max() == 0


# --- the optimisation ---------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_tiny_optimisation_lowers_the_loss(content, style_img, optimizer):
    config = StyleConfig(**{**TINY, "iterations": (12,)}, optimizer=optimizer)
    steps = []
    result = stylize(content, style_img, config, callback=steps.append)
    assert len(steps) == result.iterations == 12
    assert result.total_loss < 0.7 * steps[0].total_loss
    assert result.image.shape == (1, 3, 32, 48)  # the content's aspect, longest side 48
    assert 0.0 <= result.image.min() and result.image.max() <= 1.0


def test_same_seed_same_image(content, style_img):
    config = StyleConfig(**TINY, init="noise", seed=3)
    a = stylize(content, style_img, config).image
    b = stylize(content, style_img, config).image
    assert torch.equal(a, b)


def test_multiscale_runs_coarse_to_fine(content, style_img):
    assert default_scales(512) == (128, 256, 512)
    assert default_scales(200) == (200,)
    assert [n for _, n in StyleConfig(size=512).schedule()] == list(DEFAULT_ITERATIONS[::-1])  # finest last
    assert StyleConfig(size=512).schedule() == [(128, 20), (256, 20), (512, 110)]  # most of the time at the finest
    assert [n for _, n in StyleConfig(size=512, iterations=30).schedule()][-1] == 30
    config = StyleConfig(size=64, scales=(32, 64), iterations=(4, 3), save_every=3)
    steps = []
    result = stylize(content, style_img, config, callback=steps.append)
    assert result.scales == [(22, 32), (43, 64)]
    assert [s.scale for s in steps] == [0, 0, 0, 0, 1, 1, 1]
    saved = [s for s in steps if s.image is not None]
    assert [s.iteration for s in saved] == [3, 6]
    assert saved[0].image.shape[-2:] == (22, 32) and saved[1].image.shape[-2:] == (43, 64)
    assert result.image.shape[-2:] == (43, 64)


def test_two_styles_blend(content, style_img):
    other = demo_style("stripes", 64, seed=2)
    result = stylize(content, [style_img, other], StyleConfig(**TINY, style_blend=(0.7, 0.3)))
    assert result.style_loss > 0
    with pytest.raises(UserError, match="blend"):
        stylize(content, [style_img, other], StyleConfig(**TINY, style_blend=(1.0,)))


# --- colour -------------------------------------------------------------------------------------


def test_keep_colors_takes_luminance_from_the_result_and_chroma_from_the_content(content, style_img):
    stylised = _mid(torch.nn.functional.interpolate(style_img, size=content.shape[-2:]))
    base = _mid(content)
    out = color.keep_colors(stylised, base)
    yuv_out, yuv_styl, yuv_base = color.rgb_to_yuv(out), color.rgb_to_yuv(stylised), color.rgb_to_yuv(base)
    assert torch.allclose(yuv_out[:, 0], yuv_styl[:, 0], atol=1e-5)
    assert torch.allclose(yuv_out[:, 1:], yuv_base[:, 1:], atol=1e-5)


@pytest.mark.parametrize("option", ["original_colors", "luminance_only"])
def test_colour_options_keep_the_contents_chroma(content, style_img, option):
    base = _mid(content)
    result = stylize(base, style_img, StyleConfig(**TINY, **{option: True}))
    small = torch.nn.functional.interpolate(base, size=result.image.shape[-2:], mode="bilinear", antialias=True)
    chroma_out, chroma_base = color.rgb_to_yuv(result.image)[:, 1:], color.rgb_to_yuv(small)[:, 1:]
    inside = ((result.image > 0.001) & (result.image < 0.999)).all(dim=1, keepdim=True).expand_as(chroma_out)
    assert inside.float().mean() > 0.9
    kept = (chroma_out - chroma_base)[inside].abs()
    assert kept.max() < 0.01
    plain = stylize(base, style_img, StyleConfig(**TINY))
    assert (color.rgb_to_yuv(plain.image)[:, 1:] - chroma_base).abs().mean() > 5 * kept.mean()  # without it: moved


def test_match_colors_moves_the_style_to_the_contents_colour_statistics(content, style_img):
    target = _mid(content)
    style = 0.3 + 0.4 * style_img  # room to move without clipping
    matched = color.match_colors(style, target)

    def stats(img):
        px = img.reshape(3, -1).double()
        return px.mean(1), torch.cov(px, correction=0)

    (m_t, c_t), (m_s, _), (m_m, c_m) = stats(target), stats(style), stats(matched)
    assert (m_s - m_t).abs().max() > 0.05  # they did differ
    assert torch.allclose(m_m, m_t, atol=2e-3)
    assert torch.allclose(c_m, c_t, atol=2e-3)


# --- regions ------------------------------------------------------------------------------------


def test_a_content_region_stays_close_to_the_content(content, style_img):
    mask = torch.zeros(32, 48)
    mask[:, 24:] = 1.0
    config = StyleConfig(size=48, scales=(48,), iterations=(25,))
    regions = [Region(mask, 0), Region(1 - mask, None)]
    result = stylize(content, style_img, config, regions=regions)
    small = torch.nn.functional.interpolate(content, size=(32, 48), mode="bilinear", antialias=True)
    change = (result.image - small).abs().mean(dim=1)[0]
    assert change[:, :20].mean() < 0.5 * change[:, 28:].mean()


def test_mask_colours_route_to_styles():
    array = np.zeros((20, 30, 3), np.uint8)
    array[:, :10] = (255, 0, 0)
    array[:, 10:20] = (0, 250, 3)  # near green, as a JPEG might give
    array[:, 20:] = (0, 0, 255)
    mask = from_array(array)
    mapping = parse_region_styles("#ff0000=0, #0f0=1, 0000ff=content", n_styles=2)
    regions = regions_from_mask(mask, mapping)
    assert [r.style for r in regions] == [0, 1, None]
    assert regions[0].mask[:, :10].min() == 1 and regions[0].mask[:, 10:].max() == 0
    assert regions[1].mask[:, 10:20].min() == 1
    with pytest.raises(UserError, match="map to no style"):
        regions_from_mask(mask, {(255, 0, 0): 0, (0, 0, 255): None})
    with pytest.raises(UserError, match="does not occur"):
        regions_from_mask(mask, {**mapping, (255, 255, 0): 1})
    with pytest.raises(UserError, match="keeps the content"):
        regions_from_mask(mask, {(255, 0, 0): None, (0, 255, 0): None, (0, 0, 255): None})
    with pytest.raises(UserError, match="only styles 0 to 1"):
        parse_region_styles("#ff0000=2", n_styles=2)
    with pytest.raises(UserError, match="not a colour"):
        parse_region_styles("#ff00=0", n_styles=2)
    with pytest.raises(UserError, match="region-styles"):
        regions_from_mask(mask, None)  # not black and white: say which style is which
    bw = np.zeros((8, 8, 3), np.uint8)
    bw[:, 4:] = 255
    assert [r.style for r in regions_from_mask(from_array(bw), None)] == [0, None]


# --- settings and memory ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"style_layers": ("relu9_9",)}, "unknown vgg16 layer"),
        ({"content_weight": -1.0}, "content weight"),
        ({"style_weight": float("nan")}, "style weight"),
        ({"size": 100_000}, "size must be"),
        ({"size": 8}, "size must be"),
        ({"scales": (256, 128, 512)}, "increase"),
        ({"scales": (128, 256)}, "last scale"),
        ({"iterations": (10, 10)}, "one iteration count per scale"),
        ({"init": "paint"}, "init"),
        ({"luminance_only": True, "match_colors": True}, "cannot be combined"),
        ({"network": "resnet"}, "unknown network"),
    ],
)
def test_bad_settings_are_user_errors(settings, message):
    with pytest.raises(UserError, match=message):
        StyleConfig(**settings)


def test_memory_estimate_grows_with_size_and_names_a_size_that_fits():
    config = StyleConfig()
    small, large = estimate_memory(256, 256, config), estimate_memory(1024, 1024, config)
    assert large > 8 * (small - 500 * 2**20)
    assert 1 * 2**30 < large < 8 * 2**30
    tight = StyleConfig(max_memory_gb=2.0)
    with pytest.raises(UserError, match=r"largest size that fits is about (\d+) px") as info:
        check_memory(3000, 4000, tight, torch.device("cpu"))
    fits = int(info.value.args[0].split("about ")[-1].split(" px")[0])
    assert 256 < fits < 4000
    h, w = round(fits * 0.75), fits
    assert estimate_memory(h, w, tight) <= 2 * 2**30 < estimate_memory(round((fits + 50) * 0.75), fits + 50, tight)


def test_too_large_a_run_fails_before_any_work(content, style_img):
    calls = []
    with pytest.raises(UserError, match="--max-memory"):
        stylize(content, style_img, StyleConfig(size=4096, max_memory_gb=1.0), callback=calls.append)
    assert not calls


# --- command line -------------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path, content, style_img):
    save_image(content, tmp_path / "content.png")
    save_image(style_img, tmp_path / "style.png")
    return tmp_path


FAST = ["--size", "40", "--scales", "40", "--iterations", "3", "-q"]


def test_cli_writes_image_json_and_sidecar(run_cli, files):
    out = files / "out.png"
    code, stdout, err = run_cli("style", files / "content.png", files / "style.png", "-o", out, *FAST,
                                "--seed", "5", "--original-colors", "--json")  # fmt: skip
    assert code == 0, err
    summary = json.loads(stdout.strip().splitlines()[-1])
    for key in ("wall_seconds", "content_loss", "style_loss", "output"):
        assert key in summary
    assert summary["output"] == str(out) and summary["content_loss"] > 0
    assert load_image(out).shape[-2:] == (27, 40)
    sidecar = json.loads((files / "out.json").read_text())
    assert sidecar["seed"] == 5 and sidecar["config"]["seed"] == 5
    assert sidecar["config"]["original_colors"] is True and sidecar["config"]["schedule"] == [[40, 3]]
    assert sidecar["content"] == str(files / "content.png") and sidecar["styles"] == [str(files / "style.png")]


def test_cli_without_images_uses_the_demo_inputs(run_cli, tmp_path):
    out = tmp_path / "demo.png"
    code, stdout, err = run_cli("style", "-o", out, *FAST, "--save-every", "2", "--json")
    assert code == 0, err
    assert out.is_file() and (tmp_path / "demo_0002.png").is_file()
    assert json.loads((tmp_path / "demo.json").read_text())["content"] == "demo:chelsea"


def test_cli_regional_run(run_cli, files):
    array = np.zeros((27, 40, 3), np.uint8)
    array[:, 20:] = (255, 0, 0)
    Image.fromarray(array).save(files / "mask.png")
    out = files / "regional.png"
    code, _, err = run_cli("style", files / "content.png", files / "style.png", "-o", out, *FAST,
                           "--mask", files / "mask.png", "--region-styles", "#ff0000=0,#000000=content")  # fmt: skip
    assert code == 0, err
    assert out.is_file()


def _bomb(path):
    """A valid PNG header claiming 100000×100000 pixels."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


@pytest.mark.parametrize(
    "case",
    ["missing", "not_image", "truncated", "bomb", "layer", "mask", "size", "weight", "unwritable", "overwrite_input"],
)
def test_cli_bad_input_is_one_line_exit_2_and_damages_nothing(run_cli, files, case):
    out = files / "out.png"
    out.write_bytes(b"earlier output")
    content, style = files / "content.png", files / "style.png"
    extra: list = []
    if case == "missing":
        content = files / "nope.png"
    elif case == "not_image":
        (files / "notes.png").write_text("not an image")
        style = files / "notes.png"
    elif case == "truncated":
        data = (files / "content.png").read_bytes()
        (files / "cut.png").write_bytes(data[: len(data) // 2])
        content = files / "cut.png"
    elif case == "bomb":
        _bomb(files / "bomb.png")
        style = files / "bomb.png"
    elif case == "layer":
        extra = ["--style-layers", "relu1_1,relu7_1"]
    elif case == "mask":
        Image.fromarray(np.full((10, 10, 3), (10, 200, 30), np.uint8)).save(files / "mask.png")
        extra = ["--mask", files / "mask.png", "--region-styles", "#ff0000=0"]
    elif case == "size":
        extra = ["--size", "1000000"]
    elif case == "weight":
        extra = ["--style-weight", "-5"]
    elif case == "unwritable":
        (files / "plain_file").write_text("x")
        out = files / "plain_file" / "out.png"
    elif case == "overwrite_input":
        out = content
    before = {p: p.read_bytes() for p in files.iterdir() if p.is_file()}
    args = ["style", content, style, "-o", out, *FAST, *extra]
    if case == "size":
        args = [a for a in args if a not in ("--scales", "40")]
    code, stdout, err = run_cli(*args)
    assert code == 2, (case, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    assert {p: p.read_bytes() for p in files.iterdir() if p.is_file()} == before


def test_should_stop_ends_early_with_the_image_so_far(content, style_img):
    config = StyleConfig(size=64, scales=(32, 64), iterations=(4, 3))
    calls = []
    result = stylize(content, style_img, config, should_stop=lambda: calls.append(1) or len(calls) >= 2)
    assert result.interrupted and result.iterations == 2 and len(result.history) == 2
    assert result.image.shape[-2:] == (43, 64)  # the size asked for, though stopped at the coarse scale
    assert not stylize(content, style_img, config).interrupted


def test_cli_ctrl_c_saves_the_image_so_far_and_exits_130(run_cli, files, monkeypatch):
    import contextlib

    from neuroplay.cli import style as style_cli

    @contextlib.contextmanager
    def pressed_at_once():
        yield lambda: True

    monkeypatch.setattr(style_cli, "stop_requests", pressed_at_once)
    out = files / "stopped.png"
    code, stdout, err = run_cli("style", files / "content.png", files / "style.png", "-o", out, *FAST, "--json")
    assert code == 130, err
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["interrupted"] is True and summary["iterations"] == 1
    assert out.is_file() and json.loads(out.with_suffix(".json").read_text())["interrupted"] is True


# --- the library job the CLI and the studio call ------------------------------------------------


def test_prepare_and_run_style_write_the_image_its_sidecar_and_the_saves_on_the_way(files):
    out = files / "job.png"
    config = StyleConfig(size=40, scales=(40,), iterations=(4,), save_every=2)
    job = prepare_style(config, str(files / "content.png"), ["demo:stripes"], out)
    steps = []
    summary = run_style(job, steps.append)
    assert [s.iteration for s in steps] == [1, 2, 3, 4] and summary["iterations"] == 4
    assert (files / "job_0002.png").is_file() and (files / "job_0004.png").is_file()
    assert load_image(out).shape[-2:] == (27, 40) and summary["sidecar"] == str(files / "job.json")
    sidecar = json.loads((files / "job.json").read_text())
    assert sidecar["kind"] == "neuroplay-style" and sidecar["styles"] == ["demo:stripes"]
    assert sidecar["config"]["precision"] == "auto" and sidecar["content_loss"] == summary["content_loss"]


def test_prepare_style_refuses_bad_outputs_and_stray_options_before_any_work(files):
    content, style = str(files / "content.png"), str(files / "style.png")
    with pytest.raises(UserError, match="overwrite an input"):
        prepare_style(StyleConfig(), content, [style], style)
    with pytest.raises(UserError, match="use a .png, .jpg or .jpeg"):
        prepare_style(StyleConfig(), content, [style], files / "out.gif")
    with pytest.raises(UserError, match="--region-styles needs --mask"):
        prepare_style(StyleConfig(), content, [style], files / "out.png", region_styles="#fff=0")


def test_precision_names_are_the_runtime_ones():
    assert StyleConfig(precision="bf16").precision == "bf16" and StyleConfig(precision="fp32").precision == "fp32"
    with pytest.raises(UserError, match="auto, fp32, bf16"):
        StyleConfig(precision="bfloat16")


def test_the_style_and_dream_commands_import_no_torch():
    import subprocess
    import sys

    heavy = "{'torch', 'numpy', 'PIL'}"
    code = f"import sys, neuroplay.cli.style, neuroplay.cli.dream; print(sorted({heavy} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
