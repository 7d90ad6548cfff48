"""``neuroplay studio``: bad options refused in one line, a warning when exposed, a clean Ctrl-C."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytest.importorskip("gradio")

from neuroplay.cli.studio import exposed  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_only_loopback_stays_on_the_machine():
    assert not exposed("127.0.0.1") and not exposed("localhost") and not exposed("::1")
    assert exposed("0.0.0.0") and exposed("192.168.1.20")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--port", "70000"], "error: --port must be"),
        (["--jobs", "0"], "error: --jobs must be"),
        (["--host", "no-such-host.invalid"], "is not an address or a name this machine can resolve"),
    ],
)
def test_bad_options_are_one_line(run_cli, args, message):
    code, out, err = run_cli("studio", *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_a_port_in_use_is_refused(run_cli):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        code, _, err = run_cli("studio", "--port", str(s.getsockname()[1]))
    assert code == 2 and "choose another --port" in err


def test_runs_folder_under_a_file_is_refused(run_cli, tmp_path):
    (tmp_path / "f").write_text("x")
    code, _, err = run_cli("studio", "--runs", str(tmp_path / "f" / "runs"), "--port", str(free_port()))
    assert code == 2 and "error:" in err


def test_serves_then_stops_cleanly_on_ctrl_c(tmp_path):
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "neuroplay", "studio", "--port", str(port), "--runs", str(tmp_path / "runs")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()  # printed once the server answers
        assert line.startswith(f"neuroplay studio: http://127.0.0.1:{port}/"), line + proc.stderr.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            assert page.status == 200 and b"neuroplay studio" in page.read()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "studio stopped" in err and "Traceback" not in err


def test_exposing_it_warns(tmp_path):
    port = free_port()
    cmd = [sys.executable, "-m", "neuroplay", "studio", "--host", "0.0.0.0", "--port", str(port)]
    cmd += ["--runs", str(tmp_path / "runs")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "neuroplay studio: http://" in line
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)  # what `kill` and systemd send: the same clean stop
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "warning: --host 0.0.0.0 lets other machines" in err
    assert proc.returncode == 0 and "studio stopped" in err


def test_the_page_is_built_without_torch(tmp_path):
    code = (
        "import sys\nfrom pathlib import Path\nfrom neuroplay.studio.app import Studio, build_app\n"
        f"build_app(Studio(runs=Path({str(tmp_path)!r})))\nprint('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"  # torch loads with the first job (or the layer list), not before
