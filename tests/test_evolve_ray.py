"""Evaluation on Ray: sharded results equal local ones bit for bit, dead workers are retried,
and ``neuroplay evolve train --ray`` works (or says how to install Ray)."""

import json
import logging
import sys

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from neuroplay.common.errors import UserError  # noqa: E402
from neuroplay.common.ray_cluster import check_reachable  # noqa: E402
from neuroplay.evo import distributed  # noqa: E402
from neuroplay.evo.config import EvolveConfig  # noqa: E402
from neuroplay.evo.distributed import ray_evaluator  # noqa: E402
from neuroplay.evo.flappy.world import Course  # noqa: E402
from neuroplay.evo.ga import evolve  # noqa: E402
from neuroplay.evo.population import MLPShape, fly  # noqa: E402

SHAPE = MLPShape((3, 7, 1))


@pytest.fixture(scope="module")
def ray_instance(tmp_path_factory):
    """A local 2-CPU Ray instance; yields the fault hook's marker file (it exists: disarmed)."""
    marker = tmp_path_factory.mktemp("ray") / "killed"
    marker.touch()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
        runtime_env={"env_vars": {distributed._FAULT_HOOK: str(marker)}},
    )
    yield marker
    ray.shutdown()


@pytest.fixture(scope="module")
def birds() -> np.ndarray:
    """37 birds of mixed skill: a short run's champion plus noise of growing size, so rows die
    at different frames and some reach the pipe cap (both change which rows fly together)."""
    config = EvolveConfig(
        population=200, generations=20, seed=2, courses=2, hard_courses=1, train_pipes=4, target_pipes=4
    )
    champion = evolve(config).champion.genome
    noise = np.random.default_rng(1).normal(size=(37, SHAPE.n_params))
    return champion + noise * np.linspace(0.0, 1.0, 37)[:, None]


SEEDS = [11, 12, Course(13, hard=True)]


def fresh(seeds: list) -> list[Course]:  # Course objects grow as birds fly: give each run its own
    return [Course(c.seed, hard=c.hard) if isinstance(c, Course) else Course(c) for c in seeds]


def test_fly_rows_are_independent(birds):
    # what sharding relies on: a bird's result does not depend on who else flies with it
    genomes, seeds = birds, SEEDS
    whole = fly(SHAPE, genomes, fresh(seeds), 4)
    assert (whole[1] == 0).any() and (whole[1] == 4).any() and len(np.unique(whole[0])) > 10
    for i in range(len(genomes)):
        alone = fly(SHAPE, genomes[i : i + 1], fresh(seeds), 4)
        for a, b in zip(alone, whole, strict=True):
            np.testing.assert_array_equal(a[0], b[i])


@pytest.mark.parametrize("workers", [2, 5, 37, 100])
def test_sharded_evaluation_equals_local_fly(ray_instance, birds, workers):
    genomes, seeds = birds, SEEDS
    expected = fly(SHAPE, genomes, fresh(seeds), 4)
    got = ray_evaluator(SHAPE, workers=workers)(genomes, fresh(seeds), 4)
    for a, b in zip(got, expected, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape == (37, 3)
        np.testing.assert_array_equal(a, b)


def test_evolve_on_ray_equals_local_evolve(ray_instance):
    config = EvolveConfig(
        population=200, generations=8, seed=3, courses=2, hard_courses=1, train_pipes=3, evidence_courses=20
    )
    local = evolve(config)
    remote = evolve(config, evaluator=ray_evaluator(MLPShape(config.sizes), workers=3))

    def strip(stats):
        return [{k: v for k, v in s.items() if k != "wall_seconds"} for s in stats]

    assert remote.generations == local.generations == 8
    assert strip(remote.stats) == strip(local.stats)
    assert remote.champion.generation == local.champion.generation
    np.testing.assert_array_equal(remote.champion.genome, local.champion.genome)


def test_a_worker_that_dies_is_retried(ray_instance, birds):
    marker = ray_instance
    genomes, seeds = birds, SEEDS
    expected = fly(SHAPE, genomes, fresh(seeds), 4)

    marker.unlink()  # arm the hook: the next task to start kills its worker
    with pytest.raises(ray.exceptions.WorkerCrashedError):
        ray_evaluator(SHAPE, workers=2, max_retries=0)(genomes, fresh(seeds), 4)
    assert marker.exists()

    marker.unlink()
    got = ray_evaluator(SHAPE, workers=2, max_retries=1)(genomes, fresh(seeds), 4)
    assert marker.exists()  # a worker did die, and its shard was run again
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)


def test_cli_train_on_ray(ray_instance, run_cli, tmp_path):
    args = ["evolve", "train", "--population", 20, "--generations", 2, "--courses", 1, "--hard-courses", 1]
    args += ["--train-pipes", 3, "--validation-courses", 1, "--seed", 1, "--quiet", "--json"]
    code, stdout, err = run_cli(*args, "--ray", "local", "--ray-workers", 2, "--out", tmp_path / "ray")
    assert code == 0, err
    on_ray = json.loads(stdout.strip().splitlines()[-1])
    assert on_ray["ray"] == "local" and on_ray["generations"] == 2
    assert ray.is_initialized()  # the CLI used the running instance and left it running

    code, stdout, err = run_cli(*args, "--out", tmp_path / "local")
    assert code == 0, err
    here = json.loads(stdout.strip().splitlines()[-1])
    assert here["ray"] is None
    assert here["best_pipes"] == on_ray["best_pipes"] and here["validation_deaths"] == on_ray["validation_deaths"]


def test_cli_without_ray_says_how_to_install(run_cli, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails
    code, stdout, err = run_cli(
        "evolve", "train", "--ray", "local", "--population", 10, "--generations", 1, "--out", tmp_path / "r"
    )
    assert code == 2
    assert err.strip() == "error: --ray needs the optional Ray extra: pip install 'neuroplay[ray]'"
    code, _, err = run_cli("evolve", "train", "--ray-workers", 2, "--out", tmp_path / "w")
    assert code == 2 and "--ray-workers needs --ray" in err


def test_unreachable_or_malformed_address_fails_fast():
    with pytest.raises(UserError, match="cannot connect to the Ray cluster at 127.0.0.1:1"):
        check_reachable("127.0.0.1:1", timeout=2)
    with pytest.raises(UserError, match="HOST:PORT"):
        check_reachable("cluster-without-port")
    with pytest.raises(UserError, match="--ray-workers must be >= 1"):
        ray_evaluator(SHAPE, workers=0)
