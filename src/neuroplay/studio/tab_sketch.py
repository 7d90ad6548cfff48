"""The sketch tab: draw (or upload) a drawing, optionally scribble colour hints, pick a gallery;
the top-5 retrieved photos, the contact sheet and the coloured drawing.

The calls are the command line's: :func:`~neuroplay.vision.sketch.search.index_gallery` and
``search`` (``sketch search``), then :func:`~neuroplay.vision.sketch.pipeline.colorize_from_gallery`
from the best photo (``sketch colorize --photo``). On the sketchpad, dark strokes are lines and
coloured strokes are hints (:func:`~neuroplay.studio.uploads.drawing_layers`).
"""

from pathlib import Path

import gradio as gr

from neuroplay.studio import jobs
from neuroplay.studio.uploads import drawing_layers, keep_upload, upload_path
from neuroplay.studio.view import Run, error, ints, note, number, stop_button

KIND = "sketch"
QUICK_SIZE, QUICK_ITERATIONS = 128, "12,8"  # the tab's quick setting
INK = "#000000"
HINT_COLORS = ["#e4572e", "#29335c", "#f3a712", "#2a9d8f", "#8e44ad"]  # the colour-hint brush
CANVAS = (384, 384)


def colorize(runs: Path, drawing, drawing_file, gallery, size, iterations, seed, request=None, progress=None):
    """Retrieve and colour in a new job folder; yields ``(status, top-5, sheet, result, files)``."""
    import numpy as np

    from neuroplay.common.errors import UserError
    from neuroplay.vision.image import from_array, load_image, save_image
    from neuroplay.vision.sketch.config import TOP_K, ColorizeConfig, RetrievalConfig
    from neuroplay.vision.sketch.index import gallery_root
    from neuroplay.vision.sketch.lines import read_sketch, sketch_edges
    from neuroplay.vision.sketch.pipeline import colorize_from_gallery
    from neuroplay.vision.sketch.search import index_gallery

    def call(job: jobs.Job) -> dict:
        folder = job.folder
        if upload_path(drawing_file) is not None:
            lines, hints = read_sketch(keep_upload(drawing_file, "the drawing", folder, "drawing")), None
        else:
            lines, hints = drawing_layers(drawing)
            if not (lines < 0.5).any():
                raise UserError("draw the outline with the black brush (coloured strokes are hints)")
        sketch_edges(lines)  # a blank drawing is refused before any indexing
        save_image(from_array(np.round(lines * 255).astype(np.uint8)), folder / "drawing.png")
        config = ColorizeConfig(
            size=number(size, "size", int), iterations=ints(iterations, "iterations"), seed=number(seed, "seed", int)
        )
        config.style_config()  # the transfer's settings are refused before indexing
        root = gallery_root(str(gallery or "").strip() or None)

        def on_index(done: int, total: int, name: str) -> None:
            job.post(("index", f"indexing the gallery: {done}/{total}", None))

        index = index_gallery(root, RetrievalConfig(), notify=lambda m: None, progress=on_index)
        hits = index.search(lines, k=TOP_K)
        top = []  # thumbnails in the job folder: the page serves only files the studio made
        (folder / "retrieved").mkdir()
        for i, hit in enumerate(hits, start=1):
            thumb = save_image(
                load_image(hit.path, max_size=256), folder / "retrieved" / f"{i}-{Path(hit.path).stem}.png"
            )
            top.append((str(thumb), f"{i}. {Path(hit.path).name} ({hit.score:.2f})"))
        job.post(("retrieved", f"retrieved {Path(hits[0].path).name}; colouring", top))

        def on_progress(event) -> None:
            if event.stage == "style":
                job.post(("style", (event.done, event.total), None))

        made = colorize_from_gallery(
            lines, None, config, photo=hits[0].path, hints=hints, output=folder / "colorized.png",
            progress=on_progress, should_stop=job.should_stop,
        )  # fmt: skip
        files = made.files
        return {"summary": made.summary, "top": top, "files": [str(files[k]) for k in ("output", "sheet", "sidecar")]}

    top = None
    _, events = jobs.run_job(runs, KIND, request, call)
    for event in events:
        if event.kind == "progress":
            stage, info, hits = event.data
            top = hits if hits is not None else top
            if stage == "style":
                done, total = info
                if progress is not None:
                    progress((done, total), desc="colouring")
                info = f"colouring: iteration {done} / {total}"
            yield note(info), top, None, None, None
        elif event.kind == "error":
            yield error(event.data), top, None, None, None
        else:
            out = event.data
            s = out["summary"]
            stopped = "stopped; " if s["interrupted"] else ""
            msg = (
                f"{stopped}coloured from **{Path(s['photo']).name}**: {s['regions']} regions, "
                f"{len(s['hinted_regions'])} from hints, {s['wall_seconds']:.1f} s. "
                f"Files in `{Path(s['output']).parent}`."
            )
            yield note(msg), out["top"], s["sheet"], s["output"], out["files"]


def build(runs: Path) -> None:
    """The tab's layout and events (inside a ``gr.Blocks``)."""
    with gr.Row():
        with gr.Column(scale=1):
            gr.Markdown("Pick the brush and draw closed shapes in **black**; strokes in a **colour** are colour hints.")
            drawing = gr.Sketchpad(
                label="your drawing",
                type="numpy",
                image_mode="RGBA",
                canvas_size=CANVAS,
                brush=gr.Brush(colors=[INK, *HINT_COLORS], default_size=3, color_mode="fixed"),
                elem_id="sketch-pad",
            )
            drawing_file = gr.File(label="or upload a drawing", file_types=["image"], elem_id="sketch-upload")
            gallery = gr.Textbox(label="gallery folder on this machine (empty: the built-in gallery)")
            size = gr.Slider(64, 512, value=QUICK_SIZE, step=32, label="size (longest side, px)", elem_id="sketch-size")
            iterations = gr.Textbox(
                QUICK_ITERATIONS, label="iterations per scale, coarse to fine", elem_id="sketch-iterations"
            )
            seed = gr.Number(0, label="seed", precision=0)
            with gr.Row():
                run = gr.Button("Colour it", variant="primary", elem_id="sketch-run")
                stop = stop_button("sketch-stop")
        with gr.Column(scale=2):
            status = gr.Markdown(elem_id="sketch-status")
            top = gr.Gallery(label="the 5 best photos", columns=5, height=170, elem_id="sketch-top")
            result = gr.Image(
                label="coloured", type="filepath", elem_id="sketch-result", height=320, elem_classes=["upscale"]
            )
            sheet = gr.Image(label="contact sheet: every step", type="filepath", elem_id="sketch-sheet")
            files = gr.File(label="the result, its sheet and settings", file_count="multiple")

    def on_run(drawing, drawing_file, gallery, size, iterations, seed, request: gr.Request, progress=gr.Progress()):  # noqa: B008
        yield from colorize(runs, drawing, drawing_file, gallery, size, iterations, seed, request, progress)

    Run.wire(run, on_run, [drawing, drawing_file, gallery, size, iterations, seed], [status, top, sheet, result, files])
    Run.wire_stop(stop, KIND, status)
