"""Training FourRoom's learners (sec. 6.2, Appendix C.1): every run and scale of one algorithm at once,
plain SGD on the mean over minibatches of 64 transitions drawn from the offline data; learning rate 0.1
for the PG actor and critic, 0.01 for Q-learning (C.1). Every scale sees the same data and minibatches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agents.fourroom.model import (
    N_ACTIONS,
    Array,
    Grid,
    IntArray,
    Minibatch,
    greedy,
    make_datasets,
    make_grid,
    policy_returns,
    softmax,
)
from agents.fourroom.rules import pg_directions, ql_direction
from pgcheck.certificate import CheckedScale

ALGORITHMS: tuple[str, ...] = ("pg", "ql")
ALGORITHM_NAMES = {"pg": "policy gradient (UP form, learned critic)", "ql": "Q-learning (UQ form)"}


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
    """All runs and scales of one algorithm at once; every scale sees the same data and minibatches.

    Logits and critic tables start at 0; a table whose step is not finite is frozen and flagged as diverged.
    """
    if algo not in ALGORITHMS:
        raise ValueError(f"algo must be one of {ALGORITHMS}")
    for name, s in [*scales, ("critic", critic_scale)]:
        if not isinstance(s, CheckedScale):
            raise TypeError(f"scale {name!r} must be a CheckedScale from pgcheck.check.checked_scale")
    grid = grid or make_grid()
    seeds = tuple(range(config.first_seed, config.first_seed + config.runs))
    data = make_datasets(grid, seeds, config.dataset_size)
    lr = config.lr_pg if algo == "pg" else config.lr_ql
    step_fn = _Step(algo, [s for _, s in scales], critic_scale, lr, len(seeds))
    theta = np.zeros((len(seeds), len(scales), grid.n_states, N_ACTIONS))
    critic = np.zeros_like(theta)
    rng = np.random.default_rng([6_2, 1, config.first_seed])
    at = set(config.eval_at().tolist())
    evaluations = [_returns(grid, theta)]
    for step in range(1, config.steps + 1):
        theta, critic = step_fn(theta, critic, data.sample(rng, config.batch_size))
        if step in at:
            evaluations.append(_returns(grid, theta))
        if progress is not None and (step % 500 == 0 or step == config.steps):
            progress(step)
    soft, greed = (np.stack(v) for v in zip(*evaluations, strict=True))
    return Curves(config.eval_at(), soft, greed, tuple(n for n, _ in scales), seeds, step_fn.diverged,
                  tuple(int(n) for n in data.sizes))


def _returns(grid: Grid, theta: Array) -> tuple[Array, Array]:
    """The exact returns of the softmax and the greedy policy of every table (R, K)."""
    return policy_returns(grid, softmax(theta)[0]), policy_returns(grid, greedy(theta))


class _Step:
    """One SGD step of every table (runs x scales) of one algorithm, freezing the tables that diverge."""

    def __init__(self, algo: str, scales: list[CheckedScale], critic_scale: CheckedScale, lr: float,
                 runs: int) -> None:
        self.algo, self.scales, self.critic_scale, self.lr = algo, scales, critic_scale, lr
        self.diverged: npt.NDArray[np.bool_] = np.zeros((runs, len(scales)), dtype=bool)  # (runs, scales)

    def __call__(self, theta: Array, critic: Array, batch: Minibatch) -> tuple[Array, Array]:
        with np.errstate(all="ignore"):  # a diverging run is detected and frozen just below
            if self.algo == "ql":
                new_theta, new_critic = theta + self.lr * ql_direction(theta, batch, self.scales), None
            else:
                d_theta, d_critic = pg_directions(theta, critic, batch, self.scales, self.critic_scale)
                new_theta, new_critic = theta + self.lr * d_theta, critic + self.lr * d_critic
        # a table diverges when its step, or the table after it, is not finite
        finite = bool(np.isfinite(new_theta).all()) and (new_critic is None or bool(np.isfinite(new_critic).all()))
        if finite and not self.diverged.any():  # the common case, without per-table bookkeeping
            return new_theta, new_critic if new_critic is not None else critic
        self.diverged |= ~np.isfinite(new_theta).all(axis=(2, 3))
        if new_critic is not None:
            self.diverged |= ~np.isfinite(new_critic).all(axis=(2, 3))
        keep = ~self.diverged[:, :, None, None]
        return (np.where(keep, new_theta, theta),
                np.where(keep, new_critic, critic) if new_critic is not None else critic)
