"""FourRoom's figures: Figure 2 of the paper (sec. 6.2: the return of the softmax policy over training,
mean and spread over runs, per algorithm), and the same for the greedy policy of the same tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from agents.experiment import pyplot, save_figure
from agents.fourroom.analysis import AlgorithmResult, FourRoomResults

_COLOURS = ("k", "tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def plot(results: FourRoomResults, out_dir: Path) -> list[Path]:
    """Figure 2 (softmax-policy return) and its greedy-policy twin as PNGs in ``out_dir``."""
    return [save_figure(fig2_returns(results, key, what), out_dir / name) for key, name, what in (
        ("softmax_return", "fig2_fourroom_returns.png", "softmax policy π_θ"),
        ("greedy_return", "fig2b_fourroom_greedy_returns.png", "greedy policy"))]


def fig2_returns(results: FourRoomResults, key: str, what: str) -> Any:
    """One panel per algorithm: the exact return (the AlgorithmResult field ``key``) of every scale."""
    algos = results.algorithms
    fig, axes = pyplot().subplots(1, len(algos), figsize=(7 * len(algos), 4.8), squeeze=False)
    for ax, (algo, a) in zip(axes[0], algos.items(), strict=True):
        _panel(ax, a, np.asarray(getattr(a, key)))  # [scale][run][eval]
        refs = results.references
        ax.axhline(refs.optimal_return, color="grey", ls="--", lw=1, label="optimal policy")
        ax.axhline(refs.uniform_policy_return, color="grey", ls=":", lw=1, label="uniform policy")
        if key == "softmax_return" and algo == "ql":
            ax.axhline(refs.softmax_of_q_star_return, color="tab:cyan", ls="-.", lw=1, label="softmax of Q*")
        ax.set(xlabel="SGD step (minibatch of 64)", ylabel=f"expected discounted return ({what})",
               title=f"{a.name}, lr {a.lr:g}")
        ax.legend(fontsize=8)
    fig.suptitle(f"FourRoom: exact return of the {what} (mean ± std over {len(results.config.runs)} runs)")
    return fig


def _panel(ax: Any, a: AlgorithmResult, data: Any) -> None:
    steps = np.asarray(a.steps)
    for k, label in enumerate(a.labels):
        m, sd = data[k].mean(axis=0), data[k].std(axis=0)
        colour = _COLOURS[k % len(_COLOURS)]
        ax.plot(steps, m, color=colour, label=label, lw=1.5)
        ax.fill_between(steps, m - sd, m + sd, color=colour, alpha=0.15)
