"""Real drawings coloured end to end: the contact sheets ``docs/sketch_real_*_sheet.png``.

Five Sketchy drawings of evaluation categories (``benchmarks/sbir_real.py``'s split, never used
for training or tuning) are each coloured by ``neuroplay sketch colorize`` from one mixed
20-picture gallery: the five drawings' own photos, 8 other photos of evaluation categories
(chosen with ``--seed``) and the photos and paintings of ``../shared/data/photos`` and
``styles``. For each drawing the script prints where its own photo ranks, what was retrieved,
the regions and the wall time, and writes the sheet.

    .venv/bin/python benchmarks/sketch_real_sheets.py --out docs        # the sheets in docs/
    .venv/bin/python benchmarks/sketch_real_sheets.py --drawings 0      # 5 drawings drawn by --seed

By default the five drawings are the ones the sheets in ``docs/`` have shown since they were
first made (squirrel, snail, rocket, owl, ant; drawn with a fixed seed then), so runs compare.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sbir_real import SKETCHES, split_categories  # noqa: E402

SHARED = SKETCHES.parent
DRAWINGS = (
    "sketchy/sketches/squirrel/n02355227_11696-1.png",
    "sketchy/sketches/snail/n01944390_10126-7.png",
    "sketchy/sketches/rocket/n03773504_11150-1.png",
    "sketchy/sketches/owl/n01621127_10236-6.png",
    "sketchy/sketches/ant/n02219486_16174-1.png",
)


def pick_drawings(manifest: dict, split: dict, count: int, seed: int) -> list[dict]:
    """``count`` drawings of distinct evaluation categories (0: the five of :data:`DRAWINGS`)."""
    pairs = [p for p in manifest["pairs"] if p["category"] in split["eval"]]
    if count == 0:
        by_sketch = {p["sketch"]: p for p in pairs}
        return [by_sketch[s] for s in DRAWINGS]
    rng = np.random.default_rng(seed)
    chosen, seen = [], set()
    for i in rng.permutation(len(pairs)):
        if pairs[i]["category"] not in seen:
            chosen.append(pairs[i])
            seen.add(pairs[i]["category"])
        if len(chosen) == count:
            break
    return chosen


def make_gallery(manifest: dict, split: dict, drawings: list[dict], folder: Path, seed: int) -> list[Path]:
    """Link the mixed gallery into ``folder``: own photos, 8 other evaluation photos, the shared pictures."""
    own = {d["photo"] for d in drawings}
    others = sorted(p["photo"] for p in manifest["photos"] if p["category"] in split["eval"] and p["photo"] not in own)
    rng = np.random.default_rng(seed)
    extra = [others[i] for i in sorted(rng.choice(len(others), 8, replace=False))]
    sources = [SKETCHES / p for p in sorted(own) + extra]
    sources += sorted((SHARED / "photos").glob("*.jpg")) + sorted((SHARED / "styles").glob("*.jpg"))
    folder.mkdir(parents=True, exist_ok=True)
    for src in sources:
        name = f"{src.parent.name}__{src.name}" if SKETCHES in src.parents else src.name
        if not (folder / name).exists():
            os.symlink(src, folder / name)
    return sorted(folder.iterdir())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="Copy the contact sheets here (e.g. docs).")
    parser.add_argument("--drawings", type=int, default=0, help="0: the five documented drawings; N: N by --seed.")
    parser.add_argument("--seed", type=int, default=13, help="Chooses the other gallery photos (and drawings).")
    parser.add_argument("--json", type=Path, help="Also write the numbers here.")
    args = parser.parse_args()
    if not (SKETCHES / "manifest.json").is_file():
        raise SystemExit(f"no real drawings at {SKETCHES}; this benchmark needs ../shared/data/sketches")
    from neuroplay.vision.sketch.lines import load_sketch
    from neuroplay.vision.sketch.pipeline import colorize_from_gallery
    from neuroplay.vision.sketch.search import index_gallery

    manifest = json.loads((SKETCHES / "manifest.json").read_text())
    split = split_categories(manifest)
    drawings = pick_drawings(manifest, split, args.drawings, args.seed)
    rows = []
    with tempfile.TemporaryDirectory(prefix="neuroplay-sheets-") as tmp:
        gallery = Path(tmp, "gallery")
        pictures = make_gallery(manifest, split, drawings, gallery, args.seed)
        index = index_gallery(gallery, device="cpu")
        work = Path(tmp, "results")
        work.mkdir()
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
        print(f"gallery: {len(pictures)} pictures")
        for d in drawings:
            own = f"{d['category']}__{Path(d['photo']).name}"
            ranked = [h.path.name for h in index.search(load_sketch(SKETCHES / d["sketch"]), k=len(index))]
            start = time.perf_counter()
            output = work / f"sketch_real_{d['category']}.png"
            result = colorize_from_gallery(str(SKETCHES / d["sketch"]), gallery, output=output)
            seconds = time.perf_counter() - start
            if args.out:  # the sheet only: the image and sidecar are in it
                shutil.copyfile(result.files["sheet"], args.out / result.files["sheet"].name)
            row = {
                "category": d["category"],
                "drawing": Path(d["sketch"]).name,
                "own_rank": ranked.index(own) + 1,
                "retrieved": ranked[0],
                "regions": result.summary.get("regions"),
                "seconds": round(seconds, 1),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
