"""Environments: vectorized creation, state snapshots for exact resume, greedy evaluation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from neuroplay.common.errors import UserError
from neuroplay.common.schema import RNG, Dims, Invalid, Like, Rule
from neuroplay.envs import register_all


def make_vec_env(env_id: str, num_envs: int, render_mode: str | None = None) -> gym.vector.VectorEnv:
    """``num_envs`` copies of ``env_id`` stepped together.

    Uses the environment's own NumPy-vectorized implementation when it has one (CartPole
    does: one array operation steps every copy), otherwise a synchronous vector of copies.
    Either way auto-reset happens on the step *after* an episode ends (gymnasium's
    ``NEXT_STEP`` mode), which the training loop accounts for.
    """
    register_all()
    try:
        spec = gym.spec(env_id)
    except gym.error.Error as exc:
        raise UserError(f"unknown environment {env_id!r}: {exc}") from None
    kwargs = {"render_mode": render_mode} if render_mode else {}
    mode = "vector_entry_point" if spec.vector_entry_point is not None else "sync"
    try:
        env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode, **kwargs)
    except Exception as exc:  # gymnasium raises many types for a bad env or missing extra
        raise UserError(f"cannot create environment {env_id!r}: {exc}") from None
    check_spaces(env, env_id)
    return env


def env_spaces(env_id: str) -> tuple[tuple[int, ...], int, torch.dtype]:
    """The observation shape, action count and observation dtype of ``env_id`` (one copy made
    and closed): the sizes a file's contents are checked against before anything is built."""
    probe = make_vec_env(env_id, 1)
    space = probe.single_observation_space
    probe.close()
    return tuple(space.shape), int(probe.single_action_space.n), torch.from_numpy(np.zeros(0, space.dtype)).dtype


def fresh_snapshot(env_id: str, num_envs: int, seed: int) -> list[dict]:
    """What :func:`snapshot_env` saves for ``num_envs`` copies of ``env_id`` just reset with
    ``seed``: the template a saved snapshot is checked against (see :class:`EnvSnapshot`)."""
    env = make_vec_env(env_id, num_envs)
    env.reset(seed=seed)
    try:
        return snapshot_env(env)
    finally:
        env.close()


def check_spaces(env: gym.vector.VectorEnv, env_id: str) -> None:
    obs_space, act_space = env.single_observation_space, env.single_action_space
    if not isinstance(obs_space, gym.spaces.Box) or not isinstance(act_space, gym.spaces.Discrete):
        raise UserError(
            f"{env_id} has observation space {obs_space} and action space {act_space}; "
            "DQN needs a Box observation and Discrete actions"
        )
    mode = env.metadata.get("autoreset_mode", gym.vector.AutoresetMode.NEXT_STEP)
    if mode != gym.vector.AutoresetMode.NEXT_STEP:
        raise UserError(f"{env_id}: vector env autoreset mode {mode} is not supported (need NEXT_STEP)")


# --- state snapshots -------------------------------------------------------------------------
# gymnasium has no API to save an environment mid-episode. For exact resume we record the
# plain-data attributes (arrays, numbers, RNG states) of every object in the wrapper chain.
# That captures the whole dynamic state of NumPy-based envs such as the classic-control ones;
# envs that keep state in native objects resume from where they were re-created instead.

_SCALARS = (bool, int, float, str, type(None), np.bool_, np.integer, np.floating)


def _chain(env) -> list:
    objs, stack, seen = [], [env], set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen or obj is None:
            continue
        seen.add(id(obj))
        objs.append(obj)
        for name in ("env", "envs"):
            child = getattr(obj, name, None) if name in getattr(obj, "__dict__", {}) else None
            if isinstance(child, list | tuple):
                stack.extend(reversed(child))
            elif child is not None:
                stack.append(child)
    return objs


def snapshot_env(env) -> list[dict]:
    """Plain-data state of ``env`` and everything it wraps (see comment above)."""
    out = []
    for obj in _chain(env):
        state = {}
        for name, value in vars(obj).items():
            if isinstance(value, np.random.Generator):
                state[name] = ("rng", value.bit_generator.state)
            elif isinstance(value, np.ndarray) and value.dtype != object:
                state[name] = ("array", torch.from_numpy(value.copy()))
            elif isinstance(value, _SCALARS):
                state[name] = ("value", value.item() if isinstance(value, np.generic) else value)
            elif _numbers(value):  # MountainCar keeps (position, velocity) as NumPy floats: made plain,
                # or the checkpoint would hold NumPy objects that a weights-only load refuses
                state[name] = ("value", tuple(v.item() if isinstance(v, np.generic) else v for v in value))
        out.append(state)
    return out


class EnvSnapshot(Rule):
    """A :func:`snapshot_env` list fit for :func:`restore_env` on the environment whose fresh
    snapshot is ``dims["env"]``: one dict per object of its chain, each entry a ``(kind, value)``
    pair whose value is of that kind. Where the fresh environment has the attribute too, an array
    keeps its shape and kind of number (Acrobot's state turns from float32 to float64 as it runs)
    and a plain value its type; attributes set only once an episode runs are checked by kind alone."""

    def check(self, value: Any, at: str, dims: Dims) -> None:
        fresh = dims["env"]
        if not isinstance(value, list) or len(value) != len(fresh):
            raise Invalid(f"{at} must be a list of {len(fresh)} states, one per wrapper of this environment")
        for i, (state, now) in enumerate(zip(value, fresh, strict=True)):
            if not isinstance(state, Mapping):
                raise Invalid(f"{at}[{i}] must be a dict, not {type(state).__name__}")
            for name, entry in state.items():
                where = f"{at}[{i}].{name}"
                if not (isinstance(entry, tuple) and len(entry) == 2 and entry[0] in ("rng", "array", "value")):
                    raise Invalid(f"{where} is not a (kind, value) pair")
                (tag, v), (was, old) = entry, now.get(name, (None, None))
                if tag == "rng":
                    RNG.check(v, where, dims)
                elif tag == "array":
                    if not isinstance(v, torch.Tensor):
                        raise Invalid(f"{where} must be a tensor, not {type(v).__name__}")
                    if was == "array" and (v.shape != old.shape or _kind(v) != _kind(old)):
                        expected = f"{_kind(old)} values of shape {tuple(old.shape)}"
                        raise Invalid(f"{where} is {v.dtype} {tuple(v.shape)}, expected {expected}")
                elif not (isinstance(v, _SCALARS) or _numbers(v)):
                    raise Invalid(f"{where} must be a plain value, not {type(v).__name__}")
                elif was == "value" and old is not None:
                    Like(finite=False).compare(v, old, where)  # an environment may hold infinite bounds


def _kind(t: torch.Tensor) -> str:
    return "bool" if t.dtype == torch.bool else "floating" if t.is_floating_point() else "integer"


def _numbers(value: Any) -> bool:
    return isinstance(value, tuple) and all(isinstance(v, int | float) for v in value)


def restore_env(env, snapshot: list[dict]) -> None:
    objs = _chain(env)
    if len(objs) != len(snapshot):
        raise UserError("checkpoint's environment state does not match this environment")
    for obj, state in zip(objs, snapshot, strict=True):
        for name, (tag, value) in state.items():
            if tag == "rng":
                rng = getattr(obj, name, None)
                if not isinstance(rng, np.random.Generator):
                    rng = np.random.default_rng()
                rng.bit_generator.state = value
                setattr(obj, name, rng)
            elif tag == "array":
                setattr(obj, name, value.numpy().copy())
            else:
                setattr(obj, name, value)


# --- evaluation --------------------------------------------------------------------------------


def evaluate_policy(
    policy: Callable[[np.ndarray], np.ndarray],
    env_id: str,
    episodes: int,
    seed: int,
    max_parallel: int = 100,
) -> np.ndarray:
    """Return the undiscounted return of ``episodes`` greedy episodes.

    Episodes run in parallel vector envs, each env contributing only its first episode, so
    the result depends only on ``seed`` and the policy.
    """
    returns: list[float] = []
    batch_index = 0
    while len(returns) < episodes:
        n = min(max_parallel, episodes - len(returns))
        env = make_vec_env(env_id, n)
        try:
            obs, _ = env.reset(seed=seed + 1_000_003 * batch_index)
            total = np.zeros(n)
            finished = np.zeros(n, dtype=bool)
            while not finished.all():
                obs, reward, terminated, truncated, _ = env.step(policy(obs))
                total += np.where(finished, 0.0, reward)
                finished |= terminated | truncated
        finally:
            env.close()
        returns.extend(total.tolist())
        batch_index += 1
    return np.asarray(returns)
