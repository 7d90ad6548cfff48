"""The command-line contract every command keeps: a bad --device is one error line and exit code 2."""

import pytest

COMMANDS = [
    ["dqn", "train"],
    ["dqn", "eval", "model.pt"],
    ["dqn", "play", "model.pt"],
    ["qtable"],
    ["evolve", "train"],
    ["evolve", "eval", "champion.pt"],
    ["evolve", "play", "champion.pt"],
    ["style", "demo:chelsea", "demo:swirl"],
    ["dream"],
    ["sketch", "index"],
    ["sketch", "search", "demo:cat"],
    ["sketch", "colorize", "demo:cup"],
    ["weights", "list"],
    ["weights", "fetch"],
    ["weights", "verify"],
    ["stylenet", "train", "style.png", "--content", "photos", "-o", "m.pt"],
    ["stylenet", "apply", "builtin:starry-night", "photo.png", "-o", "out.png"],
    ["stylenet", "list"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_bad_device_is_refused_before_any_work(command, run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(*command, "--device", "tpu")
    assert code == 2, err
    assert err.startswith("error: --device must be auto, cpu or cuda") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []  # nothing written
