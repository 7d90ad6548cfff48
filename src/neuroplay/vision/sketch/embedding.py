"""A sketch–photo embedding learned from real drawings: where drawings and photos of one object meet.

The descriptors of :mod:`~neuroplay.vision.sketch.descriptors` compare a drawing with a photo's
*edge map*; none of their parts ever saw a drawing. This embedding was trained on drawings people
made of photos (:mod:`~neuroplay.vision.sketch.embedding_train`). Both sides go through the same
frozen ImageNet VGG16 (:class:`FeatureEncoder`):

- a photo, in colour, squashed to ``FRAME×FRAME``;
- a drawing's lines (:func:`drawing_frame`: the one-pixel lines of
  :func:`~neuroplay.vision.sketch.lines.sketch_edges`, a little thickened, framed by
  :func:`~neuroplay.vision.sketch.pairs.frame_drawing`), dark on white;

each described by the mean and the maximum over the image of ``relu4_3`` and ``relu5_3``
(2048 numbers). The learned part (:class:`SketchEmbedding`) is small: standardise the 2048
numbers, one linear map to ``dim`` numbers, L2-normalise; one map for both sides, so a drawing
and its photo land near each other.

The gallery index keeps each photo's 2048 features (not the embedding), so another model
(``--model``) needs no re-indexing; a query is described once, as drawn, and its cosine with a
photo serves the search's mirrored view as well: pooled features hardly change when a picture is
mirrored, and training sees each photo mirrored too. Model files
are checkpoints of kind ``MODEL_KIND`` holding a sha256 of their own numbers;
:func:`load_embedding` checks kind, shapes, finiteness and that sum before anything is used, and
the built-in model is checked against :data:`BUILTIN_SHA256`.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from neuroplay.common.checkpoint import load_checkpoint, save_checkpoint
from neuroplay.common.errors import UserError
from neuroplay.common.io import input_file
from neuroplay.vision.sketch.pairs import frame_drawing

MODEL_KIND = "neuroplay-sketch-embedding"
MODEL_VERSION = 1
LAYERS = ("relu4_3", "relu5_3")
FRAME = 128  # side of the square both sides are described at
FEATURES = 2 * sum(512 for _ in LAYERS)  # mean and max of each layer's 512 channels
SIGNATURE = f"vgg16:{'+'.join(LAYERS)}:mean+max:{FRAME}"  # what the index's embedding features depend on
LINE_SIZE = 256  # longer side of the drawing's one-pixel lines before framing
BUILTIN = Path(__file__).with_name("models") / "sketch-embedding.pt"
BUILTIN_SHA256 = "bce81dc3814178035da701298e12e8e6ad23b7947dc9cfd61f34324b42405d90"


def drawing_frame(sketch: np.ndarray | torch.Tensor, rng: np.random.Generator | None = None) -> np.ndarray:
    """A drawing (anything :func:`~neuroplay.vision.sketch.lines.sketch_edges` reads) as the
    embedding sees it: ``FRAME×FRAME`` float gray, its lines dark on white; with ``rng``, redrawn
    as another person might have (:func:`~neuroplay.vision.sketch.pairs.augment_ink`)."""
    from neuroplay.vision.sketch.lines import sketch_edges

    return lines_frame(sketch_edges(sketch, LINE_SIZE), rng)


def lines_frame(lines: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """:func:`drawing_frame` of a drawing's one-pixel lines (longer side :data:`LINE_SIZE`)."""
    return frame_drawing(ndimage.binary_dilation(lines), FRAME, rng)


def photo_frame(image: torch.Tensor) -> torch.Tensor:
    """A photo (``3×H×W`` or ``1×3×H×W`` float RGB in [0, 1]) squashed to ``3×FRAME×FRAME``."""
    batch = image.reshape(1, 3, *image.shape[-2:]).float()
    return F.interpolate(batch, size=(FRAME, FRAME), mode="bilinear", antialias=True)[0].clamp(0, 1)


class FeatureEncoder:
    """The frozen VGG16 both sides are described with (built on first use, kept per device).
    ``precision``: ``fp32``, ``bf16`` or ``auto`` (bfloat16 where the hardware computes it
    natively: half the time here, features within 0.5% of float32's)."""

    def __init__(self, device: torch.device | str = "cpu", precision: str = "auto"):
        from neuroplay.common.runtime import resolve_precision

        self.device = device
        self.bf16 = resolve_precision(precision, torch.device(device)) == "bf16"
        self._net = None

    def _features(self, batch: torch.Tensor) -> np.ndarray:
        if self._net is None:
            self._net = _network(str(self.device))
        device_type = torch.device(self.device).type
        with torch.inference_mode(), torch.autocast(device_type, dtype=torch.bfloat16, enabled=self.bf16):
            maps = self._net(batch.to(self.device))
        parts = []
        for name in LAYERS:
            parts += [maps[name].float().mean((2, 3)), maps[name].float().amax((2, 3))]
        return torch.cat(parts, 1).float().cpu().numpy()

    def photos(self, frames: list[torch.Tensor], mirror: bool = True) -> np.ndarray:
        """``N×2×FEATURES``: each photo frame (:func:`photo_frame`) as it is and mirrored
        (``mirror=False``: ``N×1×FEATURES``, as it is)."""
        views = 2 if mirror else 1
        if not frames:
            return np.zeros((0, views, FEATURES), np.float32)
        batch = torch.stack(frames)
        both = self._features(torch.cat([batch, batch.flip(-1)]) if mirror else batch)
        return np.stack([both[k * len(frames) : (k + 1) * len(frames)] for k in range(views)], 1)

    def drawings(self, frames: list[np.ndarray]) -> np.ndarray:
        """``N×FEATURES``: each drawing frame (:func:`drawing_frame`)."""
        if not frames:
            return np.zeros((0, FEATURES), np.float32)
        gray = torch.from_numpy(np.stack(frames).astype(np.float32))[:, None]
        return self._features(gray.expand(-1, 3, -1, -1).contiguous())


@lru_cache(maxsize=2)
def photo_encoder(device: torch.device | str = "cpu", precision: str = "auto") -> FeatureEncoder:
    """One :class:`FeatureEncoder` per device, shared by indexing and search."""
    return FeatureEncoder(device, precision)


@lru_cache(maxsize=2)
def _network(device: str):
    from neuroplay.vision.features import VGGFeatures

    return VGGFeatures(LAYERS, device=device)


@dataclass
class SketchEmbedding:
    """The learned map: ``(features - mean) / std`` through ``weight`` (``dim×FEATURES``) and
    ``bias``, L2-normalised. ``fusion`` is the weight its z-scored cosine gets beside the
    descriptors' in a search; ``card`` what it was trained on and how well it did."""

    weight: torch.Tensor
    bias: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    fusion: float = 2.0
    card: dict = field(default_factory=dict)
    source: str = "untrained"

    @property
    def dim(self) -> int:
        return int(self.weight.shape[0])

    def embed(self, features: np.ndarray | torch.Tensor) -> torch.Tensor:
        """``...×FEATURES`` -> ``...×dim`` unit vectors."""
        x = torch.as_tensor(np.asarray(features, np.float32))
        return F.normalize(((x - self.mean) / self.std) @ self.weight.T + self.bias, dim=-1)

    def scores(self, photo_features: np.ndarray, drawing_features: np.ndarray) -> np.ndarray:
        """Cosines ``V×N`` of one drawing's features (``FEATURES`` or ``1×FEATURES``) against
        photo features, ``N×V×FEATURES`` (each photo in ``V`` views: as it is, mirrored) or
        ``N×FEATURES`` (``V`` = 1)."""
        photos = np.asarray(photo_features, np.float32)
        photos = photos[:, None] if photos.ndim == 2 else photos
        if len(photos) == 0:
            return np.zeros((photos.shape[1], 0))
        return self.cosines(self.embed(photos), drawing_features)

    def cosines(self, photo_embedded: torch.Tensor, drawing_features: np.ndarray) -> np.ndarray:
        """:meth:`scores` of photos already through :meth:`embed` (``N×V×dim``)."""
        drawing = self.embed(np.asarray(drawing_features, np.float32).reshape(-1))
        return (photo_embedded @ drawing).T.numpy()

    def state(self) -> dict:
        tensors = {k: getattr(self, k).contiguous().float() for k in ("weight", "bias", "mean", "std")}
        return {**tensors, "fusion": float(self.fusion), "card": self.card, "signature": SIGNATURE}


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in ("weight", "bias", "mean", "std"):
        digest.update(name.encode())
        digest.update(tensors[name].contiguous().numpy().astype("<f4").tobytes())
    return digest.hexdigest()


def save_embedding(path: str | os.PathLike[str], model: SketchEmbedding, half: bool = False) -> None:
    """Write ``model`` (``half``: its numbers as float16, half the size) with a sha256 of them."""
    state = model.state()
    tensors = {k: state[k].half().float() if half else state[k] for k in ("weight", "bias", "mean", "std")}
    stored = {k: v.half() if half else v for k, v in tensors.items()}
    save_checkpoint(path, MODEL_KIND, MODEL_VERSION, {**state, **stored, "sha256": _digest(tensors)})


def load_embedding(path: str | os.PathLike[str]) -> SketchEmbedding:
    """Read and check a model file: kind, version, every tensor's shape, finite numbers and the
    sha256 written with them. Anything else is a :class:`UserError` naming the file."""
    data = load_checkpoint(input_file(path, "a model file", "sketch embedding model"), MODEL_KIND, MODEL_VERSION)
    where = f"{path} (a {MODEL_KIND} file)"
    tensors = {}
    for name in ("weight", "bias", "mean", "std"):
        value = data.get(name)
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            raise UserError(f"{where} has no {name} tensor")
        tensors[name] = value.float()
    dim = tensors["weight"].shape[0] if tensors["weight"].ndim == 2 else 0
    expected = {"weight": (dim, FEATURES), "bias": (dim,), "mean": (FEATURES,), "std": (FEATURES,)}
    for name, shape in expected.items():
        if not 1 <= dim <= 4096 or tuple(tensors[name].shape) != shape:
            raise UserError(f"{where} has {name} of shape {tuple(tensors[name].shape)}, expected {shape}")
        if not torch.isfinite(tensors[name]).all():
            raise UserError(f"{where} holds NaN or infinite numbers in {name}")
    if (tensors["std"] <= 0).any():
        raise UserError(f"{where} has a non-positive std")
    if data.get("signature") != SIGNATURE:
        raise UserError(f"{where} was made for features {data.get('signature')!r}, this neuroplay uses {SIGNATURE!r}")
    if data.get("sha256") != _digest(tensors):
        raise UserError(f"{where} is damaged: its numbers do not match the sha256 written with them")
    fusion = data.get("fusion")
    if not isinstance(fusion, float) or not 0 <= fusion <= 100:
        raise UserError(f"{where} has an invalid fusion weight {fusion!r}")
    card = data.get("card") if isinstance(data.get("card"), dict) else {}
    return SketchEmbedding(**tensors, fusion=fusion, card=card, source=str(path))


def file_sha256(path: str | os.PathLike[str]) -> str:
    from neuroplay.vision.weight_sources import sha256_file

    return sha256_file(path)


def builtin_embedding() -> SketchEmbedding | None:
    """The model that ships in the package, checked against :data:`BUILTIN_SHA256`; ``None``
    when this neuroplay ships none."""
    if not BUILTIN_SHA256:
        return None
    if not BUILTIN.is_file():
        raise UserError(f"the built-in sketch embedding {BUILTIN} is missing; reinstall neuroplay (or --model none)")
    digest = file_sha256(BUILTIN)
    if digest != BUILTIN_SHA256:
        raise UserError(
            f"the built-in sketch embedding {BUILTIN} is damaged (sha256 {digest[:16]}..., expected "
            f"{BUILTIN_SHA256[:16]}...); reinstall neuroplay (or pass --model none)"
        )
    model = load_embedding(BUILTIN)
    model.source = "builtin"
    return model


def resolve_embedding(model: str | os.PathLike[str] | SketchEmbedding | None) -> SketchEmbedding | None:
    """``None`` or ``"builtin"``: the built-in model; ``"none"``: no embedding; a path: that file."""
    if isinstance(model, SketchEmbedding):
        return model
    if model is None or str(model) == "builtin":
        return builtin_embedding()
    if str(model) == "none":
        return None
    return load_embedding(model)


def builtin_status():
    """The built-in model as a row of ``neuroplay weights list|verify``
    (a :class:`~neuroplay.vision.weights.WeightsStatus`)."""
    from neuroplay.vision.weights import WeightsStatus

    problem = None
    params = 0
    if not BUILTIN.is_file():
        problem = f"{BUILTIN} is missing; reinstall neuroplay"
    else:
        try:
            model = builtin_embedding()
            params = model.weight.numel() + model.bias.numel() if model is not None else 0
        except UserError as exc:
            problem = str(exc)
    return WeightsStatus(
        name="sketch",
        source="neuroplay package: trained on Sketchy pairs (model card: sketch-embedding.md)",
        params=params,
        path=BUILTIN,
        cached=BUILTIN.is_file(),
        verified=problem is None,
        cache_problem=problem,
        source_state="ok" if problem is None else "tampered",
        source_problem=None,
    )
