"""The studio in a real browser: headless Chromium (Debian's, driven by Playwright) on a live server.

Skipped, saying why, where Playwright or Chromium is missing (``.ci/run`` installs Chromium).
Every page records the requests it makes; none may go to another host.
"""

import os
import shutil
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytest.importorskip("gradio")
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e .[dev])")

from neuroplay.studio import tab_sketch  # noqa: E402

CHROMIUM = os.environ.get("NEUROPLAY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip(
        "Chromium not found (apt-get install chromium, or set NEUROPLAY_CHROMIUM): browser tests skipped",
        allow_module_level=True,
    )
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TABS = ["CartPole (DQN)", "Grid world", "Flappy Bird evolution", "Style", "Deep Dream", "Sketch"]
WAIT_MS = 60_000  # the longest any test waits for the page (a tiny job takes seconds)


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    from neuroplay.studio.app import Studio, build_app, launch

    runs = tmp_path_factory.mktemp("studio-runs")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = build_app(Studio(runs=runs))
    address = launch(app, "127.0.0.1", port, runs, block=False)
    yield address, runs
    app.close(verbose=False)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, studio):
    """A fresh page on the studio; afterwards, every request it made must have gone to the studio."""
    address, _ = studio
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    tab = context.new_page()
    requests: list[str] = []
    tab.on("request", lambda r: requests.append(r.url))
    tab.goto(address)
    tab.get_by_role("tab", name=TABS[0]).wait_for(timeout=WAIT_MS)
    yield tab
    context.close()
    own = urlparse(address).netloc
    foreign = [
        u for u in requests if urlparse(u).scheme in ("http", "https", "ws", "wss") and urlparse(u).netloc != own
    ]
    assert requests and not foreign, foreign[:5]


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def status_text(page, elem_id: str) -> str:
    return page.locator(f"#{elem_id}").inner_text()


def set_number(page, elem_id: str, value) -> None:
    """Type ``value`` into the number box of the field ``elem_id`` (a Number, or a Slider's box)."""
    field = page.locator(f"#{elem_id} input[type=number]")
    field.fill(str(value))
    field.press("Enter")


def test_page_loads_with_every_tab(page):
    buttons = {
        "CartPole (DQN)": "#dqn-train",
        "Grid world": "#grid-train",
        "Flappy Bird evolution": "#flappy-train",
        "Style": "#style-run",
        "Deep Dream": "#dream-run",
        "Sketch": "#sketch-run",
    }
    for name in TABS:
        open_tab(page, name)
        sync_api.expect(page.locator(buttons[name])).to_be_visible()
    open_tab(page, "Deep Dream")
    page.locator("#dream-layer input").click()  # the layer list, filled in after the page loaded
    sync_api.expect(page.get_by_role("option", name="relu3_3 (256 channels)")).to_be_visible()


def test_tiny_style_transfer_shows_its_output(page, studio):
    open_tab(page, "Style")
    set_number(page, "style-size", 48)
    set_number(page, "style-iterations", 6)
    page.locator("#style-run").click()
    result = page.locator("#style-result img")
    result.wait_for(timeout=WAIT_MS)
    assert "48×" in status_text(page, "style-status")
    assert page.locator("#style-preview img").count() == 1  # the preview came too


def test_bad_upload_shows_the_message(page, tmp_path):
    junk = tmp_path / "holiday.png"
    junk.write_text("this is not a picture")
    open_tab(page, "Style")
    set_number(page, "style-size", 48)  # were the upload missed, the built-in run would end soon, and fail below
    set_number(page, "style-iterations", 2)
    page.locator("#style-content-upload input[type=file]").set_input_files(str(junk))
    page.locator("#style-content-upload").get_by_text("holiday.png").wait_for(timeout=WAIT_MS)
    page.locator("#style-content-upload a").first.wait_for(timeout=WAIT_MS)  # its link: the upload is done
    page.locator("#style-run").click()
    status = page.locator("#style-status")
    sync_api.expect(status).to_contain_text("holiday.png is not an image file", timeout=WAIT_MS)
    assert "error:" in status.inner_text() and "Traceback" not in page.content()


def test_strokes_on_the_sketchpad_are_coloured(page):
    """A closed box split in two, drawn in black, and a stroke of the colour-hint brush in one half."""
    hint_rgb = tuple(int(tab_sketch.HINT_COLORS[0][i : i + 2], 16) for i in (1, 3, 5))
    open_tab(page, "Sketch")
    set_number(page, "sketch-size", 64)
    page.locator("#sketch-iterations textarea, #sketch-iterations input").first.fill("2")
    pad = page.locator("#sketch-pad")
    pad.get_by_label("Brush").first.click()
    canvas = pad.locator("canvas").first
    box = canvas.bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3
    x1, y1 = box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.7
    page.mouse.move(x0, y0)
    page.mouse.down()
    for x, y in ((x1, y0), (x1, y1), (x0, y1), (x0, y0 + 1)):  # a closed box
        page.mouse.move(x, y, steps=12)
    page.mouse.up()
    page.mouse.move((x0 + x1) / 2, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, y1, steps=12)  # split in two regions
    page.mouse.up()
    pad.get_by_label("Color").first.click()  # the colour-hint brush: the first hint colour
    pad.locator(f"button.color[style*='rgb{hint_rgb}']").click()
    pad.get_by_label("Color").first.click()  # the swatches close (they lie over the canvas)
    hx, hy = x0 + (x1 - x0) * 0.25, y0 + (y1 - y0) * 0.7
    page.mouse.move(hx, hy - 8)
    page.mouse.down()
    page.mouse.move(hx, hy + 8, steps=8)  # a short hint stroke inside the left region
    page.mouse.up()
    page.wait_for_timeout(500)  # the editor hands its layers over when the stroke settles
    page.locator("#sketch-run").click()
    page.locator("#sketch-result img").wait_for(timeout=WAIT_MS)
    status = status_text(page, "sketch-status")
    assert "coloured from" in status and "2 regions, 1 from hints" in status, status
    assert page.locator("#sketch-top img").count() == 5


def test_short_dqn_run_updates_the_plot_and_stops(page, studio):
    _, runs = studio
    open_tab(page, "CartPole (DQN)")
    set_number(page, "dqn-steps", 200_000)
    set_number(page, "dqn-eval", 1)
    page.locator("#dqn-train").click()
    status = page.locator("#dqn-status")
    sync_api.expect(status).to_contain_text("training:", timeout=WAIT_MS)
    first = status.inner_text()
    sync_api.expect(status).not_to_have_text(first, timeout=WAIT_MS)  # it keeps updating while it runs
    page.locator("#dqn-curve canvas, #dqn-curve svg").first.wait_for(timeout=WAIT_MS)  # the curve is drawn
    page.locator("#dqn-stop").click()
    sync_api.expect(status).to_contain_text("stopped at", timeout=WAIT_MS)
    folders = [p for p in Path(runs).iterdir() if p.name.startswith("dqn-")]
    assert any((p / "checkpoint.pt").is_file() for p in folders)  # Stop kept the checkpoint
