"""Sketch-based image retrieval on real drawings: Sketchy (instance level) and TU-Berlin (category level).

Data: ``../shared/data/sketches`` (see its README). The 113 Sketchy categories are split once,
with a fixed seed, into categories used for training and tuning and categories only evaluated
on (:func:`split_categories`; the 22 categories TU-Berlin shares with Sketchy are split
separately, so both sides get some). Both splits are reported.

- **Instance level.** Each Sketchy drawing of a split's categories looks for its own photo. The
  gallery: every photo of the split's categories plus ``--distractors`` photos from the other
  split's categories (>= 150 photos in all). Recall@1/5/10 (its photo among the first k), mAP
  (one relevant photo: mean reciprocal rank), per category, and the time per query.
- **Category level.** Each TU-Berlin drawing (made from a category name, no photo) of a
  category in the split looks through the same gallery for photos of its category: top-5 hit
  (any of the first 5 is of its category), mAP over all photos of the category, and chance
  (the top-5 hit rate of a random ranking).

Methods (``--methods``), all through one :func:`~neuroplay.vision.sketch.search.index_gallery`
index per split: ``descriptors`` (HED edge maps of the photos, HOG, chamfer and CNN descriptors
of lines), ``embedding`` (the learned sketch-photo embedding alone, ``--model``: the built-in one
unless a file is named) and ``fused`` (both, as ``neuroplay sketch search`` ranks; ``--fusion``
adds runs at other weights). The time per query is that of a user's search (the top 5,
in-process, sketch description included); the measures use a second search that ranks the
whole gallery.

    python benchmarks/sbir_real.py                       # both splits, every method
    python benchmarks/sbir_real.py --split eval --queries 200 --workdir /tmp/sbir   # keep the indexes

``--split tune --model M``: the training categories that a model trained with ``--holdout``
never saw (its card's ``holdout_groups``), with distractors from the other training categories:
where the fusion weight is chosen, so the evaluation split stays unseen.

Queries are sampled (``--queries`` per split, fixed seed) when a split has more; ``--queries 0``
takes them all.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

SKETCHES = Path(__file__).resolve().parents[2] / "shared" / "data" / "sketches"
SPLIT_SEED = 2026
EVAL_SHARE = 0.3


def tu_to_sketchy(category: str) -> str:
    return category.replace("-", "_")


def split_categories(manifest: dict, seed: int = SPLIT_SEED, share: float = EVAL_SHARE) -> dict[str, list[str]]:
    """``{"train": [...], "eval": [...]}``: Sketchy categories, the TU-Berlin ones split on their own."""
    cats = sorted({p["category"] for p in manifest["photos"]})
    tu = {tu_to_sketchy(t["category"]) for t in manifest["tu_berlin"]}
    rng = np.random.default_rng(seed)
    out: dict[str, list[str]] = {"train": [], "eval": []}
    for group in (sorted(c for c in cats if c in tu), sorted(c for c in cats if c not in tu)):
        order = [group[i] for i in rng.permutation(len(group))]
        n_eval = round(share * len(group))
        out["eval"] += order[:n_eval]
        out["train"] += order[n_eval:]
    return {k: sorted(v) for k, v in out.items()}


def gallery_for(manifest: dict, split: dict, name: str, distractors: int, seed: int) -> list[dict]:
    """Every photo of the split's categories plus ``distractors`` photos of the other split's
    (for ``tune``: of the other training categories, so the evaluation split stays unseen)."""
    own = [p for p in manifest["photos"] if p["category"] in split[name]]
    pool = set(split["train"]) - set(split["tune"]) if name == "tune" else None
    other = [p for p in manifest["photos"] if p["category"] not in split[name]]
    other = [p for p in other if pool is None or p["category"] in pool]
    rng = np.random.default_rng(seed)
    pick = sorted(rng.choice(len(other), size=min(distractors, len(other)), replace=False).tolist())
    return own + [other[i] for i in pick]


# --- methods: each ranks the gallery for every query (higher score = better) ---------------------


def _link_gallery(photos: list[dict], folder: Path) -> dict[str, int]:
    """Link the photos into ``folder`` (one flat folder: the index is per folder); name -> row."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = {}
    for i, p in enumerate(photos):
        name = f"{p['category']}__{Path(p['photo']).name}"
        link = folder / name
        if not link.exists():
            os.symlink(SKETCHES / p["photo"], link)
        rows[name] = i
    return rows


_INDEXES: dict[str, object] = {}  # one index per split, shared by the methods
_QUERIES: dict[tuple[str, str], object] = {}  # each query described once (descriptors and embedding)


def _index(photos: list[dict], work: Path, label: str, model: str):
    from neuroplay.vision.sketch.config import RetrievalConfig
    from neuroplay.vision.sketch.search import index_gallery

    if label not in _INDEXES:
        rows = _link_gallery(photos, work / f"gallery-{label}")
        t0 = time.perf_counter()
        index = index_gallery(work / f"gallery-{label}", RetrievalConfig(embedding=model), device="cpu")
        print(f"  [{label}] indexed {len(index)} photos in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        _INDEXES[label] = (index, index.model, rows)
    return _INDEXES[label]


def _ranking(photos, sketches, work, label, model, mode: str, fusion: float | None = None):
    """Scores (queries × photos) and per-query search times of one method on one split."""
    from neuroplay.vision.sketch.lines import load_sketch

    index, learned, rows = _index(photos, work, label, model)
    if mode != "descriptors" and learned is None:
        raise SystemExit(f"--model {model}: no embedding to measure")
    scores = np.full((len(sketches), len(photos)), -np.inf)
    times = []
    order = [rows[p.name] for p in index.paths]
    for q, sketch in enumerate(sketches):
        drawing = load_sketch(SKETCHES / sketch)
        index.model = None if mode == "descriptors" else learned
        if fusion is not None and learned is not None:
            learned.fusion = fusion
        t = time.perf_counter()
        if mode == "embedding":
            desc = index.describe_sketch(drawing)
            ranked = learned.scores(index.embed, desc.embed).max(axis=0)
            times.append(time.perf_counter() - t)
            scores[q, order] = ranked
            continue
        index.search(drawing)  # what a user's search costs: the top 5 (description included)
        times.append(time.perf_counter() - t)
        key = (label, sketch)
        if key not in _QUERIES:  # described with the embedding's features, reused by every method
            index.model = learned
            _QUERIES[key] = index.describe_sketch(drawing)
            index.model = None if mode == "descriptors" else learned
        for h in index.search(_QUERIES[key], k=len(index)):  # the whole ranking, for the measures
            scores[q, rows[h.path.name]] = h.score
    return scores, times


def descriptors_scores(photos, sketches, work, label, model="builtin"):
    """The hand-made descriptors alone (HOG, chamfer, CNN of the edge maps)."""
    return _ranking(photos, sketches, work, label, model, "descriptors")


def embedding_scores(photos, sketches, work, label, model="builtin"):
    """The learned sketch-photo embedding alone."""
    return _ranking(photos, sketches, work, label, model, "embedding")


def fused_scores(photos, sketches, work, label, model="builtin", fusion=None):
    """What ``neuroplay sketch search`` does: descriptors and embedding fused (the model's weight)."""
    return _ranking(photos, sketches, work, label, model, "fused", fusion)


METHODS = {"descriptors": descriptors_scores, "embedding": embedding_scores, "fused": fused_scores}


# --- measures --------------------------------------------------------------------------------------


def instance_measures(scores: np.ndarray, target: np.ndarray) -> dict:
    """Recall@k and mean reciprocal rank (= mAP with one relevant photo) of each query's own photo."""
    own = scores[np.arange(len(target)), target]
    rank = 1 + (scores > own[:, None]).sum(axis=1)  # ties count in the query's favour
    return {
        "R@1": float((rank <= 1).mean()),
        "R@5": float((rank <= 5).mean()),
        "R@10": float((rank <= 10).mean()),
        "mAP": float((1.0 / rank).mean()),
        "ranks": rank,
    }


def category_measures(scores: np.ndarray, relevant: np.ndarray) -> dict:
    """Top-5 category hit, mAP over every relevant photo, and the top-5 hit rate of chance."""
    order = np.argsort(-scores, axis=1, kind="stable")
    rel = np.take_along_axis(relevant, order, axis=1)
    hit5 = rel[:, :5].any(axis=1)
    cum = np.cumsum(rel, axis=1)
    precision = cum / np.arange(1, rel.shape[1] + 1)
    ap = (precision * rel).sum(axis=1) / np.maximum(rel.sum(axis=1), 1)
    n, m = relevant.shape[1], relevant.sum(axis=1)
    chance = 1 - np.array([np.prod([(n - mi - j) / (n - j) for j in range(5)]) for mi in m])
    return {"top5": float(hit5.mean()), "mAP": float(ap.mean()), "chance_top5": float(chance.mean()), "hit": hit5}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--split",
        default="train,eval",
        help="Splits to measure, comma separated: train, eval, and tune (the training categories that --model held "
        "out: where to choose the fusion weight without touching eval).",
    )
    parser.add_argument("--methods", default=",".join(METHODS), help=f"Of: {', '.join(METHODS)}.")
    parser.add_argument("--queries", type=int, default=300, help="Sketchy queries per split (0: all).")
    parser.add_argument("--distractors", type=int, default=60, help="Photos from the other split's categories.")
    parser.add_argument("--workdir", type=Path, help="Keep galleries and indexes here between runs.")
    parser.add_argument("--json", type=Path, help="Also write the numbers here.")
    parser.add_argument("--model", default="builtin", help="The embedding: builtin or a model file.")
    parser.add_argument("--fusion", default="", help="Also measure 'fused' at these weights, e.g. 0.5,1,2.")
    args = parser.parse_args()
    unknown = set(args.split.split(",")) - {"train", "eval", "tune"}
    if unknown:
        parser.error(f"--split takes train, eval and/or tune, not {', '.join(sorted(unknown))}")
    if not (SKETCHES / "manifest.json").is_file():
        raise SystemExit(f"no real drawings at {SKETCHES}; this benchmark needs ../shared/data/sketches")
    manifest = json.loads((SKETCHES / "manifest.json").read_text())
    split = split_categories(manifest)
    if "tune" in args.split.split(","):  # the training categories the model held out
        from neuroplay.vision.sketch.embedding import resolve_embedding

        held = sorted(resolve_embedding(args.model).card.get("holdout_groups") or [])
        if not held or not set(held) <= set(split["train"]):
            parser.error("--split tune needs --model MODEL trained with --holdout on training categories only")
        split["tune"] = held
        print(f"tune categories (held out by the model): {', '.join(held)}")
    print(f"split (seed {SPLIT_SEED}): {len(split['train'])} train, {len(split['eval'])} eval categories")
    print("eval categories: " + ", ".join(split["eval"]))
    with tempfile.TemporaryDirectory(prefix="neuroplay-sbir-") as tmp:
        work = args.workdir or Path(tmp)
        os.environ.setdefault("NEUROPLAY_CACHE", str(work / "cache"))  # indexes of these galleries stay apart
        report = {
            "date": datetime.date.today().isoformat(),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "split": split,
            "results": {},
        }
        for name in args.split.split(","):
            photos = gallery_for(manifest, split, name, args.distractors, seed=1)
            photo_row = {p["photo"]: i for i, p in enumerate(photos)}
            pairs = [p for p in manifest["pairs"] if p["category"] in split[name]]
            if args.queries and len(pairs) > args.queries:
                rng = np.random.default_rng(7)
                pairs = [pairs[i] for i in sorted(rng.choice(len(pairs), args.queries, replace=False))]
            tu = [t for t in manifest["tu_berlin"] if tu_to_sketchy(t["category"]) in split[name]]
            target = np.array([photo_row[p["photo"]] for p in pairs])
            cats = np.array([p["category"] for p in photos])
            relevant = np.array([cats == tu_to_sketchy(t["category"]) for t in tu])
            sizes = f"gallery {len(photos)} photos, {len(pairs)} Sketchy and {len(tu)} TU-Berlin queries"
            print(f"\n== {name} split: {sizes}")
            runs = [(m, None) for m in args.methods.split(",")]
            runs += [("fused", float(w)) for w in args.fusion.split(",") if w]
            for method, fusion in runs:
                queries = [p["sketch"] for p in pairs + tu]
                if fusion is None:
                    scores, times = METHODS[method](photos, queries, work, name, args.model)
                else:
                    scores, times = fused_scores(photos, queries, work, name, args.model, fusion)
                    method = f"fused@{fusion:g}"
                inst = instance_measures(scores[: len(pairs)], target)
                cat = category_measures(scores[len(pairs) :], relevant) if tu else None
                per_cat = defaultdict(list)
                for p, r in zip(pairs, inst["ranks"], strict=True):
                    per_cat[p["category"]].append(int(r) <= 10)
                line = (
                    f"{method:12} instance R@1 {inst['R@1']:.3f}  R@5 {inst['R@5']:.3f}  R@10 {inst['R@10']:.3f}  "
                    f"mAP {inst['mAP']:.3f}"
                )
                if cat:
                    chance = cat["chance_top5"]
                    line += f" | TU-Berlin top-5 {cat['top5']:.3f} (chance {chance:.3f})  mAP {cat['mAP']:.3f}"
                line += f" | {statistics.median(times) * 1000:.0f} ms/query (median)"
                print(line)
                worst = sorted(per_cat.items(), key=lambda kv: np.mean(kv[1]))
                print("  R@10 per category: " + ", ".join(f"{c} {np.mean(v):.2f}" for c, v in worst))
                report["results"][f"{name}/{method}"] = {
                    **{k: v for k, v in inst.items() if k != "ranks"},
                    **({f"tu_{k}": v for k, v in cat.items() if k != "hit"} if cat else {}),
                    "gallery": len(photos),
                    "queries": len(pairs),
                    "tu_queries": len(tu),
                    "ms_per_query": statistics.median(times) * 1000,
                    "r10_per_category": {c: float(np.mean(v)) for c, v in per_cat.items()},
                }
        if args.json:
            args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
