"""Genetic operators on a genome matrix (one row per bird).

All take an explicit NumPy generator, so a run is reproducible from its seed.
"""

from __future__ import annotations

import numpy as np

from neuroplay.evo.population import MLPShape


def roulette(fitness: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` indices drawn with probability proportional to fitness (fitness-proportional
    selection). Negative fitness counts as zero; if every bird scores zero, all are equal."""
    f = np.clip(np.asarray(fitness, dtype=float), 0.0, None)
    total = f.sum()
    if total <= 0:
        return rng.integers(0, len(f), size=n)
    return np.minimum(np.searchsorted(np.cumsum(f) / total, rng.random(n), side="right"), len(f) - 1)


def tournament(fitness: np.ndarray, n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` indices, each the fittest of ``size`` birds drawn at random."""
    entrants = rng.integers(0, len(fitness), size=(n, size))
    return entrants[np.arange(n), np.argmax(np.asarray(fitness)[entrants], axis=1)]


def swap_first_layer(shape: MLPShape, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The original crossover: two children, each a copy of one parent with the other
    parent's first-layer kernel. Works row-wise on batches of parent pairs."""
    w = shape.slices[0][0]
    child_a, child_b = a.copy(), b.copy()
    child_a[..., w], child_b[..., w] = b[..., w], a[..., w]
    return child_a, child_b


def mutate_uniform(genomes: np.ndarray, rate: float, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Each weight, with probability ``rate``, moves by a uniform value in ``[-scale, scale]``."""
    hit = rng.random(genomes.shape) < rate
    return genomes + hit * rng.uniform(-scale, scale, size=genomes.shape)


def mutate_gaussian(genomes: np.ndarray, rate: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Each weight, with probability ``rate``, moves by a Gaussian step of std ``sigma``."""
    hit = rng.random(genomes.shape) < rate
    return genomes + hit * rng.normal(0.0, sigma, size=genomes.shape)


def _height_gap(shape: MLPShape) -> tuple[slice, slice]:
    """Where the first layer's weights from the height input (0) and the gap input (2) sit."""
    w, hidden = shape.slices[0][0], shape.sizes[1]
    return slice(w.start, w.start + hidden), slice(w.start + 2 * hidden, w.start + 3 * hidden)


def oppose_height_gap(shape: MLPShape, genomes: np.ndarray) -> np.ndarray:
    """Set each hidden unit's gap weight to minus its height weight (in place), so every unit
    starts out seeing the bird's height *relative to* the gap."""
    h, g = _height_gap(shape)
    genomes[:, g] = -genomes[:, h]
    return genomes


def couple_height_gap(shape: MLPShape, before: np.ndarray, after: np.ndarray, sum_scale: float = 0.1) -> np.ndarray:
    """Re-express a mutation of the height and gap weights as a change of their difference
    (kept whole) and of their sum (scaled by ``sum_scale``): a bird's sense of height relative
    to the gap changes freely, its sense of absolute height only a little."""
    h, g = _height_gap(shape)
    dh, dg = after[:, h] - before[:, h], after[:, g] - before[:, g]
    diff, total = (dh - dg) / 2, (dh + dg) / 2 * sum_scale
    out = after.copy()
    out[:, h] = before[:, h] + diff + total
    out[:, g] = before[:, g] - diff + total
    return out
