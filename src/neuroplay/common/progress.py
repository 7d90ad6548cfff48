"""Progress bars on stderr (rich), silent when asked or when stderr is not a terminal."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

_console = Console(stderr=True)


def console() -> Console:
    """The shared stderr console (progress, notes, tables meant for people)."""
    return _console


def make_progress(transient: bool = False, disable: bool = False) -> Progress:
    """A progress bar with a free-text status field (``{task.fields[status]}``)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=_console,
        transient=transient,
        disable=disable,
        refresh_per_second=5,
    )
