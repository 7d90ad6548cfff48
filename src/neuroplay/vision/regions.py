"""Colour-coded mask images -> style-transfer :class:`~neuroplay.vision.style_config.Region` lists.

A mask image paints each region in one flat colour; ``--region-styles`` says which style each
colour gets: ``"#ff0000=0,#00ff00=1,#0000ff=content"`` (style numbers count from 0 in the order
the styles were given; ``content`` keeps the content there). Every pixel goes to the nearest
listed colour, so anti-aliased or JPEG-smudged edges are fine; a colour that covers a real part
of the mask but is not listed, or a listed colour that is absent, is an error rather than a guess.
"""

from __future__ import annotations

import re

import torch

from neuroplay.common.errors import UserError
from neuroplay.vision.style_config import Region

RGB = tuple[int, int, int]
UNMAPPED_SHARE = 0.01  # unlisted colours may cover this share of the mask (edges, compression noise)
MAX_MASK_SIDE = 2048  # masks are shrunk to each scale anyway
NEAR = 60.0  # a pixel within this RGB distance (0-255 scale) of a listed colour is that colour
_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")


def parse_color(text: str) -> RGB:
    """``"#ff8800"``, ``"ff8800"`` or ``"#f80"`` -> ``(255, 136, 0)``."""
    match = _HEX.match(text.strip())
    if not match:
        raise UserError(f"{text.strip()!r} is not a colour; write it as hex, like #ff0000")
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def hex_color(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def parse_region_styles(text: str, n_styles: int) -> dict[RGB, int | None]:
    """``"#ff0000=0,#00ff00=1,#0000ff=content"`` -> ``{(255, 0, 0): 0, (0, 255, 0): 1, (0, 0, 255): None}``."""
    mapping: dict[RGB, int | None] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"region style {item.strip()!r} must look like COLOUR=STYLE, e.g. #ff0000=0")
        rgb = parse_color(key)
        if rgb in mapping:
            raise UserError(f"colour {hex_color(rgb)} is given twice in the region styles")
        value = value.strip().lower()
        if value in ("content", "none"):
            mapping[rgb] = None
            continue
        try:
            index = int(value)
        except ValueError:
            raise UserError(f"region style {value!r} must be a style number (0-{n_styles - 1}) or 'content'") from None
        if not 0 <= index < n_styles:
            raise UserError(f"region style {index} for {hex_color(rgb)}: there are only styles 0 to {n_styles - 1}")
        mapping[rgb] = index
    if not mapping:
        raise UserError("the region styles are empty; give COLOUR=STYLE pairs")
    return mapping


def _top_colors(pixels: torch.Tensor, limit: int = 4) -> list[tuple[RGB, float]]:
    colors, counts = torch.unique(pixels, dim=0, return_counts=True)
    order = counts.argsort(descending=True)[:limit]
    total = pixels.shape[0]
    return [(tuple(int(v) for v in colors[i]), float(counts[i]) / total) for i in order]


def regions_from_mask(mask_image: torch.Tensor, mapping: dict[RGB, int | None] | None) -> list[Region]:
    """Split a ``1×3×H×W`` mask image (values in [0, 1]) into one binary :class:`Region` per listed colour.

    ``mapping=None`` accepts only a black-and-white mask: white gets style 0, black keeps the content.
    """
    if max(mask_image.shape[-2:]) > MAX_MASK_SIDE:  # nearest-neighbour: shrinking must not mix colours
        scale = MAX_MASK_SIDE / max(mask_image.shape[-2:])
        size = [max(1, round(side * scale)) for side in mask_image.shape[-2:]]
        mask_image = torch.nn.functional.interpolate(mask_image, size=size, mode="nearest")
    pixels = (mask_image[0].permute(1, 2, 0).reshape(-1, 3) * 255.0).round()
    if mapping is None:
        found = [hex_color(c) for c, share in _top_colors(pixels.to(torch.int64), 6) if share > UNMAPPED_SHARE]
        mapping = {(255, 255, 255): 0, (0, 0, 0): None}
        if not set(found) <= {"#ffffff", "#000000"}:
            raise UserError(
                f"the mask has colours {', '.join(found)}; say which style each gets with "
                "--region-styles, e.g. '#ff0000=0,#0000ff=content' (a plain black-and-white mask needs none)"
            )
    palette = torch.tensor(list(mapping), dtype=torch.float32)
    distance = torch.cdist(pixels, palette)  # every pixel to every listed colour
    nearest_distance, label = distance.min(dim=1)
    far = nearest_distance > NEAR
    if far.float().mean() > UNMAPPED_SHARE:
        missing = ", ".join(
            f"{hex_color(c)} ({share:.0%})" for c, share in _top_colors(pixels[far].to(torch.int64)) if share > 0.05
        )
        raise UserError(
            f"{far.float().mean():.0%} of the mask has colours that map to no style ({missing}); "
            "add them to --region-styles"
        )
    height, width = mask_image.shape[-2:]
    regions = []
    for index, (rgb, style) in enumerate(mapping.items()):
        region = (label == index).reshape(height, width).float()
        if region.sum() == 0:
            raise UserError(f"colour {hex_color(rgb)} from the region styles does not occur in the mask")
        regions.append(Region(region, style))
    if all(region.style is None for region in regions):
        raise UserError("every mask colour keeps the content; map at least one colour to a style")
    return regions
