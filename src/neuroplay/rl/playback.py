"""Watching an agent: a live window (gymnasium's ``human`` render mode) or a GIF."""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np

from neuroplay.common.errors import UserError
from neuroplay.common.video import video_suffix, write_video


def _make(env_id: str, render_mode: str) -> gym.Env:
    if render_mode == "rgb_array":
        # off-screen drawing: keep SDL from looking for a display or sound card
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    try:
        return gym.make(env_id, render_mode=render_mode)
    except gym.error.DependencyNotInstalled as exc:
        raise UserError(f"rendering {env_id} needs an extra package: {exc}") from None


def run_episode(agent, env: gym.Env, seed: int, on_frame=None) -> float:
    obs, _ = env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        if on_frame is not None:
            on_frame(env.render())
        obs, reward, terminated, truncated, _ = env.step(agent.act(obs))
        total += float(reward)
        done = terminated or truncated
    if on_frame is not None:
        on_frame(env.render())
    return total


def show_window(agent, episodes: int, seed: int) -> list[float]:
    """Play ``episodes`` greedy episodes in a window; returns their returns."""
    env = _make(agent.config.env_id, "human")
    try:
        return [run_episode(agent, env, seed + i) for i in range(episodes)]
    finally:
        env.close()


def downscale(frame: np.ndarray, scale: float) -> np.ndarray:
    from PIL import Image

    if scale == 1.0:
        return frame
    h, w = frame.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.BILINEAR))


def record_gif(agent, path: str | os.PathLike[str], seed: int, fps: int = 30, frame_skip: int = 2, scale: float = 0.5):
    """Record one greedy episode to a GIF (or an MP4, by ``path``'s suffix); returns ``(return, frames written)``."""
    video_suffix(path)  # a bad name fails before the episode is played
    env = _make(agent.config.env_id, "rgb_array")
    frames: list[np.ndarray] = []
    count = [0]

    def keep(frame):
        if frame is not None and count[0] % frame_skip == 0:
            frames.append(downscale(np.asarray(frame), scale))
        count[0] += 1

    try:
        total = run_episode(agent, env, seed, keep)
    finally:
        env.close()
    write_video(path, frames, fps)
    return total, len(frames)
