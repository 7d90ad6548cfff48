"""Studio jobs: each run in its own new folder, in a worker thread, streamed to the page, stoppable.

A tab's Run handler is a generator: it calls :meth:`Job.stream` with the library call to make,
and yields one page update per event the call posts (``job.post``) while it runs, then one for
its end. The call runs in a worker thread, so the handler can keep yielding; a page update is
only made for the latest event when several came meanwhile (the page never lags behind).

Stop sets the job's flag; the library polls it (``should_stop``, the same path Ctrl-C takes on
the command line), so a training run saves its checkpoint and a style transfer its image. A
:class:`~neuroplay.common.errors.UserError` becomes a message on the page; anything else is a
bug, logged with its traceback on the server's stderr and shown as one line.
"""

from __future__ import annotations

import itertools
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neuroplay.common.errors import UserError

POLL_SECONDS = 0.1  # how often a streaming handler looks for news while the job is quiet
_counter = itertools.count()
_lock = threading.Lock()
_running: dict[tuple[str, str], Job] = {}  # (browser session, tab) -> its job; Stop finds it here


@dataclass(frozen=True)
class Event:
    """One thing a job reports: ``kind`` is ``"progress"`` (``data`` what the call posted),
    ``"done"`` (``data`` its return value), ``"error"`` (``data`` the message for the page)."""

    kind: str
    data: Any = None


def new_job_folder(root: Path, kind: str) -> Path:
    """A folder for one job's outputs, new and empty: ``ROOT/KIND-YYYYmmdd-HHMMSS-N``. Never an
    earlier job's: ``mkdir`` without ``exist_ok`` makes it or fails, and then the next name is tried."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    while True:
        folder = root / f"{kind}-{stamp}-{next(_counter):03d}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue


def session_of(request: Any) -> str:
    """The browser session a handler serves (``gr.Request``), or ``"local"`` when called directly."""
    return getattr(request, "session_hash", None) or "local"


class Job:
    """One run of one tab: its folder, its stop flag and the events it posts."""

    def __init__(self, runs: Path, kind: str, session: str = "local"):
        self.kind, self.session = kind, session
        self.folder = new_job_folder(Path(runs), kind)
        self._stop = threading.Event()
        self._events: queue.Queue[Event] = queue.Queue()
        self.worker: threading.Thread | None = None

    def should_stop(self) -> bool:
        """Whether Stop was pressed: what the library polls."""
        return self._stop.is_set()

    def stop(self) -> None:
        """Ask the job to end cleanly (keeping what it has)."""
        self._stop.set()

    def post(self, data: Any) -> None:
        """From the library's callback: something worth showing."""
        self._events.put(Event("progress", data))

    def _work(self, call: Callable[[Job], Any]) -> None:
        try:
            self._events.put(Event("done", call(self)))
        except UserError as exc:
            self._events.put(Event("error", " ".join(str(exc).split())))
        except Exception as exc:  # a bug: the traceback goes to the server's log, one line to the page
            traceback.print_exc(file=sys.stderr)
            self._events.put(Event("error", f"unexpected failure ({type(exc).__name__}: {exc})"))

    def stream(self, call: Callable[[Job], Any]) -> Iterator[Event]:
        """Run ``call(self)`` in a worker thread and yield its events: the latest progress whenever
        there is news, then ``done`` or ``error``. While it runs, Stop (:func:`stop_job`) reaches it."""
        key = (self.session, self.kind)
        with _lock:
            earlier = _running.get(key)
            if earlier is not None:
                earlier.stop()  # one job per tab and browser session
            _running[key] = self
        self.worker = threading.Thread(target=self._work, args=(call,), name=f"studio-{self.kind}", daemon=True)
        self.worker.start()
        try:
            while True:
                try:
                    event = self._events.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    continue
                while event.kind == "progress" and not self._events.empty():
                    event = self._events.get()  # only the newest of what came meanwhile is drawn
                yield event
                if event.kind != "progress":
                    return
        finally:
            self.stop()  # the page went away (or the handler was cancelled): the job ends too
            with _lock:
                if _running.get(key) is self:
                    del _running[key]


def stop_all(timeout: float = 20.0) -> int:
    """Stop every running job and wait up to ``timeout`` seconds for them to save and end (the
    server is closing); how many were running."""
    with _lock:
        running = list(_running.values())
    for job in running:
        job.stop()
    deadline = time.monotonic() + timeout
    for job in running:
        if job.worker is not None:
            job.worker.join(max(0.0, deadline - time.monotonic()))
    return len(running)


def stop_job(kind: str, request: Any = None) -> str:
    """The Stop button of tab ``kind``: stop this browser session's job there; what to show."""
    with _lock:
        job = _running.get((session_of(request), kind))
    if job is None:
        return "nothing is running here"
    job.stop()
    return "stopping: the run ends at its next check and keeps what it has"


def run_job(runs: Path, kind: str, request: Any, call: Callable[[Job], Any]) -> tuple[Job | None, Iterator[Event]]:
    """A new job of ``kind`` for ``request``'s session running ``call``, and its events. A folder
    that cannot be made (a runs folder under a file, no permission) is one ``error`` event."""
    try:
        job = Job(runs, kind, session_of(request))
    except OSError as exc:
        return None, iter([Event("error", f"cannot make a job folder under {runs}: {exc.strerror or exc}")])
    return job, job.stream(call)
