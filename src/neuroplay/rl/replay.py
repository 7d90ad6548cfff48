"""A preallocated ring-buffer replay memory.

Each row is one (possibly n-step) transition ``(obs, action, reward, next_obs, discount)``
where ``discount`` is ``gamma**k`` for a transition spanning ``k`` steps that may be
bootstrapped, and ``0`` when the episode *terminated* inside it. A time-limit *truncation*
keeps a non-zero discount: the state after it still has a value.
"""

from __future__ import annotations

import numpy as np
import torch


class ReplayMemory:
    def __init__(self, capacity: int, obs_shape: tuple[int, ...], obs_dtype=np.float32):
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.action = np.zeros(capacity, dtype=np.int64)
        self.reward = np.zeros(capacity, dtype=np.float32)
        self.discount = np.zeros(capacity, dtype=np.float32)
        self.pos = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs, action, reward, next_obs, discount) -> None:
        """Add a batch of transitions (leading axis = batch)."""
        n = len(action)
        idx = (self.pos + np.arange(n)) % self.capacity
        self.obs[idx] = obs
        self.action[idx] = action
        self.reward[idx] = reward
        self.next_obs[idx] = next_obs
        self.discount[idx] = discount
        self.pos = int((self.pos + n) % self.capacity)
        self.size = int(min(self.size + n, self.capacity))

    def sample(self, batch_size: int, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        """A uniform minibatch (with replacement) as torch tensors."""
        idx = rng.integers(0, self.size, size=batch_size)
        return (
            torch.from_numpy(self.obs[idx]),
            torch.from_numpy(self.action[idx]),
            torch.from_numpy(self.reward[idx]),
            torch.from_numpy(self.next_obs[idx]),
            torch.from_numpy(self.discount[idx]),
        )

    def state_dict(self) -> dict:
        n = self.size
        # rows are stored in ring order; saving the first `size` rows plus `pos` is exact
        return {
            "capacity": self.capacity,
            "pos": self.pos,
            "size": n,
            "obs": torch.from_numpy(self.obs[:n].copy()),
            "next_obs": torch.from_numpy(self.next_obs[:n].copy()),
            "action": torch.from_numpy(self.action[:n].copy()),
            "reward": torch.from_numpy(self.reward[:n].copy()),
            "discount": torch.from_numpy(self.discount[:n].copy()),
        }

    def load_state_dict(self, state: dict) -> None:
        if state["capacity"] != self.capacity:
            raise ValueError(f"replay capacity {state['capacity']} != {self.capacity}")
        n = state["size"]
        for name in ("obs", "next_obs", "action", "reward", "discount"):
            getattr(self, name)[:n] = state[name].numpy()
        self.pos, self.size = state["pos"], n


class NStepAccumulator:
    """Turns per-step transitions of a vector of environments into n-step transitions.

    ``push`` takes one step of every sub-environment and returns the n-step transitions that
    are complete: one per env once it has ``n`` steps of history, plus the shorter tails of an
    episode that just ended. With ``n == 1`` it passes transitions through unchanged.
    """

    def __init__(self, n: int, gamma: float, num_envs: int):
        if n < 1:
            raise ValueError("n_step must be >= 1")
        self.n, self.gamma, self.num_envs = n, gamma, num_envs
        self.history: list[list[tuple]] = [[] for _ in range(num_envs)]

    def push(self, obs, action, reward, next_obs, terminated, done, valid):
        """One vector step. ``done`` = terminated or truncated; ``valid`` masks out the
        steps in which an env was only being auto-reset. Returns batched arrays or None."""
        if self.n == 1:
            discount = np.where(terminated, 0.0, self.gamma).astype(np.float32)
            v = np.asarray(valid, bool)
            if not v.any():
                return None
            return obs[v], action[v], np.asarray(reward, np.float32)[v], next_obs[v], discount[v]
        out = []
        for i in np.flatnonzero(valid):
            h = self.history[i]
            h.append((obs[i], action[i], float(reward[i])))
            if done[i]:
                # flush every suffix of the finished episode
                while h:
                    out.append(self._fold(h, next_obs[i], bool(terminated[i])))
                    h.pop(0)
            elif len(h) == self.n:
                out.append(self._fold(h, next_obs[i], False))
                h.pop(0)
        if not out:
            return None
        o, a, r, no, d = zip(*out, strict=True)
        return np.stack(o), np.array(a), np.array(r, np.float32), np.stack(no), np.array(d, np.float32)

    def _fold(self, h, last_obs, terminated):
        ret = 0.0
        for k, (_, _, r) in enumerate(h):
            ret += (self.gamma**k) * r
        discount = 0.0 if terminated else self.gamma ** len(h)
        return h[0][0], h[0][1], ret, last_obs, discount

    def state_dict(self) -> dict:
        return {
            "history": [[(torch.as_tensor(np.asarray(o)), int(a), float(r)) for (o, a, r) in h] for h in self.history]
        }

    def load_state_dict(self, state: dict) -> None:
        self.history = [[(o.numpy(), a, r) for (o, a, r) in h] for h in state["history"]]
