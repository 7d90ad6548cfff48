"""Plots for the RL part: the DQN learning curve and the grid-world policy/value picture."""

from __future__ import annotations

import os

import numpy as np

from neuroplay.common.plots import plt, rolling_mean, save_figure


def plot_learning_curve(
    path: str | os.PathLike[str], episode_ends, episode_returns, metrics, threshold, title: str
) -> None:
    """Training-episode returns (dots + rolling mean) and greedy evaluations against env steps."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    if episode_returns:
        x, y = np.asarray(episode_ends), np.asarray(episode_returns)
        ax.scatter(x, y, s=4, alpha=0.25, color="tab:blue", label="training episode (ε-greedy)")
        ax.plot(x, rolling_mean(y, 20), color="tab:blue", lw=1.2, label="training, mean of last 20")
    if metrics:
        ex = [m["env_steps"] for m in metrics]
        em = np.array([m["eval_mean"] for m in metrics])
        es = np.array([m["eval_std"] for m in metrics])
        ax.errorbar(ex, em, yerr=es, color="tab:orange", marker="o", ms=3, lw=1.5, capsize=2, label="greedy evaluation")
    if threshold is not None:
        ax.axhline(threshold, color="tab:green", ls="--", lw=1, label=f"solve threshold {threshold:g}")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    save_figure(fig, path)
