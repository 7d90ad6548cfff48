"""How a command ends on Ctrl-C or SIGTERM: one line and exit code 130, whenever it comes.

SIGTERM is what ``timeout``, ``kill``, systemd, Slurm and Ray send to stop a process; here it
means exactly what Ctrl-C (SIGINT) means. There are three moments:

1. start-up, while the command line itself is imported (:mod:`.startup`, the first thing
   ``neuroplay.cli`` does, and :func:`exit_at_once`): nothing has been written yet, so a signal
   prints ``interrupted`` and exits 130 at once; otherwise Python prints the traceback of
   whichever import it stopped (typer, rich …);
2. a command running (:func:`signals_interrupt`, for the whole of ``main()``): a signal raises
   :class:`KeyboardInterrupt`, so ``finally`` blocks run (an atomic write removes its temporary
   file) and ``main()`` prints the one line. A default SIGTERM would kill the process with no
   clean-up and no message;
3. a loop that can stop cleanly, such as training (:func:`stop_requests`): the first signal
   only sets a flag the loop polls, so it saves a checkpoint and returns; a second one raises
   at once.

The handlers are Python-level, so they run between bytecodes: a signal during a long C call
(one big matrix product, one torch import step) takes effect when it returns.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator

from neuroplay.cli.startup import EXIT_CODE, MESSAGE, exit_now  # noqa: F401 (EXIT_CODE, MESSAGE: shared names)

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# set by every signal while a command runs: a KeyboardInterrupt raised inside a finalizer (``__del__``)
# or under a library's bare ``except:`` is lost, but the request it carried is not (stop_requests)
_requested = [False]

Handlers = dict[int, object]


def _install(handler: Callable) -> Handlers:
    """Put ``handler`` on SIGINT and SIGTERM; the handlers it replaced (none off the main thread,
    where Python cannot set them: a command run from a worker thread keeps the process's)."""
    previous: Handlers = {}
    try:
        for signum in SIGNALS:
            previous[signum] = signal.signal(signum, handler)
    except ValueError:  # not the main thread
        restore(previous)
        return {}
    return previous


def restore(previous: Handlers) -> None:
    """Put back the handlers :func:`exit_at_once` (or :func:`_install`) replaced."""
    for signum, handler in previous.items():
        # None: a handler set outside Python; the default is the nearest Python can restore
        signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def exit_at_once() -> Handlers:
    """From now until :func:`restore`, Ctrl-C or SIGTERM prints ``interrupted`` and exits 130 at
    once. For the start-up, before ``main()`` takes over; returns the handlers it replaced."""
    return _install(exit_now)


def _raise(signum: int, frame: object) -> None:
    _requested[0] = True
    raise KeyboardInterrupt


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`KeyboardInterrupt` as Ctrl-C does (the caller turns
    it into one line and exit 130); the process's own handlers come back afterwards."""
    _requested[0] = False
    previous = _install(_raise)
    try:
        yield
    finally:
        restore(previous)


def take_back() -> None:
    """Within :func:`signals_interrupt`, put its handlers back after a library replaced them
    (``ray.init`` installs a SIGTERM handler of its own: ``sys.exit(15)``, no line, no
    checkpoint); the handlers :func:`signals_interrupt` found are still the ones it restores."""
    _install(_raise)


@contextlib.contextmanager
def stop_requests() -> Iterator[Callable[[], bool]]:
    """Within the block, the first Ctrl-C or SIGTERM only sets a flag (poll the yielded function
    and stop cleanly, saving a checkpoint); a second one interrupts at once. A signal that came
    before the block and was lost on the way counts as the first."""

    def on_signal(signum: int, frame: object) -> None:
        if _requested[0]:
            raise KeyboardInterrupt
        _requested[0] = True

    previous = _install(on_signal)
    try:
        yield lambda: _requested[0]
    finally:
        restore(previous)
