"""How much memory a style-transfer run needs, and a clear refusal before a run that would not fit.

The estimate counts what dominates at the last (largest) scale; :func:`check_memory` names the
largest size that fits instead of letting the run die half-way for want of memory.
"""

from __future__ import annotations

import torch

from neuroplay.common.bounds import available_memory, largest_that_fits
from neuroplay.common.errors import UserError
from neuroplay.vision.features import layer_channels, layer_names, layer_scale
from neuroplay.vision.style_config import MIN_SIZE, StyleConfig
from neuroplay.vision.style_loss import needed_layers

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


def check_memory(
    height: int, width: int, config: StyleConfig, device: torch.device, style_pixels: int | None = None
) -> int:
    """Raise :class:`UserError` (naming the largest size that fits) if the run would not fit; return the estimate."""
    need = estimate_memory(height, width, config, style_pixels)
    limit = config.max_memory_gb * 2**30 if config.max_memory_gb is not None else available_memory(device)
    if limit is None or need <= limit:
        return need
    longest, aspect = max(height, width), (height / max(height, width), width / max(height, width))
    ratio = (style_pixels or height * width) / (height * width)

    def need_at(side: int) -> int:  # the estimate with the longest side ``side``, same aspect
        h, w = max(1, round(side * aspect[0])), max(1, round(side * aspect[1]))
        return estimate_memory(h, w, config, int(ratio * h * w))

    lo = largest_that_fits(need_at, longest, limit)
    where = "GPU memory free" if device.type == "cuda" else "memory available"
    source = "the --max-memory limit" if config.max_memory_gb is not None else where
    fits = f"the largest size that fits is about {lo} px (--size {lo})" if lo >= MIN_SIZE else "no size fits"
    raise UserError(
        f"a {width}×{height} output needs about {need / 2**30:.1f} GB but {source} is {limit / 2**30:.1f} GB; "
        f"{fits}, or raise the limit with --max-memory GB"
    )
