"""Colour fidelity of sketch colouring: does each region of the result wear its photo part's colour?

For every drawing, :func:`neuroplay.vision.sketch.pipeline.colorize_from_gallery` colours it
from its own photo (``photo=``, no retrieval), and for every match *sketch region → photo part*
this measures the colour difference between

- the result's mean colour over the sketch region (its stroke pixels left out: they are ink), and
- the photo's mean colour over the part it was matched to (the part's ``mean_color``, or the
  photo background's colour for part 0), both in the colouring's frame,

as ΔE CIEDE2000 (``skimage.color.deltaE_ciede2000`` on ``rgb2lab`` of the two means). A
drawing's ΔE is the mean over its regions, background included; the table also gives the
area-weighted mean, and ``obj%``: the share of the drawing's filled silhouette (its strokes
closed over gaps of 1/32 of its side, holes filled) labelled object rather than background:
a drawing whose object falls into the background scores a low ΔE against the wrong part, and
``obj%`` catches that.

Drawings: the five built-in ones (``demo:NAME``, each with its built-in photo) and ``--real``
Sketchy drawings with their own photos, drawn from ``../shared/data/sketches/manifest.json``'s
pairs with ``random.Random(--seed)`` (printed; skipped when the data is absent).

    python benchmarks/sketch_color_fidelity.py                          # 256 px, 10,10 iterations
    python benchmarks/sketch_color_fidelity.py --size 256 --iterations 10,10 --json
    python benchmarks/sketch_color_fidelity.py --out /tmp/fidelity      # keep results and sheets
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.morphology import disk

from neuroplay.common.errors import UserError
from neuroplay.vision.sketch.config import ColorizeConfig
from neuroplay.vision.sketch.drawing import SAMPLE_SKETCHES, builtin_gallery_dir
from neuroplay.vision.sketch.pipeline import colorize_from_gallery

SKETCHES = Path(__file__).resolve().parents[2] / "shared" / "data" / "sketches"


def drawings(n_real: int, seed: int) -> list[tuple[str, str, str]]:
    """``(name, sketch, photo)`` for the built-in drawings, then ``n_real`` Sketchy pairs."""
    gallery = builtin_gallery_dir()
    out = [(f"demo:{name}", f"demo:{name}", str(gallery / f"{photo}.png")) for name, photo in SAMPLE_SKETCHES.items()]
    manifest = SKETCHES / "manifest.json"
    if n_real and manifest.is_file():
        pairs = json.loads(manifest.read_text())["pairs"]
        for pair in random.Random(seed).sample(pairs, n_real):
            out.append((Path(pair["sketch"]).name, str(SKETCHES / pair["sketch"]), str(SKETCHES / pair["photo"])))
    elif n_real:
        print(f"note: {manifest} not found, real drawings skipped", file=sys.stderr)
    return out


def _delta_e(a: np.ndarray, b: np.ndarray) -> float:
    lab = rgb2lab(np.stack([a, b])[None].astype(np.float64))[0]
    return float(deltaE_ciede2000(lab[0], lab[1]))


def fidelity(made) -> dict:
    """ΔE of every matched region of one colouring, their means, and the object share."""
    result = made.colorized
    image = result.image[0].permute(1, 2, 0).numpy().astype(np.float64)
    labels, strokes = result.sketch.labels, result.sketch.strokes
    colours = {0: np.asarray(result.photo.background_color)}
    colours.update({p.label: np.asarray(p.mean_color) for p in result.photo.parts})
    rows = []
    for m in result.matches:
        inside = (labels == m.sketch) & ~strokes
        inside = inside if inside.any() else labels == m.sketch
        rows.append(
            (int(m.sketch), int(m.photo), int(inside.sum()), _delta_e(image[inside].mean(axis=0), colours[m.photo]))
        )
    gap = max(4, round(max(labels.shape) / 32))
    closed = ndimage.binary_closing(np.pad(strokes, gap), structure=disk(gap))[gap:-gap, gap:-gap]
    filled = ndimage.binary_fill_holes(closed)
    areas = np.array([r[2] for r in rows], dtype=np.float64)
    values = np.array([r[3] for r in rows])
    return {
        "regions": [{"sketch_region": s, "photo_part": p, "pixels": n, "delta_e": round(d, 2)} for s, p, n, d in rows],
        "mean_delta_e": float(values.mean()),
        "weighted_delta_e": float((values * areas).sum() / areas.sum()),
        "object_share": float((labels[filled] > 0).mean()) if filled.any() else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256, help="longest side of each colouring (default 256)")
    parser.add_argument("--iterations", default="10,10", help="style-transfer iterations per scale (default 10,10)")
    parser.add_argument("--parts", type=int, default=ColorizeConfig().parts)
    parser.add_argument("--real", type=int, default=20, help="Sketchy drawings (default 20)")
    parser.add_argument("--seed", type=int, default=13, help="seed choosing the Sketchy drawings (default 13)")
    parser.add_argument("--out", type=Path, help="folder to keep each result, its sheet and sidecar in")
    parser.add_argument("--json", action="store_true", help="one JSON object on the last line of stdout")
    args = parser.parse_args(argv)
    iterations = tuple(int(v) for v in args.iterations.split(","))
    config = ColorizeConfig(size=args.size, iterations=iterations, parts=args.parts, seed=0, device="cpu")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)

    rows, failed = [], []
    print(f"{'drawing':<34} {'regions':>7} {'ΔE':>6} {'ΔE(area)':>8} {'obj%':>5} {'s':>5}  photo")
    for name, sketch, photo in drawings(args.real, args.seed):
        start = time.perf_counter()
        output = args.out / f"{name.replace(':', '_').removesuffix('.png')}.png" if args.out else None
        try:
            made = colorize_from_gallery(sketch, config=config, photo=photo, output=output)
        except Exception as exc:  # a drawing refused (UserError) or a crash: a failure, not a number
            kind = "" if isinstance(exc, UserError) else f"{type(exc).__name__}: "
            failed.append({"drawing": name, "sketch": sketch, "photo": photo, "error": f"{kind}{exc}"})
            print(f"{name:<34} failed: {failed[-1]['error']}", flush=True)
            continue
        row = {"drawing": name, "sketch": sketch, "photo": photo, **fidelity(made)}
        row["seconds"] = round(time.perf_counter() - start, 1)
        rows.append(row)
        print(
            f"{name:<34} {len(row['regions']):>7} {row['mean_delta_e']:>6.2f} {row['weighted_delta_e']:>8.2f} "
            f"{100 * row['object_share']:>5.0f} {row['seconds']:>5.1f}  {Path(photo).name}",
            flush=True,
        )
    groups = {"demo": [r for r in rows if r["drawing"].startswith("demo:")]}
    groups["real"] = [r for r in rows if not r["drawing"].startswith("demo:")]
    groups["all"] = rows
    summary = {}
    for group, members in groups.items():
        if members:
            summary[group] = {
                "drawings": len(members),
                "mean_delta_e": round(statistics.fmean(r["mean_delta_e"] for r in members), 2),
                "weighted_delta_e": round(statistics.fmean(r["weighted_delta_e"] for r in members), 2),
                "object_share": round(statistics.fmean(r["object_share"] for r in members), 3),
            }
            s = summary[group]
            print(
                f"mean over {group} ({s['drawings']}): ΔE {s['mean_delta_e']:.2f}, "
                f"area-weighted {s['weighted_delta_e']:.2f}, obj {100 * s['object_share']:.0f}%"
            )
    if failed:
        print(f"failed: {len(failed)} ({', '.join(f['drawing'] for f in failed)})")
    if args.json:
        settings = {"size": args.size, "iterations": list(iterations), "parts": args.parts, "seed": args.seed}
        print(
            json.dumps(
                {"metric": "CIEDE2000", "settings": settings, "summary": summary, "drawings": rows, "failed": failed}
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
