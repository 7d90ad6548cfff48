"""Gymnasium registration of neuroplay's own environments, by entry-point string.

Registering by string keeps the parts independent: ``gym.make("neuroplay/FlappyBird-v0")``
imports the evolution package only when that environment is made.
"""

from __future__ import annotations

ENVIRONMENTS = {
    "neuroplay/FlappyBird-v0": "neuroplay.evo.flappy.env:FlappyBirdEnv",
    "neuroplay/GridWorld-v0": "neuroplay.rl.gridworld:GridWorldEnv",
}


def register_all() -> None:
    """Register every neuroplay environment with gymnasium (safe to call repeatedly)."""
    import gymnasium as gym

    for env_id, entry_point in ENVIRONMENTS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point)
