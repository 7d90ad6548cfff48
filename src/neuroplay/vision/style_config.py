"""The settings of a style-transfer run and the records it hands back (no torch import).

:class:`StyleConfig` holds every setting and checks them on construction; :class:`Region` names
where a style goes; :class:`StyleStep` is what the progress callback hears and
:class:`StyleResult` what :func:`~neuroplay.vision.style.stylize` returns. Importing this module
costs no torch, so the command line reads the defaults at once: a dataclass's defaults are its
class attributes (``StyleConfig.size``). The network's layer names are looked up (importing
torch) only when a config is built.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from neuroplay.common.bounds import SEED_MAX, THREADS_MAX, in_range
from neuroplay.common.errors import check
from neuroplay.common.runtime import DEVICES, PRECISIONS

if TYPE_CHECKING:
    import torch

CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
INITS = ("content", "noise", "image")
OPTIMIZERS = ("lbfgs", "adam")
MIN_SIZE = 32  # relu5_1 needs 16 px; below 32 its maps are a pixel or two
MAX_SIZE = 8192
# the default schedule: scales halve from the output size down to at least this, with these
# iterations at the finest, second-finest, ... scale. Most of the time goes to the finest scale:
# measured at 512 px (BENCHMARKS.md), the upsampled coarse result starts the finest scale at a
# high loss whatever the coarse scales did, and 40 more coarse iterations (~11 s) bought less
# there than 11 more fine ones; the history size (20 or 100) made no difference.
COARSEST = 128
DEFAULT_ITERATIONS = (110, 20, 20)
LEARNING_RATES = {"lbfgs": 1.0, "adam": 0.02}
MAX_ITERATIONS = 100_000  # per scale: hours on a laptop CPU


def _number(value: float, what: str, positive: bool = False) -> None:
    ok = isinstance(value, int | float) and math.isfinite(value) and (value > 0 if positive else value >= 0)
    check(ok, f"{what} must be a {'positive' if positive else 'non-negative'} number, got {value!r}")
    in_range(what, value, 0.0, 1e15)  # far beyond any useful weight; keeps the weighted losses finite in float32


@dataclass(frozen=True)
class StyleConfig:
    """Every setting of a style-transfer run (images and masks are arguments of :func:`stylize`).

    Sizes are the longest side in pixels. ``scales`` runs coarse to fine and ends at ``size``
    (``None``: halve from ``size`` down to 128 px or more). ``iterations`` is one count per
    scale, or a single count for the last scale (coarser scales keep their defaults), or
    ``None`` for the default schedule.
    """

    size: int = 512
    scales: tuple[int, ...] | None = None
    iterations: int | tuple[int, ...] | None = None
    content_layers: tuple[str, ...] = CONTENT_LAYERS
    style_layers: tuple[str, ...] = STYLE_LAYERS
    content_weight: float = 1.0
    style_weight: float = 1e5
    tv_weight: float = 0.0
    style_scale: float = 1.0
    style_blend: tuple[float, ...] | None = None  # one weight per style; None: equal
    init: str = "content"
    optimizer: str = "lbfgs"
    learning_rate: float | None = None  # None: 1 for L-BFGS, 0.02 for Adam
    history_size: int = 20  # L-BFGS correction pairs
    precision: str = "auto"  # of the network: fp32, bf16, or auto (bf16 where the hardware has it)
    original_colors: bool = False
    luminance_only: bool = False
    match_colors: bool = False
    network: str = "vgg16"
    pooling: str = "max"
    seed: int = 0
    device: str = "auto"
    save_every: int = 0
    max_memory_gb: float | None = None  # None: what the machine has free
    threads: int | None = None  # torch CPU threads; None: torch's, at most the CPUs this process may use

    def __post_init__(self) -> None:
        from neuroplay.vision.features import POOLING, layer_names  # torch: only when a config is built

        check(isinstance(self.size, int) and MIN_SIZE <= self.size <= MAX_SIZE,
              f"size must be {MIN_SIZE} to {MAX_SIZE} pixels, got {self.size!r}")  # fmt: skip
        if self.scales is not None:
            scales = tuple(int(s) for s in self.scales)
            object.__setattr__(self, "scales", scales)
            check(len(scales) >= 1, "give at least one scale")
            check(all(MIN_SIZE <= s for s in scales), f"every scale must be at least {MIN_SIZE} pixels, got {scales}")
            check(all(a < b for a, b in zip(scales, scales[1:], strict=False)), f"scales must increase, got {scales}")
            check(scales[-1] == self.size, f"the last scale must be the output size {self.size}, got {scales}")
        if isinstance(self.iterations, tuple | list):
            its = tuple(int(i) for i in self.iterations)
            object.__setattr__(self, "iterations", its)
            for i in its:
                in_range("iterations", i, 1, MAX_ITERATIONS)
            check(len(its) == len(self.sizes), f"give one iteration count per scale {self.sizes}, got {its}")
        elif self.iterations is not None:
            check(isinstance(self.iterations, int), f"iterations must be a positive integer, got {self.iterations!r}")
            in_range("iterations", self.iterations, 1, MAX_ITERATIONS)
        names = layer_names(self.network)  # also rejects an unknown network
        for what in ("content_layers", "style_layers"):
            layers = tuple(getattr(self, what))
            object.__setattr__(self, what, layers)
            unknown = [name for name in layers if name not in names]
            check(not unknown, f"unknown {self.network} layer(s) {', '.join(unknown)}; choose from: {', '.join(names)}")
            check(len(set(layers)) == len(layers), f"{what.replace('_', ' ')} repeat a layer: {', '.join(layers)}")
        check(bool(self.content_layers) or self.content_weight == 0, "give a content layer or set content_weight 0")
        check(bool(self.style_layers) or self.style_weight == 0, "give a style layer or set style_weight 0")
        for what in ("content_weight", "style_weight", "tv_weight"):
            _number(getattr(self, what), what.replace("_", " "))
        check(self.content_weight + self.style_weight > 0, "content and style weight cannot both be 0")
        _number(self.style_scale, "style scale", positive=True)
        check(self.style_scale <= 8, f"style scale must be at most 8, got {self.style_scale}")
        if self.style_blend is not None:
            blend = tuple(float(w) for w in self.style_blend)
            object.__setattr__(self, "style_blend", blend)
            for w in blend:
                _number(w, "style blend weight")
            check(sum(blend) > 0, "style blend weights cannot all be 0")
        check(self.init in INITS, f"init must be one of {', '.join(INITS)}, not {self.init!r}")
        check(self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {self.optimizer!r}")
        if self.learning_rate is not None:
            _number(self.learning_rate, "learning rate", positive=True)
        check(isinstance(self.history_size, int), "history size must be an integer")
        in_range("history size", self.history_size, 1, 1000)
        check(not (self.luminance_only and self.match_colors),
              "luminance-only transfer ignores colour; it cannot be combined with colour matching")  # fmt: skip
        check(self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        check(self.pooling in POOLING, f"pooling must be one of {', '.join(POOLING)}, not {self.pooling!r}")
        check(self.device in DEVICES, f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        check(isinstance(self.save_every, int), "save-every must be an integer (0: never)")
        in_range("save-every", self.save_every, 0, MAX_ITERATIONS)
        in_range("max memory", self.max_memory_gb, 0.0, 1e6, open_lo=True)  # GB
        in_range("seed", self.seed, 0, SEED_MAX)
        in_range("threads", self.threads, 1, THREADS_MAX)

    @property
    def sizes(self) -> tuple[int, ...]:
        """The longest side of each scale, coarse to fine."""
        return self.scales if self.scales is not None else default_scales(self.size)

    def schedule(self) -> list[tuple[int, int]]:
        """``(longest side, iterations)`` of each scale, coarse to fine."""
        return iteration_schedule(self.sizes, self.iterations)

    @property
    def lr(self) -> float:
        """The optimiser's step size: ``learning_rate``, or the optimiser's default."""
        return self.learning_rate if self.learning_rate is not None else LEARNING_RATES[self.optimizer]

    def as_dict(self) -> dict:
        """Every setting as plain JSON-ready values, with the resolved schedule."""
        out = asdict(self)
        out["schedule"] = [list(step) for step in self.schedule()]
        return out


def default_scales(size: int) -> tuple[int, ...]:
    """Halve from ``size`` while the result stays at least :data:`COARSEST` px, at most 3 scales."""
    sizes = [size]
    while len(sizes) < len(DEFAULT_ITERATIONS) and sizes[0] // 2 >= COARSEST:
        sizes.insert(0, sizes[0] // 2)
    return tuple(sizes)


def iteration_schedule(
    sizes: tuple[int, ...], iterations: int | tuple[int, ...] | None = None
) -> list[tuple[int, int]]:
    """``(longest side, iterations)`` of each of ``sizes``: ``iterations`` as in :class:`StyleConfig`."""
    if isinstance(iterations, tuple):
        return list(zip(sizes, iterations, strict=True))
    defaults = [DEFAULT_ITERATIONS[min(i, len(DEFAULT_ITERATIONS) - 1)] for i in range(len(sizes))][::-1]
    if isinstance(iterations, int):
        defaults[-1] = iterations
    return list(zip(sizes, defaults, strict=True))


@dataclass(frozen=True)
class Region:
    """One region of a regional transfer: where it is and which style it gets.

    ``mask``: an ``H×W`` float tensor in [0, 1] (1 inside; soft edges allowed), at any size — it
    is resized to each scale and each layer. ``style``: an index into the ``styles`` given to
    :func:`stylize`, or ``None`` to keep the content there (no style loss in the region).
    """

    mask: torch.Tensor
    style: int | None


@dataclass
class StyleStep:
    """What the progress callback receives after each iteration."""

    iteration: int  # done so far, all scales together
    total_iterations: int
    scale: int  # index of the current scale
    size: tuple[int, int]  # (height, width) of the current scale
    content_loss: float
    style_loss: float
    tv_loss: float
    total_loss: float
    seconds: float  # since the start
    image: torch.Tensor | None = None  # the current image (CPU, colours applied) every save_every iterations


@dataclass
class StyleResult:
    """The output image (``1×3×H×W`` on the CPU, in [0, 1]), its loss terms and where the time went.

    The losses are the unweighted terms of the optimised image at the output size (before
    any colour post-processing).
    """

    image: torch.Tensor
    content_loss: float
    style_loss: float
    tv_loss: float
    total_loss: float
    iterations: int
    scales: list[tuple[int, int]]  # (height, width) of each scale
    timings: dict[str, float]  # "setup", "scale_0", ..., "total"
    history: list[dict] = field(default_factory=list)  # per iteration: scale, iteration, seconds, losses
    interrupted: bool = False  # stopped early by ``should_stop``: the image is the one reached so far
