"""Exploration schedules: epsilon as a function of the environment step."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class EpsilonSchedule:
    """Decays from ``start`` to ``end`` over ``duration`` steps, then stays at ``end``.

    ``kind="linear"`` interpolates linearly; ``kind="exponential"`` decays geometrically so
    that it reaches ``end`` exactly at ``duration``.
    """

    start: float = 1.0
    end: float = 0.05
    duration: int = 10_000
    kind: str = "linear"

    def __post_init__(self) -> None:
        if not (0.0 <= self.end <= 1.0 and 0.0 <= self.start <= 1.0):
            raise ValueError("epsilon values must lie in [0, 1]")
        if self.duration < 0:
            raise ValueError("epsilon duration must be >= 0")
        if self.kind not in ("linear", "exponential"):
            raise ValueError(f"unknown epsilon schedule {self.kind!r} (linear, exponential)")
        if self.kind == "exponential" and (self.start <= 0 or self.end <= 0):
            raise ValueError("exponential epsilon schedule needs start and end > 0")

    def __call__(self, step: int) -> float:
        if self.duration == 0 or step >= self.duration:
            return self.end
        frac = max(step, 0) / self.duration
        if self.kind == "linear":
            return self.start + frac * (self.end - self.start)
        return self.start * math.exp(frac * math.log(self.end / self.start))
