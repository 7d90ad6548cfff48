"""``neuroplay qtable``: tabular Q-learning on a grid world, its policy and values as pictures."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
from pathlib import Path

import typer

from neuroplay.cli._util import DEVICE, JSON, SEED, check_device, emit_json
from neuroplay.common.io import write_text
from neuroplay.common.progress import make_progress
from neuroplay.rl.gridworld import ACTION_NAMES, DEFAULT_MAP, GridMap, load_map, parse_map
from neuroplay.rl.tabular import (
    EpisodeCallback,
    QLearningConfig,
    QTableResult,
    plot_policy_values,
    plot_returns,
    policy_text,
    train_qtable,
    values_text,
)

RETURN_WINDOW = 50


def run_qtable(
    out_dir: Path,
    seed: int = 0,
    episodes: int = 500,
    *,
    config: QLearningConfig | None = None,
    grid_map: GridMap | None = None,
    callback: EpisodeCallback | None = None,
) -> dict:
    """Train on ``grid_map`` (default: built-in), write the run to ``out_dir``, return its summary.

    ``config`` supplies every hyper-parameter except ``seed`` and ``episodes``. The summary
    holds the numbers and file paths that ``summary.json`` records (see :func:`save_run`).
    """
    config = dataclasses.replace(config or QLearningConfig(), seed=seed, episodes=episodes)
    started = time.perf_counter()
    result = train_qtable(config, grid_map, callback=callback)
    return save_run(out_dir, result, train_seconds=time.perf_counter() - started)


def save_run(out_dir: Path, result: QTableResult, train_seconds: float | None = None) -> dict:
    """Write ``policy_values.png``, ``returns.png``, ``qtable.csv`` and ``summary.json``; return the summary."""
    out_dir = Path(out_dir)
    config, grid_map = result.config, result.grid_map
    files = {
        "policy_png": out_dir / "policy_values.png",
        "returns_png": out_dir / "returns.png",
        "qtable_csv": out_dir / "qtable.csv",
        "summary_json": out_dir / "summary.json",
    }
    path = result.greedy_path()
    title = f"Q-learning, {config.episodes} episodes, seed {config.seed}" + (
        f", slip {config.slip:g}" if config.slip else ""
    )
    plot_policy_values(files["policy_png"], grid_map, result.q, title=title)
    plot_returns(files["returns_png"], result.returns, window=RETURN_WINDOW, title=title)
    write_text(files["qtable_csv"], _qtable_csv(result))
    summary = {
        "episodes": config.episodes,
        "seed": config.seed,
        "success": result.success,
        "greedy_path_length": len(path) - 1,
        "greedy_path": [list(p) for p in path],
        "mean_return_last_50": float(result.returns[-RETURN_WINDOW:].mean()),
        "mean_length_last_50": float(result.lengths[-RETURN_WINDOW:].mean()),
        "start_value": float(result.values[grid_map.state(grid_map.start)]),
        "train_seconds": None if train_seconds is None else round(train_seconds, 4),
        "out": str(out_dir),
        **{key: str(value) for key, value in files.items()},
        "config": dataclasses.asdict(config),
        "map": list(grid_map.layout),
    }
    write_text(files["summary_json"], json.dumps(summary, indent=2) + "\n")
    return summary


def _qtable_csv(result: QTableResult) -> str:
    """One row per state: where it is, what the cell holds, and Q for each action."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["state", "row", "col", "cell", *ACTION_NAMES])
    grid = result.grid_map
    for state in range(grid.n_states):
        pos = grid.pos(state)
        writer.writerow([state, *pos, grid.cell(pos), *(repr(float(v)) for v in result.q[state])])
    return buf.getvalue()


MAP = typer.Option(
    None, "--map", help="Text map, one row per line: S start, G goal, X pit, # wall, . free. Default: built-in."
)
EPISODES = typer.Option(500, "--episodes", help="Training episodes.")
ALPHA = typer.Option(0.5, "--alpha", help="Learning rate, in (0, 1].")
GAMMA = typer.Option(0.95, "--gamma", help="Discount factor, in [0, 1].")
EPS_START = typer.Option(1.0, "--eps-start", help="Exploration rate ε at the first episode.")
EPS_END = typer.Option(0.05, "--eps-end", help="Final ε.")
EPS_DECAY = typer.Option(300, "--eps-decay", help="Episodes over which ε falls linearly to --eps-end.")
SLIP = typer.Option(0.0, "--slip", help="Chance, in [0, 1), that a move goes a random other way.")
MAX_STEPS = typer.Option(100, "--max-steps", help="Moves before an episode is cut off.")
OUT = typer.Option(Path("runs/qtable"), "--out", help="Folder for the PNGs, qtable.csv and summary.json.")
QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar and no pictures in the terminal.")


def qtable(
    map_file: Path | None = MAP,
    episodes: int = EPISODES,
    alpha: float = ALPHA,
    gamma: float = GAMMA,
    eps_start: float = EPS_START,
    eps_end: float = EPS_END,
    eps_decay: int = EPS_DECAY,
    slip: float = SLIP,
    max_steps: int = MAX_STEPS,
    out: Path = OUT,
    seed: int = SEED,
    device: str = DEVICE,
    json_out: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Tabular Q-learning on a grid world: learn to reach G, avoid the pits X, pay for each move.

    Writes the value heatmap with the greedy policy, the learning curve, qtable.csv and summary.json.

    --device is accepted for a uniform command line but ignored: a table this small runs on the CPU.
    """
    check_device(device)
    grid_map = load_map(map_file) if map_file is not None else parse_map(DEFAULT_MAP)
    config = QLearningConfig(
        episodes=episodes,
        alpha=alpha,
        gamma=gamma,
        eps_start=eps_start,
        eps_end=eps_end,
        eps_decay_episodes=eps_decay,
        seed=seed,
        max_steps=max_steps,
        slip=slip,
    )
    every = max(1, episodes // 100)  # a redraw per episode would cost more than the episode
    with make_progress(transient=True, disable=quiet) as progress:
        task = progress.add_task("Q-learning", total=episodes, status="")

        def on_episode(episode: int, ret: float, length: int, eps: float) -> None:
            if (episode + 1) % every == 0 or episode + 1 == episodes:
                progress.update(task, completed=episode + 1, status=f"return {ret:6.2f}  ε {eps:.2f}")

        started = time.perf_counter()
        result = train_qtable(config, grid_map, callback=on_episode)
        seconds = time.perf_counter() - started
    summary = save_run(out, result, train_seconds=seconds)

    if json_out:
        emit_json(summary)
        return
    if quiet:
        return
    verdict = (
        f"reaches G in {summary['greedy_path_length']} moves"
        if summary["success"]
        else "does not reach G (train longer or explore more)"
    )
    typer.echo("greedy policy:")
    typer.echo(policy_text(grid_map, result.q))
    typer.echo("state values (max Q):")
    typer.echo(values_text(grid_map, result.q))
    typer.echo(f"the greedy policy {verdict}; mean return of the last 50 episodes {summary['mean_return_last_50']:.2f}")
    typer.echo(
        f"wrote {summary['policy_png']}, {summary['returns_png']}, {summary['qtable_csv']}, {summary['summary_json']}"
    )
