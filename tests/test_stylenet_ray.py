"""A folder styled on Ray: the same files as one process, in the same order in the summary, and
``neuroplay stylenet apply --ray local`` works through the command line."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("ray")

from neuroplay.vision.stylenet.apply import ApplyConfig, prepare_apply, run_apply  # noqa: E402
from neuroplay.vision.stylenet.model_file import save_model  # noqa: E402
from neuroplay.vision.stylenet.network import StyleNet  # noqa: E402


def test_ray_writes_the_files_one_process_writes(tmp_path, run_cli):
    torch.manual_seed(0)
    save_model(tmp_path / "m.pt", StyleNet((4, 8, 8), 1), {"name": "tiny"})
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(5):
        name = f"sub/p{i}.png" if i % 2 else f"p{i}.png"
        Image.fromarray((rng.random((30 + i, 40, 3)) * 255).astype(np.uint8)).save(src / name)
    (src / "bad.png").write_bytes(b"not a png")
    local = run_apply(prepare_apply(tmp_path / "m.pt", src, tmp_path / "local", ApplyConfig(threads=1)))
    code, out, err = run_cli(
        "stylenet", "apply", tmp_path / "m.pt", src, "-o", tmp_path / "ray", "--ray", "local",
        "--ray-workers", "2", "--threads", "1", "--json",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["images"] == local["images"] == 5 and summary["ray_tasks"] == 2
    assert [row["file"] for row in summary["skipped"]] == [row["file"] for row in local["skipped"]]
    for a in sorted((tmp_path / "local").rglob("*.png")):
        b = tmp_path / "ray" / a.relative_to(tmp_path / "local")
        assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b))), a.name
