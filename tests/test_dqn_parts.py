"""Unit tests: replay memory, n-step folding, the TD target, schedules, the Q-network."""

import numpy as np
import pytest
import torch

from neuroplay.common.errors import UserError
from neuroplay.rl.config import DQNConfig
from neuroplay.rl.dqn import td_target
from neuroplay.rl.qnet import QNetwork
from neuroplay.rl.replay import NStepAccumulator, ReplayMemory
from neuroplay.rl.schedules import EpsilonSchedule


def test_replay_ring_buffer_wraps_and_keeps_latest():
    mem = ReplayMemory(5, (2,))
    for i in range(7):
        mem.add(np.full((1, 2), i), [i % 2], [float(i)], np.full((1, 2), i + 1), [0.99])
    assert len(mem) == 5
    assert sorted(mem.reward.tolist()) == [2.0, 3.0, 4.0, 5.0, 6.0]
    # next_obs stays paired with its obs through the wrap
    assert np.all(mem.next_obs[:, 0] == mem.obs[:, 0] + 1)


def test_replay_sample_shapes_and_determinism():
    mem = ReplayMemory(100, (4,))
    mem.add(np.random.rand(50, 4), np.arange(50) % 2, np.ones(50), np.random.rand(50, 4), np.full(50, 0.9))
    a = mem.sample(16, np.random.default_rng(3))
    b = mem.sample(16, np.random.default_rng(3))
    assert a[0].shape == (16, 4) and a[1].dtype == torch.int64 and a[4].shape == (16,)
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x, y)


def test_replay_state_dict_round_trip():
    mem = ReplayMemory(8, (3,))
    mem.add(np.random.rand(11, 3), np.arange(11) % 3, np.arange(11), np.random.rand(11, 3), np.ones(11))
    other = ReplayMemory(8, (3,))
    other.load_state_dict(mem.state_dict())
    assert other.pos == mem.pos and other.size == mem.size
    assert np.array_equal(other.obs, mem.obs) and np.array_equal(other.reward, mem.reward)


def test_td_target_terminal_does_not_bootstrap_but_truncation_does():
    reward = torch.tensor([1.0, 1.0])
    next_q = torch.tensor([[5.0, 10.0], [5.0, 10.0]])
    # row 0 terminated (discount 0), row 1 truncated at the time limit (discount gamma)
    y = td_target(reward, torch.tensor([0.0, 0.99]), next_q)
    assert y.tolist() == pytest.approx([1.0, 1.0 + 0.99 * 10.0])


def test_td_target_double_dqn_uses_online_argmax_and_target_value():
    next_target = torch.tensor([[5.0, 10.0]])
    next_online = torch.tensor([[3.0, 1.0]])  # online net prefers action 0
    y = td_target(torch.tensor([0.0]), torch.tensor([1.0]), next_target, next_online)
    assert y.item() == pytest.approx(5.0)
    assert td_target(torch.tensor([0.0]), torch.tensor([1.0]), next_target).item() == pytest.approx(10.0)


def _push_episode(acc, rewards, terminated):
    outs = []
    for t, r in enumerate(rewards):
        last = t == len(rewards) - 1
        b = acc.push(
            np.array([[float(t)]]),
            np.array([0]),
            np.array([r]),
            np.array([[float(t + 1)]]),
            np.array([terminated and last]),
            np.array([last]),
            np.array([True]),
        )
        if b is not None:
            outs.append(b)
    return [tuple(x[i] for x in b) for b in outs for i in range(len(b[0]))]


def test_nstep_folds_rewards_and_discounts():
    acc = NStepAccumulator(3, 0.5, 1)
    rows = _push_episode(acc, [1.0, 2.0, 4.0, 8.0], terminated=True)
    by_start = {float(r[0][0]): r for r in rows}
    assert sorted(by_start) == [0.0, 1.0, 2.0, 3.0]
    # from s0: 1 + .5*2 + .25*4 = 3, bootstraps from s3 with gamma^3
    assert by_start[0.0][2] == pytest.approx(3.0) and by_start[0.0][3][0] == 3.0
    assert by_start[0.0][4] == pytest.approx(0.125)
    # tails of a terminated episode do not bootstrap
    assert by_start[2.0][2] == pytest.approx(4.0 + 0.5 * 8.0) and by_start[2.0][4] == 0.0
    assert by_start[3.0][4] == 0.0


def test_nstep_truncated_tail_bootstraps():
    acc = NStepAccumulator(3, 0.5, 1)
    rows = _push_episode(acc, [1.0, 1.0], terminated=False)  # truncated after 2 steps
    by_start = {float(r[0][0]): r for r in rows}
    assert by_start[0.0][4] == pytest.approx(0.25) and by_start[1.0][4] == pytest.approx(0.5)


def test_nstep_skips_autoreset_steps():
    acc = NStepAccumulator(1, 0.9, 2)
    out = acc.push(
        np.zeros((2, 1)),
        np.array([0, 1]),
        np.array([1.0, 1.0]),
        np.ones((2, 1)),
        np.array([False, False]),
        np.array([False, False]),
        np.array([True, False]),
    )
    assert len(out[0]) == 1 and out[1][0] == 0


def test_epsilon_schedules():
    lin = EpsilonSchedule(1.0, 0.1, 100, "linear")
    assert lin(0) == 1.0 and lin(50) == pytest.approx(0.55) and lin(100) == 0.1 and lin(10**6) == 0.1
    exp = EpsilonSchedule(1.0, 0.01, 100, "exponential")
    assert exp(50) == pytest.approx(0.1) and exp(200) == 0.01
    assert all(exp(t) >= exp(t + 1) for t in range(120))
    with pytest.raises(ValueError):
        EpsilonSchedule(1.0, 1.5, 10)


def test_qnetwork_shapes_and_dueling_identity():
    net = QNetwork(4, 3, (16, 16), dueling=True)
    x = torch.randn(5, 4)
    q = net(x)
    assert q.shape == (5, 3)
    z = net.body(x)
    adv = net.head(z)
    # dueling: the mean over actions of Q equals V
    assert torch.allclose(q.mean(1), net.value(z).squeeze(1), atol=1e-6)
    assert not torch.allclose(q, adv)


@pytest.mark.parametrize(
    "bad",
    [
        {"gamma": 0.0},
        {"lr": -1.0},
        {"loss": "l1"},
        {"optimizer": "rmsprop"},
        {"hidden": (0,)},
        {"eps_end": 2.0},
        {"batch_size": 100, "buffer_size": 10},
        {"target_update": "never"},
        {"n_step": 0},
    ],
)
def test_config_rejects_invalid_values(bad):
    with pytest.raises(UserError):
        DQNConfig(**bad)


@pytest.mark.parametrize(
    "obs, actions, hidden, dueling", [(4, 2, (128, 128), False), (6, 3, (5,), True), (2, 3, (), False)]
)
def test_weight_shapes_are_those_of_the_network_they_describe(obs, actions, hidden, dueling):
    """A model file is judged against these before a network exists: they must be the network's."""
    from neuroplay.rl.qnet import weight_shapes

    net = QNetwork(obs, actions, hidden, dueling)
    expected = [(name, tuple(t.shape)) for name, t in net.state_dict().items()]
    assert list(weight_shapes(obs, actions, hidden, dueling).items()) == expected
    assert [tuple(p.shape) for p in net.parameters()] == [shape for _, shape in expected]  # Adam's order


def test_adam_saves_one_form_on_either_path_and_resumes_across_them():
    """The fused kernel (CPU) and torch's Adam (elsewhere) save the same plain state, so a run saved
    by one continues on the other with the same parameters as if it had never switched."""
    from neuroplay.rl.optim import Adam

    def make(fallback: bool):
        torch.manual_seed(0)
        net = QNetwork(4, 2, (8,))
        opt = Adam(net.parameters(), lr=1e-2)
        if fallback:  # what a CUDA device gets
            opt._fallback = torch.optim.Adam(opt.params, lr=1e-2)
        return net, opt

    def steps(net, opt, n, seed):
        g = torch.Generator().manual_seed(seed)
        for _ in range(n):
            opt.zero_grad()
            net(torch.randn(16, 4, generator=g)).pow(2).mean().backward()
            opt.step()

    reference, ref_opt = make(False)
    steps(reference, ref_opt, 3, 1)
    steps(reference, ref_opt, 3, 2)
    for first, second in ((True, False), (False, True)):
        net_a, opt_a = make(first)
        steps(net_a, opt_a, 3, 1)
        state = opt_a.state_dict()
        assert set(state) == {"exp_avg", "exp_avg_sq", "steps"} and float(state["steps"][0]) == 3.0
        net_b, opt_b = make(second)
        net_b.load_state_dict(net_a.state_dict())
        opt_b.load_state_dict(state)
        steps(net_b, opt_b, 3, 2)
        for p, q in zip(net_b.parameters(), reference.parameters(), strict=True):
            assert torch.allclose(p, q, atol=1e-6)
