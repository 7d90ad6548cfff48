"""Ctrl-C and SIGTERM, sent to real processes at start-up and mid-run: one line, exit 130, no
traceback, nothing on disk damaged; a training run saves its checkpoint first.

Each test waits for a sign that the process reached the moment it means (read from /proc: the
signals it catches, the libraries it has mapped, a file it wrote) instead of sleeping.
"""

import contextlib
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from neuroplay.common.runlock import LOCK_NAME

pytestmark = pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="watches processes through /proc")

SIGNALS = [signal.SIGINT, signal.SIGTERM]
LONG_DQN = ["dqn", "train", "--total-steps", "1000000", "--threshold", "1e9", "--quiet"]


def _start(args, cwd, stderr=subprocess.PIPE):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(
        [sys.executable, "-m", "neuroplay", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env=env,
        cwd=cwd,
    )


def _wait_for(proc, ready, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"the process ended ({proc.returncode}) before {what}: {proc.communicate()[1]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no sign of {what} after {timeout} s")
        time.sleep(0.002)


def _catches(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has a handler for ``signum`` (its SigCgt mask in /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(mask, 16) >> (signum - 1) & 1)


def _maps(pid: int, name: str) -> bool:
    try:
        return name in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def _has_children(pid: int) -> bool:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                return True
    return False


def _ended(proc) -> tuple[int, str]:
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


@pytest.mark.parametrize("signum", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_at_the_first_moment_the_command_line_answers(signum, tmp_path):
    """As soon as neuroplay handles SIGTERM (the first thing importing it does), either signal
    ends the start-up with one line."""
    proc = _start([*LONG_DQN, "--out", tmp_path / "run"], tmp_path)
    _wait_for(proc, lambda: _catches(proc.pid, signal.SIGTERM), "a SIGTERM handler")
    proc.send_signal(signum)
    code, err = _ended(proc)
    assert (code, err) == (130, "interrupted\n")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("signum", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_while_torch_is_imported(signum, tmp_path):
    """The reported case: Ctrl-C in the first second and a half, while torch loads, printed a
    traceback of torch's import."""
    proc = _start([*LONG_DQN, "--out", tmp_path / "run"], tmp_path)
    _wait_for(proc, lambda: _maps(proc.pid, "libtorch"), "torch loading")
    proc.send_signal(signum)
    code, err = _ended(proc)
    assert (code, err) == (130, "interrupted\n")
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_sigterm_mid_training_saves_a_checkpoint_as_ctrl_c_does(tmp_path):
    """What `timeout`, `kill`, systemd and Ray send: the run stops at the next step and saves."""
    out = tmp_path / "run"
    proc = _start([*LONG_DQN, "--out", out, "--checkpoint-every", "500"], tmp_path)
    first = out / "checkpoint.pt"
    _wait_for(proc, first.exists, "the first checkpoint")
    proc.send_signal(signal.SIGTERM)
    code, err = _ended(proc)
    assert code == 130, err
    assert err.count("\n") == 1 and "checkpoint saved" in err and f"--resume {out}" in err
    assert torch.load(first, weights_only=True)["counters"]["env_steps"] >= 500
    temporary = [p for p in out.glob(".*") if p.name != LOCK_NAME]  # the run's lock stays
    assert not (out / "model.pt").exists() and not temporary


@pytest.mark.parametrize("signum", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_mid_run_without_a_save_handler(signum, tmp_path):
    """`qtable` saves nothing until it ends: an interrupt under its progress bar (stderr a
    terminal, as where Ctrl-C is typed) ends with one line and leaves the earlier run intact."""
    out = tmp_path / "q"
    done = subprocess.run(
        [sys.executable, "-m", "neuroplay", "qtable", "--episodes", "20", "--out", out, "-q"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 0, done.stderr
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    leader, follower = pty.openpty()
    proc = _start(["qtable", "--episodes", "10000000", "--out", out], tmp_path, stderr=follower)
    os.close(follower)
    seen = b""

    def bar_shown() -> bool:
        nonlocal seen
        while select.select([leader], [], [], 0)[0]:
            seen += os.read(leader, 65536)
        return b"Q-learning" in seen

    _wait_for(proc, bar_shown, "the progress bar")
    proc.send_signal(signum)
    proc.wait(timeout=60)
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal's other end closed
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert proc.returncode == 130
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode(errors="replace"))  # the bar's terminal codes
    assert "Traceback" not in text
    assert text.replace("\r", "\n").strip().splitlines()[-1].strip() == "interrupted"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # untouched, no temporary file


def test_a_signal_lost_on_the_way_still_stops_the_next_loop():
    """A KeyboardInterrupt raised inside a finalizer, or under a library's bare ``except:``, is
    lost; the request it carried still stops the next training loop."""
    from neuroplay.cli import interrupts

    before = [signal.getsignal(s) for s in SIGNALS]
    with interrupts.signals_interrupt():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler runs at the next bytecode, long before this ends
        except KeyboardInterrupt:
            pass  # swallowed, as a finalizer would
        with interrupts.stop_requests() as stop_requested:
            assert stop_requested()
    with interrupts.signals_interrupt(), interrupts.stop_requests() as stop_requested:
        assert not stop_requested()  # a new command starts clean
    assert [signal.getsignal(s) for s in SIGNALS] == before  # the process's own handlers are back


def test_main_leaves_the_process_handlers_as_it_found_them(run_cli):
    before = [signal.getsignal(s) for s in SIGNALS]
    assert run_cli("--version")[0] == 0
    assert run_cli("dqn", "eval", "missing.pt")[0] == 2
    assert [signal.getsignal(s) for s in SIGNALS] == before


def test_sigterm_while_ray_starts(tmp_path):
    """ray.init installs its own SIGTERM handler, which exited with code 15 and no line."""
    pytest.importorskip("ray")
    args = ["evolve", "train", "--out", tmp_path / "run", "--ray", "local", "--ray-workers", "2", "-q"]
    proc = _start(args, tmp_path)
    _wait_for(proc, lambda: _has_children(proc.pid), "Ray starting its processes (inside ray.init)")
    proc.send_signal(signal.SIGTERM)
    code, err = _ended(proc)
    assert code == 130 and "Traceback" not in err and err.splitlines()[-1] == "interrupted", err
