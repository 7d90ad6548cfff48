"""A vectorized Flappy Bird world (NumPy), a gymnasium env and a renderer."""

from neuroplay.evo.flappy.world import PHYS, Course, World

__all__ = ["PHYS", "Course", "World"]
