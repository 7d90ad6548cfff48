"""The style-transfer tab: content and styles (built-in or uploaded), blend, size, colour options,
a region mask; a preview that updates while L-BFGS runs, then the result and its settings.

The calls are ``neuroplay style``'s: :func:`~neuroplay.vision.style_run.prepare_style` and
:func:`~neuroplay.vision.style_run.run_style`. The preview is the run's own ``--save-every``
images, which stay in the job's folder.
"""

import time
from pathlib import Path

import gradio as gr

from neuroplay.common.errors import UserError
from neuroplay.studio import jobs
from neuroplay.studio.uploads import builtin_choices, choice_spec, upload_path
from neuroplay.studio.view import Run, error, note, number, stop_button

KIND = "style"
CONTENTS = ("chelsea", "astronaut", "coffee", "rocket")  # vision.image.DEMO_CONTENTS, named without importing torch
STYLES = ("swirl", "stripes", "mosaic")  # vision.image.DEMO_STYLES
NONE = "none"
QUICK_SIZE, QUICK_ITERATIONS, PREVIEW_EVERY = 128, 30, 3  # the tab's quick setting: seconds on a laptop CPU
NETWORKS = ("starry-night", "the-scream")  # vision.stylenet.builtin.BUILTINS, named without importing torch


def stylize(
    runs: Path, content, content_file, style, style_file, style2, style2_file, blend, size, iterations,
    original_colors, luminance_only, match_colors, mask_file, region_styles, seed, request=None, progress=None,
):  # fmt: skip
    """Style transfer in a new job folder; yields ``(status, preview, result, files)``."""
    from neuroplay.common.outputs import sidecar_path
    from neuroplay.vision.image import save_image
    from neuroplay.vision.style_config import StyleConfig
    from neuroplay.vision.style_run import prepare_style, run_style, saved_image

    def call(job: jobs.Job) -> dict:
        folder = job.folder
        content_spec = choice_spec(content, content_file, "the content image", folder, "content")
        styles = [choice_spec(style, style_file, "the style image", folder, "style")]
        if style2 and style2 != NONE:
            styles.append(choice_spec(style2, style2_file, "the second style image", folder, "style2"))
        mask = None
        if upload_path(mask_file) is not None:
            from neuroplay.studio.uploads import keep_upload

            mask = keep_upload(mask_file, "the region mask", folder, "mask")
        elif region_styles and str(region_styles).strip():
            raise UserError("region styles need a region mask: upload one, or clear the region styles")
        w = number(blend, "blend")
        config = StyleConfig(
            size=number(size, "size", int),
            iterations=number(iterations, "iterations", int),
            style_blend=(w, 1.0 - w) if len(styles) == 2 else None,
            original_colors=bool(original_colors),
            luminance_only=bool(luminance_only),
            match_colors=bool(match_colors),
            seed=number(seed, "seed", int),
            save_every=PREVIEW_EVERY,
        )
        output = folder / "stylized.png"
        job_ = prepare_style(
            config, content_spec, styles, output, mask=mask, region_styles=(region_styles or None) if mask else None
        )

        def on_step(step) -> None:
            preview = saved_image(output, step.iteration) if step.image is not None else None
            job.post((step.iteration, step.total_iterations, step.total_loss, preview))

        summary = run_style(job_, on_step, should_stop=job.should_stop)
        save_image(job_.content_image, folder / "content_used.png")
        return summary | {"files": [str(output), str(sidecar_path(output))]}

    preview = None
    _, events = jobs.run_job(runs, KIND, request, call)
    for event in events:
        if event.kind == "progress":
            done, total, loss, image = event.data
            preview = str(image) if image is not None else preview
            if progress is not None:
                progress((done, total), desc="L-BFGS")
            yield note(f"iteration {done} / {total}, loss {loss:.4g}"), preview, None, None
        elif event.kind == "error":
            yield error(event.data), preview, None, None
        else:
            s = event.data
            stopped = f"stopped after {s['iterations']} iterations; " if s["interrupted"] else ""
            msg = (
                f"{stopped}{s['width']}×{s['height']} in {s['wall_seconds']:.1f} s: content loss "
                f"{s['content_loss']:.4g}, style loss {s['style_loss']:.4g}. Files in `{Path(s['output']).parent}`."
            )
            yield note(msg), preview, s["output"], s["files"]


def instant(runs: Path, content, content_file, network, size, original_colors, request=None):
    """The content through a trained style network (``neuroplay stylenet apply``): a result in
    a fraction of a second, before a full Gatys run. Yields ``(status, preview, files)``."""
    from neuroplay.vision.image import load_spec, save_image
    from neuroplay.vision.stylenet.apply import resolve_model, stylize_image

    def call(job: jobs.Job) -> dict:
        spec = choice_spec(content, content_file, "the content image", job.folder, "content")
        px = number(size, "size", int)
        model = resolve_model(f"builtin:{network}")
        out = job.folder / f"instant_{network}.png"
        start = time.perf_counter()
        save_image(stylize_image(model, load_spec(spec), px, bool(original_colors), "auto"), out)
        return {"output": str(out), "seconds": time.perf_counter() - start}

    _, events = jobs.run_job(runs, "stylenet", request, call)
    for event in events:
        if event.kind == "error":
            yield error(event.data), None, None
        elif event.kind == "done":
            s = event.data
            msg = f"the `{network}` network in {s['seconds']:.2f} s (`neuroplay stylenet apply`); Run for Gatys."
            yield note(msg), s["output"], [s["output"]]


def build(runs: Path) -> None:
    """The tab's layout and events (inside a ``gr.Blocks``)."""
    image_types = ["image"]
    with gr.Row():
        with gr.Column(scale=1):
            content = gr.Dropdown(builtin_choices(CONTENTS), value=builtin_choices(CONTENTS)[0], label="content")
            content_file = gr.File(label="content upload", file_types=image_types, elem_id="style-content-upload")
            style = gr.Dropdown(builtin_choices(STYLES), value=builtin_choices(STYLES)[0], label="style")
            style_file = gr.File(label="style upload", file_types=image_types, elem_id="style-style-upload")
            with gr.Accordion("second style, blend", open=False):
                style2 = gr.Dropdown([NONE, *builtin_choices(STYLES)], value=NONE, label="second style")
                style2_file = gr.File(label="second style upload", file_types=image_types)
                blend = gr.Slider(0.0, 1.0, value=0.5, step=0.05, label="weight of the first style")
            size = gr.Slider(32, 1024, value=QUICK_SIZE, step=16, label="size (longest side, px)", elem_id="style-size")
            iterations = gr.Number(
                QUICK_ITERATIONS, label="iterations (last scale)", precision=0, elem_id="style-iterations"
            )
            with gr.Accordion("colour, regions", open=False):
                original_colors = gr.Checkbox(label="keep the content's colours")
                luminance_only = gr.Checkbox(label="transfer luminance only")
                match_colors = gr.Checkbox(label="match the styles' colours to the content")
                mask_file = gr.File(label="region mask (colours mark regions)", file_types=image_types)
                region_styles = gr.Textbox(label="region styles, e.g. #ff0000=0,#0000ff=content")
            seed = gr.Number(0, label="seed", precision=0, elem_id="style-seed")
            with gr.Row():
                run = gr.Button("Run", variant="primary", elem_id="style-run")
                stop = stop_button("style-stop")
            with gr.Accordion("instant preview: a trained style network", open=True):
                network = gr.Dropdown(list(NETWORKS), value=NETWORKS[0], label="network (the painting it learned)")
                instant_button = gr.Button("Instant preview", elem_id="style-instant")
        with gr.Column(scale=2):
            status = gr.Markdown(elem_id="style-status")
            with gr.Row():
                preview = gr.Image(
                    label="preview (while L-BFGS runs)",
                    type="filepath",
                    elem_id="style-preview",
                    height=320,
                    elem_classes=["upscale"],
                )
                result = gr.Image(
                    label="result", type="filepath", elem_id="style-result", height=320, elem_classes=["upscale"]
                )
            files = gr.File(label="result and its settings", file_count="multiple", elem_id="style-files")

    def on_run(
        content, content_file, style, style_file, style2, style2_file, blend, size, iterations, original_colors,
        luminance_only, match_colors, mask_file, region_styles, seed, request: gr.Request,
        progress=gr.Progress(),  # noqa: B008 - Gradio's way to ask for a progress bar
    ):  # fmt: skip
        yield from stylize(
            runs, content, content_file, style, style_file, style2, style2_file, blend, size, iterations,
            original_colors, luminance_only, match_colors, mask_file, region_styles, seed, request, progress,
        )  # fmt: skip

    inputs = [
        content, content_file, style, style_file, style2, style2_file, blend, size, iterations,
        original_colors, luminance_only, match_colors, mask_file, region_styles, seed,
    ]  # fmt: skip
    Run.wire(run, on_run, inputs, [status, preview, result, files])

    def on_instant(content, content_file, network, size, original_colors, request: gr.Request):
        yield from instant(runs, content, content_file, network, size, original_colors, request)

    instant_inputs = [content, content_file, network, size, original_colors]
    Run.wire(instant_button, on_instant, instant_inputs, [status, preview, files])
    Run.wire_stop(stop, KIND, status)
