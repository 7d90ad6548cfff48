"""Integration tests: DQN learns CartPole, checkpoints round-trip, resume is exact."""

import dataclasses

import numpy as np
import pytest
import torch

from neuroplay.common.errors import UserError
from neuroplay.rl.dqn import DQN, DQNConfig


def test_dqn_solves_cartpole_with_defaults(tmp_path):
    # the full default criterion (mean >= 475 three evaluations in a row), on a fixed seed
    config = DQNConfig(seed=6, total_steps=40_000)
    agent = DQN(config)
    result = agent.train(tmp_path)
    assert result.solved, result.metrics[-3:]
    returns = DQN.load(tmp_path / "model.pt").evaluate(20, seed=123_456)
    assert returns.mean() >= 475.0
    assert (tmp_path / "metrics.csv").read_text().startswith("env_steps,")
    assert (tmp_path / "learning_curve.png").stat().st_size > 10_000


def test_same_seed_same_result():
    config = DQNConfig(seed=3, total_steps=2_500, learning_starts=500, eval_every=1_000)
    r1, r2 = DQN(config), DQN(config)
    m1, m2 = r1.train().metrics, r2.train().metrics
    strip = [{k: v for k, v in m.items() if k != "wall_seconds"} for m in m1]
    assert strip == [{k: v for k, v in m.items() if k != "wall_seconds"} for m in m2]
    for a, b in zip(r1.q.state_dict().values(), r2.q.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_resume_after_interrupt_matches_uninterrupted_run(tmp_path):
    config = DQNConfig(seed=5, total_steps=3_000, learning_starts=500, eval_every=1_000, checkpoint_every=1_000)
    full = DQN(config)
    full_result = full.train(tmp_path / "full")

    calls = {"n": 0}

    def stop_midway() -> bool:
        calls["n"] += 1
        return calls["n"] > 210  # 8 envs: stops mid-episode, after ~1700 steps

    part = DQN(config).train(tmp_path / "part", should_stop=stop_midway)
    assert part.interrupted and 1_000 < part.env_steps < 3_000
    assert not (tmp_path / "part" / "model.pt").exists()
    resumed_agent = DQN(config)
    resumed = resumed_agent.train(tmp_path / "part", resume=True)
    assert resumed.env_steps == full_result.env_steps and resumed.updates == full_result.updates
    strip = lambda ms: [{k: v for k, v in m.items() if k != "wall_seconds"} for m in ms]  # noqa: E731
    assert strip(resumed.metrics) == strip(full_result.metrics)
    for a, b in zip(resumed_agent.q.state_dict().values(), full.q.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_resume_with_other_settings_is_refused(tmp_path):
    config = DQNConfig(seed=0, total_steps=600, learning_starts=200, eval_every=300)
    DQN(config).train(tmp_path)
    with pytest.raises(UserError, match="different settings"):
        DQN(dataclasses.replace(config, lr=0.01)).train(tmp_path, resume=True)


def test_save_load_round_trip_and_act(tmp_path):
    agent = DQN(DQNConfig(hidden=(32, 16), dueling=True))
    agent.save(tmp_path / "m.pt")
    loaded = DQN.load(tmp_path / "m.pt")
    assert loaded.config == agent.config
    obs = np.random.default_rng(0).normal(size=(7, 4)).astype(np.float32)
    assert np.array_equal(loaded.act(obs), agent.act(obs))
    assert isinstance(loaded.act(obs[0]), int)


def test_other_envs_with_box_and_discrete_work():
    agent = DQN(
        DQNConfig(
            env_id="Acrobot-v1", total_steps=300, learning_starts=100, eval_every=300, eval_episodes=2, num_envs=2
        )
    )
    result = agent.train()
    assert result.env_steps >= 300 and len(result.metrics) >= 1


def test_env_with_wrong_spaces_is_rejected():
    with pytest.raises(UserError, match="Discrete"):
        DQN(DQNConfig(env_id="Pendulum-v1"))


def test_resume_with_a_larger_budget_continues_exactly(tmp_path):
    config = DQNConfig(seed=2, total_steps=3_000, learning_starts=500, eval_every=1_000)
    full = DQN(config)
    full_result = full.train(tmp_path / "full")
    first = DQN(dataclasses.replace(config, total_steps=2_000))
    first.train(tmp_path / "ext")
    more = DQN(config)
    resumed = more.train(tmp_path / "ext", resume=True)
    assert resumed.env_steps == full_result.env_steps and resumed.updates == full_result.updates
    for a, b in zip(more.q.state_dict().values(), full.q.state_dict().values(), strict=True):
        assert torch.equal(a, b)
