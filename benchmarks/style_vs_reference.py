"""neuroplay's default style transfer beside a plain single-scale L-BFGS reference, at 512 px.

Inputs: a photo and a painting from ``../shared/data/`` (beside the checkout; skipped with a
message when absent; never copied into the repository). Both are brought to 512 px (longest side)
once, here, and saved as 8-bit PNGs in ``--out``; both runs and the scoring get those same
pictures, so no resize filter inside either run changes the content or the style's Gram targets
(a different filter alone once moved each side's style loss 25×).

- **neuroplay**: ``stylize`` with its defaults (VGG16, coarse-to-fine scales) at 512 px.
- **reference**: the textbook loop (PyTorch's neural-style tutorial, jcjohnson/neural-style):
  the same VGG16 layers and default loss, written out plainly here, content init, one scale at
  512 px, ``torch.optim.LBFGS`` with its defaults (history 100, no line search), no clamping. It
  runs for 4× neuroplay's wall time; its image is kept at neuroplay's time and at 4× that.

Every output is scored by the same code (``neuroplay.vision.style.loss_terms``) at 512 px, from
the saved 8-bit image. Also measured: the cost of one evaluation (forward + backward) of each
at equal sizes, and the peak memory (RSS) of a 1024 px neuroplay run in a fresh subprocess.

The last line is ``PASS`` when neuroplay's final loss is below the reference's at 4× the time,
else ``FAIL``; the load average (``os.getloadavg``) is printed at the start and the end.

Usage: ``python benchmarks/style_vs_reference.py [--content F] [--style F] [--out DIR]
[--skip-costs] [--skip-memory]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SIZE = 512


# --- the reference: a plain loop, written out as a tutorial would -----------------------------


class Reference:
    """Single-scale Gatys transfer: content init, L-BFGS (torch defaults), no clamping."""

    def __init__(self, content, style, size=SIZE):
        from neuroplay.vision.features import VGGFeatures
        from neuroplay.vision.image import resize_longest

        self.content_layers = ["relu4_2"]
        self.style_layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
        self.net = VGGFeatures(self.content_layers + self.style_layers, "vgg16", inplace_relu=False)
        self.content = resize_longest(content, size)
        with torch.no_grad():
            feats = self.net(self.content)
            self.content_targets = {k: feats[k] for k in self.content_layers}
            style_feats = self.net(resize_longest(style, size))
            self.style_targets = {k: self.gram(style_feats[k]) for k in self.style_layers}

    @staticmethod
    def gram(f):
        n, c, h, w = f.shape
        f = f.view(n * c, h * w)
        return f @ f.t() / (n * c * h * w)

    def loss(self, x):
        feats = self.net(x)
        content = sum(F.mse_loss(feats[k], self.content_targets[k]) for k in self.content_layers)
        style = sum(F.mse_loss(self.gram(feats[k]), self.style_targets[k]) for k in self.style_layers)
        return content + 1e5 * style

    def run(self, seconds: float, snapshot_at: float):
        """Optimise for ``seconds``; return (image at ``snapshot_at``, final image, trajectory, iterations)."""
        x = self.content.clone().contiguous().requires_grad_(True)
        optimiser = torch.optim.LBFGS([x], max_iter=1)
        trajectory, snapshot = [], None

        def closure():
            optimiser.zero_grad()
            loss = self.loss(x)
            loss.backward()
            return loss

        started = time.perf_counter()
        while True:
            loss = optimiser.step(closure)
            elapsed = time.perf_counter() - started
            trajectory.append((elapsed, float(loss.detach())))
            if snapshot is None and elapsed >= snapshot_at:
                snapshot = (x.detach().clone(), elapsed, len(trajectory))
            if elapsed >= seconds:
                return snapshot, (x.detach().clone(), elapsed, len(trajectory)), trajectory


# --- measurements -------------------------------------------------------------------------------


def eval_costs(content, style, sizes=(256, 512), repeats=5) -> dict[int, tuple[float, float]]:
    """Median seconds of one loss evaluation (forward + backward) at each size: (neuroplay, reference)."""
    from neuroplay.vision.features import VGGFeatures
    from neuroplay.vision.image import resize_longest
    from neuroplay.vision.style import Objective, StyleConfig, needed_layers

    config = StyleConfig()
    net = VGGFeatures(needed_layers(config), config.network, config.pooling)
    out = {}
    for size in sizes:
        c, s = resize_longest(content, size), resize_longest(style, size)
        ours, ref = Objective(net, config, c, [s]), Reference(content, style, size)
        times: dict[str, list[float]] = {"ours": [], "ref": []}
        for i in range(repeats + 1):  # interleaved; the first round warms up
            for name, fn in (("ours", lambda x, o=ours: o.terms(x)["total"]), ("ref", ref.loss)):
                x = c.clone().requires_grad_(True)
                t = time.perf_counter()
                fn(x).backward()
                if i:
                    times[name].append(time.perf_counter() - t)
        out[size] = (statistics.median(times["ours"]), statistics.median(times["ref"]))
    return out


PEAK_SCRIPT = """
import json, resource, sys, torch
from neuroplay.vision.image import load_image
from neuroplay.vision.style import StyleConfig, estimate_memory, stylize
content, style = load_image(sys.argv[1]), load_image(sys.argv[2])
config = StyleConfig(size=1024, iterations=tuple(int(v) for v in sys.argv[3].split(',')))
h = round(1024 * min(content.shape[-2:]) / max(content.shape[-2:]))
result = stylize(content, style, config)
print(json.dumps({"seconds": result.timings["total"], "estimate": estimate_memory(h, 1024, config),
                  "shape": list(result.image.shape)}))
"""


def peak_memory_1024(content_path: Path, style_path: Path) -> dict:
    """Peak RSS of a fresh process running a 1024 px transfer (default scales; the last scale runs
    long enough to fill the L-BFGS history, the peak)."""
    from neuroplay.vision.style import StyleConfig

    config = StyleConfig(size=1024)
    iterations = [5] * (len(config.sizes) - 1) + [config.history_size + 3]
    proc = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(content_path), str(style_path), ",".join(map(str, iterations))],
        capture_output=True,
        text=True,
        check=True,
    )
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child so far: this one
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"peak_gb": peak_kb / 2**20, "estimate_gb": info["estimate"] / 2**30, "seconds": info["seconds"],
            "iterations": iterations}  # fmt: skip


def load(label: str) -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` shows them."""
    return f"load average {label}: " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def presized(path: Path, out: Path) -> torch.Tensor:
    """``path`` at 512 px (longest side), saved as an 8-bit PNG in ``out`` and read back: the one
    picture that both runs and the scoring are given."""
    from neuroplay.vision.image import load_image, resize_longest, save_image

    picture = save_image(resize_longest(load_image(path), SIZE), out / f"input_{path.stem}.png")
    return load_image(picture).contiguous()  # L-BFGS views the gradient flat: a dense layout


def compare(content: torch.Tensor, style: torch.Tensor, out: Path) -> bool:
    """neuroplay's default run, then the reference for 4× its wall time; print the table, return PASS."""
    from neuroplay.vision.image import load_image, save_image
    from neuroplay.vision.style import StyleConfig, loss_terms, stylize

    config = StyleConfig(size=SIZE)
    result = stylize(content, style, config)
    ours_seconds = result.timings["total"]
    save_image(result.image, out / "neuroplay.png")
    print(f"neuroplay: {ours_seconds:.1f} s, schedule {config.schedule()}, history {config.history_size}", flush=True)

    reference = Reference(content, style)
    snap, final, trajectory = reference.run(4 * ours_seconds, ours_seconds)
    save_image(snap[0], out / "reference_1x.png")
    save_image(final[0], out / "reference_4x.png")
    (out / "reference_trajectory.json").write_text(json.dumps(trajectory))

    def score(name: str) -> dict:
        return loss_terms(load_image(out / name), content, [style], StyleConfig(size=SIZE))

    rows = [
        ("neuroplay defaults", ours_seconds, result.iterations, score("neuroplay.png")),
        ("reference, same time", snap[1], snap[2], score("reference_1x.png")),
        ("reference, 4x time", final[1], final[2], score("reference_4x.png")),
    ]
    print()
    print(f"| {SIZE} px inputs, scored at {SIZE} px from the saved image | wall s | iterations | content loss | "
          "style loss | total |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|")
    for name, seconds, iters, terms in rows:
        losses = f"{terms['content']:.4f} | {terms['style']:.4e} | {terms['total']:.4f}"
        print(f"| {name} | {seconds:.1f} | {iters} | {losses} |")
    print(f"(the reference's own loss in its loop, before clipping to [0, 1] and 8 bits: "
          f"{trajectory[snap[2] - 1][1]:.4f} at 1x, {trajectory[-1][1]:.4f} at 4x)", flush=True)  # fmt: skip
    ours, theirs = rows[0][3]["total"], rows[2][3]["total"]
    passed = ours < theirs
    verdict = "PASS" if passed else "FAIL"
    print(f"\n{verdict}: neuroplay {ours:.4f} in {ours_seconds:.1f} s vs reference {theirs:.4f} in "
          f"{final[1]:.1f} s (4x); margin {theirs - ours:+.4f}", flush=True)  # fmt: skip
    return passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--content", type=Path, default=DATA / "photos" / "tubingen.jpg")
    parser.add_argument("--style", type=Path, default=DATA / "styles" / "starry_night.jpg")
    parser.add_argument("--out", type=Path, default=Path("/tmp/neuroplay-style-bench"))
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--skip-memory", action="store_true", help="skip the 1024 px peak-memory run")
    parser.add_argument("--skip-costs", action="store_true", help="skip the per-evaluation cost table")
    parser.add_argument("--skip-compare", action="store_true", help="skip the 512 px comparison (costs, memory only)")
    args = parser.parse_args()
    for path in (args.content, args.style):
        if not path.is_file():
            print(f"skipped: {path} is absent (the benchmark reads ../shared/data beside the checkout)")
            return
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    content, style = presized(args.content, args.out), presized(args.style, args.out)
    shape = {"content": tuple(content.shape[-2:]), "style": tuple(style.shape[-2:])}
    sizes = f"content {args.content.name} {shape['content']}, style {args.style.name} {shape['style']}"
    print(f"{sizes}, {torch.get_num_threads()} torch threads; {load('at the start')}", flush=True)

    passed = None
    if not args.skip_compare:
        passed = compare(content, style, args.out)
    if not args.skip_costs:
        costs = eval_costs(content, style)
        print()
        print("| one evaluation (forward + backward), median of 5 | neuroplay s | reference s |")
        print("|---|---:|---:|")
        for size, (ours, ref) in costs.items():
            print(f"| {size} px (longest side) | {ours:.3f} | {ref:.3f} |", flush=True)
    if not args.skip_memory:
        memory = peak_memory_1024(args.content, args.style)
        print()
        print(f"1024 px run (iterations {memory['iterations']}): peak RSS {memory['peak_gb']:.2f} GB, "
              f"estimate {memory['estimate_gb']:.2f} GB, {memory['seconds']:.0f} s")  # fmt: skip
    print(f"\nimages in {args.out}; {load('at the end')}")
    if passed is not None:
        print("PASS" if passed else "FAIL")


if __name__ == "__main__":
    main()
