"""The settings of the RL runs: DQN and tabular Q-learning (no heavy imports, so the CLI can read the defaults)."""

from __future__ import annotations

from dataclasses import dataclass

from neuroplay.common.bounds import SEED_MAX, THREADS_MAX, in_range
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

    # every count within what a laptop can run: (field, lowest, highest); NaN, infinity, a seed of
    # 2**64 or a budget of 10**30 steps are refused by name before anything is built
    INT_RANGES = (
        ("seed", 0, SEED_MAX),
        ("num_envs", 1, 1024),
        ("n_step", 1, 1000),
        ("batch_size", 1, 1_000_000),
        ("buffer_size", 1, 10**9),
        ("learning_starts", 0, 10**10),
        ("train_freq", 1, 10**6),
        ("gradient_steps", 0, 10_000),
        ("target_update_interval", 1, 10**10),
        ("eps_duration", 0, 10**10),
        ("total_steps", 1, 10**10),
        ("eval_every", 1, 10**10),
        ("eval_episodes", 1, 100_000),
        ("solve_patience", 1, 10_000),
        ("checkpoint_every", 1, 10**10),
    )
    MAX_HIDDEN = 65_536  # per layer; the memory estimate bounds the network as a whole

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        check(1 <= len(self.hidden) <= 16, "give 1 to 16 hidden sizes")
        for h in self.hidden:
            in_range("hidden", h, 1, self.MAX_HIDDEN)
        for name, lo, hi in self.INT_RANGES:
            in_range(name, getattr(self, name), lo, hi)
        in_range("gamma", self.gamma, 0.0, 1.0, open_lo=True)
        check(self.loss in ("huber", "mse"), f"loss must be huber or mse, not {self.loss!r}")
        check(self.optimizer in ("adam", "sgd"), f"optimizer must be adam or sgd, not {self.optimizer!r}")
        in_range("lr", self.lr, 0.0, 100.0, open_lo=True)
        # NaN here would switch clipping off unnoticed
        in_range("max_grad_norm", self.max_grad_norm, 0.0, 1e9, open_lo=True)
        check(self.buffer_size >= self.batch_size, "buffer_size must be >= batch_size")
        check(self.target_update in ("hard", "soft"), "target_update must be hard or soft")
        in_range("tau", self.tau, 0.0, 1.0, open_lo=True)
        in_range("eps_start", self.eps_start, 0.0, 1.0)
        in_range("eps_end", self.eps_end, 0.0, 1.0)
        try:
            EpsilonSchedule(self.eps_start, self.eps_end, self.eps_duration, self.eps_schedule)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        # NaN would never be reached: a run that can never be solved
        in_range("solve_threshold", self.solve_threshold, -1e12, 1e12)
        check(self.device in ("auto", "cpu", "cuda"), "device must be auto, cpu or cuda")
        in_range("torch_threads", self.torch_threads, 1, THREADS_MAX)

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
        # a run keeps every episode's return and length: 10**7 episodes is minutes and ~160 MB
        in_range("episodes", self.episodes, 1, 10**7)
        in_range("seed", self.seed, 0, SEED_MAX)
        in_range("alpha", self.alpha, 0.0, 1.0, open_lo=True)
        in_range("gamma", self.gamma, 0.0, 1.0)
        for name in ("eps_start", "eps_end"):
            in_range(name, getattr(self, name), 0.0, 1.0)
        in_range("eps_decay_episodes", self.eps_decay_episodes, 0, 10**7)
        in_range("max_steps", self.max_steps, 1, 10**6)
        in_range("slip", self.slip, 0.0, 1.0)
        check(self.slip < 1.0, f"slip must be below 1 (every move would slip), got {self.slip}")
        for name in ("goal_reward", "pit_reward", "step_cost", "q_init"):
            in_range(name, getattr(self, name), -1e9, 1e9)
