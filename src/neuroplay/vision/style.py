"""Gatys style transfer: one optimisation of the output's pixels against VGG feature statistics.

The loss and its targets live in :mod:`~neuroplay.vision.style_loss`, the settings in
:mod:`~neuroplay.vision.style_config`, the memory check in :mod:`~neuroplay.vision.style_memory`;
this module runs the optimisation (:func:`stylize`) and scores finished images (:func:`loss_terms`).

Optimisation runs coarse to fine over :attr:`StyleConfig.scales`: each scale starts from the
previous result upsampled, so the big structures are settled where evaluations are cheap and
the last (full) scale only refines. Target features and Grams are computed once per scale;
the network runs only as deep as the deepest layer used.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import torch
import torch.nn.functional as F

from neuroplay.common.errors import UserError
from neuroplay.common.runtime import resolve_device, torch_threads
from neuroplay.vision import color
from neuroplay.vision.features import VGGFeatures, layer_scale
from neuroplay.vision.image import resize, resize_longest, scaled_size
from neuroplay.vision.style_config import MIN_SIZE, Region, StyleConfig, StyleResult, StyleStep
from neuroplay.vision.style_loss import Objective, blend_weights, needed_layers
from neuroplay.vision.style_memory import check_memory, estimate_memory

# the settings, records and loss pieces that callers (vision.sketch, benchmarks) import from here
__all__ = [
    "Objective",
    "Region",
    "StyleConfig",
    "StyleResult",
    "StyleStep",
    "check_memory",
    "estimate_memory",
    "loss_terms",
    "needed_layers",
    "stylize",
]


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


def _style_side(longest: int, config: StyleConfig) -> int:
    """The longer side of the style images at a scale whose output's longer side is ``longest``."""
    return max(MIN_SIZE // 2, round(config.style_scale * longest))


def _style_at(style: torch.Tensor, longest: int, config: StyleConfig) -> torch.Tensor:
    return resize_longest(style, _style_side(longest, config))


def check_proportions(config: StyleConfig, content: torch.Tensor, styles: Sequence[torch.Tensor]) -> None:
    """Refuse (:class:`UserError`), before any work, an image so long and thin that at the
    coarsest scale its shorter side would be narrower than the deepest layer's stride: pooling
    would leave that layer no pixel (a 4000×1 photo is 128×1 at 128 px), and the run would fail
    deep inside the network."""
    deepest = max(needed_layers(config), key=layer_scale)
    need, coarsest = layer_scale(deepest), config.sizes[0]
    output = scaled_size(content.shape[-2], content.shape[-1], config.size)
    named = [("content", content, output, coarsest)]  # the content is resized from the output's size
    for i, style in enumerate(styles):
        name = f"style {i + 1}" if len(styles) > 1 else "style"
        named.append((name, style, tuple(style.shape[-2:]), _style_side(coarsest, config)))
    for name, image, (height, width), longest in named:
        small_h, small_w = scaled_size(height, width, longest)
        if min(small_h, small_w) < need:
            h, w = image.shape[-2:]
            raise UserError(
                f"the {name} image ({w}×{h} px) is too long and thin: at the coarsest scale it would be "
                f"{small_w}×{small_h} px, but {deepest} needs at least {need} px a side; crop it to an "
                f"aspect ratio of at most {longest // need}:1"
            )


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
    config = replace(config or StyleConfig(), precision="fp32")
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
    check_proportions(config, content, styles)
    if regions is not None:
        regions = _check_regions(regions, len(styles))
    else:
        blend_weights(config.style_blend, len(styles))  # fail early on a wrong count
    device = resolve_device(config.device)
    with torch_threads(config.threads):
        return _run(config, content, styles, regions, init_image, callback, should_stop, device, started)


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
