"""Every JSON neuroplay prints or writes is valid JSON: NaN and infinity become null."""

import contextlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from neuroplay.common.io import to_json, write_json

SRC = Path(__file__).resolve().parents[1] / "src" / "neuroplay"


def strict(text: str):
    """``json.loads`` as every other parser reads JSON: NaN, Infinity and -Infinity are errors."""

    def refuse(constant: str):
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_numbers_become_null_at_any_depth(tmp_path):
    value = {
        "nan": math.nan,
        "list": [math.inf, -math.inf, 1.5, {"deep": (np.float32("nan"), np.float64(2.0))}],
        "tensor": torch.tensor(float("nan")),
        "path": Path("out.png"),
        "flags": [True, None, 3],
    }
    expected = {"nan": None, "list": [None, None, 1.5, {"deep": [None, 2.0]}], "tensor": None, "path": "out.png"}
    assert strict(to_json(value)) == {**expected, "flags": [True, None, 3]}
    write_json(tmp_path / "x.json", value)
    assert strict((tmp_path / "x.json").read_text())["list"][0] is None


def test_all_json_goes_through_the_one_helper():
    """No other module calls json.dump/json.dumps (which write NaN as the non-JSON ``NaN``)."""
    offenders = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if path.name != "io.py" and ("json.dumps(" in path.read_text() or "json.dump(" in path.read_text())
    ]
    assert offenders == []


def test_dream_whose_objective_is_nan_prints_and_records_null(run_cli, tmp_path, monkeypatch):
    from neuroplay.vision import dream_run
    from neuroplay.vision.dream_config import DreamResult
    from neuroplay.vision.image import save_image

    def nan_dream(image, config, callback=None, **kwargs):  # the network's part is not what is tested
        return DreamResult(image, [], [tuple(image.shape[-2:])], 1, math.nan, 0.1, "cpu", "fp32")

    monkeypatch.setattr(dream_run, "dream", nan_dream)
    picture = save_image(torch.rand(1, 3, 40, 40), tmp_path / "in.png")
    out = tmp_path / "out.png"
    code, stdout, err = run_cli("dream", picture, "-o", out, "--octaves", "1", "--json")
    assert code == 0, err
    assert strict(stdout.strip().splitlines()[-1])["objective"] is None
    assert strict(out.with_suffix(".json").read_text())["objective"] is None


def test_dqn_run_stopped_before_any_evaluation_prints_null(run_cli, tmp_path, monkeypatch):
    """Stopped at once, a run has no evaluation and no loss yet (NaN inside): its --json is still JSON."""
    from neuroplay.cli import dqn as dqn_cli

    @contextlib.contextmanager
    def pressed_at_once():
        yield lambda: True

    monkeypatch.setattr(dqn_cli, "stop_requests", pressed_at_once)
    code, stdout, err = run_cli("dqn", "train", "--out", tmp_path / "run", "--total-steps", "1000", "--json", "-q")
    assert code == 130, err
    summary = strict(stdout.strip().splitlines()[-1])
    assert summary["interrupted"] is True and summary["best_eval_mean"] is None


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_sidecar_with_a_non_finite_loss_is_json(tmp_path, value):
    from neuroplay.common.outputs import write_sidecar

    path = write_sidecar(tmp_path / "out.png", {"style_loss": value, "history": [{"loss": value}]}, "test-kind")
    record = strict(path.read_text())
    assert record["style_loss"] is None and record["history"] == [{"loss": None}] and record["kind"] == "test-kind"
