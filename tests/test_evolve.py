"""Neuro-evolution: batched MLPs, genetic operators, the GA loop, checkpoints and the CLI."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from neuroplay.common.errors import UserError
from neuroplay.evo import operators as ops
from neuroplay.evo.champion import evaluate_champion, load_champion
from neuroplay.evo.config import EvolveConfig
from neuroplay.evo.flappy.world import Course, World
from neuroplay.evo.ga import evolve
from neuroplay.evo.population import MLPShape, fly


def test_batched_forward_equals_per_bird_forward():
    shape = MLPShape((3, 7, 1))
    rng = np.random.default_rng(0)
    genomes = rng.normal(size=(50, shape.n_params))
    obs = rng.normal(size=(50, 3))
    batched = shape.output(shape.unpack(genomes), obs)[:, 0]
    for i in range(50):
        g = genomes[i]
        w1 = g[:21].reshape(3, 7)
        b1 = g[21:28]
        w2 = g[28:35].reshape(7, 1)
        b2 = g[35]
        h = 1 / (1 + np.exp(-(obs[i] @ w1 + b1)))
        assert batched[i] == pytest.approx((h @ w2)[0] + b2, rel=1e-5, abs=1e-5)  # flown in float32
    assert shape.n_params == 36


def test_roulette_picks_in_proportion_to_fitness():
    rng = np.random.default_rng(1)
    picks = ops.roulette(np.array([1.0, 3.0, 0.0, 6.0]), 100_000, rng)
    freq = np.bincount(picks, minlength=4) / len(picks)
    assert freq == pytest.approx([0.1, 0.3, 0.0, 0.6], abs=0.01)
    assert set(np.unique(ops.roulette(np.zeros(5), 1000, rng))) == set(range(5))


def test_tournament_prefers_the_fitter():
    rng = np.random.default_rng(2)
    fitness = np.arange(10.0)
    picks = ops.tournament(fitness, 20_000, 3, rng)
    assert picks.mean() > 6.0 and np.all(picks >= 0)
    assert np.all(ops.tournament(fitness, 100, 10, np.random.default_rng(3)) >= 5)


def test_crossover_swaps_exactly_the_first_layer_kernel():
    shape = MLPShape((3, 7, 1))
    a, b = np.zeros((4, 36)), np.ones((4, 36))
    ca, cb = ops.swap_first_layer(shape, a, b)
    assert np.all(ca[:, :21] == 1) and np.all(ca[:, 21:] == 0)
    assert np.all(cb[:, :21] == 0) and np.all(cb[:, 21:] == 1)
    assert np.all(a == 0) and np.all(b == 1)  # parents untouched


def test_mutation_rate_and_scale():
    rng = np.random.default_rng(4)
    g = np.zeros((500, 36))
    m = ops.mutate_uniform(g, 0.15, 0.5, rng)
    changed = m != 0
    assert changed.mean() == pytest.approx(0.15, abs=0.01)
    assert np.abs(m).max() <= 0.5
    assert np.all(g == 0)
    gm = ops.mutate_gaussian(g, 0.15, 0.3, rng)
    assert (gm != 0).mean() == pytest.approx(0.15, abs=0.01)
    assert gm[gm != 0].std() == pytest.approx(0.3, rel=0.05)


def test_fly_matches_a_world_stepped_by_hand():
    shape = MLPShape()
    genomes = shape.init(20, np.random.default_rng(5))
    frames, pipes, _ = fly(shape, genomes, [Course(3)], max_pipes=10_000)
    w = World(20, Course(3), compact=False)
    layers = shape.unpack(genomes)
    while w.n_alive:
        w.step(shape.flap(layers, w.observe()))
    assert np.array_equal(frames[:, 0], w.frames_all()) and np.array_equal(pipes[:, 0], w.pipes_all())


def test_fly_caps_at_max_pipes():
    shape = MLPShape()
    # a bird that always keeps to the gap: bias the net so it flaps exactly when below the gap centre
    g = np.zeros((1, 36))
    w1 = np.zeros((3, 7))
    w1[0, 0], w1[2, 0] = 60.0, -60.0  # hidden 0 ~ [height > gap centre]
    g[0, :21] = w1.ravel()
    g[0, 21] = -60.0 * 14 / 512  # flap once the bird's top is 14 px below the gap centre
    g[0, 28] = 10.0
    g[0, 35] = -5.0
    frames, pipes, _ = fly(shape, g, [Course(1), Course(2)], max_pipes=20)
    assert pipes.tolist() == [[20, 20]]


def test_short_evolution_clearly_improves():
    config = EvolveConfig(population=100, generations=12, seed=3, train_pipes=50)
    result = evolve(config)
    first = result.stats[0]
    assert first["best_pipes"] == 0
    assert max(s["best_fitness"] for s in result.stats[-4:]) > 3 * first["best_fitness"]
    assert max(s["max_pipes"] for s in result.stats[-4:]) >= 3


def test_default_algorithm_runs_and_keeps_its_elite(tmp_path):
    from neuroplay.common.checkpoint import load_checkpoint
    from neuroplay.evo.ga import CHECKPOINT_KIND, FORMAT_VERSION

    config = EvolveConfig(
        population=200, generations=6, seed=2, courses=2, hard_courses=1, train_pipes=3, target_pipes=50, elite=4
    )
    result = evolve(config, tmp_path)
    assert result.generations == 6 and len(result.stats) == 6 and result.champion is not None
    assert result.stats[-1]["elite_pipes"] > 0  # the elites have a record
    state = load_checkpoint(tmp_path / "checkpoint.pt", CHECKPOINT_KIND, FORMAT_VERSION)
    elites, genomes = state["elites"].numpy(), state["genomes"].numpy()
    assert elites.shape == (4, genomes.shape[1]) and genomes.shape[0] == 200
    # the elites go into the next generation unchanged, as its first rows, and the rest are new
    np.testing.assert_array_equal(genomes[:4], elites)
    # the champion is the most trusted elite
    np.testing.assert_array_equal(result.champion.genome, elites[0])


def test_height_and_gap_weights_start_opposite_and_mutate_mostly_together():
    shape = MLPShape((3, 7, 1))
    g = ops.oppose_height_gap(shape, shape.init(50, np.random.default_rng(0)))
    np.testing.assert_array_equal(g[:, 14:21], -g[:, 0:7])
    after = g.copy()
    after[:, 0:7] += 1.0  # a mutation of the height weights only
    coupled = ops.couple_height_gap(shape, g, after, sum_scale=0.1)
    dh, dg = coupled[:, 0:7] - g[:, 0:7], coupled[:, 14:21] - g[:, 14:21]
    np.testing.assert_allclose(dh - dg, 1.0)  # the difference moves in full
    np.testing.assert_allclose(dh + dg, 0.1)  # the sum a tenth as much
    np.testing.assert_array_equal(coupled[:, 7:14], after[:, 7:14])  # the distance weights as mutated
    np.testing.assert_array_equal(coupled[:, 21:], after[:, 21:])


def test_default_algorithm_wins_only_on_evidence_and_validation():
    config = EvolveConfig(
        population=200, generations=40, seed=1, target_pipes=10, train_pipes=10, courses=4, hard_courses=4,
        candidates=16, evidence_courses=40, validation_courses=60,
    )  # fmt: skip
    assert config.evidence_pipes == 200
    result = evolve(config)
    assert result.solved and result.generations < 40
    champ = result.champion
    assert len(champ.validation_pipes) == 60
    assert sum(p < 10 for p in champ.validation_pipes) <= config.validation_deaths
    last = result.stats[-1]
    assert last["validation_deaths"] != "" and last["elite_pipes"] >= 200
    unseen = evaluate_champion(champ, 40, 10, seed=77)
    assert (unseen >= 10).sum() >= 36  # it flies unseen courses as well as its record says


def test_elites_carry_over_unchanged_with_their_records():
    from neuroplay.evo.ga import _Run

    config = EvolveConfig(
        population=200, generations=8, seed=3, courses=2, hard_courses=1, train_pipes=3, evidence_courses=20
    )
    run = _Run(config, None, None, None, None)
    run.run(resume=False)
    assert 0 < len(run.elites) <= config.elite
    np.testing.assert_array_equal(run.genomes[: len(run.elites)], run.elites)
    starts, early, pipes, deaths = run.tally.T
    assert (starts >= config.evidence_courses).all() and (pipes > 0).all()


def test_resume_is_exact(tmp_path):
    config = EvolveConfig(
        population=200, generations=8, seed=3, courses=2, hard_courses=1, train_pipes=3, evidence_courses=20
    )
    full = evolve(config, tmp_path / "full")
    calls = {"n": 0}

    def stop_after_three():
        calls["n"] += 1
        return calls["n"] > 6

    part = evolve(config, tmp_path / "part", should_stop=stop_after_three)
    assert part.interrupted and part.generations == 6
    resumed = evolve(config, tmp_path / "part", resume=True)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_seconds"} for r in rows]  # noqa: E731
    assert strip(resumed.stats) == strip(full.stats)
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)["genomes"]
    b = torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=True)["genomes"]
    assert torch.equal(a, b)
    ta = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)["tally"]
    tb = torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=True)["tally"]
    assert len(ta) > 0 and torch.equal(ta, tb)  # the elites' records carried over too
    assert np.array_equal(load_champion(tmp_path / "full").genome, load_champion(tmp_path / "part").genome)


@pytest.mark.parametrize(
    "bad",
    [
        {"population": 1},
        {"mutation_rate": 0.0},
        {"mutation_rate": 1.5},
        {"mutation_scale": -1.0},
        {"algorithm": "neat"},
        {"elite": 1000},
        {"candidates": -1},
        {"parent_elite_rate": 1.5},
        {"validation_deaths": -1},
        {"hidden": (0,)},
        {"crossover_rate": 2.0},
    ],
)
def test_invalid_settings(bad):
    with pytest.raises(UserError):
        EvolveConfig(**bad)


def _assert_bad(result):
    code, _, err = result
    assert code == 2, err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_cli_train_eval_play(run_cli, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = run_cli(
        "evolve",
        "train",
        "--out",
        out,
        "--population",
        30,
        "--generations",
        3,
        "--courses",
        1,
        "--hard-courses",
        1,
        "--train-pipes",
        5,
        "--quiet",
        "--json",
    )
    assert code == 0, err
    res = json.loads(stdout.strip().splitlines()[-1])
    assert {"generations", "wall_seconds", "best_pipes", "champion"} <= set(res) and res["generations"] == 3
    assert (out / "stats.csv").exists() and (out / "fitness.png").exists() and (out / "champion.pt").exists()

    code, stdout, err = run_cli("evolve", "eval", out, "--courses", 3, "--max-pipes", 5, "--seed", 1, "--json")
    assert code == 0, err
    ev = json.loads(stdout.strip().splitlines()[-1])
    assert len(ev["pipes"]) == 3 and 0 <= ev["courses_reaching_max"] <= 3

    gif = tmp_path / "cmp.gif"
    code, stdout, err = run_cli("evolve", "play", out, "--gif", gif, "--compare", "--max-frames", 60, "--json")
    assert code == 0, err
    assert gif.read_bytes()[:3] == b"GIF"


def test_cli_bad_input(run_cli, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    _assert_bad(run_cli("evolve", "eval", bad))
    _assert_bad(run_cli("evolve", "eval", tmp_path / "missing.pt"))
    dqn_model = tmp_path / "dqn.pt"
    torch.save({"kind": "neuroplay.dqn.model", "format_version": 1}, dqn_model)
    _assert_bad(run_cli("evolve", "eval", dqn_model))
    _assert_bad(run_cli("evolve", "train", "--out", tmp_path / "r", "--population", 0, "--quiet"))
    _assert_bad(run_cli("evolve", "train", "--out", tmp_path / "r", "--mutation-rate", 3, "--quiet"))
    _assert_bad(run_cli("evolve", "train", "--out", tmp_path / "r", "--algorithm", "neat", "--quiet"))
    run = tmp_path / "existing"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"precious")
    _assert_bad(run_cli("evolve", "train", "--out", run, "--quiet"))
    _assert_bad(run_cli("evolve", "train", "--resume", run, "--quiet"))
    assert (run / "checkpoint.pt").read_bytes() == b"precious"


def test_cli_resume_takes_a_typed_budget_even_when_it_equals_the_default(run_cli, tmp_path, monkeypatch):
    from neuroplay.evo import ga

    run = tmp_path / "run"
    args = ["--population", 20, "--courses", 1, "--hard-courses", 0, "--target-pipes", 900, "--quiet"]
    code, _, err = run_cli("evolve", "train", "--out", run, "--generations", 2, *args)
    assert code == 0, err
    seen = {}
    real = ga.evolve

    def spy(config, out_dir, *a, **k):  # the settings the resumed run gets, on a short leash
        seen["config"], seen["resume"] = config, k.get("resume")
        return real(dataclasses.replace(config, generations=3), out_dir, *a, **k)

    monkeypatch.setattr(ga, "evolve", spy)
    # 300 is the default budget: typed, it counts, although it equals the default
    code, stdout, err = run_cli("evolve", "train", "--resume", run, "--generations", 300, "--quiet", "--json")
    assert code == 0, err
    assert seen["resume"] and seen["config"].generations == EvolveConfig().generations == 300
    assert seen["config"].population == 20 and seen["config"].target_pipes == 900  # the rest as saved
    assert json.loads(stdout.strip().splitlines()[-1])["generations"] == 3
    before = (run / "checkpoint.pt").read_bytes()
    code, _, err = run_cli("evolve", "train", "--resume", run, "--population", 20, "--quiet")
    assert code == 2 and "--population cannot change" in err and "--generations" in err
    assert (run / "checkpoint.pt").read_bytes() == before
