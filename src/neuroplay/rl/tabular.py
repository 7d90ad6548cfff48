"""Tabular Q-learning on the grid world, plus text and PNG pictures of what it learned.

One table entry per (state, action), updated after every move with
``Q[s,a] += alpha * (r + gamma * max_a' Q[s',a'] * (not terminated) - Q[s,a])``.
A pit or goal ends the episode, so nothing lies beyond it to bootstrap from; running out of
steps (truncation) is not the end of the world, so the update still bootstraps there.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from neuroplay.common.plots import plt, rolling_mean, save_figure
from neuroplay.common.seeding import derive_seed
from neuroplay.rl.config import QLearningConfig
from neuroplay.rl.gridworld import ARROWS, DEFAULT_MAP, N_ACTIONS, GridMap, GridWorldEnv, Pos, parse_map
from neuroplay.rl.schedules import EpsilonSchedule

# (episode index, episode return, episode length, epsilon used) -> None
EpisodeCallback = Callable[[int, float, int, float], None]


@dataclass
class QTableResult:
    """The learned table and the training history; the policy and values derive from ``q``."""

    config: QLearningConfig
    grid_map: GridMap
    q: np.ndarray  # (n_states, 4) float64, rows indexed by row*cols + col
    returns: np.ndarray  # undiscounted return of each training episode
    lengths: np.ndarray  # moves in each training episode

    @property
    def policy(self) -> np.ndarray:
        """Greedy action per state (first best on ties)."""
        return self.q.argmax(axis=1)

    @property
    def values(self) -> np.ndarray:
        """State values ``max_a Q[s, a]`` (goal, pit and wall cells stay at ``q_init``)."""
        return self.q.max(axis=1)

    def greedy_path(self) -> list[Pos]:
        """Cells visited by the greedy policy from S without slipping (see :func:`greedy_rollout`)."""
        return greedy_rollout(self.grid_map, self.q, self.config.max_steps)[0]

    @property
    def success(self) -> bool:
        """Whether the greedy policy reaches a goal, never a pit, within ``max_steps``."""
        return greedy_rollout(self.grid_map, self.q, self.config.max_steps)[1]


def train_qtable(
    config: QLearningConfig, grid_map: GridMap | None = None, callback: EpisodeCallback | None = None
) -> QTableResult:
    """Run Q-learning with ε-greedy exploration on ``grid_map`` (default: the built-in map).

    Deterministic for a given ``config.seed``: one generator drives exploration and random
    tie-breaking, another (derived from the seed) drives the environment's slips.
    """
    grid_map = grid_map if grid_map is not None else parse_map(DEFAULT_MAP)
    env = GridWorldEnv(
        grid_map,
        goal_reward=config.goal_reward,
        pit_reward=config.pit_reward,
        step_cost=config.step_cost,
        slip=config.slip,
        max_steps=config.max_steps,
    )
    rng = np.random.default_rng(config.seed)
    epsilon = EpsilonSchedule(config.eps_start, config.eps_end, config.eps_decay_episodes, "linear")
    q = np.full((grid_map.n_states, N_ACTIONS), float(config.q_init))
    returns = np.zeros(config.episodes)
    lengths = np.zeros(config.episodes, dtype=np.int64)
    alpha, gamma = config.alpha, config.gamma

    for episode in range(config.episodes):
        eps = epsilon(episode)
        state, _ = env.reset(seed=derive_seed(config.seed, 1) if episode == 0 else None)
        total, steps = 0.0, 0
        while True:
            if rng.random() < eps:
                action = int(rng.integers(N_ACTIONS))
            else:
                action = _greedy(q[state], rng)
            next_state, reward, terminated, truncated, _ = env.step(action)
            target = reward if terminated else reward + gamma * q[next_state].max()
            q[state, action] += alpha * (target - q[state, action])
            total += reward
            steps += 1
            state = next_state
            if terminated or truncated:
                break
        returns[episode], lengths[episode] = total, steps
        if callback is not None:
            callback(episode, total, steps, eps)

    return QTableResult(config=config, grid_map=grid_map, q=q, returns=returns, lengths=lengths)


def _greedy(row: np.ndarray, rng: np.random.Generator) -> int:
    """Best action; ties broken at random so an untrained table does not always go UP."""
    best = np.flatnonzero(row == row.max())
    return int(best[0]) if len(best) == 1 else int(rng.choice(best))


def greedy_rollout(grid_map: GridMap, q: np.ndarray, max_steps: int = 100) -> tuple[list[Pos], bool]:
    """Follow ``argmax Q`` from S with the intended (non-slipping) moves.

    Returns the visited cells (start included) and whether a goal was reached within
    ``max_steps`` moves without entering a pit. A policy that loops fails early.
    """
    pos, path, seen = grid_map.start, [grid_map.start], {grid_map.start}
    for _ in range(max_steps):
        pos = grid_map.move(pos, int(q[grid_map.state(pos)].argmax()))
        path.append(pos)
        if grid_map.is_terminal(pos):
            return path, grid_map.cell(pos) == "G"
        if pos in seen:  # deterministic moves: a revisit means an endless loop
            return path, False
        seen.add(pos)
    return path, False


def _untried(q_row: np.ndarray) -> bool:
    return bool(np.all(q_row == q_row[0]))


def policy_text(grid_map: GridMap, q: np.ndarray) -> str:
    """The greedy policy as arrows (``·`` where all actions still tie), walls ``█``, G and X."""
    lines = []
    for r, row in enumerate(grid_map.layout):
        cells = []
        for c, ch in enumerate(row):
            if ch in "GX":
                cells.append(ch)
            elif ch == "#":
                cells.append("█")
            else:
                q_row = q[grid_map.state((r, c))]
                cells.append("·" if _untried(q_row) else ARROWS[int(q_row.argmax())])
        lines.append(" ".join(cells))
    return "\n".join(lines) + "\n"


def values_text(grid_map: GridMap, q: np.ndarray, digits: int = 2) -> str:
    """State values ``max_a Q`` as a grid of numbers (walls ``#``, goal ``G``, pit ``X``)."""
    values = q.max(axis=1)
    width = max(6, max(len(f"{v:.{digits}f}") for v in values))
    lines = []
    for r, row in enumerate(grid_map.layout):
        cells = [
            ch.rjust(width) if ch in "GX#" else f"{values[grid_map.state((r, c))]:{width}.{digits}f}"
            for c, ch in enumerate(row)
        ]
        lines.append(" ".join(cells))
    return "\n".join(lines) + "\n"


def plot_policy_values(path: str | os.PathLike[str], grid_map: GridMap, q: np.ndarray, title: str = "") -> None:
    """One PNG: the value heatmap with the greedy policy's arrows and its path from S on top."""
    rows, cols = grid_map.n_rows, grid_map.n_cols
    layout = np.array([list(line) for line in grid_map.layout])
    values = q.max(axis=1).reshape(rows, cols)
    free = ~np.isin(layout, ["#", "G", "X"])
    heat = np.ma.masked_where(~free, values)
    fig, ax = plt.subplots(figsize=(0.9 * cols + 1.8, 0.9 * rows + 0.9))
    cmap = plt.get_cmap("viridis").with_extremes(bad="#2b2b33")  # walls; goal and pit are painted over
    vmin, vmax = (float(heat.min()), float(heat.max())) if free.any() else (0.0, 1.0)
    image = ax.imshow(heat, cmap=cmap, vmin=vmin, vmax=max(vmax, vmin + 1e-9))
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="state value  max Q(s, a)")
    for (r, c), ch in np.ndenumerate(layout):
        if ch in "GX":
            colour = "#3aa655" if ch == "G" else "#cc3b32"
            ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), 1, 1, color=colour))
            ax.text(c, r, ch, ha="center", va="center", fontsize=14, fontweight="bold", color="white")
        elif free[r, c]:
            q_row = q[grid_map.state((r, c))]
            mid = 0.5 * (vmin + vmax)
            colour = "black" if values[r, c] > mid else "white"
            arrow = "·" if _untried(q_row) else ARROWS[int(q_row.argmax())]
            ax.text(c, r - 0.08, arrow, ha="center", va="center", fontsize=16, color=colour)
            ax.text(c, r + 0.3, f"{values[r, c]:.1f}", ha="center", va="center", fontsize=7, color=colour)
            if ch == "S":
                ax.text(c - 0.42, r - 0.42, "S", ha="left", va="top", fontsize=8, fontweight="bold", color=colour)
    path_cells, success = greedy_rollout(grid_map, q, max_steps=rows * cols)
    ys, xs = zip(*path_cells, strict=True)
    ax.plot(xs, ys, color="#ff8c1a", lw=2.5, alpha=0.65, label="greedy path" + ("" if success else " (fails)"))
    ax.set_xticks(range(cols))
    ax.set_yticks(range(rows))
    ax.set_xticks(np.arange(-0.5, cols), minor=True)
    ax.set_yticks(np.arange(-0.5, rows), minor=True)
    ax.grid(which="minor", color="white", lw=1)
    ax.tick_params(which="both", length=0, labelsize=7)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), fontsize=8, frameon=False)
    ax.set_title(title or "greedy policy over state values")
    save_figure(fig, path)


def plot_returns(path: str | os.PathLike[str], returns: np.ndarray, window: int = 50, title: str = "") -> None:
    """Learning curve: each episode's return and the mean of the last ``window`` episodes."""
    returns = np.asarray(returns, dtype=float)
    x = np.arange(1, len(returns) + 1)
    fig, ax = plt.subplots(figsize=(7.0, 3.8))
    ax.scatter(x, returns, s=4, alpha=0.3, color="tab:blue", label="episode return (ε-greedy)")
    ax.plot(x, rolling_mean(returns, window), color="tab:blue", lw=1.5, label=f"mean of last {window}")
    ax.set_xlabel("episode")
    ax.set_ylabel("return")
    ax.set_title(title or "tabular Q-learning")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    save_figure(fig, path)
