"""Property tests: whatever a model, champion or run checkpoint holds, loading it either gives
something that works or is one :class:`UserError` naming the file — never another exception.

Hypothesis makes the files: a real one from a tiny run, with one to three values anywhere in it
replaced by hostile ones (wrong types, huge or negative numbers, NaN, tensors of other dtypes and
shapes) or removed, then written as anyone could (the project's own ``save_checkpoint``, so the
checksum is valid). Derandomized, so CI sees the same files every time.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from neuroplay.common.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from neuroplay.common.errors import UserError  # noqa: E402

SETTINGS = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
DELETE = object()

tensors = st.builds(
    lambda dtype, shape, fill: torch.full(shape, fill).to(dtype),
    st.sampled_from([torch.float32, torch.float64, torch.float16, torch.int64, torch.uint8, torch.bool]),
    st.lists(st.integers(0, 5), max_size=3).map(tuple),
    st.sampled_from([0.0, 1.0, -3.0, math.nan, math.inf, 200.0]),
)
hostile = st.one_of(
    st.just(DELETE),
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, 1, 2**31, 2**63 - 1, 10**12]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(-5, 5000), max_size=5),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    tensors,
)


def _paths(value, prefix=()) -> list[tuple]:
    """Every place in a nested checkpoint where a value could be replaced."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list | tuple) and len(value) <= 8:
        for i, item in enumerate(value):
            found += _paths(item, (*prefix, i))
    return found


def _mutate(data: dict, path: tuple, new) -> None:
    parent = data
    for key in path[:-1]:  # an earlier mutation may have replaced or removed the way there
        if not isinstance(parent, dict | list) or key not in (
            parent if isinstance(parent, dict) else range(len(parent))
        ):
            return
        parent = parent[key]
    last = path[-1]
    if isinstance(parent, dict) and last in parent:
        if new is DELETE:
            del parent[last]
        else:
            parent[last] = new
    elif isinstance(parent, list) and isinstance(last, int) and last < len(parent) and new is not DELETE:
        parent[last] = new
    elif isinstance(parent, tuple) and isinstance(last, int) and last < len(parent):
        pass  # an n-step entry is a tuple: its values are replaced with the tuple one level up


def _craft(source, dest, kind: str, draw) -> None:
    data = load_checkpoint(source, kind, 10)
    version = data.pop("format_version")
    data.pop("kind")
    paths = _paths(data)
    for _ in range(draw(st.integers(1, 3))):
        _mutate(data, draw(st.sampled_from(paths)), draw(hostile))
    save_checkpoint(dest, kind, version, data)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from neuroplay.evo.config import EvolveConfig
    from neuroplay.evo.ga import evolve
    from neuroplay.rl.config import DQNConfig
    from neuroplay.rl.dqn import DQN

    root = tmp_path_factory.mktemp("fuzz")
    DQN(
        DQNConfig(num_envs=2, hidden=(6,), buffer_size=200, batch_size=8, learning_starts=16, total_steps=120,
                  eval_every=60, eval_episodes=1, checkpoint_every=60, n_step=2)
    ).train(root / "dqn")  # fmt: skip
    evolve(
        EvolveConfig(population=8, hidden=(2,), generations=2, courses=1, hard_courses=1, train_pipes=2,
                     target_pipes=50, candidates=2, evidence_courses=1, elite=2, validation_courses=1),
        root / "evo",
    )  # fmt: skip
    return root


@pytest.fixture(autouse=True)
def _laptop_memory(monkeypatch):
    import neuroplay.common.bounds as bounds

    monkeypatch.setattr(bounds, "available_memory", lambda device=None: 8 * 2**30)


def _loaded_or_refused(load, named: Path):
    """``load()``, or None when it refused the file with a UserError that names ``named``."""
    try:
        value = load()
    except UserError as exc:
        event("refused")
        assert str(named) in str(exc)
        return None
    event("loaded")
    return value


@SETTINGS
@given(data=st.data())
def test_any_model_file_loads_into_a_working_agent_or_is_refused(files, tmp_path, data):
    from neuroplay.rl.dqn import DQN, MODEL_KIND

    path = tmp_path / "model.pt"
    _craft(files / "dqn" / "model.pt", path, MODEL_KIND, data.draw)
    if (agent := _loaded_or_refused(lambda: DQN.load(path), path)) is None:
        return
    q = agent.q_values(np.zeros((1, *agent.obs_shape), dtype=np.float32))
    assert np.isfinite(q).all()


@SETTINGS
@given(data=st.data())
def test_any_champion_file_loads_a_bird_that_flies_or_is_refused(files, tmp_path, data):
    from neuroplay.evo.champion import CHAMPION_KIND, load_champion

    path = tmp_path / "champion.pt"
    _craft(files / "evo" / "champion.pt", path, CHAMPION_KIND, data.draw)
    if (bird := _loaded_or_refused(lambda: load_champion(path), path)) is None:
        return
    flaps = bird.policy()(np.zeros((2, 3)))
    assert flaps.shape == (2,)


@SETTINGS
@given(data=st.data())
def test_any_run_checkpoint_resumes_or_is_refused(files, tmp_path_factory, data):
    import shutil

    from neuroplay.rl.dqn import DQN
    from neuroplay.rl.dqn_checkpoint import CHECKPOINT_KIND

    run = tmp_path_factory.mktemp("run")
    shutil.rmtree(run)
    shutil.copytree(files / "dqn", run)
    _craft(files / "dqn" / "checkpoint.pt", run / "checkpoint.pt", CHECKPOINT_KIND, data.draw)
    result = _loaded_or_refused(lambda: DQN.resume(run, total_steps=140).train(run, resume=True), run / "checkpoint.pt")
    if result is not None:
        assert result.env_steps >= 120
