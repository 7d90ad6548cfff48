"""Sketch-based image retrieval: find the photos in a gallery folder that a line drawing depicts.

The retrieval API: :func:`index_gallery` builds (or brings up to date) a gallery's
:class:`GalleryIndex`, whose :meth:`~GalleryIndex.search` ranks its photos for a sketch.

Indexing (once per gallery, cached, updated when files change) turns every photo into a
one-pixel edge map (:mod:`~neuroplay.vision.sketch.lines`, with HED or Canny) at ``edge_size`` and
describes it in a *normalised frame*: the square around the edges' robust bounding box (2nd to
98th percentile of the edge pixels, plus a margin), so a sketch drawn small, large or off-centre
lands in the same frame as the photo's object. A sketch is binarised and thinned to the same kind
of edge map and described the same way. Three descriptors compare them:

- ``cnn``: ImageNet VGG16 features of the edge map drawn as black lines on white, 96×96
  (``relu3_3`` and ``relu4_3``, averaged over a 3×3 grid, square-rooted, each L2-normalised);
  cosine similarity. The gallery keeps the features of the mirrored edge map too, so a query
  needs one forward pass.
- ``hog``: histogram of oriented gradients (scikit-image) of the blurred frame; cosine similarity.
- ``chamfer``: oriented chamfer distance on a 64×64 frame: for each sketch pixel the distance to
  the nearest photo edge of similar orientation (6 bins, each admitting its neighbours),
  truncated at 1/4 of the frame, plus half the same from photo to sketch (photos hold clutter a
  sketch leaves out); precomputed distance transforms make it a gather, done on a shortlist.

Scores are z-normalised per descriptor (``cnn`` and ``hog`` over the whole gallery, ``chamfer``
over the shortlist of the ``shortlist`` best by the first two) and summed with
:class:`RetrievalConfig` weights; each photo is scored against the sketch and its mirror image,
keeping the better. The weights are equal (1, 1, 1): on the harness ``benchmarks/sbir_eval.py``
(its tuning seeds 0-1, 138 pictures) equal weights were the best of a grid of cnn 0-1 × hog
0.5-1.5 × chamfer 0.5-2; leaving the CNN out cost 8-10 points of Recall@1 on the hard sketches,
although alone it is the weakest of the three.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from neuroplay.common import runtime
from neuroplay.common.errors import UserError
from neuroplay.common.runtime import Notify, resolve_device
from neuroplay.vision.sketch.config import TOP_K, RetrievalConfig
from neuroplay.vision.sketch.descriptors import SAMPLES, Description, describe, mirror_bins
from neuroplay.vision.sketch.edges import resolve_method
from neuroplay.vision.sketch.embedding import (
    FEATURES,
    LINE_SIZE,
    SketchEmbedding,
    lines_frame,
    photo_encoder,
    photo_frame,
    resolve_embedding,
)
from neuroplay.vision.sketch.index import (
    IMAGE_SUFFIXES,
    MIN_SIDE,
    IndexEntry,
    IndexStats,
    as_stored,
    default_index_path,
    gallery_files,
    load_index,
    save_index,
)
from neuroplay.vision.sketch.lines import photo_edges, sketch_edges

Progress = Callable[[int, int, str], None]  # (done, total, current file)


class Hit(NamedTuple):
    """One search result: the photo, its fused score (higher is better), whether the mirrored
    sketch matched better, and each descriptor's z-score."""

    path: Path
    score: float
    mirrored: bool
    scores: dict[str, float]


class GalleryIndex:
    """The described photos of one gallery folder, ready to search.

    Build or update it with :func:`index_gallery`; :meth:`search` ranks the photos for a sketch;
    :meth:`edge_map` gives a photo's one-pixel edge map (longer side ``config.edge_size``).
    """

    def __init__(
        self,
        root: Path,
        config: RetrievalConfig,
        method: str,
        entries: list[IndexEntry],
        device: torch.device | str,
        precision: str = "fp32",
        model: SketchEmbedding | None = None,
    ):
        self.root, self.config, self.method, self.device = root, config, method, device
        self.precision = precision  # HED's, as the photos were described
        self.model = model  # the learned sketch-photo embedding fused into the scores (None: descriptors only)
        self.entries = entries  # one per photo, in index order
        self.stats = IndexStats(indexed=len(entries))
        self._stack()

    def _stack(self) -> None:
        d = [e.desc for e in self.entries]
        dims = (0, 0)
        if d:
            dims = (d[0].cnn.shape[0], d[0].hog.shape[0])
        self.cnn = np.stack([x.cnn for x in d]) if d else np.zeros((0, dims[0]), np.float32)
        self.cnn_mirror = np.stack([x.cnn_mirror for x in d]) if d else self.cnn
        self.hog = np.stack([x.hog for x in d]) if d else np.zeros((0, dims[1]), np.float32)
        self.chamfer = np.stack([x.chamfer for x in d]) if d else np.zeros((0,), np.float32)
        self.samples = np.stack([x.samples for x in d]).astype(np.int64) if d else np.zeros((0, SAMPLES, 3), np.int64)
        self.embed = np.stack([x.embed for x in d]) if d else np.zeros((0, FEATURES), np.float32)
        self._embedded: tuple[SketchEmbedding, torch.Tensor] | None = None  # the photos through self.model

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def paths(self) -> list[Path]:
        """The indexed photos, in index order."""
        return [self.root / e.rel for e in self.entries]

    def edge_map(self, path: str | os.PathLike[str]) -> np.ndarray:
        """The one-pixel edge map (``H×W`` bool, longer side ``edge_size`` or the photo's own if
        smaller) of an indexed photo, by absolute path or path relative to the gallery."""
        path = Path(path)
        for entry in self.entries:
            if path == self.root / entry.rel or (not path.is_absolute() and str(path) == entry.rel):
                count = entry.shape[0] * entry.shape[1]
                return np.unpackbits(entry.edges, count=count).reshape(entry.shape).astype(bool)
        raise UserError(f"{path} is not in the index of {self.root}")

    # -- search --

    def describe_sketch(self, sketch: np.ndarray | torch.Tensor) -> Description:
        """The sketch's lines, described as the photos are (the CNN without a mirrored pass, and not
        at all when the configuration gives it no weight), with its embedding features as drawn
        and mirrored when the index has a model."""
        cfg = self.config
        lines = sketch_edges(sketch, cfg.edge_size)
        desc = describe(lines, cfg, self.device, mirror_cnn=False, cnn=cfg.weight_cnn > 0, precision=self.precision)
        if self.model is not None:  # as drawn only: the embedding's score serves both views
            frame = lines_frame(lines if cfg.edge_size == LINE_SIZE else sketch_edges(sketch, LINE_SIZE))
            desc.embed = photo_encoder(self.device, self.precision).drawings([frame])[0]
        return desc

    def photo_embeddings(self) -> torch.Tensor:
        """``N×dim``: every photo through :attr:`model`, computed once per model."""
        if self._embedded is None or self._embedded[0] is not self.model:
            self._embedded = (self.model, self.model.embed(self.embed))
        return self._embedded[1]

    def search(self, sketch: np.ndarray | torch.Tensor | Description, k: int = TOP_K) -> list[Hit]:
        """The ``k`` photos that best match ``sketch`` (gray/RGB array or tensor, dark lines on
        light paper, or a :meth:`describe_sketch` result), best first."""
        if k < 1:
            raise UserError(f"k must be at least 1, got {k}")
        if len(self) == 0:
            raise UserError(f"the gallery {self.root} holds no usable images")
        cfg = self.config
        query = sketch if isinstance(sketch, Description) else self.describe_sketch(sketch)
        views = 2 if cfg.mirror else 1
        # rows: view (0 as drawn, 1 mirrored); the mirrored sketch against a photo equals the
        # sketch against the mirrored photo, which is what the gallery keeps for the CNN
        if query.cnn.size:
            cnn = _dots([self.cnn, self.cnn_mirror], [query.cnn, query.cnn])[:views]
        else:  # described without the CNN
            cnn = np.zeros((views, len(self)))
        hogs = _dots([self.hog, self.hog], [query.hog, query.hog_mirror])[:views]
        partial = cfg.weight_cnn * _z(cnn) + cfg.weight_hog * _z(hogs)
        z_learned = np.zeros((views, len(self)))
        if self.model is not None and query.embed is not None:
            # one score per photo for both views: pooled VGG features hardly change when a picture
            # is mirrored, and a mirrored pass measured no better (BENCHMARKS.md)
            z_learned = np.repeat(_z(self.model.cosines(self.photo_embeddings()[:, None], query.embed)), views, 0)
            partial = partial + self.model.fusion * z_learned
        penalty = np.array([0.0, cfg.mirror_penalty])[:views, None]  # in z units, off the mirrored view
        partial = partial - penalty
        best_partial = partial.max(axis=0)
        n_short = min(len(self), max(cfg.shortlist, k))
        short = np.argpartition(-best_partial, n_short - 1)[:n_short] if n_short < len(self) else np.arange(len(self))
        cham = np.stack([self._chamfer(query, short, mirrored=bool(v)) for v in range(views)])
        fused = partial[:, short] + cfg.weight_chamfer * _z(-cham)
        view = fused.argmax(axis=0)
        score = fused[view, np.arange(len(short))]
        order = np.argsort(-score, kind="stable")[:k]
        z_cnn, z_hog, z_cham = _z(cnn), _z(hogs), _z(-cham)
        hits = []
        for j in order:
            i, v = short[j], view[j]
            parts = {"cnn": float(z_cnn[v, i]), "hog": float(z_hog[v, i]), "chamfer": float(z_cham[v, j])}
            if self.model is not None:
                parts["embedding"] = float(z_learned[v, i])
            hits.append(Hit(self.root / self.entries[i].rel, float(score[j]), bool(v), parts))
        return hits

    def _chamfer(self, query: Description, items: np.ndarray, mirrored: bool) -> np.ndarray:
        """Oriented chamfer cost of the sketch (mirrored or not) against photos ``items`` (lower is better)."""
        cfg = self.config
        bins_map, sketch_maps = query.bins_map, query.chamfer
        if mirrored:  # bin b of the mirror image is bin -b of the sketch, flipped left-right
            bins_map = mirror_bins(bins_map, cfg.bins)
            sketch_maps = sketch_maps[(-np.arange(cfg.bins)) % cfg.bins, :, ::-1]
        ys, xs = np.nonzero(bins_map >= 0)
        truncate = cfg.frame / 4
        if len(ys) == 0:
            return np.ones(len(items))
        if len(ys) > 400:  # plenty for a mean; keeps the gather small
            keep = np.linspace(0, len(ys) - 1, 400).astype(np.int64)
            ys, xs = ys[keep], xs[keep]
        bs = bins_map[ys, xs]
        to_photo = self.chamfer[items[:, None], bs, ys, xs].mean(axis=1) / truncate
        pts = self.samples[items]  # K×SAMPLES×3
        to_sketch = sketch_maps[pts[..., 2], pts[..., 0], pts[..., 1]].mean(axis=1) / truncate
        return to_photo + 0.5 * to_sketch


def _dots(tables: list[np.ndarray], vectors: list[np.ndarray]) -> np.ndarray:
    """``len(tables)×N``: each ``N×D`` table times its vector, computed by torch: numpy's BLAS
    threads would keep spinning after it and halve the speed of the VGG pass of the next query."""
    pairs = zip(tables, vectors, strict=True)
    return torch.stack([torch.from_numpy(t) @ torch.from_numpy(v) for t, v in pairs]).numpy()


def _z(scores: np.ndarray) -> np.ndarray:
    """Scores standardised over all their entries (every photo, both views); flat scores give zeros."""
    spread = scores.std()
    return (scores - scores.mean()) / spread if spread > 1e-9 else np.zeros_like(scores)


def index_gallery(
    gallery: str | os.PathLike[str],
    config: RetrievalConfig | None = None,
    device: str = "auto",
    index_path: str | os.PathLike[str] | None = None,
    notify: Notify | None = None,
    progress: Progress | None = None,
) -> GalleryIndex:
    """Index the photos under ``gallery`` (recursively), reusing the cached index where it can.

    A photo whose size and modification time are unchanged keeps its cached description; new or
    changed files are described, removed ones dropped. Unreadable or too small files are skipped
    with a warning (through ``notify``, else a :class:`RuntimeWarning`), not an error. The index is
    saved to ``index_path`` (default :func:`default_index_path`). A missing gallery, or one with
    no usable image, is a :class:`UserError`. ``device`` (``auto``, ``cpu`` or ``cuda``) runs HED
    and the CNN.
    """
    from neuroplay.vision.image import load_image

    start = time.perf_counter()
    config = config or RetrievalConfig()
    device = resolve_device(device)
    root = Path(gallery)
    files = gallery_files(root)
    if not files:
        raise UserError(f"the gallery {root} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    model = resolve_embedding(config.embedding)  # a bad model file is refused before any indexing
    method = resolve_method(config.edges, notify)
    precision = runtime.resolve_precision(config.precision, device)
    key = config.index_key(method, precision)
    path = Path(index_path) if index_path is not None else default_index_path(root)
    cached, cached_skips = load_index(path, root, key, notify)
    entries, skipped, stats = [], {}, IndexStats()
    for n, file in enumerate(files):
        rel = file.relative_to(root).as_posix()
        if progress:
            progress(n, len(files), rel)
        try:
            st = file.stat()
        except OSError as exc:  # vanished or unreadable since the folder was listed
            skipped[rel] = {"size": -1, "mtime_ns": -1, "why": f"cannot read it ({exc.strerror or exc})"}
            continue
        old = cached.get(rel)
        if old is not None and (old.size, old.mtime_ns) == (st.st_size, st.st_mtime_ns):
            entries.append(old)
            stats.reused += 1
            continue
        bad = cached_skips.get(rel)
        if bad is not None and (bad["size"], bad["mtime_ns"]) == (st.st_size, st.st_mtime_ns):
            skipped[rel] = bad
            continue
        try:
            image = load_image(file)
            if min(image.shape[-2:]) < MIN_SIDE:
                raise UserError(f"{file} is smaller than {MIN_SIDE}×{MIN_SIDE} pixels")
        except UserError as exc:
            skipped[rel] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "why": str(exc)}
            continue
        edges = photo_edges(image, config, method, device, precision)
        desc = describe(edges, config, device, precision=precision)
        desc.embed = photo_encoder(device, precision).photos([photo_frame(image)], mirror=False)[0, 0]
        desc = as_stored(desc)
        entries.append(IndexEntry(rel, st.st_size, st.st_mtime_ns, edges.shape, np.packbits(edges), desc))
        stats.added += 1
    if progress:
        progress(len(files), len(files), "")
    stats.removed = len(set(cached) - {e.rel for e in entries})
    for rel, bad in skipped.items():
        runtime.notify(notify, f"skipped {rel}: {bad['why']}")
    stats.skipped = [(rel, bad["why"]) for rel, bad in skipped.items()]
    if not entries:
        raise UserError(f"the gallery {root} holds no usable images ({len(skipped)} unreadable)")
    index = GalleryIndex(root, config, method, entries, device, precision, model)
    if stats.added or stats.removed or set(skipped) != set(cached_skips) or not path.is_file():
        save_index(path, index, skipped)
    stats.indexed = len(entries)
    stats.seconds = time.perf_counter() - start
    index.stats = stats
    return index
