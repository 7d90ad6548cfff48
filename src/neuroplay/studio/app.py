"""The studio page: one tab per experiment, a queue of one job at a time, served offline.

:func:`build_app` lays the page out (each tab is its own module); :func:`serve` starts the
server. The page asks nothing of any host but its own: the theme uses the system's fonts (a
stock Gradio theme would fetch Google Fonts), and Gradio's analytics and version check are off
(``GRADIO_ANALYTICS_ENABLED``, set before Gradio is imported).
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no analytics, no version check
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # huggingface_hub (a Gradio dependency) asks nothing online
os.environ.setdefault("MPLBACKEND", "Agg")

import gradio as gr  # noqa: E402

from neuroplay import __version__  # noqa: E402
from neuroplay.studio import jobs, tab_dqn, tab_dream, tab_flappy, tab_grid, tab_sketch, tab_style  # noqa: E402
from neuroplay.studio.uploads import MAX_UPLOAD_MB  # noqa: E402

TABS = (  # (title, element id, module): the order they appear in
    ("CartPole (DQN)", "tab-dqn", tab_dqn),
    ("Grid world", "tab-grid", tab_grid),
    ("Flappy Bird evolution", "tab-flappy", tab_flappy),
    ("Style", "tab-style", tab_style),
    ("Deep Dream", "tab-dream", tab_dream),
    ("Sketch", "tab-sketch", tab_sketch),
)
SYSTEM_FONTS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica", "Arial", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "DejaVu Sans Mono", "monospace"]
CSS = """
.mono textarea { font-family: ui-monospace, 'DejaVu Sans Mono', monospace !important; }
footer { display: none !important; }
.upscale img { width: 100%; height: 100%; object-fit: contain; }  /* a 128 px result shown at the frame's size */
.tabs { position: relative; }
#tab-sketch[style*="display: none"] {  /* hidden, yet laid out: the sketchpad's canvas is not rebuilt on each visit */
  display: flex !important; position: absolute !important; left: 0; right: 0; top: 0;
  visibility: hidden !important; pointer-events: none;
}
"""
INTRO = (
    f"# neuroplay studio {__version__}\n"
    "Four classic deep-learning experiments to run and watch in the browser. One job runs at a time "
    "(others wait in the queue); **Stop** ends a run and keeps what it has. Every job writes its files to "
    "a new folder under `{runs}`."
)


@dataclass(frozen=True)
class Studio:
    """Where jobs write (``runs``) and how many run at once (``concurrency``)."""

    runs: Path = Path("neuroplay-studio")
    concurrency: int = 1


def theme() -> gr.themes.Base:
    """Gradio's base look with the system's fonts: nothing to download."""
    return gr.themes.Base(primary_hue="orange", font=SYSTEM_FONTS, font_mono=MONO_FONTS)


def build_app(studio: Studio | None = None) -> gr.Blocks:
    """The page: an intro, then the six tabs, each laid out and wired by its module."""
    studio = studio or Studio()
    runs = studio.runs.resolve()
    with gr.Blocks(title="neuroplay studio", analytics_enabled=False) as app:
        gr.Markdown(INTRO.format(runs=runs))
        with gr.Tabs():
            for title, elem_id, module in TABS:
                with gr.Tab(title, elem_id=elem_id):
                    module.build(runs)
    app.queue(default_concurrency_limit=studio.concurrency)
    return app


def launch(app: gr.Blocks, host: str, port: int, runs: Path, block: bool = True) -> str:
    """Serve ``app`` on ``host:port`` (uploads up to :data:`MAX_UPLOAD_MB` MB; the files it shows
    come from the jobs' folders under ``runs``); its address. ``block``: serve until Ctrl-C (the
    command); else return at once (tests, benchmarks)."""
    app.launch(
        allowed_paths=[str(Path(runs).resolve())],
        server_name=host,
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        show_error=False,
        inbrowser=False,
        share=False,
        theme=theme(),
        css=CSS,
        max_file_size=f"{MAX_UPLOAD_MB}mb",
        footer_links=[],
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
    )
    address = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}/"
    if block:
        serve_until_interrupted(app)
    return address


def serve_until_interrupted(app: gr.Blocks) -> None:
    """Wait until Ctrl-C (or SIGTERM, which the command line turns into one); then stop every
    running job cleanly (a training run saves its checkpoint) and close the server."""
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        jobs.stop_all()
        app.close(verbose=False)
