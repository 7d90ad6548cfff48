"""Deep Q-learning (Mnih et al., 2015) with the usual improvements, in one readable loop.

The agent keeps a Q-network and a slowly-following target network. It acts ε-greedily in a
vector of environments, stores transitions in a replay memory and regresses Q(s, a) toward

    y = r + γ^k · Q_target(s', argmax_a' Q(s', a'))     (Double DQN, the default)
    y = r + γ^k · max_a' Q_target(s', a')               (classic DQN, ``double=False``)

with k = 1 or the n-step horizon, and γ^k replaced by 0 when the episode *terminated*
(a time-limit truncation still bootstraps). Training stops when periodic greedy
evaluations pass a threshold several times in a row; the model kept is the one that passed.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from neuroplay.common.bounds import check_fits
from neuroplay.common.checkpoint import save_checkpoint
from neuroplay.common.errors import about_file, check
from neuroplay.common.io import write_csv
from neuroplay.common.runlock import hold_run_folder
from neuroplay.common.runtime import resolve_device, torch_threads
from neuroplay.common.seeding import derive_seed, seed_everything
from neuroplay.rl.config import DQNConfig
from neuroplay.rl.dqn_checkpoint import (
    FORMAT_VERSION,
    MODEL_KIND,
    apply_training_state,
    read_model,
    read_training_state,
    resumed_config,
    save_training_state,
)
from neuroplay.rl.envs import env_spaces, evaluate_policy, make_vec_env
from neuroplay.rl.optim import Adam
from neuroplay.rl.qnet import QNetwork
from neuroplay.rl.replay import NStepAccumulator, ReplayMemory

RUN_FILES = ("model.pt", "checkpoint.pt", "metrics.csv", "learning_curve.png")  # what a run writes in its folder

# seeds for evaluation episodes are derived from (seed, EVAL_STREAM, index) so they never
# coincide with the training environment's seed
EVAL_STREAM = 1


@dataclass
class TrainResult:
    """What :meth:`DQN.train` returns."""

    solved: bool
    env_steps: int
    episodes: int
    updates: int
    wall_seconds: float
    best_eval_mean: float
    interrupted: bool = False
    model: str | None = None
    checkpoint: str | None = None
    metrics: list[dict] = field(default_factory=list)


def td_target(
    reward: torch.Tensor,
    discount: torch.Tensor,
    next_q_target: torch.Tensor,
    next_q_online: torch.Tensor | None = None,
) -> torch.Tensor:
    """``r + discount · Q_target(s', a*)``; a* = argmax of the online net (Double DQN) when
    ``next_q_online`` is given, else of the target net (classic DQN).

    ``discount`` is γ^k, or 0 where the episode terminated: a terminal state has no future.
    """
    if next_q_online is None:
        best = next_q_target.max(dim=1).values
    else:
        best = next_q_target.gather(1, next_q_online.argmax(dim=1, keepdim=True)).squeeze(1)
    return reward + discount * best


class DQN:
    """A DQN agent: ``DQN(config).train(out_dir)``, ``act(obs)``, ``save(path)``, ``DQN.load(path)``,
    ``DQN.resume(run_dir)``."""

    def __init__(self, config: DQNConfig | None = None):
        self.config = config or DQNConfig()
        self._resume_state: tuple[Path, dict] | None = None
        self.device = resolve_device(self.config.device)
        self.obs_shape, self.n_actions, _ = env_spaces(self.config.env_id)
        self.check_memory(training=False)  # a network of terabytes is refused, not allocated
        torch.manual_seed(self.config.seed)
        self.q = self._new_net()

    def memory_needed(self, buffer_size: int | None = None, training: bool = True, widest: int | None = None) -> int:
        """Bytes at the peak (an estimate, a little high): the Q- and target networks with Adam's
        two moments and the gradients, a minibatch's activations, and when ``training`` the replay
        memory of ``buffer_size`` (default: the config's) rows of two float32 observations each.
        ``widest`` caps every hidden layer (to find the largest network that fits)."""
        c, obs = self.config, int(np.prod(self.obs_shape))
        sizes = (obs, *(min(h, widest or h) for h in c.hidden), self.n_actions + 1)
        params = sum((a + 1) * b for a, b in zip(sizes, sizes[1:], strict=False))
        activations = 3 * max(c.batch_size, c.num_envs) * sum(sizes)  # forward and backward, online and target
        replay = (buffer_size or c.buffer_size) * (2 * obs * 4 + 16) if training else 0
        return 4 * (5 * params + activations) + replay + 400 * 2**20  # + the process with torch loaded

    def check_memory(self, training: bool = True) -> None:
        """Refuse, before anything is allocated, a run (``training``) or a network that would not fit
        in the memory available, naming the largest --buffer-size (or --hidden) that would."""
        c = self.config
        need = self.memory_needed(training=training)
        if training:
            what = f"training with --buffer-size {c.buffer_size}"
            check_fits(what, need, "--buffer-size", c.buffer_size, lambda n: self.memory_needed(n, training))
        else:
            what = f"a Q-network of hidden sizes {','.join(map(str, c.hidden))}"
            check_fits(what, need, "--hidden", max(c.hidden), lambda n: self.memory_needed(training=False, widest=n))

    def _new_net(self) -> QNetwork:
        c = self.config
        return QNetwork(int(np.prod(self.obs_shape)), self.n_actions, c.hidden, c.dueling).to(self.device)

    # ---- acting ---------------------------------------------------------------------------

    @torch.no_grad()
    def q_values(self, obs: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)
        return self.q(x.reshape(-1, int(np.prod(self.obs_shape)))).cpu().numpy()

    def act(self, obs: np.ndarray) -> np.ndarray | int:
        """Greedy action for one observation (returns an int) or a batch (returns an array)."""
        obs = np.asarray(obs, dtype=np.float32)
        actions = self.q_values(obs).argmax(axis=1)
        return int(actions[0]) if obs.shape == tuple(self.obs_shape) else actions

    def evaluate(self, episodes: int = 100, seed: int = 0) -> np.ndarray:
        """Returns of ``episodes`` greedy episodes from seeds derived from ``seed`` (on the config's threads)."""
        with torch_threads(self.config.torch_threads):
            return evaluate_policy(lambda o: self.q_values(o).argmax(axis=1), self.config.env_id, episodes, seed)

    # ---- persistence ----------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the Q-network and config (a small model file, loadable by :meth:`load`)."""
        save_checkpoint(path, MODEL_KIND, FORMAT_VERSION, self._model_payload(self.q.state_dict()))

    def _model_payload(self, q_state: dict) -> dict:
        return {
            "config": self.config.to_dict(),
            "q": {k: v.detach().cpu().clone() for k, v in q_state.items()},
            "obs_shape": list(self.obs_shape),
            "n_actions": self.n_actions,
        }

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: str = "cpu") -> DQN:
        """Load a model saved by :meth:`save` or by training (``model.pt``; a run directory
        means its ``model.pt``)."""
        path = Path(path)
        if path.is_dir():
            path = path / "model.pt"
        config, data = read_model(path, device)  # all checked before the network is built
        with about_file(path):
            agent = cls(config)
        agent.q.load_state_dict(data["q"], strict=True)
        return agent

    @classmethod
    def resume(cls, run_dir: str | os.PathLike[str], **overrides: Any) -> DQN:
        """The agent of the unfinished run saved in ``run_dir``, with its saved settings; continue
        it with ``agent.train(run_dir, resume=True)``.

        ``overrides`` may change the settings in :attr:`DQNConfig.RESUMABLE` (the budget
        ``total_steps``, evaluation and checkpoint cadence, device, threads); any other must equal
        its saved value. A run that is already solved is a :class:`UserError`.
        """
        path = Path(run_dir) / "checkpoint.pt"
        config = resumed_config(run_dir, **overrides)
        state = read_training_state(path, config)  # all of it checked before anything is built
        with about_file(path):  # the saved settings are at fault
            agent = cls(config)
            agent.check_memory()  # its replay memory too, before any is allocated
        agent._resume_state = (path.resolve(), state)  # train(run_dir, resume=True) takes it, not re-reads it
        return agent

    # ---- training -------------------------------------------------------------------------

    def train(
        self,
        out_dir: str | os.PathLike[str] | None = None,
        callback: Callable[[dict], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        resume: bool = False,
    ) -> TrainResult:
        """Train until solved or out of budget; see the module docstring.

        ``out_dir`` receives ``metrics.csv``, ``learning_curve.png``, ``checkpoint.pt``
        (full training state, written atomically every ``checkpoint_every`` steps and when
        stopped) and ``model.pt`` (the kept model). ``resume=True`` continues from
        ``out_dir/checkpoint.pt`` exactly as if never interrupted. ``callback`` receives a
        status dict now and then; ``should_stop`` is polled between steps (Ctrl-C support).
        ``out_dir`` is locked for the run (:mod:`~neuroplay.common.runlock`): a second run
        writing the same folder at the same time is a :class:`UserError`.
        """
        self.check_memory()
        if out_dir is not None:
            hold_run_folder(out_dir)
        with torch_threads(self.config.torch_threads):
            return Trainer(self, out_dir, callback, should_stop).run(resume)


def train(
    config: DQNConfig | None = None, out_dir: str | os.PathLike[str] | None = None, **kwargs
) -> tuple[DQN, TrainResult]:
    """Build a :class:`DQN` from ``config`` and train it; returns ``(agent, result)``."""
    agent = DQN(config)
    return agent, agent.train(out_dir, **kwargs)


class Trainer:
    """The state of one training run; :meth:`run` is the whole algorithm, top to bottom."""

    def __init__(self, agent: DQN, out_dir, callback, should_stop):
        self.agent, self.c = agent, agent.config
        self.out = Path(out_dir) if out_dir is not None else None
        self.callback = callback or (lambda info: None)
        self.should_stop = should_stop or (lambda: False)

    # everything that must survive a checkpoint lives in these attributes (see rl/dqn_checkpoint.py)
    def _init_state(self) -> None:
        c, agent = self.c, self.agent
        self.rng = seed_everything(c.seed)
        agent.q = agent._new_net()
        self.target = copy.deepcopy(agent.q)
        self.q_params = list(agent.q.parameters())
        self.target_params = list(self.target.parameters())
        self.opt = Adam(self.q_params, lr=c.lr) if c.optimizer == "adam" else torch.optim.SGD(self.q_params, lr=c.lr)
        self.replay = ReplayMemory(c.buffer_size, agent.obs_shape)
        self.nstep = NStepAccumulator(c.n_step, c.gamma, c.num_envs)
        self.env = make_vec_env(c.env_id, c.num_envs)
        self.obs, _ = self.env.reset(seed=c.seed)
        self.prev_done = np.zeros(c.num_envs, dtype=bool)
        self.ep_return = np.zeros(c.num_envs)
        self.episode_returns: list[float] = []
        self.episode_ends: list[int] = []
        self.env_steps = self.updates = self.vector_steps = 0
        self.evals_done = self.passes = 0
        self.best_eval = -math.inf
        self.kept_q: dict | None = None
        self.kept_passed = False
        self.last_loss = float("nan")
        self.metrics: list[dict] = []
        self.elapsed_before = 0.0
        self.solved = False

    def run(self, resume: bool) -> TrainResult:
        c, agent = self.c, self.agent
        self.t0 = time.perf_counter()
        if resume:  # the saved state is read and checked before anything is built
            check(self.out is not None, "resume needs the run directory")
            path = (self.out / "checkpoint.pt").resolve()
            kept, agent._resume_state = agent._resume_state, None
            saved = kept[1] if kept is not None and kept[0] == path else read_training_state(path, self.c)
        self._init_state()
        if resume:
            apply_training_state(path, saved, self)
        epsilon = c.epsilon
        next_eval = (self.env_steps // c.eval_every + 1) * c.eval_every
        next_ckpt = (self.env_steps // c.checkpoint_every + 1) * c.checkpoint_every
        next_report = 0
        interrupted = False

        while self.env_steps < c.total_steps and not self.solved:
            if self.should_stop():
                interrupted = True
                break
            # 1. act ε-greedily in every env
            eps = epsilon(self.env_steps)
            explore = self.rng.random(c.num_envs) < eps
            actions = self.rng.integers(0, agent.n_actions, size=c.num_envs)
            if not explore.all():
                greedy = agent.q_values(self.obs).argmax(axis=1)
                actions = np.where(explore, actions, greedy)
            next_obs, reward, terminated, truncated, _ = self.env.step(actions)
            done = terminated | truncated

            # 2. store real transitions; an env that finished last step was only being
            #    reset in this one (gymnasium's NEXT_STEP autoreset), so skip it
            valid = ~self.prev_done
            batch = self.nstep.push(self.obs, actions, reward, next_obs, terminated, done, valid)
            if batch is not None:
                self.replay.add(*batch)
            self.ep_return += np.where(valid, reward, 0.0)
            for i in np.flatnonzero(done & valid):
                self.episode_returns.append(float(self.ep_return[i]))
                self.episode_ends.append(self.env_steps)
                self.ep_return[i] = 0.0
            self.env_steps += int(valid.sum())
            self.prev_done = done
            self.obs = next_obs
            self.vector_steps += 1

            # 3. learn from replayed minibatches
            if len(self.replay) >= max(c.learning_starts, c.batch_size) and self.vector_steps % c.train_freq == 0:
                for _ in range(c.gradient_steps):
                    self.last_loss = self._update()

            # 4. evaluate greedily; stop once solved several times in a row
            if self.env_steps >= next_eval:
                next_eval += c.eval_every
                self._evaluate(eps)
            if self.env_steps >= next_ckpt and not self.solved:
                next_ckpt += c.checkpoint_every
                self._save_checkpoint()
            if self.env_steps >= next_report:
                next_report = self.env_steps + 500
                self.callback(self._status(eps))

        wall = self.elapsed_before + time.perf_counter() - self.t0
        if not (self.solved or interrupted) and (not self.metrics or self.metrics[-1]["env_steps"] < self.env_steps):
            self._evaluate(epsilon(self.env_steps))  # the budget ran out between evaluations
            wall = self.elapsed_before + time.perf_counter() - self.t0
        result = TrainResult(
            solved=self.solved,
            env_steps=self.env_steps,
            episodes=len(self.episode_returns),
            updates=self.updates,
            wall_seconds=wall,
            best_eval_mean=self.best_eval,
            interrupted=interrupted,
            metrics=list(self.metrics),
        )
        if self.out is not None:  # the checkpoint holds the training-time network, so save it first
            result.checkpoint = str(self._save_checkpoint())
        if self.kept_q is not None and not interrupted:
            agent.q.load_state_dict(self.kept_q)
        if self.out is not None:
            if not interrupted:
                result.model = str(self.out / "model.pt")
                save_checkpoint(result.model, MODEL_KIND, FORMAT_VERSION, agent._model_payload(agent.q.state_dict()))
            self._write_curve()
        self.callback(self._status(epsilon(self.env_steps)) | {"final": True})
        self.env.close()
        return result

    def _update(self) -> float:
        c, q = self.c, self.agent.q
        dev = self.agent.device
        obs, action, reward, next_obs, discount = (t.to(dev) for t in self.replay.sample(c.batch_size, self.rng))
        with torch.no_grad():
            next_target = self.target(next_obs)
            y = td_target(reward, discount, next_target, q(next_obs) if c.double else None)
        pred = q(obs).gather(1, action.unsqueeze(1)).squeeze(1)
        loss = F.smooth_l1_loss(pred, y) if c.loss == "huber" else F.mse_loss(pred, y)
        self.opt.zero_grad()
        loss.backward()
        if c.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.q_params, c.max_grad_norm, foreach=True)
        self.opt.step()
        self.updates += 1
        with torch.no_grad():
            if c.target_update == "soft":
                torch._foreach_lerp_(self.target_params, self.q_params, c.tau)
            elif self.updates % c.target_update_interval == 0:
                self.target.load_state_dict(q.state_dict())
        return loss.item()

    def _evaluate(self, eps: float) -> None:
        c, agent = self.c, self.agent
        seed = derive_seed(c.seed, EVAL_STREAM, self.evals_done)
        returns = agent.evaluate(c.eval_episodes, seed)
        self.evals_done += 1
        mean = float(returns.mean())
        passed = c.solve_threshold is not None and mean >= c.solve_threshold
        self.passes = self.passes + 1 if passed else 0
        # keep the latest model that passed; until one has, the best one so far
        if passed or (not self.kept_passed and mean >= self.best_eval):
            self.kept_q = {k: v.detach().clone() for k, v in agent.q.state_dict().items()}
            self.kept_passed = passed
        self.best_eval = max(self.best_eval, mean)
        self.solved = self.passes >= c.solve_patience
        recent = self.episode_returns[-20:]
        self.metrics.append(
            {
                "env_steps": self.env_steps,
                "episodes": len(self.episode_returns),
                "updates": self.updates,
                "wall_seconds": round(self.elapsed_before + time.perf_counter() - self.t0, 4),
                "epsilon": round(eps, 5),
                "recent_return": round(float(np.mean(recent)), 3) if recent else float("nan"),
                "loss": round(self.last_loss, 6),
                "eval_mean": round(mean, 3),
                "eval_std": round(float(returns.std()), 3),
                "eval_passes": self.passes,
            }
        )
        if self.out is not None:
            self._write_metrics()

    def _status(self, eps: float) -> dict:
        recent = self.episode_returns[-20:]
        elapsed = self.elapsed_before + time.perf_counter() - self.t0
        return {
            "env_steps": self.env_steps,
            "total_steps": self.c.total_steps,
            "episodes": len(self.episode_returns),
            "recent_return": float(np.mean(recent)) if recent else float("nan"),
            "epsilon": eps,
            "eval_mean": self.metrics[-1]["eval_mean"] if self.metrics else float("nan"),
            "steps_per_second": self.env_steps / elapsed if elapsed > 0 else 0.0,
        }

    # ---- files ------------------------------------------------------------------------------

    def _write_metrics(self) -> None:
        write_csv(self.out / "metrics.csv", self.metrics)

    def _write_curve(self) -> None:
        from neuroplay.rl.plots import plot_learning_curve

        plot_learning_curve(
            self.out / "learning_curve.png",
            self.episode_ends,
            self.episode_returns,
            self.metrics,
            self.c.solve_threshold,
            title=f"DQN on {self.c.env_id} (seed {self.c.seed})",
        )

    def _save_checkpoint(self) -> Path | None:
        if self.out is None:
            return None
        save_training_state(self.out / "checkpoint.pt", self)
        return self.out / "checkpoint.pt"
