"""The settings of the RL runs: DQN and tabular Q-learning (no heavy imports, so the CLI can read the defaults)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from neuroplay.common.errors import UserError, check
from neuroplay.common.settings import RunSettings
from neuroplay.rl.schedules import EpsilonSchedule


@dataclass(frozen=True)
class DQNConfig(RunSettings):
    """Every setting of a DQN run. The defaults solve CartPole-v1 quickly and reliably."""

    # (class attributes, not fields) what a resumed run may change: where it runs, for how long,
    # how often it evaluates and checkpoints; everything else defines the experiment
    RESUMABLE = frozenset({"total_steps", "eval_every", "eval_episodes", "checkpoint_every", "device", "torch_threads"})
    WHAT = "DQN"

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
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        check(len(self.hidden) >= 1 and all(h >= 1 for h in self.hidden), "hidden sizes must be positive integers")
        check(self.num_envs >= 1, "num_envs must be >= 1")
        check(0.0 < self.gamma <= 1.0, "gamma must be in (0, 1]")
        check(self.n_step >= 1, "n_step must be >= 1")
        check(self.loss in ("huber", "mse"), f"loss must be huber or mse, not {self.loss!r}")
        check(self.optimizer in ("adam", "sgd"), f"optimizer must be adam or sgd, not {self.optimizer!r}")
        check(self.lr > 0 and math.isfinite(self.lr), "lr must be a positive number")
        check(self.max_grad_norm is None or self.max_grad_norm > 0, "max_grad_norm must be > 0")
        check(self.batch_size >= 1, "batch_size must be >= 1")
        check(self.buffer_size >= self.batch_size, "buffer_size must be >= batch_size")
        check(self.learning_starts >= 0, "learning_starts must be >= 0")
        check(self.train_freq >= 1 and self.gradient_steps >= 0, "train_freq must be >= 1, gradient_steps >= 0")
        check(self.target_update in ("hard", "soft"), "target_update must be hard or soft")
        check(self.target_update_interval >= 1, "target_update_interval must be >= 1")
        check(0.0 < self.tau <= 1.0, "tau must be in (0, 1]")
        try:
            EpsilonSchedule(self.eps_start, self.eps_end, self.eps_duration, self.eps_schedule)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        check(self.total_steps >= 1, "total_steps must be >= 1")
        check(self.eval_every >= 1, "eval_every must be >= 1")
        check(self.eval_episodes >= 1, "eval_episodes must be >= 1")
        check(self.solve_patience >= 1, "solve_patience must be >= 1")
        check(self.checkpoint_every >= 1, "checkpoint_every must be >= 1")
        check(self.device in ("auto", "cpu", "cuda"), "device must be auto, cpu or cuda")
        check(self.torch_threads is None or self.torch_threads >= 1, "torch_threads must be >= 1")

    @property
    def epsilon(self) -> EpsilonSchedule:
        """The exploration schedule these settings describe."""
        return EpsilonSchedule(self.eps_start, self.eps_end, self.eps_duration, self.eps_schedule)


@dataclass(frozen=True)
class QLearningConfig:
    """Hyper-parameters of one tabular run; epsilon decays linearly per episode then stays at ``eps_end``.

    ``q_init`` is the starting value of every entry: values above the reachable returns
    ("optimism") push the agent to try everything at least once.
    """

    episodes: int = 500
    alpha: float = 0.5
    gamma: float = 0.95
    eps_start: float = 1.0
    eps_end: float = 0.05
    eps_decay_episodes: int = 300
    seed: int = 0
    max_steps: int = 100
    slip: float = 0.0
    goal_reward: float = 10.0
    pit_reward: float = -10.0
    step_cost: float = -0.1
    q_init: float = 0.0

    def __post_init__(self) -> None:
        check(self.episodes >= 1, f"episodes must be >= 1, got {self.episodes}")
        check(0.0 < self.alpha <= 1.0, f"alpha (learning rate) must be in (0, 1], got {self.alpha}")
        check(0.0 <= self.gamma <= 1.0, f"gamma (discount) must be in [0, 1], got {self.gamma}")
        for name in ("eps_start", "eps_end"):
            value = getattr(self, name)
            check(0.0 <= value <= 1.0, f"{name.replace('_', '-')} must be in [0, 1], got {value}")
        check(self.eps_decay_episodes >= 0, f"eps-decay must be >= 0 episodes, got {self.eps_decay_episodes}")
        check(self.max_steps >= 1, f"max-steps must be >= 1, got {self.max_steps}")
        check(0.0 <= self.slip < 1.0, f"slip must be in [0, 1), got {self.slip}")
        rewards = (self.goal_reward, self.pit_reward, self.step_cost, self.q_init)
        check(all(math.isfinite(v) for v in rewards), "rewards and q_init must be finite numbers")
