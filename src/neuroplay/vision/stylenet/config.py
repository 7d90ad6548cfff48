"""The settings of a style network's training and of applying one, and the records they hand back.

Light (no torch import), so the command line reads every default from here. :class:`TrainConfig`
holds the loss settings of ``neuroplay style`` (the same layers and weights by default: one
perceptual loss in the project) plus the network's shape and the training budget;
:meth:`TrainConfig.loss_config` turns them into the :class:`~neuroplay.vision.style_config.StyleConfig`
whose :class:`~neuroplay.vision.style_loss.Objective` the training minimises.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from neuroplay.common.bounds import SEED_MAX, THREADS_MAX, in_range
from neuroplay.common.errors import check
from neuroplay.common.runtime import DEVICES, PRECISIONS
from neuroplay.common.settings import RunSettings
from neuroplay.vision.style_config import CONTENT_LAYERS, STYLE_LAYERS, StyleConfig

if TYPE_CHECKING:
    import torch

MAX_STEPS = 10_000_000
MAX_WIDTH = 512
MAX_BLOCKS = 32
MAX_SIDE = 8192  # of an image a network is applied to, and of the style target


@dataclass(frozen=True)
class TrainConfig(RunSettings):
    """Every setting of one style network's training run.

    The CPU defaults train a usable network on a 2-core laptop CPU in under half an hour
    (BENCHMARKS.md): 128 px crops, batches of 4, 800 steps. On a GPU raise ``crop`` (256, as
    Johnson et al.) and ``steps`` (10k-40k).
    """

    steps: int = 800
    batch_size: int = 4
    crop: int = 128  # side of the square content crops trained on
    style_size: int = 512  # longest side of the style image for its Gram targets: strokes as at 512 px
    learning_rate: float = 2e-3
    content_weight: float = 1.0
    style_weight: float = 1e5
    tv_weight: float = 0.0
    content_layers: tuple[str, ...] = CONTENT_LAYERS
    style_layers: tuple[str, ...] = STYLE_LAYERS
    widths: tuple[int, int, int] = (16, 32, 64)
    blocks: int = 5
    precision: str = "auto"  # of the VGG loss network: bf16 where the hardware has it
    network: str = "vgg16"
    pooling: str = "max"
    preview_every: int = 100  # steps between preview images (0: never)
    checkpoint_every: int = 100  # steps between checkpoints (0: only at the end and on Ctrl-C)
    seed: int = 0
    device: str = "auto"
    threads: int | None = None

    RESUMABLE = frozenset({"steps", "preview_every", "checkpoint_every", "device", "threads"})
    WHAT = "style network training"

    def __post_init__(self) -> None:
        in_range("steps", self.steps, 1, MAX_STEPS)
        in_range("batch size", self.batch_size, 1, 256)
        in_range("crop", self.crop, 32, 2048)
        in_range("style size", self.style_size, 32, MAX_SIDE)
        in_range("learning rate", self.learning_rate, 0.0, 1.0, open_lo=True)
        widths = tuple(self.widths)
        object.__setattr__(self, "widths", widths)
        check(len(widths) == 3, f"widths must be three channel counts, got {widths!r}")
        for w in widths:
            in_range("widths", w, 1, MAX_WIDTH)
        in_range("blocks", self.blocks, 0, MAX_BLOCKS)
        in_range("preview every", self.preview_every, 0, MAX_STEPS)
        in_range("checkpoint every", self.checkpoint_every, 0, MAX_STEPS)
        check(self.device in DEVICES, f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        check(self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        in_range("seed", self.seed, 0, SEED_MAX)
        in_range("threads", self.threads, 1, THREADS_MAX)
        object.__setattr__(self, "content_layers", tuple(self.content_layers))
        object.__setattr__(self, "style_layers", tuple(self.style_layers))
        self.loss_config()  # the loss settings are checked where neuroplay style checks them

    def loss_config(self) -> StyleConfig:
        """The perceptual loss as ``neuroplay style`` defines it, with these layers and weights."""
        return StyleConfig(
            content_layers=self.content_layers,
            style_layers=self.style_layers,
            content_weight=self.content_weight,
            style_weight=self.style_weight,
            tv_weight=self.tv_weight,
            precision=self.precision,
            network=self.network,
            pooling=self.pooling,
            device=self.device,
        )

    def as_dict(self) -> dict[str, Any]:
        """Every setting as plain JSON-ready values."""
        return asdict(self)


@dataclass(frozen=True)
class ApplyConfig:
    """How a network is applied: ``size`` (longest side; ``None``: each input's own), colours, video."""

    size: int | None = None
    original_colors: bool = False
    deflicker: float = 0.0  # video: 0 off; up to 0.95, how much of the last output a still pixel keeps
    precision: str = "auto"  # fp32, bf16, or auto: bf16 where the hardware has it (2.6× faster here, ~1/255)
    device: str = "auto"
    threads: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        in_range("size", self.size, 16, MAX_SIDE)
        in_range("deflicker", self.deflicker, 0.0, 0.95)
        check(self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        check(self.device in DEVICES, f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        in_range("threads", self.threads, 1, THREADS_MAX)
        in_range("seed", self.seed, 0, SEED_MAX)


@dataclass
class TrainStep:
    """What the training callback hears after each step (``preview``: every ``preview_every`` steps)."""

    step: int
    steps: int
    content_loss: float
    style_loss: float
    tv_loss: float
    total_loss: float
    seconds: float
    preview: torch.Tensor | None = None


@dataclass
class TrainResult:
    """The end of a training run: where the model went, its last losses, and whether it was stopped."""

    model_path: str
    run_dir: str
    steps: int
    seconds: float
    losses: dict[str, float]
    interrupted: bool = False
    history: list[dict] = field(default_factory=list)
