"""Training the bandit's rules (sec. 6.1): every rule from θ = (0, 0) for the paper's 10k iterations
(Figure 1), with plain SGD ascent; all rules, seeds and learning rates in one vectorised run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from agents.bandit.model import Array, DataStream, IntArray
from agents.bandit.rules import FORMS, rule_updates
from pgcheck.certificate import CheckedScale

# Beyond this the softmax of q_θ is the greedy policy to float64 precision almost everywhere, so J no
# longer changes, while the quadrature's logits (|θ|·|context| up to ~10|θ|) edge towards overflow.
THETA_LIMIT = 1e8


@dataclass(frozen=True)
class BanditConfig:
    """The run. The paper gives the iterations and the start; learning rate and batch size are ours."""

    iterations: int = 10_000
    seeds: int = 5
    batch_size: int = 64
    lr: float = 0.01
    lr_sweep: tuple[float, ...] = ()
    first_seed: int = 0

    @property
    def lrs(self) -> tuple[float, ...]:
        """The primary learning rate and the sweep, sorted (one vectorised run covers them all)."""
        return tuple(sorted(set(self.lr_sweep) | {self.lr}))

    def record_at(self) -> IntArray:
        """Iterations at which θ is recorded: 0, a geometric grid (early dynamics) and a linear one."""
        n = self.iterations
        geo = np.rint(np.geomspace(1, n, 28)) if n >= 1 else np.zeros(0)
        lin = np.rint(np.linspace(0, n, 11))
        return np.unique(np.concatenate([[0], geo, lin]).astype(np.int64))


@dataclass
class Trajectories:
    """θ over training: ``theta`` (T, 2, L, 3, K, S) at ``iterations`` (T,); ``diverged`` (L, 3, K, S)."""

    iterations: IntArray
    theta: Array
    diverged: npt.NDArray[np.bool_]
    lrs: tuple[float, ...]
    scale_names: tuple[str, ...]
    seeds: tuple[int, ...] = field(default=())


def train(config: BanditConfig, scales: Sequence[tuple[str, CheckedScale]],
          progress: Callable[[int], None] | None = None) -> Trajectories:
    """Run every rule from θ = (0, 0) with plain SGD, ``θ ← θ + lr · mean_batch U`` (ascent on J).

    A rule whose θ would become non-finite, or leave |θ_i| <= THETA_LIMIT, is frozen at its last θ and
    flagged as diverged.
    """
    for name, scale in scales:
        if not isinstance(scale, CheckedScale):
            raise TypeError(f"scale {name!r} must be a CheckedScale from pgcheck.check.checked_scale")
    lrs = config.lrs
    seeds = tuple(range(config.first_seed, config.first_seed + config.seeds))
    K = len(scales)
    theta = np.zeros((2, len(lrs), len(FORMS), K, len(seeds)))
    lr = np.asarray(lrs).reshape(1, -1, 1, 1, 1)
    diverged = np.zeros(theta.shape[1:], dtype=bool)
    stream = DataStream(seeds, config.batch_size)
    fns = [s for _, s in scales]
    record = set(config.record_at().tolist())
    history = [theta.copy()]
    for it in range(1, config.iterations + 1):
        with np.errstate(all="ignore"):  # overflow in a diverging rule is detected just below
            update = rule_updates(theta, stream.next(), fns)
            stepped = theta + lr * update
        # a rule diverges when θ after its update is not finite (a huge lr overflows a finite update) or
        # leaves |θ| <= THETA_LIMIT
        bad = ~(np.abs(stepped) <= THETA_LIMIT).all(axis=0)
        if bad.any():
            diverged |= bad
        theta = np.where(diverged, theta, stepped)
        if it in record:
            history.append(theta.copy())
        if progress is not None and (it % 100 == 0 or it == config.iterations):
            progress(it)
    return Trajectories(config.record_at(), np.stack(history), diverged, lrs,
                        tuple(n for n, _ in scales), seeds)
