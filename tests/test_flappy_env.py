"""The Flappy Bird gymnasium env and the renderer (frames, GIF/MP4 recordings, the window)."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from PIL import Image

from neuroplay.common.errors import UserError
from neuroplay.evo.flappy import ENV_ID, PHYS, Course, FlappyBirdEnv, World, register_flappy
from neuroplay.evo.flappy.render import PIPE, draw_frame, play_window, record, record_comparison


def steer(obs: np.ndarray) -> np.ndarray:
    """A hand-written pilot that keeps the bird near the next gap's centre (passes many pipes)."""
    height = (obs[..., 0] + 0.5) * 512 + PHYS.bird_h / 2
    gap_centre = (obs[..., 2] + 0.5) * 512
    return height > gap_centre + 6


def steer_policy(obs: np.ndarray, ids: np.ndarray) -> np.ndarray:
    return steer(obs)


def run(env: gym.Env, act, seed: int = 0, limit: int = 2000):
    obs, info = env.reset(seed=seed)
    rewards, observations = [], [obs]
    for _ in range(limit):
        obs, reward, terminated, truncated, info = env.step(int(act(obs)))
        rewards.append(reward)
        observations.append(obs)
        if terminated or truncated:
            break
    return np.array(rewards), np.array(observations), terminated, truncated, info


@pytest.mark.parametrize("obs_mode", ["simple", "rich"])
def test_env_passes_gymnasiums_checks(obs_mode):
    register_flappy()
    register_flappy()  # idempotent
    envs = [FlappyBirdEnv(obs_mode=obs_mode, render_mode="rgb_array"), gym.make(ENV_ID, obs_mode=obs_mode).unwrapped]
    for env in envs:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env, skip_render_check=False)
        real = [str(w.message) for w in caught if "not having a spec" not in str(w.message)]
        assert real == []
        env.close()
    assert gym.spec(ENV_ID).max_episode_steps is None


def test_reset_seed_picks_the_course():
    env = FlappyBirdEnv(obs_mode="rich")
    a, info = env.reset(seed=11)
    b, _ = env.reset(seed=11)
    c, _ = env.reset(seed=12)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert info == {"pipes": 0, "frame": 0}
    # reset(seed=s) flies course s, the same one the evolution's World(n, s) uses
    assert np.allclose(a[:3], World(1, Course(11)).observe()[0])
    # reset() without a seed continues the seeded stream: reproducible, and a new course each time
    env.reset(seed=5)
    first = [env.reset()[0] for _ in range(3)]
    env.reset(seed=5)
    again = [env.reset()[0] for _ in range(3)]
    assert all(np.array_equal(x, y) for x, y in zip(first, again, strict=True))
    assert not np.array_equal(first[0][2], first[1][2]) or not np.array_equal(first[1][2], first[2][2])


def test_gliding_bird_hits_the_ground_and_flying_one_scores():
    env = FlappyBirdEnv(max_steps=None)
    rewards, _, terminated, truncated, info = run(env, lambda obs: 0)
    assert terminated and not truncated
    assert len(rewards) < 40 and info["frame"] == len(rewards)
    assert rewards[-1] == -1.0 and np.allclose(rewards[:-1], 0.1)

    # flapping all the time takes the bird over the top, where the upper pipe reaches
    rewards, _, terminated, _, info = run(env, lambda obs: 1)
    assert terminated and info["pipes"] == 0 and 80 < len(rewards) < 130

    rewards, _, terminated, _, info = run(env, steer, limit=1200)
    assert info["pipes"] >= 5
    assert np.isclose(rewards, 1.1).sum() == info["pipes"]  # +1 per pipe on top of the frame's 0.1
    assert rewards.sum() == pytest.approx(0.1 * info["frame"] + info["pipes"] - (1.1 if terminated else 0))


def test_custom_rewards_and_truncation():
    env = FlappyBirdEnv(max_steps=150, reward_alive=0.0, reward_pipe=5.0, reward_death=-10.0)
    rewards, _, terminated, truncated, info = run(env, steer, seed=3)
    assert truncated and not terminated and info["frame"] == 150 and len(rewards) == 150
    assert rewards.sum() == 5.0 * info["pipes"] and info["pipes"] >= 1
    rewards, *_ = run(env, lambda obs: 0)
    assert rewards[-1] == -10.0


def test_observations_stay_inside_the_box():
    rng = np.random.default_rng(0)
    pilots = [lambda o: 1, lambda o: 0, steer, lambda o: rng.random() < 0.15]
    for mode in ("simple", "rich"):
        env = FlappyBirdEnv(obs_mode=mode, max_steps=600)
        space = env.observation_space
        for seed, act in enumerate(pilots):
            _, observations, *_ = run(env, act, seed=seed)
            assert observations.dtype == np.float32 and observations.shape[1] == space.shape[0]
            assert np.all(observations >= space.low) and np.all(observations <= space.high)
    # the bounds are tight enough to mean something: a bird flapping non-stop nearly reaches the top
    _, observations, *_ = run(FlappyBirdEnv(), lambda o: 1)
    assert observations[:, 0].min() - env.observation_space.low[0] < 5 / 512


def test_bad_settings_are_user_errors():
    with pytest.raises(UserError):
        FlappyBirdEnv(obs_mode="pixels")
    with pytest.raises(UserError):
        FlappyBirdEnv(max_steps=0)
    with pytest.raises(UserError):
        FlappyBirdEnv(render_mode="ansi")


def test_state_snapshot_resumes_exactly():
    # DQN checkpoints save envs with rl.envs.snapshot_env; a restored env must carry on identically
    from neuroplay.rl.envs import make_vec_env, restore_env, snapshot_env

    def fly(env, obs, n):
        trail = []
        for _ in range(n):
            obs = env.step(steer(obs).astype(np.int64))[0]
            trail.append(obs)
        return obs, np.array(trail)

    env = make_vec_env(ENV_ID, 3)
    obs, _ = fly(env, env.reset(seed=4)[0], 70)
    saved = snapshot_env(env)
    _, want = fly(env, obs, 400)  # long enough for crashes and auto-resets on new courses
    fresh = make_vec_env(ENV_ID, 3)
    fresh.reset(seed=99)
    restore_env(fresh, saved)
    _, got = fly(fresh, obs, 400)
    assert np.array_equal(want, got)


def test_rgb_array_render_shows_pipes():
    env = FlappyBirdEnv(render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (PHYS.screen_h, PHYS.screen_w, 3) and frame.dtype == np.uint8
    assert not (frame == PIPE).all(axis=2).any()  # the first pipe starts off screen
    for _ in range(60):
        env.step(int(env.unwrapped._world.y[0] > 250))
    frame = env.render()
    assert (frame == PIPE).all(axis=2).sum() > 500
    with pytest.warns(UserWarning, match="render_mode"):
        assert FlappyBirdEnv().render() is None


def test_draw_frame_with_many_birds_and_colours():
    world = World(300, Course(1))
    rng = np.random.default_rng(0)
    for _ in range(30):
        world.step(rng.random(len(world.y)) < 0.1)
    colors = rng.integers(0, 256, (300, 3)).astype(np.uint8)
    frame = draw_frame(world, generation=7, colors=colors)
    empty = draw_frame(world, generation=7, show=np.zeros(len(world.y), dtype=bool))
    assert frame.shape == (512, 288, 3) and frame.dtype == np.uint8
    bird_columns = slice(PHYS.bird_x, PHYS.bird_x + PHYS.bird_w)
    assert np.abs(frame[:400, bird_columns].astype(int) - empty[:400, bird_columns]).sum() > 0
    assert np.array_equal(frame[:400, 100:], empty[:400, 100:])  # birds stay in their column
    small = draw_frame(world, scale=0.5)
    assert small.shape == (256, 144, 3)


def test_record_writes_a_gif(tmp_path):
    out = tmp_path / "flight.gif"
    result = record(steer_policy, 2, out, n_birds=3, max_frames=21, frame_skip=4, scale=0.5, generation=1)
    assert out.read_bytes()[:3] == b"GIF"
    with Image.open(out) as gif:
        assert gif.n_frames == result["frames"] == 1 + 21 // 4 + 1  # frame 0, every 4th, and the last
        assert gif.size == (144, 256)
    assert result["world_frames"] == 21 and result["pipes"] == 0 and result["path"] == str(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flight.gif"]  # no temporary left behind
    # a crash ends the recording early
    result = record(lambda obs, ids: np.zeros(len(obs), bool), 2, out, max_frames=500, frame_skip=1)
    assert result["world_frames"] < 40 and result["frames"] == result["world_frames"] + 1


def test_record_mp4_and_refuse_other_names(tmp_path):
    out = tmp_path / "flight.mp4"
    assert record(steer_policy, 2, out, max_frames=20)["frames"] == 11
    assert out.stat().st_size > 0
    with pytest.raises(UserError, match=r"\.gif or \.mp4"):
        record(steer_policy, 2, tmp_path / "flight.png", max_frames=20)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flight.mp4"]


def test_comparison_puts_two_panels_side_by_side(tmp_path):
    out = tmp_path / "compare.gif"
    gliders = lambda obs, ids: np.zeros(len(obs), bool)  # noqa: E731
    result = record_comparison(
        [("generation 1", gliders, 1, 20), ("champion", steer_policy, 30)], 0, out, max_frames=80, frame_skip=4
    )
    assert result["world_frames"] == 80 and len(result["pipes"]) == 2
    with Image.open(out) as gif:
        assert gif.size == (2 * 144 + 8, 256)
        assert gif.n_frames == result["frames"] == 1 + 80 // 4
        gif.seek(gif.n_frames - 3)
        a = np.asarray(gif.convert("RGB"), dtype=int)
        gif.seek(gif.n_frames - 1)
        b = np.asarray(gif.convert("RGB"), dtype=int)
    # the crashed population's panel is frozen; the champion's keeps moving
    assert np.abs(a[:, :144] - b[:, :144]).mean() < 1 < np.abs(a[:, 152:] - b[:, 152:]).mean()


def test_play_window_runs_headless(monkeypatch):
    import pygame

    from neuroplay.evo.flappy.render import Window

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    assert play_window(steer_policy, 0, fps=1000, scale=0.5, max_frames=30) == [0]
    assert play_window(None, 0, fps=1000, max_frames=30) == [0]  # a human's bird waits for the first flap

    # a scripted human: flap once (then fall and crash), restart, flap, quit
    space = pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE)
    script = {1: [space], 60: [space], 61: [pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1)]}
    script[70] = [pygame.event.Event(pygame.QUIT)]
    calls = iter(range(1000))
    monkeypatch.setattr(Window, "events", lambda self: script.get(next(calls), []))
    assert play_window(None, 0, fps=1000) == [0, 0]


def test_dqn_trains_on_flappy():
    from neuroplay.rl.dqn import DQN, DQNConfig

    register_flappy()
    config = DQNConfig(
        env_id=ENV_ID,
        num_envs=2,
        total_steps=300,
        learning_starts=100,
        batch_size=32,
        eval_every=300,
        eval_episodes=2,
        solve_threshold=None,
    )
    agent = DQN(config)
    result = agent.train()
    assert result.env_steps >= 300 and result.episodes >= 1
    assert agent.obs_shape == (3,) and agent.n_actions == 2
