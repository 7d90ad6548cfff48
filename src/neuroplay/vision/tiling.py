"""Exact tiled gradients: the gradient of a whole image's objective, computed tile by tile.

A tile is a *core* (one piece of a partition of the image) plus a *halo*: as much context on
each side as the deepest layer reaches. The objective is summed only over the activations that
belong to the core, so every activation is counted once, and the halo makes each of them exactly
the activation the whole image would give (the zero padding at a tile's edge never reaches it).
The tiles' gradients therefore add up to the whole image's gradient: nothing to blend, no seams,
bounded memory; the price is the recomputed halos. Tile corners sit on multiples of the deepest
layer's stride so that every pooling grid lines up with the whole image's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from neuroplay.vision.features import layer_names, layer_scale

# (y0, y1, x0, x1) of the core inside the tile -> the tile's objective (a scalar tensor)
TileObjective = Callable[[torch.Tensor, tuple[int, int, int, int]], torch.Tensor]


def layer_reach(name: str, network: str = "vgg16") -> int:
    """How many input pixels a unit of layer ``name`` sees beyond its own stride window, per side.

    Each 3×3 convolution widens the view by one unit of its input map, i.e. by that map's
    stride in pixels; 2×2 pooling only coarsens the grid. ``relu4_3`` of VGG: 42 px.
    """
    reach = 0
    for layer in layer_names(network):
        if layer.startswith("conv"):
            reach += layer_scale(layer)
        if layer == name:
            return reach
    raise ValueError(f"unknown {network} layer {name!r}")


def halo_and_align(layers: tuple[str, ...], network: str = "vgg16") -> tuple[int, int]:
    """``(halo, align)`` for an objective on ``layers``: the halo covers the deepest reach and is a
    multiple of ``align``, the coarsest stride (where tile corners must sit)."""
    align = max(layer_scale(name) for name in layers)
    reach = max(layer_reach(name, network) for name in layers)
    return _ceil_div(reach, align) * align, align


def min_tile_size(layers: tuple[str, ...], network: str = "vgg16") -> int:
    """The smallest tile with room for a core: two halos and one stride."""
    halo, align = halo_and_align(layers, network)
    return 2 * halo + align


@dataclass(frozen=True)
class Tile:
    """A window ``rows × cols`` of the image and, inside it, the ``core`` it answers for
    (``y0, y1, x0, x1`` relative to the window)."""

    rows: slice
    cols: slice
    core: tuple[int, int, int, int]


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _spans(n: int, tile: int, halo: int, align: int) -> list[tuple[int, int, int, int]]:
    """``(start, stop, core_start, core_stop)`` along one axis of length ``n``."""
    if n <= tile:
        return [(0, n, 0, n)]
    core = (tile - 2 * halo) // align * align
    count = _ceil_div(n, core)
    core = _ceil_div(_ceil_div(n, count), align) * align  # as many cores, evened out
    spans = []
    for start in range(0, n, core):
        stop = min(start + core, n)
        spans.append((max(0, start - halo), min(n, stop + halo), start, stop))
    return spans


def plan_tiles(height: int, width: int, tile_size: int, halo: int, align: int) -> list[Tile]:
    """Tiles of at most ``tile_size × tile_size`` pixels whose cores partition the image.

    An axis no longer than ``tile_size`` is not split (and needs no halo), so an image that fits
    is one tile: the plain, untiled computation.
    """
    if tile_size < 2 * halo + align:
        raise ValueError(f"tile size {tile_size} leaves no core inside halos of {halo} px")
    tiles = []
    for r0, r1, cy0, cy1 in _spans(height, tile_size, halo, align):
        for c0, c1, cx0, cx1 in _spans(width, tile_size, halo, align):
            tiles.append(Tile(slice(r0, r1), slice(c0, c1), (cy0 - r0, cy1 - r0, cx0 - c0, cx1 - c0)))
    return tiles


def tiled_gradient(
    objective: TileObjective,
    image: torch.Tensor,
    tiles: list[Tile],
    memory_format: torch.memory_format = torch.contiguous_format,
) -> tuple[torch.Tensor, float]:
    """The gradient of the objective summed over ``tiles`` with respect to ``image`` (``1×3×H×W``),
    and the objective's value; one tile's graph is alive at a time."""
    if len(tiles) == 1 and tiles[0].rows == slice(0, image.shape[-2]) and tiles[0].cols == slice(0, image.shape[-1]):
        patch = image.detach().contiguous(memory_format=memory_format).requires_grad_(True)
        loss = objective(patch, tiles[0].core)
        (grad,) = torch.autograd.grad(loss, patch)
        return grad.contiguous(), float(loss.detach())
    grad = torch.zeros_like(image)
    total = 0.0
    for tile in tiles:
        patch = image[:, :, tile.rows, tile.cols].detach().contiguous(memory_format=memory_format)
        patch.requires_grad_(True)
        loss = objective(patch, tile.core)
        (part,) = torch.autograd.grad(loss, patch)
        grad[:, :, tile.rows, tile.cols] += part
        total += float(loss.detach())
        del patch, loss, part
    return grad, total
