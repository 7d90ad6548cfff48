"""Screenshots of every studio tab after a run, for the README: ``docs/studio_TAB.png``.

Starts the studio, runs each tab once in headless Chromium (CartPole with its defaults and 20
evaluation episodes, the built-in grid world, the default evolution, the Style and Deep Dream
tabs at their quick settings, the Sketch tab on the built-in cup drawing, uploaded), and saves
each page shrunk to ``--width`` px with a 256-colour palette (a few hundred kB each).

    .venv/bin/python benchmarks/studio_screenshots.py --out docs
"""

from __future__ import annotations

import argparse
import io
import socket
import tempfile
from pathlib import Path

from PIL import Image
from studio_bench import ARGS, CHROMIUM  # the browser settings (this script's folder is on sys.path)

LONG = 600_000  # ms: a job on a busy machine


def save_shot(png: bytes, path: Path, width: int) -> None:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
    image.quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main() -> None:
    from playwright.sync_api import sync_playwright

    from neuroplay.studio.app import Studio, build_app, launch
    from neuroplay.vision.sketch.drawing import sample_sketch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--width", type=int, default=1100)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="studio-shots-"))
    cup = work / "cup.png"
    Image.fromarray(sample_sketch("cup", 256)).save(cup)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = build_app(Studio(runs=work / "runs"))
    address = launch(app, "127.0.0.1", port, work / "runs", block=False)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(address)

        def shot(tab: str, name: str) -> None:
            page.wait_for_timeout(1500)  # pictures and plots settle
            save_shot(page.screenshot(full_page=True), args.out / f"studio_{name}.png", args.width)
            print("wrote", args.out / f"studio_{name}.png")

        def tab(name: str) -> None:
            page.get_by_role("tab", name=name, exact=True).click()

        tab("CartPole (DQN)")
        page.locator("#dqn-eval input[type=number]").fill("20")
        page.locator("#dqn-train").click()
        page.locator("#dqn-model").get_by_text("model.pt", exact=False).last.wait_for(timeout=LONG)
        page.locator("#dqn-status").get_by_text("Greedy evaluation").wait_for(timeout=LONG)
        shot("CartPole (DQN)", "dqn")

        tab("Grid world")
        page.locator("#grid-train").click()
        page.locator("#grid-policy img").wait_for(timeout=LONG)
        shot("Grid world", "grid")

        tab("Flappy Bird evolution")
        page.locator("#flappy-train").click()
        page.locator("#flappy-net img").wait_for(timeout=LONG)
        shot("Flappy Bird evolution", "flappy")

        tab("Style")
        page.locator("#style-run").click()
        page.locator("#style-result img").wait_for(timeout=LONG)
        shot("Style", "style")

        tab("Deep Dream")
        page.locator("#dream-run").click()
        page.locator("#dream-result img").wait_for(timeout=LONG)
        shot("Deep Dream", "dream")

        tab("Sketch")
        page.locator("#sketch-upload input[type=file]").set_input_files(str(cup))
        page.locator("#sketch-upload").get_by_text("cup.png").wait_for(timeout=LONG)
        page.locator("#sketch-run").click()
        page.locator("#sketch-result img").wait_for(timeout=LONG)
        shot("Sketch", "sketch")
        browser.close()
    app.close(verbose=False)


if __name__ == "__main__":
    main()
