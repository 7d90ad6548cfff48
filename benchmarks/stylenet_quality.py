"""A built-in style network beside Gatys transfer, on the 10 photos the networks never trained on.

For each held-out photo (``benchmarks/stylenet_holdout.txt``, read from ``../shared/data/``;
skipped with a message when absent) and each network, at 512 px:

- **network**: ``stylenet`` (one forward pass), timed;
- **gatys-same-time**: ``neuroplay style``'s defaults stopped as soon as the network's time has
  passed (``should_stop``: at least one iteration; its image is upsampled to 512 px if it stopped
  at a coarse scale);
- **gatys-full**: ``neuroplay style`` with its defaults, run to the end (cached in ``--cache``,
  since these take minutes each: a rerun reuses them).

The photo and the painting are handed over already at 512 px (longest side), so no resize filter
changes the style's Gram targets between the three. Every output is scored by the same code,
``neuroplay.vision.style.loss_terms`` (float32, the default loss: content + 1e5 × style), from the
saved 8-bit image. A contact sheet per network goes to ``--sheet-dir``: a header, then each row a photo, then the
network, Gatys at the same time, and full Gatys.

Usage: ``python benchmarks/stylenet_quality.py [--networks starry-night,the-scream]
[--photos N] [--cache DIR] [--sheet-dir docs] [--gatys-only] [--threads N]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
HOLDOUT = Path(__file__).with_name("stylenet_holdout.txt")
SIZE = 512
PAINTINGS = {"starry-night": "styles/starry_night.jpg", "the-scream": "styles/the_scream.jpg"}
COLUMNS = ("photo", "network", "Gatys, the network's time", "full Gatys")
SCORED = ("network", "gatys_same_time", "gatys_full")


def holdout() -> list[Path]:
    lines = HOLDOUT.read_text().splitlines()
    return [DATA / line.strip() for line in lines if line.strip() and not line.startswith("#")]


def gatys_full(content, style, cache: Path, key: str) -> tuple[torch.Tensor, float]:
    from neuroplay.vision.image import load_image, save_image
    from neuroplay.vision.style import StyleConfig, stylize

    png, meta = cache / f"{key}.png", cache / f"{key}.json"
    if png.exists() and meta.exists():
        return load_image(png), json.loads(meta.read_text())["seconds"]
    started = time.perf_counter()
    result = stylize(content, style, StyleConfig(size=SIZE))
    seconds = time.perf_counter() - started
    cache.mkdir(parents=True, exist_ok=True)
    save_image(result.image, png)
    meta.write_text(json.dumps({"seconds": seconds, "total_loss": result.total_loss}))
    return load_image(png), seconds


def gatys_same_time(content, style, budget: float) -> torch.Tensor:
    from neuroplay.vision.style import StyleConfig, stylize

    started = time.perf_counter()
    result = stylize(content, style, StyleConfig(size=SIZE), should_stop=lambda: time.perf_counter() - started > budget)
    return result.image, result.iterations, time.perf_counter() - started


def score(image, content, style) -> dict:
    from neuroplay.vision.image import from_array, to_array
    from neuroplay.vision.style import StyleConfig, loss_terms

    eight_bit = from_array(to_array(image))  # as saved
    return loss_terms(eight_bit, content, [style], StyleConfig(size=SIZE))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default=",".join(PAINTINGS))
    parser.add_argument("--photos", type=int, default=10)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/stylenet-quality"))
    parser.add_argument("--sheet-dir", type=Path, default=Path("docs"))
    parser.add_argument("--gatys-only", action="store_true", help="Only fill the cache of full Gatys runs.")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--cached-full-only", action="store_true", help="Use full Gatys runs only where cached; skip the others."
    )
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"skipped: {DATA} not found")
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    from neuroplay.vision.image import load_image, resize_longest
    from neuroplay.vision.stylenet.apply import stylize_image
    from neuroplay.vision.stylenet.builtin import load_builtin

    photos = holdout()[: args.photos]
    names = args.networks.split(",")
    if args.gatys_only:  # photo by photo, so that a partial cache covers the same photos for every network
        styles = {name: resize_longest(load_image(DATA / PAINTINGS[name]), SIZE) for name in names}
        for photo in photos:
            content = resize_longest(load_image(photo), SIZE)
            for name in names:
                seconds = gatys_full(content, styles[name], args.cache, f"{name}/{photo.stem}")[1]
                print(f"{name}/{photo.stem}: full Gatys {seconds:.0f} s", flush=True)
        return
    for name in names:
        style = resize_longest(load_image(DATA / PAINTINGS[name]), SIZE)
        model = load_builtin(name)
        rows, sheet = [], []
        for photo in photos:
            content = resize_longest(load_image(photo), SIZE)
            key = f"{name}/{photo.stem}"
            full, full_seconds = None, None
            if not args.cached_full_only or (args.cache / f"{key}.json").exists():
                full, full_seconds = gatys_full(content, style, args.cache, key)
            stylize_image(model, content)  # warm-up
            times = []
            for _ in range(3):
                started = time.perf_counter()
                net_out = stylize_image(model, content)
                times.append(time.perf_counter() - started)
            net_seconds = statistics.median(times)
            quick, quick_iters, quick_seconds = gatys_same_time(content, style, net_seconds)
            row = {"photo": photo.name, "net_seconds": net_seconds, "quick_seconds": quick_seconds,
                   "quick_iterations": quick_iters, "full_seconds": full_seconds}  # fmt: skip
            for label, image in zip(SCORED, (net_out, quick, full), strict=True):
                row[label] = score(image, content, style) if image is not None else None
            rows.append(row)
            print(json.dumps(row), flush=True)
            loss = {k: f"loss {v['total']:.2f}" if v else "no full run" for k, v in row.items() if k in SCORED}
            full_time = f", {full_seconds:.0f} s" if full_seconds else ""
            sheet.append([(content, photo.name), (net_out, f"{loss['network']}, {net_seconds:.2f} s"),
                          (quick, f"{loss['gatys_same_time']}, {quick_iters} it."),
                          (full, loss["gatys_full"] + full_time)])  # fmt: skip
        if not rows:
            continue
        print(f"\n{name}: total loss (content + 1e5 × style), 512 px, scored from 8-bit images")
        print(f"{'photo':28} {'network':>9} {'gatys same time':>16} {'gatys full':>11}  net s  full s")
        for r in rows:
            full = f"{r['gatys_full']['total']:11.3f}  " if r["gatys_full"] else f"{'-':>11}  "
            full_s = f"{r['full_seconds']:.0f}" if r["full_seconds"] else "-"
            print(f"{r['photo'][:28]:28} {r['network']['total']:9.3f} {r['gatys_same_time']['total']:16.3f} "
                  f"{full}{r['net_seconds']:.2f}  {full_s}")  # fmt: skip
        for subset, chosen in (("all photos", rows), ("photos with a full run", [r for r in rows if r["gatys_full"]])):
            if not chosen:
                continue
            med = {k: statistics.median(r[k]["total"] for r in chosen if r[k]) if chosen[0][k] else float("nan")
                   for k in ("network", "gatys_same_time", "gatys_full")}  # fmt: skip
            print(f"{'median, ' + subset:28} {med['network']:9.3f} {med['gatys_same_time']:16.3f} "
                  f"{med['gatys_full']:11.3f}  ({len(chosen)} photos)")  # fmt: skip
        _contact_sheet(sheet, args.sheet_dir / f"stylenet_{name}_sheet.jpg")


def _contact_sheet(rows: list[list[tuple]], path: Path, cell: tuple[int, int] = (256, 192)) -> None:
    """A grid: a header naming the columns, then one row per photo (photo | network | Gatys in the
    network's time | full Gatys), each image fitted into a ``cell`` (width, height) and captioned
    with its total loss and time."""
    from PIL import Image, ImageDraw

    from neuroplay.vision.image import to_array

    cw, ch = cell
    pad, text_h, head_h = 6, 16, 22
    width = len(COLUMNS) * (cw + pad) + pad
    height = head_h + len(rows) * (ch + text_h + pad) + pad
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    for i, name in enumerate(COLUMNS):
        draw.text((pad + i * (cw + pad), 5), name, fill=(0, 0, 0))
    for r, row in enumerate(rows):
        top = head_h + r * (ch + text_h + pad)
        for i, (image, text) in enumerate(row):
            left = pad + i * (cw + pad)
            if image is not None:
                picture = Image.fromarray(to_array(image))
                picture.thumbnail((cw, ch), Image.Resampling.LANCZOS)
                sheet.paste(picture, (left + (cw - picture.width) // 2, top + (ch - picture.height) // 2))
            draw.text((left, top + ch + 2), text[:40], fill=(60, 60, 60))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, quality=88)
    print(f"contact sheet: {path}")


if __name__ == "__main__":
    main()
