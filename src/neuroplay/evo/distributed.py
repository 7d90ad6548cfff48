"""Evaluate a population on Ray: the genomes are split into contiguous shards, each shard
flies as one Ray task, and the results are put back together in order.

:func:`neuroplay.evo.population.fly` treats every (bird, course) row independently, so the
sharded result is bit-for-bit the local one and a run gives the same birds either way.

Fault tolerance: a task whose worker process dies (killed, out of memory, node lost) is
retried by Ray up to ``max_retries`` times. A shard's evaluation is pure (same inputs, same
outputs, no side effects), so a retried shard is simply computed again: nothing is lost and
nothing is counted twice. Exceptions raised *inside* a task are not retried: they are bugs
and surface at once.

Ray is an optional extra (``pip install 'neuroplay[ray]'``) and is imported only when used.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from neuroplay.common.errors import UserError
from neuroplay.common.ray_cluster import connect, import_ray
from neuroplay.evo.population import MLPShape, fly

if TYPE_CHECKING:  # ga imports torch, which Ray workers do not need
    from neuroplay.evo.ga import Evaluator

# Test hook: if this environment variable names a file that does not exist yet, the first task
# to see it creates the file and kills its own worker process (to exercise Ray's retries).
_FAULT_HOOK = "NEUROPLAY_TEST_KILL_ONCE"
_started_ray = False  # whether ray_evaluator started Ray (and so shutdown() may stop it)
_remote_fly: Any = None


def _fly_shard(shape: MLPShape, genomes: np.ndarray, courses: list, max_pipes: int):
    marker = os.environ.get(_FAULT_HOOK)
    if marker:
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            pass
        else:
            os._exit(1)
    return fly(shape, genomes, courses, max_pipes)


def ray_evaluator(
    shape: MLPShape, address: str | None = None, workers: int | None = None, max_retries: int = 3
) -> Evaluator:
    """An evaluator for :func:`neuroplay.evo.ga.evolve` that flies the population on Ray.

    ``address``: ``None`` or ``"local"`` starts a local Ray instance (``workers`` CPUs, default
    all); ``"auto"`` or ``HOST:PORT`` / ``ray://HOST:PORT`` connects to a running cluster. If
    Ray is already initialised in this process, that instance is used as it is. ``workers``
    is the number of shards per evaluation (default: the CPUs Ray reports), never more than
    the number of genomes. ``max_retries`` is how often Ray reruns a shard whose worker died.

    Returns ``evaluate(genomes, courses, max_pipes) -> (frames, pipes, miss)``, equal bit for
    bit to :func:`neuroplay.evo.population.fly` on the whole population.
    Raises :class:`UserError` if Ray is not installed or the cluster cannot be reached.
    """
    global _remote_fly, _started_ray
    if workers is not None and workers < 1:
        raise UserError(f"--ray-workers must be >= 1, got {workers}")
    if max_retries < 0:
        raise UserError(f"max_retries must be >= 0, got {max_retries}")
    ray = import_ray()
    _started_ray = connect(ray, address, workers) or _started_ray
    if _remote_fly is None:
        _remote_fly = ray.remote(_fly_shard)
    task = _remote_fly.options(num_cpus=1, max_retries=max_retries, retry_exceptions=False)
    n_shards = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))

    def evaluate(genomes: np.ndarray, courses: list, max_pipes: int):
        shards = np.array_split(genomes, max(1, min(n_shards, len(genomes))))
        courses_ref = ray.put(list(courses))  # shipped once, shared by every shard
        results = ray.get([task.remote(shape, shard, courses_ref, max_pipes) for shard in shards])
        frames, pipes, miss = zip(*results, strict=True)
        return np.concatenate(frames), np.concatenate(pipes), np.concatenate(miss)

    return evaluate


def shutdown() -> None:
    """Stop Ray if :func:`ray_evaluator` started it; an instance the caller started is left running."""
    global _started_ray, _remote_fly
    if _started_ray:
        import ray

        ray.shutdown()
        _started_ray, _remote_fly = False, None


@contextmanager
def ray_evaluation(shape: MLPShape, address: str | None = None, workers: int | None = None) -> Iterator[Evaluator]:
    """``with ray_evaluation(shape, address) as evaluate: evolve(..., evaluator=evaluate)``;
    shuts Ray down afterwards if it was started here."""
    try:
        yield ray_evaluator(shape, address, workers)
    finally:
        shutdown()
