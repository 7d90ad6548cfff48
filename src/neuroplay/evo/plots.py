"""Plots for neuro-evolution: fitness and pipes per generation."""

from __future__ import annotations

import os

import numpy as np

from neuroplay.common.plots import plt, save_figure


def plot_fitness(path: str | os.PathLike[str], stats: list[dict], title: str) -> None:
    """Best and mean fitness (left axis) and the best bird's pipes (right axis, log) per generation;
    for the default algorithm also the most trusted elite's record and the validations flown."""
    g = np.array([s["generation"] for s in stats])
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    ax.plot(g, [s["best_fitness"] for s in stats], color="tab:blue", lw=1.5, label="best fitness")
    ax.plot(g, [s["mean_fitness"] for s in stats], color="tab:blue", lw=1, ls="--", label="mean fitness")
    ax.set_xlabel("generation")
    ax.set_ylabel("fitness (frames + bonus × pipes)")
    ax.set_yscale("symlog")
    ax2 = ax.twinx()
    ax2.plot(g, [max(s["best_pipes"], 0.5) for s in stats], color="tab:orange", lw=1.2, label="best bird's pipes")
    if any(s.get("elite_pipes") for s in stats):  # the default algorithm: the most trusted elite's record
        ax2.plot(
            g,
            [max(s.get("elite_pipes", 0), 0.5) for s in stats],
            color="tab:green",
            lw=1.2,
            label="top elite's record (pipes)",
        )
        v = [(s["generation"], max(s["elite_pipes"], 0.5)) for s in stats if s.get("validation_deaths", "") != ""]
        if v:
            ax2.scatter(*zip(*v, strict=True), color="tab:red", s=14, zorder=3, label="validation flown")
    ax2.set_yscale("log")
    ax2.set_ylabel("pipes")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    save_figure(fig, path)


INPUT_NAMES = ("height", "distance to pipe", "gap height")  # the 3 inputs a bird sees (evo/flappy/env.py)


def plot_network(path: str | os.PathLike[str], champion, title: str = "") -> None:
    """The champion's network (e.g. 3-7-1): a node per unit, a line per weight, blue for positive
    and red for negative, thicker for larger ``|w|``; each unit's bias is written beside it."""
    shape = champion.shape
    sizes = shape.sizes
    layers = shape.unpack(champion.genome[None, :])
    fig, ax = plt.subplots(figsize=(6.0, 4.2))
    ys = [np.linspace(0.9, 0.1, n) if n > 1 else np.array([0.5]) for n in sizes]
    xs = np.linspace(0.12, 0.88, len(sizes))
    biggest = max(float(np.abs(w).max()) for w, _ in layers) or 1.0
    for k, (w, _) in enumerate(layers):
        for i in range(sizes[k]):
            for j in range(sizes[k + 1]):
                value = float(w[0, i, j])
                ax.plot(
                    [xs[k], xs[k + 1]],
                    [ys[k][i], ys[k + 1][j]],
                    color="tab:blue" if value >= 0 else "tab:red",
                    lw=0.4 + 3.6 * abs(value) / biggest,
                    alpha=0.75,
                    zorder=1,
                )
    for k, n in enumerate(sizes):
        ax.scatter([xs[k]] * n, ys[k], s=260, color="white", edgecolors="black", zorder=2)
        if k > 0:
            for j, b in enumerate(layers[k - 1][1][0]):
                ax.annotate(f"{b:+.1f}", (xs[k], ys[k][j]), xytext=(9, -3), textcoords="offset points", fontsize=7)
    if sizes[0] == len(INPUT_NAMES):
        for i, name in enumerate(INPUT_NAMES):
            ax.annotate(name, (xs[0], ys[0][i]), xytext=(-12, -3), textcoords="offset points", fontsize=8, ha="right")
    ax.annotate("flap", (xs[-1], ys[-1][0]), xytext=(12, 8), textcoords="offset points", fontsize=8)
    ax.set_xlim(-0.15, 1.05)
    ax.set_ylim(0.0, 1.0)
    ax.axis("off")
    caption = title or f"the champion's {'-'.join(map(str, sizes))} network: blue +, red −, width |w|; biases beside"
    fig.text(0.5, 0.02, caption, ha="center", fontsize=9)  # below: a page may lay a label over the top
    save_figure(fig, path)
