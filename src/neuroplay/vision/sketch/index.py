"""A gallery's index on disk: which files it holds, and the cache that keeps their descriptions.

A gallery is a folder of photos, searched recursively (:func:`gallery_files`). Its index is cached
under the neuroplay cache, keyed by the gallery's path (:func:`default_index_path`), as one
``torch.save`` file of plain tensors: per photo an :class:`IndexEntry` (its stamp, edge map and
:class:`~neuroplay.vision.sketch.descriptors.Description`), features in float16 and distances in
1/8 pixel. A file whose size and modification time are unchanged keeps its entry; an index made
with other settings, of another format, or damaged is rebuilt rather than trusted.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from neuroplay.common import runtime
from neuroplay.common.errors import UserError
from neuroplay.common.io import atomic_open
from neuroplay.common.runtime import Notify
from neuroplay.vision.sketch.descriptors import Description
from neuroplay.vision.sketch.embedding import FEATURES

if TYPE_CHECKING:
    from neuroplay.vision.sketch.search import GalleryIndex

INDEX_KIND = "neuroplay-sketch-index"
INDEX_VERSION = 5  # 2: embedding features of every photo; 3: computed in the index's precision;
# 4: of the mirrored photo too, CNN descriptors in the index's precision; 5: not of the mirrored photo
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
MIN_SIDE = 16  # smaller pictures hold no usable edges


def gallery_root(gallery: str | os.PathLike[str] | None) -> Path:
    """The gallery folder a user names, checked (it exists and is a folder); ``None`` names the
    built-in gallery, written to the neuroplay cache on first use."""
    if gallery is None:
        from neuroplay.vision.sketch.drawing import builtin_gallery_dir

        return builtin_gallery_dir()
    root = Path(gallery)
    if not root.exists():
        raise UserError(f"gallery not found: {root}")
    if not root.is_dir():
        raise UserError(f"gallery {root} is not a directory")
    return root


def gallery_files(gallery: str | os.PathLike[str]) -> list[Path]:
    """Image files under ``gallery`` (recursive, by suffix, hidden files and folders skipped), sorted.
    Linked folders are followed (a gallery of links to one's photo folders), each real folder once,
    so a link back up the tree cannot loop."""
    root = gallery_root(gallery)
    files = []
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES:
                files.append(Path(dirpath) / name)
    return sorted(files)


def default_index_path(gallery: str | os.PathLike[str]) -> Path:
    """Where the index of ``gallery`` is cached: under the neuroplay cache, keyed by the gallery's path."""
    from neuroplay.vision.weights import cache_dir

    key = hashlib.sha256(str(Path(gallery).resolve()).encode()).hexdigest()[:20]
    return cache_dir() / "sketch-index" / f"{key}.pt"


@dataclass
class IndexStats:
    """What the last :func:`index_gallery` call did."""

    indexed: int = 0  # photos in the index now
    added: int = 0  # described in this call (new or changed)
    reused: int = 0  # taken unchanged from the cached index
    removed: int = 0  # dropped (file gone)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (relative path, why)
    seconds: float = 0.0


@dataclass
class IndexEntry:
    """One indexed photo: its path relative to the gallery, the stamp that says it is unchanged
    (size, modification time), its edge map's shape and packed bits, and its description."""

    rel: str
    size: int
    mtime_ns: int
    shape: tuple[int, int]
    edges: np.ndarray  # packed bits of the edge map
    desc: Description


def _pack(entry: IndexEntry) -> dict:
    return {"rel": entry.rel, "size": entry.size, "mtime_ns": entry.mtime_ns, "shape": list(entry.shape)}


def save_index(path: Path, index: GalleryIndex, skipped: dict[str, dict]) -> None:
    """Write ``index`` (and the files it ``skipped``, with why) to ``path``, atomically."""
    entries = index.entries
    blob = {
        "kind": INDEX_KIND,
        "format_version": INDEX_VERSION,
        "root": str(index.root.resolve()),
        "key": index.config.index_key(index.method, index.precision),
        "entries": [_pack(e) for e in entries],
        "skipped": skipped,
        "edges": [torch.from_numpy(e.edges) for e in entries],
        "cnn": torch.from_numpy(index.cnn).half(),
        "cnn_mirror": torch.from_numpy(index.cnn_mirror).half(),
        "hog": torch.from_numpy(index.hog).half(),
        "chamfer": torch.from_numpy(np.round(index.chamfer * 8).astype(np.uint8)) if entries else torch.zeros(0),
        "samples": torch.from_numpy(index.samples.astype(np.uint8)),
        "embed": torch.from_numpy(index.embed).half(),
    }
    buf = io.BytesIO()
    torch.save(blob, buf)
    try:
        with atomic_open(path, "wb") as fh:
            fh.write(buf.getvalue())
    except OSError as exc:
        raise UserError(f"cannot write the gallery index {path} ({exc.strerror or exc})") from None


def as_stored(desc: Description) -> Description:
    """``desc`` at the precision the index file keeps (float16 features, 1/8-pixel distances),
    so a fresh index and a loaded one rank alike."""
    return Description(
        cnn=desc.cnn.astype(np.float16).astype(np.float32),
        cnn_mirror=desc.cnn_mirror.astype(np.float16).astype(np.float32),
        hog=desc.hog.astype(np.float16).astype(np.float32),
        chamfer=np.round(desc.chamfer * 8) / 8,
        samples=desc.samples,
        embed=None if desc.embed is None else desc.embed.astype(np.float16).astype(np.float32),
    )


def load_index(
    path: Path, root: Path, key: dict, notify: Notify | None = None
) -> tuple[dict[str, IndexEntry], dict[str, dict]]:
    """Entries of a cached index that matches ``root`` and ``key``; empty when there is none or it
    was made by other settings (rebuilt quietly), or when it is damaged: wrong shapes, NaN, an
    unreadable file (rebuilt, with a warning through ``notify``)."""
    if not path.is_file():
        return {}, {}
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(blob, dict) or blob.get("kind") != INDEX_KIND:
            raise ValueError("it is not a neuroplay sketch index")
        if (blob.get("format_version"), blob.get("root"), blob.get("key")) != (INDEX_VERSION, str(root.resolve()), key):
            return {}, {}  # made by another version, for another folder or with other settings
        cnn, cnn_m, hogs = blob["cnn"].float().numpy(), blob["cnn_mirror"].float().numpy(), blob["hog"].float().numpy()
        cham = blob["chamfer"].numpy().astype(np.float32) / 8.0
        samples = blob["samples"].numpy()
        embed = blob["embed"].float().numpy()
        n = len(blob["entries"])
        if any(len(a) != n for a in (cnn, cnn_m, hogs, cham, samples, embed, blob["edges"])):
            raise ValueError("its tables have different lengths")
        if embed.ndim != 2 or (n and embed.shape[1] != FEATURES):
            raise ValueError(f"its embedding features have shape {tuple(embed.shape)}")
        if not all(np.isfinite(a).all() for a in (cnn, cnn_m, hogs, embed)):
            raise ValueError("it holds NaN or infinite numbers")
        entries = {}
        for i, meta in enumerate(blob["entries"]):
            desc = Description(cnn[i], cnn_m[i], hogs[i], cham[i], samples[i], embed=embed[i])
            stamp = (int(meta["size"]), int(meta["mtime_ns"]), tuple(meta["shape"]))
            entries[meta["rel"]] = IndexEntry(meta["rel"], *stamp, blob["edges"][i].numpy(), desc)
        return entries, dict(blob.get("skipped") or {})
    except Exception as exc:  # a damaged or foreign file: rebuild rather than fail
        why = str(exc) if isinstance(exc, ValueError) else f"unreadable ({type(exc).__name__})"
        runtime.notify(notify, f"the cached index {path} is damaged ({why}); rebuilding it")
        return {}, {}
