"""A style network's training run on disk: ``checkpoint.pt`` (everything to continue exactly),
``losses.csv``, ``loss_curve.png``, and the card written into the model file.

The checkpoint (kind :data:`RUN_KIND`) holds the settings, the network and Adam's state, the step
and wall time so far, every step's losses, the style image (uint8, at its training size: a resumed
run needs no file but the photos) and the preview photo. :func:`read` checks it against
:data:`SCHEMA` — the settings first, then the network and optimiser against fresh ones of those
settings — before anything is built.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from neuroplay.common.checkpoint import save_checkpoint
from neuroplay.common.errors import UserError
from neuroplay.common.io import write_csv
from neuroplay.common.schema import Dict, Int, Like, List, Real, Str, Tensor, validate
from neuroplay.common.settings import load_run_checkpoint
from neuroplay.vision.stylenet.config import MAX_SIDE, MAX_STEPS, TrainConfig
from neuroplay.vision.stylenet.network import StyleNet

RUN_KIND = "neuroplay-stylenet-run"
RUN_VERSION = 1
CHECKPOINT = "checkpoint.pt"
_LOSS = Real(0, math.inf)
HISTORY_ROW = Dict({"step": Int(1, MAX_STEPS), "seconds": Real(0, 1e12), "content": _LOSS, "style": _LOSS,
                    "tv": _LOSS, "total": _LOSS})  # fmt: skip
SCHEMA = Dict(
    {
        "step": Int(0, "steps"),
        "seconds": Real(0, 1e12),
        "history": List(HISTORY_ROW, length="step_count"),
        "style": Tensor(torch.uint8, (3, "style_h", "style_w")),
        "preview": Tensor(torch.uint8, (3, "preview_h", "preview_w")),
        "style_name": Str(),
        "name": Str(),
        "content": List(Str(), min_len=1, max_len=10_000),
        "exclude": List(Str(), max_len=10**7),
        "model_path": Str(),
        "net": Like("net"),
        "optimizer": Like("optimizer", loose=("state",)),  # torch's optimisers check their own state
    },
    checks=(
        (lambda v, d: len(v["history"]) == v["step"], "the loss history and the step count disagree"),
        (lambda v, d: max(v["style"].shape[1:]) <= MAX_SIDE, "the style image is too large"),
    ),
)


def to_uint8(image: torch.Tensor) -> torch.Tensor:
    """``1×3×H×W`` floats in [0, 1] -> ``3×H×W`` uint8 (how images are kept in a checkpoint)."""
    return image[0].clamp(0, 1).mul(255).round().to(torch.uint8).cpu().contiguous()


def from_uint8(image: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`to_uint8`: ``1×3×H×W`` floats in [0, 1]."""
    return image.float().div(255)[None]


def _fresh(config: TrainConfig) -> tuple[dict, dict]:
    """What a fresh network and Adam of ``config`` save: the templates the file is checked against."""
    net = StyleNet(config.widths, config.blocks)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    return net.state_dict(), optimizer.state_dict()


def read(run_dir: Path) -> tuple[dict, TrainConfig]:
    """The checked checkpoint of the run in ``run_dir`` and its settings."""
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        raise UserError(f"{run_dir} holds no style network training run (no {CHECKPOINT})")
    data, config = load_run_checkpoint(path, RUN_KIND, RUN_VERSION, TrainConfig)
    net, optimizer = _fresh(config)
    sizes = {"steps": config.steps, "net": net, "optimizer": optimizer, "step_count": len(data.get("history", []))}
    validate(path, data, SCHEMA, sizes)
    _check_adam(
        path, data["optimizer"]["state"], [p.shape for p in StyleNet(config.widths, config.blocks).parameters()]
    )
    return data, config


def _check_adam(path: Path, state: dict, shapes: list) -> None:
    """Adam's moments, per parameter index: the parameter's shape, finite; its step a finite scalar."""
    for index, entry in state.items():
        ok = isinstance(index, int) and 0 <= index < len(shapes) and isinstance(entry, dict)
        if ok:
            moments = [entry.get("exp_avg"), entry.get("exp_avg_sq")]
            ok = all(isinstance(m, torch.Tensor) and m.shape == shapes[index] and m.dtype == torch.float32
                     and bool(torch.isfinite(m).all()) for m in moments)  # fmt: skip
            step = entry.get("step")
            ok = ok and isinstance(step, torch.Tensor) and step.numel() == 1 and bool(torch.isfinite(step).all())
        if not ok:
            raise UserError(f"{path}: optimizer.state[{index!r}] does not fit the network's parameters")


def restore(run_dir: Path, state: dict, net: StyleNet, optimizer: torch.optim.Optimizer) -> None:
    """Load the saved network and Adam state of a checked checkpoint (:func:`read`)."""
    net.load_state_dict(state["net"])
    try:
        optimizer.load_state_dict(state["optimizer"])
    except (ValueError, KeyError, RuntimeError) as exc:
        raise UserError(f"{Path(run_dir) / CHECKPOINT}: the optimiser state does not fit ({exc})") from None


def write(run_dir: Path, config: TrainConfig, state: dict, net: StyleNet, optimizer: torch.optim.Optimizer) -> None:
    """Write the checkpoint and ``losses.csv`` (each atomically)."""
    payload = {
        **{k: v for k, v in state.items() if k not in ("net", "optimizer")},
        "config": config.to_dict(),
        "net": {k: v.detach().cpu() for k, v in net.state_dict().items()},
        "optimizer": _cpu(optimizer.state_dict()),
    }
    save_checkpoint(Path(run_dir) / CHECKPOINT, RUN_KIND, RUN_VERSION, payload)
    if state["history"]:
        write_csv(Path(run_dir) / "losses.csv", state["history"])


def _cpu(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _cpu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cpu(v) for v in value]
    return value


def card(config: TrainConfig, state: dict) -> dict:
    """What a model file says about itself: its name and style, the data, the budget, the losses."""
    history = state["history"]
    tail = history[-50:]  # single steps are noisy: the card quotes the mean of the last 50
    mean = {k: sum(row[k] for row in tail) / len(tail) for k in ("content", "style", "tv", "total")} if tail else {}
    return {
        "name": state["name"],
        "style": state["style_name"],
        "content": list(state["content"]),
        "excluded": len(state["exclude"]),
        "steps": state["step"],
        "seconds": round(state["seconds"], 1),
        "final_losses_mean_last_50": mean,
        "first_losses": {k: history[0][k] for k in ("content", "style", "tv", "total")} if history else {},
        "config": config.to_dict(),
    }


def plot_losses(run_dir: Path, history: list[dict]) -> None:
    """``loss_curve.png``: the weighted content and style terms and the total, per step (smoothed)."""
    if not history:
        return
    import numpy as np

    from neuroplay.common.plots import plt, rolling_mean, save_figure

    steps = np.array([row["step"] for row in history])
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key in ("total", "content", "style"):
        values = np.array([row[key] for row in history])
        ax.plot(steps, rolling_mean(values, 25), label=key)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (unweighted terms; total weighted)")
    ax.set_yscale("log")
    ax.legend()
    save_figure(fig, Path(run_dir) / "loss_curve.png")
