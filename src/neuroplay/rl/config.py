"""The settings of a DQN run (kept free of heavy imports so the CLI can read the defaults)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from neuroplay.common.errors import UserError
from neuroplay.rl.schedules import EpsilonSchedule


@dataclass(frozen=True)
class DQNConfig:
    """Every setting of a DQN run. The defaults solve CartPole-v1 quickly and reliably."""

    env_id: str = "CartPole-v1"
    seed: int = 0
    num_envs: int = 8
    # network
    hidden: tuple[int, ...] = (128, 128)
    dueling: bool = False
    # learning rule
    gamma: float = 0.99
    n_step: int = 3
    double: bool = True
    loss: str = "huber"
    optimizer: str = "adam"
    lr: float = 5e-3
    max_grad_norm: float | None = None
    batch_size: int = 64
    buffer_size: int = 50_000
    learning_starts: int = 1_000
    train_freq: int = 1
    gradient_steps: int = 2
    target_update: str = "soft"
    target_update_interval: int = 250
    tau: float = 0.02
    # exploration
    eps_start: float = 1.0
    eps_end: float = 0.04
    eps_duration: int = 8_000
    eps_schedule: str = "linear"
    # budget, evaluation, stopping
    total_steps: int = 100_000
    eval_every: int = 1_000
    eval_episodes: int = 20
    solve_threshold: float | None = 475.0
    solve_patience: int = 3
    checkpoint_every: int = 10_000
    device: str = "cpu"
    torch_threads: int | None = 1

    def __post_init__(self) -> None:
        def need(cond: bool, msg: str) -> None:
            if not cond:
                raise UserError(msg)

        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        need(len(self.hidden) >= 1 and all(h >= 1 for h in self.hidden), "hidden sizes must be positive integers")
        need(self.num_envs >= 1, "num_envs must be >= 1")
        need(0.0 < self.gamma <= 1.0, "gamma must be in (0, 1]")
        need(self.n_step >= 1, "n_step must be >= 1")
        need(self.loss in ("huber", "mse"), f"loss must be huber or mse, not {self.loss!r}")
        need(self.optimizer in ("adam", "sgd"), f"optimizer must be adam or sgd, not {self.optimizer!r}")
        need(self.lr > 0 and math.isfinite(self.lr), "lr must be a positive number")
        need(self.max_grad_norm is None or self.max_grad_norm > 0, "max_grad_norm must be > 0")
        need(self.batch_size >= 1, "batch_size must be >= 1")
        need(self.buffer_size >= self.batch_size, "buffer_size must be >= batch_size")
        need(self.learning_starts >= 0, "learning_starts must be >= 0")
        need(self.train_freq >= 1 and self.gradient_steps >= 0, "train_freq must be >= 1, gradient_steps >= 0")
        need(self.target_update in ("hard", "soft"), "target_update must be hard or soft")
        need(self.target_update_interval >= 1, "target_update_interval must be >= 1")
        need(0.0 < self.tau <= 1.0, "tau must be in (0, 1]")
        try:
            EpsilonSchedule(self.eps_start, self.eps_end, self.eps_duration, self.eps_schedule)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        need(self.total_steps >= 1, "total_steps must be >= 1")
        need(self.eval_every >= 1, "eval_every must be >= 1")
        need(self.eval_episodes >= 1, "eval_episodes must be >= 1")
        need(self.solve_patience >= 1, "solve_patience must be >= 1")
        need(self.checkpoint_every >= 1, "checkpoint_every must be >= 1")
        need(self.device in ("auto", "cpu", "cuda"), "device must be auto, cpu or cuda")
        need(self.torch_threads is None or self.torch_threads >= 1, "torch_threads must be >= 1")

    @property
    def epsilon(self) -> EpsilonSchedule:
        return EpsilonSchedule(self.eps_start, self.eps_end, self.eps_duration, self.eps_schedule)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DQNConfig:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise UserError(f"unknown DQN settings: {', '.join(sorted(unknown))}")
        return cls(**{**d, "hidden": tuple(d.get("hidden", cls.hidden))})
