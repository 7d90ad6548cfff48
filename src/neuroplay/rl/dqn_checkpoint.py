"""A DQN's files: ``model.pt`` (settings and Q-network) and a run's ``checkpoint.pt`` (the whole
training state, so a resumed run continues exactly). Both are checked whole, against sizes derived
from their own validated settings, before anything is built from them.

The checkpoint holds the settings, both networks, the optimiser, the replay memory and n-step queues, the
environments mid-episode, every counter, the kept model and both random generators: a run
stopped at any step and resumed ends exactly where the uninterrupted run would have.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from neuroplay.common.checkpoint import load_checkpoint, save_checkpoint
from neuroplay.common.errors import UserError, about_file, check
from neuroplay.common.schema import (
    RNG,
    TORCH_RNG,
    Bool,
    Dict,
    Int,
    List,
    Opt,
    Real,
    Switch,
    Tensor,
    Tuple,
    Weights,
    validate,
)
from neuroplay.common.seeding import rng_state, set_rng_state
from neuroplay.common.settings import load_run_checkpoint
from neuroplay.rl.config import DQNConfig
from neuroplay.rl.envs import EnvSnapshot, env_spaces, fresh_snapshot, restore_env, snapshot_env
from neuroplay.rl.optim import ADAM_STATE
from neuroplay.rl.qnet import weight_shapes

if TYPE_CHECKING:
    from neuroplay.rl.dqn import Trainer

MODEL_KIND = "neuroplay.dqn.model"
FORMAT_VERSION = 1  # model files
# what a model file holds besides its settings (see DQN._model_payload): the observation shape and
# action count of the settings' environment, and the weights of the network the settings describe
# ("net": their names and shapes, from qnet.weight_shapes)
MODEL_SCHEMA = Dict(
    {
        "obs_shape": List(Int(1, 10**9), bind="obs_shape"),
        "n_actions": Int(1, 10**9, bind="n_actions"),
        "q": Weights("net"),
    }
)
CHECKPOINT_KIND = "neuroplay.dqn.checkpoint"
CHECKPOINT_VERSION = 1
STEPS_MAX = 10**11  # counters: beyond any budget a DQNConfig allows (10**10 steps), well within int64
_COUNT = Int(0, 10**15)

# one row of metrics.csv per evaluation, as Trainer._evaluate writes it
METRIC_SCHEMA = Dict(
    {
        "env_steps": Int(0, STEPS_MAX),
        "episodes": Int(0, STEPS_MAX),
        "updates": _COUNT,
        "wall_seconds": Real(0, 1e12),
        "epsilon": Real(0, 1),
        "recent_return": Real(nan=True),  # NaN before the first episode ends
        "loss": Real(0, math.inf, nan=True),  # NaN before the first update
        "eval_mean": Real(),
        "eval_std": Real(0, 1e12),
        "eval_passes": _COUNT,
    }
)
# torch's SGD (without momentum it keeps no state per parameter; torch judges the rest when it loads)
SGD_STATE = Dict({"state": Dict({}), "param_groups": List(Dict({"params": List(Int(), length="n_params")}), length=1)})
# what save_training_state writes. Every size comes from the file's own settings, already checked
# (read_training_state): "net" the network's tensor shapes, "params"/"steps" the optimiser's,
# "env" what freshly reset environments save, "obs_shape", "obs_dtype" and "n_actions" the
# environment's spaces, "pending" the n-step transitions an environment can have in progress
CHECKPOINT_SCHEMA = Dict(
    {
        "q": Weights("net"),
        "target": Weights("net"),
        "optimizer": Switch("optimizer", {"adam": ADAM_STATE, "sgd": SGD_STATE}),
        "replay": Dict(
            {
                "capacity": Int(1, 10**9, bind="buffer_size"),
                "size": Int(0, "buffer_size", bind="rows"),
                "pos": Int(index_of="buffer_size"),
                "obs": Tensor(torch.float32, ("rows", "obs_shape")),
                "next_obs": Tensor(torch.float32, ("rows", "obs_shape")),
                "action": Tensor(torch.int64, ("rows",), index_of="n_actions"),
                "reward": Tensor(torch.float32, ("rows",)),
                "discount": Tensor(torch.float32, ("rows",), lo=0.0, hi=1.0),
            },
            checks=((lambda v, d: v["size"] in (v["pos"], d["buffer_size"]), "pos and size disagree"),),
        ),
        "nstep": Dict(
            {
                "history": List(
                    List(
                        Tuple((Tensor("obs_dtype", ("obs_shape",)), Int(index_of="n_actions"), Real())),
                        max_len="pending",
                    ),
                    length="num_envs",
                )
            }
        ),
        "env": EnvSnapshot(),
        "obs": Tensor("obs_dtype", ("num_envs", "obs_shape")),
        "prev_done": Tensor(torch.bool, ("num_envs",)),
        "ep_return": Tensor(torch.float64, ("num_envs",)),
        "episode_returns": List(Real(), length="episodes"),
        "episode_ends": List(Int(0, STEPS_MAX), length="episodes"),
        "counters": Dict(
            {
                "env_steps": Int(0, STEPS_MAX),
                "updates": _COUNT,
                "vector_steps": Int(0, STEPS_MAX),
                "evals_done": _COUNT,
                "passes": _COUNT,
                "best_eval": Real(-math.inf, 1e12),  # -inf before the first evaluation
                "last_loss": Real(0, math.inf, nan=True),
                "elapsed": Real(0, 1e12),
                "solved": Bool(),
                "kept_passed": Bool(),
            }
        ),
        "kept_q": Opt(Weights("net")),
        "metrics": List(METRIC_SCHEMA),
        "rng": RNG,
        "torch_rng": TORCH_RNG,
    }
)


def read_model(path: Path, device: str) -> tuple[DQNConfig, dict]:
    """The settings (to run on ``device``) and contents of the model file ``path``: the settings
    pass the command line's bounds, then every weight must have the name, shape and dtype those
    settings give it and be finite."""
    data = load_checkpoint(path, MODEL_KIND, FORMAT_VERSION)
    check(isinstance(data.get("config"), dict), f"{path}: checkpoint has no valid config")
    with about_file(path):
        config = DQNConfig.from_dict({**data["config"], "device": device})
    obs_shape, n_actions, _ = env_spaces(config.env_id)
    net = weight_shapes(math.prod(obs_shape), n_actions, config.hidden, config.dueling)
    validate(path, data, MODEL_SCHEMA, {"net": net, "obs_shape": obs_shape, "n_actions": n_actions})
    return config, data


def resumed_config(run_dir: str | os.PathLike[str], **overrides: Any) -> DQNConfig:
    """The settings the unfinished run in ``run_dir`` continues with: the saved ones, with
    ``overrides`` (see :meth:`DQNConfig.for_resume`). A run that is already solved is refused."""
    run_dir = Path(run_dir)
    path = run_dir / "checkpoint.pt"
    data, saved = load_run_checkpoint(path, CHECKPOINT_KIND, CHECKPOINT_VERSION, DQNConfig)
    check(isinstance(data.get("counters"), dict), f"{path}: checkpoint is incomplete")
    check(
        not data["counters"].get("solved"),
        f"the run in {run_dir} is already solved; its model is {run_dir / 'model.pt'}",
    )
    return saved.for_resume(**overrides)


def save_training_state(path: Path, t: Trainer) -> None:
    """Write the state of the running trainer ``t`` to ``path`` (atomically)."""
    state = {
        "config": t.c.to_dict(),
        "q": t.agent.q.state_dict(),
        "target": t.target.state_dict(),
        "optimizer": t.opt.state_dict(),
        "replay": t.replay.state_dict(),
        "nstep": t.nstep.state_dict(),
        "env": snapshot_env(t.env),
        "obs": torch.from_numpy(np.asarray(t.obs).copy()),
        "prev_done": torch.from_numpy(t.prev_done.copy()),
        "ep_return": torch.from_numpy(t.ep_return.copy()),
        "episode_returns": list(t.episode_returns),
        "episode_ends": list(t.episode_ends),
        "counters": {
            "env_steps": t.env_steps,
            "updates": t.updates,
            "vector_steps": t.vector_steps,
            "evals_done": t.evals_done,
            "passes": t.passes,
            "best_eval": t.best_eval,
            "last_loss": t.last_loss,
            "elapsed": t.elapsed_before + time.perf_counter() - t.t0,
            "solved": t.solved,
            "kept_passed": t.kept_passed,
        },
        "kept_q": t.kept_q,
        "metrics": list(t.metrics),
        "rng": rng_state(t.rng),
        "torch_rng": torch.get_rng_state(),
    }
    save_checkpoint(path, CHECKPOINT_KIND, CHECKPOINT_VERSION, state)


def read_training_state(path: Path, config: DQNConfig) -> dict:
    """The training state saved in ``path``, every value checked (:data:`CHECKPOINT_SCHEMA`) against
    sizes derived from the saved settings, which must be ``config``'s but for those a resumed run
    may change (:attr:`DQNConfig.RESUMABLE`): nothing is built from the file before it passes."""
    data, _ = load_run_checkpoint(path, CHECKPOINT_KIND, CHECKPOINT_VERSION, DQNConfig, current=config)
    obs_shape, n_actions, obs_dtype = env_spaces(config.env_id)
    net = weight_shapes(math.prod(obs_shape), n_actions, config.hidden, config.dueling)
    sizes = {
        "net": net,
        "params": list(net.values()),
        "steps": [()] * len(net),
        "n_params": len(net),
        "optimizer": config.optimizer,
        "env": fresh_snapshot(config.env_id, config.num_envs, config.seed),  # a few small objects
        "obs_shape": obs_shape,
        "obs_dtype": obs_dtype,
        "n_actions": n_actions,
        "buffer_size": config.buffer_size,
        "num_envs": config.num_envs,
        "pending": config.n_step - 1,  # NStepAccumulator.push folds a queue once it holds n steps
    }
    validate(path, data, CHECKPOINT_SCHEMA, sizes)
    return data


def apply_training_state(path: Path, data: dict, t: Trainer) -> None:
    """Put the state ``data`` read from ``path`` (:func:`read_training_state`) into the freshly
    initialised trainer ``t``."""
    t.agent.q.load_state_dict(data["q"])
    t.target.load_state_dict(data["target"])
    try:  # torch's SGD judges its own param_groups
        t.opt.load_state_dict(data["optimizer"])
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise UserError(f"{path}: optimizer state does not match ({str(exc)[:120]})") from None
    t.replay.load_state_dict(data["replay"])
    t.nstep.load_state_dict(data["nstep"])
    restore_env(t.env, data["env"])
    t.obs = data["obs"].numpy().copy()
    t.prev_done = data["prev_done"].numpy().copy()
    t.ep_return = data["ep_return"].numpy().copy()
    t.episode_returns = list(data["episode_returns"])
    t.episode_ends = list(data["episode_ends"])
    k = data["counters"]
    t.env_steps, t.updates, t.vector_steps = k["env_steps"], k["updates"], k["vector_steps"]
    t.evals_done, t.passes, t.best_eval = k["evals_done"], k["passes"], k["best_eval"]
    t.last_loss, t.elapsed_before, t.solved = k["last_loss"], k["elapsed"], k["solved"]
    t.kept_q, t.kept_passed = data["kept_q"], k["kept_passed"]
    t.metrics = list(data["metrics"])
    set_rng_state(t.rng, data["rng"])
    torch.set_rng_state(data["torch_rng"])
