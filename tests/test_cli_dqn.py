"""The `neuroplay dqn` command line, including bad input: `error: ...`, exit 2, nothing damaged."""

import json
import pickle

import pytest
import torch

from neuroplay.rl.dqn import DQN, DQNConfig


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.pt"
    DQN(DQNConfig(hidden=(16,))).save(path)
    return path


def test_train_eval_play_json(run_cli, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = run_cli(
        "dqn",
        "train",
        "--out",
        out,
        "--total-steps",
        1500,
        "--learning-starts",
        300,
        "--eval-every",
        500,
        "--quiet",
        "--json",
    )
    assert code == 0, err
    res = json.loads(stdout.strip().splitlines()[-1])
    assert {"solved", "env_steps", "wall_seconds", "model"} <= set(res) and res["env_steps"] >= 1500
    assert (out / "model.pt").exists() and (out / "checkpoint.pt").exists()

    code, stdout, err = run_cli("dqn", "eval", out / "model.pt", "--episodes", 5, "--seed", 7, "--json")
    assert code == 0, err
    ev = json.loads(stdout.strip().splitlines()[-1])
    assert ev["episodes"] == 5 and ev["std_return"] >= 0 and ev["mean_return"] > 0

    gif = tmp_path / "ep.gif"
    code, stdout, err = run_cli("dqn", "play", out, "--gif", gif, "--json")
    assert code == 0, err
    assert gif.read_bytes()[:3] == b"GIF" and json.loads(stdout.strip().splitlines()[-1])["frames"] > 1


def test_eval_is_reproducible(run_cli, model_path):
    a = run_cli("dqn", "eval", model_path, "--episodes", 4, "--seed", 3, "--json")[1]
    b = run_cli("dqn", "eval", model_path, "--episodes", 4, "--seed", 3, "--json")[1]
    assert a == b


def _assert_bad(result):
    code, stdout, err = result
    assert code == 2, (code, err)
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_missing_checkpoint(run_cli, tmp_path):
    _assert_bad(run_cli("dqn", "eval", tmp_path / "nope.pt"))


def test_corrupt_and_truncated_checkpoint(run_cli, tmp_path, model_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"this is not a checkpoint at all")
    _assert_bad(run_cli("dqn", "eval", bad))
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(model_path.read_bytes()[:300])
    _assert_bad(run_cli("dqn", "eval", trunc))


def test_checkpoint_of_another_kind(run_cli, tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"kind": "neuroplay.evo.champion", "format_version": 1}, other)
    code, _, err = run_cli("dqn", "eval", other)
    _assert_bad((code, "", err))
    assert "neuroplay.evo.champion" in err
    plain = tmp_path / "plain.pt"
    torch.save({"weight": torch.zeros(3)}, plain)
    _assert_bad(run_cli("dqn", "eval", plain))


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/neuroplay_pwned_by_test",))


def test_pickle_that_would_run_code_is_refused(run_cli, tmp_path):
    import os

    marker = "/tmp/neuroplay_pwned_by_test"
    if os.path.exists(marker):
        os.remove(marker)
    evil = tmp_path / "evil.pt"
    torch.save({"kind": "neuroplay.dqn.model", "format_version": 1, "x": _Evil()}, evil)
    _assert_bad(run_cli("dqn", "eval", evil))
    # a raw pickle (not a torch zip) too
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps(_Evil()))
    _assert_bad(run_cli("dqn", "eval", raw))
    assert not os.path.exists(marker)


def test_wrong_weights_for_config(run_cli, tmp_path, model_path):
    data = torch.load(model_path, weights_only=True)
    data["q"]["body.0.weight"] = torch.zeros(3, 3)
    bad = tmp_path / "mismatch.pt"
    torch.save(data, bad)
    _assert_bad(run_cli("dqn", "eval", bad))


@pytest.mark.parametrize(
    "args",
    [
        ["--lr", "-1"],
        ["--hidden", "12,abc"],
        ["--eps-end", "2"],
        ["--gamma", "0"],
        ["--env", "NoSuchEnv-v9"],
        ["--env", "Pendulum-v1"],
        ["--loss", "l1"],
        ["--device", "tpu"],
        ["--total-steps", "banana"],
        ["--no-such-option"],
    ],
)
def test_invalid_train_options(run_cli, tmp_path, args):
    _assert_bad(run_cli("dqn", "train", "--out", tmp_path / "r", "--quiet", *args))
    assert not (tmp_path / "r" / "checkpoint.pt").exists()


def test_existing_run_is_not_overwritten(run_cli, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(b"precious")
    _assert_bad(run_cli("dqn", "train", "--out", out, "--quiet"))
    assert (out / "checkpoint.pt").read_bytes() == b"precious"
    # resuming from a corrupt checkpoint is refused and leaves it alone
    _assert_bad(run_cli("dqn", "train", "--resume", out, "--quiet"))
    assert (out / "checkpoint.pt").read_bytes() == b"precious"


def test_eval_invalid_values(run_cli, model_path):
    _assert_bad(run_cli("dqn", "eval", model_path, "--episodes", 0))
    _assert_bad(run_cli("dqn", "play", model_path, "--gif", "x.png"))


def test_play_without_display_says_what_to_do(run_cli, model_path, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    code, _, err = run_cli("dqn", "play", model_path)
    _assert_bad((code, "", err))
    assert "--gif" in err


def test_help_and_version(run_cli):
    code, out, _ = run_cli("--version")
    assert code == 0 and out.startswith("neuroplay ")
    code, out, _ = run_cli("dqn", "train", "--help")
    assert code == 0 and "--resume" in out and "--seed" in out and "--json" in out


def test_ctrl_c_saves_checkpoint_and_resume_finishes(tmp_path):
    """A real SIGINT to a real process: checkpoint saved, exit 130, then --resume completes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "neuroplay",
        "dqn",
        "train",
        "--out",
        str(out),
        "--total-steps",
        "200000",
        "--threshold",
        "1e9",
        "--checkpoint-every",
        "2000",
        "--quiet",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60
    while not (out / "checkpoint.pt").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # mid-run: the first checkpoint is written
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "--resume" in err
    assert (out / "checkpoint.pt").exists() and not (out / "model.pt").exists()
    saved = torch.load(out / "checkpoint.pt", weights_only=True)["counters"]["env_steps"]
    assert saved > 0
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "neuroplay",
            "dqn",
            "train",
            "--resume",
            str(out),
            "--total-steps",
            str(saved + 600),
            "--quiet",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    res = json.loads(done.stdout.strip().splitlines()[-1])
    assert res["env_steps"] >= saved + 600 and (out / "model.pt").exists()


# --- resuming a run ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    """An unfinished 600-step run (its threshold cannot be reached); tests resume copies of it."""
    path = tmp_path_factory.mktemp("short") / "run"
    DQN(DQNConfig(total_steps=600, learning_starts=200, eval_every=300, solve_threshold=1e9)).train(path)
    return path


@pytest.fixture
def spy_train(monkeypatch):
    """Replaces training with a record of the agent's settings (what a resumed run would use)."""
    from neuroplay.rl import dqn

    seen = {}

    def train(self, out_dir=None, callback=None, should_stop=None, resume=False):
        seen.update(config=self.config, resume=resume, out_dir=out_dir)
        c = self.config
        return dqn.TrainResult(False, c.total_steps, 0, 0, 0.0, 0.0)

    monkeypatch.setattr(dqn.DQN, "train", train)
    return seen


def test_resume_takes_typed_options_even_when_they_equal_the_default(run_cli, short_run, spy_train):
    defaults = DQNConfig()
    code, stdout, err = run_cli(
        "dqn", "train", "--resume", short_run, "--total-steps", defaults.total_steps, "--quiet", "--json"
    )
    assert code == 0, err
    config = spy_train["config"]
    assert spy_train["resume"] and config.total_steps == defaults.total_steps == 100_000
    assert json.loads(stdout.strip().splitlines()[-1])["env_steps"] == 100_000
    assert config.eval_every == 300 and config.learning_starts == 200 and config.solve_threshold == 1e9  # saved

    code, _, err = run_cli("dqn", "train", "--resume", short_run, "--eval-every", defaults.eval_every, "--quiet")
    assert code == 0, err
    assert spy_train["config"].eval_every == defaults.eval_every and spy_train["config"].total_steps == 600


def test_resume_without_options_keeps_the_saved_settings(run_cli, short_run, spy_train):
    code, _, err = run_cli("dqn", "train", "--resume", short_run, "--quiet", "--device", "cpu")
    assert code == 0, err
    saved = DQNConfig(total_steps=600, learning_starts=200, eval_every=300, solve_threshold=1e9)
    assert spy_train["config"] == saved


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--seed", "0"], "--seed"),  # typed, even with the saved value
        (["--env", "Acrobot-v1"], "--env"),
        (["--hidden", "64"], "--hidden"),
        (["--num-envs", "4"], "--num-envs"),
        (["--no-double"], "--double"),
        (["--threshold", "100"], "--threshold"),
        (["--lr", "0.01", "--total-steps", "900"], "--lr"),
    ],
)
def test_resume_refuses_typed_settings_that_cannot_change(run_cli, short_run, args, flag):
    before = (short_run / "checkpoint.pt").read_bytes()
    code, _, err = run_cli("dqn", "train", "--resume", short_run, *args, "--quiet")
    _assert_bad((code, "", err))
    assert f"{flag} cannot change" in err and "--total-steps" in err  # says what may change
    assert (short_run / "checkpoint.pt").read_bytes() == before


def test_resume_refuses_another_out_force_and_a_solved_run(run_cli, short_run, tmp_path):
    _assert_bad(run_cli("dqn", "train", "--resume", short_run, "--out", tmp_path / "elsewhere", "--quiet"))
    _assert_bad(run_cli("dqn", "train", "--resume", short_run, "--force", "--quiet"))
    solved = tmp_path / "solved"
    DQN(DQNConfig(total_steps=600, learning_starts=200, eval_every=300, solve_threshold=0, solve_patience=1)).train(
        solved
    )
    code, _, err = run_cli("dqn", "train", "--resume", solved, "--total-steps", 5000, "--quiet")
    _assert_bad((code, "", err))
    assert "already solved" in err
