"""Settings of an evolution run (free of heavy imports so the CLI can read the defaults)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from neuroplay.common.bounds import SEED_MAX, check_fits, in_range
from neuroplay.common.errors import check
from neuroplay.common.settings import RunSettings

ALGORITHMS = ("default", "classic")


@dataclass(frozen=True)
class EvolveConfig(RunSettings):
    """Every setting of a neuro-evolution run.

    ``algorithm="classic"`` reproduces the original experiment: one fresh course per
    generation, fitness = frames alive + ``pipe_bonus`` per pipe, n/2 roulette-selected
    parent pairs, first-layer swap crossover, uniform mutation (rate 0.15, ±0.5), no elitism.
    ``"default"`` keeps that and adds what makes it reliable and fast: a population of 1000
    screened on many short fresh courses; tournament selection and Gaussian mutation; elites
    chosen by *evidence*, not by one generation's luck (the best screened birds fly
    ``evidence_courses`` more each generation, and every elite keeps a running tally of its
    deaths, so the one most likely to pass a ``target_pipes`` course ranks first); half the
    parents drawn from those elites; height and gap weights that start opposite and mutate
    mostly together (the bird should care about its height *relative to* the gap); and a final
    validation on ``validation_courses`` unseen courses before a bird is declared the winner.
    See BENCHMARKS.md for the measurements behind each choice.
    """

    # (class attributes, not fields) what a resumed run may change: its generation budget; every
    # other setting shapes the saved population, elites and records
    RESUMABLE = frozenset({"generations"})
    WHAT = "evolution"

    algorithm: str = "default"
    population: int | None = None  # 1000 for "default", 100 for "classic" (the original)
    hidden: tuple[int, ...] = (7,)
    generations: int = 300
    seed: int = 0
    pipe_bonus: float = 50.0
    target_pipes: int = 1000
    # the default algorithm's additions (ignored by "classic")
    courses: int = 10
    hard_courses: int = 10
    miss_penalty: float = 0.1  # fitness lost per px between the bird and the gap centre at death
    train_pipes: int = 20  # pipe cap of the screening and evidence courses
    candidates: int = 64  # best screened birds that fly the evidence courses each generation
    evidence_courses: int = 300
    evidence_pipes: int | None = None  # clean pipes an elite needs before validation (20 × target)
    elite: int = 8
    parent_elite_rate: float = 0.5  # share of parent pairs whose first parent is an elite
    couple_inputs: bool = True  # height and gap weights start opposite and mutate mostly together
    tournament: int = 3
    crossover_rate: float = 0.5
    validation_courses: int = 1000
    validation_pipes: int = 100  # pipe cap of a validation course (at most target_pipes)
    validation_deaths: int = 1  # deaths allowed in validation (always fewer than validation_courses)
    # mutation: uniform ±scale for "classic" (0.5, as in the original), Gaussian std for
    # "default" (3.0: the inputs span only ~0.15 between gap and bird, so sharp decisions need
    # weights of tens, and small steps took hundreds of generations to get there)
    mutation_rate: float = 0.15
    mutation_scale: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if self.population is None:
            object.__setattr__(self, "population", 100 if self.algorithm == "classic" else 1000)
        if self.evidence_pipes is None and isinstance(self.target_pipes, int):
            object.__setattr__(self, "evidence_pipes", 20 * self.target_pipes)
        if self.mutation_scale is None:
            object.__setattr__(self, "mutation_scale", 0.5 if self.algorithm == "classic" else 3.0)
        check(self.algorithm in ALGORITHMS, f"algorithm must be one of {', '.join(ALGORITHMS)}, not {self.algorithm!r}")
        in_range("seed", self.seed, 0, SEED_MAX)
        in_range("population", self.population, 2, 1_000_000)
        check(len(self.hidden) >= 1 and all(1 <= h <= 4096 for h in self.hidden), "hidden sizes must be in 1..4096")
        check(1 <= self.generations <= 10_000_000, "generations must be >= 1")
        check(math.isfinite(self.pipe_bonus) and self.pipe_bonus >= 0, "pipe_bonus must be >= 0")
        check(1 <= self.target_pipes <= 10_000_000, "target_pipes must be >= 1")
        check(1 <= self.courses <= 1000, "courses must be in 1..1000")
        check(math.isfinite(self.miss_penalty) and self.miss_penalty >= 0, "miss_penalty must be >= 0")
        check(0 <= self.hard_courses <= 1000, "hard_courses must be in 0..1000")
        check(1 <= self.train_pipes <= 10_000_000, "train_pipes must be >= 1")
        check(0 <= self.elite < self.population, "elite must be >= 0 and smaller than the population")
        check(1 <= self.tournament <= self.population, "tournament size must be in 1..population")
        check(0.0 <= self.crossover_rate <= 1.0, "crossover_rate must be in [0, 1]")
        check(1 <= self.validation_courses <= 100_000, "validation_courses must be in 1..100000")
        check(1 <= self.validation_pipes <= 10_000_000, "validation_pipes must be >= 1")
        check(0 <= self.validation_deaths <= 100_000, "validation_deaths must be in 0..100000")
        check(0 <= self.candidates <= 1_000_000, "candidates must be in 0..1000000")
        check(1 <= self.evidence_courses <= 100_000, "evidence_courses must be in 1..100000")
        check(0 <= self.evidence_pipes <= 10**12, "evidence_pipes must be >= 0")
        check(0.0 <= self.parent_elite_rate <= 1.0, "parent_elite_rate must be in [0, 1]")
        check(0.0 < self.mutation_rate <= 1.0, "mutation_rate must be in (0, 1]")
        check(math.isfinite(self.mutation_scale) and self.mutation_scale > 0, "mutation_scale must be > 0")
        in_range("mutation_scale", self.mutation_scale, 0.0, 1e6, open_lo=True)

    def memory_needed(self, population: int | None = None) -> int:
        """Bytes at the peak (an estimate, a little high) with ``population`` birds (default: the
        config's): the float64 genomes of a generation, its parents and children, and the batched
        world, which flies every bird on every course at once with a copy of its weights."""
        n = population or self.population
        sizes = self.sizes
        params = sum((a + 1) * b for a, b in zip(sizes, sizes[1:], strict=False))
        courses = 1 if self.algorithm == "classic" else self.courses + self.hard_courses
        flights = max(n * courses, min(self.candidates, n) * self.evidence_courses, self.validation_courses)
        return 8 * (3 * n * params + flights * (params + max(sizes) + 24)) + 200 * 2**20

    def check_memory(self) -> None:
        """Refuse, before anything is allocated, a run that would not fit in the memory available,
        naming the largest --population that would."""
        need = self.memory_needed()
        what = f"a population of {self.population} with hidden sizes {','.join(map(str, self.hidden))}"
        check_fits(what, need, "--population", self.population, self.memory_needed)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer sizes of every bird's network: 3 inputs, the hidden layers, 1 output (flap)."""
        return (3, *self.hidden, 1)
