"""One style-transfer job from named inputs to files: what ``neuroplay style`` and the studio run.

Top to bottom; :func:`prepare_style` does steps 1-3, so bad input fails there, before any work
(and before a caller starts its progress bar), and :func:`run_style` does steps 4-5:

1. refuse a bad output name (a wrong type, a folder, one of the inputs) before any work;
2. choose the device (a missing GPU fails before anything is loaded);
3. load the content and style specs (files or ``demo:NAME``), the region mask and the init image;
4. run :func:`~neuroplay.vision.style.stylize`, saving ``OUT_0100.png``... every
   ``config.save_every`` iterations;
5. write the image and beside it its sidecar (``OUT.json``: every setting, the inputs, the losses).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from neuroplay.common.errors import check
from neuroplay.common.outputs import check_output, output_summary, plan_outputs, sidecar_path, write_sidecar
from neuroplay.common.runtime import resolve_device
from neuroplay.vision.image import load_image, load_spec, load_style_spec, save_image
from neuroplay.vision.regions import parse_region_styles, regions_from_mask
from neuroplay.vision.style import check_proportions, stylize
from neuroplay.vision.style_config import Region, StyleConfig, StyleStep

SIDECAR_KIND = "neuroplay-style"
SIDECAR_VERSION = 1


@dataclass
class StyleJob:
    """A style-transfer job whose output name is checked and whose inputs are loaded: made by
    :func:`prepare_style`, run by :func:`run_style`."""

    config: StyleConfig
    content: str  # the specs, as the user named them (recorded in the sidecar)
    styles: list[str]
    output: Path
    mask: str | None
    region_styles: str | None
    init_image: str | None
    device: torch.device
    content_image: torch.Tensor
    style_images: list[torch.Tensor]
    regions: list[Region] | None
    start_image: torch.Tensor | None
    started: float  # time.perf_counter() when preparing began: the wall time counts loading too


def prepare_style(
    config: StyleConfig,
    content: str,
    styles: Sequence[str],
    output: str | os.PathLike[str],
    *,
    mask: str | os.PathLike[str] | None = None,
    region_styles: str | None = None,
    init_image: str | None = None,
) -> StyleJob:
    """Check ``output`` (.png/.jpg, not a folder, not an input) and load the inputs; bad input is a
    :class:`~neuroplay.common.errors.UserError` here, before any optimisation starts.

    ``content`` and ``styles`` are specs (files or ``demo:NAME``). ``mask``: an image whose colours
    mark regions; ``region_styles`` maps its colours to styles (see
    :func:`~neuroplay.vision.regions.parse_region_styles`). ``init_image``: a file to start from
    when ``config.init == "image"``.
    """
    started = time.perf_counter()
    output = Path(output)
    inputs = [content, *styles, mask, init_image]
    check_output(output, inputs)
    # the sidecar and the --save-every images must not land on an input either
    plan_outputs(files=[sidecar_path(output), *saved_images(output, config)], inputs=inputs)
    check(region_styles is None or mask is not None, "--region-styles needs --mask")
    device = resolve_device(config.device)  # fail on a missing GPU before loading anything
    content_image = load_spec(content)
    style_images = [load_style_spec(spec, config.size, config.seed) for spec in styles]
    check_proportions(config, content_image, style_images)  # a 4000×1 image: refused before the bar
    regions = None
    if mask is not None:
        mapping = parse_region_styles(region_styles, len(style_images)) if region_styles else None
        regions = regions_from_mask(load_image(mask), mapping)
    start = load_image(init_image) if init_image else None
    return StyleJob(
        config, content, list(styles), output, str(mask) if mask else None, region_styles, init_image, device,
        content_image, style_images, regions, start, started,
    )  # fmt: skip


def saved_image(output: Path, iteration: int) -> Path:
    """Where the image after ``iteration`` iterations is saved (``--save-every``): ``OUT_0100.png``."""
    return output.with_name(f"{output.stem}_{iteration:04d}{output.suffix}")


def saved_images(output: Path, config: StyleConfig) -> list[Path]:
    """Every image a run saves on its way (``config.save_every``), besides ``output``."""
    if not config.save_every:
        return []
    total = sum(n for _, n in config.schedule())
    return [saved_image(output, i) for i in range(config.save_every, total + 1, config.save_every)]


def run_style(
    job: StyleJob,
    callback: Callable[[StyleStep], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict:
    """Run ``job`` (:func:`~neuroplay.vision.style.stylize`) and write its image and sidecar.

    Every ``config.save_every`` iterations the image so far is saved too (``OUT_0100.png``...).
    ``callback`` and ``should_stop`` as in :func:`~neuroplay.vision.style.stylize`: an
    interrupted run still writes the image it reached. Returns the summary that ``--json``
    prints; the sidecar holds it and every setting besides.
    """
    config, output = job.config, job.output

    def on_step(step: StyleStep) -> None:
        if step.image is not None:
            save_image(step.image, saved_image(output, step.iteration))
        if callback is not None:
            callback(step)

    result = stylize(
        job.content_image, job.style_images, config, regions=job.regions, init_image=job.start_image,
        callback=on_step, should_stop=should_stop,
    )  # fmt: skip
    save_image(result.image, output)
    summary = {
        **output_summary(output, job.started, result.image),
        "content_loss": result.content_loss,
        "style_loss": result.style_loss,
        "tv_loss": result.tv_loss,
        "total_loss": result.total_loss,
        "iterations": result.iterations,
        "scales": [[int(w), int(h)] for h, w in result.scales],
        "seed": config.seed,
        "device": str(job.device),
        "interrupted": result.interrupted,
    }
    record = {
        **summary,
        "content": job.content,
        "styles": job.styles,
        "mask": job.mask,
        "region_styles": job.region_styles,
        "init_image": job.init_image,
        "config": config.as_dict(),
        "timings": result.timings,
    }
    write_sidecar(output, record, SIDECAR_KIND, SIDECAR_VERSION)
    return summary
