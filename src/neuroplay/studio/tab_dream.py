"""The Deep Dream tab: image, layer (the real names with channel counts), channels, octaves,
steps, guide, mask; a preview per octave, then the dream or its zoom animation.

The calls are ``neuroplay dream``'s: :func:`~neuroplay.vision.dream_run.prepare_dream` and
:func:`~neuroplay.vision.dream_run.run_dream`. Stop goes through the dream's ``should_stop``: it
ends after the step it is in and still writes what it reached (``"interrupted"`` in its summary).
"""

from pathlib import Path

import gradio as gr

from neuroplay.studio import jobs
from neuroplay.studio.tab_style import CONTENTS
from neuroplay.studio.uploads import builtin_choices, choice_spec, keep_upload, upload_path
from neuroplay.studio.view import Run, error, note, number, stop_button

KIND = "dream"
NONE = "none"
DEFAULT_LAYER = "relu4_3 (512 channels)"  # DreamConfig's default layer, as layer_choices() names it
QUICK = {"octaves": 3, "steps": 10, "max_size": 256}  # the tab's quick setting


def layer_choices() -> list[str]:
    """``"relu4_3 (512 channels)"`` for every ReLU layer of VGG16, input to output."""
    from neuroplay.vision.features import layer_channels

    return [f"{name} ({n} channels)" for name, n in layer_channels("vgg16").items() if name.startswith("relu")]


def dream(
    runs: Path, image, image_file, layer, channels, octaves, steps, max_size, guide, guide_file, mask_file,
    zoom_frames, seed, request=None, progress=None,
):  # fmt: skip
    """A dream in a new job folder; yields ``(status, preview, result, files)``."""
    from neuroplay.common.outputs import sidecar_path
    from neuroplay.studio.view import ints
    from neuroplay.vision.dream_config import DreamConfig
    from neuroplay.vision.dream_run import prepare_dream, run_dream
    from neuroplay.vision.image import save_image

    def call(job: jobs.Job) -> dict:
        folder = job.folder
        spec = choice_spec(image, image_file, "the image", folder, "image")
        guide_spec = None
        if upload_path(guide_file) is not None or (guide and guide != NONE):
            guide_spec = choice_spec(guide, guide_file, "the guide image", folder, "guide")
        mask = keep_upload(mask_file, "the mask", folder, "mask") if upload_path(mask_file) is not None else None
        name = str(layer or "relu4_3").split(" ")[0]
        chosen = ints(channels, "channels") if channels and str(channels).strip() else ()
        frames = number(zoom_frames, "zoom frames", int)
        config = DreamConfig(
            layers=name,
            channels={name: chosen} if chosen else {},
            octaves=number(octaves, "octaves", int),
            steps=number(steps, "steps", int),
            max_size=number(max_size, "max size", int),
            zoom_frames=frames,
            seed=number(seed, "seed", int),
        )
        output = folder / ("dream.gif" if frames else "dream.png")
        job_ = prepare_dream(config, spec, output, guide=guide_spec, mask=mask)

        def on_step(p) -> None:
            preview = None
            if p.image is not None:
                preview = folder / f"octave_{p.octave}.png" if p.frame == 0 else folder / "zoom_latest.png"
                save_image(p.image, preview)
            job.post((p, preview))

        summary = run_dream(job_, on_step, should_stop=job.should_stop)
        return summary | {"folder": str(folder), "files": [str(output), str(sidecar_path(output))]}

    preview = None
    _, events = jobs.run_job(runs, KIND, request, call)
    for event in events:
        if event.kind == "progress":
            p, image = event.data
            preview = str(image) if image is not None else preview
            if progress is not None:
                progress((p.done, p.total), desc="dreaming")
            frame = f"frame {p.frame + 1}/{p.frames}, " if p.frames > 1 else ""
            msg = f"{frame}octave {p.octave}/{p.octaves} ({p.size[1]}×{p.size[0]}), step {p.step}/{p.steps}"
            yield note(msg), preview, None, None
        elif event.kind == "error":
            yield error(event.data), preview, None, None
        else:
            s = event.data
            stopped = "stopped early; kept what it reached: " if s["interrupted"] else ""
            what = f"{s['frames']} frames" if s["frames"] else f"{s['width']}×{s['height']}"
            msg = f"{stopped}dreamed {what} in {s['wall_seconds']:.1f} s. Files in `{s['folder']}`."
            yield note(msg), preview, s["output"], s["files"]


def build(runs: Path) -> None:
    """The tab's layout and events (inside a ``gr.Blocks``)."""
    with gr.Row():
        with gr.Column(scale=1):
            image = gr.Dropdown(builtin_choices(CONTENTS), value=builtin_choices(CONTENTS)[0], label="image")
            image_file = gr.File(label="image upload", file_types=["image"], elem_id="dream-upload")
            # the full list needs the network's tables (torch): filled in once the page has loaded, so
            # the studio starts without importing torch
            layer = gr.Dropdown([DEFAULT_LAYER], value=DEFAULT_LAYER, label="layer", elem_id="dream-layer")
            channels = gr.Textbox(label="channels (empty: all), e.g. 12,87")
            octaves = gr.Slider(1, 8, value=QUICK["octaves"], step=1, label="octaves")
            steps = gr.Slider(1, 50, value=QUICK["steps"], step=1, label="steps per octave")
            max_size = gr.Slider(64, 1024, value=QUICK["max_size"], step=32, label="image size (longest side, px)")
            with gr.Accordion("guide, mask, zoom", open=False):
                guide = gr.Dropdown([NONE, *builtin_choices(CONTENTS)[:-1]], value=NONE, label="guide")
                guide_file = gr.File(label="guide upload", file_types=["image"])
                mask_file = gr.File(label="mask (bright: dream there)", file_types=["image"])
                zoom_frames = gr.Number(0, label="zoom animation frames (0: none)", precision=0)
            seed = gr.Number(0, label="seed", precision=0)
            with gr.Row():
                run = gr.Button("Dream", variant="primary", elem_id="dream-run")
                stop = stop_button("dream-stop")
        with gr.Column(scale=2):
            status = gr.Markdown(elem_id="dream-status")
            with gr.Row():
                preview = gr.Image(
                    label="preview (per octave)",
                    type="filepath",
                    elem_id="dream-preview",
                    height=320,
                    elem_classes=["upscale"],
                )
                result = gr.Image(
                    label="dream", type="filepath", elem_id="dream-result", height=320, elem_classes=["upscale"]
                )
            files = gr.File(label="the dream and its settings", file_count="multiple")

    def on_run(
        image, image_file, layer, channels, octaves, steps, max_size, guide, guide_file, mask_file, zoom_frames,
        seed, request: gr.Request, progress=gr.Progress(),  # noqa: B008 - Gradio's way to ask for a progress bar
    ):  # fmt: skip
        yield from dream(
            runs, image, image_file, layer, channels, octaves, steps, max_size, guide, guide_file, mask_file,
            zoom_frames, seed, request, progress,
        )  # fmt: skip

    def on_load() -> dict:
        return gr.update(choices=layer_choices(), value=DEFAULT_LAYER)

    gr.on(None, on_load, None, layer, concurrency_limit=None, show_progress="hidden")  # None: when the page loads
    inputs = [image, image_file, layer, channels, octaves, steps, max_size, guide, guide_file, mask_file, zoom_frames]
    Run.wire(run, on_run, [*inputs, seed], [status, preview, result, files])
    Run.wire_stop(stop, KIND, status)
