"""The style networks that ship in the package: ``builtin:NAME`` wherever a model file is expected.

Each is a float16 model file in ``models/`` beside its model card (``NAME.md``: the painting, the
photos it trained on and their terms, the steps, the losses, the wall time), pinned here by the
sha256 of its bytes: :func:`load_builtin` refuses a file that does not match, and
``neuroplay weights list|verify`` re-checks them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from neuroplay.common.errors import UserError

BUILTIN_PREFIX = "builtin:"
MODELS = Path(__file__).with_name("models")


@dataclass(frozen=True)
class Builtin:
    """One shipped network: its name, the painting it learned, and the sha256 of its file."""

    name: str
    style: str  # the painting, its painter and year
    sha256: str

    @property
    def path(self) -> Path:
        return MODELS / f"{self.name}.pt"

    @property
    def card_path(self) -> Path:
        return MODELS / f"{self.name}.md"


# the sha256 of each shipped file's bytes (the files are written once, by the training run's export)
SHA256 = {
    "starry-night": "aba97b1185876103f9a0aab1c44c865c7724e877328a4700fef55ec07b6ccee4",
    "the-scream": "dc0b98653645d6a3460175d3d95859c34da28ddd3b6a023b8d42bc15f2c222f6",
}
BUILTINS = {
    b.name: b
    for b in (
        Builtin("starry-night", "The Starry Night, Vincent van Gogh, 1889 (public domain)", SHA256["starry-night"]),
        Builtin("the-scream", "The Scream, Edvard Munch, 1893 (public domain)", SHA256["the-scream"]),
    )
}


def get_builtin(name: str) -> Builtin:
    """The shipped network ``name``; an unknown name is a :class:`UserError` listing the others."""
    if name not in BUILTINS:
        raise UserError(f"no built-in style network {name!r}; choose from: {', '.join(BUILTINS)}")
    return BUILTINS[name]


def _verified_path(b: Builtin) -> Path:
    from neuroplay.vision.weight_sources import sha256_file

    if not b.path.is_file():
        raise UserError(f"the built-in style network {b.path} is missing; reinstall neuroplay")
    digest = sha256_file(b.path)
    if digest != b.sha256:
        raise UserError(f"the built-in style network {b.path} is damaged (sha256 {digest[:16]}..., "
                        f"expected {b.sha256[:16]}...); reinstall neuroplay")  # fmt: skip
    return b.path


def load_builtin(name: str, device: torch.device | str = "cpu"):
    """The shipped network ``name``, its file checked against its pinned sha256, then loaded and checked
    like any model file (a :class:`~neuroplay.vision.stylenet.model_file.StyleModel`)."""
    from neuroplay.vision.stylenet.model_file import load_model

    b = get_builtin(name)
    model = load_model(_verified_path(b), device)
    model.source = f"{BUILTIN_PREFIX}{name}"
    return model


def builtin_list() -> list[dict]:
    """``[{"name", "style", "spec", "path", "card", ...}]``: each shipped network and what its card says."""
    rows = []
    for b in BUILTINS.values():
        row = {"name": b.name, "style": b.style, "spec": f"{BUILTIN_PREFIX}{b.name}", "path": str(b.path),
               "card": str(b.card_path), "sha256": b.sha256}  # fmt: skip
        try:
            card = load_builtin(b.name).card
            row.update(ok=True, steps=card.get("steps"), train_seconds=card.get("seconds"),
                       losses=card.get("final_losses_mean_last_50"))  # fmt: skip
        except UserError as exc:
            row.update(ok=False, problem=str(exc))
        rows.append(row)
    return rows


def builtin_status() -> list:
    """Each shipped network as a row of ``neuroplay weights list|verify``
    (:class:`~neuroplay.vision.weights.WeightsStatus`)."""
    from neuroplay.vision.weights import WeightsStatus

    rows = []
    for b in BUILTINS.values():
        problem, params = None, 0
        try:
            params = sum(p.numel() for p in load_builtin(b.name).net.parameters())
        except UserError as exc:
            problem = str(exc)
        rows.append(
            WeightsStatus(
                name=f"stylenet:{b.name}",
                source=f"neuroplay package: trained on {b.style} (model card: {b.card_path.name})",
                params=params,
                path=b.path,
                cached=b.path.is_file(),
                verified=problem is None,
                cache_problem=problem,
                source_state="ok" if problem is None else "tampered",
                source_problem=None,
            )
        )
    return rows
