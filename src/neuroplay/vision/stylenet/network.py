"""The feed-forward style network: an image in, the same image painted in one style out.

After Johnson, Alahi and Fei-Fei (2016), "Perceptual losses for real-time style transfer", with
instance normalisation (Ulyanov et al. 2016)::

    9×9 conv (w1) → 3×3 conv stride 2 (w2) → 3×3 conv stride 2 (w3)     encode, 1/4 the size
    → R residual blocks (two 3×3 convs at w3 each)                       restyle
    → upsample ×2 + 3×3 conv (w2) → upsample ×2 + 3×3 conv (w1)          decode
    → 9×9 conv (3) → sigmoid                                             RGB in [0, 1]

Every conv but the last is followed by instance norm and a ReLU, and pads by reflection so the
border is not darkened. Each upsampling goes to the exact size of the matching encoder map (not just
×2), so any input size — odd sides included — comes back at its own size: the network is
resolution-agnostic (a side under ``MIN_SIDE`` is padded, then cut back). The default widths (16,
32, 64) are half of Johnson's (32, 64, 128), about a quarter of the work: measured here, that is
what brings a 512 px photo under half a second on two CPU cores (BENCHMARKS.md)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MIN_SIDE = 16  # the 9×9 reflection pad needs 5 px, and each stride-2 stage halves the side


class _Conv(nn.Sequential):
    """Reflection pad, conv, then (unless ``last``) instance norm and ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, last: bool = False):
        layers: list[nn.Module] = [nn.ReflectionPad2d(kernel // 2), nn.Conv2d(c_in, c_out, kernel, stride)]
        if not last:
            layers += [nn.InstanceNorm2d(c_out, affine=True), nn.ReLU(inplace=True)]
        super().__init__(*layers)


class _Residual(nn.Module):
    """``x + IN(conv(ReLU(IN(conv(x)))))``: the block keeps the content and adds the restyling."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            _Conv(channels, channels, 3),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class StyleNet(nn.Module):
    """The transformer network. ``widths``: channels of the three encoder stages; ``blocks``: residual blocks.

    Input and output: ``N×3×H×W`` RGB in ``[0, 1]``, any ``H, W ≥ 1``; the output has the input's size.
    """

    def __init__(self, widths: tuple[int, int, int] = (16, 32, 64), blocks: int = 5):
        super().__init__()
        w1, w2, w3 = widths
        self.widths, self.blocks = tuple(widths), int(blocks)
        self.enc1 = _Conv(3, w1, 9)
        self.enc2 = _Conv(w1, w2, 3, stride=2)
        self.enc3 = _Conv(w2, w3, 3, stride=2)
        self.res = nn.Sequential(*[_Residual(w3) for _ in range(blocks)])
        self.dec2 = _Conv(w3, w2, 3)
        self.dec1 = _Conv(w2, w1, 3)
        self.out = _Conv(w1, 3, 9, last=True)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2:]
        if min(h, w) < MIN_SIDE:  # reflection padding needs a few pixels at every stage: pad, then cut back
            image = F.pad(image, (0, max(0, MIN_SIDE - w), 0, max(0, MIN_SIDE - h)), mode="replicate")
            return self.forward(image)[..., :h, :w]
        x1 = self.enc1(image)
        x2 = self.enc2(x1)
        x = self.res(self.enc3(x2))
        x = self.dec2(F.interpolate(x, size=x2.shape[-2:], mode="nearest"))
        x = self.dec1(F.interpolate(x, size=x1.shape[-2:], mode="nearest"))
        return torch.sigmoid(self.out(x))
