"""Small pieces every tab uses: status messages, number fields read safely, Run and Stop wiring."""

import math
from typing import Any

import gradio as gr

from neuroplay.common.errors import UserError
from neuroplay.studio import jobs

JOBS = "jobs"  # the concurrency group of every heavy handler: one job at a time (Studio's ``concurrency``)


def note(text: str) -> str:
    """A status line for the page."""
    return text


def error(text: str) -> str:
    """A status line that says what was wrong with the input (never a traceback)."""
    return f"**error:** {text}"


def number(value: Any, what: str, kind: type = float) -> Any:
    """A number field's value as ``kind``; an empty, non-numeric, non-finite or (for ``int``)
    fractional value is a :class:`UserError` naming ``what``."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise UserError(f"{what} must be a finite number, got {value!r}")
    if kind is int:
        if x != int(x):
            raise UserError(f"{what} must be a whole number, got {value!r}")
        return int(x)
    return x


def ints(text: Any, what: str) -> tuple[int, ...]:
    """``"128,64"`` -> ``(128, 64)``; anything but positive whole numbers is a :class:`UserError`."""
    try:
        values = tuple(int(v) for v in str(text).replace(" ", "").split(",") if v)
    except ValueError:
        raise UserError(f"{what} must be comma-separated whole numbers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise UserError(f"{what} must be positive whole numbers, got {text!r}")
    return values


def stop_button(elem_id: str) -> gr.Button:
    """A tab's Stop button."""
    return gr.Button("Stop", variant="stop", elem_id=elem_id)


class Run:
    """How buttons are wired: heavy handlers queue in one group, Stop never waits behind them."""

    @staticmethod
    def wire(button: gr.Button, fn, inputs: list, outputs: list) -> None:
        """``button`` runs ``fn`` (a generator streaming page updates) as a queued job."""
        button.click(fn, inputs, outputs, concurrency_id=JOBS, show_progress="minimal")

    @staticmethod
    def wire_stop(button: gr.Button, kind: str, status: Any) -> None:
        """``button`` stops this browser session's job of tab ``kind`` at once (not queued behind it)."""

        def on_stop(request: gr.Request) -> str:
            return jobs.stop_job(kind, request)

        button.click(on_stop, None, status, concurrency_limit=None, show_progress="hidden")
