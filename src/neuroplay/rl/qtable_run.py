"""A grid-world Q-learning run as a folder: the pictures, the table as CSV and ``summary.json``.

What ``neuroplay qtable`` and ``neuroplay demo`` write, so both (and any other front end) agree.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import time
from pathlib import Path

from neuroplay.common.io import write_json, write_text
from neuroplay.rl.config import QLearningConfig
from neuroplay.rl.gridworld import ACTION_NAMES, GridMap
from neuroplay.rl.tabular import EpisodeCallback, QTableResult, plot_policy_values, plot_returns, train_qtable

RUN_FILES = {  # what a run writes in its folder, by the summary's key
    "policy_png": "policy_values.png",
    "returns_png": "returns.png",
    "qtable_csv": "qtable.csv",
    "summary_json": "summary.json",
}
RETURN_WINDOW = 50  # episodes in the learning curve's running mean and the summary's "last 50" numbers


def run_qtable(
    out_dir: str | os.PathLike[str],
    config: QLearningConfig | None = None,
    grid_map: GridMap | None = None,
    callback: EpisodeCallback | None = None,
) -> tuple[QTableResult, dict]:
    """Train (see :func:`~neuroplay.rl.tabular.train_qtable`; default map and settings when not
    given) and write the run to ``out_dir`` (see :func:`save_run`). Returns the result and its summary."""
    started = time.perf_counter()
    result = train_qtable(config or QLearningConfig(), grid_map, callback=callback)
    seconds = time.perf_counter() - started
    return result, save_run(out_dir, result, train_seconds=seconds)


def save_run(out_dir: str | os.PathLike[str], result: QTableResult, train_seconds: float | None = None) -> dict:
    """Write ``policy_values.png``, ``returns.png``, ``qtable.csv`` and ``summary.json``; return the summary
    (the numbers, the file paths, the settings and the map)."""
    out_dir = Path(out_dir)
    config, grid_map = result.config, result.grid_map
    files = {key: out_dir / name for key, name in RUN_FILES.items()}
    path = result.greedy_path()
    title = f"Q-learning, {config.episodes} episodes, seed {config.seed}" + (
        f", slip {config.slip:g}" if config.slip else ""
    )
    plot_policy_values(files["policy_png"], grid_map, result.q, title=title)
    plot_returns(files["returns_png"], result.returns, window=RETURN_WINDOW, title=title)
    write_text(files["qtable_csv"], qtable_csv(result))
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
    write_json(files["summary_json"], summary)
    return summary


def qtable_csv(result: QTableResult) -> str:
    """The table as CSV text, one row per state: where it is, what the cell holds, Q for each action."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["state", "row", "col", "cell", *ACTION_NAMES])
    grid = result.grid_map
    for state in range(grid.n_states):
        pos = grid.pos(state)
        writer.writerow([state, *pos, grid.cell(pos), *(repr(float(v)) for v in result.q[state])])
    return buf.getvalue()
