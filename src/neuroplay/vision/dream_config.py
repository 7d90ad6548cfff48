"""The settings of a Deep Dream and the records it hands back (no torch import).

:class:`DreamConfig` holds every setting and checks them on construction; :class:`DreamProgress`
is what the progress callback hears and :class:`DreamResult` what
:func:`~neuroplay.vision.dream.dream` returns. Importing this module costs no torch, so the
command line reads the defaults at once: a dataclass's defaults are its class attributes
(``DreamConfig.octaves``). The network's layers are looked up (importing torch) only when a
config is built.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from neuroplay.common.bounds import SEED_MAX, THREADS_MAX, in_range
from neuroplay.common.errors import UserError, check
from neuroplay.common.runtime import DEVICES, PRECISIONS

if TYPE_CHECKING:
    import torch

MIN_FEATURE_SIDE = 4  # the deepest layer's map must be at least 4×4 at the smallest octave
MAX_PIXELS = 64_000_000  # about 8000×8000; a float copy of that is already 768 MB
MAX_SIDE = 16384

LayerSpec = str | Sequence[str] | Mapping[str, float] | Sequence[tuple[str, float]]
ChannelSpec = Mapping[str, Sequence[int]] | Sequence[tuple[str, Sequence[int]]]


def _layer_pairs(layers: LayerSpec) -> tuple[tuple[str, float], ...]:
    if isinstance(layers, str):
        layers = [layers]
    items = layers.items() if isinstance(layers, Mapping) else layers
    pairs = []
    for item in items:
        name, weight = (item, 1.0) if isinstance(item, str) else item
        pairs.append((str(name), float(weight)))
    return tuple(pairs)


def _channel_pairs(channels: ChannelSpec) -> tuple[tuple[str, tuple[int, ...]], ...]:
    items = channels.items() if isinstance(channels, Mapping) else channels
    return tuple((str(name), tuple(dict.fromkeys(int(c) for c in chans))) for name, chans in items)


@dataclass(frozen=True)
class DreamConfig:
    """Every setting of a dream. Invalid values raise :class:`UserError` on construction.

    Args:
        layers: where to dream: a name (``"relu4_3"``), names, or ``{name: weight}`` /
            ``[(name, weight)]``; see :func:`~neuroplay.vision.features.layer_names`. Low layers
            amplify strokes and textures, high ones eyes, fur and faces. A negative weight damps.
        channels: for some of those layers only these channels, ``{"relu4_3": (12, 87)}``.
        octaves: how many scales to dream at; ``octave_scale``: the size ratio between them.
        steps: gradient steps per octave; ``step_size``: the mean change per step and pixel
            (in ``[0, 1]`` units) of the normalised gradient.
        jitter: largest random roll per step, in pixels (0: none).
        tile_size: the largest tile side the gradient is computed on; an image that fits is not
            split. Memory for forward+backward to ``relu4_3`` is about 1.5 GB at 1024×1024.
        max_size: the input is shrunk (never enlarged) so its longer side is at most this;
            ``None`` keeps its size (up to :data:`MAX_PIXELS`).
        guide_size: the guide image's longer side when its features are taken.
        zoom_frames: frames of the zoom animation (0: no animation); the first is the dream.
        zoom: how much each frame zooms in; ``zoom_steps``: dream steps per frame after the
            first (default: half of ``steps``); ``fps``: animation speed.
        network: ``vgg16`` (offline) or ``vgg19`` (downloaded).
        seed: the jitter offsets; the same seed gives the same dream.
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
        precision: ``fp32``, or ``bf16`` (the network runs in bfloat16 under autocast: about twice
            as fast on CPUs with native bfloat16 and on GPUs, while the image and its update stay
            float32); ``auto`` picks ``bf16`` where the hardware has it, else ``fp32``.
        threads: CPU threads for torch during the dream (default: torch's, at most the CPUs
            this process may use).
    """

    layers: LayerSpec = (("relu4_3", 1.0),)
    channels: ChannelSpec = ()
    octaves: int = 4
    octave_scale: float = 1.4
    steps: int = 10
    step_size: float = 0.006
    jitter: int = 32
    tile_size: int = 1024
    max_size: int | None = 1024
    guide_size: int = 384
    zoom_frames: int = 0
    zoom: float = 1.05
    zoom_steps: int | None = None
    fps: float = 12.0
    network: str = "vgg16"
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    threads: int | None = None
    _names: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # torch comes with the network's layer tables: only when a config is built
        from neuroplay.vision.features import layer_channels, layer_names
        from neuroplay.vision.tiling import min_tile_size
        from neuroplay.vision.weights import get_network

        get_network(self.network)
        try:
            pairs = _layer_pairs(self.layers)
            channel_pairs = _channel_pairs(self.channels)
        except (TypeError, ValueError):
            raise UserError("layers must be names with optional weights, channels whole numbers") from None
        object.__setattr__(self, "layers", pairs)
        object.__setattr__(self, "channels", channel_pairs)
        names = tuple(name for name, _ in pairs)
        object.__setattr__(self, "_names", names)
        known = layer_names(self.network)
        check(bool(names), "choose at least one layer to dream on")
        unknown = [name for name in names if name not in known]
        if unknown:
            raise UserError(f"unknown {self.network} layer {unknown[0]!r}; choose from: {', '.join(known)}")
        check(len(set(names)) == len(names), f"a layer is named twice in {', '.join(names)}")
        for name, weight in pairs:
            check(
                math.isfinite(weight) and weight != 0, f"layer {name}'s weight must be a non-zero number, got {weight}"
            )
        counts = layer_channels(self.network)
        for name, chans in channel_pairs:
            check(name in names, f"channels given for {name}, which is not a dream layer ({', '.join(names)})")
            check(bool(chans), f"no channels given for {name}")
            bad = [c for c in chans if not 0 <= c < counts[name]]
            if bad:
                raise UserError(f"{name} has channels 0..{counts[name] - 1}; there is no channel {bad[0]}")
        check(len({name for name, _ in channel_pairs}) == len(channel_pairs), "channels are given twice for one layer")
        in_range("octaves", self.octaves, 1, 12)
        in_range("octave scale", self.octave_scale, 1.0, 4.0, open_lo=True)
        in_range("steps", self.steps, 1, 10_000)
        in_range("step size", self.step_size, 0.0, 1.0, open_lo=True)
        in_range("jitter", self.jitter, 0, 1024)
        in_range("tile size", self.tile_size, min_tile_size(names, self.network), MAX_SIDE)
        if self.max_size is not None:
            in_range("max size", self.max_size, 16, MAX_SIDE)
        in_range("guide size", self.guide_size, 16, 4096)
        in_range("zoom frames", self.zoom_frames, 0, 10_000)
        in_range("zoom", self.zoom, 1.0, 2.0, open_lo=True)
        if self.zoom_steps is not None:
            in_range("zoom steps", self.zoom_steps, 1, 10_000)
        in_range("fps", self.fps, 0.0, 100.0, open_lo=True)
        check(self.device in DEVICES, f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        check(self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        in_range("threads", self.threads, 1, THREADS_MAX)
        in_range("seed", self.seed, 0, SEED_MAX)

    @property
    def layer_names(self) -> tuple[str, ...]:
        """The dream layers' names, in order."""
        return self._names

    @property
    def frame_steps(self) -> int:
        """Steps per zoom frame after the first."""
        return self.zoom_steps if self.zoom_steps is not None else max(1, self.steps // 2)

    @property
    def min_side(self) -> int:
        """The fewest pixels the smallest octave needs per side: the deepest layer's map must
        be at least :data:`MIN_FEATURE_SIDE` units across."""
        from neuroplay.vision.features import layer_scale

        return MIN_FEATURE_SIDE * max(layer_scale(name) for name in self._names)

    def as_dict(self) -> dict:
        """Every setting, JSON-ready."""
        out = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        out["layers"] = {name: weight for name, weight in self.layers}
        out["channels"] = {name: list(chans) for name, chans in self.channels}
        out["zoom_steps"] = self.frame_steps
        return out


@dataclass(frozen=True)
class DreamProgress:
    """What the callback hears after each step. ``frame`` is 0 for the dream itself, then one
    per zoom frame; ``octave`` counts from 1 (smallest) to ``octaves``."""

    frame: int
    frames: int
    octave: int
    octaves: int
    step: int
    steps: int
    size: tuple[int, int]  # (height, width) being dreamed
    done: int  # steps done in all
    total: int
    objective: float
    image: torch.Tensor | None = None  # the image so far (CPU, 1×3×h×w) after an octave's or frame's last step


@dataclass
class DreamResult:
    """The dream (``1×3×H×W`` on the CPU, in [0, 1]), the zoom frames (empty unless asked;
    the first is ``image``), the octave sizes (largest first), how many tiles the full-size
    octave needed, the final objective value and the time taken."""

    image: torch.Tensor
    frames: list[torch.Tensor]
    octave_sizes: list[tuple[int, int]]
    tiles: int
    objective: float
    wall_seconds: float
    device: str
    precision: str
    interrupted: bool = False  # should_stop() ended it early
