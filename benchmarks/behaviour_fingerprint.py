"""Fingerprint what every part produces for fixed seeds, to prove a refactor changed no behaviour.

Runs small, fixed-seed jobs through the command line (the contract), then hashes what they
wrote: network weights and champions (the tensors), images and GIF frames (decoded pixels),
and the numbers of each ``--json`` line (wall times left out). Run it before and after a
change and compare:

    .venv/bin/python benchmarks/behaviour_fingerprint.py --out /tmp/fp-before.json
    ... change ...
    .venv/bin/python benchmarks/behaviour_fingerprint.py --out /tmp/fp-after.json --compare /tmp/fp-before.json

MP4 files are fingerprinted by frame count and size only: their bytes depend on the encoder.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

NEUROPLAY = [sys.executable, "-m", "neuroplay"]
VOLATILE = {"wall_seconds", "train_seconds", "seconds", "steps_per_second", "elapsed", "timings", "out", "output"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def tensors_hash(path: Path) -> str:
    import torch

    data = torch.load(path, map_location="cpu", weights_only=True)
    h = hashlib.sha256()

    def walk(obj, key=""):
        if isinstance(obj, torch.Tensor):
            h.update(key.encode())
            h.update(obj.detach().contiguous().cpu().numpy().tobytes())
        elif isinstance(obj, dict):
            for k in sorted(obj, key=str):
                if k not in ("elapsed", "content_sha256"):  # the checksum covers the wall time too
                    walk(obj[k], f"{key}/{k}")
        elif isinstance(obj, list | tuple):
            for i, v in enumerate(obj):
                walk(v, f"{key}/{i}")
        elif isinstance(obj, float | int | str | bool) or obj is None:
            if not key.endswith(("wall_seconds", "elapsed")):
                h.update(f"{key}={obj!r}".encode())

    walk({k: v for k, v in data.items() if k != "counters"} if "counters" in data else data)
    if "counters" in data:  # the DQN checkpoint's counters hold a wall time
        walk({k: v for k, v in data["counters"].items() if k != "elapsed"}, "counters")
    return h.hexdigest()[:16]


def image_hash(path: Path) -> str:
    from PIL import Image

    with Image.open(path) as im:
        frames = []
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            frames.append(np.asarray(im.convert("RGB")).tobytes())
    return f"{len(frames)}x{sha(b''.join(frames))}"


def mp4_summary(path: Path) -> str:
    import imageio.v3 as iio

    frames = iio.imread(path, plugin="pyav")
    return f"{frames.shape[0]} frames {frames.shape[1]}x{frames.shape[2]}"


def numbers(obj):
    if isinstance(obj, dict):
        return {k: numbers(v) for k, v in sorted(obj.items()) if k not in VOLATILE and not k.endswith("_seconds")}
    if isinstance(obj, list):
        return [numbers(v) for v in obj]
    if isinstance(obj, float):
        return round(obj, 6)
    if isinstance(obj, str) and ("/" in obj or obj.endswith((".png", ".pt", ".gif"))):
        return Path(obj).name
    return obj


def run(args: list[str], cwd: Path) -> dict:
    env = dict(os.environ, COLUMNS="120")
    proc = subprocess.run([*NEUROPLAY, *args, "--json"], cwd=cwd, capture_output=True, text=True, env=env)
    if proc.returncode not in (0,):
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


PARTS = ("dqn", "qtable", "evolve", "style", "dream", "sketch")


def fingerprint(work: Path, parts: tuple[str, ...] = PARTS) -> dict[str, object]:
    fp: dict[str, object] = {}

    def job(name: str, command: str) -> dict:
        t = time.perf_counter()
        out = run(command.split(), work)
        fp[f"{name}.json"] = numbers(out)
        print(f"{name}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
        return out

    if "dqn" in parts:
        job("dqn", "dqn train --out dqn --total-steps 3000 --eval-every 1000 -q")
        fp["dqn.model"] = tensors_hash(work / "dqn/model.pt")
        fp["dqn.checkpoint"] = tensors_hash(work / "dqn/checkpoint.pt")
        job("dqn_eval", "dqn eval dqn/model.pt --episodes 5 --seed 3")
        job("dqn_play", "dqn play dqn --gif cartpole.gif --seed 1")
        fp["dqn.gif"] = image_hash(work / "cartpole.gif")

    if "qtable" in parts:
        job("qtable", "qtable --out qtable --episodes 300 --seed 2 -q")
        fp["qtable.csv"] = sha((work / "qtable/qtable.csv").read_bytes())
        fp["qtable.png"] = image_hash(work / "qtable/policy_values.png")

    if "evolve" in parts:
        args = "evolve train --out evo --population 200 --generations 6 --seed 1 -q"
        job("evolve", f"{args} --target-pipes 50 --validation-courses 20")
        fp["evolve.checkpoint"] = tensors_hash(work / "evo/checkpoint.pt")
        if (work / "evo/champion.pt").exists():
            fp["evolve.champion"] = tensors_hash(work / "evo/champion.pt")
        job("evolve_classic", "evolve train --out evoc --algorithm classic --generations 8 -q")
        fp["evolve_classic.checkpoint"] = tensors_hash(work / "evoc/checkpoint.pt")
        job("evolve_eval", "evolve eval evoc --courses 4 --max-pipes 30 --seed 5")
        job("evolve_play", "evolve play evoc --gif flappy.gif --max-frames 120 --seed 2")
        fp["evolve.gif"] = image_hash(work / "flappy.gif")
        job("evolve_play_mp4", "evolve play evoc --gif flappy.mp4 --max-frames 120 --seed 2")
        fp["evolve.mp4"] = mp4_summary(work / "flappy.mp4")

    if "style" in parts:
        job("style", "style demo:chelsea demo:swirl -o style.png -s 128 --scales 64,128 -n 6,5 -q")
        fp["style.png"] = image_hash(work / "style.png")
        adam = "-s 64 -n 8 --scales 64 --optimizer adam --init noise --seed 4 -q"
        job("style_adam", f"style demo:coffee demo:mosaic -o adam.png {adam}")
        fp["style_adam.png"] = image_hash(work / "adam.png")

    if "dream" in parts:
        job("dream", "dream demo:astronaut -o dream.png --max-size 128 --octaves 2 -n 3 -q")
        fp["dream.png"] = image_hash(work / "dream.png")
        job("dream_zoom", "dream demo:rocket -o zoom.gif --max-size 96 --octaves 2 -n 2 --zoom-frames 3 -q")
        fp["dream_zoom.gif"] = image_hash(work / "zoom.gif")

    if "sketch" in parts:
        job("sketch_search", "sketch search demo:cat")
        job("sketch_colorize", "sketch colorize demo:cup -o cup.png -s 96 -n 4,3 -q")
        fp["sketch.png"] = image_hash(work / "cup.png")
        fp["sketch_sheet.png"] = image_hash(work / "cup_sheet.png") if (work / "cup_sheet.png").exists() else None
    return fp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="Where to write the fingerprint (JSON).")
    parser.add_argument("--compare", type=Path, help="An earlier fingerprint to compare with.")
    parser.add_argument(
        "--only", default=",".join(PARTS), help=f"Comma-separated parts to run (of {', '.join(PARTS)}); default all."
    )
    args = parser.parse_args()
    parts = tuple(p for p in args.only.split(",") if p)
    if not set(parts) <= set(PARTS):
        parser.error(f"--only takes some of {', '.join(PARTS)}")
    with tempfile.TemporaryDirectory(prefix="neuroplay-fp-") as tmp:
        fp = fingerprint(Path(tmp), parts)
    args.out.write_text(json.dumps(fp, indent=1, sort_keys=True) + "\n")
    print(f"wrote {args.out} ({len(fp)} entries)")
    if args.compare:
        before = json.loads(args.compare.read_text())
        before = {k: v for k, v in before.items() if k.split(".")[0].split("_")[0] in parts}
        diff = [k for k in sorted(set(before) | set(fp)) if before.get(k) != fp.get(k)]
        for k in diff:
            print(f"DIFFERENT {k}:\n  before {before.get(k)}\n  after  {fp.get(k)}")
        print(f"{len(fp) - len(diff)} of {len(fp)} entries identical; {len(diff)} different")
        raise SystemExit(1 if diff else 0)


if __name__ == "__main__":
    main()
