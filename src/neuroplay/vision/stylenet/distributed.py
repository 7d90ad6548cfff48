"""A folder of images styled on Ray: the images are split into contiguous shards, one Ray task each.

Every task rebuilds the same network from its weights (shipped once with ``ray.put``) and writes
its images itself (so on a cluster, input and output folders must be on a filesystem every node
sees, as with any shared-storage batch job). A network applied to an image does not depend on
which process runs it, so the outputs are the files one process would write; the summary is put
back together in the folder's order. A task whose worker dies is retried (``max_retries``):
writing an image again gives the same file. Ray is imported only here, only when asked for.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from neuroplay.common.errors import UserError
from neuroplay.common.ray_cluster import connect, import_ray
from neuroplay.vision.stylenet.apply import ApplyJob, Progress, summarize


def _style_shard(widths, blocks, state, card, config, pairs):
    """One Ray task: ``(file, seconds or None, error or None)`` for each ``(input, output)`` pair."""
    import torch

    from neuroplay.vision.image import load_image, save_image
    from neuroplay.vision.stylenet.apply import stylize_image
    from neuroplay.vision.stylenet.model_file import StyleModel
    from neuroplay.vision.stylenet.network import StyleNet

    torch.set_num_threads(config.threads or 1)
    net = StyleNet(tuple(widths), blocks)
    net.load_state_dict(state)
    model = StyleModel(net.eval(), card)
    rows = []
    for src, out in pairs:
        t = time.perf_counter()
        try:
            styled = stylize_image(model, load_image(src), config.size, config.original_colors, config.precision)
            save_image(styled, out)
            rows.append((str(src), time.perf_counter() - t, None))
        except UserError as exc:
            rows.append((str(src), None, str(exc)))
    return rows


@contextmanager
def ray_connection(address: str | None, workers: int | None = None) -> Iterator[object]:
    """``with ray_connection("local") as ray: run_apply_ray(job, ray)``: Ray connected (see
    :func:`neuroplay.common.ray_cluster.connect`), and shut down afterwards if it was started here."""
    ray = import_ray()
    started_here = connect(ray, address, workers)
    try:
        yield ray
    finally:
        if started_here:
            ray.shutdown()


def run_apply_ray(job: ApplyJob, ray, workers: int | None = None, progress: Progress | None = None,
                  should_stop: Callable[[], bool] | None = None, max_retries: int = 3) -> dict:  # fmt: skip
    """:func:`~neuroplay.vision.stylenet.apply.run_apply` of a folder job over a connected ``ray``
    (:func:`ray_connection`), in ``workers`` shards (default: Ray's CPUs)."""
    if job.kind != "folder":
        raise UserError("--ray splits a folder of images; give a folder as INPUT")
    started = time.perf_counter()
    task = ray.remote(_style_shard).options(num_cpus=1, max_retries=max_retries, retry_exceptions=False)
    n_shards = max(1, min(len(job.pairs), workers or int(ray.cluster_resources().get("CPU", 1))))
    net = job.model.net
    state = ray.put({k: v.detach().cpu() for k, v in net.state_dict().items()})
    shards = [list(s) for s in np.array_split(np.array(job.pairs, dtype=object), n_shards) if len(s)]
    pending = {task.remote(list(net.widths), net.blocks, state, job.model.card, job.config,
                           [tuple(p) for p in shard]): i for i, shard in enumerate(shards)}  # fmt: skip
    results: dict[int, list] = {}
    done_images, stopped = 0, False
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
        for ref in ready:
            index = pending.pop(ref)
            results[index] = ray.get(ref)
            done_images += len(results[index])
            if progress is not None:
                progress(done_images, len(job.pairs))
        if should_stop is not None and should_stop() and pending:
            for ref in pending:
                ray.cancel(ref)
            stopped = True
            break
    rows = [row for i in sorted(results) for row in results[i]]
    times = [seconds for _, seconds, _ in rows if seconds is not None]
    return summarize(
        job,
        times,
        started,
        interrupted=stopped,
        skipped=[{"file": f, "error": e} for f, _, e in rows if e is not None],
        ray_tasks=len(shards),
    )
