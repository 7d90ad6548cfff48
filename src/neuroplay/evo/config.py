"""Settings of an evolution run (free of heavy imports so the CLI can read the defaults)."""

from __future__ import annotations

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

    RANGES = (  # (field, lowest, highest); integer bounds ask for an integer
        ("seed", 0, SEED_MAX),
        ("population", 2, 1_000_000),
        ("generations", 1, 10_000_000),
        ("pipe_bonus", 0.0, 1e9),
        ("target_pipes", 1, 10_000_000),
        ("courses", 1, 1000),
        ("miss_penalty", 0.0, 1e9),
        ("hard_courses", 0, 1000),
        ("train_pipes", 1, 10_000_000),
        ("elite", 0, 1_000_000),
        ("tournament", 1, 1_000_000),
        ("crossover_rate", 0.0, 1.0),
        ("validation_courses", 1, 100_000),
        ("validation_pipes", 1, 10_000_000),
        ("validation_deaths", 0, 100_000),
        ("candidates", 0, 1_000_000),
        ("evidence_courses", 1, 100_000),
        ("evidence_pipes", 0, 10**12),
        ("parent_elite_rate", 0.0, 1.0),
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if self.population is None:
            object.__setattr__(self, "population", 100 if self.algorithm == "classic" else 1000)
        if self.evidence_pipes is None and isinstance(self.target_pipes, int):
            object.__setattr__(self, "evidence_pipes", 20 * self.target_pipes)
        if self.mutation_scale is None:
            object.__setattr__(self, "mutation_scale", 0.5 if self.algorithm == "classic" else 3.0)
        check(self.algorithm in ALGORITHMS, f"algorithm must be one of {', '.join(ALGORITHMS)}, not {self.algorithm!r}")
        check(1 <= len(self.hidden) <= 16, "give 1 to 16 hidden sizes")
        for h in self.hidden:
            in_range("hidden", h, 1, 4096)
        # every number within what a laptop can run: NaN, infinity, 2**64 or 10**30 are refused by name
        for name, lo, hi in self.RANGES:
            in_range(name, getattr(self, name), lo, hi)
        check(self.elite < self.population, "elite must be smaller than the population")
        check(self.tournament <= self.population, "tournament size must be in 1..population")
        in_range("mutation_rate", self.mutation_rate, 0.0, 1.0, open_lo=True)
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
