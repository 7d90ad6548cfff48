"""The studio's event functions, called without a browser: what each tab shows for good and bad input."""

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio")

from neuroplay.studio import jobs, tab_dqn, tab_dream, tab_flappy, tab_grid, tab_sketch, tab_style  # noqa: E402
from neuroplay.studio.uploads import MAX_UPLOAD_BYTES, check_upload, drawing_layers  # noqa: E402


def last(gen):
    """The final page update a streaming handler yields."""
    updates = list(gen)
    return updates[-1]


def job_folders(runs: Path) -> list[Path]:
    return sorted(p for p in runs.iterdir() if p.is_dir())


# --- jobs ------------------------------------------------------------------------------------------


def test_every_job_gets_a_new_folder(tmp_path):
    folders = {jobs.new_job_folder(tmp_path, "style") for _ in range(5)}
    assert len(folders) == 5 and all(f.is_dir() and not any(f.iterdir()) for f in folders)


def test_a_job_streams_progress_then_its_result(tmp_path):
    def call(job):
        for i in range(3):
            job.post(i)
            time.sleep(0.05)
        return "made"

    _, events = jobs.run_job(tmp_path, "t", None, call)
    seen = list(events)
    assert seen[-1] == jobs.Event("done", "made")
    assert all(e.kind == "progress" for e in seen[:-1]) and seen[:-1]


def test_stop_reaches_the_running_job_and_a_bug_is_one_line(tmp_path):
    started = threading.Event()

    def call(job):
        started.set()
        while not job.should_stop():
            time.sleep(0.01)
        return "stopped cleanly"

    _, events = jobs.run_job(tmp_path, "t", None, call)
    done = []
    reader = threading.Thread(target=lambda: done.extend(events))
    reader.start()
    assert started.wait(5)
    assert jobs.stop_job("t", None).startswith("stopping")
    reader.join(5)
    assert done[-1] == jobs.Event("done", "stopped cleanly")
    assert jobs.stop_job("t", None) == "nothing is running here"

    _, events = jobs.run_job(tmp_path, "t", None, lambda job: 1 / 0)
    (event,) = list(events)
    assert event.kind == "error" and event.data == "unexpected failure (ZeroDivisionError: division by zero)"


# --- uploads ---------------------------------------------------------------------------------------


def test_uploads_that_are_not_good_images_are_refused_with_a_message(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(Exception, match="the content image: notes.png is not an image file"):
        check_upload(str(text), "the content image")
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(good)
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(good.read_bytes()[:60])
    with pytest.raises(Exception, match="cut.png is a damaged image"):
        check_upload(str(truncated), "the style image")
    big = tmp_path / "big.png"
    with open(big, "wb") as fh:
        fh.truncate(MAX_UPLOAD_BYTES + 1)
    with pytest.raises(Exception, match="the studio takes images up to"):
        check_upload(str(big), "the image")
    assert check_upload(str(good), "the image") == good


def test_a_decompression_bomb_is_refused(tmp_path):
    bomb = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(bomb)  # 400 megapixels in a few kB
    with pytest.raises(Exception, match="too large an image to open safely"):
        check_upload(str(bomb), "the image")


def test_sketchpad_strokes_split_into_lines_and_colour_hints():
    canvas = np.zeros((40, 40, 4), np.uint8)  # transparent paper
    canvas[5:35, 5, :] = (0, 0, 0, 255)  # a black line
    canvas[20, 10:30, :] = (228, 87, 46, 255)  # an orange hint stroke
    lines, hints = drawing_layers({"composite": canvas, "layers": [], "background": None})
    assert lines[10, 5] == 0.0 and lines[0, 0] == 1.0 and lines[20, 15] == 1.0  # the hint is not a line
    assert hints is not None and hints[20, 15, 3] == 1.0 and hints[10, 5, 3] == 0.0
    assert np.allclose(hints[20, 15, :3], np.array([228, 87, 46]) / 255, atol=1e-6)
    assert drawing_layers(canvas[..., :3] * 0 + 255)[1] is None  # plain white: no hints


# --- tabs ------------------------------------------------------------------------------------------


def test_grid_world_tab_trains_and_shows_the_policy(tmp_path):
    status, policy, returns, arrows = last(tab_grid.train(tmp_path, "S..G\n.#X.", 0.0, 200, 0))
    assert "reaches G in **3 moves**" in status
    assert Path(policy).is_file() and Path(returns).is_file() and "→" in arrows
    bad = last(tab_grid.train(tmp_path, "S..Q", 0.0, 200, 0))
    assert bad[0].startswith("**error:** map line 1, column 4: unknown character 'Q'")
    assert len(job_folders(tmp_path)) == 2  # each run its own folder


def test_dqn_tab_trains_streams_the_curve_and_keeps_the_model(tmp_path):
    updates = list(tab_dqn.train(tmp_path, 1200, 0, "16", 0.005, 475, 2))
    status, curve, gif, model = updates[-1]
    assert "not solved within the budget" in status and "Greedy evaluation over 2 episodes" in status
    assert len(curve) >= 2 and set(curve.series) >= {"latest greedy evaluation"}
    assert Path(gif).suffix == ".gif" and Path(gif).is_file() and Path(model).is_file()
    assert any(u[0].startswith("training:") for u in updates[:-1])  # progress came while it ran
    watched = last(tab_dqn.watch(tmp_path, model, 3))
    assert watched[0].startswith("episode return") and Path(watched[1]).is_file()
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"junk")
    message = last(tab_dqn.watch(tmp_path, str(bad), 3))[0]
    assert message.startswith("**error:**") and "Traceback" not in message


def test_dqn_tab_refuses_bad_settings_before_training(tmp_path):
    status = last(tab_dqn.train(tmp_path, 1000, 0, "16,x", 0.005, 475, 2))[0]
    assert status == "**error:** hidden layers must be comma-separated whole numbers, got '16,x'"
    status = last(tab_dqn.train(tmp_path, float("nan"), 0, "16", 0.005, 475, 2))[0]
    assert status == "**error:** total steps must be a finite number, got nan"


def test_flappy_tab_evolves_and_draws_the_champion(tmp_path):
    updates = list(tab_flappy.train(tmp_path, "classic", 20, 2, 0))
    status, fitness, flight, network, champion = updates[-1]
    assert "after 2 generations" in status and "unseen course" in status
    assert sorted(fitness.generation.unique()) == [1, 2]
    assert Path(flight).is_file() and Path(network).is_file() and Path(champion).is_file()


def test_style_tab_previews_then_shows_the_result(tmp_path):
    updates = list(
        tab_style.stylize(
            tmp_path, "built-in: chelsea", None, "built-in: swirl", None, "none", None, 0.5, 48, 6,
            False, False, False, None, "", 0,
        )
    )  # fmt: skip
    status, preview, result, files = updates[-1]
    assert "48×" in status and Path(result).is_file() and len(files) == 2
    assert preview is not None and Path(preview).is_file()  # the L-BFGS preview came while it ran
    assert Image.open(result).size[0] == 48


def test_style_tab_shows_a_bad_upload_and_writes_nothing(tmp_path):
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    runs = tmp_path / "runs"
    status = last(
        tab_style.stylize(
            runs, "built-in: chelsea", str(junk), "built-in: swirl", None, "none", None, 0.5, 48, 6,
            False, False, False, None, "", 0,
        )
    )[0]  # fmt: skip
    assert status.startswith("**error:** the content image: junk.jpg is") and "Traceback" not in status
    (folder,) = job_folders(runs)
    assert not (folder / "stylized.png").exists()


def test_style_tab_instant_preview_runs_a_trained_network(tmp_path):
    """The style tab's instant preview: the content through a built-in style network, at the size asked."""
    from neuroplay.vision.stylenet.builtin import BUILTINS

    assert set(tab_style.NETWORKS) == set(BUILTINS)  # the tab names them without importing torch
    status, preview, files = last(tab_style.instant(tmp_path, "built-in: chelsea", None, "the-scream", 64, False))
    assert "the-scream" in status and files == [preview]
    picture = Image.open(preview)
    assert max(picture.size) == 64 and np.asarray(picture).std() > 5  # a picture, not a flat field
    status = last(tab_style.instant(tmp_path, "built-in: chelsea", None, "the-scream", float("nan"), False))[0]
    assert status.startswith("**error:**") and "size" in status


def test_dream_layer_list_names_the_real_layers_with_their_channels():
    choices = tab_dream.layer_choices()
    assert tab_dream.DEFAULT_LAYER in choices and "relu1_1 (64 channels)" == choices[0] and len(choices) == 13


def test_dream_tab_previews_each_octave(tmp_path):
    updates = list(
        tab_dream.dream(
            tmp_path, "built-in: chelsea", None, "relu3_3 (256 channels)", "", 2, 2, 96, "none", None, None, 0, 0
        )
    )
    status, preview, result, files = updates[-1]
    assert status.startswith("dreamed") and Path(result).is_file() and len(files) == 2
    previews = {u[1] for u in updates if u[1]}
    assert len(previews) == 2  # one per octave
    bad = last(
        tab_dream.dream(
            tmp_path, "built-in: chelsea", None, "relu4_3 (512 channels)", "999", 2, 2, 96, "none", None, None, 0, 0
        )
    )
    assert bad[0] == "**error:** relu4_3 has channels 0..511; there is no channel 999"


def test_sketch_tab_colours_a_drawing_with_hints(tmp_path):
    canvas = np.full((128, 128, 4), 255, np.uint8)
    canvas[20:108, 20:24] = canvas[20:108, 104:108] = (0, 0, 0, 255)
    canvas[20:24, 20:108] = canvas[104:108, 20:108] = (0, 0, 0, 255)
    canvas[60:64, 40:90] = (228, 87, 46, 255)  # a hint inside the box
    updates = list(tab_sketch.colorize(tmp_path, {"composite": canvas}, None, "", 64, "2", 0))
    status, top, sheet, result, files = updates[-1]
    assert "coloured from" in status and "1 from hints" in status
    assert len(top) == 5 and Path(result).is_file() and Path(sheet).is_file() and len(files) == 3
    blank = last(
        tab_sketch.colorize(tmp_path, {"composite": np.full((64, 64, 4), 255, np.uint8)}, None, "", 64, "2", 0)
    )
    assert blank[0].startswith("**error:** draw the outline")


def test_dream_tab_stop_keeps_what_the_dream_reached(tmp_path):
    updates = []
    gen = tab_dream.dream(
        tmp_path, "built-in: chelsea", None, "relu3_3 (256 channels)", "", 2, 50, 96, "none", None, None, 0, 0
    )
    for update in gen:
        updates.append(update)
        if len(updates) == 1:  # the first step is done: press Stop
            assert jobs.stop_job(tab_dream.KIND, None).startswith("stopping")
    status, _, result, files = updates[-1]
    assert status.startswith("stopped early") and Path(result).is_file() and len(files) == 2
    with Image.open(result) as picture:
        assert max(picture.size) == 96  # the full size, though it stopped in the first octave
    assert len(updates) < 10  # it did not run the 100 steps


def test_dream_tab_makes_the_zoom_animation(tmp_path):
    status, _, result, files = last(
        tab_dream.dream(
            tmp_path, "built-in: chelsea", None, "relu3_3 (256 channels)", "", 1, 1, 64, "none", None, None, 3, 0
        )
    )
    assert status.startswith("dreamed 3 frames") and result.endswith("dream.gif")
    with Image.open(result) as gif:
        assert gif.n_frames == 3
