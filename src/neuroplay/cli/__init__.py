"""The ``neuroplay`` command line: one typer sub-app per part.

``main()`` runs the app without click's own error handling, so every bad input ends the
same way: one ``error: ...`` line on stderr and exit code 2; and every Ctrl-C or SIGTERM, from
the first import on, ends with one ``interrupted`` line and exit code 130 (:mod:`.interrupts`).
"""

# first of all: a signal while the rest of the command line loads ends with one line, not a
# traceback of the import it stopped; put back at the end of this module, so that a program
# importing neuroplay.cli (the tests, the studio) keeps its own handlers
from neuroplay.cli import startup

_STARTUP = startup.install()

import os  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402

import typer  # noqa: E402

from neuroplay import __version__  # noqa: E402
from neuroplay.cli import interrupts  # noqa: E402
from neuroplay.common.errors import UserError  # noqa: E402

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
    from neuroplay.cli import demo, dqn, dream, evolve, qtable, sketch, studio, style, stylenet, weights

    app.add_typer(dqn.app, name="dqn")
    app.add_typer(evolve.app, name="evolve")
    app.add_typer(weights.app, name="weights")
    app.add_typer(sketch.app, name="sketch")
    app.add_typer(stylenet.app, name="stylenet")
    app.command("qtable")(qtable.qtable)
    app.command("style")(style.style)
    app.command("dream")(dream.dream)
    app.command("demo")(demo.demo)
    app.command("studio")(studio.studio)


def fail(message: str, code: int = 2) -> None:
    """Print ``error: message`` (one line) to stderr and exit with ``code``."""
    first = " ".join(str(message).split())
    sys.stderr.write(f"error: {first}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``neuroplay`` console script."""
    with interrupts.signals_interrupt():  # SIGTERM as Ctrl-C: KeyboardInterrupt, then one line below
        try:
            code = _run(argv)
        except KeyboardInterrupt:
            interrupts.exit_at_once()  # a second signal now must not break into the line below
            sys.stderr.write(f"{interrupts.MESSAGE}\n")
            sys.stderr.flush()
            raise SystemExit(interrupts.EXIT_CODE) from None
    raise SystemExit(code)


def _run(argv: list[str] | None) -> int:
    """Run the command ``argv`` names; its exit code, or :func:`fail` for bad input and bugs."""
    _register()
    command = typer.main.get_command(app)
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        # make_context + invoke is typer's main() without its KeyboardInterrupt handling, which
        # turns an interrupt into a silent exit 130 that main() could not tell from a command's own
        with command.make_context("neuroplay", args) as ctx:
            code = command.invoke(ctx)
    except UserError as exc:
        fail(str(exc))
    except typer.Exit as exc:  # a command's own exit code (130 for a run stopped and saved)
        return exc.exit_code
    except typer.TyperException as exc:  # click's usage errors (typer bundles click)
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":  # `neuroplay` or `neuroplay dqn` alone
            sys.stderr.write((ctx.get_help() if ctx is not None else "") + "\n")
            raise SystemExit(2) from None
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        fail(f"{message}{hint}")
    except BrokenPipeError:
        raise SystemExit(1) from None
    except Exception as exc:  # a bug: say so plainly, keep the traceback for the report
        if os.environ.get("NEUROPLAY_DEBUG"):
            traceback.print_exc()
        fail(f"unexpected failure ({type(exc).__name__}: {exc}); set NEUROPLAY_DEBUG=1 for the traceback", 1)
    return code if isinstance(code, int) else 0


interrupts.restore(_STARTUP)
