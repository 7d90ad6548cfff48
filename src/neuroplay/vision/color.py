"""Colour control for style transfer: luminance and chroma (YUV), and colour-statistics matching.

Images are ``N×3×H×W`` RGB tensors in [0, 1]. The YUV here is BT.601's (Y in [0, 1], U and V
centred on 0), the space jcjohnson/neural-style uses for ``-original_colors``.

- :func:`keep_colors` is luminance transfer after the fact: the stylised image's luminance with
  the content's chroma (``--original-colors``).
- :func:`match_colors` is the linear colour transfer of Gatys et al. 2016 ("Preserving colour in
  neural artistic style transfer", §2.2): an affine map ``x' = A·x + b`` that gives the style's
  pixels the content's mean colour and colour covariance, with ``A = Σc^½ · Σs^-½`` (symmetric
  matrix square roots). Unlike per-channel histogram matching it keeps the correlations between
  channels, so colours stay plausible rather than drifting channel by channel.
"""

from __future__ import annotations

import torch

# BT.601 RGB -> YUV (rows: Y, U, V)
_RGB_TO_YUV = torch.tensor(
    [
        [0.299, 0.587, 0.114],
        [-0.14713, -0.28886, 0.436],
        [0.615, -0.51499, -0.10001],
    ]
)
_YUV_TO_RGB = torch.linalg.inv(_RGB_TO_YUV)


def _apply(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", matrix.to(image.device, image.dtype), image)


def rgb_to_yuv(image: torch.Tensor) -> torch.Tensor:
    """``N×3×H×W`` RGB -> YUV (BT.601): channel 0 is the luminance."""
    return _apply(_RGB_TO_YUV, image)


def yuv_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """``N×3×H×W`` YUV (BT.601) -> RGB (not clipped)."""
    return _apply(_YUV_TO_RGB, image)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """The BT.601 luminance of an RGB image, ``N×1×H×W``."""
    return rgb_to_yuv(image)[:, :1]


def gray(image: torch.Tensor) -> torch.Tensor:
    """The luminance of an RGB image repeated into three channels (a grey RGB image)."""
    return luminance(image).expand(-1, 3, -1, -1).contiguous()


def combine(lum: torch.Tensor, colors: torch.Tensor) -> torch.Tensor:
    """RGB image with luminance ``lum`` (``N×1×H×W`` or a grey/any RGB image, whose Y is used)
    and the chroma (U, V) of the RGB image ``colors`` (same size); clipped to [0, 1]."""
    y = lum if lum.shape[1] == 1 else luminance(lum)
    uv = rgb_to_yuv(colors)[:, 1:]
    return yuv_to_rgb(torch.cat([y, uv], dim=1)).clamp(0.0, 1.0)


def keep_colors(stylised: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """``--original-colors``: the luminance of ``stylised`` with the colours (chroma) of ``content``.

    ``content`` is resized to ``stylised``'s size first if they differ.
    """
    if content.shape[-2:] != stylised.shape[-2:]:
        from neuroplay.vision.image import resize

        content = resize(content, tuple(stylised.shape[-2:]))
    return combine(stylised, content)


def _sqrtm(cov: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    """Symmetric square root (or inverse square root) of a 3×3 covariance matrix."""
    values, vectors = torch.linalg.eigh(cov)
    values = values.clamp_min(1e-8)  # a flat (single-colour) image has a singular covariance
    power = -0.5 if inverse else 0.5
    return vectors @ torch.diag(values**power) @ vectors.T


def _stats(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pixels = image.reshape(3, -1).double()
    mean = pixels.mean(dim=1, keepdim=True)
    centred = pixels - mean
    return mean, centred @ centred.T / pixels.shape[1]


def match_colors(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """``style`` recoloured so its mean colour and 3×3 colour covariance equal ``content``'s.

    The affine map ``x' = Σc^½ Σs^-½ (x - μs) + μc`` (Gatys et al. 2016); the result is clipped
    to [0, 1], which disturbs the statistics only where the map leaves the colour cube.
    """
    if style.shape[0] != 1 or content.shape[0] != 1:
        raise ValueError("match_colors works on single images (batch size 1)")
    mu_s, cov_s = _stats(style)
    mu_c, cov_c = _stats(content)
    transform = _sqrtm(cov_c) @ _sqrtm(cov_s, inverse=True)
    pixels = style.reshape(3, -1).double()
    out = transform @ (pixels - mu_s) + mu_c
    return out.reshape(style.shape).to(style.dtype).clamp(0.0, 1.0)


def match_luminance(style_lum: torch.Tensor, content_lum: torch.Tensor) -> torch.Tensor:
    """Luminance-only transfer's pre-step (Gatys et al. 2016, §2.1): shift and scale the style's
    luminance so its mean and standard deviation equal the content's."""
    s_mean, s_std = style_lum.mean(), style_lum.std().clamp_min(1e-6)
    c_mean, c_std = content_lum.mean(), content_lum.std()
    return ((style_lum - s_mean) * (c_std / s_std) + c_mean).clamp(0.0, 1.0)
