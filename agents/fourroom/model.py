"""The FourRoom environment of the paper (sec. 6.2, Appendix C.1, Figure 9), tabular: the grid, the
offline data of the uniform behaviour policy, and exact returns.

The four-rooms gridworld (Sutton, Precup & Singh's layout, 104 cells), four deterministic moves (a move
into a wall stays put), reward 10 on entering the goal cell (which ends the episode), 0 otherwise,
γ = 0.9, a uniformly random start cell (sec. 6.2). The data are collected once per run by the uniform
random behaviour policy and cover every (state, action) pair. The policy is the softmax of the logits
(sec. 6.2: "the policy is defined via the logits"); its expected discounted return from the random start
is computed exactly by solving the Bellman linear system, so the curves carry no evaluation noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

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
    """The best achievable expected discounted return from the uniform start: ``max_a Q*`` on the starts."""
    return float(optimal_q(grid).max(axis=1)[grid.starts].mean())


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
