"""One run at a time in a run folder: a lock held while a command writes it.

Two ``dqn train --out SAME`` started together would both find the folder free and write over
each other. :func:`hold_run_folder` takes an exclusive ``flock`` on ``FOLDER/.neuroplay.lock``
for the rest of the process; a second process is refused with the folder and the holder's pid.
The operating system drops the lock when the process ends, however it ends (``kill -9``
included), so a crashed run never leaves a folder locked. The file itself stays: removing a lock
file another process may be opening would let two runs lock two different files.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from neuroplay.common.errors import UserError

LOCK_NAME = ".neuroplay.lock"
_held: dict[Path, int] = {}  # folder -> the open lock file, kept open (and locked) until exit


def hold_run_folder(folder: str | os.PathLike[str]) -> None:
    """Lock ``folder`` (made if missing) for this process, or raise :class:`UserError` when
    another process holds it. Locking a folder this process already holds does nothing."""
    folder = Path(folder)
    key = folder.resolve()
    if key in _held:
        return
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 32).decode(errors="replace").strip()
        os.close(fd)
        who = f" (process {holder})" if holder.isdigit() else ""
        raise UserError(
            f"{folder} is in use by another neuroplay run{who}; wait for it to end or choose another folder"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    _held[key] = fd


def release_run_folder(folder: str | os.PathLike[str]) -> None:
    """Give ``folder``'s lock back before the process ends (tests, or a long-lived process)."""
    fd = _held.pop(Path(folder).resolve(), None)
    if fd is not None:
        os.close(fd)  # closing the only descriptor drops the flock
