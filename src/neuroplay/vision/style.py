"""Gatys style transfer: one optimisation of the output's pixels against VGG feature statistics.

The loss (the default, as in Gatys et al. and jcjohnson/neural-style)::

    content = Σ over content layers of  mean((F(x) - F(c))²)          F: that layer's features
    style   = Σ over style layers   of  mean((G(x) - G(s))²)          G = F·Fᵀ / (C·H·W)
    total   = content_weight·content + style_weight·style + tv_weight·tv
              (defaults: 1, 1e5, 0; tv = mean of squared neighbour differences)

Several styles are blended by mixing their target Grams with the blend weights (the same
gradients as a weighted sum of per-style losses). With :class:`Region` masks each region has
its own style (or none: it keeps the content) in one optimisation: at each layer the mask is
shrunk to the layer's size, the region's Gram is ``(F·m)(F·m)ᵀ / (C·Σm²)`` — normalised by the
region's own area, so it measures the region's texture whatever its size — and its loss is
weighted by the region's share of the image, so every pixel feels the same style strength as in
an unmasked run.

Optimisation runs coarse to fine over :attr:`StyleConfig.scales`: each scale starts from the
previous result upsampled, so the big structures are settled where evaluations are cheap and
the last (full) scale only refines. Target features and Grams are computed once per scale;
the network runs only as deep as the deepest layer used.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

import torch
import torch.nn.functional as F

from neuroplay.common.errors import UserError
from neuroplay.vision import color
from neuroplay.vision.features import POOLING, VGGFeatures, layer_channels, layer_names, layer_scale
from neuroplay.vision.image import resize, resize_longest, scaled_size

CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
INITS = ("content", "noise", "image")
OPTIMIZERS = ("lbfgs", "adam")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "float32", "bfloat16")
MIN_SIZE = 32  # relu5_1 needs 16 px; below 32 its maps are a pixel or two
MAX_SIZE = 8192
# the default schedule: scales halve from the output size down to at least this, with these
# iterations at the finest, second-finest, ... scale (measured: see BENCHMARKS.md)
COARSEST = 128
DEFAULT_ITERATIONS = (100, 40, 40)
LEARNING_RATES = {"lbfgs": 1.0, "adam": 0.02}


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
    precision: str = "auto"  # of the network: float32, bfloat16, or auto (bfloat16 where the hardware has it)
    original_colors: bool = False
    luminance_only: bool = False
    match_colors: bool = False
    network: str = "vgg16"
    pooling: str = "max"
    seed: int = 0
    device: str = "auto"
    save_every: int = 0
    max_memory_gb: float | None = None  # None: what the machine has free
    threads: int | None = None  # torch CPU threads; None: leave torch's setting

    def __post_init__(self) -> None:
        def need(cond: bool, msg: str) -> None:
            if not cond:
                raise UserError(msg)

        def number(value: float, what: str, positive: bool = False) -> None:
            ok = isinstance(value, int | float) and math.isfinite(value) and (value > 0 if positive else value >= 0)
            need(ok, f"{what} must be a {'positive' if positive else 'non-negative'} number, got {value!r}")

        need(isinstance(self.size, int) and MIN_SIZE <= self.size <= MAX_SIZE,
             f"size must be {MIN_SIZE} to {MAX_SIZE} pixels, got {self.size!r}")  # fmt: skip
        if self.scales is not None:
            scales = tuple(int(s) for s in self.scales)
            object.__setattr__(self, "scales", scales)
            need(len(scales) >= 1, "give at least one scale")
            need(all(MIN_SIZE <= s for s in scales), f"every scale must be at least {MIN_SIZE} pixels, got {scales}")
            need(all(a < b for a, b in zip(scales, scales[1:], strict=False)), f"scales must increase, got {scales}")
            need(scales[-1] == self.size, f"the last scale must be the output size {self.size}, got {scales}")
        if isinstance(self.iterations, tuple | list):
            its = tuple(int(i) for i in self.iterations)
            object.__setattr__(self, "iterations", its)
            need(all(i >= 1 for i in its), f"iterations must be positive, got {its}")
            need(len(its) == len(self.sizes), f"give one iteration count per scale {self.sizes}, got {its}")
        elif self.iterations is not None:
            need(isinstance(self.iterations, int) and self.iterations >= 1,
                 f"iterations must be a positive integer, got {self.iterations!r}")  # fmt: skip
        names = layer_names(self.network)  # also rejects an unknown network
        for what in ("content_layers", "style_layers"):
            layers = tuple(getattr(self, what))
            object.__setattr__(self, what, layers)
            unknown = [name for name in layers if name not in names]
            need(not unknown, f"unknown {self.network} layer(s) {', '.join(unknown)}; choose from: {', '.join(names)}")
            need(len(set(layers)) == len(layers), f"{what.replace('_', ' ')} repeat a layer: {', '.join(layers)}")
        need(bool(self.content_layers) or self.content_weight == 0, "give a content layer or set content_weight 0")
        need(bool(self.style_layers) or self.style_weight == 0, "give a style layer or set style_weight 0")
        for what in ("content_weight", "style_weight", "tv_weight"):
            number(getattr(self, what), what.replace("_", " "))
        need(self.content_weight + self.style_weight > 0, "content and style weight cannot both be 0")
        number(self.style_scale, "style scale", positive=True)
        need(self.style_scale <= 8, f"style scale must be at most 8, got {self.style_scale}")
        if self.style_blend is not None:
            blend = tuple(float(w) for w in self.style_blend)
            object.__setattr__(self, "style_blend", blend)
            for w in blend:
                number(w, "style blend weight")
            need(sum(blend) > 0, "style blend weights cannot all be 0")
        need(self.init in INITS, f"init must be one of {', '.join(INITS)}, not {self.init!r}")
        need(self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {self.optimizer!r}")
        if self.learning_rate is not None:
            number(self.learning_rate, "learning rate", positive=True)
        need(isinstance(self.history_size, int) and self.history_size >= 1, "history size must be >= 1")
        need(not (self.luminance_only and self.match_colors),
             "luminance-only transfer ignores colour; it cannot be combined with colour matching")  # fmt: skip
        need(self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        need(self.pooling in POOLING, f"pooling must be one of {', '.join(POOLING)}, not {self.pooling!r}")
        need(self.device in DEVICES, f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        need(isinstance(self.save_every, int) and self.save_every >= 0, "save-every must be >= 0 (0: never)")
        if self.max_memory_gb is not None:
            number(self.max_memory_gb, "max memory", positive=True)
        need(self.threads is None or self.threads >= 1, "threads must be >= 1")

    @property
    def sizes(self) -> tuple[int, ...]:
        """The longest side of each scale, coarse to fine."""
        return self.scales if self.scales is not None else default_scales(self.size)

    def schedule(self) -> list[tuple[int, int]]:
        """``(longest side, iterations)`` of each scale, coarse to fine."""
        sizes = self.sizes
        if isinstance(self.iterations, tuple):
            return list(zip(sizes, self.iterations, strict=True))
        defaults = [DEFAULT_ITERATIONS[min(i, len(DEFAULT_ITERATIONS) - 1)] for i in range(len(sizes))][::-1]
        if isinstance(self.iterations, int):
            defaults[-1] = self.iterations
        return list(zip(sizes, defaults, strict=True))

    @property
    def lr(self) -> float:
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


# --- the loss ---------------------------------------------------------------------------------


def gram(features: torch.Tensor) -> torch.Tensor:
    """``G = F·Fᵀ / (C·H·W)`` of ``N×C×H×W`` features, ``N×C×C``."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return torch.bmm(flat, flat.transpose(1, 2)) / (c * h * w)


def masked_gram(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The Gram of the region ``mask`` (``h×w`` in [0, 1], the features' size): ``(F·m)(F·m)ᵀ / (C·Σm²)``.

    Normalised by the region's area (not the image's), so a binary mask gives exactly the
    :func:`gram` of the region's features alone, whatever its size.
    """
    n, c, h, w = features.shape
    flat = (features * mask).reshape(n, c, h * w)
    area = (mask * mask).sum().clamp_min(1e-8)
    return torch.bmm(flat, flat.transpose(1, 2)) / (c * area)


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Total variation: mean squared difference of vertical plus of horizontal neighbours."""
    dy = image[..., 1:, :] - image[..., :-1, :]
    dx = image[..., :, 1:] - image[..., :, :-1]
    return dy.pow(2).mean() + dx.pow(2).mean()


def _layer_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Shrink an ``h×w`` mask to ``size`` by averaging (area), keeping its soft edges."""
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    return F.interpolate(mask[None, None], size=size, mode="area")[0, 0]


class Objective:
    """The loss at one size: targets computed once, then :meth:`terms` of any image of that size.

    ``content`` and ``styles`` are image tensors already at the sizes to use; ``regions`` as in
    :func:`stylize`. Runs ``net`` (a :class:`VGGFeatures` with every needed layer) once per target.
    """

    def __init__(
        self,
        net: VGGFeatures,
        config: StyleConfig,
        content: torch.Tensor,
        styles: Sequence[torch.Tensor],
        regions: Sequence[Region] | None = None,
    ):
        self.net, self.config = net, config
        self.bfloat16 = resolve_precision(config.precision, content.device) == "bfloat16"
        self.content_layers, self.style_layers = config.content_layers, config.style_layers
        with torch.no_grad():
            feats = net(content)
            self.content_targets = {name: feats[name].detach() for name in self.content_layers}
            shapes = {name: tuple(f.shape[-2:]) for name, f in feats.items()}
            grams = []
            for style in styles:
                sf = net(style)
                grams.append({name: gram(sf[name]) for name in self.style_layers})
                del sf
        self.regions: list[tuple[dict[str, torch.Tensor], dict[str, float], dict[str, torch.Tensor]]] = []
        if regions:
            size = tuple(content.shape[-2:])
            for region in regions:
                if region.style is None:
                    continue  # keeps the content: no style loss there
                mask = _layer_mask(region.mask.to(content.device, content.dtype), size)
                masks, shares = {}, {}
                for name in self.style_layers:
                    m = _layer_mask(mask, shapes[name])
                    masks[name] = m
                    shares[name] = float((m * m).mean())  # the region's share of the image
                self.regions.append((masks, shares, grams[region.style]))
            self.targets = {}
        else:
            weights = _blend(config.style_blend, len(styles))
            self.targets = {
                name: sum(w * g[name] for w, g in zip(weights, grams, strict=True)) for name in self.style_layers
            }

    def terms(self, image: torch.Tensor, exact: bool = False) -> dict[str, torch.Tensor]:
        """``{"content", "style", "tv", "total"}`` of ``image`` (scalar tensors, differentiable).

        ``exact``: run the network in float32 even where the config asks for bfloat16.
        """
        cfg = self.config
        with torch.autocast(image.device.type, torch.bfloat16, enabled=self.bfloat16 and not exact):
            feats = self.net(image)
        feats = {name: f.float() for name, f in feats.items()}  # Grams and losses in float32
        zero = image.new_zeros(())
        content = sum((F.mse_loss(feats[name], self.content_targets[name]) for name in self.content_layers), zero)
        style = zero
        for name in self.style_layers:
            if self.regions:
                for masks, shares, targets in self.regions:
                    g = masked_gram(feats[name], masks[name])
                    style = style + shares[name] * F.mse_loss(g, targets[name].expand_as(g))
            else:
                g = gram(feats[name])
                style = style + F.mse_loss(g, self.targets[name].expand_as(g))
        tv = tv_loss(image) if cfg.tv_weight > 0 else zero
        total = cfg.content_weight * content + cfg.style_weight * style + cfg.tv_weight * tv
        return {"content": content, "style": style, "tv": tv, "total": total}


def _blend(blend: tuple[float, ...] | None, n: int) -> list[float]:
    if blend is None:
        return [1.0 / n] * n
    if len(blend) != n:
        raise UserError(f"give one style blend weight per style ({n}), got {len(blend)}")
    total = sum(blend)
    return [w / total for w in blend]


def needed_layers(config: StyleConfig) -> tuple[str, ...]:
    """The content and style layers in network order (the network is cut after the last)."""
    wanted = set(config.content_layers) | set(config.style_layers)
    return tuple(name for name in layer_names(config.network) if name in wanted)


# --- memory -----------------------------------------------------------------------------------

BASE_BYTES = 450 * 2**20  # the Python process with torch loaded
BACKWARD_FACTOR = 2.2  # saved activations plus the gradients alive during the backward pass


def estimate_memory(height: int, width: int, config: StyleConfig, style_pixels: int | None = None) -> int:
    """Bytes a run whose last scale is ``height×width`` needs at its peak (an estimate, a little high).

    Counts the VGG activations up to the deepest layer used (forward and backward), the
    L-BFGS history, the network's weights and the process itself; ``style_pixels`` (default:
    the output's) sizes the one-off style forward pass.
    """
    names = layer_names(config.network)
    depth = max(names.index(name) for name in needed_layers(config)) + 1
    channels = layer_channels(config.network)
    act = weights = 0
    in_ch = 3
    for name in names[:depth]:
        h, w = height // layer_scale(name), width // layer_scale(name)
        c = channels[name]
        if name.startswith("conv"):
            act += c * h * w
            weights += c * in_ch * 9 + c
            in_ch = c
        elif name.startswith("pool"):
            act += c * h * w * (3 if config.pooling == "max" else 1)  # max pooling keeps int64 indices
    pixels = 3 * height * width
    lbfgs = (2 * config.history_size + 4) * pixels if config.optimizer == "lbfgs" else 3 * pixels
    style_pass = act * (style_pixels or height * width) / (height * width) * 0.5
    return int(4 * (BACKWARD_FACTOR * act + lbfgs + 8 * pixels + weights + style_pass) + BASE_BYTES)


def available_memory(device: torch.device) -> int | None:
    """Free memory on ``device`` in bytes (CUDA: the device's; CPU: MemAvailable), or None if unknown."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        return None


def check_memory(
    height: int, width: int, config: StyleConfig, device: torch.device, style_pixels: int | None = None
) -> int:
    """Raise :class:`UserError` (naming the largest size that fits) if the run would not fit; return the estimate."""
    need = estimate_memory(height, width, config, style_pixels)
    limit = config.max_memory_gb * 2**30 if config.max_memory_gb is not None else available_memory(device)
    if limit is None or need <= limit:
        return need
    longest, aspect = max(height, width), (height / max(height, width), width / max(height, width))
    lo, hi = 0, longest
    while hi - lo > 1:  # the largest longest side whose estimate fits
        mid = (lo + hi) // 2
        h, w = max(1, round(mid * aspect[0])), max(1, round(mid * aspect[1]))
        ratio = (style_pixels or height * width) / (height * width)
        if estimate_memory(h, w, config, int(ratio * h * w)) <= limit:
            lo = mid
        else:
            hi = mid
    where = "GPU memory free" if device.type == "cuda" else "memory available"
    source = "the --max-memory limit" if config.max_memory_gb is not None else where
    fits = f"the largest size that fits is about {lo} px (--size {lo})" if lo >= MIN_SIZE else "no size fits"
    raise UserError(
        f"a {width}×{height} output needs about {need / 2**30:.1f} GB but {source} is {limit / 2**30:.1f} GB; "
        f"{fits}, or raise the limit with --max-memory GB"
    )


# --- the optimisation -------------------------------------------------------------------------


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; asking for an absent CUDA is a :class:`UserError`."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda asked for, but no CUDA device is available")
    return torch.device(name)


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` -> ``bfloat16`` where the hardware computes it natively (CUDA with bfloat16
    support; a CPU with AVX512-BF16 or AMX), else ``float32``.

    On this project's 2-core AMD EPYC (Zen 4) a bfloat16 evaluation costs 0.55-0.6 of a float32
    one, and L-BFGS makes nearly the same progress per iteration (BENCHMARKS.md).
    """
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    return "bfloat16" if _cpu_has_bf16() else "float32"


@functools.cache
def _cpu_has_bf16() -> bool:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def _check_image(image: object, what: str) -> torch.Tensor:
    if not isinstance(image, torch.Tensor) or image.ndim != 4 or image.shape[:2] != (1, 3):
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise UserError(f"{what} must be a 1×3×H×W image tensor, got {shape}")
    if min(image.shape[-2:]) < 1 or not torch.isfinite(image).all():
        raise UserError(f"{what} is empty or holds non-finite values")
    return image.float()


def _check_regions(regions: Sequence[Region], n_styles: int) -> list[Region]:
    checked = []
    for i, region in enumerate(regions):
        mask = region.mask
        if not isinstance(mask, torch.Tensor) or mask.ndim != 2:
            raise UserError(f"region {i}: the mask must be an H×W tensor")
        mask = mask.float()
        if not torch.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
            raise UserError(f"region {i}: mask values must lie in [0, 1]")
        if region.style is not None and not (isinstance(region.style, int) and 0 <= region.style < n_styles):
            raise UserError(f"region {i} asks for style {region.style}, but there are {n_styles} style(s)")
        checked.append(Region(mask, region.style))
    if not any(r.style is not None and r.mask.sum() > 0 for r in checked):
        raise UserError("no region has a style and a non-empty mask")
    return checked


def _style_at(style: torch.Tensor, longest: int, config: StyleConfig) -> torch.Tensor:
    return resize_longest(style, max(MIN_SIZE // 2, round(config.style_scale * longest)))


def loss_terms(
    image: torch.Tensor,
    content: torch.Tensor,
    styles: Sequence[torch.Tensor],
    config: StyleConfig | None = None,
    regions: Sequence[Region] | None = None,
) -> dict[str, float]:
    """The loss terms (``content``, ``style``, ``tv``, ``total``) of ``image`` at its own size.

    ``content`` is resized to ``image``'s size and each style by ``config.style_scale`` (colour
    options are not applied): the scoring used to compare outputs with the same code.
    """
    config = replace(config or StyleConfig(), precision="float32")
    device = resolve_device(config.device)
    image = _check_image(image, "image").to(device)
    content = resize(_check_image(content, "content").to(device), tuple(image.shape[-2:]))
    longest = max(image.shape[-2:])
    styles_at = [_style_at(_check_image(s, "style").to(device), longest, config) for s in styles]
    net = VGGFeatures(needed_layers(config), config.network, config.pooling, device=device)
    with torch.no_grad():
        terms = Objective(net, config, content, styles_at, regions).terms(image)
    return {k: float(v) for k, v in terms.items()}


def _initial(config: StyleConfig, content: torch.Tensor, init_image: torch.Tensor | None) -> torch.Tensor:
    """The starting image at the first scale (``content`` is already at that size, RGB or luminance)."""
    if config.init == "content":
        return content.clone()
    if config.init == "noise":
        gen = torch.Generator().manual_seed(config.seed)
        return torch.rand(content.shape, generator=gen).to(content.device)
    if init_image is None:
        raise UserError("init 'image' needs an init image")
    start = resize(_check_image(init_image, "init image").to(content.device), tuple(content.shape[-2:]))
    return color.luminance(start) if content.shape[1] == 1 else start


def _optimiser(config: StyleConfig, x: torch.Tensor) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam([x], lr=config.lr)
    # one evaluation per iteration (no line search, as in neural-style); never stop early
    return torch.optim.LBFGS(
        [x], lr=config.lr, max_iter=1, history_size=config.history_size, tolerance_grad=-1.0, tolerance_change=-1.0
    )


def stylize(
    content: torch.Tensor,
    styles: torch.Tensor | Sequence[torch.Tensor],
    config: StyleConfig | None = None,
    *,
    regions: Sequence[Region] | None = None,
    init_image: torch.Tensor | None = None,
    callback: Callable[[StyleStep], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> StyleResult:
    """Render ``content`` in the style of ``styles`` (``1×3×H×W`` tensors in [0, 1], any sizes).

    The output has ``content``'s aspect with its longest side ``config.size``. Without
    ``regions`` the styles are blended by ``config.style_blend``; with them, each
    :class:`Region` gets its own style (or keeps the content), all in one optimisation.
    ``callback`` is called after every iteration with a :class:`StyleStep`; ``should_stop`` is
    polled after every iteration, and when it returns True the run ends there, returning the
    image reached so far with ``interrupted=True`` (Ctrl-C in the CLI).
    """
    config = config or StyleConfig()
    started = time.perf_counter()
    content = _check_image(content, "content")
    styles = [styles] if isinstance(styles, torch.Tensor) else list(styles)
    if not styles:
        raise UserError("give at least one style image")
    styles = [_check_image(s, f"style {i}") for i, s in enumerate(styles)]
    if regions is not None:
        regions = _check_regions(regions, len(styles))
    else:
        _blend(config.style_blend, len(styles))  # fail early on a wrong count
    device = resolve_device(config.device)
    threads_before = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        return _run(config, content, styles, regions, init_image, callback, should_stop, device, started)
    finally:
        torch.set_num_threads(threads_before)


def _run(config, content, styles, regions, init_image, callback, should_stop, device, started) -> StyleResult:
    height, width = scaled_size(content.shape[-2], content.shape[-1], config.size)
    style_px = max(s.shape[-2] * s.shape[-1] / max(s.shape[-2:]) ** 2 for s in styles)
    check_memory(height, width, config, device, int(style_px * (config.style_scale * config.size) ** 2))
    content = resize(content.to(device), (height, width))
    styles = [s.to(device) for s in styles]
    if config.match_colors:
        styles = [color.match_colors(s, content) for s in styles]
    channels = 3
    target_content = content
    if config.luminance_only:  # optimise the luminance alone; the colours come from the content at the end
        channels = 1
        lum = color.luminance(content)
        styles = [color.match_luminance(color.luminance(s), lum).expand(-1, 3, -1, -1) for s in styles]
        target_content = color.gray(content)
    net = VGGFeatures(needed_layers(config), config.network, config.pooling, device=device)

    def finish(x: torch.Tensor) -> torch.Tensor:
        """The optimised image as the user sees it: clipped, colours applied, on the CPU."""
        x = x.detach().clamp(0.0, 1.0)
        if config.luminance_only:
            x = color.combine(x, resize(content, tuple(x.shape[-2:])))
        elif config.original_colors:
            x = color.keep_colors(x, content)
        return x.cpu()

    def rgb(x: torch.Tensor) -> torch.Tensor:
        return x.expand(-1, 3, -1, -1) if channels == 1 else x

    schedule = config.schedule()
    total_iterations = sum(n for _, n in schedule)
    timings = {"setup": time.perf_counter() - started}
    history: list[dict] = []
    sizes: list[tuple[int, int]] = []
    x = previous = None
    done = 0
    interrupted = False
    for index, (longest, n_iter) in enumerate(schedule):
        t_scale = time.perf_counter()
        hw = scaled_size(height, width, longest)
        sizes.append(hw)
        content_s = resize(target_content, hw)
        objective = Objective(net, config, content_s, [_style_at(s, longest, config) for s in styles], regions)
        content_s = content_s[:, :channels]
        if x is None:
            x = _initial(config, content_s, init_image)
        elif config.init == "content":  # the coarse result's change to the content, upsampled, on this
            change = F.interpolate(x.detach() - previous, size=hw, mode="bilinear", align_corners=False)
            x = (content_s + change).clamp(0.0, 1.0)  # scale's sharp content: fine detail is not blurred away
        else:
            x = F.interpolate(x.detach(), size=hw, mode="bilinear", align_corners=False).clamp(0.0, 1.0)
        previous = content_s
        x = x.contiguous()  # L-BFGS flattens the gradient with view(), which needs a dense layout
        x.requires_grad_(True)
        optimiser = _optimiser(config, x)
        last: dict[str, torch.Tensor] = {}

        def closure(x=x, optimiser=optimiser, objective=objective, last=last) -> torch.Tensor:
            optimiser.zero_grad(set_to_none=True)
            terms = objective.terms(rgb(x))
            terms["total"].backward()
            last.update({k: v.detach() for k, v in terms.items()})
            return terms["total"]

        for _ in range(n_iter):
            optimiser.step(closure)
            with torch.no_grad():  # projected steps: out-of-range pixels would be clipped on saving anyway
                x.clamp_(0.0, 1.0)
            done += 1
            losses = {k: float(v) for k, v in last.items()}
            now = time.perf_counter() - started
            history.append({"scale": index, "iteration": done, "seconds": now, **losses})
            if callback is not None:
                save = config.save_every and done % config.save_every == 0
                callback(
                    StyleStep(
                        done, total_iterations, index, hw, losses["content"], losses["style"], losses["tv"],
                        losses["total"], now, finish(x) if save else None,
                    )
                )  # fmt: skip
            if should_stop is not None and should_stop():
                interrupted = True
                break
        timings[f"scale_{index}"] = time.perf_counter() - t_scale
        if interrupted:
            break
    with torch.no_grad():
        final = {k: float(v) for k, v in objective.terms(rgb(x.detach().clamp(0.0, 1.0)), exact=True).items()}
    image = finish(x)
    if tuple(image.shape[-2:]) != (height, width):  # stopped at a coarser scale: still the size asked for
        image = resize(image, (height, width)).clamp(0.0, 1.0)
    timings["total"] = time.perf_counter() - started
    return StyleResult(
        image=image,
        content_loss=final["content"],
        style_loss=final["style"],
        tv_loss=final["tv"],
        total_loss=final["total"],
        iterations=done,
        scales=sizes,
        timings=timings,
        history=history,
        interrupted=interrupted,
    )
