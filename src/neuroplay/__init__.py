"""neuroplay: four classic deep-learning experiments, real, fast and reproducible on a laptop."""

__version__ = "0.1.0"
