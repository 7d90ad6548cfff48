"""The settings of sketch retrieval and sketch colouring, as frozen dataclasses.

Kept apart from the algorithms so that a front end (the CLI, the studio) can read every default
and validate every value without importing torch: nothing here imports more than the standard
library and the torch-free :mod:`neuroplay.common` helpers (errors, bounds, runtime names).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from neuroplay.common.bounds import in_range
from neuroplay.common.errors import check
from neuroplay.common.runtime import PRECISIONS

if TYPE_CHECKING:
    from neuroplay.vision.style import StyleConfig

TOP_K = 5  # photos a search returns unless asked for another number
MIN_SIZE, MAX_SIZE = 64, 2048  # longest side of a colourised drawing


@dataclass(frozen=True)
class RetrievalConfig:
    """How photos and sketches are described and scored.

    ``edge_size`` (longer side for edge detection), ``edges`` (``auto``/``hed``/``canny``),
    ``frame`` (HOG and chamfer frame side), ``cnn_size`` (CNN frame side), ``bins``
    (orientation bins) and ``precision`` (of HED: ``auto`` is bf16 where the hardware computes it
    natively, 1.6× faster here, with 99.7% of the edge pixels the same) shape the index: changing
    one rebuilds it. The rest act at search time. ``mirror_penalty`` is taken off the fused score
    of the mirrored sketch, so the mirror image wins only where it matches clearly better than the
    drawing as drawn (people mostly draw an object the way they saw it; chosen on the tuning
    categories of ``benchmarks/sbir_real.py``). ``embedding`` is the learned sketch-photo
    embedding fused into the scores (``builtin``, ``none`` or a model file from
    ``neuroplay sketch train``; :mod:`~neuroplay.vision.sketch.embedding`).
    """

    edge_size: int = 256
    edges: str = "auto"
    frame: int = 64
    cnn_size: int = 96
    bins: int = 6
    weight_cnn: float = 1.0
    weight_hog: float = 1.0
    weight_chamfer: float = 1.0
    shortlist: int = 20
    mirror: bool = True
    mirror_penalty: float = 1.0
    precision: str = "auto"
    embedding: str = "builtin"

    def __post_init__(self) -> None:
        check(32 <= self.edge_size <= 2048, f"edge size must be 32..2048 pixels, got {self.edge_size}")
        check(self.edges in ("auto", "hed", "canny"), f"edges must be auto, hed or canny, not {self.edges!r}")
        check(
            16 <= self.frame <= 255 and self.frame % 8 == 0,
            f"frame must be a multiple of 8 in 16..248, got {self.frame}",
        )
        check(32 <= self.cnn_size <= 512, f"cnn size must be 32..512 pixels, got {self.cnn_size}")
        check(2 <= self.bins <= 16, f"orientation bins must be 2..16, got {self.bins}")
        weights = (self.weight_cnn, self.weight_hog, self.weight_chamfer)
        check(
            all(math.isfinite(w) and w >= 0 for w in weights) and sum(weights) > 0,
            "descriptor weights must be non-negative and not all zero",
        )
        check(self.shortlist >= 1, f"shortlist must be at least 1, got {self.shortlist}")
        in_range("mirror penalty", self.mirror_penalty, 0.0, 100.0)
        check(self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")

    def index_key(self, method: str, precision: str = "fp32") -> dict:
        """What an index depends on (``method``: the edge detector; ``precision``: HED's, resolved):
        a cached index made with another key is rebuilt."""
        from neuroplay.vision.sketch.descriptors import CNNEncoder  # torch: only once indexing starts
        from neuroplay.vision.sketch.embedding import SIGNATURE

        return {
            "edge_size": self.edge_size,
            "edges": method,
            "frame": self.frame,
            "cnn_size": self.cnn_size,
            "bins": self.bins,
            "cnn": CNNEncoder.signature,
            "precision": precision,
            "embedding": SIGNATURE,
        }


@dataclass(frozen=True)
class ColorizeConfig:
    """Settings of :func:`~neuroplay.vision.sketch.colorize.colorize`. ``size``: longest side of
    the output (the drawing's frame).

    ``iterations`` is per scale of the style transfer (coarse to fine, see
    :class:`~neuroplay.vision.style.StyleConfig`); the default keeps a 512 px run short because
    the content image already carries the colours and the style only adds texture.
    """

    size: int = 512
    parts: int = 6
    iterations: tuple[int, ...] | None = (40, 30, 12)
    style_weight: float = 1e5
    content_weight: float = 1.0
    style_size: int = 256  # longest side of each part's style image
    seed: int = 0
    device: str = "auto"
    threads: int | None = None

    def __post_init__(self) -> None:
        check(
            isinstance(self.size, int) and MIN_SIZE <= self.size <= MAX_SIZE,
            f"size must be {MIN_SIZE} to {MAX_SIZE} pixels, got {self.size!r}",
        )
        check(1 <= self.parts <= 32, f"parts must be 1 to 32, got {self.parts}")
        check(32 <= self.style_size <= 1024, f"style size must be 32 to 1024 pixels, got {self.style_size}")
        for name in ("style_weight", "content_weight"):
            value = getattr(self, name)
            check(
                math.isfinite(value) and value >= 0,
                f"{name.replace('_', ' ')} must be a non-negative number, got {value}",
            )
        if self.iterations is not None:
            its = tuple(int(i) for i in self.iterations)
            check(bool(its) and min(its) >= 1, f"iterations must be positive, got {its}")
            object.__setattr__(self, "iterations", its)

    def style_config(self) -> StyleConfig:
        """The style transfer's settings: one scale per iteration count, halving down to ``size``."""
        from neuroplay.vision.style import StyleConfig

        scales = None
        if self.iterations is not None:  # as many scales as iteration counts, halving down to the output
            scales = tuple(max(32, self.size >> k) for k in range(len(self.iterations)))[::-1]
            scales = tuple(sorted(set(scales)))
        iterations = None if self.iterations is None else self.iterations[-len(scales) :]
        return StyleConfig(
            size=self.size,
            scales=scales,
            iterations=iterations,
            style_weight=self.style_weight,
            content_weight=self.content_weight,
            init="image",
            seed=self.seed,
            device=self.device,
            threads=self.threads,
        )


@dataclass(frozen=True)
class EmbeddingConfig:
    """Settings of :func:`~neuroplay.vision.sketch.embedding_train.train_embedding`.

    ``dim``: size of the embedding; ``augmentations``: redrawings of each drawing (strokes left
    out, wobble, thickness, part missing, scale and position) besides the drawing itself;
    ``holdout``: share of photo groups kept out for validation; ``fusion``: the weight the
    embedding's z-scored cosine gets beside the descriptors' in a search. The defaults are those
    of the built-in model (its model card has the measurements that chose them).
    """

    dim: int = 128
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-2
    dropout: float = 0.5
    temperature: float = 0.1
    augmentations: int = 3
    holdout: float = 0.1
    fusion: float = 2.0
    seed: int = 0

    def __post_init__(self) -> None:
        check(isinstance(self.dim, int) and 2 <= self.dim <= 1024, f"dim must be 2 to 1024, got {self.dim!r}")
        check(
            isinstance(self.epochs, int) and 1 <= self.epochs <= 10_000,
            f"epochs must be 1 to 10000, got {self.epochs!r}",
        )
        check(
            isinstance(self.batch_size, int) and 2 <= self.batch_size <= 4096,
            f"batch size must be 2 to 4096, got {self.batch_size!r}",
        )
        check(
            isinstance(self.augmentations, int) and 0 <= self.augmentations <= 32,
            f"augmentations must be 0 to 32, got {self.augmentations!r}",
        )
        for name, low, high in (
            ("lr", 1e-7, 1.0),
            ("weight_decay", 0.0, 10.0),
            ("dropout", 0.0, 0.95),
            ("temperature", 1e-3, 10.0),
            ("holdout", 0.0, 0.5),
            ("fusion", 0.0, 100.0),
        ):
            value = getattr(self, name)
            check(
                isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high,
                f"{name.replace('_', ' ')} must be {low:g} to {high:g}, got {value!r}",
            )
        check(
            isinstance(self.seed, int) and 0 <= self.seed < 2**32,
            f"seed must be 0 to 2**32-1, got {self.seed!r}",
        )
