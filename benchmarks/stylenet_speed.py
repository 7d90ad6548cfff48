"""How fast a built-in style network styles photos and video on this machine (the issue-16 targets).

- **folder, 512 px**: the held-out photos (``benchmarks/stylenet_holdout.txt``, from
  ``../shared/data/``; skipped when absent), saved at 512 px (longest side) in a temporary folder,
  styled by ``run_apply`` as ``neuroplay stylenet apply builtin:NAME FOLDER -o OUT`` does: the
  median seconds per photo (read, one forward pass, write). Target ≤ 0.5 s (stretch 0.3 s).
- **folder, 1024 px**: the same photos at 1024 px. Target ≤ 2 s.
- **video**: a 10-second 640×360 MP4 at 30 fps (300 frames), made here as a slow pan and zoom
  across a held-out photo, styled with ``--deflicker 0.5``: the wall time from reading the file
  to the finished MP4. Target ≤ 60 s.

Each is run ``--runs`` times; the table gives the median and the range.

Usage: ``python benchmarks/stylenet_speed.py [--network starry-night] [--runs 3] [--threads N]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
HOLDOUT = Path(__file__).with_name("stylenet_holdout.txt")


def photos() -> list[Path]:
    lines = HOLDOUT.read_text().splitlines()
    return [DATA / line.strip() for line in lines if line.strip() and not line.startswith("#")]


def make_folder(folder: Path, side: int) -> Path:
    from neuroplay.vision.image import load_image, resize_longest, save_image

    folder.mkdir(parents=True)
    for path in photos():
        save_image(resize_longest(load_image(path), side), folder / f"{path.stem}.jpg")
    return folder


def make_video(path: Path, seconds: float = 10.0, fps: float = 30.0, size: tuple[int, int] = (360, 640)) -> Path:
    """A pan and slow zoom across the first held-out photo, ``size`` = (height, width)."""
    from neuroplay.common.video import write_video
    from neuroplay.vision.image import load_image, resize, to_array

    photo = load_image(photos()[0])
    h, w = photo.shape[-2:]
    frames = []
    n = round(seconds * fps)
    for i in range(n):
        t = i / max(1, n - 1)
        zoom = 1.0 - 0.2 * t  # the crop shrinks to 80 %
        ch, cw = int(h * 0.7 * zoom), int(h * 0.7 * zoom * size[1] / size[0])
        cw = min(cw, w)
        y0, x0 = int((h - ch) * 0.5), int((w - cw) * t)
        frames.append(to_array(resize(photo[..., y0 : y0 + ch, x0 : x0 + cw], size)))
    return write_video(path, frames, fps=fps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="starry-night")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--video-runs", type=int, default=None, help="Runs of the video [default: --runs].")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"skipped: {DATA} not found")
        return
    from neuroplay.vision.stylenet.apply import ApplyConfig, prepare_apply, run_apply

    spec = f"builtin:{args.network}"
    config = ApplyConfig(threads=args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for side in (512, 1024):
            folder = make_folder(tmp / f"in{side}", side)
            per, wall = [], []
            for run in range(args.runs):
                s = run_apply(prepare_apply(spec, folder, tmp / f"out{side}_{run}", config))
                per.append(s["seconds_per_image"])
                wall.append(s["wall_seconds"])
                print(f"{side} px run {run}: median {per[-1]:.3f} s per photo, wall {wall[-1]:.1f} s", flush=True)
            rows.append((f"folder of {len(photos())} photos, {side} px: s per photo", per))
            rows.append((f"folder of {len(photos())} photos, {side} px: wall s", wall))
        started = time.perf_counter()
        video = make_video(tmp / "clip.mp4")
        print(f"made a 10 s 640×360 30 fps video in {time.perf_counter() - started:.1f} s", flush=True)
        walls = []
        for run in range(args.video_runs or args.runs):
            job = prepare_apply(
                spec, video, tmp / f"styled_{run}.mp4", ApplyConfig(threads=args.threads, deflicker=0.5)
            )
            s = run_apply(job)
            assert s["frames"] == 300, s
            walls.append(s["wall_seconds"])
            print(f"video run {run}: {walls[-1]:.1f} s, median {s['seconds_per_image']:.3f} s per frame", flush=True)
        rows.append(("video 10 s 640×360 (300 frames): wall s", walls))
    print(f"\n{spec}, torch threads {torch.get_num_threads() if args.threads is None else args.threads}")
    print(f"{'measure':52} {'median':>8} {'min':>8} {'max':>8}")
    for label, values in rows:
        print(f"{label:52} {statistics.median(values):8.3f} {min(values):8.3f} {max(values):8.3f}")
    print(f"(runs: {args.runs}; values: {[[round(v, 3) for v in vals] for _, vals in rows]})")


if __name__ == "__main__":
    main()
