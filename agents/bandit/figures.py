"""The bandit's figures after the paper's (sec. 6.1): Figure 1 (final regret per rule), Figure 6 (learning
curves), Figure 7 (final distance to θ*), Figure 8 (the return landscape with the trajectories), a close-up
of Figure 8 near θ* = (1, 1), and the learning-rate sweep (ours: the paper gives no learning rate).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from agents.bandit.analysis import BanditResults
from agents.experiment import pyplot, save_figure

_SCALE_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
_FORM_STYLES = ("-", "--", ":")


def plot(results: BanditResults, out_dir: Path) -> list[Path]:
    """Every figure as a PNG in ``out_dir``; the sweep's only where more than one learning rate ran."""
    figures: list[tuple[str, Callable[[BanditResults], Any]]] = [
        ("fig1_final_regret.png", fig1_final_regret), ("fig6_learning_curves.png", fig6_learning_curves),
        ("fig7_distance.png", fig7_distance), ("fig8_landscape.png", fig8_landscape),
        ("fig8b_final_thetas.png", fig8b_final_thetas)]
    if len(results.lr_sweep.lrs) > 1:
        figures.append(("fig_lr_sweep.png", fig_lr_sweep))
    return [save_figure(draw(results), out_dir / name) for name, draw in figures]


def _scale_labels(results: BanditResults) -> list[str]:
    """The scale part of the first form's rule names: ``f_MLA`` of ``UQ(f_MLA)``."""
    return [r[len(results.forms[0]) + 1:-1] for r in results.rules[:results.scales_per_form]]


def _soft_max(results: BanditResults) -> str:
    t = results.landscape.softmax.maximiser
    return f"θ̂* = ({t[0]:.3f}, {t[1]:.3f})"


def _grouped_bars(ax: Any, results: BanditResults, key: str, seeds_as_dots: bool) -> None:
    """One bar per rule, grouped by form, coloured by scale: the mean of the RuleFinal field ``key``, with
    every seed as a dot (``seeds_as_dots``) or the standard deviation as an error bar."""
    K, F = results.scales_per_form, len(results.forms)
    width = 0.8 / K
    for k, label in enumerate(_scale_labels(results)):
        xs = np.arange(F) + (k - (K - 1) / 2) * width
        vals = [getattr(results.final[results.rules[f * K + k]], key) for f in range(F)]
        colour = _SCALE_COLOURS[k % 6]
        if seeds_as_dots:
            ax.bar(xs, [max(v.mean, 1e-6) for v in vals], width, color=colour, label=label, alpha=0.8)
            for x, v in zip(xs, vals, strict=True):
                ax.scatter(np.full(len(v.per_seed), x), np.maximum(v.per_seed, 1e-6), s=8, color="k", zorder=3)
        else:
            ax.bar(xs, [v.mean for v in vals], width, yerr=[v.std for v in vals], color=colour, label=label,
                   alpha=0.8)
    ax.set_xticks(np.arange(F), [f"{f}(f)" for f in results.forms])
    ax.set_yscale("log")
    ax.legend(fontsize=8)


def fig1_final_regret(results: BanditResults) -> Any:
    """Figure 1: final regret per rule, grouped by form, for both return definitions."""
    fig, axes = pyplot().subplots(1, 2, figsize=(13, 4.4))
    for ax, key, title in zip(axes, ("regret_softmax", "regret_greedy"), (
            f"softmax policy: J(θ̂*) − J(θ), {_soft_max(results)}", "greedy policy: J(θ*) − J(θ), θ* = (1, 1)"),
            strict=True):
        _grouped_bars(ax, results, key, seeds_as_dots=True)
        ax.set(title=title, ylabel="final regret (bars: mean; dots: seeds)")
    fig.suptitle(f"2-D bandit: regret after {results.config.iterations} iterations (lr {results.config.lr})")
    return fig


def fig6_learning_curves(results: BanditResults) -> Any:
    """Figure 6: learning curves, one column per form; rows: both regrets and the distance to (1, 1)."""
    K, forms = results.scales_per_form, results.forms
    its = np.asarray(results.curves.iterations, dtype=float)
    rows = [("regret_softmax", "regret (softmax policy)"), ("regret_greedy", "regret (greedy policy)"),
            ("distance_to_paper_theta", "‖θ − (1, 1)‖")]
    fig, axes = pyplot().subplots(len(rows), len(forms), figsize=(15, 10), sharex=True)
    for r, (key, ylabel) in enumerate(rows):
        data = np.asarray(getattr(results.curves, key))  # [rule][seed][record]
        for f, form in enumerate(forms):
            ax = axes[r, f]
            for k, label in enumerate(_scale_labels(results)):
                d = data[f * K + k]
                ax.plot(its[1:], np.maximum(d.mean(0)[1:], 1e-7), color=_SCALE_COLOURS[k % 6], label=label)
                ax.fill_between(its[1:], np.maximum(d.min(0)[1:], 1e-7), np.maximum(d.max(0)[1:], 1e-7),
                                color=_SCALE_COLOURS[k % 6], alpha=0.15)
            ax.set(xscale="log", yscale="log", ylabel=ylabel if f == 0 else None,
                   title=f"{form}(f)" if r == 0 else None, xlabel="iteration" if r == len(rows) - 1 else None)
            if r == 0 and f == 0:
                ax.legend(fontsize=8)
    fig.suptitle("Learning curves (line: mean over seeds; band: min to max)")
    return fig


def fig7_distance(results: BanditResults) -> Any:
    """Figure 7: final distance to the paper's θ* and to the softmax maximiser."""
    fig, axes = pyplot().subplots(1, 2, figsize=(13, 4.2))
    for ax, key, title in zip(axes, ("distance_to_paper_theta", "distance_to_softmax_maximiser"),
                              ("final ‖θ − (1, 1)‖", f"final ‖θ − θ̂*‖, {_soft_max(results)}"), strict=True):
        _grouped_bars(ax, results, key, seeds_as_dots=False)
        ax.set(title=title, ylabel="distance (mean ± std over seeds)")
    return fig


def _paper_theta(ax: Any, results: BanditResults) -> None:
    ax.plot(*results.landscape.paper_theta, "*", color="white", ms=14, mec="k", label="paper θ* = (1, 1)")


def fig8_landscape(results: BanditResults) -> Any:
    """Figure 8: the return landscapes of both policies with each rule's seed-mean trajectory."""
    land, K = results.landscape, results.scales_per_form
    axis = np.asarray(land.grid_axis)
    lim = (axis[0], axis[-1])
    traj = np.asarray(results.trajectories.theta).mean(axis=1)  # [rule][record][2]
    fig, axes = pyplot().subplots(1, 2, figsize=(15, 6.6))
    for ax, grid, title in zip(axes, (land.grid_softmax, land.grid_greedy), (
            "J(θ), softmax policy π_θ", "J(θ), greedy policy argmax_a q_θ"), strict=True):
        z = np.asarray(grid).T  # imshow wants [θ1][θ0]
        im = ax.imshow(z, origin="lower", extent=(*lim, *lim), cmap="viridis", aspect="equal")
        ax.contour(axis, axis, z, levels=12, colors="white", linewidths=0.4, alpha=0.6)
        fig.colorbar(im, ax=ax, shrink=0.8)
        for i, rule in enumerate(results.rules):
            f, k = divmod(i, K)
            ax.plot(traj[i, :, 0], traj[i, :, 1], _FORM_STYLES[f % 3], color=_SCALE_COLOURS[k % 6], lw=1.6,
                    label=rule)
            ax.plot(traj[i, -1, 0], traj[i, -1, 1], "o", color=_SCALE_COLOURS[k % 6], ms=4)
        _paper_theta(ax, results)
        ax.plot(*land.softmax.maximiser, "X", color="magenta", ms=10, mec="k", label="softmax maximiser")
        ax.set(xlim=lim, ylim=lim, xlabel="θ0", ylabel="θ1", title=title)
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.25, 0.5))
    fig.suptitle("Return landscape and trajectories from (0, 0) (mean over seeds; line style = form, "
                 "colour = scale)")
    return fig


def fig8b_final_thetas(results: BanditResults) -> Any:
    """A close-up of Figure 8's greedy landscape around θ* with every seed's final θ."""
    zoom, K = results.landscape.zoom, results.scales_per_form
    zaxis = np.asarray(zoom.axis)
    lim = (zaxis[0], zaxis[-1])
    fig, ax = pyplot().subplots(figsize=(8.5, 6.5))
    z = np.asarray(zoom.greedy).T
    im = ax.imshow(z, origin="lower", extent=(*lim, *lim), cmap="viridis")
    ax.contour(zaxis, zaxis, z, levels=15, colors="white", linewidths=0.4, alpha=0.6)
    fig.colorbar(im, ax=ax, label="J(θ), greedy policy")
    for i, rule in enumerate(results.rules):
        f, k = divmod(i, K)
        pts = np.asarray(results.final[rule].theta)
        ax.scatter(pts[:, 0], pts[:, 1], marker="osD"[f % 3], color=_SCALE_COLOURS[k % 6], s=22, edgecolors="k",
                   linewidths=0.4, label=rule)
    _paper_theta(ax, results)
    ax.set(xlim=lim, ylim=lim, xlabel="θ0", ylabel="θ1",
           title="final θ of every seed near θ* (rules outside the window are not shown)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.25, 0.5))
    return fig


def fig_lr_sweep(results: BanditResults) -> Any:
    """Final regret against the learning rate, per rule (seed mean)."""
    sweep, K = results.lr_sweep, results.scales_per_form
    lrs = np.asarray(sweep.lrs)
    fig, axes = pyplot().subplots(1, 2, figsize=(14, 4.6))
    for ax, key in zip(axes, ("regret_softmax", "regret_greedy"), strict=True):
        data = np.asarray(getattr(sweep, key)).mean(axis=-1)  # [lr][rule]
        for i, rule in enumerate(results.rules):
            f, k = divmod(i, K)
            ax.plot(lrs, np.maximum(data[:, i], 1e-7), _FORM_STYLES[f % 3], marker="o", ms=3,
                    color=_SCALE_COLOURS[k % 6], label=rule)
        ax.set(xscale="log", yscale="log", xlabel="learning rate", ylabel=f"final {key.replace('_', ' ')}",
               title=f"final {key.replace('_', ' ')} vs learning rate (mean over seeds)")
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    return fig
