"""Flappy Bird as a gymnasium environment: one bird, one course per episode.

Registered as ``neuroplay/FlappyBird-v0`` by :func:`register_flappy`, so any gymnasium
agent (the DQN of :mod:`neuroplay.rl` included) can train on the same world the evolved
populations fly in.

Observations (all bounded; the Box bounds follow from :class:`Physics`):

- ``obs_mode="simple"`` (3 values, the inputs of the evolved networks, :meth:`World.observe`):
  bird height/512 − 0.5, distance to the next pipe/450 − 0.5, next gap centre/512 − 0.5;
- ``obs_mode="rich"`` (7 values) adds: vertical speed/10 (positive = falling), the distance
  to the pipe after next/450 − 0.5, that pipe's gap centre/512 − 0.5, and
  (next gap centre − bird centre)/512 (positive = the gap is below the bird).

Rewards: ``reward_alive`` (0.1) per frame survived, ``reward_pipe`` (1.0) per pipe passed,
``reward_death`` (−1.0) on the frame the bird dies (instead of the alive reward). The
episode terminates on death and is truncated after ``max_steps`` frames (None: never).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from neuroplay.common.errors import UserError
from neuroplay.evo.flappy.world import PHYS, Course, Physics, World

ENV_ID = "neuroplay/FlappyBird-v0"
OBS_MODES = ("simple", "rich")


def register_flappy() -> None:
    """Register ``neuroplay/FlappyBird-v0`` with gymnasium (safe to call more than once)."""
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point="neuroplay.evo.flappy.env:FlappyBirdEnv", max_episode_steps=None)


def _height(y: float) -> float:
    return y / 512.0 - 0.5


def _distance(dx: float) -> float:
    return dx / 450.0 - 0.5


def observation_bounds(obs_mode: str = "simple", phys: Physics = PHYS) -> tuple[np.ndarray, np.ndarray]:
    """``(low, high)`` that contain every observation the world can produce."""
    # highest point: a flap just below the ceiling, then the climb until gravity stops it
    climb, v = 0.0, phys.flap_speed
    while v < 0:
        climb += v
        v += phys.gravity
    y_lo, y_hi = phys.ceiling + climb, phys.ground_y - phys.bird_h
    # the next pipe stays "next" until its right edge passes the bird's left edge; the farthest
    # one is the first pipe at frame 0 or a pipe a full spacing behind one just passed
    spacing_lo, spacing_hi = phys.spacing_min * phys.pipe_speed, phys.spacing_max * phys.pipe_speed
    dx_lo = -phys.pipe_w
    dx_hi = max(phys.first_pipe_x - phys.bird_x, spacing_hi - phys.pipe_w)
    gc_lo, gc_hi = phys.gap_top_min + phys.gap / 2, phys.gap_top_max + phys.gap / 2
    low = [_height(y_lo), _distance(dx_lo), _height(gc_lo)]
    high = [_height(y_hi), _distance(dx_hi), _height(gc_hi)]
    if obs_mode == "rich":
        bird_mid_lo, bird_mid_hi = y_lo + phys.bird_h / 2, y_hi + phys.bird_h / 2
        low += [phys.flap_speed / 10, _distance(dx_lo + spacing_lo), _height(gc_lo), (gc_lo - bird_mid_hi) / 512]
        high += [phys.max_fall / 10, _distance(dx_hi + spacing_hi), _height(gc_hi), (gc_hi - bird_mid_lo) / 512]
    return np.array(low, dtype=np.float32), np.array(high, dtype=np.float32)


class FlappyBirdEnv(gym.Env):
    """One bird on a fresh :class:`Course` each episode. Actions: 0 = glide, 1 = flap.

    ``reset(seed=s)`` flies course ``s`` (the same course ``World(n, s)`` and the evolution
    use); ``reset()`` draws the course seed from the env's ``np_random``. ``info`` holds
    ``pipes`` (passed so far) and ``frame``.
    """

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": 30}

    def __init__(
        self,
        render_mode: str | None = None,
        obs_mode: str = "simple",
        max_steps: int | None = 10_000,
        reward_alive: float = 0.1,
        reward_pipe: float = 1.0,
        reward_death: float = -1.0,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise UserError(f"render_mode must be one of {self.metadata['render_modes']}, not {render_mode!r}")
        if obs_mode not in OBS_MODES:
            raise UserError(f"obs_mode must be simple or rich, not {obs_mode!r}")
        if max_steps is not None and max_steps < 1:
            raise UserError("max_steps must be >= 1 (or None for endless episodes)")
        self.render_mode = render_mode
        self.obs_mode = obs_mode
        self.max_steps = max_steps
        self.reward_alive, self.reward_pipe, self.reward_death = reward_alive, reward_pipe, reward_death
        low, high = observation_bounds(obs_mode)
        self.observation_space = gym.spaces.Box(low, high, dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self._window = None
        self._new_world(0)

    # The world object is invisible to rl.envs.snapshot_env, which saves plain attributes only.
    # So the bird's whole state is also kept as one plain tuple (`_state`); when a checkpoint
    # restore replaces that tuple, the world is rebuilt from it before the next step.
    def _new_world(self, course_seed: int) -> None:
        self._world = World(1, Course(course_seed), compact=False)
        self._state = self._pack()

    def _pack(self) -> tuple:
        w = self._world
        return (
            w.course.seed,
            float(w.y[0]),
            float(w.vy[0]),
            int(w.alive[0]),
            int(w.died_at[0]),
            int(w.pipes[0]),
            int(w.next_k[0]),
            int(w.score_k[0]),
            w.frame,
        )

    def _sync(self) -> None:
        if self._state == self._pack():
            return
        seed, y, vy, alive, died_at, pipes, next_k, score_k, frame = self._state
        w = self._world = World(1, Course(seed), compact=False)
        w.y[0], w.vy[0], w.alive[0], w.died_at[0], w.pipes[0] = y, vy, bool(alive), died_at, pipes
        w.next_k[0], w.score_k[0], w.frame, w.n_alive = next_k, score_k, frame, int(alive)

    # --- gymnasium API ------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        course_seed = seed if seed is not None else int(self.np_random.integers(2**31))
        self._new_world(course_seed)
        if self.render_mode == "human":
            self.render()
        return self._observe(), self._info()

    def step(self, action):
        self._sync()
        w = self._world
        if not w.alive[0]:  # stepping after the end: nothing moves any more
            return self._observe(), 0.0, True, False, self._info()
        pipes_before = int(w.pipes[0])
        w.step(np.array([int(action) == 1]))
        self._state = self._pack()
        terminated = not w.alive[0]
        if terminated:
            reward = self.reward_death
        else:
            reward = self.reward_alive + self.reward_pipe * (int(w.pipes[0]) - pipes_before)
        truncated = not terminated and self.max_steps is not None and w.frame >= self.max_steps
        if self.render_mode == "human":
            self.render()
        return self._observe(), float(reward), terminated, truncated, self._info()

    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array' or 'human'")
            return None
        from neuroplay.evo.flappy.render import Window, draw_frame

        self._sync()
        frame = draw_frame(self._world, show=np.ones(1, dtype=bool))
        if self.render_mode == "rgb_array":
            return frame
        if self._window is None:
            self._window = Window(frame.shape[1], frame.shape[0], "neuroplay: Flappy Bird", self.metadata["render_fps"])
        self._window.show(frame)
        self._window.events()  # keep the window responsive
        return None

    def close(self) -> None:
        if self._window is not None:
            self._window.close()
            self._window = None

    # --- observations ---------------------------------------------------------------------------

    def _info(self) -> dict[str, int]:
        return {"pipes": int(self._world.pipes[0]), "frame": int(self._world.frame)}

    def _observe(self) -> np.ndarray:
        w, p = self._world, self._world.phys
        obs = w.observe()[0]
        if self.obs_mode == "rich":
            x2, gap2 = w.course.pipe(int(w.next_k[0]) + 1)
            x2 -= p.pipe_speed * w.frame
            gap_mid = w.next_pipe_state()[1][0] + p.gap / 2
            extra = [
                w.vy[0] / 10.0,
                _distance(x2 - p.bird_x),
                _height(gap2 + p.gap / 2),
                (gap_mid - (w.y[0] + p.bird_h / 2)) / 512.0,
            ]
            obs = np.concatenate([obs, extra])
        return obs.astype(np.float32)
