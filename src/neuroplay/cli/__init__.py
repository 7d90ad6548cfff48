"""The ``neuroplay`` command line: one typer sub-app per part.

``main()`` runs the app without click's own error handling, so every bad input ends the
same way: one ``error: ...`` line on stderr and exit code 2.
"""

from __future__ import annotations

import os
import sys
import traceback

import typer

from neuroplay import __version__
from neuroplay.common.errors import UserError

app = typer.Typer(
    rich_markup_mode="markdown",  # docstring paragraphs reflowed, not cut at their source line breaks
    name="neuroplay",
    help="Four classic deep-learning experiments, real, fast and reproducible on a laptop.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"neuroplay {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Four classic deep-learning experiments, real, fast and reproducible on a laptop."""


def _register() -> None:
    if app.registered_groups:  # once: main() runs many times in one process in tests, and each
        return  # registration would add the sub-apps again (every later call slower)
    from neuroplay.cli import demo, dqn, dream, evolve, qtable, sketch, style, weights

    app.add_typer(dqn.app, name="dqn")
    app.add_typer(evolve.app, name="evolve")
    app.add_typer(weights.app, name="weights")
    app.add_typer(sketch.app, name="sketch")
    app.command("qtable")(qtable.qtable)
    app.command("style")(style.style)
    app.command("dream")(dream.dream)
    app.command("demo")(demo.demo)


def fail(message: str, code: int = 2) -> None:
    """Print ``error: message`` (one line) to stderr and exit with ``code``."""
    first = " ".join(str(message).split())
    sys.stderr.write(f"error: {first}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``neuroplay`` console script."""
    _register()
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="neuroplay", standalone_mode=False)
    except UserError as exc:
        fail(str(exc))
    except typer.TyperException as exc:  # click's usage errors (typer bundles click)
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":  # `neuroplay` or `neuroplay dqn` alone
            sys.stderr.write((ctx.get_help() if ctx is not None else "") + "\n")
            raise SystemExit(2) from None
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        fail(f"{message}{hint}")
    except typer.Abort:
        fail("aborted", 130)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except BrokenPipeError:
        raise SystemExit(1) from None
    except Exception as exc:  # a bug: say so plainly, keep the traceback for the report
        if os.environ.get("NEUROPLAY_DEBUG"):
            traceback.print_exc()
        fail(f"unexpected failure ({type(exc).__name__}: {exc}); set NEUROPLAY_DEBUG=1 for the traceback", 1)
    raise SystemExit(code if isinstance(code, int) else 0)
