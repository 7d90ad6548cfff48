"""Applying a style network: one image, every image of a folder, or every frame of a video.

:func:`stylize_image` is the core (resize, one forward pass, optional original colours).
:func:`prepare_apply` checks everything before any work — the model, the input's kind, every
output path (a folder's outputs may not land on its inputs) and the memory a video needs — and
:func:`run_apply` does the work, reporting progress, and returns the summary the CLI prints:
``wall_seconds``, ``seconds_per_image`` (the median per image: read, stylise, write), ``images``
and ``output``. A folder's unreadable files are skipped and listed; a video comes back in its own
format with the same frame count and rate (:mod:`neuroplay.common.video`).

Video flicker: instance norm sees each frame alone, so small changes between frames can change a
texture's placement. With ``deflicker`` > 0, a pixel whose input barely changed since the last frame
keeps that share of its last output (an exponential blend gated by the input's change), which
steadies still areas and leaves moving ones alone.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from neuroplay.common.bounds import check_fits
from neuroplay.common.errors import UserError
from neuroplay.common.outputs import IMAGE_SUFFIXES, plan_outputs
from neuroplay.common.runtime import resolve_device, resolve_precision, torch_threads
from neuroplay.common.video import VIDEO_SUFFIXES, VideoWriter, open_video, read_ahead, video_info
from neuroplay.vision import color
from neuroplay.vision.image import from_array, load_image, resize, save_image, scaled_size, to_array
from neuroplay.vision.stylenet.config import ApplyConfig
from neuroplay.vision.stylenet.model_file import StyleModel

Progress = Callable[[int, int], None]  # (done, total)
BYTES_PER_PIXEL = 400  # the network's maps at inference, per pixel of the image
BASE_BYTES = 200 * 2**20
STILL = 0.04  # the input change (mean over channels, 0..1) at which a pixel no longer counts as still


def stylize_image(model: StyleModel, image: torch.Tensor, size: int | None = None,
                  original_colors: bool = False, precision: str = "fp32") -> torch.Tensor:  # fmt: skip
    """``image`` (``1×3×H×W`` in [0, 1]) through the network: longest side ``size`` (``None``:
    its own), ``original_colors`` keeps the input's colours, ``precision`` ``fp32``, ``bf16`` or
    ``auto`` (bfloat16 weights and maps where the hardware computes it natively: on this project's
    CPU 2.6× faster than float32, pixels a mean 1/255 from float32's). Returns a CPU tensor in [0, 1]."""
    device = next(model.net.parameters()).device
    if size is not None:
        image = resize(image, scaled_size(image.shape[-2], image.shape[-1], size))
    chosen = resolve_precision(precision, device)
    x = image.to(device)
    if chosen == "bf16":
        x = x.to(torch.bfloat16)
    with torch.inference_mode():
        out = model.inference_net(chosen)(x).float().clamp(0, 1).cpu()
    if original_colors:
        out = color.keep_colors(out, image.cpu())
    return out


def resolve_model(spec: str | os.PathLike[str], device: torch.device | str = "cpu") -> StyleModel:
    """``builtin:NAME`` (a network that ships with neuroplay) or a model file's path, loaded and checked."""
    from neuroplay.vision.stylenet.builtin import BUILTIN_PREFIX, load_builtin
    from neuroplay.vision.stylenet.model_file import load_model

    text = str(spec)
    if text.startswith(BUILTIN_PREFIX):
        return load_builtin(text[len(BUILTIN_PREFIX) :], device)
    return load_model(spec, device)


@dataclass
class ApplyJob:
    """A checked apply: what to read, what to write, and with which network."""

    model: StyleModel
    model_spec: str
    kind: str  # "image", "folder" or "video"
    input: Path
    output: Path
    config: ApplyConfig
    pairs: list[tuple[Path, Path]] = field(default_factory=list)  # folder: (input, output) per image
    device: torch.device = torch.device("cpu")


def input_kind(path: Path) -> str:
    """``folder``, ``video`` or ``image``, from what ``path`` is; anything else is a :class:`UserError`."""
    if path.is_dir():
        return "folder"
    if not path.exists():
        raise UserError(f"input not found: {path}")
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    raise UserError(f"cannot read {path}: give an image (.png, .jpg), a folder of them, or a video (.gif, .mp4)")


def folder_pairs(folder: Path, out_dir: Path) -> list[tuple[Path, Path]]:
    """Each image under ``folder`` (recursively, sorted) with its output under ``out_dir`` (same relative name)."""
    images = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not images:
        raise UserError(f"no images (.png, .jpg, .jpeg) in {folder}")
    return [(p, out_dir / p.relative_to(folder)) for p in images]


def prepare_apply(model_spec: str | os.PathLike[str], input_path: str | os.PathLike[str],
                  output: str | os.PathLike[str], config: ApplyConfig | None = None) -> ApplyJob:  # fmt: skip
    """Check the job before any work: input kind, outputs (never onto an input), memory, the model."""
    config = config or ApplyConfig()
    src, out = Path(input_path), Path(output)
    kind = input_kind(src)
    pairs: list[tuple[Path, Path]] = []
    if kind == "folder":
        pairs = folder_pairs(src, out)
        plan_outputs(dirs=[out])
        inputs = {p.resolve() for p, _ in pairs}
        clash = next((o for _, o in pairs if o.resolve() in inputs), None)
        if clash is not None:
            raise UserError(f"the output {clash} would overwrite an input; choose another output folder")
    else:
        wanted = VIDEO_SUFFIXES if kind == "video" else IMAGE_SUFFIXES
        if out.suffix.lower() not in wanted:
            same = "the video's own format" if kind == "video" else "an image file"
            raise UserError(f"cannot save {out}: the input is {'a video' if kind == 'video' else 'an image'}; "
                            f"give {same} ({', '.join(wanted)})")  # fmt: skip
        if kind == "video" and out.suffix.lower() != src.suffix.lower():
            raise UserError(f"a {src.suffix.lower()} video is written as {src.suffix.lower()}, not {out.suffix}")
        plan_outputs(files=[out], inputs=[src])
    if kind == "video":
        _check_video_memory(src, config)
    device = resolve_device(config.device)
    model = resolve_model(model_spec, device)
    return ApplyJob(model, str(model_spec), kind, src, out, config, pairs, device)


def _check_video_memory(path: Path, config: ApplyConfig) -> None:
    frames, _, height, width = video_info(path)

    held = max(frames, 1) if path.suffix.lower() == ".gif" else 16  # a GIF's output is written at the end

    def need(size: int) -> int:  # the network's maps, the output frames held, the frames read ahead
        h, w = scaled_size(height, width, size) if size else (height, width)
        return BASE_BYTES + BYTES_PER_PIXEL * h * w + 3 * h * w * held + 3 * height * width * 16

    size = config.size or max(height, width)
    check_fits(f"a video of {frames} frames", need(size), "--size", size, need)


def run_apply(job: ApplyJob, progress: Progress | None = None,
              should_stop: Callable[[], bool] | None = None) -> dict:  # fmt: skip
    """Do the job; the summary (``output``, ``images``, ``wall_seconds``, ``seconds_per_image`` ...)."""
    started = time.perf_counter()
    with torch_threads(job.config.threads):
        if job.kind == "image":
            times, extra = [_one(job, job.input, job.output)], {}
            if progress is not None:
                progress(1, 1)
        elif job.kind == "folder":
            times, extra = _folder(job, progress, should_stop)
        else:
            times, extra = _video(job, progress, should_stop)
    return summarize(job, times, started, **extra)


def summarize(job: ApplyJob, times: list[float], started: float, **extra) -> dict:
    """What an apply run reports (``--json``), in one process or over Ray: ``times`` the seconds
    of each image done, ``started`` its ``perf_counter`` start; ``extra`` adds or overrides keys."""
    return {
        "output": str(job.output),
        "input": str(job.input),
        "kind": job.kind,
        "model": job.model_spec,
        "images": len(times),
        "wall_seconds": time.perf_counter() - started,
        "seconds_per_image": statistics.median(times) if times else None,
        "interrupted": False,
        **extra,
    }


def image_bytes(height: int, width: int) -> int:
    """The estimated peak memory of styling one ``height×width`` image."""
    return BASE_BYTES + BYTES_PER_PIXEL * height * width


def _check_image_memory(image: torch.Tensor, size: int | None, src: Path) -> None:
    h, w = image.shape[-2:]
    out_h, out_w = scaled_size(h, w, size) if size else (h, w)

    def need(side: int) -> int:
        return image_bytes(*scaled_size(h, w, side))

    check_fits(f"styling {src} at {out_w}×{out_h}", image_bytes(out_h, out_w), "--size", max(out_h, out_w), need)


def _one(job: ApplyJob, src: Path, out: Path) -> float:
    t = time.perf_counter()
    image = load_image(src)
    _check_image_memory(image, job.config.size, src)
    styled = stylize_image(job.model, image, job.config.size, job.config.original_colors, job.config.precision)
    save_image(styled, out)
    return time.perf_counter() - t


def _folder(job: ApplyJob, progress: Progress | None, should_stop) -> tuple[list[float], dict]:
    times, skipped, stopped = [], [], False
    for i, (src, out) in enumerate(job.pairs):
        if should_stop is not None and should_stop():
            stopped = True
            break
        try:
            times.append(_one(job, src, out))
        except UserError as exc:  # an unreadable file: skip it and say so
            skipped.append({"file": str(src), "error": str(exc)})
        if progress is not None:
            progress(i + 1, len(job.pairs))
    return times, {"skipped": skipped, "interrupted": stopped}


def deflicker_blend(out: torch.Tensor, previous_out: torch.Tensor, frame: torch.Tensor,
                    previous_frame: torch.Tensor, strength: float) -> torch.Tensor:  # fmt: skip
    """``out`` with each still pixel (input change well under :data:`STILL`) keeping up to
    ``strength`` of ``previous_out``; a pixel that changed takes the new output."""
    change = (frame - previous_frame).abs().mean(dim=1, keepdim=True)
    keep = strength * torch.exp(-((change / STILL) ** 2))
    return out * (1 - keep) + previous_out * keep


def _video(job: ApplyJob, progress: Progress | None, should_stop) -> tuple[list[float], dict]:
    """Frame by frame: decoding runs ahead in one thread and MP4 encoding behind in another, while
    this one styles; only a few frames are held at a time (a GIF's output, all of it)."""
    frames, fps = open_video(job.input)
    estimate = video_info(job.input)[0]  # for the progress bar: an MP4's count may be off by one or two
    times: list[float] = []
    prev_in = prev_out = None
    stopped = False
    with VideoWriter(job.output, fps) as writer, read_ahead(frames) as source:
        for pixels in source:
            if should_stop is not None and should_stop():
                stopped = True  # an interrupted video keeps the frames done so far, at the same rate
                break
            t = time.perf_counter()
            frame = from_array(pixels)
            if job.config.size is not None:
                frame = resize(frame, scaled_size(frame.shape[-2], frame.shape[-1], job.config.size))
            out = stylize_image(job.model, frame, None, job.config.original_colors, job.config.precision)
            if job.config.deflicker > 0 and prev_out is not None:
                out = deflicker_blend(out, prev_out, frame, prev_in, job.config.deflicker)
            prev_in, prev_out = frame, out
            writer.write(to_array(out))
            times.append(time.perf_counter() - t)
            if progress is not None:
                progress(len(times), max(estimate, len(times)))
    done = len(times)
    return times, {"frames": done, "input_frames": estimate if stopped else done, "fps": fps, "interrupted": stopped}
