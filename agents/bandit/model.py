"""The 2-D contextual bandit of the paper (sec. 6.1, appendix B): the setting, the model and the data.

A context ``x ~ N(0, I₂)``, eight actions on the unit circle ``Ψ(a) = (cos 2πa/8, sin 2πa/8)``, reward
``r(x, a) = σ(⟨x, Ψ(a)⟩)``, actions drawn uniformly (the behaviour policy ``π_b = 1/8``), and the
under-parameterised model of sec. 6.1

    q_θ(x, a) = ⟨(θ0 (1 + x0) − 1, θ1 (1 + x1) − 1), Ψ(a)⟩,   π_θ = softmax_a q_θ(x, a)   (eq. 4).

Because ``∇θ q_θ(x, u) = ((1 + x0) cos 2πu/8, (1 + x1) sin 2πu/8)`` does not depend on θ, every update
rule has a closed form (:mod:`agents.bandit.rules`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

N_ACTIONS = 8
ANGLES: Array = 2.0 * np.pi * np.arange(N_ACTIONS) / N_ACTIONS
COS: Array = np.cos(ANGLES)
SIN: Array = np.sin(ANGLES)
THETA_PAPER: tuple[float, float] = (1.0, 1.0)  # the paper's optimum θ* (sec. 6.1)
LOG_BEHAVIOUR = -math.log(N_ACTIONS)  # log π_b(a|x) for the uniform behaviour policy


def sigmoid(z: Array) -> Array:
    """σ(z), written with tanh so that it never overflows."""
    out: Array = 0.5 * (1.0 + np.tanh(0.5 * z))
    return out


def logits(theta: Array, x: Array) -> Array:
    """``q_θ(x, ·)`` for θ of shape (..., 2) and x of shape (..., 2): shape (..., 8)."""
    v = np.asarray(theta, dtype=np.float64) * (1.0 + np.asarray(x, dtype=np.float64)) - 1.0
    out: Array = v[..., 0:1] * COS + v[..., 1:2] * SIN
    return out


def features(x: Array) -> Array:
    """``∇θ q_θ(x, u)`` for every action u: shape (..., 8, 2), independent of θ."""
    ox = 1.0 + np.asarray(x, dtype=np.float64)
    out: Array = np.stack([ox[..., 0:1] * COS, ox[..., 1:2] * SIN], axis=-1)
    return out


def rewards(x: Array) -> Array:
    """``r(x, u) = σ(⟨x, Ψ(u)⟩)`` for every action u: shape (..., 8)."""
    x = np.asarray(x, dtype=np.float64)
    return sigmoid(x[..., 0:1] * COS + x[..., 1:2] * SIN)


@dataclass(frozen=True)
class Batch:
    """One minibatch per seed: contexts ``x`` (2, S, B) (component first), actions (S, B), rewards (S, B)."""

    x: Array
    a: IntArray
    r: Array


class DataStream:
    """Independent data per seed, drawn in blocks; every rule sees the same data for a given seed.

    Sharing the data across rules (common random numbers) makes the comparison between rules paired;
    one generator per seed makes seed s's data independent of how many seeds run.
    """

    def __init__(self, seeds: Sequence[int], batch_size: int, block: int = 250) -> None:
        self._rngs = [np.random.default_rng([20220617, s]) for s in seeds]
        self._batch = batch_size
        self._block = block
        self._x: Array = np.empty((0,))
        self._a: IntArray = np.empty((0,), dtype=np.int64)
        self._i = block

    def _refill(self) -> None:
        S, B, T = len(self._rngs), self._batch, self._block
        self._x = np.empty((T, 2, S, B))
        self._a = np.empty((T, S, B), dtype=np.int64)
        for s, rng in enumerate(self._rngs):
            self._x[:, :, s, :] = rng.standard_normal((T, 2, B))
            self._a[:, s, :] = rng.integers(0, N_ACTIONS, (T, B))
        self._i = 0

    def next(self) -> Batch:
        if self._i >= self._block:
            self._refill()
        x, a = self._x[self._i], self._a[self._i]
        self._i += 1
        r = sigmoid(x[0] * COS[a] + x[1] * SIN[a])
        return Batch(x, a, r)

