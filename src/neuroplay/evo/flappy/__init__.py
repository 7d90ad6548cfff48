"""A vectorized Flappy Bird world (NumPy), a gymnasium env and a renderer."""

from neuroplay.evo.flappy.env import ENV_ID, FlappyBirdEnv, register_flappy
from neuroplay.evo.flappy.world import PHYS, Course, World

register_flappy()  # so gym.make("neuroplay/FlappyBird-v0") works once this package is imported

__all__ = ["ENV_ID", "PHYS", "Course", "FlappyBirdEnv", "World", "register_flappy"]
