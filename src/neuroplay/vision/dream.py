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
more, repeat. The settings live in :mod:`~neuroplay.vision.dream_config`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from neuroplay.common.errors import UserError
from neuroplay.common.runtime import resolve_device, resolve_precision, torch_threads
from neuroplay.vision.dream_config import MAX_PIXELS, MAX_SIDE, DreamConfig, DreamProgress, DreamResult
from neuroplay.vision.features import VGGFeatures, layer_scale
from neuroplay.vision.image import fit_within, resize, resize_longest
from neuroplay.vision.tiling import halo_and_align, plan_tiles, tiled_gradient

# the settings and records that callers import from here, as before they had a module of their own
__all__ = [
    "DreamConfig",
    "DreamProgress",
    "DreamResult",
    "dream",
    "objective_gradient",
    "octave_sizes",
    "prepare_image",
    "zoom_in",
]

MATCH_CHUNK = 1 << 24  # guide matching scores at most this many position pairs at a time


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

    def __init__(self, config: DreamConfig, device: torch.device, callback, total: int, frames: int, should_stop=None):
        self.config, self.device, self.callback = config, device, callback
        self.should_stop = should_stop
        self.stopped = False  # should_stop() said so: the loops end after the step they are in
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
                if step + 1 == steps:  # an octave (or zoom frame) is done: a picture worth showing
                    progress["image"] = image.detach().cpu().clone()
                self.callback(DreamProgress(frames=self.frames, done=self.done, total=self.total, **progress))
            if self.should_stop is not None and self.should_stop():
                self.stopped = True
                break
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
            if self.stopped and k > 0:  # what the smaller octaves found, carried up to the full size
                detail = F.interpolate(detail, size=sizes[0], mode="bilinear", align_corners=False)
                return (image + detail).clamp_(0.0, 1.0)
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
    with torch_threads(config.threads):
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
    should_stop: Callable[[], bool] | None = None,
) -> DreamResult:
    """Dream on ``image`` (``1×3×H×W`` in [0, 1]) as ``config`` says.

    ``guide``: an image whose features the dream steers towards. ``mask``: an RGB or one-channel
    image in [0, 1] (any size, resized to the dream's) whose brightness says where to dream: black keeps the input
    exactly, white dreams fully. ``callback`` hears a :class:`DreamProgress` after each step.
    ``should_stop`` is asked after each step; once it says yes the dream ends there and the result
    is what it reached (a stopped octave's detail carried up to the full size, the zoom frames made
    so far), with ``interrupted`` set.
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
    with torch_threads(config.threads):
        dreamer = _Dreamer(config, device, callback, total, frames_n, should_stop)
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
            if dreamer.stopped:
                break
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
        interrupted=dreamer.stopped,
    )
