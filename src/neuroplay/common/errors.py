"""The one error type the library raises for bad input.

The command line turns a :class:`UserError` into ``error: <message>`` on stderr and exit
code 2; anything else is a bug (exit code 1).
"""

import contextlib
import os
from collections.abc import Iterator


class UserError(Exception):
    """Bad input from the user: a missing or corrupt file, an invalid value, a wrong checkpoint."""


def check(condition: bool, message: str) -> None:
    """Raise :class:`UserError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise UserError(message)


@contextlib.contextmanager
def about_file(path: str | os.PathLike[str]) -> Iterator[None]:
    """Within the block (where settings read from ``path`` are judged), a :class:`UserError` names
    the file first: the fault is in the file, not in the options the user typed."""
    try:
        yield
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None
