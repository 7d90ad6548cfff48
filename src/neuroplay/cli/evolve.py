"""``neuroplay evolve train|eval|play``: a population of tiny nets learns Flappy Bird."""

from __future__ import annotations

import signal
from contextlib import ExitStack, nullcontext
from pathlib import Path

import typer

from neuroplay.cli._util import (
    FORCE,
    FPS,
    FRAME_SKIP,
    QUIET,
    Common,
    check_device,
    common_options,
    emit_json,
    finish_training,
    has_display,
    options_named,
    parse_ints,
    resume_option,
    start_run,
)
from neuroplay.cli.interrupts import stop_requests, take_back
from neuroplay.common.bounds import in_range
from neuroplay.common.errors import UserError
from neuroplay.common.outputs import check_output, plan_outputs
from neuroplay.common.progress import console, make_progress
from neuroplay.evo.config import EvolveConfig

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Neuro-evolution: a population of tiny neural nets learns to play Flappy Bird.",
    no_args_is_help=True,
)
_D = EvolveConfig()
# the world runs in NumPy: --device is only checked
CPU_ONLY = typer.Option(
    "auto", "--device", help="Accepted for uniformity; the world runs in NumPy on the CPU.", callback=check_device
)


def champ_deaths(champ, config: EvolveConfig) -> int | None:
    """Courses the champion died on in its final validation (None if it was not validated)."""
    if champ is None or not champ.validation_pipes:
        return None
    cap = config.target_pipes if config.algorithm == "classic" else min(config.validation_pipes, config.target_pipes)
    return sum(p < cap for p in champ.validation_pipes)


@app.command("train")
@common_options(quiet=QUIET, device=CPU_ONLY)
def train_cmd(
    ctx: typer.Context,
    out: Path = typer.Option(None, "--out", "-o", help="Run directory [default: runs/evolve]."),
    resume: Path = resume_option("--generations"),
    force: bool = FORCE,
    algorithm: str = typer.Option(_D.algorithm, "--algorithm", help="default (reliable) or classic (the original)."),
    population: int = typer.Option(
        None, "--population", "-n", help="Birds per generation [default: 1000; classic: 100]."
    ),
    hidden: str = typer.Option(",".join(map(str, _D.hidden)), "--hidden", help="Hidden layer sizes (3-7-1: 7)."),
    generations: int = typer.Option(_D.generations, "--generations", help="Generation budget."),
    target_pipes: int = typer.Option(_D.target_pipes, "--target-pipes", help="Pipes a champion must pass."),
    pipe_bonus: float = typer.Option(_D.pipe_bonus, "--pipe-bonus", help="Fitness bonus per pipe."),
    courses: int = typer.Option(_D.courses, "--courses", help="default: fresh courses per generation."),
    hard_courses: int = typer.Option(_D.hard_courses, "--hard-courses", help="default: extra edge-case courses."),
    train_pipes: int = typer.Option(_D.train_pipes, "--train-pipes", help="default: pipe cap while training."),
    elite: int = typer.Option(_D.elite, "--elite", help="default: best birds kept unchanged."),
    tournament: int = typer.Option(_D.tournament, "--tournament", help="default: tournament size."),
    crossover_rate: float = typer.Option(
        _D.crossover_rate, "--crossover-rate", help="default: share of crossed pairs."
    ),
    candidates: int = typer.Option(
        _D.candidates, "--candidates", help="default: best screened birds that fly the evidence courses."
    ),
    evidence_courses: int = typer.Option(
        _D.evidence_courses, "--evidence-courses", help="default: courses that build the elites' records."
    ),
    validation_courses: int = typer.Option(
        _D.validation_courses, "--validation-courses", help="default: unseen courses a champion must pass."
    ),
    mutation_rate: float = typer.Option(_D.mutation_rate, "--mutation-rate", help="Chance that a weight mutates."),
    mutation_scale: float = typer.Option(
        None, "--mutation-scale", help="Uniform half-width (classic, 0.5) or Gaussian std (default, 3.0)."
    ),
    ray: str = typer.Option(
        None,
        "--ray",
        help="Evaluate on Ray: 'local' for a local instance, or a cluster ADDRESS (needs neuroplay[ray]).",
    ),
    ray_workers: int = typer.Option(None, "--ray-workers", help="Ray tasks per generation [default: Ray's CPUs]."),
    *,
    common: Common,
) -> None:
    """Evolve birds until a champion passes --target-pipes (on unseen courses too, for the
    default algorithm). Ctrl-C saves a checkpoint; --resume continues exactly."""
    from neuroplay.evo.ga import RUN_FILES, evolve, resume_config

    run_dir, settings, typed = start_run(
        ctx, EvolveConfig, out, resume, force, Path("runs") / "evolve", hidden=parse_ints(hidden, "--hidden")
    )
    # resumed: the saved settings, but for those typed here that may change
    with options_named(ctx):
        config = EvolveConfig(**settings) if typed is None else resume_config(run_dir, **typed)
    plan_outputs(files=[run_dir / name for name in RUN_FILES], dirs=[run_dir])
    config.check_memory()  # before the bar: a refusal is one clean line

    evaluation = nullcontext()  # evaluate locally, or on Ray (shut down afterwards if started here)
    if ray is not None:
        from neuroplay.evo.distributed import ray_evaluation
        from neuroplay.evo.population import MLPShape

        in_range("--ray-workers", ray_workers, 1, 100_000)
        evaluation = ray_evaluation(MLPShape(config.sizes), ray, ray_workers)
    elif ray_workers is not None:
        raise UserError("--ray-workers needs --ray")
    with ExitStack() as stack:
        try:
            evaluator = stack.enter_context(evaluation)
        except SystemExit as exc:  # SIGTERM while ray.init ran: its handler exits with the signal's number
            raise (KeyboardInterrupt if exc.code == signal.SIGTERM else exc) from None
        take_back()  # Ray's SIGTERM handler would end the run with no checkpoint, and its shutdown with no line
        stop_requested = stack.enter_context(stop_requests())
        progress = stack.enter_context(make_progress(disable=common.quiet))
        task = progress.add_task("evolve", total=config.generations, status="")

        def report(s: dict) -> None:
            status = (
                f"best {s['best_fitness']:.0f}  mean {s['mean_fitness']:.0f}  "
                f"pipes {s['best_pipes']}  at cap {s['at_cap']}"
                + (f"  elite {s['elite_deaths']}/{s['elite_pipes']}" if s["elite_pipes"] else "")
                + (f"  validation deaths {s['validation_deaths']}" if s["validation_deaths"] != "" else "")
            )
            progress.update(task, completed=s["generation"] + 1, status=status)

        result = evolve(
            config,
            run_dir,
            callback=report,
            should_stop=stop_requested,
            resume=resume is not None,
            evaluator=evaluator,
        )

    verdict = "[green]solved[/]" if result.solved else "[yellow]no champion reached the target[/]"
    report = (
        f"{verdict}: {result.generations} generations, {result.wall_seconds:.1f} s, best bird "
        f"{result.best_pipes} pipes\nchampion: {result.champion_path}\n"
        f"stats and plot: {run_dir / 'stats.csv'}, {run_dir / 'fitness.png'}"
    )
    champ = result.champion
    summary = {
        "solved": result.solved,
        "generations": result.generations,
        "wall_seconds": round(result.wall_seconds, 3),
        "best_pipes": result.best_pipes,
        "validation_courses": len(champ.validation_pipes) if champ else 0,
        "validation_deaths": champ_deaths(champ, config),
        "champion": result.champion_path,
        "ray": ray,
    }
    where = f"after generation {result.generations}"
    finish_training(result, run_dir, "evolve train", where, report, common.json, summary)


@app.command("eval")
@common_options()
def eval_cmd(
    path: Path = typer.Argument(..., help="A champion.pt (or the run directory holding it)."),
    courses: int = typer.Option(10, "--courses", help="Fresh courses to fly."),
    max_pipes: int = typer.Option(1000, "--max-pipes", help="Stop a course after this many pipes."),
    *,
    common: Common,
) -> None:
    """Fly the champion on N fresh courses and count the pipes it passes on each."""
    from neuroplay.evo.champion import evaluate_champion, load_champion

    in_range("--courses", courses, 1, 10_000)
    in_range("--max-pipes", max_pipes, 1, 1_000_000)
    champion = load_champion(path)
    pipes = evaluate_champion(champion, courses, max_pipes, common.seed).tolist()
    out = {
        "pipes": pipes,
        "courses_reaching_max": sum(p >= max_pipes for p in pipes),
        "mean_pipes": sum(pipes) / len(pipes),
        "courses": courses,
        "max_pipes": max_pipes,
        "seed": common.seed,
    }
    if common.json:
        emit_json(out)
    else:
        console().print(
            f"pipes per course: {pipes}\n{out['courses_reaching_max']} of {courses} courses reached {max_pipes} pipes"
        )


@app.command("play")
@common_options()
def play_cmd(
    path: Path = typer.Argument(None, help="A champion.pt or run directory (not needed with --human)."),
    gif: Path = typer.Option(None, "--gif", help="Record to this .gif (or .mp4) instead of opening a window."),
    compare: bool = typer.Option(False, "--compare", help="Side by side: the first generation vs the champion."),
    human: bool = typer.Option(False, "--human", help="Play yourself in a window: space (or click) flaps."),
    max_frames: int = typer.Option(3000, "--max-frames", help="Longest recording, in game frames."),
    fps: int = FPS,
    frame_skip: int = FRAME_SKIP,
    scale: float = typer.Option(0.5, "--scale", help="Recording size relative to 288×512."),
    *,
    common: Common,
) -> None:
    """Watch the champion fly (a window, or --gif), compare it with its first generation, or play."""
    from neuroplay.common.video import VIDEO_SUFFIXES, check_recording
    from neuroplay.evo.flappy import render

    # the settings and the name are refused before the champion is read
    if gif is not None:
        render.check_settings(gif, max_frames, fps, frame_skip, scale, 2 if compare else 1)
        check_output(gif, [path, path / "champion.pt"] if path is not None else [], suffixes=VIDEO_SUFFIXES)
    else:
        check_recording(fps, frame_skip, scale)
    if human:
        if not has_display():
            raise UserError("--human needs a display to open a window")
        runs = render.play_window(None, common.seed)
        out = {"runs": runs, "best": max(runs, default=0)}
        if common.json:
            emit_json(out)
        return
    if path is None:
        raise UserError("give a champion.pt or run directory to play (or --human to play yourself)")
    from neuroplay.evo.champion import load_champion

    champion = load_champion(path)
    act = champion.policy()

    def policy(obs, ids):
        return act(obs)

    if gif is None:
        if not has_display():
            raise UserError("no display here to open a window; record instead with --gif FILE.gif")
        runs = render.play_window(policy, common.seed)
        out = {"runs": runs}
    elif compare:
        from neuroplay.evo.ga import load_early_champion

        early = load_early_champion(path)
        early_act = early.policy()
        panels = [
            render.Panel(f"generation {early.generation + 1}", lambda obs, ids: early_act(obs), early.generation + 1),
            render.Panel(f"generation {champion.generation + 1}", policy, champion.generation + 1),
        ]
        out = render.record_comparison(
            panels, common.seed, gif, max_frames=max_frames, fps=fps, frame_skip=frame_skip, scale=scale
        )
    else:
        out = render.record(
            policy,
            common.seed,
            gif,
            max_frames=max_frames,
            fps=fps,
            frame_skip=frame_skip,
            scale=scale,
            generation=champion.generation + 1,
        )
    if common.json:
        emit_json(dict(out))
    elif gif is not None:
        console().print(f"wrote {gif}: {out['frames']} frames, best {out['pipes']} pipes")
