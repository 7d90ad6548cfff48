"""Grid world dynamics, map parsing, tabular Q-learning, its pictures and the ``qtable`` command."""

from __future__ import annotations

import dataclasses
import json

import gymnasium as gym
import numpy as np
import pytest

from neuroplay.common.errors import UserError
from neuroplay.rl.config import QLearningConfig
from neuroplay.rl.gridworld import (
    DEFAULT_MAP,
    DOWN,
    ENV_ID,
    LEFT,
    RIGHT,
    UP,
    GridWorldEnv,
    load_map,
    parse_map,
    register_gridworld,
)
from neuroplay.rl.qtable_run import run_qtable
from neuroplay.rl.tabular import (
    greedy_rollout,
    plot_policy_values,
    plot_returns,
    policy_text,
    train_qtable,
    values_text,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# --- environment dynamics ---------------------------------------------------------------------


def test_walls_and_edges_block_but_still_cost_a_move():
    env = GridWorldEnv("S#\n.G")
    obs, info = env.reset(seed=0)
    assert obs == 0 and info["pos"] == (0, 0)
    for action in (RIGHT, UP, LEFT):  # wall, top edge, left edge
        obs, reward, terminated, truncated, info = env.step(action)
        assert info["pos"] == (0, 0) and obs == 0
        assert reward == pytest.approx(-0.1)
        assert not terminated and not truncated
    obs, reward, *_, info = env.step(DOWN)
    assert info["pos"] == (1, 0) and obs == 2  # row * cols + col


def test_goal_and_pit_terminate_with_their_rewards():
    env = GridWorldEnv("XSG", goal_reward=3.0, pit_reward=-7.0, step_cost=-0.5)
    env.reset(seed=0)
    _, reward, terminated, truncated, info = env.step(RIGHT)
    assert (reward, terminated, truncated, info["pos"]) == (3.0, True, False, (0, 2))
    env.reset()
    _, reward, terminated, truncated, info = env.step(DOWN)  # edge: a plain move
    assert (reward, terminated) == (-0.5, False)
    _, reward, terminated, truncated, info = env.step(LEFT)
    assert (reward, terminated, truncated, info["pos"]) == (-7.0, True, False, (0, 0))
    with pytest.raises(RuntimeError):
        env.step(RIGHT)


def test_truncation_sets_truncated_not_terminated():
    env = GridWorldEnv(max_steps=3)
    env.reset(seed=0)
    flags = [env.step(LEFT)[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]


def test_slip_takes_a_random_other_action_from_the_env_rng():
    def outcomes(seed: int) -> list[tuple[int, int]]:
        env = GridWorldEnv("...\n.S.\n..G", slip=0.5)
        env.reset(seed=seed)
        seen = []
        for _ in range(400):
            _, _, _, _, info = env.step(UP)
            seen.append(info["pos"])
            env.reset()
        return seen

    seen = outcomes(1)
    assert seen == outcomes(1)  # seeded
    share_up = seen.count((0, 1)) / len(seen)
    assert 0.4 < share_up < 0.6
    assert {(1, 2), (2, 1), (1, 0)} <= set(seen)  # every other direction happens


def test_registered_env_with_custom_map_and_renders():
    register_gridworld()
    register_gridworld()  # idempotent
    env = gym.make(ENV_ID, grid_map="S.X\n..G", render_mode="ansi")
    obs, info = env.reset(seed=0)
    assert env.observation_space == gym.spaces.Discrete(6) and env.action_space.n == 4
    assert (obs, info["pos"]) == (0, (0, 0))
    env.step(DOWN)
    assert env.render() == "S.X\n@.G\n"
    rgb = GridWorldEnv("S.X\n..G", render_mode="rgb_array")
    rgb.reset(seed=0)
    image = rgb.render()
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.shape[0] * 3 == image.shape[1] * 2  # 2 rows, 3 columns of square cells


# --- maps -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("S.G\n.S.", "exactly one start"),
        ("..G\n...", "found 0"),
        ("S.G\n..", "line 2 has 2 cells"),
        ("S.G\n.?.", "line 2, column 2"),
        ("S..\n...", "no goal"),
        ("S#G", "can be reached"),
        ("SXG", "can be reached"),
        ("\n  \n", "empty"),
        ("S" + "." * 50 + "G", "at most 50x50"),
    ],
)
def test_parse_map_rejects_bad_maps(text, fragment):
    with pytest.raises(UserError, match=fragment):
        parse_map(text)


def test_parse_map_tolerates_indentation_and_trailing_space():
    grid = parse_map("\n    S.#  \n    ..G\n\n")
    assert grid.layout == ("S.#", "..G") and grid.start == (0, 0) and grid.n_states == 6
    assert parse_map(DEFAULT_MAP).start == (2, 0)


def test_load_map_reads_text_and_rejects_bad_files(tmp_path):
    good = tmp_path / "map.txt"
    good.write_text("S..\n#.G\n")
    assert load_map(good).layout == ("S..", "#.G")
    binary = tmp_path / "map.bin"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    bad = tmp_path / "bad.txt"
    bad.write_text("S.Z\n..G\n")
    for path, fragment in [
        (tmp_path / "missing.txt", "not found"),
        (tmp_path, "directory"),
        (binary, "not a text file"),
        (bad, "bad.txt: map line 1, column 3"),
    ]:
        with pytest.raises(UserError, match=fragment):
            load_map(path)


# --- Q-learning -------------------------------------------------------------------------------


def test_q_learning_reaches_goal_and_avoids_pits_on_default_map():
    result = train_qtable(QLearningConfig(seed=0))
    path = result.greedy_path()
    grid = result.grid_map
    assert result.success
    assert grid.cell(path[-1]) == "G" and not any(grid.cell(p) == "X" for p in path)
    assert len(path) - 1 in (8, 10)  # the edge of the pits or the walled-off top route
    assert result.returns.shape == result.lengths.shape == (500,)
    assert result.returns[-50:].mean() > 7.0 > result.returns[:50].mean()


def test_no_bootstrap_past_termination():
    # optimistic q_init makes the goal's own (never updated) row non-zero: a bootstrap would show
    config = QLearningConfig(episodes=30, alpha=1.0, eps_start=1.0, eps_end=1.0, q_init=5.0)
    result = train_qtable(config, parse_map("SG"))
    assert result.q[0, RIGHT] == 10.0


def test_bootstrap_on_truncation():
    config = QLearningConfig(episodes=1, alpha=1.0, gamma=0.9, eps_start=0.0, eps_end=0.0, max_steps=1, q_init=5.0)
    result = train_qtable(config, parse_map("S.G"))
    # whichever way the single move went, its target is step cost + gamma * max Q(next) = -0.1 + 0.9 * 5
    assert sorted(result.q[0]) == pytest.approx([4.4, 5.0, 5.0, 5.0])
    assert np.all(result.q[1:] == 5.0)


def test_same_seed_same_table_and_different_seed_differs():
    config = QLearningConfig(episodes=80, slip=0.2, seed=3)
    first, again = train_qtable(config), train_qtable(config)
    other = train_qtable(QLearningConfig(episodes=80, slip=0.2, seed=4))
    assert np.array_equal(first.q, again.q) and np.array_equal(first.returns, again.returns)
    assert not np.array_equal(first.q, other.q)


def test_greedy_rollout_detects_loops():
    grid = parse_map("S.G")
    q = np.zeros((3, 4))
    q[:, LEFT] = 1.0  # bumps into the edge forever
    path, success = greedy_rollout(grid, q)
    assert not success and path == [(0, 0), (0, 0)]


@pytest.mark.parametrize(
    "kwargs",
    [{"alpha": 0.0}, {"alpha": 1.5}, {"gamma": 1.1}, {"episodes": 0}, {"slip": 1.0}, {"eps_end": -0.1}],
)
def test_config_rejects_invalid_values(kwargs):
    with pytest.raises(UserError):
        QLearningConfig(**kwargs)


def test_text_and_png_pictures(tmp_path):
    result = train_qtable(QLearningConfig(episodes=200, seed=1))
    text = policy_text(result.grid_map, result.q)
    assert set("→↑") <= set(text) and "█" in text and "G" in text and text.count("X") == 3
    assert len(text.splitlines()) == result.grid_map.n_rows
    values = values_text(result.grid_map, result.q).splitlines()
    assert len(values) == 5 and "#" in values[1] and float(values[2].split()[0]) > 0
    plot_policy_values(tmp_path / "pv.png", result.grid_map, result.q, title="test")
    plot_returns(tmp_path / "ret.png", result.returns)
    for name in ("pv.png", "ret.png"):
        data = (tmp_path / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pv.png", "ret.png"]  # no temp files left


# --- the run folder and the command line ----------------------------------------------------------


def test_run_qtable_writes_the_folder_and_returns_its_summary(tmp_path):
    result, summary = run_qtable(tmp_path / "run", QLearningConfig(episodes=120, seed=5))
    assert summary == json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["episodes"] == 120 and summary["seed"] == 5 and summary["success"] == result.success
    assert summary["greedy_path_length"] == len(result.greedy_path()) - 1
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "policy_values.png",
        "qtable.csv",
        "returns.png",
        "summary.json",
    ]
    again, _ = run_qtable(tmp_path / "again", QLearningConfig(episodes=120, seed=5))
    assert np.array_equal(again.q, result.q)
    assert (tmp_path / "again" / "qtable.csv").read_bytes() == (tmp_path / "run" / "qtable.csv").read_bytes()


def test_cli_json_writes_files(run_cli, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = run_cli("qtable", "--episodes", 150, "--out", out, "--json", "--seed", 2)
    assert code == 0, err
    lines = stdout.strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    for key in ("episodes", "success", "greedy_path_length", "mean_return_last_50", "out", "policy_png"):
        assert key in summary
    assert summary["episodes"] == 150 and summary["out"] == str(out)
    for name in ("policy_values.png", "returns.png", "qtable.csv", "summary.json"):
        assert (out / name).stat().st_size > 0
    assert json.loads((out / "summary.json").read_text())["seed"] == 2
    rows = (out / "qtable.csv").read_text().splitlines()
    assert rows[0] == "state,row,col,cell,up,right,down,left" and len(rows) == 1 + 35


def test_cli_defaults_are_the_configs(run_cli, tmp_path):
    code, stdout, err = run_cli("qtable", "--out", tmp_path, "--json", "-q")
    assert code == 0, err
    saved = json.loads(stdout.strip().splitlines()[-1])["config"]
    assert saved == dataclasses.asdict(QLearningConfig())


def test_cli_prints_policy_with_custom_map(run_cli, tmp_path):
    grid = tmp_path / "tiny.txt"
    grid.write_text("S..\n.#X\n..G\n")
    code, stdout, err = run_cli("qtable", "--map", grid, "--episodes", 60, "--out", tmp_path / "o")
    assert code == 0, err
    assert "greedy policy" in stdout and "█" in stdout and "state values" in stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--map", "no/such/map.txt"], "map file not found"),
        (["--map", "MAP"], "no goal"),
        (["--alpha", "0"], "alpha"),
        (["--gamma", "2"], "gamma"),
        (["--slip", "1"], "slip"),
        (["--episodes", "0"], "episodes"),
        (["--device", "tpu"], "--device"),
        (["--episodes", "many"], "--episodes"),
    ],
)
def test_cli_bad_input_is_one_error_line_and_exit_2(run_cli, tmp_path, args, fragment):
    (tmp_path / "MAP").write_text("S..\n.#.\n")
    args = [str(tmp_path / "MAP") if a == "MAP" else a for a in args]
    code, stdout, err = run_cli("qtable", *args, "--out", tmp_path / "o")
    assert code == 2, err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert fragment in err
    assert not (tmp_path / "o").exists()  # nothing half-written
