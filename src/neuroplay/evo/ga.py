"""The genetic algorithm: evaluate the population, select, cross over, mutate, repeat.

One generation, top to bottom, is in :meth:`_Run.run`. Fitness is frames alive plus a bonus
per pipe, averaged over the generation's courses (fresh courses every generation, so a bird
cannot memorise one). The classic algorithm stops once its best bird passes ``target_pipes``
on its generation's course, as in the original.

The default algorithm stops on evidence instead. A good bird dies perhaps once in 10,000
pipes, so one generation's courses cannot tell it from a lucky one. Each generation the best
screened birds fly ``evidence_courses`` more short courses; the elites carry a running tally
(courses started, deaths in the first two pipes, pipes after those, deaths after those) from
generation to generation, and are ranked by the chance of dying on a ``target_pipes`` course
that the tally implies. An elite whose record holds at most one death per ``evidence_pipes``
pipes (none in the first) then flies ``validation_courses`` unseen courses; it wins if it
dies on at most ``validation_deaths`` of them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from neuroplay.common.checkpoint import save_checkpoint
from neuroplay.common.errors import about_file, check
from neuroplay.common.io import write_csv
from neuroplay.common.runlock import hold_run_folder
from neuroplay.common.schema import RNG, Bool, Dict, Either, Int, List, Opt, Real, Str, Tensor, validate
from neuroplay.common.seeding import derive_seed, rng_state, set_rng_state
from neuroplay.common.settings import load_run_checkpoint
from neuroplay.evo import operators as ops
from neuroplay.evo.champion import CHAMPION_SCHEMA, MAX_PIPES, Champion, save_champion
from neuroplay.evo.config import EvolveConfig
from neuroplay.evo.flappy.world import Course
from neuroplay.evo.population import MLPShape, fly

CHECKPOINT_KIND = "neuroplay.evo.checkpoint"
FORMAT_VERSION = 2  # run checkpoints (2: the default algorithm's elites and records)
RUN_FILES = ("checkpoint.pt", "champion.pt", "stats.csv", "fitness.png")  # what a run writes in its folder
# (stream 4 is the champion's evaluation courses, see evo/champion.py)
TRAIN_STREAM, VALIDATION_STREAM, HARD_STREAM, EVIDENCE_STREAM = 2, 3, 5, 6  # derive_seed(seed, stream, generation, k)
WARM_PIPES = 2  # deaths before this many pipes count as the course start's

# one row of stats.csv per generation, as _Run.run writes it
STATS_SCHEMA = Dict(
    {
        "generation": Int(0, 10**8),
        "best_fitness": Real(),
        "mean_fitness": Real(),
        "best_pipes": Int(0, MAX_PIPES),
        "max_pipes": Int(0, MAX_PIPES),
        "mean_pipes": Real(0, MAX_PIPES),
        "at_cap": Int(0, 10**7),
        "elite_pipes": Int(0, 10**15),
        "elite_deaths": Int(0, 10**15),
        "validation_deaths": Either((Int(0, 10**6), Str(("",)))),
        "wall_seconds": Real(0, 1e12),
    }
)
# what _Run._save writes: sizes from the file's own (validated) settings (population, n_params,
# sizes, elite); a generation's stats row each; at most `elite` elites, each with a tally
CHECKPOINT_SCHEMA = Dict(
    {
        "genomes": Tensor(torch.float64, ("population", "n_params")),
        "generation": Int(0, 10**8, bind="generations_done"),
        "solved": Bool(),
        "elapsed": Real(0, 1e12),
        "rng": RNG,
        "stats": List(STATS_SCHEMA, length="generations_done"),
        "champion": Opt(CHAMPION_SCHEMA),
        "early": Opt(CHAMPION_SCHEMA),
        "elites": Tensor(torch.float64, ("elites", "n_params")),
        "tally": Tensor(torch.float64, ("elites", 4), lo=0.0),
    },
    checks=((lambda v, d: d["elites"] <= d["elite"], "holds more elites than its settings keep"),),
)

# evaluate(genomes, courses, max_pipes) -> (frames, pipes, miss), each (n_genomes, n_courses)
Evaluator = Callable[[np.ndarray, list, int], tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass
class EvolveResult:
    """What :func:`evolve` returns."""

    solved: bool
    generations: int
    wall_seconds: float
    best_pipes: int
    champion: Champion | None
    interrupted: bool = False
    champion_path: str | None = None
    stats: list[dict] = field(default_factory=list)


def load_early_champion(path: str | os.PathLike[str]) -> Champion:
    """The best bird of a run's first generation, kept in its checkpoint (for comparisons).
    ``path`` is the run directory or a file in it."""
    path = Path(path)
    run_dir = path if path.is_dir() else path.parent
    data, _ = read_checkpoint(run_dir / "checkpoint.pt")
    check(data["early"] is not None, f"{run_dir / 'checkpoint.pt'} holds no first-generation bird to compare with")
    return Champion.from_dict(data["early"])


def read_checkpoint(path: Path, current: EvolveConfig | None = None) -> tuple[dict, EvolveConfig]:
    """A run's checkpoint and its settings, its contents checked against :data:`CHECKPOINT_SCHEMA`
    (and the settings against ``current``, see :func:`~neuroplay.common.settings.load_run_checkpoint`)."""
    data, saved = load_run_checkpoint(path, CHECKPOINT_KIND, FORMAT_VERSION, EvolveConfig, current)
    sizes = {"population": saved.population, "sizes": saved.sizes, "elite": saved.elite}
    validate(path, data, CHECKPOINT_SCHEMA, {**sizes, "n_params": MLPShape(saved.sizes).n_params})
    return data, saved


def resume_config(run_dir: str | os.PathLike[str], **overrides) -> EvolveConfig:
    """The settings the unfinished run in ``run_dir`` continues with: the saved ones, with
    ``overrides`` (only the settings in :attr:`EvolveConfig.RESUMABLE`, the generation budget,
    may change; see :meth:`EvolveConfig.for_resume`). A solved run is refused."""
    run_dir = Path(run_dir)
    data, saved = read_checkpoint(run_dir / "checkpoint.pt")
    check(not data["solved"], f"the run in {run_dir} is already solved; its champion is {run_dir / 'champion.pt'}")
    with about_file(run_dir / "checkpoint.pt"):  # the saved settings are at fault
        saved.check_memory()
    return saved.for_resume(**overrides)


def evolve(
    config: EvolveConfig | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    callback: Callable[[dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: bool = False,
    evaluator: Evaluator | None = None,
) -> EvolveResult:
    """Run the genetic algorithm (see the module docstring).

    ``out_dir`` receives ``stats.csv``, ``fitness.png``, ``checkpoint.pt`` (every generation,
    atomically) and ``champion.pt``. ``callback`` hears each generation's stats row, with the
    budget (``generations``), ``solved`` and the genomes that flew (``population``, to draw them).
    ``resume=True`` continues ``out_dir/checkpoint.pt``
    exactly. ``evaluator`` replaces local evaluation (e.g. sharded over Ray workers); it must
    return what :func:`neuroplay.evo.population.fly` returns.
    """
    if out_dir is not None:  # one run at a time writes a folder (common.runlock)
        hold_run_folder(out_dir)
    return _Run(config or EvolveConfig(), out_dir, callback, should_stop, evaluator).run(resume)


class _Run:
    def __init__(self, config: EvolveConfig, out_dir, callback, should_stop, evaluator):
        self.c = config
        self.shape = MLPShape(config.sizes)
        self.out = Path(out_dir) if out_dir is not None else None
        self.callback = callback or (lambda info: None)
        self.should_stop = should_stop or (lambda: False)
        shape = self.shape
        self.evaluate = evaluator or (lambda g, seeds, cap: fly(shape, g, seeds, cap))

    def run(self, resume: bool) -> EvolveResult:
        c = self.c
        c.check_memory()  # a population of terabytes is refused, not allocated
        t0 = time.perf_counter()
        saved = self._read() if resume else None  # checked before anything is built
        self.rng = np.random.default_rng(c.seed)
        self.genomes = self.shape.init(c.population, self.rng)
        if c.algorithm == "default" and c.couple_inputs:
            ops.oppose_height_gap(self.shape, self.genomes)
        # the default algorithm's elites: genomes and tallies (starts, start deaths, pipes, deaths)
        self.elites = np.zeros((0, self.shape.n_params))
        self.tally = np.zeros((0, 4))
        self.generation, self.elapsed_before, self.solved = 0, 0.0, False
        self.stats: list[dict] = []
        self.champion: Champion | None = None
        self.early: Champion | None = None
        if saved is not None:
            self._load(saved)
        interrupted = False
        classic = c.algorithm == "classic"

        while self.generation < c.generations and not self.solved:
            if self.should_stop():
                interrupted = True
                break
            # 1. fly everyone on this generation's fresh courses
            cap = c.target_pipes if classic else c.train_pipes
            courses = [
                Course(derive_seed(c.seed, TRAIN_STREAM, self.generation, k))
                for k in range(1 if classic else c.courses)
            ]
            if not classic:  # plus courses with a hard climb or drop at every pipe
                courses += [
                    Course(derive_seed(c.seed, HARD_STREAM, self.generation, k), hard=True)
                    for k in range(c.hard_courses)
                ]
            flown = self.genomes  # this generation's birds (breeding replaces the array, never changes it)
            frames, pipes, miss = self.evaluate(self.genomes, courses, cap)
            fitness = frames + c.pipe_bonus * pipes
            if not classic:  # a bird that died close to the gap did better than one far from it
                fitness = fitness - c.miss_penalty * miss
            fitness = fitness.mean(axis=1)
            best = int(np.argmax(fitness))
            candidate = Champion(self.genomes[best].copy(), self.shape.sizes, self.generation, pipes[best].tolist())
            if self.early is None:
                self.early = candidate

            # 2. is the best bird the winner? (default: only on evidence and unseen courses)
            validation: list[int] = []
            if classic:
                self.solved = int(pipes[best].min()) >= c.target_pipes
                if self.champion is None or candidate.score >= self.champion.score:
                    self.champion = candidate
            else:
                candidate, validation = self._weigh_evidence(fitness, pipes, cap)
                self.champion = (
                    candidate
                    or self.champion
                    or Champion(self.genomes[best].copy(), self.shape.sizes, self.generation, pipes[best].tolist())
                )

            self.stats.append(
                {
                    "generation": self.generation,
                    "best_fitness": round(float(fitness[best]), 3),
                    "mean_fitness": round(float(fitness.mean()), 3),
                    "best_pipes": int(pipes[best].min()),
                    "max_pipes": int(pipes.max()),
                    "mean_pipes": round(float(pipes.mean()), 3),
                    "at_cap": int((pipes.min(axis=1) >= cap).sum()),
                    "elite_pipes": int(self.tally[0, 2]) if len(self.tally) else 0,
                    "elite_deaths": int(self.tally[0, 1] + self.tally[0, 3]) if len(self.tally) else 0,
                    "validation_deaths": int((np.asarray(validation) < self._vcap).sum()) if validation else "",
                    "wall_seconds": round(self.elapsed_before + time.perf_counter() - t0, 4),
                }
            )
            self.generation += 1

            # 3. breed the next generation (unless this one produced the winner)
            if not self.solved:
                self.genomes = self._classic_next(fitness) if classic else self._default_next(fitness)
            if self.out is not None:
                self._save(t0)
            self.callback(dict(self.stats[-1], generations=c.generations, solved=self.solved, population=flown))

        wall = self.elapsed_before + time.perf_counter() - t0
        result = EvolveResult(
            solved=self.solved,
            generations=self.generation,
            wall_seconds=wall,
            best_pipes=max((s["best_pipes"] for s in self.stats), default=0),
            champion=self.champion,
            interrupted=interrupted,
            stats=list(self.stats),
        )
        if self.out is not None and self.champion is not None:
            result.champion_path = str(self.out / "champion.pt")
            self._plot()
        return result

    # --- breeding -------------------------------------------------------------------------------

    def _classic_next(self, fitness: np.ndarray) -> np.ndarray:
        c, n = self.c, self.c.population
        pairs = (n + 1) // 2
        a = self.genomes[ops.roulette(fitness, pairs, self.rng)]
        b = self.genomes[ops.roulette(fitness, pairs, self.rng)]
        child_a, child_b = ops.swap_first_layer(self.shape, a, b)
        children = np.concatenate([child_a, child_b])[:n]
        return ops.mutate_uniform(children, c.mutation_rate, c.mutation_scale, self.rng)

    @property
    def _vcap(self) -> int:
        return min(self.c.validation_pipes, self.c.target_pipes)

    def _weigh_evidence(self, fitness: np.ndarray, pipes: np.ndarray, cap: int) -> tuple[Champion | None, list[int]]:
        """Fly the elites and the best screened birds on the evidence courses, keep the most
        trusted as elites, and validate the first one whose record is clean and long enough.
        Returns the current champion (the most trusted elite) and its validation pipes."""
        c, ne = self.c, len(self.elites)  # the elites are the population's first rows
        order = np.argsort(-fitness, kind="stable")
        screened = pipes[:, : c.courses].min(axis=1) >= cap
        new = [int(i) for i in order if i >= ne and screened[i]][: c.candidates]
        rows = list(range(ne)) + new
        if not rows:
            return None, []
        genomes = self.genomes[rows]
        tally = np.concatenate([self.tally, np.zeros((len(new), 4))])
        seeds = [derive_seed(c.seed, EVIDENCE_STREAM, self.generation, j) for j in range(c.evidence_courses)]
        got = fly(self.shape, genomes, seeds, cap)[1]
        warm = WARM_PIPES if cap > WARM_PIPES else 0
        early = got < warm
        tally += np.stack(
            [
                np.full(len(rows), got.shape[1]),
                early.sum(axis=1),
                np.clip(got - warm, 0, None).sum(axis=1),
                ((got < cap) & ~early).sum(axis=1),
            ],
            axis=1,
        )
        # the chance of dying on a target_pipes course: at the start, or at any later pipe
        risk = (tally[:, 1] + 0.5) / (tally[:, 0] + 1) + c.target_pipes * (tally[:, 3] + 0.5) / (tally[:, 2] + 1)
        keep = np.argsort(risk, kind="stable")[: c.elite]
        self.elites, self.tally = genomes[keep], tally[keep]
        kept_rows = [rows[k] for k in keep]

        validation: list[int] = []
        pick = 0
        # ready for validation: at least evidence_pipes flown, and at most one death in every
        # evidence_pipes after the first (an excellent bird may have been unlucky once)
        t = self.tally
        blocks = t[:, 2] // max(c.evidence_pipes, 1)
        clean = np.flatnonzero((blocks >= 1) & (t[:, 1] + t[:, 3] <= blocks - 1))
        if len(clean):
            pick = int(clean[0])
            vseeds = [derive_seed(c.seed, VALIDATION_STREAM, self.generation, j) for j in range(c.validation_courses)]
            vpipes = fly(self.shape, self.elites[pick : pick + 1], vseeds, self._vcap)[1][0]
            deaths = int((vpipes < self._vcap).sum())
            validation = vpipes.tolist()
            self.solved = deaths <= min(c.validation_deaths, c.validation_courses - 1)
            if not self.solved:  # the deaths go on its record (so it is not validated again)
                self.tally[pick, 3] += deaths
                self.tally[pick, 2] += vpipes.sum()
        champ = Champion(
            self.elites[pick].copy(), self.shape.sizes, self.generation, pipes[kept_rows[pick]].tolist(), validation
        )
        if not self.solved:
            champ = Champion(self.elites[0].copy(), self.shape.sizes, self.generation, pipes[kept_rows[0]].tolist())
        return champ, validation

    def _default_next(self, fitness: np.ndarray) -> np.ndarray:
        c, n = self.c, self.c.population
        elite = self.elites
        m = n - len(elite)
        pairs = (m + 1) // 2
        a = self.genomes[ops.tournament(fitness, pairs, c.tournament, self.rng)]
        b = self.genomes[ops.tournament(fitness, pairs, c.tournament, self.rng)]
        if len(elite) and c.parent_elite_rate > 0:  # many first parents are proven elites
            use = self.rng.random(pairs) < c.parent_elite_rate
            a[use] = elite[self.rng.integers(0, len(elite), int(use.sum()))]
        cross = self.rng.random(pairs) < c.crossover_rate
        child_a, child_b = ops.swap_first_layer(self.shape, a, b)
        child_a = np.where(cross[:, None], child_a, a)
        child_b = np.where(cross[:, None], child_b, b)
        parents = np.concatenate([child_a, child_b])[:m]
        children = ops.mutate_gaussian(parents, c.mutation_rate, c.mutation_scale, self.rng)
        if c.couple_inputs:
            children = ops.couple_height_gap(self.shape, parents, children)
        return np.concatenate([elite, children])

    # --- files ------------------------------------------------------------------------------------

    def _save(self, t0: float) -> None:
        state = {
            "config": self.c.to_dict(),
            "genomes": torch.from_numpy(self.genomes.copy()),
            "generation": self.generation,
            "solved": self.solved,
            "elapsed": self.elapsed_before + time.perf_counter() - t0,
            "rng": rng_state(self.rng),
            "stats": list(self.stats),
            "champion": self.champion.to_dict() if self.champion else None,
            "early": self.early.to_dict() if self.early else None,
            "elites": torch.from_numpy(self.elites.copy()),
            "tally": torch.from_numpy(self.tally.copy()),
        }
        save_checkpoint(self.out / "checkpoint.pt", CHECKPOINT_KIND, FORMAT_VERSION, state)
        if self.champion is not None:
            save_champion(self.out / "champion.pt", self.champion, self.c)
        write_csv(self.out / "stats.csv", self.stats)

    def _read(self) -> dict:
        check(self.out is not None, "resume needs the run directory")
        return read_checkpoint(self.out / "checkpoint.pt", current=self.c)[0]  # every value checked

    def _load(self, data: dict) -> None:
        self.genomes = data["genomes"].numpy().copy()
        self.generation, self.solved = data["generation"], data["solved"]
        self.elapsed_before = float(data["elapsed"])
        set_rng_state(self.rng, data["rng"])
        self.stats = list(data["stats"])
        self.champion = Champion.from_dict(data["champion"]) if data["champion"] else None
        self.early = Champion.from_dict(data["early"]) if data["early"] else None
        self.elites = data["elites"].numpy().copy()
        self.tally = data["tally"].numpy().copy()

    def _plot(self) -> None:
        from neuroplay.evo.plots import plot_fitness

        plot_fitness(self.out / "fitness.png", self.stats, title=f"{self.c.algorithm} GA, seed {self.c.seed}")
