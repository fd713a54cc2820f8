"""The FourRoom experiment of the paper (sec. 6.2, Figure 2, Appendix C.1), tabular and offline.

Setting: the four-rooms gridworld (Sutton, Precup & Singh's layout, 104 cells), four deterministic
moves (a move into a wall stays put), reward 10 on entering the goal cell (which ends the episode),
0 otherwise, γ = 0.9, a uniformly random start cell. The data are collected once per run by the
uniform random behaviour policy and cover every (state, action) pair; each update uses a minibatch
of 64 transitions drawn uniformly from them, and plain SGD on the mean over the minibatch.

Two learners, each with the scale ``f_MLA(0, αr)`` (eq. 36 with αo = 0: no off-policy correction):

* ``pg``: policy gradient with a learned critic. The actor's logits ``q_θ(s, ·)`` (a table) follow
  UP(f) (eq. 33, the PGPB form) with target ``T̂(s, a) = Q_w(s, a)`` from a critic table, so
  ``ΔR = Q_w(s, a) − q_θ(s, a)``; the critic follows UQ(f_Q) (squared error, eq. 31 with f = y) towards the
  expected-SARSA target ``r + γ Σ_u π_θ(u|s') Q_w(s', u)``. Learning rate 0.1 for both (C.1).
* ``ql``: Q-learning, UQ(f) (eq. 31) with the bootstrapped target ``r + γ max_u q_θ(s', u)``;
  learning rate 0.01 (C.1).

``ΔO = log π_θ(a|s) − log(1/4)`` (eq. 25) is passed to every scale, though f_MLA(0, αr) ignores it.
The policy is the softmax of the logits (sec. 6.2: "the policy is defined via the logits"); its
expected discounted return from the random start is computed exactly by solving the Bellman linear
system, so the curves carry no evaluation noise. The greedy policy's return is reported too.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pgcheck.certificate import CheckedScale
from pgcheck.files import atomic_save

Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

ALGORITHMS: tuple[str, ...] = ("pg", "ql")
ALGORITHM_NAMES = {"pg": "policy gradient (UP form, learned critic)", "ql": "Q-learning (UQ form)"}

# The layout of Sutton, Precup & Singh (1999): 'w' wall, ' ' floor, 'G' the goal (our choice of cell:
# the paper's Figure 9 is not legible in the text we have).
LAYOUT = """\
wwwwwwwwwwwww
w     w     w
w     w     w
w           w
w     w     w
w     w     w
ww wwww     w
w     www www
w     w     w
w     w     w
w           w
w     w    Gw
wwwwwwwwwwwww"""

MOVES: tuple[tuple[int, int], ...] = ((-1, 0), (1, 0), (0, -1), (0, 1))  # up, down, left, right
N_ACTIONS = len(MOVES)
GAMMA = 0.9
GOAL_REWARD = 10.0


@dataclass(frozen=True)
class Grid:
    """The gridworld as tables: ``next_state[s, a]``, the goal index and the start states."""

    cells: tuple[tuple[int, int], ...]
    next_state: IntArray
    goal: int

    @property
    def n_states(self) -> int:
        return len(self.cells)

    @property
    def starts(self) -> IntArray:
        """Every non-goal cell: the uniform start distribution's support."""
        return np.asarray([s for s in range(self.n_states) if s != self.goal], dtype=np.int64)


def make_grid(layout: str = LAYOUT) -> Grid:
    rows = layout.splitlines()
    cells = tuple((i, j) for i, row in enumerate(rows) for j, ch in enumerate(row) if ch != "w")
    index = {c: k for k, c in enumerate(cells)}
    goals = [index[(i, j)] for i, row in enumerate(rows) for j, ch in enumerate(row) if ch == "G"]
    if len(goals) != 1:
        raise ValueError("the layout must have exactly one goal cell 'G'")
    nxt = np.asarray([[index.get((i + di, j + dj), k) for di, dj in MOVES] for k, (i, j) in enumerate(cells)],
                     dtype=np.int64)
    return Grid(cells, nxt, goals[0])


# ---------------------------------------------------------------------------------------------------
# data


@dataclass(frozen=True)
class Minibatch:
    """Per run (R, B): states, actions, rewards, next states, terminal flags."""

    s: IntArray
    a: IntArray
    r: Array
    s2: IntArray
    done: Array


@dataclass(frozen=True)
class Dataset:
    """Transitions (s, a, r, s', done) of the uniform behaviour policy; arrays (runs, N), run r's data in
    the first ``sizes[r]`` columns (runs may need different numbers of episodes to cover every pair)."""

    s: IntArray
    a: IntArray
    r: Array
    s2: IntArray
    done: Array
    sizes: IntArray

    def sample(self, rng: np.random.Generator, batch_size: int) -> Minibatch:
        """A minibatch per run, drawn uniformly (with replacement) from that run's transitions."""
        i = (rng.random((len(self.sizes), batch_size)) * self.sizes[:, None]).astype(np.int64)
        ridx = np.arange(len(self.sizes))[:, None]
        return Minibatch(self.s[ridx, i], self.a[ridx, i], self.r[ridx, i], self.s2[ridx, i], self.done[ridx, i])


def collect(grid: Grid, rng: np.random.Generator, size: int, max_len: int = 100) -> tuple[IntArray, ...]:
    """At least ``size`` transitions from episodes of the uniform random policy, each from a random start,
    continuing episode by episode until every (s, a) with s not the goal has occurred (sec. 6.2: the
    data cover the whole state and action space).

    Episodes end at the goal or after ``max_len`` steps (a time limit, not a terminal state: the
    last transition still bootstraps).
    """
    out: list[list[int]] = [[], [], [], []]
    seen = np.zeros((grid.n_states, N_ACTIONS), dtype=bool)
    seen[grid.goal] = True  # the goal is terminal: no transitions leave it
    while len(out[0]) < size or not seen.all():
        s = int(rng.choice(grid.starts))
        for a in rng.integers(0, N_ACTIONS, max_len):
            s2 = int(grid.next_state[s, a])
            seen[s, a] = True
            for lst, v in zip(out, (s, int(a), s2, int(s2 == grid.goal)), strict=True):
                lst.append(v)
            if s2 == grid.goal:
                break
            s = s2
    return tuple(np.asarray(v, dtype=np.int64) for v in out)


def make_datasets(grid: Grid, seeds: Sequence[int], size: int) -> Dataset:
    parts = [collect(grid, np.random.default_rng([6_2, s]), size) for s in seeds]
    sizes = np.asarray([len(p[0]) for p in parts], dtype=np.int64)
    n = int(sizes.max())

    def pad(i: int) -> IntArray:
        return np.stack([np.pad(p[i], (0, n - len(p[i]))) for p in parts])

    s, a, s2, d = pad(0), pad(1), pad(2), pad(3)
    return Dataset(s, a, GOAL_REWARD * d.astype(np.float64), s2, d.astype(np.float64), sizes)


# ---------------------------------------------------------------------------------------------------
# exact returns


def policy_returns(grid: Grid, pi: Array) -> Array:
    """Expected discounted return from the uniform start for policies ``pi`` (..., S, A).

    Solves ``V = r_π + γ P_π V`` on the non-goal states (the goal is terminal, value 0), with
    ``r_π(s) = 10 Σ_a π(a|s) 1[next(s,a) = goal]``. Uses torch's batched solver on one thread.
    """
    import torch

    nS = grid.n_states
    onehot = np.zeros((nS, N_ACTIONS, nS))
    onehot[np.arange(nS)[:, None], np.arange(N_ACTIONS)[None, :], grid.next_state] = 1.0
    P = np.einsum("...sa,sat->...st", pi, onehot)
    r = GOAL_REWARD * P[..., :, grid.goal]
    keep = grid.starts
    A = np.eye(len(keep)) - GAMMA * P[..., keep[:, None], keep[None, :]]
    V = torch.linalg.solve(torch.as_tensor(A), torch.as_tensor(r[..., keep])[..., None])[..., 0].numpy()
    out: Array = V.mean(axis=-1)
    return out


def softmax(q: Array) -> tuple[Array, Array]:
    """π and log π over the last axis."""
    m = q.max(axis=-1, keepdims=True)
    z = q - m
    lse = np.log(np.exp(z).sum(axis=-1, keepdims=True))
    logp = z - lse
    return np.exp(logp), logp


def greedy(q: Array) -> Array:
    """The greedy policy as a one-hot table (ties to the first maximal action)."""
    out = np.zeros_like(q)
    np.put_along_axis(out, np.argmax(q, axis=-1)[..., None], 1.0, axis=-1)
    return out


def optimal_return(grid: Grid) -> float:
    """The best achievable expected discounted return from the uniform start (value iteration)."""
    V = np.zeros(grid.n_states)
    for _ in range(1000):
        Q = np.where(grid.next_state == grid.goal, GOAL_REWARD, GAMMA * V[grid.next_state])
        V_new = Q.max(axis=1)
        V_new[grid.goal] = 0.0
        if np.max(np.abs(V_new - V)) < 1e-13:
            V = V_new
            break
        V = V_new
    return float(V[grid.starts].mean())


# ---------------------------------------------------------------------------------------------------
# the updates, vectorised over runs and scales


class _Index:
    """Flat indices into tables (R, K, S, A) for one minibatch, computed once and reused.

    Why flat: ``np.take`` and ``np.bincount`` on a raveled table are several times faster than
    multi-dimensional fancy indexing and ``np.add.at`` for these small arrays.
    """

    def __init__(self, shape: tuple[int, ...], batch: Minibatch) -> None:
        R, K, S, A = shape
        self.shape = shape
        table_start = ((np.arange(R)[:, None, None] * K + np.arange(K)[None, :, None]) * S) * A  # (R, K, 1)
        self.row_s = table_start + batch.s[:, None, :] * A  # (R, K, B): where row s starts
        self.row_s2 = table_start + batch.s2[:, None, :] * A
        self.entry_sa = self.row_s + batch.a[:, None, :]  # (R, K, B): the entry (s, a)
        self.rows_s = self.row_s[..., None] + np.arange(A)  # (R, K, B, A)
        self.rows_s2 = self.row_s2[..., None] + np.arange(A)
        self.batch = batch.s.shape[1]
        # the taken action inside a gathered (R, K, B, A) block, as a flat index into that block
        self.in_rows = np.arange(R * K * self.batch).reshape(R, K, -1) * A + batch.a[:, None, :]

    def scatter_mean(self, idx: IntArray, values: Array) -> Array:
        """The batch mean of per-sample contributions ``values`` at flat positions ``idx``, as a table."""
        size = int(np.prod(self.shape))
        sums = np.bincount(idx.ravel(), weights=values.ravel(), minlength=size).astype(np.float64)
        out: Array = sums.reshape(self.shape) / self.batch
        return out


def _lse(rows: Array) -> tuple[Array, Array]:
    """Row maximum and log-sum-exp over the (short) last axis, written with slices: no slow reductions."""
    A = rows.shape[-1]
    m = rows[..., 0]
    for u in range(1, A):
        m = np.maximum(m, rows[..., u])
    z = np.exp(rows[..., 0] - m)
    for u in range(1, A):
        z = z + np.exp(rows[..., u] - m)
    return m, m + np.log(z)


def _dot_last(a: Array, b: Array) -> Array:
    out = a[..., 0] * b[..., 0]
    for u in range(1, a.shape[-1]):
        out = out + a[..., u] * b[..., u]
    return out


def _scales(scales: Sequence[CheckedScale], d_o: Array, d_r: Array) -> Array:
    f = np.empty_like(d_o)
    for k, scale in enumerate(scales):
        f[:, k] = scale.numpy(d_o[:, k], d_r[:, k])
    return f


def ql_direction(q: Array, batch: Minibatch, scales: Sequence[CheckedScale]) -> Array:
    """Batch mean of UQ(f) (eq. 31) for Q-learning; ``q`` (R, K, S, A), scale k for slice k.

    Target ``r + γ (1 − done) max_u q(s', u)`` (held fixed); in a table ``∇q(s,a)`` is the indicator of
    the entry (s, a), so the update is ``f(ΔO, ΔR)`` at that entry.
    """
    ix = _Index(q.shape, batch)
    flat = q.reshape(-1)
    rows = flat[ix.rows_s]
    _, lse = _lse(rows)
    next_max, _ = _lse(flat[ix.rows_s2])
    q_sa = flat[ix.entry_sa]
    d_r = batch.r[:, None] + GAMMA * (1.0 - batch.done[:, None]) * next_max - q_sa
    d_o = q_sa - lse + math.log(N_ACTIONS)  # log π_θ(a|s) − log(1/4)
    return ix.scatter_mean(ix.entry_sa, _scales(scales, d_o, d_r))


def pg_directions(theta: Array, critic: Array, batch: Minibatch, scales: Sequence[CheckedScale],
                  critic_scale: CheckedScale) -> tuple[Array, Array]:
    """Batch means of the actor's UP(f) (eq. 33) and the critic's UQ(f_Q) (eq. 31).

    Actor row update for sample (s, a): ``f (e_a − π(·|s)) + π(·|s) ⊙ (q(s,·) − q̄(s))``, the last
    term being ``∇ E_{u∼π_θ} q̂(s, u)``; ``ΔR = Q_w(s, a) − q_θ(s, a)``. Critic: ``f_Q(ΔO, ΔR_c) e_a`` with
    ``ΔR_c = r + γ (1 − done) Σ_u π_θ(u|s') Q_w(s', u) − Q_w(s, a)`` (expected SARSA for π_θ).
    """
    ix = _Index(theta.shape, batch)
    t_flat, c_flat = theta.reshape(-1), critic.reshape(-1)
    rows = t_flat[ix.rows_s]
    _, lse = _lse(rows)
    pi = np.exp(rows - lse[..., None])
    rows2 = t_flat[ix.rows_s2]
    _, lse2 = _lse(rows2)
    v_next = _dot_last(np.exp(rows2 - lse2[..., None]), c_flat[ix.rows_s2])
    t_hat = c_flat[ix.entry_sa]
    q_sa = t_flat[ix.entry_sa]
    d_o = q_sa - lse + math.log(N_ACTIONS)
    f = _scales(scales, d_o, t_hat - q_sa)
    q_bar = _dot_last(pi, rows)
    actor = (pi * (rows - q_bar[..., None] - f[..., None])).reshape(-1)
    actor[ix.in_rows.ravel()] += f.ravel()  # f e_a
    d_rc = batch.r[:, None] + GAMMA * (1.0 - batch.done[:, None]) * v_next - t_hat
    fc = np.stack([critic_scale.numpy(d_o[:, k], d_rc[:, k]) for k in range(len(scales))], axis=1)
    return ix.scatter_mean(ix.rows_s, actor), ix.scatter_mean(ix.entry_sa, fc)


# ---------------------------------------------------------------------------------------------------
# training


@dataclass(frozen=True)
class FourRoomConfig:
    """The run. The paper gives the minibatch, optimiser and learning rates; the rest is ours."""

    steps: int = 100_000
    runs: int = 5
    batch_size: int = 64
    dataset_size: int = 20_000
    lr_pg: float = 0.1
    lr_ql: float = 0.01
    eval_every: int = 1000
    first_seed: int = 0

    def eval_at(self) -> IntArray:
        return np.unique(np.concatenate([np.arange(0, self.steps + 1, self.eval_every), [self.steps]]))


@dataclass
class Curves:
    """Returns over training for one algorithm: (T, R, K) arrays at ``steps`` (T,)."""

    steps: IntArray
    softmax_return: Array
    greedy_return: Array
    labels: tuple[str, ...]
    seeds: tuple[int, ...]
    diverged: npt.NDArray[np.bool_]
    dataset_sizes: tuple[int, ...]


def train(algo: str, config: FourRoomConfig, scales: Sequence[tuple[str, CheckedScale]],
          critic_scale: CheckedScale, progress: Callable[[int], None] | None = None,
          grid: Grid | None = None) -> Curves:
    """All runs and scales of one algorithm at once; every scale sees the same data and minibatches."""
    if algo not in ALGORITHMS:
        raise ValueError(f"algo must be one of {ALGORITHMS}")
    for name, s in [*scales, ("critic", critic_scale)]:
        if not isinstance(s, CheckedScale):
            raise TypeError(f"scale {name!r} must be a CheckedScale from pgcheck.check.checked_scale")
    grid = grid or make_grid()
    seeds = tuple(range(config.first_seed, config.first_seed + config.runs))
    data = make_datasets(grid, seeds, config.dataset_size)
    fns = [s for _, s in scales]
    R, K, S = len(seeds), len(fns), grid.n_states
    theta = np.zeros((R, K, S, N_ACTIONS))
    critic = np.zeros_like(theta)
    lr = config.lr_pg if algo == "pg" else config.lr_ql
    rng = np.random.default_rng([6_2, 1, config.first_seed])
    at = set(config.eval_at().tolist())
    soft: list[Array] = []
    greed: list[Array] = []
    diverged = np.zeros((R, K), dtype=bool)

    def evaluate() -> None:
        pi, _ = softmax(theta)
        soft.append(policy_returns(grid, pi))
        greed.append(policy_returns(grid, greedy(theta)))

    evaluate()
    for step in range(1, config.steps + 1):
        batch = data.sample(rng, config.batch_size)
        with np.errstate(all="ignore"):  # a diverging run is detected and frozen just below
            if algo == "ql":
                d_theta = ql_direction(theta, batch, fns)
                d_critic = None
            else:
                d_theta, d_critic = pg_directions(theta, critic, batch, fns, critic_scale)
            new_theta = theta + lr * d_theta
            new_critic = critic + lr * d_critic if d_critic is not None else None
        # a table diverges when its step, or the table after it, is not finite
        finite = bool(np.isfinite(new_theta).all()) and (new_critic is None or bool(np.isfinite(new_critic).all()))
        if finite and not diverged.any():  # the common case, without per-table bookkeeping
            theta, critic = new_theta, new_critic if new_critic is not None else critic
        else:
            diverged |= ~np.isfinite(new_theta).all(axis=(2, 3))
            if new_critic is not None:
                diverged |= ~np.isfinite(new_critic).all(axis=(2, 3))
            keep = ~diverged[:, :, None, None]
            theta = np.where(keep, new_theta, theta)
            if new_critic is not None:
                critic = np.where(keep, new_critic, critic)
        if step in at:
            evaluate()
        if progress is not None and (step % 500 == 0 or step == config.steps):
            progress(step)
    return Curves(config.eval_at(), np.stack(soft), np.stack(greed), tuple(n for n, _ in scales), seeds, diverged,
                  tuple(int(n) for n in data.sizes))


# ---------------------------------------------------------------------------------------------------
# analysis, figures, summary

PAPER_CLAIMS = (
    "f_MLA(0, αr) with αr > 0 improves over the identity scale (αr = 0), for PG and for Q-learning",
    "the agent learns faster as αr moves away from zero",
)


def optimal_q(grid: Grid) -> Array:
    """Q* by value iteration (the fixed point Q-learning's table tends to)."""
    V = np.zeros(grid.n_states)
    Q = np.zeros((grid.n_states, N_ACTIONS))
    for _ in range(2000):
        Q = np.where(grid.next_state == grid.goal, GOAL_REWARD, GAMMA * V[grid.next_state])
        V_new = Q.max(axis=1)
        V_new[grid.goal] = 0.0
        if np.max(np.abs(V_new - V)) < 1e-13:
            break
        V = V_new
    return Q


def analyse(curves: dict[str, Curves], config: FourRoomConfig,
            scale_info: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Every number the figures and the summary show, as plain JSON-able data."""
    grid = make_grid()
    uniform = float(policy_returns(grid, np.full((grid.n_states, N_ACTIONS), 1.0 / N_ACTIONS)))
    soft_q_star = float(policy_returns(grid, softmax(optimal_q(grid))[0]))
    algos: dict[str, Any] = {}
    for algo, c in curves.items():
        soft = c.softmax_return  # (T, R, K)
        mean = soft.mean(axis=1)  # (T, K)
        best = float(mean.max())
        level = uniform + 0.5 * (best - uniform)
        auc = soft.mean(axis=0)  # (R, K): mean return over the evaluations, a speed measure
        per: dict[str, Any] = {}
        for k, label in enumerate(c.labels):
            reach = np.nonzero(mean[:, k] >= level)[0]
            d_auc = auc[:, k] - auc[:, 0]
            d_fin = soft[-1, :, k] - soft[-1, :, 0]
            per[label] = {
                "final": {"mean": float(soft[-1, :, k].mean()), "std": float(soft[-1, :, k].std()),
                          "per_run": soft[-1, :, k].tolist()},
                "mean_over_training": {"mean": float(auc[:, k].mean()), "std": float(auc[:, k].std()),
                                       "per_run": auc[:, k].tolist()},
                "peak_of_mean_curve": float(mean[:, k].max()),
                "steps_to_half_of_best": int(c.steps[reach[0]]) if len(reach) else None,
                "vs_first_scale": {"mean_over_training_diff": float(d_auc.mean()),
                                   "runs_better_over_training": int((d_auc > 0).sum()),
                                   "final_diff": float(d_fin.mean()), "runs_better_final": int((d_fin > 0).sum())},
                "greedy_final": {"mean": float(c.greedy_return[-1, :, k].mean()),
                                 "std": float(c.greedy_return[-1, :, k].std())},
                "diverged_runs": int(c.diverged[:, k].sum()),
            }
        algos[algo] = {
            "name": ALGORITHM_NAMES[algo],
            "lr": config.lr_pg if algo == "pg" else config.lr_ql,
            "labels": list(c.labels),
            "steps": c.steps.tolist(),
            "softmax_return": np.moveaxis(soft, 0, -1).transpose(1, 0, 2).tolist(),
            "greedy_return": np.moveaxis(c.greedy_return, 0, -1).transpose(1, 0, 2).tolist(),
            "layout": "[scale][run][evaluation]",
            "half_of_best_level": level,
            "per_scale": per,
        }
    return {
        "experiment": "fourroom",
        "config": {"steps": config.steps, "runs": list(next(iter(curves.values())).seeds),
                   "batch_size": config.batch_size, "dataset_size": config.dataset_size,
                   "dataset_sizes": list(next(iter(curves.values())).dataset_sizes),
                   "lr": {"pg_actor_and_critic": config.lr_pg, "ql": config.lr_ql},
                   "optimizer": "plain SGD on the mean over the minibatch", "gamma": GAMMA,
                   "goal_reward": GOAL_REWARD, "eval_every": config.eval_every,
                   "grid": {"layout": LAYOUT, "states": grid.n_states, "goal_cell": list(grid.cells[grid.goal])}},
        "scales": scale_info,
        "references": {"optimal_return": optimal_return(grid), "uniform_policy_return": uniform,
                       "softmax_of_q_star_return": soft_q_star},
        "algorithms": algos,
    }


_COLOURS = ("k", "tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def plot(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Figure 2 of the paper (softmax-policy return, mean and spread over runs) and the greedy returns."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    refs = results["references"]
    written: list[Path] = []
    for key, fname, what in (("softmax_return", "fig2_fourroom_returns.png", "softmax policy π_θ"),
                             ("greedy_return", "fig2b_fourroom_greedy_returns.png", "greedy policy")):
        algos = results["algorithms"]
        fig, axes = plt.subplots(1, len(algos), figsize=(7 * len(algos), 4.8), squeeze=False)
        for ax, (algo, a) in zip(axes[0], algos.items(), strict=True):
            steps = np.asarray(a["steps"])
            data = np.asarray(a[key])  # [scale][run][eval]
            for k, label in enumerate(a["labels"]):
                m, sd = data[k].mean(axis=0), data[k].std(axis=0)
                ax.plot(steps, m, color=_COLOURS[k % len(_COLOURS)], label=label, lw=1.5)
                ax.fill_between(steps, m - sd, m + sd, color=_COLOURS[k % len(_COLOURS)], alpha=0.15)
            ax.axhline(refs["optimal_return"], color="grey", ls="--", lw=1, label="optimal policy")
            ax.axhline(refs["uniform_policy_return"], color="grey", ls=":", lw=1, label="uniform policy")
            if key == "softmax_return" and algo == "ql":
                ax.axhline(refs["softmax_of_q_star_return"], color="tab:cyan", ls="-.", lw=1,
                           label="softmax of Q*")
            ax.set(xlabel="SGD step (minibatch of 64)", ylabel=f"expected discounted return ({what})",
                   title=f"{a['name']}, lr {a['lr']:g}")
            ax.legend(fontsize=8)
        fig.suptitle(f"FourRoom: exact return of the {what} (mean ± std over {len(results['config']['runs'])} runs)")
        save = partial(fig.savefig, dpi=110, bbox_inches="tight", format="png")
        path = atomic_save(out_dir / fname, save, suffix=".png")
        plt.close(fig)
        written.append(path)
    return written


def claim_checks(results: dict[str, Any]) -> list[dict[str, str]]:
    """The paper's FourRoom findings, decided on this run's numbers."""
    out: list[dict[str, str]] = []
    for a in results["algorithms"].values():
        labels: list[str] = a["labels"]
        per = a["per_scale"]
        if len(labels) < 2:
            continue
        base = labels[0]
        better = [lb for lb in labels[1:] if per[lb]["vs_first_scale"]["mean_over_training_diff"] > 0]
        better_final = [lb for lb in labels[1:] if per[lb]["vs_first_scale"]["final_diff"] > 0]
        runs = len(results["config"]["runs"])
        ev = "; ".join(f"{lb}: {per[lb]['vs_first_scale']['mean_over_training_diff']:+.3f} over training "
                       f"({per[lb]['vs_first_scale']['runs_better_over_training']}/{runs} runs), "
                       f"{per[lb]['vs_first_scale']['final_diff']:+.3f} final "
                       f"({per[lb]['vs_first_scale']['runs_better_final']}/{runs})" for lb in labels[1:])
        ok = len(better) == len(labels) - 1 and len(better_final) == len(labels) - 1
        paper = _is_mla_family(labels)
        claim0 = (PAPER_CLAIMS[0] + f" (baseline here: {base})" if paper else
                  f"not the paper's scales: each scale given improves over the first, {base}")
        claim1 = (PAPER_CLAIMS[1] + " (scales in the order given)" if paper else
                  "not the paper's scales: the agent learns faster along the order the scales were given")
        out.append({"algorithm": a["name"], "claim": claim0,
                    "verdict": "agrees" if ok else ("partly" if better or better_final else "disagrees"),
                    "evidence": ev})
        speed = [per[lb]["mean_over_training"]["mean"] for lb in labels]
        order_ok = all(b > a_ for a_, b in itertools.pairwise(speed))
        # "partly": every αr > 0 is faster than αr = 0, but the speed does not grow with αr throughout
        all_beat = all(v > speed[0] for v in speed[1:])
        out.append({"algorithm": a["name"], "claim": claim1,
                    "verdict": "agrees" if order_ok else ("partly" if all_beat else "disagrees"),
                    "evidence": "mean return over training: " + ", ".join(
                        f"{lb} {v:.3f}" for lb, v in zip(labels, speed, strict=True))
                    + "; steps to half of the best: " + ", ".join(
                        f"{lb} {per[lb]['steps_to_half_of_best']}" for lb in labels)})
    return out


def _is_mla_family(labels: list[str]) -> bool:
    return all(lb.startswith("f_MLA(0,") for lb in labels)


def _plateau(a: dict[str, Any], optimum: float) -> tuple[float, float]:
    """(best final mean return over the scales, largest rise of a mean curve over the last fifth of the
    steps, as a fraction of the optimum)."""
    soft = np.asarray(a["softmax_return"], dtype=float)  # [scale][run][evaluation]
    mean = soft.mean(axis=1)
    tail = max(1, mean.shape[1] // 5)
    rise = float((mean[:, -1] - mean[:, -1 - tail]).max()) / optimum
    return float(mean[:, -1].max()), rise


def reading(results: dict[str, Any]) -> list[str]:
    """Bullet lines interpreting this run's numbers; each sentence is conditioned on what it asserts."""
    refs = results["references"]
    optimum = float(refs["optimal_return"])
    out: list[str] = []
    for algo, a in results["algorithms"].items():
        labels: list[str] = a["labels"]
        best_final, rise = _plateau(a, optimum)
        state = (f"its mean curves still rise by up to {rise:.1%} of the optimum over the last fifth of the steps, "
                 "so more steps would change the numbers" if rise > 0.02 else
                 "its mean curves have levelled off (less than 2% of the optimum over the last fifth of the steps)")
        greedy = max(a["per_scale"][lb]["greedy_final"]["mean"] for lb in labels)
        line = (f"- {a['name']}: the best final softmax-policy return is {best_final:.4f} against the optimum "
                f"{optimum:.4f} ({best_final / optimum:.0%}); {state}; the greedy policy of the same tables "
                f"reaches {greedy:.4f}.")
        if algo == "ql" and _is_mla_family(labels):
            line += (" The environment is deterministic, so the bootstrapped target of an (s, a) is a function "
                     "of the table alone and every f_MLA(0, αr) (zero only at ΔR = 0, increasing) has the same "
                     "fixed point q = Q*: αr changes how fast the table gets there, not where it ends. The softmax "
                     f"policy of Q* returns {refs['softmax_of_q_star_return']:.4f}, so a softmax return above "
                     "that is a transient of the path (larger positive steps, f = ΔR + αr ΔR² for ΔR > 0), "
                     "not a better limit.")
        if algo == "pg" and rise <= 0.02 and best_final < 0.8 * optimum and greedy >= 0.9 * optimum:
            line += (" The softmax policy stays soft although its greedy policy is near-optimal. A likely "
                     "reason (not tested here): with uniform behaviour data and no off-policy correction "
                     "(αo = 0), the f(ΔR) e_a part of UP pulls each logit towards the critic's value of that "
                     "action, and those values differ little between neighbouring moves.")
        out.append(line)
    return out


def summary(results: dict[str, Any], seconds: dict[str, float]) -> str:
    """summary.md: the setting, our choices, the numbers and the findings next to the paper's."""
    cfg = results["config"]
    refs = results["references"]
    labels: list[str] = next(iter(results["algorithms"].values()))["labels"]
    lines = [
        "# FourRoom (paper sec. 6.2, Figure 2, Appendix C.1)",
        "",
        f"{len(cfg['runs'])} runs per (algorithm, scale), {cfg['steps']} SGD steps each. Wall time: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()) + ".",
        "",
        "## Setting and choices",
        "- From the paper: four rooms, reward 10 at the goal else 0, γ = 0.9, random start, offline data "
        "from a uniform random behaviour policy covering every (s, a), minibatches of 64, SGD, lr 0.1 for "
        "the PG actor and critic, lr 0.01 for Q-learning, f_MLA(0, αr) with αr ∈ {0, 0.1, 0.2, 0.5, 1.0}, "
        "5 runs.",
        "- Scales in this run: " + ", ".join(labels)
        + ("" if _is_mla_family(labels) else " (given with --scale: not the paper's f_MLA(0, αr) family)") + ".",
        f"- Ours (the paper does not say): Sutton-Precup-Singh layout ({cfg['grid']['states']} cells), goal cell "
        f"{tuple(cfg['grid']['goal_cell'])} (bottom-right corner), deterministic moves, the goal ends the "
        f"episode; at least {cfg['dataset_size']} transitions per run from random-start episodes (at most 100 "
        f"steps), continued until every (s, a) occurs (sizes {cfg['dataset_sizes']}); "
        "the loss is the **mean** over the minibatch (so an entry moves by lr/64 per sample), as in "
        "pgcheck.updates; tabular logits and critic initialised to 0; the PG actor uses the PGPB form UP(f) with "
        "T̂ = Q_w(s, a) from a critic trained by UQ(f_Q) on the expected-SARSA target of the current "
        f"policy; Q-learning uses UQ(f) on r + γ max_u q(s', u); {cfg['steps']} steps.",
        "- The curves are the exact expected discounted return of the softmax policy of the logits "
        "(solving the Bellman linear system), so they carry no evaluation noise and need no smoothing "
        "(the paper smooths sampled returns with an exponential average, 0.01).",
        f"- References: optimal policy {refs['optimal_return']:.4f}, uniform policy "
        f"{refs['uniform_policy_return']:.4f}, softmax of Q* (where Q-learning's softmax policy ends if "
        f"q → Q*) {refs['softmax_of_q_star_return']:.4f}.",
        "",
    ]
    for a in results["algorithms"].values():
        lines += [f"## {a['name']} (lr {a['lr']:g})", "",
                  "| scale | final return | mean over training | peak of mean curve | steps to half of best | "
                  "final greedy-policy return |",
                  "|---|---|---|---|---|---|"]
        for lb in a["labels"]:
            p = a["per_scale"][lb]
            div = f" ({p['diverged_runs']} runs diverged)" if p["diverged_runs"] else ""
            lines.append(f"| {lb}{div} | {p['final']['mean']:.4f} ± {p['final']['std']:.4f} | "
                         f"{p['mean_over_training']['mean']:.4f} ± {p['mean_over_training']['std']:.4f} | "
                         f"{p['peak_of_mean_curve']:.4f} | {p['steps_to_half_of_best']} | "
                         f"{p['greedy_final']['mean']:.4f} ± {p['greedy_final']['std']:.4f} |")
        lines.append("")
    lines += ["## The paper's findings, decided on these numbers", "",
              "| algorithm | paper's finding | here | evidence (paired differences against the baseline, "
              "same data and minibatches) |", "|---|---|---|---|"]
    for c in claim_checks(results):
        lines.append(f"| {c['algorithm']} | {c['claim']} | **{c['verdict']}** | {c['evidence']} |")
    lines += ["", "## Reading the numbers", "", *reading(results),
              "", "## Files", "", "- `results.json`: every number the figures show "
              "(returns are `[scale][run][evaluation]`).",
              "- `fig2_fourroom_returns.png` (Figure 2: softmax-policy return), `fig2b_fourroom_greedy_returns.png` "
              "(the greedy policy of the same tables).", ""]
    return "\n".join(lines)
