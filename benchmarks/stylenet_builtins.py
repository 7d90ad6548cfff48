"""Turn trained style networks into the package's built-ins: float16 copies, sha256, loss plots, card tables.

For each ``MODEL.pt`` (from ``neuroplay stylenet train ... -o MODEL.pt``, its run folder
``MODEL-run/`` beside it holding ``losses.csv``): writes ``src/neuroplay/vision/stylenet/models/NAME.pt``
(``save_model(..., half=True)``, the card kept), ``docs/stylenet_NAME_loss.png`` (the loss terms per
step and their 50-step means), and prints the sha256 to pin in ``builtin.py`` and the model card's
loss table (means over 50-step windows). Then draws the README's picture, ``docs/stylenet_demo.png``:
scikit-image's cat, then the cat through each built-in network.

    .venv/bin/python benchmarks/stylenet_builtins.py /tmp/t800/starry-night.pt /tmp/t800/the-scream.pt
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "src/neuroplay/vision/stylenet/models"
CONTENT_TERMS = ("Sketchy database photos (Sangkloy et al. 2016; ImageNet/Flickr photos, published for research) "
                 "and three public photos from ../shared/data/photos; 10 photos held out "
                 "(benchmarks/stylenet_holdout.txt)")  # fmt: skip


def read_losses(run: Path) -> list[dict[str, float]]:
    with open(run / "losses.csv", newline="") as fh:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def windows(rows: list[dict[str, float]], width: int = 50) -> list[dict[str, float]]:
    out = []
    for start in range(0, len(rows), width):
        chunk = rows[start : start + width]
        mean = {k: sum(r[k] for r in chunk) / len(chunk) for k in ("content", "style", "total")}
        out.append({"first": chunk[0]["step"], "last": chunk[-1]["step"], "minutes": chunk[-1]["seconds"] / 60, **mean})
    return out


def plot(rows: list[dict[str, float]], name: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), dpi=100)
    for ax, key, label in ((axes[0], "total", "total (content + 1e5 × style)"), (axes[1], "style", "style (Gram)")):
        values = [r[key] for r in rows]
        ax.plot(steps, values, color="#bbb", lw=0.8, label="each step")
        w = windows(rows)
        ax.plot(
            [(x["first"] + x["last"]) / 2 for x in w], [x[key] for x in w], color="#c0392b", lw=2, label="50-step mean"
        )
        ax.set_xlabel("step")
        ax.set_title(f"{name}: {label}")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+", type=Path)
    args = parser.parse_args()
    from neuroplay.vision.stylenet.model_file import load_model, save_model
    from neuroplay.vision.weight_sources import sha256_file

    for model_path in args.models:
        model = load_model(model_path)
        name = model.card.get("name") or model_path.stem
        card = {**model.card, "content_terms": model.card.get("content_terms") or CONTENT_TERMS}
        out = MODELS / f"{name}.pt"
        save_model(out, model.net, card, half=True)
        rows = read_losses(model_path.with_name(f"{model_path.stem}-run"))
        plot(rows, name, ROOT / "docs" / f"stylenet_{name}_loss.png")
        print(f"\n{name}: {out} ({out.stat().st_size / 1e6:.2f} MB), sha256 {sha256_file(out)}")
        print(f"steps {card['steps']}, train seconds {card['seconds']}")
        print("| steps | content | style | total (content + 1e5 × style) | minutes |\n|---|---|---|---|---|")
        for w in windows(rows):
            if w["first"] == 1 or w["last"] % 100 == 0:
                print(f"| {w['first']:.0f}–{w['last']:.0f} | {w['content']:.2f} | {w['style']:.2e} | "
                      f"{w['total']:.2f} | {w['minutes']:.1f} |")  # fmt: skip
    readme_picture(ROOT / "docs" / "stylenet_demo.png")


def readme_picture(path: Path, height: int = 266, gap: int = 6) -> None:
    """The cat at ``height`` px, then the cat through every built-in network, side by side."""
    from PIL import Image

    from neuroplay.vision.image import demo_content, resize, scaled_size, to_array
    from neuroplay.vision.stylenet.apply import stylize_image
    from neuroplay.vision.stylenet.builtin import BUILTINS, load_builtin

    cat = demo_content("chelsea", max_size=512)
    panels = [cat] + [stylize_image(load_builtin(name), cat) for name in BUILTINS]
    h, w = cat.shape[-2:]
    size = scaled_size(h, w, max(height, round(w * height / h)))
    images = [Image.fromarray(to_array(resize(p, size))) for p in panels]
    sheet = Image.new("RGB", (sum(i.width for i in images) + gap * (len(images) - 1), images[0].height), "white")
    x = 0
    for image in images:
        sheet.paste(image, (x, 0))
        x += image.width + gap
    sheet.save(path, optimize=True)
    print(f"wrote {path} ({sheet.width}×{sheet.height})")


if __name__ == "__main__":
    main()
