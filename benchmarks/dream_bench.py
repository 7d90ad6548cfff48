"""Deep Dream speed and memory: the three targets of the Deep Dream issue.

(a) a 1024×768 dream, 4 octaves × 10 steps on relu4_3 (target ≤ 60 s on the 2-core CPU), with the
    default precision (``auto``: bfloat16 where the CPU has it) and with fp32;
(b) a 4000×3000 image (tubingen.jpg from ../shared/data/photos enlarged; skipped when absent)
    dreamed in tiles with peak memory ≤ 4 GB; fewer octaves and steps than (a) and a larger step
    size so the patterns are strong enough to show seams; the image goes to ``--out-dir`` with the
    tile boundaries in ``dream_4000x3000.tiles.json``, to look at;
(c) seconds per step at 1024×768 against a plain untiled loop written here (forward to relu4_3,
    backward, normalised step, NCHW float32 as one would write it), with neuroplay in fp32, in its
    default precision and forced into tiles.

Every measurement runs in its own subprocess, whose peak resident memory (``ru_maxrss``) is
reported. Timings on a shared machine are noisy: the load average is printed with them.

    python benchmarks/dream_bench.py --out-dir /tmp/dream-bench
    python benchmarks/dream_bench.py --skip-large
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

PHOTO = Path(__file__).resolve().parents[2] / "shared" / "data" / "photos" / "tubingen.jpg"


def photo(width: int, height: int):
    """tubingen.jpg (or scikit-image's astronaut when absent) resized to ``width×height``."""
    from neuroplay.vision.image import demo_content, load_image, resize

    image = load_image(PHOTO) if PHOTO.is_file() else demo_content("astronaut")
    return resize(image, (height, width))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


# --- what each child process measures --------------------------------------------------------


def child_dream(args: dict) -> dict:
    """One full dream; ``args`` holds the size, DreamConfig fields and an optional output path."""
    from neuroplay.vision.dream import DreamConfig, dream
    from neuroplay.vision.image import save_image
    from neuroplay.vision.tiling import halo_and_align, plan_tiles

    image = photo(args["width"], args["height"])
    config = DreamConfig(max_size=None, **args["config"])
    started = time.perf_counter()
    result = dream(image, config)
    wall = time.perf_counter() - started
    out = {"wall_s": wall, "precision": result.precision, "tiles": result.tiles, "octaves": result.octave_sizes}
    if args.get("save"):
        save_image(result.image, args["save"])
        halo, align = halo_and_align(config.layer_names, config.network)
        tiles = plan_tiles(args["height"], args["width"], config.tile_size, halo, align)
        rows = sorted({t.rows.start + t.core[0] for t in tiles} - {0})
        cols = sorted({t.cols.start + t.core[2] for t in tiles} - {0})
        Path(args["save"]).with_suffix(".tiles.json").write_text(json.dumps({"core_rows": rows, "core_cols": cols}))
    return out


def child_steps(args: dict) -> dict:
    """Seconds per step of neuroplay (``kind == "neuroplay"``) or of the plain loop."""
    import torch

    image = photo(args["width"], args["height"])
    steps = args["steps"]
    stamps: list[float] = []
    if args["kind"] == "neuroplay":
        from neuroplay.vision.dream import DreamConfig, dream

        config = DreamConfig(octaves=1, steps=steps, max_size=None, **args["config"])
        stamps.append(time.perf_counter())
        result = dream(image, config, callback=lambda p: stamps.append(time.perf_counter()))
        precision, tiles = result.precision, result.tiles
        stamps = stamps[1:]  # from the end of the first step: the network's set-up is not a step
    else:
        from neuroplay.vision.features import VGGFeatures

        net = VGGFeatures(["relu4_3"])
        x = image.clone()
        stamps.append(time.perf_counter())
        for _ in range(steps):  # the plain loop: forward, backward, normalised step
            x.requires_grad_(True)
            loss = 0.5 * net(x)["relu4_3"].pow(2).mean()
            (grad,) = torch.autograd.grad(loss, x)
            with torch.no_grad():
                x = (x + 0.006 * grad / grad.abs().mean()).clamp(0, 1)
            stamps.append(time.perf_counter())
        stamps = stamps[1:]
        precision, tiles = "fp32", 1
    per_step = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    return {"step_s": statistics.median(per_step), "steps_timed": len(per_step), "precision": precision, "tiles": tiles}


def run_child(what: str, args: dict) -> dict:
    """Run ``what`` in a fresh interpreter; add its peak resident memory."""
    proc = subprocess.run(
        [sys.executable, __file__, "--child", what, json.dumps(args)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"child {what} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- the report --------------------------------------------------------------------------------


def machine() -> str:
    import torch

    model = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{model}, {cpus} CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads, "
        f"{torch.backends.cpu.get_cpu_capability()}), Python {platform.python_version()}, {platform.system()}"
    )


def load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", type=Path, default=Path("dream-bench"), help="Where (b)'s image goes.")
    ap.add_argument("--skip-large", action="store_true", help="Skip (b), the 4000×3000 dream.")
    ap.add_argument("--large-octaves", type=int, default=2)
    ap.add_argument("--large-steps", type=int, default=3)
    ap.add_argument("--large-step-size", type=float, default=0.02)
    ap.add_argument("--step-repeats", type=int, default=4, help="Steps per (c) run; the first is not timed.")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        what, payload = args.child
        result = {"dream": child_dream, "steps": child_steps}[what](json.loads(payload))
        result["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return

    started = datetime.datetime.now().astimezone()
    print(f"# Deep Dream benchmark, {started:%Y-%m-%d %H:%M %Z}")
    print(f"machine: {machine()}")
    print(f"input: {PHOTO if PHOTO.is_file() else 'scikit-image astronaut (tubingen.jpg absent)'}")
    print(f"load average at start: {load()}  (a shared machine: timings are noisy)\n")
    rows = []

    def row(part: str, what: str, seconds: str, memory: float, target: str, note: str = "") -> None:
        rows.append((part, what, seconds, f"{memory:,.0f}", target, note))
        print(f"  done: {part} {what}: {seconds}, peak {memory:,.0f} MB {note}", flush=True)

    base = {"layers": "relu4_3", "octaves": 4, "steps": 10}
    for precision in ("auto", "fp32"):
        r = run_child("dream", {"width": 1024, "height": 768, "config": {**base, "precision": precision}})
        row(
            "a",
            f"1024×768, 4 oct × 10 steps, relu4_3, {r['precision']}",
            f"{r['wall_s']:.1f} s",
            r["peak_rss_mb"],
            "≤ 60 s",
            f"{r['tiles']} tile",
        )

    if args.skip_large or not PHOTO.is_file():
        rows.append(("b", "4000×3000", "skipped", "-", "≤ 4096 MB", "--skip-large" if args.skip_large else "no photo"))
    else:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        save = args.out_dir / "dream_4000x3000.png"
        config = {"layers": "relu4_3", "octaves": args.large_octaves, "steps": args.large_steps}
        config["step_size"] = args.large_step_size
        r = run_child("dream", {"width": 4000, "height": 3000, "config": config, "save": str(save)})
        row(
            "b",
            f"4000×3000, {args.large_octaves} oct × {args.large_steps} steps, {r['precision']}",
            f"{r['wall_s']:.1f} s",
            r["peak_rss_mb"],
            "≤ 4096 MB",
            f"{r['tiles']} tiles; {save}",
        )

    steps = {"width": 1024, "height": 768, "steps": args.step_repeats}
    plain = run_child("steps", {**steps, "kind": "plain"})
    row("c", "plain untiled loop, NCHW fp32", f"{plain['step_s']:.2f} s/step", plain["peak_rss_mb"], "reference")
    for label, config in (
        ("neuroplay fp32", {"precision": "fp32", "layers": "relu4_3"}),
        ("neuroplay default", {"layers": "relu4_3"}),
        ("neuroplay fp32, forced tiles 512", {"precision": "fp32", "layers": "relu4_3", "tile_size": 512}),
    ):
        r = run_child("steps", {**steps, "kind": "neuroplay", "config": config})
        ratio = r["step_s"] / plain["step_s"]
        row(
            "c",
            f"{label} ({r['precision']})",
            f"{r['step_s']:.2f} s/step",
            r["peak_rss_mb"],
            "≤ plain",
            f"{ratio:.2f}× plain, {r['tiles']} tile(s)",
        )

    print(f"\nload average at end: {load()}; total {time.perf_counter() - START:.0f} s\n")
    print("| part | run | time | peak RSS (MB) | target | note |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


START = time.perf_counter()

if __name__ == "__main__":
    main()
