"""One Deep Dream job from named inputs to files: what ``neuroplay dream`` and the studio run.

Top to bottom; :func:`prepare_dream` does steps 1-3, so bad input fails there, before any work
(and before a caller starts its progress bar), and :func:`run_dream` does steps 4-5:

1. refuse a bad output name before any work (an image, or a .gif/.mp4 for the zoom animation);
2. choose the device (a missing GPU fails before anything is loaded);
3. load the image spec (a file or ``demo:NAME``), shrunk and checked against the octaves before
   the first step, then the guide and the mask;
4. run :func:`~neuroplay.vision.dream.dream`;
5. write the image, or the zoom frames as a video (:func:`~neuroplay.common.video.write_video`),
   and beside it its sidecar (``OUT.json``: every setting, the inputs, the timing).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from neuroplay.common.bounds import check_fits
from neuroplay.common.errors import check
from neuroplay.common.outputs import (
    IMAGE_SUFFIXES,
    check_output,
    output_summary,
    plan_outputs,
    sidecar_path,
    write_sidecar,
)
from neuroplay.common.runtime import resolve_device
from neuroplay.common.video import VIDEO_SUFFIXES, write_video
from neuroplay.vision.dream import dream, prepare_image
from neuroplay.vision.dream_config import DreamConfig, DreamProgress
from neuroplay.vision.image import load_image, load_spec, save_image, to_array

SIDECAR_KIND = "neuroplay-dream"
SIDECAR_VERSION = 1


def check_dream_output(output: Path, config: DreamConfig, inputs: Sequence[str] = ()) -> None:
    """Refuse a bad output before any work: an image name, or .gif/.mp4 when ``config`` has zoom frames."""
    suffix = output.suffix.lower()
    if config.zoom_frames:
        check(
            suffix in VIDEO_SUFFIXES, f"--zoom-frames writes an animation: name the output .gif or .mp4, not {output}"
        )
        check_output(output, inputs, VIDEO_SUFFIXES)
    else:
        hint = " (add --zoom-frames N for an animation)" if suffix in VIDEO_SUFFIXES else ""
        check_output(output, inputs, IMAGE_SUFFIXES, hint)
    plan_outputs(files=[sidecar_path(output)], inputs=inputs)  # the sidecar must not land on an input either


@dataclass
class DreamJob:
    """A dream whose output name is checked and whose inputs are loaded: made by
    :func:`prepare_dream`, run by :func:`run_dream`."""

    config: DreamConfig
    image: str  # the specs, as the user named them (recorded in the sidecar)
    guide: str | None
    mask: str | None
    output: Path
    picture: torch.Tensor  # already shrunk to config.max_size
    guide_image: torch.Tensor | None
    mask_image: torch.Tensor | None
    started: float  # time.perf_counter() when preparing began: the wall time counts loading too


def prepare_dream(
    config: DreamConfig,
    image: str,
    output: str | os.PathLike[str],
    *,
    guide: str | None = None,
    mask: str | os.PathLike[str] | None = None,
) -> DreamJob:
    """Check ``output`` and load the inputs; bad input (a wrong name, an unreadable file, an image
    too small for the octaves or too large, a missing GPU) is a
    :class:`~neuroplay.common.errors.UserError` here, before the first step.

    ``image`` and ``guide`` are specs (files or ``demo:NAME``); the guide's features steer the
    dream. ``mask``: an image file, bright where to dream. ``output``: an image, or with
    ``config.zoom_frames`` a .gif/.mp4.
    """
    started = time.perf_counter()
    output = Path(output)
    check_dream_output(output, config, [image] + [str(p) for p in (guide, mask) if p is not None])
    resolve_device(config.device)  # fail on a missing GPU before loading anything
    picture, _ = prepare_image(load_spec(image, config.max_size), config)
    if config.zoom_frames:  # every frame is kept (float32, then uint8) until the video is written
        pixels = 3 * picture.shape[-2] * picture.shape[-1]

        def need(frames: int) -> int:
            return 5 * pixels * (frames + 1) + 400 * 2**20

        what = f"a zoom of {config.zoom_frames} frames"
        check_fits(what, need(config.zoom_frames), "--zoom-frames", config.zoom_frames, need)
    guide_image = load_spec(guide) if guide is not None else None
    mask_image = load_image(mask) if mask is not None else None
    mask_name = str(mask) if mask is not None else None
    return DreamJob(config, image, guide, mask_name, output, picture, guide_image, mask_image, started)


def run_dream(
    job: DreamJob,
    callback: Callable[[DreamProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict:
    """Run ``job`` (:func:`~neuroplay.vision.dream.dream`) and write its image or video and sidecar.

    ``callback`` hears a :class:`~neuroplay.vision.dream_config.DreamProgress` after each step;
    ``should_stop`` is asked after each step, and a stopped dream still writes what it reached
    (``"interrupted": true`` in the summary). Returns the summary that ``--json`` prints; the
    sidecar holds it and every setting besides.
    """
    config, output = job.config, job.output
    result = dream(job.picture, config, callback, guide=job.guide_image, mask=job.mask_image, should_stop=should_stop)
    if config.zoom_frames:
        write_video(output, [to_array(frame) for frame in result.frames], config.fps)
    else:
        save_image(result.image, output)
    summary = {
        **output_summary(output, job.started, result.image),
        "dream_seconds": result.wall_seconds,
        "octave_sizes": [[int(w), int(h)] for h, w in result.octave_sizes],
        "tiles": result.tiles,
        "frames": len(result.frames),
        "interrupted": result.interrupted,
        "objective": result.objective,
        "seed": config.seed,
        "device": result.device,
        "precision": result.precision,
    }
    record = {**summary, "image": job.image, "guide": job.guide, "mask": job.mask, "config": config.as_dict()}
    write_sidecar(output, record, SIDECAR_KIND, SIDECAR_VERSION)
    return summary
