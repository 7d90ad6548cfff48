"""Train a :class:`~neuroplay.vision.sketch.embedding.SketchEmbedding` on a folder of sketch–photo pairs.

:func:`train_embedding` is what ``neuroplay sketch train --pairs DIR -o MODEL`` calls. Two stages,
both checkpointed to ``MODEL.ckpt`` (every :data:`SAVE_EVERY` seconds, after every epoch, and when
stopped), so Ctrl-C keeps what is done and ``resume=True`` carries on; a run that finishes
removes its checkpoint.

1. *Features.* Every photo (as it is and mirrored) and every drawing (as drawn and
   ``augmentations`` times redrawn as another person might have: strokes left out, lines thicker
   or thinner, a wobble, part missing, another scale and position) through the frozen VGG16 of
   :class:`~neuroplay.vision.sketch.embedding.FeatureEncoder`. Drawing ``i``'s redrawing ``k``
   uses a generator seeded with ``(seed, i, k)``, so the features do not depend on where a run
   was stopped. They are kept as float16.
2. *Epochs.* A contrastive (InfoNCE) loss, both directions, on batches of drawings and their
   photos (a random redrawing of each drawing, a random view of each photo; other drawings of the
   same photo in a batch are not counted as negatives); dropout on the standardised features,
   AdamW. Each epoch's randomness is seeded from ``(seed, epoch)``: the same seed gives the same
   model, resumed or not.

A share ``holdout`` of the photo groups (sub-folders: categories, in the Sketchy layout) is kept
out of training; each epoch reports Recall@1/10 of their drawings among all photos.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from neuroplay.common.checkpoint import load_checkpoint, save_checkpoint
from neuroplay.common.errors import UserError
from neuroplay.vision.image import load_image
from neuroplay.vision.sketch.config import EmbeddingConfig
from neuroplay.vision.sketch.embedding import (
    FEATURES,
    FeatureEncoder,
    SketchEmbedding,
    drawing_frame,
    photo_frame,
    save_embedding,
)
from neuroplay.vision.sketch.lines import read_sketch
from neuroplay.vision.sketch.pairs import PairSet, find_pairs

CKPT_KIND = "neuroplay-sketch-embedding-training"
CKPT_VERSION = 1
SAVE_EVERY = 120.0  # seconds between checkpoints while features are extracted
CHUNK = 32  # images per forward pass


@dataclass
class EmbeddingProgress:
    """A report: ``stage`` (``photos``, ``drawings`` or ``epoch``), ``done`` of ``total``, and for
    epochs the mean ``loss`` and the held-out recalls (``None`` without a holdout)."""

    stage: str
    done: int
    total: int
    loss: float | None = None
    recall: dict[str, float] | None = None


@dataclass
class EmbeddingResult:
    model: SketchEmbedding | None  # None when stopped before the last epoch
    history: list[dict]
    interrupted: bool
    seconds: float
    checkpoint: Path
    pairs: PairSet


def checkpoint_path(out: str | os.PathLike[str]) -> Path:
    return Path(f"{out}.ckpt")


def holdout_mask(pairs: PairSet, share: float, seed: int) -> np.ndarray:
    """Which photos are held out: whole groups when there are at least 5, else single photos."""
    grouped = len(set(pairs.groups)) >= 5
    keys = pairs.groups if grouped else [str(i) for i in range(len(pairs.groups))]
    units = sorted(set(keys)) if grouped else keys
    n_out = round(share * len(units)) if len(units) >= 2 else 0
    order = np.random.default_rng([seed, 7]).permutation(len(units))
    out = {units[i] for i in order[:n_out]}
    return np.array([k in out for k in keys], bool)


def recalls(scores: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Recall@1/5/10 of ``target`` (each query's right column) in ``scores`` (queries × gallery)."""
    if len(target) == 0:
        return {}
    rank = (scores > scores[np.arange(len(target)), target][:, None]).sum(1)
    return {f"R@{k}": float(np.mean(rank < k)) for k in (1, 5, 10)}


class _Trainer:
    def __init__(self, pairs, out, config, device, progress, should_stop):
        self.pairs, self.out, self.config = pairs, Path(out), config
        self.ckpt = checkpoint_path(out)
        self.progress = progress or (lambda report: None)
        self.should_stop = should_stop or (lambda: False)
        self.encoder = FeatureEncoder(device)
        n_p, n_s, k = len(pairs.photos), len(pairs.sketches), config.augmentations
        self.photo_feats = torch.zeros(n_p, 2, FEATURES, dtype=torch.float16)
        self.sketch_feats = torch.zeros(n_s, k + 1, FEATURES, dtype=torch.float16)
        self.done_photos = self.done_sketches = self.epoch = 0
        self.head = self.optim = None
        self.history: list[dict] = []
        self.seconds = 0.0
        self.started = time.perf_counter()

    # -- checkpoints --

    def fingerprint(self) -> list[str]:
        root = self.pairs.root
        photos = [p.relative_to(root).as_posix() for p in self.pairs.photos]
        pairs = zip(self.pairs.sketches, self.pairs.photo_of, strict=True)
        return photos + [f"{s.relative_to(root).as_posix()}>{j}" for s, j in pairs]

    def save(self) -> None:
        state = {
            "config": dataclasses.asdict(self.config),
            "pairs": self.fingerprint(),
            "photo_feats": self.photo_feats,
            "sketch_feats": self.sketch_feats,
            "done_photos": self.done_photos,
            "done_sketches": self.done_sketches,
            "epoch": self.epoch,
            "head": None if self.head is None else self.head.state_dict(),
            "optim": None if self.optim is None else self.optim.state_dict(),
            "history": self.history,
            "seconds": self.seconds + time.perf_counter() - self.started,
        }
        try:
            save_checkpoint(self.ckpt, CKPT_KIND, CKPT_VERSION, state)
        except OSError as exc:
            raise UserError(f"cannot write the checkpoint {self.ckpt} ({exc.strerror or exc})") from None
        self.last_save = time.perf_counter()

    def load(self) -> None:
        data = load_checkpoint(self.ckpt, CKPT_KIND, CKPT_VERSION)
        saved = dict(data.get("config") or {})
        mine = dataclasses.asdict(self.config)
        differ = sorted(k for k in mine if k != "epochs" and saved.get(k) != mine[k])
        if differ:
            raise UserError(
                f"{self.ckpt} was made with other settings ({', '.join(f'{k}={saved.get(k)!r}' for k in differ)}); "
                "resume with the same ones (only --epochs may change) or start afresh"
            )
        if data.get("pairs") != self.fingerprint():
            raise UserError(f"the pairs folder {self.pairs.root} changed since {self.ckpt} was written; start afresh")
        for name in ("photo_feats", "sketch_feats"):
            value = data.get(name)
            mine_t = getattr(self, name)
            if not isinstance(value, torch.Tensor) or value.shape != mine_t.shape or value.dtype != mine_t.dtype:
                raise UserError(f"{self.ckpt} is damaged: {name} has the wrong shape or type")
            if not torch.isfinite(value.float()).all():
                raise UserError(f"{self.ckpt} is damaged: {name} holds NaN or infinite numbers")
            setattr(self, name, value)
        for name, top in (("done_photos", len(self.photo_feats)), ("done_sketches", len(self.sketch_feats))):
            value = data.get(name)
            if not isinstance(value, int) or not 0 <= value <= top:
                raise UserError(f"{self.ckpt} is damaged: {name} = {value!r}")
            setattr(self, name, value)
        self.epoch = int(data.get("epoch") or 0)
        self.history = list(data.get("history") or [])
        self.seconds = float(data.get("seconds") or 0.0)
        if data.get("head") is not None:
            self._build()
            try:
                self.head.load_state_dict(data["head"])
                self.optim.load_state_dict(data["optim"])
            except (KeyError, RuntimeError, ValueError, TypeError) as exc:
                raise UserError(
                    f"{self.ckpt} is damaged: the model state does not load ({type(exc).__name__})"
                ) from None

    # -- stage 1: features --

    def extract(self) -> bool:
        """Fill in the missing features; ``False`` when stopped."""
        self.last_save = time.perf_counter()
        jobs = (
            ("photos", "done_photos", len(self.pairs.photos), self._photo_chunk),
            ("drawings", "done_sketches", len(self.pairs.sketches), self._sketch_chunk),
        )
        for stage, counter, total, run in jobs:
            while getattr(self, counter) < total:
                if self.should_stop():  # train_embedding saves the checkpoint
                    return False
                start = getattr(self, counter)
                stop = min(total, start + CHUNK)
                run(start, stop)
                setattr(self, counter, stop)
                self.progress(EmbeddingProgress(stage, stop, total))
                if time.perf_counter() - self.last_save > SAVE_EVERY:
                    self.save()
        return True

    def _photo_chunk(self, start: int, stop: int) -> None:
        frames = [photo_frame(load_image(p)) for p in self.pairs.photos[start:stop]]
        self.photo_feats[start:stop] = torch.from_numpy(self.encoder.photos(frames)).half()

    def _sketch_chunk(self, start: int, stop: int) -> None:
        k, frames = self.config.augmentations, []
        for i in range(start, stop):
            drawing = read_sketch(str(self.pairs.sketches[i]))
            frames.append(drawing_frame(drawing))
            frames += [drawing_frame(drawing, np.random.default_rng([self.config.seed, i, j])) for j in range(k)]
        feats = torch.from_numpy(self.encoder.drawings(frames)).half()
        self.sketch_feats[start:stop] = feats.view(stop - start, k + 1, FEATURES)

    # -- stage 2: epochs --

    def _build(self) -> None:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        self.head = torch.nn.Linear(FEATURES, cfg.dim)
        self.optim = torch.optim.AdamW(self.head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def fit(self, held: np.ndarray) -> bool:
        cfg = self.config
        target = torch.tensor(self.pairs.photo_of)
        train_idx = torch.tensor([i for i, j in enumerate(self.pairs.photo_of) if not held[j]])
        if len(train_idx) < 2:
            raise UserError(f"{self.pairs.root} has too few pairs to train on ({len(train_idx)} outside the holdout)")
        photos = self.photo_feats.float()
        clean = self.sketch_feats[:, 0].float()
        stats = torch.cat([photos[~torch.from_numpy(held), 0], clean[train_idx]])
        mean, std = stats.mean(0), stats.std(0) + 1e-3
        if self.head is None:
            self._build()
        while self.epoch < cfg.epochs:
            torch.manual_seed(cfg.seed * 100_003 + self.epoch + 1)
            self.head.train()
            order = train_idx[torch.randperm(len(train_idx))]
            total = 0.0
            for b in range(0, len(order), cfg.batch_size):
                if self.should_stop():
                    return False
                idx = order[b : b + cfg.batch_size]
                if len(idx) < 2:
                    continue
                pick = (
                    torch.randint(1, cfg.augmentations + 1, (len(idx),))
                    if cfg.augmentations
                    else torch.zeros(len(idx), dtype=torch.long)
                )
                xs = self.sketch_feats[idx, pick].float()
                xp = photos[target[idx], torch.randint(0, 2, (len(idx),))]
                zs = F.normalize(self.head(F.dropout((xs - mean) / std, cfg.dropout)), dim=1)
                zp = F.normalize(self.head(F.dropout((xp - mean) / std, cfg.dropout)), dim=1)
                logits = zs @ zp.T / cfg.temperature
                same = target[idx][:, None] == target[idx][None, :]
                logits = logits.masked_fill(same & ~torch.eye(len(idx), dtype=torch.bool), -1e9)
                labels = torch.arange(len(idx))
                loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
                self.optim.zero_grad()
                loss.backward()
                self.optim.step()
                total += loss.item() * len(idx)
            self.epoch += 1
            model = self.model(mean, std)
            held_out = self.validate(model, held)
            entry = {"epoch": self.epoch, "loss": round(total / len(train_idx), 5), **held_out}
            self.history.append(entry)
            self.save()
            self.progress(EmbeddingProgress("epoch", self.epoch, cfg.epochs, entry["loss"], held_out or None))
        self.mean, self.std = mean, std
        return True

    def model(self, mean, std) -> SketchEmbedding:
        return SketchEmbedding(
            self.head.weight.detach().clone(),
            self.head.bias.detach().clone(),
            mean.clone(),
            std.clone(),
            fusion=float(self.config.fusion),
        )

    def validate(self, model: SketchEmbedding, held: np.ndarray) -> dict[str, float]:
        queries = [i for i, j in enumerate(self.pairs.photo_of) if held[j]]
        if not queries:
            return {}
        with torch.no_grad():
            zp = model.embed(self.photo_feats.float())  # N×2×dim
            zs = model.embed(self.sketch_feats[queries, 0].float())
            scores = torch.maximum(zs @ zp[:, 0].T, zs @ zp[:, 1].T).numpy()
        return {f"holdout_{k}": round(v, 4) for k, v in recalls(scores, np.array(self.pairs.photo_of)[queries]).items()}


def train_embedding(
    pairs_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    config: EmbeddingConfig | None = None,
    *,
    device: torch.device | str = "cpu",
    resume: bool = False,
    progress: Callable[[EmbeddingProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> EmbeddingResult:
    """Train an embedding on the pairs in ``pairs_dir`` (:func:`~neuroplay.vision.sketch.pairs.find_pairs`)
    and write it to ``out`` (float16, with its model card). ``resume`` carries on from
    ``out.ckpt``; without it an existing checkpoint is refused rather than overwritten."""
    config = config or EmbeddingConfig()
    pairs = find_pairs(pairs_dir)
    trainer = _Trainer(pairs, out, config, device, progress, should_stop)
    if resume:
        trainer.load()
    elif trainer.ckpt.exists():
        raise UserError(f"{trainer.ckpt} exists: continue it with --resume, or delete it to start afresh")
    held = holdout_mask(pairs, config.holdout, config.seed)
    finished = trainer.extract() and trainer.fit(held)
    seconds = trainer.seconds + time.perf_counter() - trainer.started
    if not finished:
        trainer.save()
        return EmbeddingResult(None, trainer.history, True, seconds, trainer.ckpt, pairs)
    model = trainer.model(trainer.mean, trainer.std)
    model.card = {
        "data": str(pairs.root),
        "photos": len(pairs.photos),
        "drawings": len(pairs.sketches),
        "unpaired_drawings": pairs.unpaired,
        "holdout_groups": sorted({g for g, h in zip(pairs.groups, held, strict=True) if h}),
        "config": dataclasses.asdict(config),
        "history": trainer.history,
        "train_seconds": round(seconds, 1),
    }
    save_embedding(out, model, half=True)
    trainer.ckpt.unlink(missing_ok=True)
    return EmbeddingResult(model, trainer.history, False, seconds, trainer.ckpt, pairs)
