"""Seeding and random-state capture, so runs and resumed runs are reproducible."""

from __future__ import annotations

import random

import numpy as np


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy's legacy global state and torch; return a fresh NumPy generator."""
    import torch  # here, so the parts that need only derive_seed (the grid world, Ray workers) load no torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def derive_seed(*keys: int) -> int:
    """A 31-bit seed derived from integer keys (e.g. ``(seed, purpose, index)``)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1)[0] & 0x7FFFFFFF)


def rng_state(rng: np.random.Generator) -> dict:
    """The state of a NumPy generator as plain Python values (safe for ``weights_only``)."""
    return rng.bit_generator.state


def set_rng_state(rng: np.random.Generator, state: dict) -> None:
    rng.bit_generator.state = state
