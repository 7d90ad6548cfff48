"""Inputs named by the user and outputs written for them: built-in names, output checks, sidecars.

``demo:NAME`` names a built-in input (a scikit-image photo, a generated painting, a built-in
drawing) wherever a file is expected. An output is checked before any work starts, so a long
run never fails at the end on a bad name, and it never lands on one of its own inputs. Beside
an output image goes its sidecar: the same name with ``.json``, every setting and the result.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

from neuroplay.common.errors import UserError
from neuroplay.common.io import write_json

DEMO_PREFIX = "demo:"  # demo:chelsea, demo:swirl, demo:cup ... name a built-in input instead of a file
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def builtin_name(spec: str) -> str | None:
    """``NAME`` for ``demo:NAME``, else ``None`` (the spec is a file path)."""
    return spec[len(DEMO_PREFIX) :] if spec.startswith(DEMO_PREFIX) else None


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether ``a`` and ``b`` are one existing file (or ``b`` does not exist yet but is ``a``'s path)."""
    pa, pb = Path(a), Path(b)
    return pa.exists() and pa.resolve() == pb.resolve()


def check_output(
    out: Path,
    inputs: Iterable[str | os.PathLike[str]] = (),
    suffixes: tuple[str, ...] = IMAGE_SUFFIXES,
    hint: str = "",
) -> None:
    """Refuse a bad output path before any work: a wrong type, a folder, an input, an unwritable place.

    ``inputs`` are the specs the run reads (``demo:`` names are skipped); ``hint`` is added to
    the message about a wrong suffix.
    """
    if out.suffix.lower() not in suffixes:
        names = ", ".join(suffixes[:-1]) + f" or {suffixes[-1]}" if len(suffixes) > 1 else suffixes[0]
        raise UserError(f"cannot save {out}: use a {names} file name{hint}")
    plan_outputs(files=[out], inputs=inputs)


def plan_outputs(
    files: Iterable[str | os.PathLike[str]] = (),
    dirs: Iterable[str | os.PathLike[str]] = (),
    inputs: Iterable[str | os.PathLike[str]] = (),
) -> None:
    """Refuse, before any work, outputs that could not be written or would damage what is on disk:
    a file output that is a folder, a folder output that is a file, an output under a regular file
    or an unwritable folder, and a file output that is one of the ``inputs`` (specs the run reads;
    ``demo:`` names are skipped). Every command lists all it will write (sidecars, contact sheets,
    saved frames, a run folder's files) and calls this first; the message names the path."""
    read = [spec for spec in inputs if spec is not None and builtin_name(str(spec)) is None]
    for folder in map(Path, dirs):
        if folder.exists() and not folder.is_dir():
            raise UserError(f"{folder} exists and is not a directory")
        _check_parent(folder)
    for out in map(Path, files):
        if out.is_dir():
            raise UserError(f"{out} is a directory, expected a file name")
        for spec in read:
            if same_file(spec, out):
                raise UserError(f"the output {out} would overwrite an input ({spec}); choose another name")
        _check_parent(out)


def _check_parent(out: Path) -> None:
    parent = out.parent if str(out.parent) else Path(".")
    existing = next((p for p in (parent, *parent.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise UserError(f"cannot write {out}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"cannot write {out}: {existing} is not a writable folder")


def sidecar_path(out: str | os.PathLike[str]) -> Path:
    """Where the settings of output ``out`` are recorded: ``out`` with the suffix ``.json``."""
    return Path(out).with_suffix(".json")


def output_summary(out: str | os.PathLike[str], started: float, image) -> dict:
    """The first keys of a run's ``--json`` summary: the output, its sidecar, the wall time since
    ``started`` (a :func:`time.perf_counter` reading) and the size of ``image`` (``…×H×W``)."""
    height, width = image.shape[-2:]
    return {
        "output": str(out),
        "sidecar": str(sidecar_path(out)),
        "wall_seconds": time.perf_counter() - started,
        "width": int(width),
        "height": int(height),
    }


def write_sidecar(out: str | os.PathLike[str], record: dict, kind: str | None = None, version: int = 1) -> Path:
    """Write ``record`` as ``out``'s sidecar (atomically, NaN as ``null``); an unwritable place is a
    :class:`UserError`.

    With ``kind``, the record is tagged with it and ``version`` first, and the versions of neuroplay
    and torch and torch's thread count are added last, so every sidecar says what made it.
    """
    if kind is not None:
        import torch

        from neuroplay import __version__

        record = {
            "kind": kind,
            "format_version": version,
            **record,
            "neuroplay": __version__,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        }
    path = sidecar_path(out)
    try:
        write_json(path, record)
    except OSError as exc:
        raise UserError(f"cannot write {path} ({exc.strerror or exc})") from None
    return path
