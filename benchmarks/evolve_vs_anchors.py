"""The classic algorithm, neuroplay's default algorithm and neat-python on the same Flappy Bird
world, side by side in one run: generations and seconds to 100 and to 1000 pipes.

For every seed the three algorithms run one after another (classic, default, NEAT), so a slow
phase of a shared machine hits all three alike. All of them fly neuroplay's vectorized world
(``neuroplay.evo.flappy.world``); a course is fully determined by its seed.

Marks (generations are counted from 1: "12" means the 12th generation evaluated):

- **100 pipes**: classic and NEAT fly one fresh course per generation: the first generation
  whose fittest bird passes >= 100 pipes on it (the ``best_pipes`` stat for classic). The
  default algorithm screens on courses capped at 20 pipes, so its mark is taken by flying its
  current champion (the most trusted elite) on one fresh probe course per generation
  (``derive_seed(seed, 9, generation)``); that flight's time is left out of its seconds. A
  run that reaches 1000 pipes (below) has reached 100 by then at the latest.
- **1000 pipes**: each algorithm's own stopping rule. Classic stops once its fittest bird
  passes 1000 pipes on the generation's one course, as in the original. The default algorithm
  stops once an elite with a clean enough record dies on at most 1 of 1000 unseen validation
  courses of 100 pipes (see ``neuroplay.evo.ga``). NEAT is held to the classic rule: the
  fittest genome passes 1000 pipes on the generation's one course.
- **seconds**: cumulative wall-clock from the start of the run to the end of that generation's
  evaluation. For neuroplay this is the ``wall_seconds`` stat; for NEAT the script's own timer,
  started just before ``neat.Population`` builds the first population.
- **unseen**: after each run, its champion flies 10 courses it has never seen, capped at 1000
  pipes; the column counts how many of the 10 it completes. The courses are the same for all
  three algorithms (those of ``evaluate_champion(champion, 10, 1000, seed=10**6 + seed)``). A
  champion picked on one course often fails on fresh ones, and this column shows it.
  Champions: neuroplay's ``EvolveResult.champion``; for NEAT, classic's rule: the fittest
  genome of each generation replaces the champion when it passed at least as many pipes.

A run that does not reach a mark within the budget (``--generations``, 300 by default) shows
✗. For the medians it counts with its budget (all its generations, all its seconds), and a
median that such a run could change is printed as "≥ N".

Populations: each algorithm's default (classic 100, default 1000, NEAT 100) unless
``--population`` sets one for all.

neat-python (2.0) setup, written to a temporary INI file by this script (see ``NEAT_CONFIG``):
population 100; 3 inputs (neuroplay's observation: height, distance to the next pipe, gap
centre), 1 output node with neat's sigmoid (flap when > 0.5); feed-forward; initial
connection ``full`` with no hidden nodes; only sigmoid activation and sum aggregation
(not mutated); weights and biases start N(0, 1), mutate at rate 0.8 (weights) / 0.7 (biases)
by N(0, 0.5), are replaced at rate 0.1, clamped to ±30; response fixed at 1; add/delete a
connection with probability 0.5 / 0.5, add/delete a node 0.2 / 0.2; connection enable-toggle
rate 0.01; compatibility threshold 3.0 (disjoint coefficient 1.0, weight coefficient 0.5);
stagnation after 20 generations (species fitness = max, 2 species protected); elitism 2,
survival threshold 0.2, min species size 2; reset on extinction. Fitness is the classic one:
frames survived + 50 per pipe, on one fresh course per generation, capped at 1000 pipes. The
course of generation g is the one classic flies in generation g of the same seed (seed
``derive_seed(seed, 2, g, 0)``). Every genome of a generation flies in one world at once, its
net activated by neat's own ``FeedForwardNetwork`` in a Python loop per frame. Python's
``random`` (all neat uses) is seeded with the run's seed.

    python benchmarks/evolve_vs_anchors.py                     # seeds 0,1,2; 300 generations
    python benchmarks/evolve_vs_anchors.py --seeds 0-9 --json anchors.json
    python benchmarks/evolve_vs_anchors.py --generations 5 --seeds 0 --algorithms classic,neat
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from neuroplay.common.seeding import derive_seed
from neuroplay.evo.champion import evaluate_champion, load_champion
from neuroplay.evo.config import EvolveConfig
from neuroplay.evo.flappy.world import Course, World
from neuroplay.evo.ga import TRAIN_STREAM, evolve
from neuroplay.evo.population import fly

ALGORITHMS = ("classic", "default", "neat")
PIPE_BONUS = 50.0  # classic's fitness: frames alive + 50 per pipe
EARLY_MARK, FINAL_MARK = 100, 1000
UNSEEN_STREAM = 4  # evaluate_champion's course seeds: derive_seed(seed, 4, k)
PROBE_STREAM = 9  # the default algorithm's 100-pipe probe course: derive_seed(seed, 9, generation)

NEAT_CONFIG = """\
[NEAT]
fitness_criterion      = max
fitness_threshold      = 1e300
no_fitness_termination = True
pop_size               = {population}
reset_on_extinction    = True

[DefaultGenome]
num_inputs               = 3
num_outputs              = 1
num_hidden               = 0
feed_forward             = True
initial_connection       = full
activation_default       = sigmoid
activation_options       = sigmoid
activation_mutate_rate   = 0.0
aggregation_default      = sum
aggregation_options      = sum
aggregation_mutate_rate  = 0.0
bias_init_mean           = 0.0
bias_init_stdev          = 1.0
bias_init_type           = gaussian
bias_max_value           = 30.0
bias_min_value           = -30.0
bias_mutate_power        = 0.5
bias_mutate_rate         = 0.7
bias_replace_rate        = 0.1
response_init_mean       = 1.0
response_init_stdev      = 0.0
response_init_type       = gaussian
response_max_value       = 30.0
response_min_value       = -30.0
response_mutate_power    = 0.0
response_mutate_rate     = 0.0
response_replace_rate    = 0.0
weight_init_mean         = 0.0
weight_init_stdev        = 1.0
weight_init_type         = gaussian
weight_max_value         = 30.0
weight_min_value         = -30.0
weight_mutate_power      = 0.5
weight_mutate_rate       = 0.8
weight_replace_rate      = 0.1
enabled_default          = True
enabled_mutate_rate      = 0.01
compatibility_disjoint_coefficient = 1.0
compatibility_weight_coefficient   = 0.5
conn_add_prob            = 0.5
conn_delete_prob         = 0.5
node_add_prob            = 0.2
node_delete_prob         = 0.2

[DefaultSpeciesSet]
compatibility_threshold = 3.0

[DefaultStagnation]
species_fitness_func = max
max_stagnation       = 20
species_elitism      = 2

[DefaultReproduction]
elitism            = 2
survival_threshold = 0.2
min_species_size   = 2
"""


# --- helpers ------------------------------------------------------------------------------------


def parse_seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out += range(int(a), int(b) + 1)
        elif part.strip():
            out.append(int(part))
    return out


def frame_limit(max_pipes: int) -> int:
    return (max_pipes + 2) * 41 + 200  # as neuroplay.evo.population.fly: pipes are ≤ 41 frames apart


def unseen_seeds(seed: int, courses: int) -> list[int]:
    return [derive_seed(10**6 + seed, UNSEEN_STREAM, k) for k in range(courses)]


def first_mark(stats: list[dict], key: str, mark: int) -> dict | None:
    return next((s for s in stats if s[key] >= mark), None)


def mark_entry(stat: dict | None, seconds_key: str = "wall_seconds") -> dict:
    if stat is None:
        return {"generations": None, "seconds": None}
    return {"generations": int(stat["generation"]) + 1, "seconds": round(float(stat[seconds_key]), 2)}


# --- neuroplay ----------------------------------------------------------------------------------


def run_neuroplay(algorithm: str, seed: int, generations: int, population: int | None, unseen: int) -> dict:
    config = EvolveConfig(algorithm=algorithm, seed=seed, generations=generations, population=population)
    probe = {"hit": None, "seconds": 0.0}
    with tempfile.TemporaryDirectory(prefix="evolve-anchor-") as tmp:

        def watch(s: dict) -> None:
            # the default algorithm screens on 20-pipe courses, so its 100-pipe mark is taken by
            # flying its current champion on one fresh course (time excluded from its seconds)
            if algorithm != "default" or probe["hit"] is not None:
                return
            t = time.perf_counter()
            champ = load_champion(Path(tmp) / "champion.pt")
            course = derive_seed(seed, PROBE_STREAM, s["generation"])
            got = fly(champ.shape, champ.genome[None, :], [course], EARLY_MARK)[1][0, 0]
            probe["seconds"] += time.perf_counter() - t
            if got >= EARLY_MARK:
                probe["hit"] = {**s, "wall_seconds": s["wall_seconds"] - probe["seconds"]}

        result = evolve(config, tmp, callback=watch)
    stats = [{**s, "wall_seconds": s["wall_seconds"]} for s in result.stats]
    if algorithm == "default" and stats:
        stats[-1]["wall_seconds"] -= probe["seconds"]
    final = stats[-1] if result.solved else None
    # a run that reached 1000 has reached 100 by then
    hit100 = (probe["hit"] if algorithm == "default" else first_mark(stats, "best_pipes", EARLY_MARK)) or final
    pipes = evaluate_champion(result.champion, unseen, FINAL_MARK, seed=10**6 + seed).tolist()
    return {
        "to_100": mark_entry(hit100),
        "to_1000": mark_entry(final),
        "generations_run": result.generations,
        "seconds_run": round(result.wall_seconds - probe["seconds"], 2),
        "best_pipes": result.best_pipes,
        "unseen_pipes": [int(p) for p in pipes],
    }


# --- neat-python --------------------------------------------------------------------------------


def fly_nets(nets: list, rows_net: list[int], courses: list[Course], course_of: np.ndarray, max_pipes: int):
    """Fly one world of ``len(rows_net)`` birds (row i flies ``courses[course_of[i]]`` with
    ``nets[rows_net[i]]``), every net activated in a Python loop per frame, until every bird
    died or passed ``max_pipes``. Returns ``(frames, pipes)`` per row."""
    world = World(len(rows_net), courses, course_of=course_of)
    limit = frame_limit(max_pipes)
    while world.n_alive and world.frame < limit:
        obs = world.observe().tolist()
        ids = world.ids.tolist()
        alive = world.alive.tolist()
        flap = np.zeros(len(ids), dtype=bool)
        for j, (i, o, a) in enumerate(zip(ids, obs, alive, strict=True)):
            if a:
                flap[j] = nets[rows_net[i]].activate(o)[0] > 0.5
        world.step(flap)
        if world.pipes.max(initial=0) >= max_pipes:
            world.retire(world.pipes >= max_pipes)
    return world.frames_all(), world.pipes_all()


def run_neat(seed: int, generations: int, population: int, unseen: int, config_path: Path) -> dict:
    import neat

    config = neat.Config(
        neat.DefaultGenome, neat.DefaultReproduction, neat.DefaultSpeciesSet, neat.DefaultStagnation, str(config_path)
    )
    random.seed(seed)
    stats: list[dict] = []
    champion = {"net": None, "pipes": -1}
    t0 = time.perf_counter()
    pop = neat.Population(config, seed=seed)

    def evaluate(genomes, cfg) -> None:
        g = len(stats)
        nets = [neat.nn.FeedForwardNetwork.create(genome, cfg) for _, genome in genomes]
        course = Course(derive_seed(seed, TRAIN_STREAM, g, 0))  # classic's course of generation g
        frames, pipes = fly_nets(nets, list(range(len(nets))), [course], np.zeros(len(nets), np.int64), FINAL_MARK)
        fitness = frames + PIPE_BONUS * pipes
        for (_, genome), f in zip(genomes, fitness.tolist(), strict=True):
            genome.fitness = float(f)
        best = int(np.argmax(fitness))
        if int(pipes[best]) >= champion["pipes"]:
            champion.update(net=nets[best], pipes=int(pipes[best]))
        stats.append(
            {
                "generation": g,
                "best_pipes": int(pipes[best]),
                "max_pipes": int(pipes.max()),
                "wall_seconds": time.perf_counter() - t0,
                "species": len(pop.species.species),
            }
        )

    while len(stats) < generations:
        pop.run(evaluate, 1)
        if stats[-1]["best_pipes"] >= FINAL_MARK:
            break
    seconds_run = stats[-1]["wall_seconds"]

    seeds = unseen_seeds(seed, unseen)
    _, upipes = fly_nets([champion["net"]], [0] * unseen, [Course(s) for s in seeds], np.arange(unseen), FINAL_MARK)
    return {
        "to_100": mark_entry(first_mark(stats, "best_pipes", EARLY_MARK)),
        "to_1000": mark_entry(first_mark(stats, "best_pipes", FINAL_MARK)),
        "generations_run": len(stats),
        "seconds_run": round(seconds_run, 2),
        "best_pipes": max(s["best_pipes"] for s in stats),
        "unseen_pipes": [int(p) for p in upipes],
        "species_last": stats[-1]["species"],
    }


# --- the table ----------------------------------------------------------------------------------


def censored_median(values: list[tuple[float, bool]]) -> tuple[float, bool]:
    """Median of ``(value, censored)`` pairs where a censored value is only a lower bound.
    Returns ``(median, exact)``: exact unless raising a censored value could change it."""
    ordered = sorted(values, key=lambda v: (v[0], v[1]))
    n = len(ordered)
    middle = {(n - 1) // 2, n // 2}
    med = statistics.median(v for v, _ in ordered)
    exact = all(i > max(middle) for i, (_, c) in enumerate(ordered) if c)
    return med, exact


def fmt(value, missing: bool, digits: int = 0) -> str:
    if missing:
        return "✗"
    return f"{value:.{digits}f}"


HEADER = (
    f"{'algorithm':<9} {'seed':>4} | {'gens→100':>9} {'s→100':>8} | {'gens→1000':>9} {'s→1000':>8} | "
    f"{'ran gens':>8} {'ran s':>7} | {'unseen≥1000':>11}"
)


def row_line(r: dict, unseen: int) -> str:
    a, b = r["to_100"], r["to_1000"]
    return (
        f"{r['algorithm']:<9} {r['seed']:>4} | {fmt(a['generations'], a['generations'] is None):>9} "
        f"{fmt(a['seconds'], a['seconds'] is None, 1):>8} | {fmt(b['generations'], b['generations'] is None):>9} "
        f"{fmt(b['seconds'], b['seconds'] is None, 1):>8} | {r['generations_run']:>8} {r['seconds_run']:>7.1f} | "
        f"{r['unseen_reaching_1000']:>8}/{unseen}"
    )


def summarise(rows: list[dict], algorithm: str) -> dict:
    rs = [r for r in rows if r["algorithm"] == algorithm]
    out: dict = {"algorithm": algorithm, "seeds": len(rs)}
    for mark in ("to_100", "to_1000"):
        missed = [r[mark]["generations"] is None for r in rs]
        gens = [(r["generations_run"] if m else r[mark]["generations"], m) for r, m in zip(rs, missed, strict=True)]
        secs = [(r["seconds_run"] if m else r[mark]["seconds"], m) for r, m in zip(rs, missed, strict=True)]
        g, g_exact = censored_median(gens)
        s, s_exact = censored_median(secs)
        out[mark] = {
            "reached": sum(not c for _, c in gens),
            "median_generations": g,
            "median_generations_exact": g_exact,
            "median_seconds": round(s, 2),
            "median_seconds_exact": s_exact,
        }
    out["median_unseen_reaching_1000"] = statistics.median(r["unseen_reaching_1000"] for r in rs)
    out["unseen_reaching_1000"] = [r["unseen_reaching_1000"] for r in rs]
    return out


def median_line(s: dict, unseen: int) -> str:
    def cell(value: float, exact: bool, digits: int) -> str:
        return f"{'' if exact else '≥ '}{value:.{digits}f}"

    a, b = s["to_100"], s["to_1000"]
    return (
        f"{s['algorithm']:<9} {'med':>4} | {cell(a['median_generations'], a['median_generations_exact'], 0):>9} "
        f"{cell(a['median_seconds'], a['median_seconds_exact'], 1):>8} | "
        f"{cell(b['median_generations'], b['median_generations_exact'], 0):>9} "
        f"{cell(b['median_seconds'], b['median_seconds_exact'], 1):>8} | "
        f"{'reached':>8} {a['reached']}+{b['reached']}/{s['seeds']:<3} | "
        f"{s['median_unseen_reaching_1000']:>8g}/{unseen}"
    )


def machine_info() -> dict:
    import neat
    import torch

    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()} {platform.processor()}".strip(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "neat_python": getattr(neat, "__version__", "?"),
        "load_average_1min_at_start": load,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2", help="e.g. 0,1,2 or 0-9")
    ap.add_argument("--generations", type=int, default=300, help="budget per run (default 300)")
    ap.add_argument(
        "--population", type=int, default=None, help="birds per generation [each algorithm's default: 100, 1000, 100]"
    )
    ap.add_argument("--unseen", type=int, default=10, help="unseen courses per champion (default 10)")
    ap.add_argument("--algorithms", default=",".join(ALGORITHMS), help="subset of classic,default,neat")
    ap.add_argument("--json", metavar="FILE", help="also write rows, medians and settings to FILE")
    args = ap.parse_args()
    algorithms = [a.strip() for a in args.algorithms.split(",") if a.strip()]
    bad = [a for a in algorithms if a not in ALGORITHMS]
    if bad or not algorithms:
        ap.error(f"--algorithms: choose from {','.join(ALGORITHMS)}")
    seeds = parse_seeds(args.seeds)
    if not seeds or args.generations < 1 or (args.population is not None and args.population < 2) or args.unseen < 1:
        ap.error("need at least one seed, --generations >= 1, --population >= 2, --unseen >= 1")

    info = machine_info()
    print(
        f"{info['date']} · {info['machine']} · {info['cpus']} CPUs · Python {info['python']} · "
        f"numpy {info['numpy']} · torch {info['torch']} · neat-python {info['neat_python']} · "
        f"1-min load at start {info['load_average_1min_at_start']}"
    )
    print(
        f"population {args.population or 'each default'} · budget {args.generations} generations per run · "
        f"seeds {seeds} · "
        f"champions flown on {args.unseen} unseen courses capped at {FINAL_MARK} pipes\n"
    )
    print(HEADER)
    print("-" * len(HEADER), flush=True)

    neat_text = NEAT_CONFIG.format(population=args.population or 100)
    rows: list[dict] = []
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="neat-flappy-") as tmp:
        config_path = Path(tmp) / "neat.ini"
        config_path.write_text(neat_text)
        for seed in seeds:
            for algorithm in algorithms:
                if algorithm == "neat":
                    r = run_neat(seed, args.generations, args.population or 100, args.unseen, config_path)
                else:
                    r = run_neuroplay(algorithm, seed, args.generations, args.population, args.unseen)
                r = {"algorithm": algorithm, "seed": seed, **r}
                r["unseen_reaching_1000"] = sum(p >= FINAL_MARK for p in r["unseen_pipes"])
                rows.append(r)
                print(row_line(r, args.unseen), flush=True)
    total = time.perf_counter() - t_start

    print("-" * len(HEADER))
    summary = [summarise(rows, a) for a in algorithms]
    for s in summary:
        print(median_line(s, args.unseen))
    print(
        f"\n✗: not reached within {args.generations} generations; such runs count with their budget in the "
        "medians, and a median they could change reads '≥'. 'reached' = seeds reaching 100 + seeds reaching "
        f"1000. unseen≥1000: unseen courses (of {args.unseen}) on which the run's champion passed "
        f"{FINAL_MARK} pipes.\ntotal wall-clock {total:.0f} s"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "machine": info,
                    "settings": {
                        "seeds": seeds,
                        "generations": args.generations,
                        "population": args.population,
                        "unseen_courses": args.unseen,
                        "neat_config": neat_text,
                    },
                    "rows": rows,
                    "medians": summary,
                    "total_seconds": round(total, 1),
                },
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
