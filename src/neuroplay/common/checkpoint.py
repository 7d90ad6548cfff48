"""Checkpoints: plain tensors and dicts, tagged with a kind and a format version.

Loading always uses ``torch.load(weights_only=True)``, so a checkpoint cannot run code; a
file of another kind, a newer format or a corrupt file raises :class:`UserError`.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

import torch

from neuroplay.common.errors import UserError
from neuroplay.common.io import atomic_path, input_file


def save_checkpoint(path: str | os.PathLike[str], kind: str, version: int, payload: dict) -> None:
    """Write ``payload`` with its ``kind`` and ``version`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        torch.save({"kind": kind, "format_version": version, **payload}, tmp)


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
    return data
