"""Helpers shared by the CLI sub-apps: JSON output, devices, run directories, resumed runs, Ctrl-C."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import os
import sys
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import typer

from neuroplay.common.bounds import check_seed, check_threads
from neuroplay.common.errors import UserError
from neuroplay.common.io import to_json
from neuroplay.common.progress import console
from neuroplay.common.runtime import DEVICES


def check_device(device: str) -> str:
    """``device`` if it is one of :data:`~neuroplay.common.runtime.DEVICES`, else a :class:`UserError`."""
    if device not in DEVICES:
        raise UserError(f"--device must be {', '.join(DEVICES[:-1])} or {DEVICES[-1]}, not {device!r}")
    return device


def _seed(seed: int) -> int:
    return check_seed(seed, "--seed")


def option_threads(threads: int | None) -> int | None:
    """A ``--threads`` option's callback: 1..THREADS_MAX, or unset."""
    return check_threads(threads, "--threads")


# the options every command shares; --device, --seed and --threads are checked as they are parsed
SEED = typer.Option(0, "--seed", help="Random seed (0..2**32-1); the same seed gives the same result.", callback=_seed)
DEVICE = typer.Option("auto", "--device", help=f"{', '.join(DEVICES[:-1])} or {DEVICES[-1]}.", callback=check_device)
JSON = typer.Option(False, "--json", help="Print one JSON object on stdout as the last line.")
QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar.")
THREADS = typer.Option(
    None,
    "--threads",
    help="CPU threads for torch (default: torch's, at most the usable CPUs).",
    show_default=False,
    callback=option_threads,
)
# train commands: where a run lives
FORCE = typer.Option(False, "--force", help="Start afresh in --out even if it holds a run.")
# play commands: how a recording is made
FPS = typer.Option(30, "--fps", help="Frames per second of the recording.")
FRAME_SKIP = typer.Option(2, "--frame-skip", help="Keep every k-th frame in the recording.")


@dataclasses.dataclass(frozen=True)
class Common:
    """The options of the CLI contract as a command was given them: ``--seed``, ``--device``,
    ``--json``, and ``--quiet`` and ``--threads`` where the command takes them."""

    seed: int = 0
    device: str = "auto"
    json: bool = False
    quiet: bool = False
    threads: int | None = None


def common_options(*, quiet: Any = None, threads: Any = None, seed: Any = SEED, device: Any = DEVICE) -> Callable:
    """Decorator, under ``@app.command``: the command takes ``--seed``, ``--device`` and ``--json``
    (and ``--quiet``/``--threads`` when their options are given here; ``device=None`` for a command
    without ``--device``) and receives them as one
    :class:`Common`, its keyword-only ``common`` parameter.

    The options keep the parameter names ``seed``, ``device``, ``json_out``, ``quiet`` and
    ``threads``, so ``ctx.params`` (and run settings read from it) see them as before.
    """
    given = (("seed", int, seed), ("device", str, device), ("json_out", bool, JSON), ("quiet", bool, quiet))
    options = {name: (kind, opt) for name, kind, opt in (*given, ("threads", int, threads)) if opt is not None}

    def decorate(command: Callable) -> Callable:
        signature = inspect.signature(command, eval_str=True)
        own = [p for name, p in signature.parameters.items() if name != "common"]
        shared = [
            inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=o, annotation=k)
            for n, (k, o) in options.items()
        ]

        @functools.wraps(command)
        def with_common(**params: Any) -> Any:
            given = {name: params.pop(name) for name in options}
            return command(**params, common=Common(json=given.pop("json_out"), **given))

        with_common.__signature__ = signature.replace(parameters=[*own, *shared])
        with_common.__annotations__ = {p.name: p.annotation for p in [*own, *shared]}
        return with_common

    return decorate


def resume_option(budget: str) -> Any:
    """The ``--resume DIR`` option of a train command whose budget option is ``budget``."""
    help_text = f"Continue the run in this directory with its saved settings; {budget} may raise the budget."
    return typer.Option(None, "--resume", help=help_text)


def emit_json(obj: dict) -> None:
    """Print ``obj`` as a single JSON line on stdout (NaN/inf become null)."""
    sys.stdout.write(to_json(obj) + "\n")
    sys.stdout.flush()


def has_display() -> bool:
    """Whether a window can be opened (an X11/Wayland display, or a desktop OS)."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def parse_ints(text: str, what: str) -> tuple[int, ...]:
    """``"128,64"`` -> ``(128, 64)``; anything but positive integers is a :class:`UserError` naming ``what``."""
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


def resume_run_dir(out: Path | None, resume: Path, force: bool) -> Path:
    """The directory ``--resume DIR`` continues in; ``--out``, when given, must name the same one."""
    if force:
        raise UserError("--force starts a run afresh and --resume continues one; give only one of them")
    if out is not None and out.resolve() != resume.resolve():
        raise UserError("--resume DIR continues in DIR; leave out --out or give the same directory")
    return resume


@contextlib.contextmanager
def options_named(ctx: typer.Context) -> Iterator[None]:
    """Within the block (where a config is built from the options), a :class:`UserError` about a
    setting names the option the user typed: ``solve_threshold must be ...`` becomes ``--threshold
    must be ...``. The library speaks of its fields; the user knows the flags."""
    try:
        yield
    except UserError as exc:
        setting, sep, rest = str(exc).partition(" must be ")
        flags = {p.name: o for p in ctx.command.params for o in p.opts[:1] if o.startswith("--")}
        flag = flags.get(setting.replace(" ", "_").replace("-", "_"))
        if not sep or flag is None:
            raise
        raise UserError(f"{flag} must be {rest}") from None


def settings_from_params(ctx: typer.Context, config_cls: type, **parsed: Any) -> dict[str, Any]:
    """The command's parameters named after ``config_cls`` fields, with the ``parsed`` values
    (options given as text, e.g. ``hidden=(128, 128)``) in place of theirs."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    return {name: value for name, value in ctx.params.items() if name in names} | parsed


def start_run(
    ctx: typer.Context,
    config_cls: type,
    out: Path | None,
    resume: Path | None,
    force: bool,
    default_dir: Path,
    **parsed: Any,
) -> tuple[Path, dict[str, Any], dict[str, Any] | None]:
    """Where a ``train`` command runs and with what: ``(run_dir, settings, typed)``.

    ``settings`` are :func:`settings_from_params`. For
    a fresh run ``typed`` is ``None``; for ``--resume`` it holds the settings the user typed, to
    override the saved ones (see :func:`typed_settings`; ``config_cls.RESUMABLE`` may change).
    """
    settings = settings_from_params(ctx, config_cls, **parsed)
    if resume is None:
        return new_run_dir(out, default_dir, force), settings, None
    return resume_run_dir(out, resume, force), settings, typed_settings(ctx, settings, config_cls.RESUMABLE)


def finish_training(
    result: Any, run_dir: Path, command: str, where: str, report: str, json_out: bool, summary: dict
) -> None:
    """End a ``train`` command: an interrupted run says where it stopped (``where``) and how to
    continue it, then exits 130; a finished one prints ``report`` (unless ``json_out``). With
    ``json_out`` the ``summary`` is printed as JSON either way."""
    if result.interrupted:
        # one line however long: rich wraps at 80 columns when stderr is not a terminal
        message = f"interrupted {where}; checkpoint saved. Continue with: neuroplay {command} --resume {run_dir}"
        console().print(message, soft_wrap=True, highlight=False)
    elif not json_out:
        console().print(report)
    if json_out:
        emit_json({**summary, "interrupted": result.interrupted, "out": str(run_dir)})
    if result.interrupted:
        raise typer.Exit(130)


def typed_settings(ctx: typer.Context, settings: dict[str, Any], may_change: Collection[str]) -> dict[str, Any]:
    """The ``settings`` (run settings by parameter name) whose options the user typed, for a resumed
    run to take over. A typed value counts even when it equals the default; a typed option whose
    setting may not change on resume (not in ``may_change``) is a :class:`UserError` naming it."""
    # click's ParameterSource, compared by name: typer vendors its own copy of click, whose enum is
    # not click.core's, and exports neither
    typed = [name for name in settings if getattr(ctx.get_parameter_source(name), "name", "") == "COMMANDLINE"]
    frozen = [name for name in typed if name not in may_change]
    if frozen:
        flags = {p.name: max(p.opts, key=len) for p in ctx.command.params}
        free = sorted(flags[name] for name in settings if name in may_change)
        raise UserError(
            f"{', '.join(flags[name] for name in frozen)} cannot change when resuming a run "
            f"(it keeps its saved settings; only {', '.join(free)} may change)"
        )
    return {name: settings[name] for name in typed}
