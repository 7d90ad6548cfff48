"""The CartPole (DQN) tab: train with a learning curve that grows, evaluate, watch, download.

The calls are the command line's: :class:`~neuroplay.rl.dqn.DQN` ``train`` (``dqn train``),
``evaluate`` (``dqn eval``), :func:`~neuroplay.rl.playback.record_gif` (``dqn play --gif``).
"""

import copy
import math
import time
from pathlib import Path

import gradio as gr
import pandas as pd

from neuroplay.common.errors import UserError
from neuroplay.rl.config import DQNConfig
from neuroplay.studio import jobs
from neuroplay.studio.uploads import upload_path
from neuroplay.studio.view import Run, error, ints, note, number, stop_button

KIND = "dqn"
_D = DQNConfig()
CURVE_COLUMNS = ["steps", "return", "series"]
LIVE_EVERY_SECONDS = 4.0  # how often the policy being trained is shown playing


def _curve(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


def show_policy(agent, folder: Path, steps: str) -> Path:
    """A short clip of ``agent``'s greedy policy now (``live/steps_N.gif``), drawn by the page's
    handler while training goes on; at most one every :data:`LIVE_EVERY_SECONDS`."""
    from neuroplay.common.runtime import torch_threads
    from neuroplay.rl.playback import record_gif

    path = folder / "live" / f"steps_{steps}.gif"
    path.parent.mkdir(exist_ok=True)
    with torch_threads(1):  # one observation at a time: more threads only slow it down
        record_gif(agent, path, seed=0, frame_skip=4, scale=0.4)
    return path


def train(runs: Path, total_steps, seed, hidden, lr, threshold, eval_episodes, request=None):
    """Train a DQN on CartPole in a new job folder; yields ``(status, curve, gif, model file)``."""
    from neuroplay.common.outputs import plan_outputs
    from neuroplay.common.runtime import torch_threads
    from neuroplay.rl.dqn import DQN, RUN_FILES
    from neuroplay.rl.playback import record_gif

    rows: list[tuple] = []

    def call(job: jobs.Job) -> dict:
        config = DQNConfig(
            total_steps=number(total_steps, "total steps", int),
            seed=number(seed, "seed", int),
            hidden=ints(hidden, "hidden layers"),
            lr=number(lr, "learning rate"),
            solve_threshold=number(threshold, "threshold"),
            torch_threads=1,
        )
        episodes = number(eval_episodes, "evaluation episodes", int)
        if not 1 <= episodes <= 1000:
            raise UserError(f"evaluation episodes must be 1 to 1000, got {episodes}")
        plan_outputs(files=[job.folder / name for name in RUN_FILES], dirs=[job.folder])
        agent = DQN(config)
        agent.check_memory()

        def report(info: dict) -> None:
            steps = info["env_steps"]
            if info["recent_return"] == info["recent_return"]:  # not NaN: an episode has ended
                rows.append((steps, info["recent_return"], "training (mean of last 20)"))
            if info["eval_mean"] == info["eval_mean"]:
                rows.append((steps, info["eval_mean"], "latest greedy evaluation"))
            # a copy of the network as it is now, for the page to show playing (training goes on meanwhile)
            job.post((f"{steps} / {info['total_steps']} steps, {info['episodes']} episodes", copy.deepcopy(agent)))

        result = agent.train(job.folder, callback=report, should_stop=job.should_stop)
        from neuroplay.common.runlock import release_run_folder

        release_run_folder(job.folder)
        out = {"result": result, "folder": job.folder}
        if result.interrupted:
            return out
        job.post("evaluating the kept model")
        returns = agent.evaluate(episodes, config.seed + 1)
        job.post("recording an episode")
        with torch_threads(1):
            ret, _ = record_gif(agent, job.folder / "cartpole.gif", config.seed + 1)
        return out | {"mean": float(returns.mean()), "std": float(returns.std()), "episodes": episodes, "gif_ret": ret}

    playing, drawn_at = None, -math.inf
    job, events = jobs.run_job(runs, KIND, request, call)
    for event in events:
        if event.kind == "progress":
            if isinstance(event.data, str):
                yield note(event.data), _curve(rows), playing, None
                continue
            text, snapshot = event.data
            yield note(f"training: {text}"), _curve(rows), playing, None
            if time.monotonic() - drawn_at > LIVE_EVERY_SECONDS:
                drawn_at = time.monotonic()
                playing = str(show_policy(snapshot, job.folder, text.split(" ")[0]))
                yield note(f"training: {text}"), _curve(rows), playing, None
        elif event.kind == "error":
            yield error(event.data), _curve(rows), None, None
        else:
            out = event.data
            r = out["result"]
            if r.interrupted:
                msg = f"stopped at {r.env_steps} steps; the checkpoint is kept in `{out['folder']}`"
                yield note(msg), _curve(rows), None, None
                continue
            verdict = "solved" if r.solved else "not solved within the budget"
            msg = (
                f"**{verdict}**: {r.env_steps} steps, {r.episodes} episodes, {r.wall_seconds:.1f} s. "
                f"Greedy evaluation over {out['episodes']} episodes: **{out['mean']:.1f} ± {out['std']:.1f}**. "
                f"Files in `{out['folder']}`."
            )
            gif = str(out["folder"] / "cartpole.gif")
            yield note(msg), _curve(rows), gif, r.model


def watch(runs: Path, model, seed, request=None):
    """Load a saved ``model.pt`` and record one greedy episode; yields ``(status, gif)``."""
    from neuroplay.common.runtime import torch_threads
    from neuroplay.rl.dqn import DQN
    from neuroplay.rl.playback import record_gif

    def call(job: jobs.Job) -> tuple[float, Path]:
        path = upload_path(model)
        if path is None:
            raise UserError("upload a model.pt (made by Train here or by `neuroplay dqn train`)")
        agent = DQN.load(path)
        gif = job.folder / "play.gif"
        with torch_threads(1):
            ret, _ = record_gif(agent, gif, number(seed, "seed", int))
        return ret, gif

    _, events = jobs.run_job(runs, "dqn-play", request, call)
    for event in events:
        if event.kind == "error":
            yield error(event.data.replace(str(upload_path(model)), "the model file")), None
        elif event.kind == "done":
            ret, gif = event.data
            yield note(f"episode return **{ret:.0f}**"), str(gif)


def build(runs: Path) -> None:
    """The tab's layout and events (inside a ``gr.Blocks``)."""
    with gr.Row():
        with gr.Column(scale=1):
            total_steps = gr.Number(_D.total_steps, label="step budget", precision=0, elem_id="dqn-steps")
            hidden = gr.Textbox(",".join(map(str, _D.hidden)), label="hidden layers")
            lr = gr.Number(_D.lr, label="learning rate")
            threshold = gr.Number(
                _D.solve_threshold, label="solve threshold (mean greedy return)", elem_id="dqn-threshold"
            )
            eval_episodes = gr.Number(100, label="evaluation episodes after training", precision=0, elem_id="dqn-eval")
            seed = gr.Number(0, label="seed", precision=0)
            with gr.Row():
                run = gr.Button("Train", variant="primary", elem_id="dqn-train")
                stop = stop_button("dqn-stop")
        with gr.Column(scale=2):
            status = gr.Markdown(elem_id="dqn-status")
            curve = gr.LinePlot(
                _curve([]), x="steps", y="return", color="series", label="learning curve", elem_id="dqn-curve"
            )
            gif = gr.Image(
                label="the greedy policy playing (live), then the kept model", type="filepath", elem_id="dqn-gif"
            )
            model_file = gr.File(label="model.pt", elem_id="dqn-model")
    with gr.Accordion("Load a saved model and watch it play", open=False):
        with gr.Row():
            upload = gr.File(label="model.pt", file_types=[".pt"], elem_id="dqn-upload")
            play_seed = gr.Number(1, label="episode seed", precision=0)
            play = gr.Button("Watch it play")
        play_status = gr.Markdown()
        play_gif = gr.Image(label="episode", type="filepath")

    def on_train(total_steps, seed, hidden, lr, threshold, eval_episodes, request: gr.Request):
        yield from train(runs, total_steps, seed, hidden, lr, threshold, eval_episodes, request)

    def on_watch(model, seed, request: gr.Request):
        yield from watch(runs, model, seed, request)

    Run.wire(run, on_train, [total_steps, seed, hidden, lr, threshold, eval_episodes], [status, curve, gif, model_file])
    Run.wire(play, on_watch, [upload, play_seed], [play_status, play_gif])
    Run.wire_stop(stop, KIND, status)
