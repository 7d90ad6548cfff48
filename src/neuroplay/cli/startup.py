"""The command line's very first act: from here on a signal ends start-up with one line.

Python itself takes ~15 ms to start before any of this package can run; the rest of the command
line (typer, rich, the interrupt handlers of :mod:`.interrupts`) takes a few hundred more. This
module uses only what the interpreter has loaded already (``_signal`` is built in, ``os`` came
with ``site``), so the window in which Ctrl-C would print a traceback, or SIGTERM kill without a
word, is no longer than the interpreter's own start.
"""

import _signal
import os

EXIT_CODE = 130  # 128 + SIGINT, the shell's code for a command stopped by Ctrl-C; SIGTERM ends the same way
MESSAGE = "interrupted"


def exit_now(signum: int, frame: object) -> None:
    """Print the one line and exit 130 at once: nothing has been written yet, nothing to clean up."""
    os.write(2, f"{MESSAGE}\n".encode())
    os._exit(EXIT_CODE)


def install() -> dict:
    """Put :func:`exit_now` on SIGINT and SIGTERM; returns the handlers it replaced (none off the
    main thread, where Python cannot set them)."""
    try:
        return {s: _signal.signal(s, exit_now) for s in (_signal.SIGINT, _signal.SIGTERM)}
    except ValueError:
        return {}
