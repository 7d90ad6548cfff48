"""The studio's measured targets (issue 15), in headless Chromium against a real server.

1. start-up: from running ``neuroplay studio`` to a page that answers (HTTP 200 on ``/``), and to
   the page showing its tabs in the browser. Target <= 5 s.
2. style preview: from clicking Run on the Style tab at its quick setting (built-in images,
   128 px, 30 iterations, a preview every 3) to the first preview image on the page. Target <= 5 s.
   The first run of a server loads the network's weights; it is reported apart ("cold").
3. responsiveness: while a DQN training runs, the time from a click on another tab to that tab's
   Run button being visible. Target <= 1 s.

Each is the median of ``--runs`` runs (start-up: fresh servers; the others on one server).

    .venv/bin/python benchmarks/studio_bench.py --runs 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

CHROMIUM = os.environ.get("NEUROPLAY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip
TABS = {"Grid world": "#grid-train", "Style": "#style-run", "Sketch": "#sketch-run", "Deep Dream": "#dream-run"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(runs: Path) -> tuple[subprocess.Popen, str, float]:
    """``neuroplay studio`` as a user starts it (the console script); returns it, its address and the
    seconds until ``/`` answered."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("neuroplay")), "studio", "--port", str(port), "--runs", str(runs)]
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"http://127.0.0.1:{port}/"
    while True:
        try:
            with urllib.request.urlopen(address, timeout=1) as page:
                if page.status == 200:
                    return proc, address, time.perf_counter() - started
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"the studio exited with {proc.returncode}") from None
            time.sleep(0.05)


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(2)  # Ctrl-C
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def startup(browser, runs: Path, n: int) -> tuple[list[float], list[float]]:
    answers, shown = [], []
    for _ in range(n):
        started = time.perf_counter()
        proc, address, answered = start_server(runs)
        page = browser.new_page()
        page.goto(address)
        page.get_by_role("tab", name="Sketch").wait_for()
        shown.append(time.perf_counter() - started)
        answers.append(answered)
        page.close()
        stop_server(proc)
    return answers, shown


def image_src(page, elem_id: str) -> str:
    """The ``src`` of the picture shown in ``#elem_id`` ("" when none)."""
    return page.evaluate(f"() => document.querySelector('#{elem_id} img')?.getAttribute('src') || ''")


def wait_for_new_image(page, elem_id: str, old: str, timeout_ms: float = 300_000) -> None:
    src = f"document.querySelector('#{elem_id} img')?.getAttribute('src')"
    script = f"(old) => {{ const s = {src}; return !!s && s !== old; }}"
    page.wait_for_function(script, arg=old, timeout=timeout_ms, polling=20)


def style_preview(page, n: int) -> list[float]:
    times = []
    page.get_by_role("tab", name="Style", exact=True).click()
    for run in range(n + 1):  # the first is the cold run
        # a new seed each run: the same settings make the same pictures, which the page would not redraw
        page.locator("#style-seed input[type=number]").fill(str(run + 1))
        old_preview, old_result = image_src(page, "style-preview"), image_src(page, "style-result")
        page.locator("#style-run").click()
        started = time.perf_counter()
        wait_for_new_image(page, "style-preview", old_preview)
        times.append(time.perf_counter() - started)
        wait_for_new_image(page, "style-result", old_result)
        page.wait_for_timeout(300)
    return times


def responsiveness(page, n: int) -> list[float]:
    page.get_by_role("tab", name="CartPole (DQN)").click()
    page.locator("#dqn-steps input[type=number]").fill("2000000")
    page.locator("#dqn-threshold input[type=number]").fill("600")  # above CartPole's 500: it never stops by itself
    page.locator("#dqn-train").click()
    page.locator("#dqn-status").get_by_text("training:").wait_for()
    times = []
    names = list(TABS)
    for i in range(n):
        name = names[i % len(names)]
        started = time.perf_counter()
        page.get_by_role("tab", name=name, exact=True).click()
        page.locator(TABS[name]).wait_for(state="visible")
        times.append(time.perf_counter() - started)
        print(f"  click {i + 1}: {name:24} {times[-1]:.2f} s{'  (first visit)' if i < len(names) else ''}")
        page.wait_for_timeout(300)
    page.get_by_role("tab", name="CartPole (DQN)").click()
    page.locator("#dqn-stop").click()
    page.locator("#dqn-status").get_by_text("stopped at").wait_for(timeout=120_000)
    return times


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--parts", default="startup,style,clicks", help="which measures, comma-separated")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    runs = Path(tempfile.mkdtemp(prefix="studio-bench-"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        answers, shown = startup(browser, runs, args.runs) if "startup" in parts else ([], [])
        proc, address, _ = start_server(runs)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(address)
            previews = style_preview(page, args.runs) if "style" in parts else []
            clicks = responsiveness(page, 4 * args.runs) if "clicks" in parts else []
        finally:
            stop_server(proc)
            browser.close()
    shutil.rmtree(runs, ignore_errors=True)
    rows = [
        ("start-up: `neuroplay studio` to HTTP 200", answers, 5.0),
        ("start-up: to the tabs shown in Chromium", shown, 5.0),
        ("style preview after Run (warm)", previews[1:], 5.0),
        ("style preview after Run (cold: first of the server)", previews[:1], 5.0),
        ("tab click to its content, a DQN run going", clicks, 1.0),
    ]
    print(f"{'measure':55} {'median s':>9} {'min':>6} {'max':>6} {'runs':>5} {'target':>7}")
    for name, values, target in rows:
        if not values:
            continue
        med = statistics.median(values)
        ok = "ok" if med <= target else "MISSED"
        print(f"{name:55} {med:9.2f} {min(values):6.2f} {max(values):6.2f} {len(values):5d} {target:6.1f} {ok}")


if __name__ == "__main__":
    main()
