"""Deep Dream: gradient ascent on an image to amplify what a pretrained network sees in it.

The loop, top to bottom (:func:`dream`):

1. Octaves: the image is shrunk ``octaves - 1`` times by ``octave_scale``; dreaming starts on
   the smallest. After each octave the *detail* it added (dreamed minus its base) is enlarged
   onto the next octave's base, so large patterns grow at coarse scales and fine ones on top.
2. Each step rolls the image by a random offset of up to ``jitter`` pixels (undone after the
   step, so no fixed pixel grid shows through), takes the gradient of the objective with
   respect to the image, divides it by its mean absolute value (a steady step size whatever the
   layer's scale) and adds ``step_size`` times that; values stay within ``[0, 1]``.
3. The objective, per chosen layer ``l`` with weight ``w_l`` and activations ``a_l`` (optionally
   only some channels): ``w_l · ½‖a_l‖² / n_l``, ``n_l`` the number of values in the whole
   image's map, so that layers of different sizes weigh as their weights say. Its gradient is
   ``a_l`` itself: "set the layer's gradient to its output". With a guide image it becomes
   ``w_l · Σ_p ⟨a_l(p), g(p)⟩ / n_l``, ``g(p)`` the guide's feature vector with the largest
   dot product with ``a_l(p)`` (the original deepdream notebook's guided objective).
4. Gradients are computed in exact tiles (:mod:`neuroplay.vision.tiling`) no larger than
   ``tile_size``, so a 4000×3000 photo dreams in bounded memory with no seams.

A mask (white dreams, black keeps, grey blends) scales the gradient, and the result is
blended back onto the input by the mask, so pixels where it is black come back unchanged.
``zoom_frames`` adds the feedback animation: zoom into the dream a little, dream a few steps
more, repeat.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

from neuroplay.common.errors import UserError
from neuroplay.vision.features import VGGFeatures, layer_channels, layer_names, layer_scale
from neuroplay.vision.image import fit_within, resize, resize_longest
from neuroplay.vision.tiling import halo_and_align, min_tile_size, plan_tiles, tiled_gradient
from neuroplay.vision.weights import get_network

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")
MIN_FEATURE_SIDE = 4  # the deepest layer's map must be at least 4×4 at the smallest octave
MAX_PIXELS = 64_000_000  # about 8000×8000; a float copy of that is already 768 MB
MAX_SIDE = 16384
MATCH_CHUNK = 1 << 24  # guide matching scores at most this many position pairs at a time

LayerSpec = str | Sequence[str] | Mapping[str, float] | Sequence[tuple[str, float]]
ChannelSpec = Mapping[str, Sequence[int]] | Sequence[tuple[str, Sequence[int]]]


def _layer_pairs(layers: LayerSpec) -> tuple[tuple[str, float], ...]:
    if isinstance(layers, str):
        layers = [layers]
    items = layers.items() if isinstance(layers, Mapping) else layers
    pairs = []
    for item in items:
        name, weight = (item, 1.0) if isinstance(item, str) else item
        pairs.append((str(name), float(weight)))
    return tuple(pairs)


def _channel_pairs(channels: ChannelSpec) -> tuple[tuple[str, tuple[int, ...]], ...]:
    items = channels.items() if isinstance(channels, Mapping) else channels
    return tuple((str(name), tuple(dict.fromkeys(int(c) for c in chans))) for name, chans in items)


@dataclass(frozen=True)
class DreamConfig:
    """Every setting of a dream. Invalid values raise :class:`UserError` on construction.

    Args:
        layers: where to dream: a name (``"relu4_3"``), names, or ``{name: weight}`` /
            ``[(name, weight)]``; see :func:`~neuroplay.vision.features.layer_names`. Low layers
            amplify strokes and textures, high ones eyes, fur and faces. A negative weight damps.
        channels: for some of those layers only these channels, ``{"relu4_3": (12, 87)}``.
        octaves: how many scales to dream at; ``octave_scale``: the size ratio between them.
        steps: gradient steps per octave; ``step_size``: the mean change per step and pixel
            (in ``[0, 1]`` units) of the normalised gradient.
        jitter: largest random roll per step, in pixels (0: none).
        tile_size: the largest tile side the gradient is computed on; an image that fits is not
            split. Memory for forward+backward to ``relu4_3`` is about 1.5 GB at 1024×1024.
        max_size: the input is shrunk (never enlarged) so its longer side is at most this;
            ``None`` keeps its size (up to :data:`MAX_PIXELS`).
        guide_size: the guide image's longer side when its features are taken.
        zoom_frames: frames of the zoom animation (0: no animation); the first is the dream.
        zoom: how much each frame zooms in; ``zoom_steps``: dream steps per frame after the
            first (default: half of ``steps``); ``fps``: animation speed.
        network: ``vgg16`` (offline) or ``vgg19`` (downloaded).
        seed: the jitter offsets; the same seed gives the same dream.
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
        precision: ``fp32``, or ``bf16`` (the network runs in bfloat16 under autocast: about twice
            as fast on CPUs with native bfloat16 and on GPUs, while the image and its update stay
            float32); ``auto`` picks ``bf16`` where the hardware has it, else ``fp32``.
        threads: CPU threads for torch during the dream (default: torch's, at most the CPUs
            this process may use).
    """

    layers: LayerSpec = (("relu4_3", 1.0),)
    channels: ChannelSpec = ()
    octaves: int = 4
    octave_scale: float = 1.4
    steps: int = 10
    step_size: float = 0.006
    jitter: int = 32
    tile_size: int = 1024
    max_size: int | None = 1024
    guide_size: int = 384
    zoom_frames: int = 0
    zoom: float = 1.05
    zoom_steps: int | None = None
    fps: float = 12.0
    network: str = "vgg16"
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    threads: int | None = None
    _names: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        get_network(self.network)
        try:
            pairs = _layer_pairs(self.layers)
            channel_pairs = _channel_pairs(self.channels)
        except (TypeError, ValueError):
            raise UserError("layers must be names with optional weights, channels whole numbers") from None
        object.__setattr__(self, "layers", pairs)
        object.__setattr__(self, "channels", channel_pairs)
        names = tuple(name for name, _ in pairs)
        object.__setattr__(self, "_names", names)
        known = layer_names(self.network)
        if not names:
            raise UserError("choose at least one layer to dream on")
        unknown = [name for name in names if name not in known]
        if unknown:
            raise UserError(f"unknown {self.network} layer {unknown[0]!r}; choose from: {', '.join(known)}")
        if len(set(names)) != len(names):
            raise UserError(f"a layer is named twice in {', '.join(names)}")
        for name, weight in pairs:
            if not math.isfinite(weight) or weight == 0:
                raise UserError(f"layer {name}'s weight must be a non-zero number, got {weight}")
        counts = layer_channels(self.network)
        for name, chans in channel_pairs:
            if name not in names:
                raise UserError(f"channels given for {name}, which is not a dream layer ({', '.join(names)})")
            if not chans:
                raise UserError(f"no channels given for {name}")
            bad = [c for c in chans if not 0 <= c < counts[name]]
            if bad:
                raise UserError(f"{name} has channels 0..{counts[name] - 1}; there is no channel {bad[0]}")
        if len({name for name, _ in channel_pairs}) != len(channel_pairs):
            raise UserError("channels are given twice for one layer")
        _check_int("octaves", self.octaves, 1, 12)
        _check_float("octave scale", self.octave_scale, 1.0, 4.0, open_low=True)
        _check_int("steps", self.steps, 1, 10_000)
        _check_float("step size", self.step_size, 0.0, 1.0, open_low=True)
        _check_int("jitter", self.jitter, 0, 1024)
        _check_int("tile size", self.tile_size, min_tile_size(names, self.network), MAX_SIDE)
        if self.max_size is not None:
            _check_int("max size", self.max_size, 16, MAX_SIDE)
        _check_int("guide size", self.guide_size, 16, 4096)
        _check_int("zoom frames", self.zoom_frames, 0, 10_000)
        _check_float("zoom", self.zoom, 1.0, 2.0, open_low=True)
        if self.zoom_steps is not None:
            _check_int("zoom steps", self.zoom_steps, 1, 10_000)
        _check_float("fps", self.fps, 0.0, 100.0, open_low=True)
        if self.device not in DEVICES:
            raise UserError(f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        if self.precision not in PRECISIONS:
            raise UserError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        if self.threads is not None:
            _check_int("threads", self.threads, 1, 1024)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise UserError(f"seed must be a whole number, got {self.seed!r}")

    @property
    def layer_names(self) -> tuple[str, ...]:
        """The dream layers' names, in order."""
        return self._names

    @property
    def frame_steps(self) -> int:
        """Steps per zoom frame after the first."""
        return self.zoom_steps if self.zoom_steps is not None else max(1, self.steps // 2)

    @property
    def min_side(self) -> int:
        """The fewest pixels the smallest octave needs per side: the deepest layer's map must
        be at least :data:`MIN_FEATURE_SIDE` units across."""
        return MIN_FEATURE_SIDE * max(layer_scale(name) for name in self._names)

    def as_dict(self) -> dict:
        """Every setting, JSON-ready."""
        out = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        out["layers"] = {name: weight for name, weight in self.layers}
        out["channels"] = {name: list(chans) for name, chans in self.channels}
        out["zoom_steps"] = self.frame_steps
        return out


def _check_int(what: str, value: object, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise UserError(f"{what} must be a whole number from {low} to {high}, got {value!r}")


def _check_float(what: str, value: object, low: float, high: float, open_low: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (low < value if open_low else low <= value) and value <= high
    if not ok:
        bound = f"above {low}" if open_low else f"from {low}"
        raise UserError(f"{what} must be a number {bound} up to {high}, got {value!r}")


@dataclass(frozen=True)
class DreamProgress:
    """What the callback hears after each step. ``frame`` is 0 for the dream itself, then one
    per zoom frame; ``octave`` counts from 1 (smallest) to ``octaves``."""

    frame: int
    frames: int
    octave: int
    octaves: int
    step: int
    steps: int
    size: tuple[int, int]  # (height, width) being dreamed
    done: int  # steps done in all
    total: int
    objective: float


@dataclass
class DreamResult:
    """The dream (``1×3×H×W`` on the CPU, in [0, 1]), the zoom frames (empty unless asked;
    the first is ``image``), the octave sizes (largest first), how many tiles the full-size
    octave needed, the final objective value and the time taken."""

    image: torch.Tensor
    frames: list[torch.Tensor]
    octave_sizes: list[tuple[int, int]]
    tiles: int
    objective: float
    wall_seconds: float
    device: str
    precision: str


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is a :class:`UserError`."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda asked for, but no CUDA device is available")
    return torch.device(name)


def resolve_precision(name: str, device: torch.device) -> str:
    """``auto`` -> ``bf16`` where ``device`` computes bfloat16 natively, else ``fp32``."""
    if name != "auto":
        return name
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    native = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return "bf16" if native else "fp32"


def octave_sizes(height: int, width: int, octaves: int, scale: float) -> list[tuple[int, int]]:
    """``(height, width)`` of each octave, largest (the image itself) first."""
    return [(max(1, round(height / scale**k)), max(1, round(width / scale**k))) for k in range(octaves)]


def zoom_in(image: torch.Tensor, factor: float) -> torch.Tensor:
    """Enlarge the centre of ``image`` by ``factor``, keeping its size (smooth sub-pixel zoom)."""
    theta = torch.tensor([[1 / factor, 0.0, 0.0], [0.0, 1 / factor, 0.0]], dtype=image.dtype, device=image.device)
    grid = F.affine_grid(theta.unsqueeze(0), list(image.shape), align_corners=False)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False).clamp_(0.0, 1.0)


def _check_image(image: torch.Tensor, what: str, gray_ok: bool = False) -> None:
    shapes = ((1, 3), (1, 1)) if gray_ok else ((1, 3),)
    if not isinstance(image, torch.Tensor) or image.ndim != 4 or tuple(image.shape[:2]) not in shapes:
        raise UserError(f"the {what} must be a 1×3×H×W{' or 1×1×H×W' if gray_ok else ''} image tensor")
    if not torch.isfinite(image).all():
        raise UserError(f"the {what} holds NaN or infinite values")


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    previous = torch.get_num_threads()
    if threads is None and hasattr(os, "sched_getaffinity"):
        threads = min(previous, len(os.sched_getaffinity(0)))
    torch.set_num_threads(threads or previous)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class _Objective:
    """The dream objective on one tile; see the module's docstring."""

    def __init__(self, net: VGGFeatures, config: DreamConfig, precision: str):
        self.net, self.layers, self.guide = net, config.layers, None
        self.bf16 = precision == "bf16"
        self.channels = {name: torch.tensor(chans, device=net.mean.device) for name, chans in config.channels}
        self.full = (1, 1)  # the whole image's (height, width), for the per-layer normalisation

    def select(self, name: str, a: torch.Tensor) -> torch.Tensor:
        return a.index_select(1, self.channels[name]) if name in self.channels else a

    def features(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.autocast(image.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            feats = self.net(image)
        return {name: a.float() for name, a in feats.items()}

    def __call__(self, patch: torch.Tensor, core: tuple[int, int, int, int]) -> torch.Tensor:
        feats = self.features(patch)
        y0, y1, x0, x1 = core
        total = patch.new_zeros(())
        for name, weight in self.layers:
            s = layer_scale(name)
            a = self.select(name, feats[name][:, :, y0 // s : -(-y1 // s), x0 // s : -(-x1 // s)])
            count = a.shape[1] * max(1, self.full[0] // s) * max(1, self.full[1] // s)
            if self.guide is None:
                value = 0.5 * a.pow(2).sum()
            else:
                value = (a * _best_match(a, self.guide[name])).sum()
            total = total + weight * value / count
        return total


def _best_match(a: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    """For each position of ``a`` (``1×C×h×w``), the column of ``guide`` (``C×Q``) with the
    largest dot product, arranged like ``a`` (a constant: no gradient flows through the choice)."""
    with torch.no_grad():
        x = a[0].flatten(1).t()
        rows = max(1, MATCH_CHUNK // guide.shape[1])
        best = torch.cat([(x[i : i + rows] @ guide).argmax(1) for i in range(0, x.shape[0], rows)])
        return guide[:, best].view(a.shape[1:]).unsqueeze(0)


class _Dreamer:
    """The network, objective and random stream shared by all octaves and frames of one dream."""

    def __init__(self, config: DreamConfig, device: torch.device, callback, total: int, frames: int):
        self.config, self.device, self.callback = config, device, callback
        self.memory_format = torch.channels_last  # oneDNN/cuDNN convolutions run faster so
        self.net = VGGFeatures(config.layer_names, network=config.network, device=device)
        self.net.to(memory_format=self.memory_format)
        self.halo, self.align = halo_and_align(config.layer_names, config.network)
        self.rng = random.Random(config.seed)
        self.precision = resolve_precision(config.precision, device)
        self.objective = _Objective(self.net, config, self.precision)
        self.done, self.total, self.frames = 0, total, frames
        self.value = 0.0

    def set_guide(self, guide: torch.Tensor) -> None:
        image = resize_longest(guide.to(self.device), self.config.guide_size)
        if min(image.shape[-2:]) < self.config.min_side:
            height, width = image.shape[-2:]
            raise UserError(
                f"the guide image is too thin: at {width}×{height} px it gives the dream layers no features "
                f"(each side needs {self.config.min_side} px); use a squarer guide or a larger guide size"
            )
        with torch.no_grad():
            feats = self.objective.features(image.contiguous(memory_format=self.memory_format))
        self.objective.guide = {
            name: self.objective.select(name, feats[name])[0].flatten(1).contiguous()
            for name in self.config.layer_names
        }

    def tiles(self, height: int, width: int) -> list:
        return plan_tiles(height, width, self.config.tile_size, self.halo, self.align)

    def gradient(self, image: torch.Tensor) -> torch.Tensor:
        """The objective's gradient for the whole of ``image``, tile by tile."""
        self.objective.full = tuple(image.shape[-2:])
        grad, self.value = tiled_gradient(self.objective, image, self.tiles(*image.shape[-2:]), self.memory_format)
        return grad

    def ascend(self, image: torch.Tensor, mask: torch.Tensor | None, steps: int, where: dict) -> torch.Tensor:
        """``steps`` normalised gradient-ascent steps on ``image`` (changed in place and returned)."""
        jitter = self.config.jitter
        for step in range(steps):
            dy, dx = (self.rng.randint(-jitter, jitter) for _ in range(2))
            grad = self.gradient(torch.roll(image, (dy, dx), (2, 3)) if jitter else image)
            if jitter:
                grad = torch.roll(grad, (-dy, -dx), (2, 3))
            if mask is None:
                mean = grad.abs().mean()
            else:
                grad.mul_(mask)
                mean = grad.abs().sum() / (mask.sum() * 3).clamp_min(1e-8)
            image.add_(grad, alpha=self.config.step_size / max(float(mean), 1e-12)).clamp_(0.0, 1.0)
            self.done += 1
            if self.callback is not None:
                size = (image.shape[-2], image.shape[-1])
                progress = {"step": step + 1, "steps": steps, "size": size, "objective": self.value, **where}
                self.callback(DreamProgress(frames=self.frames, done=self.done, total=self.total, **progress))
        return image

    def octaves(self, image: torch.Tensor, mask: torch.Tensor | None, sizes: list[tuple[int, int]]) -> torch.Tensor:
        """Dream ``image`` at each octave size, smallest first, carrying the detail upwards."""
        bases = [image] + [resize(image, size) for size in sizes[1:]]
        detail = torch.zeros_like(bases[-1])
        for k in reversed(range(len(sizes))):
            base = bases[k]
            if detail.shape != base.shape:
                detail = F.interpolate(detail, size=sizes[k], mode="bilinear", align_corners=False)
            dreamed = (base + detail).clamp_(0.0, 1.0)
            octave_mask = None if mask is None else resize(mask, sizes[k])
            where = {"frame": 0, "octave": len(sizes) - k, "octaves": len(sizes)}
            dreamed = self.ascend(dreamed, octave_mask, self.config.steps, where)
            detail = dreamed - base
            del bases[k]
        return dreamed


def objective_gradient(
    image: torch.Tensor, config: DreamConfig | None = None, guide: torch.Tensor | None = None
) -> tuple[torch.Tensor, float]:
    """The gradient of ``config``'s objective with respect to ``image`` at its own size (tiled as
    ``config.tile_size`` says, never jittered, not normalised) and the objective's value."""
    config = config if config is not None else DreamConfig()
    _check_image(image, "image")
    device = resolve_device(config.device)
    with _torch_threads(config.threads):
        dreamer = _Dreamer(config, device, None, 0, 1)
        if guide is not None:
            _check_image(guide, "guide")
            dreamer.set_guide(guide)
        grad = dreamer.gradient(image.to(device, torch.float32))
    return grad.cpu(), dreamer.value


def _gray(mask: torch.Tensor, size: tuple[int, int], device: torch.device) -> torch.Tensor:
    gray = mask.to(device).mean(dim=1, keepdim=True)
    return resize(gray, size) if tuple(gray.shape[-2:]) != size else gray


def prepare_image(image: torch.Tensor, config: DreamConfig) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """``image`` shrunk to ``config.max_size`` and its octave sizes (largest first); an image too
    large, or too small for the octaves and layers, is a :class:`UserError`."""
    _check_image(image, "image")
    if config.max_size is not None:
        image = fit_within(image, config.max_size)
    height, width = image.shape[-2:]
    if height * width > MAX_PIXELS or max(height, width) > MAX_SIDE:
        raise UserError(
            f"a {width}×{height} image is too large to dream on (at most {MAX_PIXELS // 1_000_000} megapixels "
            f"and {MAX_SIDE} px a side); shrink it with --max-size"
        )
    sizes = octave_sizes(height, width, config.octaves, config.octave_scale)
    small_h, small_w = sizes[-1]
    if min(small_h, small_w) < config.min_side:
        deepest = max(config.layer_names, key=layer_scale)
        raise UserError(
            f"the smallest of {config.octaves} octaves of this {width}×{height} image would be {small_w}×{small_h} "
            f"px, but {deepest} needs at least {config.min_side} px a side; use fewer --octaves, a smaller "
            "--octave-scale or a larger image"
        )
    return image, sizes


def dream(
    image: torch.Tensor,
    config: DreamConfig | None = None,
    callback: Callable[[DreamProgress], None] | None = None,
    *,
    guide: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
) -> DreamResult:
    """Dream on ``image`` (``1×3×H×W`` in [0, 1]) as ``config`` says.

    ``guide``: an image whose features the dream steers towards. ``mask``: an RGB or one-channel
    image in [0, 1] (any size, resized to the dream's) whose brightness says where to dream: black keeps the input
    exactly, white dreams fully. ``callback`` hears a :class:`DreamProgress` after each step.
    Bad input (too small an image for the octaves, too large a one, a missing GPU) raises
    :class:`UserError` before any work.
    """
    started = time.perf_counter()
    config = config if config is not None else DreamConfig()
    if guide is not None:
        _check_image(guide, "guide")
    if mask is not None:
        _check_image(mask, "mask", gray_ok=True)
    image, sizes = prepare_image(image, config)
    height, width = image.shape[-2:]
    device = resolve_device(config.device)
    frames_n = max(config.zoom_frames, 1)
    total = config.octaves * config.steps + (frames_n - 1) * config.frame_steps
    with _torch_threads(config.threads):
        dreamer = _Dreamer(config, device, callback, total, frames_n)
        if guide is not None:
            dreamer.set_guide(guide)
        source = image.to(device, torch.float32)
        full_mask = None if mask is None else _gray(mask, (height, width), device)
        result = dreamer.octaves(source, full_mask, sizes)  # never changes its input
        if full_mask is not None:  # black in the mask: exactly the input
            result = source + full_mask * (result - source)
        frames = [result.cpu()] if config.zoom_frames else []
        current = result
        for frame in range(1, config.zoom_frames):
            current = zoom_in(current, config.zoom)
            where = {"frame": frame, "octave": 1, "octaves": 1}
            current = dreamer.ascend(current, full_mask, config.frame_steps, where)
            frames.append(current.cpu())
    return DreamResult(
        image=result.cpu(),
        frames=frames,
        octave_sizes=sizes,
        tiles=len(dreamer.tiles(height, width)),
        objective=dreamer.value,
        wall_seconds=time.perf_counter() - started,
        device=str(device),
        precision=dreamer.precision,
    )
