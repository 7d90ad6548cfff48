"""The style-transfer loss: Gram matrices, the masked Gram of a region, total variation, and
:class:`Objective`, the loss at one size with its targets computed once.

The loss (the default, as in Gatys et al. and jcjohnson/neural-style)::

    content = Σ over content layers of  mean((F(x) - F(c))²)          F: that layer's features
    style   = Σ over style layers   of  mean((G(x) - G(s))²)          G = F·Fᵀ / (C·H·W)
    total   = content_weight·content + style_weight·style + tv_weight·tv
              (defaults: 1, 1e5, 0; tv = mean of squared neighbour differences)

Several styles are blended by mixing their target Grams with the blend weights (the same
gradients as a weighted sum of per-style losses). With :class:`~neuroplay.vision.style_config.Region`
masks each region has its own style (or none: it keeps the content) in one optimisation: at each
layer the mask is shrunk to the layer's size, the region's Gram is ``(F·m)(F·m)ᵀ / (C·Σm²)`` —
normalised by the region's own area, so it measures the region's texture whatever its size — and
its loss is weighted by the region's share of the image, so every pixel feels the same style
strength as in an unmasked run.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from neuroplay.common.errors import UserError
from neuroplay.common.runtime import resolve_precision
from neuroplay.vision.features import VGGFeatures, layer_names
from neuroplay.vision.style_config import Region, StyleConfig


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


def _cropped(mask: torch.Tensor) -> tuple[tuple[int, int, int, int], torch.Tensor]:
    """The box ``(y0, y1, x0, x1)`` holding every non-zero pixel of ``mask``, and the mask cut to it:
    a region's Gram needs only the features in its box (the same numbers, a fraction of the work)."""
    rows = torch.nonzero(mask.amax(dim=1) > 0).flatten()
    cols = torch.nonzero(mask.amax(dim=0) > 0).flatten()
    if rows.numel() == 0:  # an empty region: a one-pixel box of zeros
        return (0, 1, 0, 1), mask[:1, :1]
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    return (y0, y1, x0, x1), mask[y0:y1, x0:x1].contiguous()


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
        self.bfloat16 = resolve_precision(config.precision, content.device) == "bf16"
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
                    shares[name] = float((m * m).mean())  # the region's share of the image
                    masks[name] = _cropped(m)
                self.regions.append((masks, shares, grams[region.style]))
            self.targets = {}
        else:
            weights = blend_weights(config.style_blend, len(styles))
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
                    (y0, y1, x0, x1), m = masks[name]
                    g = masked_gram(feats[name][..., y0:y1, x0:x1], m)
                    style = style + shares[name] * F.mse_loss(g, targets[name].expand_as(g))
            else:
                g = gram(feats[name])
                style = style + F.mse_loss(g, self.targets[name].expand_as(g))
        tv = tv_loss(image) if cfg.tv_weight > 0 else zero
        total = cfg.content_weight * content + cfg.style_weight * style + cfg.tv_weight * tv
        return {"content": content, "style": style, "tv": tv, "total": total}


def blend_weights(blend: tuple[float, ...] | None, n: int) -> list[float]:
    """The weights of ``n`` styles, summing to 1: equal for ``None``, else ``blend`` normalised."""
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
