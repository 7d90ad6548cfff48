"""The grid-world tab: a map as text, slip and episodes; the policy arrows over the value heatmap.

The call is ``neuroplay qtable``'s: :func:`~neuroplay.rl.qtable_run.run_qtable`.
"""

from pathlib import Path

import gradio as gr

from neuroplay.rl.config import QLearningConfig
from neuroplay.studio import jobs
from neuroplay.studio.view import Run, error, note, number

KIND = "grid"
_D = QLearningConfig()


def train(runs: Path, map_text, slip, episodes, seed, request=None):
    """Q-learning on the map in ``map_text``; yields ``(status, policy picture, returns picture, policy text)``."""
    from neuroplay.rl.gridworld import parse_map
    from neuroplay.rl.qtable_run import run_qtable
    from neuroplay.rl.tabular import policy_text

    def call(job: jobs.Job) -> tuple[dict, str]:
        grid_map = parse_map(str(map_text or ""))
        n = number(episodes, "episodes", int)
        config = QLearningConfig(
            episodes=n,
            slip=number(slip, "slip"),
            seed=number(seed, "seed", int),
        )
        result, summary = run_qtable(job.folder, config, grid_map)
        return summary, policy_text(grid_map, result.q)

    _, events = jobs.run_job(runs, KIND, request, call)
    for event in events:
        if event.kind == "error":
            yield error(event.data), None, None, ""
        elif event.kind == "done":
            summary, arrows = event.data
            verdict = (
                f"the greedy policy reaches G in **{summary['greedy_path_length']} moves**"
                if summary["success"]
                else "the greedy policy does **not** reach G (train longer or explore more)"
            )
            msg = (
                f"{verdict}; mean return of the last 50 episodes {summary['mean_return_last_50']:.2f}. "
                f"Files in `{summary['out']}`."
            )
            yield note(msg), summary["policy_png"], summary["returns_png"], arrows


def build(runs: Path) -> None:
    """The tab's layout and events (inside a ``gr.Blocks``)."""
    from neuroplay.rl.gridworld import DEFAULT_MAP

    with gr.Row():
        with gr.Column(scale=1):
            map_text = gr.Textbox(
                DEFAULT_MAP.strip("\n"),
                label="map (S start, G goal, X pit, # wall, . free)",
                lines=7,
                elem_id="grid-map",
                elem_classes=["mono"],
            )
            slip = gr.Slider(0.0, 0.5, value=_D.slip, step=0.05, label="slip (chance a move goes astray)")
            episodes = gr.Number(_D.episodes, label="episodes", precision=0)
            seed = gr.Number(0, label="seed", precision=0)
            run = gr.Button("Train", variant="primary", elem_id="grid-train")
        with gr.Column(scale=2):
            status = gr.Markdown(elem_id="grid-status")
            policy = gr.Image(
                label="greedy policy over the state values", type="filepath", elem_id="grid-policy", show_label=False
            )
            arrows = gr.Code(label="policy", elem_id="grid-arrows")
            returns = gr.Image(label="returns per episode", type="filepath", show_label=False)

    def on_train(map_text, slip, episodes, seed, request: gr.Request):
        yield from train(runs, map_text, slip, episodes, seed, request)

    Run.wire(run, on_train, [map_text, slip, episodes, seed], [status, policy, returns, arrows])
