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
