"""The bandit's numbers (sec. 6.1): regret and distance along and at the end of every trajectory, the
return landscape of Figure 8 with its maximisers, the accuracy of the quadrature, and the paper's findings
decided on these numbers, as one typed :class:`BanditResults`.

Regret is reported for two return definitions, since the paper does not say which policy its J uses:
the softmax policy π_θ (eq. 4), against its own maximiser θ̂* (which is not (1, 1)), and the greedy policy
``argmax_a q_θ``, against the paper's θ* = (1, 1) (exactly its maximiser).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from agents.bandit.model import THETA_PAPER, Array, IntArray
from agents.bandit.returns import expected_return, maximise, monte_carlo_return, returns_unique
from agents.bandit.rules import FORMS, rule_label
from agents.bandit.train import BanditConfig, Trajectories
from agents.experiment import Claim, ClaimCheck, MeanStd, Say, ScaleRecord, Verdict, json_key, silent

# Gauss-Legendre nodes per sector (angle x radius) for the curves, the final values and their check.
LO_RES, HI_RES, CHECK_RES = (24, 32), (48, 64), (64, 96)

CLAIMS = (
    Claim("UP(f_MLA) (the MLA scale with the PGPB form) has the lowest final regret of the twelve rules",
          "sec. 6.1, Figure 1"),
    Claim("within each form, a maximum-likelihood scale (f_ML or f_MLA) beats f_SQ and f_SIL",
          "sec. 6.1, Figures 1 and 6"),
    Claim("UQ(f_SQ) (squared error) settles quickly but at a sub-optimal value", "sec. 6.1, Figure 6"),
    Claim("UP(f_SQ) (policy gradient) ends well but gets there slowly", "sec. 6.1, Figure 6"),
)
SPEED_CLAIMS = CLAIMS[2:]
METRICS = (("regret_softmax", "softmax policy"), ("regret_greedy", "greedy policy"))

# ---------------------------------------------------------------------------------------------------
# the typed results (field names are the keys of results.json)


@dataclass(frozen=True)
class SeedStats(MeanStd):
    per_seed: tuple[float, ...]

    @classmethod
    def of(cls, a: Array) -> SeedStats:
        return cls(float(np.mean(a)), float(np.std(a)), tuple(float(v) for v in a))


@dataclass(frozen=True)
class Settings:
    """The run as results.json's ``config`` records it."""

    iterations: int
    seeds: tuple[int, ...]
    batch_size: int
    lr: float
    lr_sweep: tuple[float, ...]
    start: tuple[float, float] = (0.0, 0.0)
    optimizer: str = "plain SGD ascent: theta += lr * mean over the batch of the update"
    behaviour_policy: str = "uniform over the 8 actions"
    target: str = "T = r (one-step problem)"

    @classmethod
    def of(cls, config: BanditConfig, seeds: tuple[int, ...]) -> Settings:
        return cls(config.iterations, seeds, config.batch_size, config.lr, config.lr_sweep)


@dataclass(frozen=True)
class Optimum:
    """A policy's maximiser of J (compass search) and J there and at the paper's θ* = (1, 1)."""

    maximiser: tuple[float, float]
    j_max: float = field(metadata=json_key("J_max"))
    j_at_paper_theta: float = field(metadata=json_key("J_at_paper_theta"))


@dataclass(frozen=True)
class GreedyOptimum(Optimum):
    note: str = "J_greedy(1,1) = E_x max_a r(x,a), the best any policy can do"


@dataclass(frozen=True)
class Zoom:
    axis: Array
    greedy: Array


@dataclass(frozen=True)
class Landscape:
    """Figure 8: J on a grid of θ (display resolution), and the optima."""

    paper_theta: tuple[float, float]
    softmax: Optimum
    greedy: GreedyOptimum
    best_possible_return: float
    grid_axis: Array
    grid_softmax: Array
    grid_greedy: Array
    grid_resolution: str
    zoom: Zoom


@dataclass(frozen=True)
class MonteCarloCheck:
    theta: tuple[float, float]
    quadrature: float
    mc_mean: float
    mc_stderr: float
    n: int


@dataclass(frozen=True)
class Accuracy:
    method: str
    curves_resolution: tuple[int, int]
    final_resolution: tuple[int, int]
    curves_max_abs_error: float
    final_max_abs_error: float
    monte_carlo_check: dict[str, MonteCarloCheck]


@dataclass(frozen=True)
class Curves:
    """Figures 6 and 7 over training, ``[rule][seed][record]`` at ``iterations``."""

    iterations: IntArray
    regret_softmax: Array
    regret_greedy: Array
    distance_to_paper_theta: Array
    distance_to_softmax_maximiser: Array
    layout: str = "[rule][seed][record]"


@dataclass(frozen=True)
class Paths:
    theta: Array
    layout: str = "[rule][seed][record][2]"


@dataclass(frozen=True)
class RuleFinal:
    """One rule at the end of the run, at the primary learning rate."""

    form: str
    scale: str
    theta: Array  # (seed, 2)
    regret_softmax: SeedStats
    regret_softmax_vs_paper_theta: SeedStats
    regret_greedy: SeedStats
    distance_to_paper_theta: SeedStats
    distance_to_softmax_maximiser: SeedStats
    norm_growth_last_half: float
    diverged_seeds: int


@dataclass(frozen=True)
class LrSweep:
    """Final values per learning rate: ``[lr][rule][seed]`` (θ: ``[lr][rule][seed][2]``)."""

    lrs: tuple[float, ...]
    regret_softmax: Array
    regret_greedy: Array
    theta: Array
    diverged: npt.NDArray[np.bool_]


@dataclass(frozen=True)
class BanditResults:
    """Every number the figures and summary.md show; written as results.json."""

    config: Settings
    rules: tuple[str, ...]
    forms: tuple[str, ...]
    scales: dict[str, ScaleRecord]
    landscape: Landscape
    accuracy: Accuracy
    curves: Curves
    trajectories: Paths
    final: dict[str, RuleFinal]
    lr_sweep: LrSweep
    claims: tuple[ClaimCheck, ...] = field(default=())

    @property
    def scales_per_form(self) -> int:
        return len(self.rules) // len(self.forms)

    def final_mean(self, metric: str) -> dict[str, float]:
        """The seed-mean final value of ``metric`` (a SeedStats field of RuleFinal) per rule."""
        return {r: float(getattr(self.final[r], metric).mean) for r in self.rules}

    @property
    def moving(self) -> list[str]:
        """Rules whose ‖θ‖ still grew by more than 0.25 over the second half of the run."""
        return [r for r in self.rules if self.final[r].norm_growth_last_half > 0.25]


# ---------------------------------------------------------------------------------------------------
# the analysis


@dataclass(frozen=True)
class _Along:
    """The primary learning rate's recorded trajectories: θ (T, rules, S, 2), J and distances (T, rules, S)."""

    theta: Array
    j_soft: Array
    j_greedy: Array
    dist_paper: Array
    dist_soft: Array


@dataclass(frozen=True)
class _Ends:
    """Final θ (L, rules, S, 2) of every learning rate and its J at high resolution (L, rules, S)."""

    theta: Array
    j_soft: Array
    j_greedy: Array


def analyse(traj: Trajectories, config: BanditConfig, scales: dict[str, ScaleRecord], say: Say = silent,
            quick: bool = False) -> BanditResults:
    """Every number the figures and the summary show, and the paper's findings decided on them.

    ``quick`` shrinks the display grids, the maximiser search's resolution and the Monte Carlo check
    (for smoke tests); the regrets themselves are computed the same way.
    """
    n_grid, n_zoom, n_mc = (15, 15, 100_000) if quick else (41, 57, 1_000_000)
    say("landscape maximisers")
    soft, greedy = _optima(quick)
    li = traj.lrs.index(config.lr)
    say("regret along the trajectories")
    along = _along(traj, li, soft)
    say("final returns at high resolution")
    ends = _ends(traj)
    accuracy = _accuracy(along, ends.theta[li], soft, n_mc)
    say("landscape grid")
    results = BanditResults(
        config=Settings.of(config, traj.seeds),
        rules=tuple(rule_label(f, k) for f in FORMS for k in traj.scale_names), forms=FORMS, scales=scales,
        landscape=_landscape(along.theta, soft, greedy, n_grid, n_zoom), accuracy=accuracy,
        curves=Curves(traj.iterations, np.moveaxis(soft.j_max - along.j_soft, 0, -1),
                      np.moveaxis(greedy.j_at_paper_theta - along.j_greedy, 0, -1),
                      np.moveaxis(along.dist_paper, 0, -1), np.moveaxis(along.dist_soft, 0, -1)),
        trajectories=Paths(np.moveaxis(along.theta, 0, 2)),
        final=_finals(traj, li, along, ends, soft, greedy),
        lr_sweep=LrSweep(traj.lrs, soft.j_max - ends.j_soft, greedy.j_at_paper_theta - ends.j_greedy,
                         ends.theta, traj.diverged.reshape(ends.j_soft.shape)))
    return replace(results, claims=tuple(claim_checks(results)))


def _optima(quick: bool) -> tuple[Optimum, GreedyOptimum]:
    """The maximisers of J for both policies, and J at the paper's θ* (sec. 6.1, Figure 8)."""
    soft_max, j_soft_max = maximise("softmax", (2.5, 2.5), 0.25, 1e-3 if quick else 1e-5)
    greedy_max, j_greedy_max = maximise("greedy", (1.2, 0.8))
    paper = np.asarray([THETA_PAPER])
    return (Optimum(soft_max, j_soft_max, float(expected_return(paper, "softmax", *HI_RES)[0])),
            GreedyOptimum(greedy_max, j_greedy_max, float(expected_return(paper, "greedy", *HI_RES)[0])))


def _along(traj: Trajectories, li: int, soft: Optimum) -> _Along:
    th = traj.theta[:, :, li]  # (T, 2, F, K, S)
    theta = np.moveaxis(th, 1, -1).reshape(len(traj.iterations), -1, len(traj.seeds), 2)
    pts = theta.reshape(-1, 2)
    shape = theta.shape[:-1]
    return _Along(theta, returns_unique(pts, "softmax", *LO_RES).reshape(shape),
                  returns_unique(pts, "greedy", *LO_RES).reshape(shape),
                  np.linalg.norm(theta - np.asarray(THETA_PAPER), axis=-1),
                  np.linalg.norm(theta - np.asarray(soft.maximiser), axis=-1))


def _ends(traj: Trajectories) -> _Ends:
    fin = np.moveaxis(traj.theta[-1], 0, -1)  # (L, F, K, S, 2)
    theta = fin.reshape(len(traj.lrs), -1, len(traj.seeds), 2)
    pts = theta.reshape(-1, 2)
    shape = theta.shape[:-1]
    return _Ends(theta, expected_return(pts, "softmax", *HI_RES).reshape(shape),
                 expected_return(pts, "greedy", *HI_RES).reshape(shape))


def _max_gap(points: Array, policy: str, res: tuple[int, int], reference: Array) -> float:
    return float(np.max(np.abs(expected_return(points, policy, *res) - reference)))


def _accuracy(along: _Along, final_theta: Array, soft: Optimum, n_mc: int) -> Accuracy:
    """The quadrature's error: the curves' resolution against the final one on a sample of records (the
    earliest, where θ is small and the apex 1/θ − 1 far away, and some later ones), the final resolution
    against a finer one, and an independent Monte Carlo estimate at the two optima."""
    T = along.theta.shape[0]
    rec = sorted({min(i, T - 1) for i in (1, 3, T // 2, T - 1)})
    sample = along.theta[rec][:, :, 0].reshape(-1, 2)  # every rule, first seed
    curves_err = max(_max_gap(sample, "softmax", HI_RES, along.j_soft[rec][..., 0].reshape(-1)),
                     _max_gap(sample, "greedy", HI_RES, along.j_greedy[rec][..., 0].reshape(-1)))
    n_final = final_theta.shape[0] * final_theta.shape[1]
    check = np.asarray([soft.maximiser, THETA_PAPER, *final_theta.reshape(-1, 2)[:: max(1, n_final // 6)]])
    final_err = max(_max_gap(check, p, HI_RES, expected_return(check, p, *CHECK_RES)) for p in ("softmax", "greedy"))
    mc: dict[str, MonteCarloCheck] = {}
    for policy, theta in (("softmax", soft.maximiser), ("greedy", THETA_PAPER)):
        mean, stderr = monte_carlo_return(theta, policy, n_mc)
        quad = float(expected_return(np.asarray([theta]), policy, *HI_RES)[0])
        mc[policy] = MonteCarloCheck(theta, quad, mean, stderr, n_mc)
    return Accuracy("polar Gauss-Legendre quadrature per greedy-action sector around the apex 1/theta - 1",
                    LO_RES, HI_RES, curves_err, final_err, mc)


def _grid(axis: Array, policy: str, res: tuple[int, int]) -> Array:
    pts = np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)
    out: Array = expected_return(pts, policy, *res).reshape(len(axis), len(axis))
    return out


def _landscape(theta: Array, soft: Optimum, greedy: GreedyOptimum, n_grid: int, n_zoom: int) -> Landscape:
    """Figure 8's grids, wide enough for the seed-mean paths ``theta.mean(seeds)`` drawn on them."""
    mean_traj = theta.mean(axis=2)  # (T, rules, 2)
    lo = float(np.clip(min(-1.0, float(np.min(mean_traj))) - 0.5, -12.0, 0.0))
    hi = float(np.clip(max(3.0, float(np.max(mean_traj))) + 0.5, 3.0, 12.0))
    axis = np.linspace(lo, hi, n_grid)
    zaxis = np.linspace(0.3, 1.7, n_zoom)
    return Landscape(THETA_PAPER, soft, greedy, greedy.j_at_paper_theta,  # greedy on ⟨x, Ψ⟩ is the best
                     axis, _grid(axis, "softmax", (16, 24)), _grid(axis, "greedy", (16, 24)),
                     "Gauss-Legendre 16 x 24 per sector (display only)",
                     Zoom(zaxis, _grid(zaxis, "greedy", (24, 32))))


def _finals(traj: Trajectories, li: int, along: _Along, ends: _Ends, soft: Optimum,
            greedy: GreedyOptimum) -> dict[str, RuleFinal]:
    K = len(traj.scale_names)
    norms = np.linalg.norm(along.theta, axis=-1)  # (T, rules, S)
    half = int(np.searchsorted(traj.iterations, traj.iterations[-1] // 2))
    diverged = traj.diverged.reshape(ends.j_soft.shape)
    out: dict[str, RuleFinal] = {}
    for i in range(len(FORMS) * K):
        f, k = divmod(i, K)
        js, jg = ends.j_soft[li, i], ends.j_greedy[li, i]
        out[rule_label(FORMS[f], traj.scale_names[k])] = RuleFinal(
            FORMS[f], traj.scale_names[k], ends.theta[li, i], SeedStats.of(soft.j_max - js),
            SeedStats.of(soft.j_at_paper_theta - js), SeedStats.of(greedy.j_at_paper_theta - jg),
            SeedStats.of(along.dist_paper[-1, i]), SeedStats.of(along.dist_soft[-1, i]),
            float(np.mean(norms[-1, i] - norms[half, i])), int(diverged[li, i].sum()))
    return out


# ---------------------------------------------------------------------------------------------------
# the paper's findings


def settle_iteration(iterations: Sequence[int], curve: Array, frac: float = 0.1) -> int:
    """The first recorded iteration after which a regret curve stays within ``frac`` of its total change,
    measured in log10 (regret spans decades: on a linear scale a fall from 1e-2 to 1e-3 late in a run
    would count as settled, although the figures, drawn in log scale, show it still improving)."""
    c = np.log10(np.maximum(np.asarray(curve, dtype=np.float64), 1e-12))
    tol = frac * abs(c[0] - c[-1])
    outside = np.nonzero(np.abs(c - c[-1]) > tol)[0]
    idx = 0 if len(outside) == 0 else min(int(outside[-1]) + 1, len(c) - 1)
    return int(iterations[idx])


def fmt(v: float) -> str:
    return f"{v:.2e}" if abs(v) < 1e-3 and v != 0 else f"{v:.4f}"


def claim_checks(results: BanditResults) -> list[ClaimCheck]:
    """Each of the paper's bandit findings (sec. 6.1), decided on this run's numbers, per return definition."""
    out: list[ClaimCheck] = []
    for metric, case in METRICS:
        mean = results.final_mean(metric)
        curves = np.asarray(getattr(results.curves, metric)).mean(axis=1)  # [rule][record]
        out += [_best_rule(case, results.rules, mean), _ml_within_forms(case, results, mean),
                *_speed(case, results, mean, curves)]
    return out


def _best_rule(case: str, rules: Sequence[str], mean: dict[str, float]) -> ClaimCheck:
    ranking = sorted(rules, key=lambda r: mean[r])
    best = ranking[0]
    rank = ranking.index("UP(f_MLA)") + 1 if "UP(f_MLA)" in ranking else "-"
    return ClaimCheck.of(case, CLAIMS[0], f"lowest final regret: {best} ({fmt(mean[best])}); UP(f_MLA) ranks "
                         f"{rank} of {len(rules)}",
                         Verdict.decide(best == "UP(f_MLA)" if "UP(f_MLA)" in rules else None))


def _ml_within_forms(case: str, results: BanditResults, mean: dict[str, float]) -> ClaimCheck:
    K = results.scales_per_form
    rules = results.rules
    per_form_best = {f: min(rules[i * K:(i + 1) * K], key=lambda r: mean[r]) for i, f in enumerate(results.forms)}
    form_ok = [f for f, r in per_form_best.items() if r.endswith(("(f_ML)", "(f_MLA)"))]
    return ClaimCheck.of(case, CLAIMS[1], "best scale per form: " + ", ".join(
        f"{f}: {r}" for f, r in per_form_best.items()), Verdict.decide(len(form_ok) == len(results.forms)))


def _speed(case: str, results: BanditResults, mean: dict[str, float], curves: Array) -> list[ClaimCheck]:
    """The two speed findings on UQ(f_SQ) and UP(f_SQ); not tested where the run lacks f_SQ."""
    rules = results.rules
    if "UQ(f_SQ)" not in rules or "UP(f_SQ)" not in rules:
        return [ClaimCheck.of(case, c, "UQ(f_SQ) and UP(f_SQ) are not among this run's rules", Verdict.NOT_TESTED)
                for c in SPEED_CLAIMS]
    its = [int(i) for i in results.curves.iterations]
    uq, up = rules.index("UQ(f_SQ)"), rules.index("UP(f_SQ)")
    t_uq, t_up = settle_iteration(its, curves[uq]), settle_iteration(its, curves[up])
    m_uq, m_up = mean["UQ(f_SQ)"], mean["UP(f_SQ)"]
    median = float(np.median(list(mean.values())))
    # "ends well": among the better half at the end, *and* still near its best (a rule that passed
    # through a low regret and drifted away from it does not end well)
    up_best = float(np.min(curves[up]))
    ends_well = m_up <= median and m_up <= 2.0 * up_best
    return [ClaimCheck.of(case, SPEED_CLAIMS[0], f"UQ(f_SQ) settles by iteration {t_uq} at {fmt(m_uq)}; UP(f_SQ) "
                          f"settles by {t_up} at {fmt(m_up)}", Verdict.decide(t_uq < t_up and m_uq > m_up)),
            ClaimCheck.of(case, SPEED_CLAIMS[1], f"UP(f_SQ) final {fmt(m_up)} vs the median rule {fmt(median)} "
                          f"and its own best {fmt(up_best)} along the run; settles at {t_up} vs {t_uq} for UQ(f_SQ)",
                          Verdict.decide(ends_well and t_up > t_uq))]
