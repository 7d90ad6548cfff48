"""A small grid world, the classic first environment for tabular Q-learning.

The map is text, one row per line: ``S`` start, ``G`` goal (reward, episode ends), ``X`` pit
(penalty, episode ends), ``#`` wall, ``.`` free. Actions are 0=UP, 1=RIGHT, 2=DOWN, 3=LEFT;
walls and the grid's edge block a move (the agent stays put and still pays the move cost).
"""

from __future__ import annotations

import math
import os
import textwrap
from collections import deque
from dataclasses import dataclass
from typing import ClassVar

import gymnasium
import numpy as np
from gymnasium import spaces

from neuroplay.common.errors import UserError
from neuroplay.common.io import input_file

ENV_ID = "neuroplay/GridWorld-v0"
UP, RIGHT, DOWN, LEFT = range(4)
N_ACTIONS = 4
ACTION_NAMES = ("up", "right", "down", "left")
ARROWS = "↑→↓←"
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # (d_row, d_col) per action
CELL_CHARS = "SGX#."
MAX_SIZE = 50
_MAX_FILE_BYTES = 64 * 1024

# The straight line from S to G runs over a bridge of pits. The shortest safe path (8 moves)
# hugs the pits along the row below; the top route is two moves longer but walled off from
# them. Value iteration picks the edge when moves are exact and the top route once moves slip
# (slip >= 0.1); Q-learning with little exploration often settles for the top route anyway,
# because ε-greedy wandering beside the pits is costly while it learns.
DEFAULT_MAP = """\
.......
.##.##.
S.XXX.G
.......
.#...#.
"""

Pos = tuple[int, int]


@dataclass(frozen=True)
class GridMap:
    """A validated map (build it with :func:`parse_map`); positions are 0-based ``(row, col)``."""

    layout: tuple[str, ...]
    start: Pos

    @property
    def n_rows(self) -> int:
        return len(self.layout)

    @property
    def n_cols(self) -> int:
        return len(self.layout[0])

    @property
    def n_states(self) -> int:
        return self.n_rows * self.n_cols

    @property
    def text(self) -> str:
        return "\n".join(self.layout) + "\n"

    def cell(self, pos: Pos) -> str:
        return self.layout[pos[0]][pos[1]]

    def state(self, pos: Pos) -> int:
        return pos[0] * self.n_cols + pos[1]

    def pos(self, state: int) -> Pos:
        return divmod(int(state), self.n_cols)

    def is_terminal(self, pos: Pos) -> bool:
        return self.cell(pos) in "GX"

    def move(self, pos: Pos, action: int) -> Pos:
        """Where ``action`` leads from ``pos`` without slipping (edges and walls block)."""
        dr, dc = MOVES[action]
        r, c = pos[0] + dr, pos[1] + dc
        if 0 <= r < self.n_rows and 0 <= c < self.n_cols and self.layout[r][c] != "#":
            return r, c
        return pos


def parse_map(text: str) -> GridMap:
    """Parse and validate a text map; every problem is a :class:`UserError` naming its place."""
    lines = [line.rstrip() for line in textwrap.dedent(text).splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise UserError("map is empty")
    if len(lines) > MAX_SIZE or max(len(line) for line in lines) > MAX_SIZE:
        width = max(len(line) for line in lines)
        raise UserError(f"map is {len(lines)}x{width} cells; at most {MAX_SIZE}x{MAX_SIZE} is allowed")
    width = len(lines[0])
    starts: list[Pos] = []
    for r, line in enumerate(lines):
        if len(line) != width:
            raise UserError(
                f"map line {r + 1} has {len(line)} cells but line 1 has {width}; every row must have the same length"
            )
        for c, ch in enumerate(line):
            if ch not in CELL_CHARS:
                raise UserError(
                    f"map line {r + 1}, column {c + 1}: unknown character {ch!r} "
                    "(use S start, G goal, X pit, # wall, . free)"
                )
            if ch == "S":
                starts.append((r, c))
    if len(starts) != 1:
        where = ", ".join(f"line {r + 1} column {c + 1}" for r, c in starts)
        raise UserError(f"map needs exactly one start 'S', found {len(starts)}" + (f" ({where})" if where else ""))
    grid = GridMap(layout=tuple(lines), start=starts[0])
    if not any("G" in line for line in lines):
        raise UserError("map has no goal 'G'")
    if not _goal_reachable(grid):
        raise UserError("no goal 'G' can be reached from the start 'S' without crossing a wall or a pit 'X'")
    return grid


def _goal_reachable(grid: GridMap) -> bool:
    seen, todo = {grid.start}, deque([grid.start])
    while todo:
        pos = todo.popleft()
        if grid.cell(pos) == "G":
            return True
        if grid.cell(pos) == "X":
            continue
        for action in range(N_ACTIONS):
            nxt = grid.move(pos, action)
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def load_map(path: str | os.PathLike[str]) -> GridMap:
    """Read and parse a text map file (missing, unreadable or binary files raise :class:`UserError`)."""
    path = input_file(path, "a text map file", "map file")
    try:
        if path.stat().st_size > _MAX_FILE_BYTES:
            raise UserError(f"{path} is too large for a map (at most {MAX_SIZE}x{MAX_SIZE} cells)")
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a text file") from None
    except OSError as exc:
        raise UserError(f"cannot read map file {path}: {exc.strerror or exc}") from None
    try:
        return parse_map(text)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None


# Cell colours for ``rgb_array`` rendering.
_COLOURS = {
    ".": (236, 236, 236),
    "S": (170, 200, 240),
    "G": (80, 185, 95),
    "X": (205, 65, 55),
    "#": (55, 55, 65),
}
_AGENT = (35, 60, 190)
_CELL_PX = 24


class GridWorldEnv(gymnasium.Env):
    """Grid world with a ``Discrete(rows*cols)`` observation (``row*cols + col``) and 4 actions.

    Actions: 0=UP, 1=RIGHT, 2=DOWN, 3=LEFT. A normal move earns ``step_cost``; entering a goal
    earns ``goal_reward`` and entering a pit ``pit_reward`` (instead of the step cost), and both
    end the episode (``terminated``). With probability ``slip`` a random *other* action is taken
    (drawn from the env's ``np_random``). After ``max_steps`` moves ``truncated`` is set.
    ``info`` holds ``{"pos": (row, col)}`` (and ``"slipped"`` after a step).
    """

    metadata: ClassVar[dict] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        grid_map: GridMap | str | None = None,
        *,
        goal_reward: float = 10.0,
        pit_reward: float = -10.0,
        step_cost: float = -0.1,
        slip: float = 0.0,
        max_steps: int = 100,
        render_mode: str | None = None,
    ) -> None:
        if grid_map is None:
            grid_map = DEFAULT_MAP
        self.grid = parse_map(grid_map) if isinstance(grid_map, str) else grid_map
        if not all(math.isfinite(v) for v in (goal_reward, pit_reward, step_cost)):
            raise UserError("grid world rewards must be finite numbers")
        if not 0.0 <= slip < 1.0:
            raise UserError(f"slip must be in [0, 1), got {slip}")
        if max_steps < 1:
            raise UserError(f"max_steps must be >= 1, got {max_steps}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise UserError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.goal_reward, self.pit_reward, self.step_cost = float(goal_reward), float(pit_reward), float(step_cost)
        self.slip, self.max_steps, self.render_mode = float(slip), int(max_steps), render_mode
        self.observation_space = spaces.Discrete(self.grid.n_states)
        self.action_space = spaces.Discrete(N_ACTIONS)
        self._pos: Pos = self.grid.start
        self._steps = 0
        self._done = True

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[int, dict]:
        super().reset(seed=seed)
        self._pos, self._steps, self._done = self.grid.start, 0, False
        return self.grid.state(self._pos), {"pos": self._pos}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict]:
        if self._done:
            raise RuntimeError("episode has ended; call reset() first")
        action = int(action)
        if not 0 <= action < N_ACTIONS:
            raise ValueError(f"action must be 0..3, got {action}")
        slipped = self.slip > 0.0 and self.np_random.random() < self.slip
        if slipped:
            action = (action + int(self.np_random.integers(1, N_ACTIONS))) % N_ACTIONS
        self._pos = self.grid.move(self._pos, action)
        self._steps += 1
        cell = self.grid.cell(self._pos)
        reward = self.goal_reward if cell == "G" else self.pit_reward if cell == "X" else self.step_cost
        terminated = cell in "GX"
        truncated = not terminated and self._steps >= self.max_steps
        self._done = terminated or truncated
        return self.grid.state(self._pos), reward, terminated, truncated, {"pos": self._pos, "slipped": slipped}

    def render(self) -> str | np.ndarray | None:
        if self.render_mode == "ansi":
            rows = [list(line) for line in self.grid.layout]
            rows[self._pos[0]][self._pos[1]] = "@"
            return "\n".join("".join(row) for row in rows) + "\n"
        if self.render_mode == "rgb_array":
            return render_rgb(self.grid, self._pos)
        return None


def render_rgb(grid: GridMap, agent: Pos | None = None, cell_px: int = _CELL_PX) -> np.ndarray:
    """An ``(rows*px, cols*px, 3)`` uint8 picture of the map, the agent drawn as a disc."""
    lut = np.array([_COLOURS[ch] for ch in CELL_CHARS], dtype=np.uint8)
    codes = np.array([[CELL_CHARS.index(ch) for ch in line] for line in grid.layout])
    img = lut[codes].repeat(cell_px, axis=0).repeat(cell_px, axis=1)
    img[::cell_px, :] = img[:, ::cell_px] = (200, 200, 200)  # thin grid lines
    if agent is not None:
        yy, xx = np.mgrid[0:cell_px, 0:cell_px]
        half = (cell_px - 1) / 2
        disc = (yy - half) ** 2 + (xx - half) ** 2 <= (cell_px * 0.32) ** 2
        r0, c0 = agent[0] * cell_px, agent[1] * cell_px
        img[r0 : r0 + cell_px, c0 : c0 + cell_px][disc] = _AGENT
    return img


def register_gridworld() -> None:
    """Register :class:`GridWorldEnv` as ``neuroplay/GridWorld-v0`` (safe to call repeatedly)."""
    if ENV_ID not in gymnasium.registry:
        gymnasium.register(id=ENV_ID, entry_point="neuroplay.rl.gridworld:GridWorldEnv")
