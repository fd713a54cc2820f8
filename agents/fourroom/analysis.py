"""FourRoom's numbers (sec. 6.2, Figure 2): per algorithm and scale the final return, the mean return over
training (a speed measure), paired differences against the first scale (the baseline αr = 0: same data and
minibatches), reference returns, and the paper's findings decided on these numbers, as one typed
:class:`FourRoomResults`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from agents.experiment import Claim, ClaimCheck, MeanStd, ScaleRecord, Verdict
from agents.fourroom.model import (
    GAMMA,
    GOAL_REWARD,
    LAYOUT,
    N_ACTIONS,
    Array,
    IntArray,
    make_grid,
    optimal_q,
    optimal_return,
    policy_returns,
    softmax,
)
from agents.fourroom.train import ALGORITHM_NAMES, Curves, FourRoomConfig

CLAIMS = (
    Claim("f_MLA(0, αr) with αr > 0 improves over the identity scale (αr = 0), for PG and for Q-learning",
          "sec. 6.2, Figure 2"),
    Claim("the agent learns faster as αr moves away from zero", "sec. 6.2, Figure 2"),
)

# ---------------------------------------------------------------------------------------------------
# the typed results (field names are the keys of results.json)


@dataclass(frozen=True)
class RunStats(MeanStd):
    per_run: tuple[float, ...]

    @classmethod
    def of(cls, a: Array) -> RunStats:
        return cls(float(a.mean()), float(a.std()), tuple(a.tolist()))


@dataclass(frozen=True)
class VsFirstScale:
    """Paired differences against the first scale (the same data and minibatches in every run)."""

    mean_over_training_diff: float
    runs_better_over_training: int
    final_diff: float
    runs_better_final: int


@dataclass(frozen=True)
class ScaleResult:
    final: RunStats
    mean_over_training: RunStats
    peak_of_mean_curve: float
    steps_to_half_of_best: int | None
    vs_first_scale: VsFirstScale
    greedy_final: MeanStd
    diverged_runs: int


@dataclass(frozen=True)
class AlgorithmResult:
    """One algorithm's curves (``[scale][run][evaluation]`` at ``steps``) and per-scale numbers."""

    name: str
    lr: float
    labels: tuple[str, ...]
    steps: IntArray
    softmax_return: Array
    greedy_return: Array
    layout: str
    half_of_best_level: float
    per_scale: dict[str, ScaleResult]


@dataclass(frozen=True)
class GridRecord:
    layout: str
    states: int
    goal_cell: tuple[int, int]


@dataclass(frozen=True)
class LearningRates:
    pg_actor_and_critic: float
    ql: float


@dataclass(frozen=True)
class Settings:
    """The run as results.json's ``config`` records it."""

    steps: int
    runs: tuple[int, ...]
    batch_size: int
    dataset_size: int
    dataset_sizes: tuple[int, ...]
    lr: LearningRates
    optimizer: str
    gamma: float
    goal_reward: float
    eval_every: int
    grid: GridRecord


@dataclass(frozen=True)
class References:
    """Returns to read the curves against: the optimal and the uniform policy, and the softmax of Q*
    (where Q-learning's softmax policy ends if q → Q*)."""

    optimal_return: float
    uniform_policy_return: float
    softmax_of_q_star_return: float


@dataclass(frozen=True)
class FourRoomResults:
    """Every number the figures and summary.md show; written as results.json."""

    config: Settings
    scales: dict[str, ScaleRecord]
    references: References
    algorithms: dict[str, AlgorithmResult]
    claims: tuple[ClaimCheck, ...] = field(default=())

    @property
    def labels(self) -> tuple[str, ...]:
        return next(iter(self.algorithms.values())).labels


# ---------------------------------------------------------------------------------------------------
# the analysis


def analyse(curves: Mapping[str, Curves], config: FourRoomConfig, scales: dict[str, ScaleRecord]) -> FourRoomResults:
    """Every number the figures and the summary show, and the paper's findings decided on them."""
    grid = make_grid()
    refs = References(optimal_return(grid),
                      float(policy_returns(grid, np.full((grid.n_states, N_ACTIONS), 1.0 / N_ACTIONS))),
                      float(policy_returns(grid, softmax(optimal_q(grid))[0])))
    first = next(iter(curves.values()))
    settings = Settings(
        config.steps, first.seeds, config.batch_size, config.dataset_size, first.dataset_sizes,
        LearningRates(config.lr_pg, config.lr_ql), "plain SGD on the mean over the minibatch", GAMMA, GOAL_REWARD,
        config.eval_every, GridRecord(LAYOUT, grid.n_states, grid.cells[grid.goal]))
    algorithms = {algo: _algorithm(algo, c, config.lr_pg if algo == "pg" else config.lr_ql, refs.uniform_policy_return)
                  for algo, c in curves.items()}
    results = FourRoomResults(settings, scales, refs, algorithms)
    return replace(results, claims=tuple(claim_checks(results)))


def _layout(a: Array) -> Array:
    """(evaluation, run, scale) -> [scale][run][evaluation]."""
    out: Array = np.moveaxis(a, 0, -1).transpose(1, 0, 2)
    return out


def _algorithm(algo: str, c: Curves, lr: float, uniform: float) -> AlgorithmResult:
    soft = c.softmax_return  # (T, R, K)
    mean = soft.mean(axis=1)  # (T, K)
    level = uniform + 0.5 * (float(mean.max()) - uniform)
    auc = soft.mean(axis=0)  # (R, K): mean return over the evaluations, a speed measure
    per: dict[str, ScaleResult] = {}
    for k, label in enumerate(c.labels):
        reach = np.nonzero(mean[:, k] >= level)[0]
        d_auc = auc[:, k] - auc[:, 0]
        d_fin = soft[-1, :, k] - soft[-1, :, 0]
        per[label] = ScaleResult(
            RunStats.of(soft[-1, :, k]), RunStats.of(auc[:, k]), float(mean[:, k].max()),
            int(c.steps[reach[0]]) if len(reach) else None,
            VsFirstScale(float(d_auc.mean()), int((d_auc > 0).sum()), float(d_fin.mean()), int((d_fin > 0).sum())),
            MeanStd(float(c.greedy_return[-1, :, k].mean()), float(c.greedy_return[-1, :, k].std())),
            int(c.diverged[:, k].sum()))
    return AlgorithmResult(ALGORITHM_NAMES[algo], lr, c.labels, c.steps, _layout(soft), _layout(c.greedy_return),
                           "[scale][run][evaluation]", level, per)


# ---------------------------------------------------------------------------------------------------
# the paper's findings


def is_mla_family(labels: tuple[str, ...]) -> bool:
    """Whether the run's scales are the paper's f_MLA(0, αr) family (sec. 6.2), in the order given."""
    return all(lb.startswith("f_MLA(0,") for lb in labels)


def claim_checks(results: FourRoomResults) -> list[ClaimCheck]:
    """The paper's FourRoom findings (sec. 6.2, Figure 2), decided on this run's numbers per algorithm.

    With scales other than the f_MLA(0, αr) family the findings are read as "each scale improves over the
    first" and "the agent learns faster along the order the scales were given"."""
    out: list[ClaimCheck] = []
    for a in results.algorithms.values():
        if len(a.labels) >= 2:
            out += [check_improvement(a, len(results.config.runs)), check_speed(a)]
    return out


def check_improvement(a: AlgorithmResult, runs: int) -> ClaimCheck:
    rest = a.labels[1:]
    vs = {lb: a.per_scale[lb].vs_first_scale for lb in rest}
    better = [lb for lb in rest if vs[lb].mean_over_training_diff > 0]
    better_final = [lb for lb in rest if vs[lb].final_diff > 0]
    measured = "; ".join(f"{lb}: {v.mean_over_training_diff:+.3f} over training ({v.runs_better_over_training}/"
                         f"{runs} runs), {v.final_diff:+.3f} final ({v.runs_better_final}/{runs})"
                         for lb, v in vs.items())
    claim = (Claim(CLAIMS[0].text + f" (baseline here: {a.labels[0]})", CLAIMS[0].source) if is_mla_family(a.labels)
             else Claim(f"not the paper's scales: each scale given improves over the first, {a.labels[0]}",
                        CLAIMS[0].source))
    holds = len(better) == len(rest) and len(better_final) == len(rest)
    return ClaimCheck.of(a.name, claim, measured, Verdict.decide(holds, partly=bool(better or better_final)))


def check_speed(a: AlgorithmResult) -> ClaimCheck:
    speed = [a.per_scale[lb].mean_over_training.mean for lb in a.labels]
    in_order = all(b > a_ for a_, b in itertools.pairwise(speed))
    # "partly": every αr > 0 is faster than αr = 0, but the speed does not grow with αr throughout
    all_beat = all(v > speed[0] for v in speed[1:])
    claim = (Claim(CLAIMS[1].text + " (scales in the order given)", CLAIMS[1].source) if is_mla_family(a.labels)
             else Claim("not the paper's scales: the agent learns faster along the order the scales were given",
                        CLAIMS[1].source))
    measured = ("mean return over training: "
                + ", ".join(f"{lb} {v:.3f}" for lb, v in zip(a.labels, speed, strict=True))
                + "; steps to half of the best: "
                + ", ".join(f"{lb} {a.per_scale[lb].steps_to_half_of_best}" for lb in a.labels))
    return ClaimCheck.of(a.name, claim, measured, Verdict.decide(in_order, partly=all_beat))
