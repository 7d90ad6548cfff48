"""The Flappy Bird evolution tab: the fitness plot growing per generation, then the champion.

The calls are the command line's: :func:`~neuroplay.evo.ga.evolve` (``evolve train``) and
:func:`~neuroplay.evo.flappy.render.record` (``evolve play --gif``); the champion's network is
drawn by :func:`~neuroplay.evo.plots.plot_network`.
"""

from pathlib import Path

import gradio as gr
import pandas as pd

from neuroplay.evo.config import ALGORITHMS, EvolveConfig
from neuroplay.studio import jobs
from neuroplay.studio.view import Run, error, note, number, stop_button

KIND = "flappy"
_D = EvolveConfig()
UNSEEN_COURSE = 10**6  # the course the champion flies afterwards: far from any training course's seed
FLIGHT_FRAMES = 1500  # game frames of the champion's clip (50 s of play; ~36 pipes)
POPULATION_FRAMES = 360  # game frames of each generation's clip (12 s of play; ~3 pipes)


def _fitness(stats: list[dict]) -> pd.DataFrame:
    rows = [(s["generation"] + 1, s["best_fitness"], "best") for s in stats]
    rows += [(s["generation"] + 1, s["mean_fitness"], "mean") for s in stats]
    return pd.DataFrame(rows, columns=["generation", "fitness", "series"])


def draw_population(genomes, sizes: tuple[int, ...], generation: int, folder: Path) -> Path:
    """A short clip of the whole generation flying one course together (``population/gen_N.gif``).
    Drawn by the page's handler between updates, so while it draws, later generations only
    replace each other: the page shows the newest, and evolution never waits for the drawing."""
    from neuroplay.evo.flappy import render
    from neuroplay.evo.population import MLPShape

    path = folder / "population" / f"gen_{generation:04d}.gif"
    path.parent.mkdir(exist_ok=True)
    policy = render.population_policy(MLPShape(sizes), genomes)
    render.record(
        policy, UNSEEN_COURSE - generation, path, n_birds=len(genomes), max_frames=POPULATION_FRAMES,
        frame_skip=6, scale=0.5, generation=generation,
    )  # fmt: skip
    return path


def train(runs: Path, algorithm, population, generations, seed, request=None):
    """Evolve birds in a new job folder; yields ``(status, fitness, flight, network, champion file)``."""
    from neuroplay.common.outputs import plan_outputs
    from neuroplay.evo.flappy import render
    from neuroplay.evo.ga import RUN_FILES, evolve
    from neuroplay.evo.plots import plot_network

    stats: list[dict] = []

    def call(job: jobs.Job) -> dict:
        birds = number(population, "population", int)
        config = EvolveConfig(
            algorithm=str(algorithm),
            population=birds or None,  # 0: the algorithm's own
            generations=number(generations, "generations", int),
            seed=number(seed, "seed", int),
        )
        config.check_memory()
        plan_outputs(files=[job.folder / name for name in RUN_FILES], dirs=[job.folder])

        def report(s: dict) -> None:
            stats.append({k: v for k, v in s.items() if k != "population"})
            text = f"generation {s['generation'] + 1}: best bird {s['best_pipes']} pipes"
            job.post((text, s["generation"] + 1, s["population"].copy(), config.sizes, job.folder))

        result = evolve(config, job.folder, callback=report, should_stop=job.should_stop)
        from neuroplay.common.runlock import release_run_folder

        release_run_folder(job.folder)
        out = {"result": result, "folder": job.folder}
        champion = result.champion
        if champion is None:
            return out
        job.post("the champion flies an unseen course")
        act = champion.policy()
        flight = render.record(
            lambda obs, ids: act(obs), UNSEEN_COURSE + config.seed, job.folder / "champion.gif",
            max_frames=FLIGHT_FRAMES, frame_skip=3, scale=0.5, generation=champion.generation + 1,
        )  # fmt: skip
        plot_network(job.folder / "network.png", champion)
        return out | {"flight": flight}

    flying = None
    _, events = jobs.run_job(runs, KIND, request, call)
    for event in events:
        if event.kind == "progress":
            if isinstance(event.data, str):
                yield note(event.data), _fitness(stats), flying, None, None
                continue
            text, generation, genomes, sizes, folder = event.data
            yield note(f"evolving: {text}"), _fitness(stats), flying, None, None
            flying = str(draw_population(genomes, sizes, generation, folder))
            yield note(f"evolving: {text}"), _fitness(stats), flying, None, None
        elif event.kind == "error":
            yield error(event.data), _fitness(stats), None, None, None
        else:
            out = event.data
            r, folder = out["result"], out["folder"]
            head = "stopped" if r.interrupted else "a champion" if r.solved else "no champion reached the target"
            msg = f"**{head}** after {r.generations} generations, {r.wall_seconds:.1f} s. Files in `{folder}`."
            if "flight" not in out:
                yield note(msg), _fitness(stats), None, None, None
                continue
            flight = out["flight"]
            alive = " and was still flying when the clip ended" if flight["world_frames"] >= FLIGHT_FRAMES else ""
            msg += f" On an unseen course the champion passed **{flight['pipes']} pipes**{alive}."
            yield (
                note(msg), _fitness(stats), str(folder / "champion.gif"), str(folder / "network.png"),
                r.champion_path,
            )  # fmt: skip


def build(runs: Path) -> None:
    """The tab's layout and events (inside a ``gr.Blocks``)."""
    with gr.Row():
        with gr.Column(scale=1):
            algorithm = gr.Radio(list(ALGORITHMS), value=_D.algorithm, label="algorithm")
            population = gr.Number(0, label="population (0: the algorithm's, 1000 or 100)", precision=0)
            generations = gr.Number(_D.generations, label="generation budget", precision=0)
            seed = gr.Number(0, label="seed", precision=0)
            with gr.Row():
                run = gr.Button("Evolve", variant="primary", elem_id="flappy-train")
                stop = stop_button("flappy-stop")
        with gr.Column(scale=2):
            status = gr.Markdown(elem_id="flappy-status")
            fitness = gr.LinePlot(
                _fitness([]), x="generation", y="fitness", color="series", label="fitness", elem_id="flappy-fitness"
            )
            with gr.Row():
                flight = gr.Image(
                    label="the population flying (live), then the champion on an unseen course",
                    type="filepath",
                    elem_id="flappy-gif",
                )
                network = gr.Image(
                    label="the champion's network", type="filepath", elem_id="flappy-net", show_label=False
                )
            champion = gr.File(label="champion.pt")

    def on_train(algorithm, population, generations, seed, request: gr.Request):
        yield from train(runs, algorithm, population, generations, seed, request)

    Run.wire(run, on_train, [algorithm, population, generations, seed], [status, fitness, flight, network, champion])
    Run.wire_stop(stop, KIND, status)
