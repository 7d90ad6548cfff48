"""A trained style network as a file: its shape, its weights (float32, or float16 to ship) and its card.

A checkpoint of kind :data:`MODEL_KIND`. :func:`load_model` checks it against :data:`SCHEMA`
before a network is built: the shape first (widths and block count in range), then every weight
against a network of that shape made on the ``meta`` device (no memory): the same names, shapes,
the one dtype the file declares, finite values. Only then is the network built and filled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from neuroplay.common.checkpoint import load_checkpoint, save_checkpoint
from neuroplay.common.errors import UserError
from neuroplay.common.io import input_file
from neuroplay.common.schema import Dict, Int, Like, List, Str, validate
from neuroplay.vision.stylenet.config import MAX_BLOCKS, MAX_WIDTH
from neuroplay.vision.stylenet.network import StyleNet

MODEL_KIND = "neuroplay-stylenet"
MODEL_VERSION = 1
DTYPES = {"float32": torch.float32, "float16": torch.float16}

SHAPE = Dict(
    {
        "widths": List(Int(1, MAX_WIDTH), length=3),
        "blocks": Int(0, MAX_BLOCKS),
        "dtype": Str(tuple(DTYPES)),
        "card": Dict({}),
    }
)
SCHEMA = Dict({"state": Like("template")})  # after SHAPE: a network of the file's own shape


@dataclass
class StyleModel:
    """A style network ready to run (``net`` in eval mode, float32) and what its card says."""

    net: StyleNet
    card: dict = field(default_factory=dict)
    source: str = ""
    _bf16: StyleNet | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        return str(self.card.get("name") or Path(self.source).stem or "stylenet")

    def inference_net(self, precision: str) -> StyleNet:
        """The network to run in ``precision`` (``fp32`` or ``bf16``): ``net`` itself, or a copy of it
        held in bfloat16, made once. Weights and activations all in bfloat16 (rather than float32
        weights under autocast) cost a forward pass about 0.6 of autocast's on a CPU with native
        bfloat16 (0.15 s against 0.27 s for a 640×360 frame on one thread here), with pixels as
        close to float32's as autocast's (BENCHMARKS.md)."""
        if precision != "bf16":
            return self.net
        if self._bf16 is None:
            import copy

            self._bf16 = copy.deepcopy(self.net).to(torch.bfloat16).eval().requires_grad_(False)
        return self._bf16


def template_state(widths: tuple[int, ...], blocks: int, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """The weights a network of this shape holds, as empty ``meta`` tensors of ``dtype``."""
    with torch.device("meta"):
        net = StyleNet(tuple(widths), blocks)
    return {k: v.to(dtype) for k, v in net.state_dict().items()}


def save_model(path: str | os.PathLike[str], net: StyleNet, card: dict, half: bool = False) -> None:
    """Write ``net`` with its ``card`` to ``path`` atomically (``half``: weights as float16, half the size)."""
    dtype = torch.float16 if half else torch.float32
    state = {k: v.detach().cpu().to(dtype).contiguous() for k, v in net.state_dict().items()}
    payload = {"widths": list(net.widths), "blocks": net.blocks, "dtype": str(dtype).removeprefix("torch."),
               "card": card, "state": state}  # fmt: skip
    save_checkpoint(path, MODEL_KIND, MODEL_VERSION, payload)


def load_model(path: str | os.PathLike[str], device: torch.device | str = "cpu") -> StyleModel:
    """Read, check and build the style network in ``path``; anything wrong is a :class:`UserError`."""
    path = input_file(path, "a style network file (.pt)", "style network")
    data = load_checkpoint(path, MODEL_KIND, MODEL_VERSION)
    validate(path, data, SHAPE)
    widths, blocks = tuple(data["widths"]), data["blocks"]
    validate(path, data, SCHEMA, {"template": template_state(widths, blocks, DTYPES[data["dtype"]])})
    net = StyleNet(widths, blocks)
    try:
        net.load_state_dict({k: v.float() for k, v in data["state"].items()}, strict=True)
    except RuntimeError as exc:  # the schema matched the names and shapes; this is a safety net
        raise UserError(f"{path}: the weights do not fit the network ({str(exc).splitlines()[0]})") from None
    return StyleModel(net.to(device).eval(), dict(data["card"]), str(path))
