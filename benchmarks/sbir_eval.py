"""Sketch-based image retrieval: Recall@1/5 on a synthetic sketch set, and search latency.

1. Recall. Photos: the scikit-image photos bundled offline (``neuroplay.vision.sketch.drawing.
   BUILTIN_GALLERY``) plus ``../shared/data/photos/*.jpg`` and ``../shared/data/styles/*.jpg``
   when present. Queries: hand-like sketches drawn from each photo by
   :func:`~neuroplay.vision.sketch.drawing.synthetic_sketch` (its main HED contours, simplified,
   partly dropped, jittered, redrawn with wobble and gaps; ``--seeds`` per photo; photos whose
   sketch comes out blank, i.e. textures, are not queries but stay in the gallery), the same
   sketches mirrored left-right, and the five built-in hand-coded sample sketches. Gallery: the
   photos plus distractors: ``--crops`` zoomed crops of each photo (hard negatives: same
   colours and textures, other framing) and ``--procedural`` generated pictures of random shapes.
   Recall@k: the share of queries whose source photo is among the first k results. Reported per
   descriptor (each alone), HOG + chamfer without the CNN (the fast path), and all three fused,
   with the mirrored-sketch search off and on. Hard sketches keep fewer strokes and are drawn
   shakier and further out of place (``HARD``).
2. Latency. A gallery of ``--big`` pictures (augmented crops, flips and colour shifts of the
   photos, and generated pictures) is written to a temp folder and indexed (timed), re-indexed
   (nothing changed), and searched: the median and best time per query (sketch description,
   with its one VGG forward pass, plus the matching) and of the matching alone, for the fused
   search and for HOG + chamfer without the CNN.

Limits: the sketches are made from the very edges the index sees (same photo, same HED), so
this measures robustness to simplification, wobble, dropped strokes and misplacement, not to
the way people really draw (caricature, missing perspective, different detail): human sketches
would score lower. Seeds 0-1 were used to choose the weights; the default seeds (100...) are
held out.

    python benchmarks/sbir_eval.py                       # everything (indexing 1000 photos takes a while)
    python benchmarks/sbir_eval.py --big 0               # recall only
    python benchmarks/sbir_eval.py --workdir /tmp/sbir   # keep galleries and index between runs
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from neuroplay.common.errors import UserError
from neuroplay.vision.image import load_image, to_array
from neuroplay.vision.sketch import drawing
from neuroplay.vision.sketch.config import RetrievalConfig
from neuroplay.vision.sketch.search import index_gallery

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
HARD = {"keep_length": 0.7, "drop": 0.5, "wobble": 2.0, "jitter": 2.0}  # fewer strokes, shakier, further off
VARIANTS = {
    "cnn": {"weight_hog": 0.0, "weight_chamfer": 0.0},
    "hog": {"weight_cnn": 0.0, "weight_chamfer": 0.0},
    "chamfer": {"weight_cnn": 0.0, "weight_hog": 0.0, "shortlist": 10**9},
    "hog+chamfer": {"weight_cnn": 0.0},  # no VGG forward pass per query: the fast path
    "fused": {},
}


def source_photos(max_side: int = 512) -> dict[str, np.ndarray]:
    """Photos usable here: bundled scikit-image photos and the shared photos and paintings."""
    photos = {name: drawing.builtin_photo(name) for name in drawing.BUILTIN_GALLERY}
    for folder in ("photos", "styles"):
        for path in sorted((SHARED / folder).glob("*.jpg")):
            photos[path.stem] = to_array(load_image(path, max_size=max_side))
    return photos


def crop(photo: np.ndarray, rng: np.random.Generator, zoom: tuple[float, float]) -> np.ndarray:
    height, width = photo.shape[:2]
    factor = rng.uniform(*zoom)
    h, w = max(16, int(height / factor)), max(16, int(width / factor))
    y, x = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
    return photo[y : y + h, x : x + w]


def augment(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A crop (zoom 1-2×), maybe flipped, with a colour shift: a new picture for the big gallery."""
    out = crop(photo, rng, (1.0, 2.0)).astype(np.float32)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    out = out * rng.uniform(0.7, 1.3, 3) + rng.uniform(-30, 30, 3)
    return np.clip(out, 0, 255).astype(np.uint8)


def procedural(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """A generated picture: a gradient background and a few random ellipses, polygons and lines."""
    height, width = size, int(size * rng.uniform(0.7, 1.4))
    top, bottom = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    ramp = np.linspace(0, 1, height)[:, None, None]
    background = (top * (1 - ramp) + bottom * ramp).repeat(width, axis=1)
    picture = Image.fromarray(background.astype(np.uint8))
    pen = ImageDraw.Draw(picture)
    for _ in range(rng.integers(2, 7)):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x0, y0 = rng.uniform(-0.1, 0.9) * width, rng.uniform(-0.1, 0.9) * height
        x1, y1 = x0 + rng.uniform(0.1, 0.6) * width, y0 + rng.uniform(0.1, 0.6) * height
        kind = rng.integers(3)
        if kind == 0:
            pen.ellipse((x0, y0, x1, y1), fill=colour)
        elif kind == 1:
            corners = rng.uniform(0, 1, (rng.integers(3, 7), 2)) * [width, height]
            pen.polygon([tuple(p) for p in corners], fill=colour)
        else:
            pen.line((x0, y0, x1, y1), fill=colour, width=int(rng.integers(2, 12)))
    return np.asarray(picture)


def save(folder: Path, name: str, picture: np.ndarray) -> None:
    path = folder / f"{name}.jpg"
    if not path.exists():
        Image.fromarray(picture).save(path, quality=92)


def build_recall_gallery(folder: Path, photos: dict[str, np.ndarray], crops: int, n_procedural: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    for name, photo in photos.items():
        save(folder, name, photo)
        for i in range(crops):
            save(folder, f"zz-crop-{name}-{i}", crop(photo, rng, (1.6, 2.5)))
    for i in range(n_procedural):
        save(folder, f"zz-generated-{i:03d}", procedural(rng))


def build_big_gallery(folder: Path, photos: dict[str, np.ndarray], total: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    names = list(photos)
    for i in range(total):
        if i % 4 == 3:
            save(folder, f"generated-{i:04d}", procedural(rng))
        else:
            source = names[i % len(names)]
            save(folder, f"{source}-{i:04d}", augment(photos[source], rng))


def make_queries(
    photos: dict[str, np.ndarray], seeds: list[int]
) -> tuple[list[tuple[str, str, np.ndarray]], list[str]]:
    """``(kind, target photo, sketch)`` for every photo and seed, plus the hand-coded samples;
    and the photos whose synthetic sketch came out (nearly) blank."""
    queries, blank = [], []
    for name, photo in photos.items():
        for seed in seeds:
            sketch = drawing.synthetic_sketch(photo, seed=seed)
            if (sketch < 128).sum() < 0.002 * sketch.size:
                blank.append(f"{name}/{seed}")
                continue
            queries.append(("synthetic", name, sketch))
            queries.append(("mirrored", name, np.ascontiguousarray(sketch[:, ::-1])))
            hard = drawing.synthetic_sketch(photo, seed=seed, **HARD)
            if (hard < 128).sum() >= 0.002 * hard.size:
                queries.append(("hard", name, hard))
    for name, photo_name in drawing.SAMPLE_SKETCHES.items():
        queries.append(("samples", photo_name, drawing.sample_sketch(name)))
    return queries, blank


def recall_table(index, queries, kinds: list[str]) -> list[tuple[str, str, dict[str, tuple[float, float]]]]:
    described = [(kind, target, index.describe_sketch(sketch)) for kind, target, sketch in queries]
    base = index.config
    rows = []
    for mirror in (False, True):
        for name, change in VARIANTS.items():
            index.config = replace(base, mirror=mirror, **change)
            ranks: dict[str, list[int]] = {k: [] for k in kinds}
            for kind, target, query in described:
                hits = index.search(query, k=len(index))
                ranks[kind].append([Path(h.path).stem for h in hits].index(target))
            cells = {k: (float(np.mean(np.array(r) < 1)), float(np.mean(np.array(r) < 5))) for k, r in ranks.items()}
            rows.append(("on" if mirror else "off", name, cells))
    index.config = base
    return rows


def per_picture(seconds: float, index) -> str:
    return f"{1000 * seconds / max(1, index.stats.added):.0f} ms per new picture"


def time_queries(index, sketches: list[np.ndarray]) -> tuple[list[float], list[float]]:
    """Seconds per query: whole search (describe + match) and matching alone."""
    index.search(sketches[0], k=5)  # warm-up: loads VGG16
    total, match = [], []
    for sketch in sketches:
        t0 = time.perf_counter()
        query = index.describe_sketch(sketch)
        t1 = time.perf_counter()
        index.search(query, k=5)
        t2 = time.perf_counter()
        total.append(t2 - t0)
        match.append(t2 - t1)
    return total, match


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="100,101,102", help="synthetic sketch seeds per photo")
    ap.add_argument("--crops", type=int, default=2, help="zoomed-crop distractors per photo")
    ap.add_argument("--procedural", type=int, default=60, help="generated distractor pictures")
    ap.add_argument("--big", type=int, default=1000, help="pictures in the latency gallery (0: skip)")
    ap.add_argument("--queries", type=int, default=30, help="timed queries on the big gallery")
    ap.add_argument("--edges", default="auto", choices=["auto", "hed", "canny"])
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--workdir", type=Path, default=None, help="keep galleries and indexes here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",") if s]
    work = args.workdir or Path(tempfile.mkdtemp(prefix="sbir-"))
    os.environ.setdefault("NEUROPLAY_CACHE", str(work / "cache"))
    config = RetrievalConfig(edges=args.edges)
    notes = []

    def note(message: str) -> None:
        notes.append(message)
        print(f"  {message}", file=sys.stderr)

    photos = source_photos()
    gallery = work / "recall"
    build_recall_gallery(gallery, photos, args.crops, args.procedural)
    t0 = time.perf_counter()
    index = index_gallery(gallery, config, device="cpu", notify=note)
    recall_index_s = time.perf_counter() - t0
    queries, blank = make_queries(photos, seeds)
    kinds = ["synthetic", "hard", "mirrored", "samples"]
    counts = {k: sum(q[0] == k for q in queries) for k in kinds}
    rows = recall_table(index, queries, kinds)

    print(f"# SBIR evaluation ({datetime.date.today().isoformat()})")
    print(f"machine: {machine()}")
    print(f"edges: {index.method}; config: {config}")
    print(
        f"recall gallery: {len(index)} pictures ({len(photos)} photos, {args.crops} crops each, "
        f"{args.procedural} generated); indexed in {recall_index_s:.1f} s ({index.stats.added} new)"
    )
    print(
        f"queries: {counts['synthetic']} synthetic sketches (seeds {args.seeds}), {counts['hard']} hard ones "
        f"({HARD}), the first {counts['mirrored']} mirrored, {counts['samples']} hand-coded samples; "
        f"blank (not queries): {', '.join(blank) or 'none'}"
    )
    print()
    header = " | ".join(f"{k} ({counts[k]}) R@1 / R@5" for k in kinds)
    print(f"| mirror search | descriptor | {header} |")
    print("|---|---|" + "---|" * len(kinds))
    for mirror, name, cells in rows:
        text = " | ".join(f"{cells[k][0]:.2f} / {cells[k][1]:.2f}" for k in kinds)
        print(f"| {mirror} | {name} | {text} |")

    if args.big > 0:
        big = work / f"big-{args.big}"
        build_big_gallery(big, photos, args.big)
        t0 = time.perf_counter()
        big_index = index_gallery(big, config, device="cpu", notify=note)
        index_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        index_gallery(big, config, device="cpu", notify=note)
        reuse_s = time.perf_counter() - t0
        sketches = [q[2] for q in queries if q[0] == "synthetic"][: args.queries]
        rows = [
            (f"index, {big_index.stats.added} new pictures", f"{index_s:.1f} s ({per_picture(index_s, big_index)})"),
            ("re-index, nothing changed", f"{reuse_s:.2f} s"),
        ]
        for label, change in (("fused", {}), ("hog+chamfer, no CNN", {"weight_cnn": 0.0})):
            big_index.config = replace(config, **change)
            total, match = time_queries(big_index, sketches)
            rows.append(
                (
                    f"search per query, {label} (describe sketch + match), median / min of {len(total)}",
                    f"{1000 * statistics.median(total):.0f} / {1000 * min(total):.0f} ms",
                )
            )
            rows.append((f"of which matching, {label}, median", f"{1000 * statistics.median(match):.1f} ms"))
        print()
        print(f"| latency, {len(big_index)}-picture gallery | value |")
        print("|---|---|")
        for label, value in rows:
            print(f"| {label} | {value} |")
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"\nload average at the end (1, 5, 15 min): {load} on {os.cpu_count()} cores (a shared machine)")
    if notes:
        print(f"\n{len(notes)} notes (skipped files and the like) went to stderr")
    print(f"\nworkdir: {work}")


if __name__ == "__main__":
    try:
        main()
    except UserError as exc:
        sys.exit(f"error: {exc}")
