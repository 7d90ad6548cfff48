"""The bird worth keeping: a :class:`Champion`, its file ``champion.pt``, and how it flies fresh courses."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from neuroplay.common.checkpoint import load_checkpoint, save_checkpoint
from neuroplay.common.schema import Dict, Dims, Int, List, Tensor, validate
from neuroplay.common.seeding import derive_seed
from neuroplay.evo.config import EvolveConfig
from neuroplay.evo.population import MLPShape, fly

CHAMPION_KIND = "neuroplay.evo.champion"
CHAMPION_VERSION = 1  # champion files (unchanged, so older champions still load)
EVAL_STREAM = 4  # derive_seed(seed, EVAL_STREAM, k): the courses of evaluate_champion
MAX_PIPES = 10**8  # more pipes than any course is flown for


def _n_params(dims: Dims) -> int:
    return MLPShape(dims["sizes"]).n_params


# what Champion.to_dict writes (in champion.pt, and twice in a run's checkpoint): layer sizes as an
# EvolveConfig allows them (3 inputs, 1 to 16 hidden layers of 1..4096, 1 output), and a genome of
# exactly the weights those sizes need, all finite
CHAMPION_SCHEMA = Dict(
    {
        "sizes": List(Int(1, 4096), min_len=3, max_len=18, bind="sizes"),
        "genome": Tensor(torch.float64, (_n_params,)),
        "generation": Int(0, 10**8),
        "train_pipes": List(Int(0, MAX_PIPES), min_len=1),
        "validation_pipes": List(Int(0, MAX_PIPES)),
    },
    checks=(
        (
            lambda v, d: v["sizes"][0] == 3 and v["sizes"][-1] == 1,
            "sizes must be 3 inputs, then hidden layers, then 1 output",
        ),
    ),
)


@dataclass
class Champion:
    """A bird worth keeping: its genome and how it did."""

    genome: np.ndarray
    sizes: tuple[int, ...]
    generation: int
    train_pipes: list[int]
    validation_pipes: list[int] = field(default_factory=list)

    @property
    def score(self) -> tuple:
        """Sort key of champions: validated birds first (by their worst course), then training pipes."""
        v = min(self.validation_pipes) if self.validation_pipes else -1
        return (v, min(self.train_pipes))

    def to_dict(self) -> dict:
        """Plain tensors and lists, as a checkpoint stores them."""
        return {
            "genome": torch.from_numpy(self.genome.copy()),
            "sizes": list(self.sizes),
            "generation": self.generation,
            "train_pipes": list(self.train_pipes),
            "validation_pipes": list(self.validation_pipes),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Champion:
        """The inverse of :meth:`to_dict`."""
        return cls(
            d["genome"].numpy().copy(),
            tuple(d["sizes"]),
            int(d["generation"]),
            list(d["train_pipes"]),
            list(d["validation_pipes"]),
        )

    @property
    def shape(self) -> MLPShape:
        """The layout of its network."""
        return MLPShape(self.sizes)

    def policy(self) -> Callable[[np.ndarray], np.ndarray]:
        """``obs (n, 3) -> flap (n,)`` for any number of copies of this bird."""
        shape = self.shape

        def act(obs: np.ndarray) -> np.ndarray:
            layers = shape.unpack(np.repeat(self.genome[None, :], len(obs), axis=0))
            return shape.flap(layers, obs)

        return act


def save_champion(path: str | os.PathLike[str], champion: Champion, config: EvolveConfig) -> None:
    """Write ``champion`` and the settings that bred it to ``path`` (atomically)."""
    save_checkpoint(path, CHAMPION_KIND, CHAMPION_VERSION, {"champion": champion.to_dict(), "config": config.to_dict()})


def load_champion(path: str | os.PathLike[str]) -> Champion:
    """Load ``champion.pt`` (or a run directory holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / "champion.pt"
    data = load_checkpoint(path, CHAMPION_KIND, CHAMPION_VERSION)
    validate(path, data, Dict({"champion": CHAMPION_SCHEMA}))
    return Champion.from_dict(data["champion"])


def evaluate_champion(champion: Champion, courses: int, max_pipes: int, seed: int) -> np.ndarray:
    """Pipes passed by the champion on ``courses`` fresh courses (capped at ``max_pipes``)."""
    seeds = [derive_seed(seed, EVAL_STREAM, k) for k in range(courses)]
    return fly(champion.shape, champion.genome[None, :], seeds, max_pipes)[1][0]
