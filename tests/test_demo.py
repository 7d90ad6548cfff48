"""The demo tour end to end (quick mode) and the HTML report writer."""

import contextlib
import io
import json
import math
import re

import pytest
from PIL import Image

from neuroplay.common.report import MARKER, Section, write_report
from neuroplay.tour import PARTS, TourConfig, run_tour

TITLES = (
    "Deep Q-learning: CartPole",
    "Tabular Q-learning: grid world",
    "Neuro-evolution: Flappy Bird",
    "Neural style transfer",
    "Deep Dream",
    "Automatic sketch colouring",
)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One quick demo through the command line, with a fresh weights cache: (exit code, stdout, stderr, out)."""
    from neuroplay.cli import main

    root = tmp_path_factory.mktemp("demo")
    out = root / "site"
    stdout, stderr = io.StringIO(), io.StringIO()
    code = 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEUROPLAY_CACHE", str(root / "cache"))
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                main(["demo", "--quick", "--out", str(out), "--json", "-q", "--seed", "3"])
            except SystemExit as exc:
                code = exc.code
    return code, stdout.getvalue(), stderr.getvalue(), out


def test_quick_demo_writes_the_page_and_every_file_it_shows(demo_run):
    code, stdout, stderr, out = demo_run
    assert code in (0, None), stderr
    page = (out / "index.html").read_text()
    assert page.splitlines()[1] == MARKER
    assert [t for t in TITLES if f"<h2>{t}</h2>" in page] == list(TITLES)
    assert "seed 3" in page and "quick mode" in page
    assert "<code>neuroplay studio</code>" in page and "<a href='http://127.0.0.1:7860/'>" in page  # how to go on
    sources = re.findall(r"<img src='([^']+)'", page)
    assert len(sources) == 17
    for src in sources:
        with Image.open(out / src) as im:  # each one a real picture
            assert im.width >= 32 and im.height >= 32
            if src.endswith(".gif"):
                assert im.n_frames > 1  # an animation, not a still
    assert (out / "dqn" / "model.pt").is_file() and (out / "evolve" / "champion.pt").is_file()


def test_quick_demo_numbers(demo_run):
    _, stdout, _, out = demo_run
    report = json.loads(stdout.strip().splitlines()[-1])
    assert report["index"] == str(out / "index.html") and set(PARTS) <= set(report)
    dqn = report["dqn"]
    # the quick budget, all spent unless solved (8 environments step together, so up to 7 more)
    assert dqn["solved"] or 1500 <= dqn["env_steps"] < 1508
    assert 0 < dqn["eval_mean_return"] <= 500
    q = report["qtable"]
    saved = json.loads((out / "qtable" / "summary.json").read_text())
    assert saved["episodes"] == 200 and saved["seed"] == 3
    assert q["greedy_path_length"] == saved["greedy_path_length"] and q["success"] == saved["success"]
    assert 1 <= report["evolve"]["generations"] <= 3 and 0 <= report["evolve"]["unseen_courses_passed"] <= 10
    assert math.isfinite(report["style"]["content_loss"]) and report["style"]["style_loss"] > 0
    assert math.isfinite(report["dream"]["objective"])
    assert (out / "sketch" / "colorized.png").is_file() and report["sketch"]["regions"] >= 1
    assert report["sketch"]["retrieved"].endswith(".png")
    # the page shows the same numbers as the JSON line
    page = (out / "index.html").read_text()
    assert f"<b>{dqn['env_steps']}</b>" in page and f"<b>{report['evolve']['generations']}</b>" in page


def test_demo_refuses_a_folder_that_holds_something_else(tmp_path, run_cli):
    (tmp_path / "notes.txt").write_text("mine")
    code, _, err = run_cli("demo", "--quick", "--out", tmp_path, "-q")
    assert code == 2 and err.startswith("error: ") and "holds no earlier demo" in err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    code, _, err = run_cli("demo", "--quick", "--out", tmp_path / "notes.txt", "-q")
    assert code == 2 and "not a directory" in err
    code, _, err = run_cli("demo", "--quick", "--out", tmp_path / "new", "--seed", "-1", "-q")
    assert code == 2 and "seed" in err and not (tmp_path / "new").exists()


def test_tour_rejects_bad_settings():
    from neuroplay.common.errors import UserError

    with pytest.raises(UserError, match="seed"):
        TourConfig(seed=2**64)
    with pytest.raises(UserError, match="not a directory"):
        run_tour(__file__, TourConfig(quick=True))


def test_report_writer_escapes_and_orders_everything(tmp_path):
    sections = [
        Section("A <b>bold</b> claim", "x < y & z", images=[("a/one.png", "first"), ("two.gif", "it's")]),
        Section("Numbers", "run `neuroplay demo <x>` & see", numbers={"reward": "<1>", "steps": "12"}, pre="S.#\n..G"),
    ]
    path = write_report(tmp_path / "index.html", "Title & co", sections, footer="made <today>")
    page = path.read_text()
    assert path == tmp_path / "index.html" and page.splitlines()[:2] == ["<!doctype html>", MARKER]
    assert "<title>Title &amp; co</title>" in page and "<h1>Title &amp; co</h1>" in page
    assert "<h2>A &lt;b&gt;bold&lt;/b&gt; claim</h2>" in page and "<p>x &lt; y &amp; z</p>" in page
    assert page.index("a/one.png") < page.index("two.gif") < page.index("<h2>Numbers</h2>")
    assert "alt='it&#x27;s'" in page
    assert "<tr><td>reward</td><td><b>&lt;1&gt;</b></td></tr>" in page
    assert "<p>run <code>neuroplay demo &lt;x&gt;</code> &amp; see</p>" in page
    assert "<pre>S.#\n..G</pre>" in page and "made &lt;today&gt;" in page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html"]  # no temp file left
