"""Training a style network: the perceptual loss of ``neuroplay style``, minimised over many photos.

Each step, read top to bottom in :meth:`_Run.step`:

1. a batch of random crops of the content photos (batch ``k`` fixed by ``(seed, k)``, :mod:`.data`);
2. their VGG features at the content layers: the content targets;
3. the network's output for the batch;
4. the loss of the output, :class:`~neuroplay.vision.style_loss.Objective` — the very definition
   ``neuroplay style`` optimises pixels against (content + Gram style + TV, the same layers and
   weights), with the style Grams computed once from the style image at ``style_size``;
5. one Adam step on the network's weights.

A run lives in a folder (:func:`run_dir_for`: beside the model, ``NAME-run/``), locked while it
trains: ``checkpoint.pt`` (the whole state: network, Adam, step, loss history, the style image
and the settings; :mod:`.run_state`), ``losses.csv``, ``loss_curve.png`` and ``previews/`` (the
network applied to one fixed photo every ``preview_every`` steps). The model file is written at
the end and whenever the run stops. Resuming continues exactly where the run would have been.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from neuroplay.common.bounds import check_fits
from neuroplay.common.errors import UserError
from neuroplay.common.runlock import hold_run_folder
from neuroplay.common.runtime import Notify, resolve_device, torch_threads
from neuroplay.common.seeding import derive_seed, seed_everything
from neuroplay.vision.features import VGGFeatures
from neuroplay.vision.image import load_image, resize_longest, save_image
from neuroplay.vision.style_loss import Objective, needed_layers
from neuroplay.vision.stylenet import data, run_state
from neuroplay.vision.stylenet.config import TrainConfig, TrainResult, TrainStep
from neuroplay.vision.stylenet.model_file import save_model
from neuroplay.vision.stylenet.network import StyleNet

INIT_PURPOSE = 2  # derive_seed key of the network's initial weights
PREVIEW_SIDE = 256
BYTES_PER_PIXEL = 8 * 1024  # training memory per pixel of a batch: VGG and network maps with their gradients
BASE_BYTES = 600 * 2**20  # VGG weights, Adam, the style targets, torch itself


def run_dir_for(model_path: str | os.PathLike[str]) -> Path:
    """The run folder of a model file: ``starry.pt`` -> ``starry-run/`` beside it."""
    path = Path(model_path)
    return path.with_name(f"{path.stem}-run")


def training_bytes(batch_size: int, crop: int) -> int:
    """The estimated peak memory of training with this batch."""
    return BASE_BYTES + BYTES_PER_PIXEL * batch_size * crop * crop


def _check_memory(config: TrainConfig) -> None:
    need = training_bytes(config.batch_size, config.crop)
    check_fits(f"training on {config.batch_size}×{config.crop}² crops", need, "batch size", config.batch_size,
               lambda n: training_bytes(n, config.crop))  # fmt: skip


def train(
    config: TrainConfig,
    style: str | os.PathLike[str],
    content: Sequence[str | os.PathLike[str]],
    model_path: str | os.PathLike[str],
    *,
    exclude: Sequence[str | os.PathLike[str]] = (),
    name: str | None = None,
    callback: Callable[[TrainStep], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    notify: Notify | None = None,
) -> TrainResult:
    """Train a fresh network in the style of the image ``style`` on the photos under the ``content``
    folders (less ``exclude``), writing ``model_path`` and its run folder (:func:`run_dir_for`).

    ``callback`` hears a :class:`TrainStep` after every step; when ``should_stop`` returns True the
    run saves its checkpoint and the model reached so far, and returns with ``interrupted=True``.
    """
    _check_memory(config)
    files = data.image_files(content, exclude)
    style_image = resize_longest(load_image(style), config.style_size)
    state = {
        "step": 0,
        "seconds": 0.0,
        "history": [],
        "style": run_state.to_uint8(style_image),
        "style_name": Path(str(style)).name,
        "name": name or Path(model_path).stem,
        # absolute, so that a resume from another working folder reads and writes the same files
        "content": [str(Path(c).resolve()) for c in content],
        "exclude": [str(Path(e).resolve()) for e in exclude],
        "model_path": str(Path(model_path).resolve()),
        "preview": run_state.to_uint8(_preview_photo(files)),
    }
    run = _Run(config, state, files, run_dir_for(model_path), notify)
    return run.go(callback, should_stop)


def resume(
    run_dir: str | os.PathLike[str],
    *,
    callback: Callable[[TrainStep], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    notify: Notify | None = None,
    **overrides,
) -> TrainResult:
    """Continue the run in ``run_dir`` with its saved settings (``overrides``: those in
    ``TrainConfig.RESUMABLE``, such as more ``steps``); ends exactly as the uninterrupted run would."""
    run_dir = Path(run_dir)
    saved, config = run_state.read(run_dir)
    config = config.for_resume(**overrides)
    _check_memory(config)
    files = data.image_files(saved["content"], saved["exclude"])
    run = _Run(config, saved, files, run_dir, notify, resumed=True)
    return run.go(callback, should_stop)


def _preview_photo(files: Sequence[Path]) -> torch.Tensor:
    """The photo previews show: the first readable content image, at most ``PREVIEW_SIDE`` px."""
    for path in files:
        try:
            return load_image(path, max_size=PREVIEW_SIDE)
        except UserError:
            continue
    raise UserError("none of the content images can be read")


class _Run:
    """One training run's state while it trains (see the module docstring for the step)."""

    def __init__(self, config: TrainConfig, state: dict, files: list[Path], run_dir: Path,
                 notify: Notify | None, resumed: bool = False):  # fmt: skip
        self.config, self.state, self.files, self.run_dir = config, state, files, run_dir
        self.notify, self.resumed = notify, resumed

    def go(self, callback, should_stop) -> TrainResult:
        hold_run_folder(self.run_dir)
        with torch_threads(self.config.threads):
            return self._loop(callback, should_stop)

    def _build(self) -> None:
        cfg = self.config
        self.device = resolve_device(cfg.device)
        seed_everything(cfg.seed)
        torch.manual_seed(derive_seed(cfg.seed, INIT_PURPOSE))
        self.net = StyleNet(cfg.widths, cfg.blocks).to(self.device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.learning_rate)
        if self.resumed:
            run_state.restore(self.run_dir, self.state, self.net, self.optimizer)
        loss = cfg.loss_config()
        self.vgg = VGGFeatures(needed_layers(loss), loss.network, loss.pooling, device=self.device, notify=self.notify)
        style = run_state.from_uint8(self.state["style"]).to(self.device)
        # the style's Gram targets, once; the content targets are each batch's own (set per step)
        self.objective = Objective(self.vgg, loss, style, [style])
        self.preview = run_state.from_uint8(self.state["preview"]).to(self.device)

    def step(self, k: int) -> dict[str, float]:
        cfg, objective = self.config, self.objective
        x = data.batch(self.files, k, cfg.batch_size, cfg.crop, cfg.seed).to(self.device)  # 1
        with torch.no_grad(), torch.autocast(self.device.type, torch.bfloat16, enabled=objective.bfloat16):
            feats = self.vgg(x)
        objective.content_targets = {name: feats[name].float() for name in objective.content_layers}  # 2
        y = self.net(x)  # 3
        terms = objective.terms(y)  # 4
        self.optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()  # 5
        self.optimizer.step()
        losses = {key: float(value.detach()) for key, value in terms.items()}
        if not all(map(lambda v: v == v and abs(v) != float("inf"), losses.values())):
            raise UserError(f"training diverged at step {k + 1} (loss {losses['total']}); lower --learning-rate")
        return losses

    def preview_image(self) -> torch.Tensor:
        self.net.eval()
        with torch.no_grad():
            out = self.net(self.preview).clamp(0, 1).cpu()
        self.net.train()
        return out

    def _loop(self, callback, should_stop) -> TrainResult:
        cfg, state = self.config, self.state
        self._build()
        started = time.perf_counter() - state["seconds"]
        interrupted = False
        self.net.train()
        while state["step"] < cfg.steps:
            k = state["step"]
            losses = self.step(k)
            state["step"] = k + 1
            state["seconds"] = time.perf_counter() - started
            state["history"].append({"step": k + 1, "seconds": state["seconds"], **losses})
            preview = None
            if cfg.preview_every and state["step"] % cfg.preview_every == 0:
                preview = self.preview_image()
                save_image(preview, self.run_dir / "previews" / f"step_{state['step']:07d}.png")
            if cfg.checkpoint_every and state["step"] % cfg.checkpoint_every == 0:
                self.save()
            if callback is not None:
                callback(TrainStep(state["step"], cfg.steps, losses["content"], losses["style"], losses["tv"],
                                   losses["total"], state["seconds"], preview))  # fmt: skip
            if should_stop is not None and should_stop() and state["step"] < cfg.steps:
                interrupted = True
                break
        self.save(final=True)
        last = state["history"][-1] if state["history"] else {}
        return TrainResult(
            model_path=state["model_path"],
            run_dir=str(self.run_dir),
            steps=state["step"],
            seconds=state["seconds"],
            losses={k: last[k] for k in ("content", "style", "tv", "total") if k in last},
            interrupted=interrupted,
            history=state["history"],
        )

    def save(self, final: bool = False) -> None:
        """The checkpoint, the loss table and the model file (and, at the end, the loss curve)."""
        run_state.write(self.run_dir, self.config, self.state, self.net, self.optimizer)
        save_model(self.state["model_path"], self.net, run_state.card(self.config, self.state))
        if final:
            run_state.plot_losses(self.run_dir, self.state["history"])
