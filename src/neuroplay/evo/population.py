"""A population of tiny MLPs stored as one genome matrix, and flying it through courses.

Genome row ``i`` holds bird ``i``'s weights, layer by layer (kernel, then bias). For flying,
the matrix is unpacked into per-layer arrays of shape ``(n, in, out)`` so one frame of the
whole population is one batched matrix product per layer, never a loop over birds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from neuroplay.evo.flappy.world import Course, World


@dataclass(frozen=True)
class MLPShape:
    """Layer sizes, e.g. ``(3, 7, 1)``: sigmoid hidden units, one sigmoid output (flap > 0.5)."""

    sizes: tuple[int, ...] = (3, 7, 1)

    @cached_property
    def slices(self) -> list[tuple[slice, slice]]:
        out, pos = [], 0
        for a, b in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            w = slice(pos, pos + a * b)
            pos += a * b
            out.append((w, slice(pos, pos + b)))
            pos += b
        return out

    @property
    def n_params(self) -> int:
        return self.slices[-1][1].stop

    def init(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Glorot-uniform kernels and zero biases (Keras' defaults, as in the original)."""
        genomes = np.zeros((n, self.n_params))
        for (w, _), a, b in zip(self.slices, self.sizes[:-1], self.sizes[1:], strict=True):
            limit = np.sqrt(6.0 / (a + b))
            genomes[:, w] = rng.uniform(-limit, limit, size=(n, a * b))
        return genomes

    def unpack(self, genomes: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per-layer ``(kernels (n, in, out), biases (n, out))`` as contiguous float32 copies:
        flying needs no more precision, and float32 halves the memory traffic of a frame."""
        n = len(genomes)
        return [
            (
                np.ascontiguousarray(genomes[:, w], dtype=np.float32).reshape(n, a, b),
                np.ascontiguousarray(genomes[:, bias], dtype=np.float32),
            )
            for (w, bias), a, b in zip(self.slices, self.sizes[:-1], self.sizes[1:], strict=True)
        ]

    @staticmethod
    def output(layers: list[tuple[np.ndarray, np.ndarray]], obs: np.ndarray) -> np.ndarray:
        """The output *before* the final sigmoid, shape ``(n, out)``: one batched product per layer."""
        h = np.asarray(obs, dtype=np.float32)
        for i, (w, b) in enumerate(layers):
            h = np.einsum("ni,nio->no", h, w)
            h += b
            if i < len(layers) - 1:  # the logistic sigmoid, as 0.5 + 0.5·tanh(x/2): no overflow
                h *= 0.5
                np.tanh(h, out=h)
                h *= 0.5
                h += 0.5
        return h

    @classmethod
    def flap(cls, layers, obs: np.ndarray) -> np.ndarray:
        # sigmoid(z) > 0.5 exactly when z > 0, so the last sigmoid need not be computed
        return cls.output(layers, obs)[:, 0] > 0.0


def fly(
    shape: MLPShape,
    genomes: np.ndarray,
    courses: list[int | Course],
    max_pipes: int,
    max_frames: int | None = None,
    stop_at_first_death: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fly every genome on every course (a course or its seed; all in one batched world) until
    each bird dies or passes ``max_pipes``. Returns ``(frames, pipes, miss)``, each of shape
    ``(n_genomes, n_courses)``; ``miss`` is how far from the gap's centre a bird died (px).
    ``stop_at_first_death`` stops a genome as soon as it dies on any course (a pass/fail test
    on all courses): its other courses keep their results so far."""
    n, k = len(genomes), len(courses)
    courses = [c if isinstance(c, Course) else Course(c) for c in courses]
    world = World(n * k, courses, course_of=np.tile(np.arange(k), n))
    layers = shape.unpack(np.repeat(genomes, k, axis=0))
    limit = max_frames if max_frames is not None else (max_pipes + 2) * 41 + 200
    failed = np.zeros(n, dtype=bool)
    while world.n_alive and world.frame < limit:
        ids = world.ids
        keep = world.step(shape.flap(layers, world.observe()))
        if keep is not None:
            layers = [(w[keep], b[keep]) for w, b in layers]
        retire = None
        if stop_at_first_death and (keep is not None or world.n_alive < len(world.y)):
            failed[(ids[~keep] if keep is not None else world.ids[~world.alive]) // k] = True
            retire = failed[world.ids // k]
        if max_pipes and world.pipes.max(initial=0) >= max_pipes:
            retire = (world.pipes >= max_pipes) | (False if retire is None else retire)
        if retire is not None:
            keep = world.retire(retire)
            if keep is not None:
                layers = [(w[keep], b[keep]) for w, b in layers]
    return world.frames_all().reshape(n, k), world.pipes_all().reshape(n, k), world.miss_all().reshape(n, k)
