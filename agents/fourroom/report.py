"""FourRoom's ``summary.md`` (sec. 6.2, Appendix C.1): the setting and our choices, the numbers per
algorithm and scale, the paper's findings next to what this run measured, and a reading of the numbers.
Every sentence is computed from a :class:`FourRoomResults`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from agents.experiment import claims_table, wall_time
from agents.fourroom.analysis import AlgorithmResult, FourRoomResults, is_mla_family


def summary(results: FourRoomResults, seconds: Mapping[str, float]) -> str:
    """summary.md: the setting, our choices, the numbers and the findings next to the paper's."""
    cfg = results.config
    lines = [
        "# FourRoom (paper sec. 6.2, Figure 2, Appendix C.1)",
        "",
        f"{len(cfg.runs)} runs per (algorithm, scale), {cfg.steps} SGD steps each. {wall_time(seconds)}",
        "",
        *_setting(results),
    ]
    for a in results.algorithms.values():
        lines += _table(a)
    lines += ["## The paper's findings, decided on these numbers", "",
              *claims_table(results.claims, "algorithm", "evidence (paired differences against the baseline, "
                            "same data and minibatches)"),
              "", "## Reading the numbers", "", *reading(results),
              "", "## Files", "", "- `results.json`: every number the figures show "
              "(returns are `[scale][run][evaluation]`), and the paper's findings with their verdicts (`claims`).",
              "- `fig2_fourroom_returns.png` (Figure 2: softmax-policy return), `fig2b_fourroom_greedy_returns.png` "
              "(the greedy policy of the same tables).", ""]
    return "\n".join(lines)


def _setting(results: FourRoomResults) -> list[str]:
    cfg, refs = results.config, results.references
    return [
        "## Setting and choices",
        "- From the paper: four rooms, reward 10 at the goal else 0, γ = 0.9, random start, offline data "
        "from a uniform random behaviour policy covering every (s, a), minibatches of 64, SGD, lr 0.1 for "
        "the PG actor and critic, lr 0.01 for Q-learning, f_MLA(0, αr) with αr ∈ {0, 0.1, 0.2, 0.5, 1.0}, "
        "5 runs.",
        "- Scales in this run: " + ", ".join(results.labels)
        + ("" if is_mla_family(results.labels) else " (chosen for this run: not the paper's f_MLA(0, αr) family)")
        + ".",
        f"- Ours (the paper does not say): Sutton-Precup-Singh layout ({cfg.grid.states} cells), goal cell "
        f"{tuple(cfg.grid.goal_cell)} (bottom-right corner), deterministic moves, the goal ends the "
        f"episode; at least {cfg.dataset_size} transitions per run from random-start episodes (at most 100 "
        f"steps), continued until every (s, a) occurs (sizes {list(cfg.dataset_sizes)}); "
        "the loss is the **mean** over the minibatch (so an entry moves by lr/64 per sample), as in "
        "pgcheck.updates; tabular logits and critic initialised to 0; the PG actor uses the PGPB form UP(f) with "
        "T̂ = Q_w(s, a) from a critic trained by UQ(f_Q) on the expected-SARSA target of the current "
        f"policy; Q-learning uses UQ(f) on r + γ max_u q(s', u); {cfg.steps} steps.",
        "- The curves are the exact expected discounted return of the softmax policy of the logits "
        "(solving the Bellman linear system), so they carry no evaluation noise and need no smoothing "
        "(the paper smooths sampled returns with an exponential average, 0.01).",
        f"- References: optimal policy {refs.optimal_return:.4f}, uniform policy "
        f"{refs.uniform_policy_return:.4f}, softmax of Q* (where Q-learning's softmax policy ends if "
        f"q → Q*) {refs.softmax_of_q_star_return:.4f}.",
        "",
    ]


def _table(a: AlgorithmResult) -> list[str]:
    lines = [f"## {a.name} (lr {a.lr:g})", "",
             "| scale | final return | mean over training | peak of mean curve | steps to half of best | "
             "final greedy-policy return |",
             "|---|---|---|---|---|---|"]
    for lb in a.labels:
        p = a.per_scale[lb]
        div = f" ({p.diverged_runs} runs diverged)" if p.diverged_runs else ""
        lines.append(f"| {lb}{div} | {p.final.mean:.4f} ± {p.final.std:.4f} | "
                     f"{p.mean_over_training.mean:.4f} ± {p.mean_over_training.std:.4f} | "
                     f"{p.peak_of_mean_curve:.4f} | {p.steps_to_half_of_best} | "
                     f"{p.greedy_final.mean:.4f} ± {p.greedy_final.std:.4f} |")
    lines.append("")
    return lines


def _plateau(a: AlgorithmResult, optimum: float) -> tuple[float, float]:
    """(best final mean return over the scales, largest rise of a mean curve over the last fifth of the
    steps, as a fraction of the optimum)."""
    mean = np.asarray(a.softmax_return, dtype=float).mean(axis=1)  # [scale][evaluation]
    tail = max(1, mean.shape[1] // 5)
    rise = float((mean[:, -1] - mean[:, -1 - tail]).max()) / optimum
    return float(mean[:, -1].max()), rise


def reading(results: FourRoomResults) -> list[str]:
    """Bullet lines interpreting this run's numbers; each sentence is conditioned on what it asserts."""
    refs = results.references
    optimum = refs.optimal_return
    out: list[str] = []
    for algo, a in results.algorithms.items():
        best_final, rise = _plateau(a, optimum)
        state = (f"its mean curves still rise by up to {rise:.1%} of the optimum over the last fifth of the steps, "
                 "so more steps would change the numbers" if rise > 0.02 else
                 "its mean curves have levelled off (less than 2% of the optimum over the last fifth of the steps)")
        greedy = max(a.per_scale[lb].greedy_final.mean for lb in a.labels)
        line = (f"- {a.name}: the best final softmax-policy return is {best_final:.4f} against the optimum "
                f"{optimum:.4f} ({best_final / optimum:.0%}); {state}; the greedy policy of the same tables "
                f"reaches {greedy:.4f}.")
        if algo == "ql" and is_mla_family(a.labels):
            line += (" The environment is deterministic, so the bootstrapped target of an (s, a) is a function "
                     "of the table alone and every f_MLA(0, αr) (zero only at ΔR = 0, increasing) has the same "
                     "fixed point q = Q*: αr changes how fast the table gets there, not where it ends. The softmax "
                     f"policy of Q* returns {refs.softmax_of_q_star_return:.4f}, so a softmax return above "
                     "that is a transient of the path (larger positive steps, f = ΔR + αr ΔR² for ΔR > 0), "
                     "not a better limit.")
        if algo == "pg" and rise <= 0.02 and best_final < 0.8 * optimum and greedy >= 0.9 * optimum:
            line += (" The softmax policy stays soft although its greedy policy is near-optimal. A likely "
                     "reason (not tested here): with uniform behaviour data and no off-policy correction "
                     "(αo = 0), the f(ΔR) e_a part of UP pulls each logit towards the critic's value of that "
                     "action, and those values differ little between neighbouring moves.")
        out.append(line)
    return out
