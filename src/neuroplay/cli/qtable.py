"""``neuroplay qtable``: tabular Q-learning on a grid world, its policy and values as pictures."""

from __future__ import annotations

from pathlib import Path

import typer

from neuroplay.cli._util import Common, common_options, emit_json, options_named, settings_from_params
from neuroplay.common.outputs import plan_outputs
from neuroplay.common.progress import make_progress
from neuroplay.rl.config import QLearningConfig

_D = QLearningConfig()  # the CLI's defaults are the library's defaults

QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar and no pictures in the terminal.")


@common_options(quiet=QUIET)
def qtable(
    ctx: typer.Context,
    map_file: Path | None = typer.Option(
        None, "--map", help="Text map, one row per line: S start, G goal, X pit, # wall, . free. Default: built-in."
    ),
    episodes: int = typer.Option(_D.episodes, "--episodes", help="Training episodes."),
    alpha: float = typer.Option(_D.alpha, "--alpha", help="Learning rate, in (0, 1]."),
    gamma: float = typer.Option(_D.gamma, "--gamma", help="Discount factor, in [0, 1]."),
    eps_start: float = typer.Option(_D.eps_start, "--eps-start", help="Exploration rate ε at the first episode."),
    eps_end: float = typer.Option(_D.eps_end, "--eps-end", help="Final ε."),
    eps_decay_episodes: int = typer.Option(
        _D.eps_decay_episodes, "--eps-decay", help="Episodes over which ε falls linearly to --eps-end."
    ),
    slip: float = typer.Option(_D.slip, "--slip", help="Chance, in [0, 1), that a move goes a random other way."),
    max_steps: int = typer.Option(_D.max_steps, "--max-steps", help="Moves before an episode is cut off."),
    out: Path = typer.Option(Path("runs/qtable"), "--out", help="Folder for the PNGs, qtable.csv and summary.json."),
    *,
    common: Common,
) -> None:
    """Tabular Q-learning on a grid world: learn to reach G, avoid the pits X, pay for each move.

    Writes the value heatmap with the greedy policy, the learning curve, qtable.csv and summary.json.

    --device is accepted for a uniform command line but ignored: a table this small runs on the CPU.
    """
    from neuroplay.rl.gridworld import DEFAULT_MAP, load_map, parse_map
    from neuroplay.rl.qtable_run import RUN_FILES, run_qtable
    from neuroplay.rl.tabular import policy_text, values_text

    grid_map = load_map(map_file) if map_file is not None else parse_map(DEFAULT_MAP)
    with options_named(ctx):
        config = QLearningConfig(**settings_from_params(ctx, QLearningConfig))
    plan_outputs(files=[out / name for name in RUN_FILES.values()], dirs=[out], inputs=[map_file])
    every = max(1, episodes // 100)  # a redraw per episode would cost more than the episode
    with make_progress(transient=True, disable=common.quiet) as progress:
        task = progress.add_task("Q-learning", total=episodes, status="")

        def on_episode(episode: int, ret: float, length: int, eps: float) -> None:
            if (episode + 1) % every == 0 or episode + 1 == episodes:
                progress.update(task, completed=episode + 1, status=f"return {ret:6.2f}  ε {eps:.2f}")

        result, summary = run_qtable(out, config, grid_map, callback=on_episode)

    if common.json:
        emit_json(summary)
        return
    if common.quiet:
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
