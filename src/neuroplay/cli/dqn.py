"""``neuroplay dqn train|eval|play``: Deep Q-learning on CartPole (or any Box/Discrete env)."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from neuroplay.cli._util import (
    FORCE,
    FPS,
    FRAME_SKIP,
    QUIET,
    Common,
    common_options,
    emit_json,
    finish_training,
    has_display,
    options_named,
    parse_ints,
    resume_option,
    start_run,
)
from neuroplay.cli.interrupts import stop_requests
from neuroplay.common.bounds import in_range
from neuroplay.common.errors import UserError
from neuroplay.common.outputs import check_output, plan_outputs
from neuroplay.common.progress import console, make_progress
from neuroplay.rl.config import DQNConfig

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Deep Q-learning: train a DQN agent (CartPole by default), evaluate it, watch it play.",
    no_args_is_help=True,
)

_D = DQNConfig()  # the CLI's defaults are the library's defaults


@app.command("train")
@common_options(quiet=QUIET)
def train_cmd(
    ctx: typer.Context,
    out: Path = typer.Option(
        None, "--out", "-o", help="Run directory for metrics.csv, plots, checkpoint.pt, model.pt [default: runs/dqn]."
    ),
    resume: Path = resume_option("--total-steps"),
    force: bool = FORCE,
    env_id: str = typer.Option(_D.env_id, "--env", help="Any gymnasium env with Box observations, Discrete actions."),
    total_steps: int = typer.Option(_D.total_steps, "--total-steps", help="Step budget (environment steps)."),
    num_envs: int = typer.Option(_D.num_envs, "--num-envs", help="Environments stepped together."),
    hidden: str = typer.Option(",".join(map(str, _D.hidden)), "--hidden", help="Hidden layer sizes of the Q-network."),
    dueling: bool = typer.Option(_D.dueling, "--dueling/--no-dueling", help="Dueling value/advantage heads."),
    double: bool = typer.Option(_D.double, "--double/--no-double", help="Double DQN target."),
    n_step: int = typer.Option(_D.n_step, "--n-step", help="n-step returns (1 = classic one-step target)."),
    gamma: float = typer.Option(_D.gamma, "--gamma", help="Discount factor."),
    lr: float = typer.Option(_D.lr, "--lr", help="Learning rate."),
    optimizer: str = typer.Option(_D.optimizer, "--optimizer", help="adam or sgd."),
    loss: str = typer.Option(_D.loss, "--loss", help="huber or mse."),
    max_grad_norm: float = typer.Option(
        _D.max_grad_norm or 0.0, "--max-grad-norm", help="Gradient clipping (0 = off)."
    ),
    batch_size: int = typer.Option(_D.batch_size, "--batch-size"),
    buffer_size: int = typer.Option(_D.buffer_size, "--buffer-size", help="Replay memory capacity."),
    learning_starts: int = typer.Option(
        _D.learning_starts, "--learning-starts", help="Steps of experience before learning."
    ),
    train_freq: int = typer.Option(_D.train_freq, "--train-freq", help="Learn every this many vector steps."),
    gradient_steps: int = typer.Option(
        _D.gradient_steps, "--gradient-steps", help="Minibatch updates each time it learns."
    ),
    target_update: str = typer.Option(
        _D.target_update, "--target-update", help="hard (copy) or soft (Polyak) target update."
    ),
    target_update_interval: int = typer.Option(
        _D.target_update_interval, "--target-interval", help="Updates between hard target copies."
    ),
    tau: float = typer.Option(_D.tau, "--tau", help="Soft target update rate."),
    eps_start: float = typer.Option(_D.eps_start, "--eps-start"),
    eps_end: float = typer.Option(_D.eps_end, "--eps-end"),
    eps_duration: int = typer.Option(_D.eps_duration, "--eps-steps", help="Steps over which epsilon decays."),
    eps_schedule: str = typer.Option(_D.eps_schedule, "--eps-schedule", help="linear or exponential."),
    eval_every: int = typer.Option(_D.eval_every, "--eval-every", help="Steps between greedy evaluations."),
    eval_episodes: int = typer.Option(_D.eval_episodes, "--eval-episodes"),
    solve_threshold: float = typer.Option(
        _D.solve_threshold, "--threshold", help="Mean greedy return that counts as solved."
    ),
    solve_patience: int = typer.Option(
        _D.solve_patience, "--patience", help="Passing evaluations in a row that stop training."
    ),
    checkpoint_every: int = typer.Option(_D.checkpoint_every, "--checkpoint-every", help="Steps between checkpoints."),
    torch_threads: int = typer.Option(
        _D.torch_threads, "--threads", help="torch CPU threads (1 is fastest for small nets)."
    ),
    *,
    common: Common,
) -> None:
    """Train a DQN agent until greedy evaluations pass the threshold several times in a row.

    Ctrl-C saves a checkpoint; `--resume DIR` continues it with the same result as an
    uninterrupted run.
    """
    from neuroplay.rl.dqn import DQN, RUN_FILES

    # 0 turns clipping off; anything else (NaN and negatives too) is the config's to judge
    hidden_sizes, clip = parse_ints(hidden, "--hidden"), None if max_grad_norm == 0 else max_grad_norm
    run_dir, settings, typed = start_run(
        ctx, DQNConfig, out, resume, force, Path("runs") / "dqn", hidden=hidden_sizes, max_grad_norm=clip
    )
    plan_outputs(files=[run_dir / name for name in RUN_FILES], dirs=[run_dir])
    # resumed: the saved settings, but for those typed here that may change (--device: where it runs now)
    with options_named(ctx):
        agent = (
            DQN(DQNConfig(**settings)) if typed is None else DQN.resume(run_dir, **{"device": common.device, **typed})
        )
    if typed is None:  # before the bar: a refusal is one clean line (DQN.resume has checked its own)
        agent.check_memory()
    config = agent.config
    with stop_requests() as stop_requested, make_progress(disable=common.quiet) as progress:
        task = progress.add_task("dqn", total=config.total_steps, status="")

        def report(info: dict) -> None:
            status = (
                f"ep {info['episodes']}  return {_fmt(info['recent_return'])}  "
                f"eval {_fmt(info['eval_mean'])}  ε {info['epsilon']:.3f}  {info['steps_per_second']:.0f} steps/s"
            )
            progress.update(task, completed=info["env_steps"], status=status)

        result = agent.train(run_dir, callback=report, should_stop=stop_requested, resume=resume is not None)

    verdict = "[green]solved[/]" if result.solved else "[yellow]not solved within the budget[/]"
    report = (
        f"{verdict}: {result.env_steps} steps, {result.episodes} episodes, {result.wall_seconds:.1f} s; "
        f"best greedy evaluation {result.best_eval_mean:.1f}\nmodel: {result.model}\n"
        f"plots and metrics: {run_dir / 'learning_curve.png'}, {run_dir / 'metrics.csv'}"
    )
    summary = {
        "solved": result.solved,
        "env_steps": result.env_steps,
        "episodes": result.episodes,
        "updates": result.updates,
        "wall_seconds": round(result.wall_seconds, 3),
        "best_eval_mean": result.best_eval_mean,
        "model": result.model,
        "checkpoint": result.checkpoint,
    }
    finish_training(result, run_dir, "dqn train", f"at {result.env_steps} steps", report, common.json, summary)


def _fmt(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1f}"


@app.command("eval")
@common_options()
def eval_cmd(
    path: Path = typer.Argument(..., help="A model.pt (or the run directory holding it)."),
    episodes: int = typer.Option(100, "--episodes", "-n", help="Greedy episodes to run."),
    *,
    common: Common,
) -> None:
    """Run the greedy policy for N episodes and report the mean and spread of the returns."""
    from neuroplay.rl.dqn import DQN

    in_range("--episodes", episodes, 1, 100_000)
    agent = DQN.load(path, device=common.device)
    returns = agent.evaluate(episodes, common.seed)
    out = {
        "mean_return": float(returns.mean()),
        "std_return": float(returns.std()),
        "min_return": float(returns.min()),
        "max_return": float(returns.max()),
        "episodes": int(episodes),
        "env_id": agent.config.env_id,
        "seed": common.seed,
    }
    if common.json:
        emit_json(out)
    else:
        console().print(
            f"{agent.config.env_id}: mean return {out['mean_return']:.1f} ± {out['std_return']:.1f} "
            f"(min {out['min_return']:.0f}, max {out['max_return']:.0f}) over {episodes} episodes"
        )


@app.command("play")
@common_options()
def play_cmd(
    path: Path = typer.Argument(..., help="A model.pt (or the run directory holding it)."),
    gif: Path = typer.Option(None, "--gif", help="Record one episode to this GIF instead of opening a window."),
    episodes: int = typer.Option(1, "--episodes", "-n", help="Episodes to show in the window."),
    fps: int = FPS,
    frame_skip: int = FRAME_SKIP,
    scale: float = typer.Option(0.5, "--scale", help="GIF size relative to the env's frames."),
    *,
    common: Common,
) -> None:
    """Watch the agent: a window where a display exists, or a GIF with --gif."""
    import numpy as np

    from neuroplay.common.video import check_recording
    from neuroplay.rl.dqn import DQN
    from neuroplay.rl.playback import record_gif, show_window

    check_recording(fps, frame_skip, scale)
    in_range("--episodes", episodes, 1, 1000)
    if gif is not None:
        check_output(gif, [path, path / "model.pt"], suffixes=(".gif",))
    agent = DQN.load(path, device=common.device)
    if gif is None:
        if not has_display():
            raise UserError("no display here to open a window; record a GIF instead with --gif FILE.gif")
        returns = show_window(agent, episodes, common.seed)
        out = {"returns": returns, "mean_return": float(np.mean(returns))}
    else:
        ret, frames = record_gif(agent, gif, common.seed, fps=fps, frame_skip=frame_skip, scale=scale)
        out = {"return": ret, "frames": frames, "gif": str(gif)}
        if not common.json:
            console().print(f"episode return {ret:.0f}; {frames} frames written to {gif}")
    if common.json:
        emit_json(out)
