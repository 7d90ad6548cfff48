"""World throughput: bird-frames per second of the vectorized Flappy Bird world.

Every bird runs the full 3-7-1 network forward pass each frame, which is one batched matrix
product per layer for the population. The birds are copies of a hand-built steady flyer
(flap when below the gap's centre), each with small random weight noise. They stay alive,
so every timed frame really moves the whole population. A bird-frame counts one living
bird advanced by one frame.

    python benchmarks/evolve_throughput.py            # populations 100 and 1000
    python benchmarks/evolve_throughput.py --frames 20000 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from neuroplay.evo.flappy.world import Course, World
from neuroplay.evo.population import MLPShape


def steady_flyer(shape: MLPShape) -> np.ndarray:
    """A 3-7-1 genome whose first hidden unit fires when the bird is below the gap centre."""
    g = np.zeros(shape.n_params)
    w1 = np.zeros((3, 7))
    w1[0, 0], w1[2, 0] = 60.0, -60.0
    g[:21] = w1.ravel()
    g[21] = -60.0 * 14 / 512
    g[28] = 10.0
    g[35] = -5.0
    return g


def measure(n: int, frames: int, seed: int) -> tuple[float, int]:
    shape = MLPShape()
    rng = np.random.default_rng(seed)
    genomes = steady_flyer(shape)[None, :] + rng.normal(0, 1e-3, size=(n, shape.n_params))
    world = World(n, Course(seed))
    layers = shape.unpack(genomes)
    bird_frames = 0
    t0 = time.perf_counter()
    while world.frame < frames and world.n_alive:
        bird_frames += world.n_alive
        keep = world.step(shape.flap(layers, world.observe()))
        if keep is not None:
            layers = [(w[keep], b[keep]) for w, b in layers]
    return bird_frames / (time.perf_counter() - t0), int(world.pipes_all().max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--populations", default="100,1000")
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    summary = {}
    for n in (int(x) for x in args.populations.split(",")):
        runs = [measure(n, args.frames, seed) for seed in range(args.repeats)]
        rates = [r for r, _ in runs]
        med = statistics.median(rates)
        print(
            f"population {n:5d}: median {med / 1e6:6.2f} M bird-frames/s over {args.repeats} runs "
            f"of {args.frames} frames (min {min(rates) / 1e6:.2f}, max {max(rates) / 1e6:.2f}); "
            f"birds passed up to {max(p for _, p in runs)} pipes"
        )
        summary[n] = round(med)
    print(json.dumps({"median_bird_frames_per_second": summary}))


if __name__ == "__main__":
    main()
