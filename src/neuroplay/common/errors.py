"""The one error type the library raises for bad input.

The command line turns a :class:`UserError` into ``error: <message>`` on stderr and exit
code 2; anything else is a bug (exit code 1).
"""


class UserError(Exception):
    """Bad input from the user: a missing or corrupt file, an invalid value, a wrong checkpoint."""


def check(condition: bool, message: str) -> None:
    """Raise :class:`UserError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise UserError(message)
