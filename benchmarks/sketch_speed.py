"""How fast sketch colouring is: the issue-13 targets, each measured the way a user meets it.

1. ``import torch`` alone (the floor under any command that runs a network) and a whole
   ``neuroplay sketch search demo:cup -q`` call against the built-in gallery, indexed first:
   the median of ``--runs`` fresh processes.
2. Indexing: ``--index-photos`` Sketchy photos into a fresh index, in-process, after the
   networks are loaded (HED edges, descriptors and the embedding's features): seconds per photo.
3. Search in-process on a 1000-photo gallery (the 762 Sketchy photos and mirrored copies of
   the first 238; indexed once, kept in ``--workdir``): the median of ``--queries`` real drawings,
   each a user's search (describe the drawing, rank, chamfer on the shortlist, the top 5).
4. ``neuroplay sketch colorize demo:NAME`` at 512 px (the default) for the five built-in
   drawings, retrieval from the built-in gallery included: wall seconds of each command.

    .venv/bin/python benchmarks/sketch_speed.py --workdir /tmp/speed

Targets: colorize <= 60 s, indexing <= 0.3 s per photo, search <= 100 ms in-process on 1000
photos, a whole search call <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SKETCHES = Path(__file__).resolve().parents[2] / "shared" / "data" / "sketches"
DRAWINGS = ("cup", "cat", "rocket", "astronaut", "horse")


def exe() -> str:
    return str(Path(sys.executable).with_name("neuroplay"))


def wall(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.strip()[-500:]}")
    return time.perf_counter() - start, proc.stdout


def startup(runs: int) -> dict:
    wall([exe(), "sketch", "search", "demo:cup", "-q"])  # indexes the built-in gallery, warms the file cache
    torch_s = [wall([sys.executable, "-c", "import torch"])[0] for _ in range(runs)]
    search_s = [wall([exe(), "sketch", "search", "demo:cup", "-q"])[0] for _ in range(runs)]
    return {"import_torch_s": statistics.median(torch_s), "search_call_s": statistics.median(search_s)}


def indexing(n: int) -> dict:
    from neuroplay.vision.sketch.search import index_gallery

    manifest = json.loads((SKETCHES / "manifest.json").read_text())
    photos = [SKETCHES / p["photo"] for p in manifest["photos"]][: n + 2]
    with tempfile.TemporaryDirectory() as tmp:
        warm, timed = Path(tmp, "warm"), Path(tmp, "timed")
        for folder, chosen in ((warm, photos[:2]), (timed, photos[2:])):
            folder.mkdir()
            for p in chosen:
                os.symlink(p, folder / f"{p.parent.name}__{p.name}")
        index_gallery(warm, device="cpu", index_path=Path(tmp, "warm.pt"))  # loads the networks
        start = time.perf_counter()
        index = index_gallery(timed, device="cpu", index_path=Path(tmp, "timed.pt"))
        seconds = time.perf_counter() - start
    return {"photos": len(index), "seconds": seconds, "s_per_photo": seconds / len(index)}


def big_gallery(work: Path, size: int = 1000) -> Path:
    from PIL import Image

    folder = work / "gallery-1000"
    folder.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((SKETCHES / "manifest.json").read_text())
    photos = [SKETCHES / p["photo"] for p in manifest["photos"]]
    for p in photos:
        link = folder / f"{p.parent.name}__{p.name}"
        if not link.exists():
            os.symlink(p, link)
    for p in photos[: size - len(photos)]:
        mirrored = folder / f"mirrored__{p.parent.name}__{p.stem}.png"
        if not mirrored.exists():
            Image.open(p).convert("RGB").transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(mirrored)
    return folder


def search_1000(work: Path, queries: int) -> dict:
    from neuroplay.vision.sketch.lines import load_sketch
    from neuroplay.vision.sketch.search import index_gallery

    folder = big_gallery(work)
    start = time.perf_counter()
    index = index_gallery(folder, device="cpu", index_path=work / "index-1000.pt")
    index_s = time.perf_counter() - start
    manifest = json.loads((SKETCHES / "manifest.json").read_text())
    step = max(1, len(manifest["pairs"]) // queries)
    drawings = [load_sketch(SKETCHES / p["sketch"]) for p in manifest["pairs"][::step][:queries]]
    index.search(drawings[0])  # warm
    times = []
    for drawing in drawings:
        t = time.perf_counter()
        index.search(drawing)
        times.append(time.perf_counter() - t)
    return {
        "photos": len(index),
        "index_or_load_s": index_s,
        "search_ms_median": 1000 * statistics.median(times),
        "search_ms_min": 1000 * min(times),
    }


def colorize(out: Path) -> dict:
    rows = {}
    for name in DRAWINGS:
        cmd = [exe(), "sketch", "colorize", f"demo:{name}", "-o", str(out / f"{name}.png"), "--json", "-q"]
        seconds, stdout = wall(cmd)
        summary = json.loads(stdout.strip().splitlines()[-1])
        row = {"wall_s": seconds, "retrieved": Path(summary["retrieved"]).name, "regions": summary["regions"]}
        rows[name] = row
        print(f"  colorize {name}: {seconds:.1f} s, {row['retrieved']}, {row['regions']} regions", flush=True)
    rows["median_wall_s"] = statistics.median(r["wall_s"] for r in rows.values())
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="Fresh processes per startup measurement.")
    parser.add_argument("--index-photos", type=int, default=40, help="Photos to index for the per-photo time.")
    parser.add_argument("--queries", type=int, default=30, help="Real drawings searched on the 1000-photo gallery.")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "neuroplay-speed")
    parser.add_argument("--parts", default="startup,index,search,colorize", help="Which measurements to run.")
    parser.add_argument("--json", type=Path, help="Also write the numbers here.")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    import torch

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    report: dict = {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count()}
    parts = args.parts.split(",")
    if "startup" in parts:
        report["startup"] = startup(args.runs)
        print("startup:", json.dumps(report["startup"]), flush=True)
    if "index" in parts:
        report["index"] = indexing(args.index_photos)
        print("index:", json.dumps(report["index"]), flush=True)
    if "search" in parts:
        if not (SKETCHES / "manifest.json").is_file():
            raise SystemExit(f"no real drawings at {SKETCHES}")
        report["search_1000"] = search_1000(args.workdir, args.queries)
        print("search on 1000:", json.dumps(report["search_1000"]), flush=True)
    if "colorize" in parts:
        report["colorize"] = colorize(args.workdir)
        print(f"colorize median: {report['colorize']['median_wall_s']:.1f} s", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
