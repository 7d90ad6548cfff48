"""``neuroplay studio [--host 127.0.0.1] [--port 7860]``: the browser studio.

Serves the page (:mod:`neuroplay.studio`) until Ctrl-C, then stops any running job cleanly and
exits. Gradio is imported only here, when the command runs.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import typer

from neuroplay.common.bounds import in_range
from neuroplay.common.errors import UserError
from neuroplay.common.outputs import plan_outputs
from neuroplay.common.progress import console

LOCAL_HOSTS = ("localhost",)


def exposed(host: str) -> bool:
    """Whether listening on ``host`` lets other machines reach the page (anything but loopback)."""
    if host in LOCAL_HOSTS:
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: whatever it resolves to
        try:
            return not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
        except OSError:
            raise UserError(f"--host {host!r} is not an address or a name this machine can resolve") from None


def check_port_free(host: str, port: int) -> None:
    """Refuse a port another program is listening on, before Gradio starts (it would pick another)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            raise UserError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port") from None


def studio(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; 127.0.0.1 keeps it on this machine."),
    port: int = typer.Option(7860, "--port", help="Port to listen on."),
    runs: Path = typer.Option(
        Path("neuroplay-studio"), "--runs", help="Folder for the jobs' outputs (one new folder per job)."
    ),
    jobs: int = typer.Option(1, "--jobs", help="Jobs that may run at once (more need more memory)."),
) -> None:
    """Open the browser studio: run, watch and keep every experiment in a local web page.

    Prints the address and serves until Ctrl-C. Works offline: the page asks nothing of any
    other host.
    """
    in_range("--port", port, 1, 65535)
    in_range("--jobs", jobs, 1, 16)
    plan_outputs(dirs=[runs])
    if exposed(host):
        console().print(
            f"[yellow]warning:[/yellow] --host {host} lets other machines on the network open the studio and "
            "run jobs on this one; it has no login. Use 127.0.0.1 to keep it on this machine.",
            highlight=False,
            soft_wrap=True,
        )
    check_port_free(host, port)
    from neuroplay.studio.app import Studio, build_app, launch

    app = build_app(Studio(runs=runs, concurrency=jobs))
    address = launch(app, host, port, runs, block=False)
    typer.echo(f"neuroplay studio: {address}  (Ctrl-C stops it; jobs write to {runs.resolve()})")
    from neuroplay.studio.app import serve_until_interrupted

    serve_until_interrupted(app)
    typer.echo("studio stopped", err=True)
