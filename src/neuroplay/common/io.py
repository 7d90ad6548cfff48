"""Files: atomic writes (a failed or interrupted write never leaves a half-written file), the
checks every input file gets before it is read, and JSON that is always valid JSON."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def input_file(path: str | os.PathLike[str], expected: str, name: str) -> Path:
    """``path`` as a :class:`Path` if it names an existing file; else a
    :class:`~neuroplay.common.errors.UserError`: "PATH is a directory, expected ``expected``" or
    "``name`` not found: PATH" (``input_file(p, "a checkpoint file", "checkpoint")``)."""
    from neuroplay.common.errors import UserError

    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} is a directory, expected {expected}")
    if not path.is_file():
        raise UserError(f"{name} not found: {path}")
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it over ``path`` in one step.

    The temporary file keeps ``path``'s suffix so libraries that pick a format from the
    name (matplotlib, imageio) still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give outputs the usual mode
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO]:
    """Open a temporary file for writing; it replaces ``path`` only if the block succeeds."""
    with atomic_path(path) as tmp, open(tmp, mode) as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_open(path, "w") as fh:
        fh.write(text)


def write_csv(path: str | os.PathLike[str], rows: list[dict]) -> None:
    """Write ``rows`` (dicts with the same keys) as CSV with a header, atomically."""
    cols = list(rows[0]) if rows else []
    with atomic_open(path) as fh:
        fh.write(",".join(cols) + "\n")
        for row in rows:
            fh.write(",".join(str(row[k]) for k in cols) + "\n")


def json_ready(value: Any) -> Any:
    """``value`` with every NaN or infinity made ``None``, paths made strings, and NumPy or torch
    scalars made Python numbers, through dicts, lists and tuples."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if getattr(value, "ndim", None) == 0 and callable(getattr(value, "item", None)):  # np.float32, 0-d tensor
        return json_ready(value.item())
    return value


def to_json(value: Any, indent: int | None = None) -> str:
    """``value`` as JSON text that every parser reads: Python's ``json`` writes NaN and Infinity,
    which are not JSON (``jq``, JavaScript and most other languages reject the whole document),
    so they become ``null`` (:func:`json_ready`). Every JSON neuroplay prints or writes goes through here."""
    return json.dumps(json_ready(value), indent=indent, allow_nan=False)


def write_json(path: str | os.PathLike[str], value: Any) -> None:
    """Write ``value`` to ``path`` as indented JSON (:func:`to_json`), atomically."""
    write_text(path, to_json(value, indent=2) + "\n")
