"""Helpers shared by the CLI sub-apps: JSON output, devices, progress bars, display checks."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer

from neuroplay.common.errors import UserError

SEED = typer.Option(0, "--seed", help="Random seed; the same seed gives the same result.")
DEVICE = typer.Option("auto", "--device", help="auto, cpu or cuda.")
JSON = typer.Option(False, "--json", help="Print one JSON object on stdout as the last line.")


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def emit_json(obj: dict) -> None:
    """Print ``obj`` as a single JSON line on stdout (NaN/inf become null)."""
    sys.stdout.write(json.dumps(_clean(obj)) + "\n")
    sys.stdout.flush()


def check_device(device: str) -> str:
    if device not in ("auto", "cpu", "cuda"):
        raise UserError(f"--device must be auto, cpu or cuda, not {device!r}")
    return device


def has_display() -> bool:
    """Whether a window can be opened (an X11/Wayland display, or a desktop OS)."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def parse_ints(text: str, what: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        raise UserError(f"{what} must be comma-separated integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise UserError(f"{what} must be positive integers, got {text!r}")
    return values


def new_run_dir(out: Path | None, default: Path, force: bool) -> Path:
    """The directory for a fresh run; refuses one that already holds a run unless ``force``."""
    run_dir = out if out is not None else default
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"--out {run_dir} exists and is not a directory")
    if (run_dir / "checkpoint.pt").exists() and not force:
        raise UserError(f"{run_dir} already holds a run; continue it with --resume {run_dir} or pass --force")
    return run_dir


def resumed_checkpoint(out: Path | None, resume: Path, kind: str, version: int) -> dict:
    """The checkpoint of the run ``--resume DIR`` continues (checked for a config)."""
    from neuroplay.common.checkpoint import load_checkpoint

    if out is not None and out.resolve() != resume.resolve():
        raise UserError("--resume DIR continues in DIR; leave out --out or give the same directory")
    saved = load_checkpoint(resume / "checkpoint.pt", kind, version)
    if not isinstance(saved.get("config"), dict):
        raise UserError(f"{resume / 'checkpoint.pt'}: checkpoint has no valid config")
    return saved


@contextlib.contextmanager
def ctrl_c_stops() -> Iterator[Callable[[], bool]]:
    """Within the block, the first Ctrl-C only sets a flag (poll the yielded function and stop
    cleanly, saving a checkpoint); a second Ctrl-C interrupts at once."""
    requested = [False]

    def on_sigint(signum, frame):
        if requested[0]:
            raise KeyboardInterrupt
        requested[0] = True

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield lambda: requested[0]
    finally:
        signal.signal(signal.SIGINT, previous)
