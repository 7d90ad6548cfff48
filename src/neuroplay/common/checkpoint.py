"""Checkpoints: plain tensors and dicts, tagged with a kind and a format version.

Loading always uses ``torch.load(weights_only=True)``, so a checkpoint cannot run code; a
file of another kind, a newer format or a corrupt file raises :class:`UserError`. Each file
also holds a sha256 of its contents (every tensor's dtype, shape and bytes, every other value),
written at save time and checked at load time, so a flipped byte that still unpickles is caught.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Mapping
from typing import Any

import torch

from neuroplay.common.errors import UserError
from neuroplay.common.io import atomic_path, input_file

CHECKSUM = "content_sha256"


def content_digest(value: Any) -> str:
    """A sha256 of ``value``'s contents: the same numbers and structure give the same digest."""
    h = hashlib.sha256()

    def feed(v: Any) -> None:
        if isinstance(v, torch.Tensor):
            t = v.detach().cpu().contiguous()
            h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy() if t.numel() else b"")
        elif isinstance(v, Mapping):
            h.update(b"{")
            for key in sorted(v, key=str):
                h.update(repr(key).encode() + b":")
                feed(v[key])
            h.update(b"}")
        elif isinstance(v, list | tuple):
            h.update(b"[")
            for item in v:
                feed(item)
                h.update(b",")
            h.update(b"]")
        else:
            h.update(f"{type(v).__name__}:{v!r};".encode())

    feed(value)
    return h.hexdigest()


def save_checkpoint(path: str | os.PathLike[str], kind: str, version: int, payload: dict) -> None:
    """Write ``payload`` with its ``kind``, ``version`` and content checksum to ``path`` atomically."""
    data = {"kind": kind, "format_version": version, **payload}
    data.pop(CHECKSUM, None)
    data[CHECKSUM] = content_digest(data)
    with atomic_path(path) as tmp:
        torch.save(data, tmp)


def load_checkpoint(path: str | os.PathLike[str], kind: str, max_version: int) -> dict[str, Any]:
    """Load a checkpoint of ``kind`` written with a format version up to ``max_version``."""
    path = input_file(path, "a checkpoint file", "checkpoint")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unsafe content"
        raise UserError(f"{path} is not a safe neuroplay checkpoint ({first[:160]})") from None
    except Exception as exc:  # torch raises many types for a damaged file; all mean the same here
        raise UserError(f"{path} is not a readable checkpoint (corrupt or truncated: {type(exc).__name__})") from None
    if not isinstance(data, dict) or "kind" not in data:
        raise UserError(f"{path} is not a neuroplay checkpoint")
    if data["kind"] != kind:
        raise UserError(f"{path} is a {data['kind']!r} checkpoint, expected {kind!r}")
    version = data.get("format_version")
    if not isinstance(version, int) or version > max_version:
        raise UserError(f"{path} has format version {version}, this neuroplay reads up to {max_version}")
    if CHECKSUM in data:  # files written before checksums were added have none
        expected = data.pop(CHECKSUM)
        if expected != content_digest(data):
            raise UserError(f"{path} is damaged: its contents do not match the checksum written with them")
    return data
