"""FourRoom's tabular updates (sec. 6.2), vectorised over runs and scales, each with the scale
``f_MLA(0, αr)`` (eq. 36 with αo = 0: no off-policy correction) or any checked scale:

* policy gradient with a learned critic: the actor's logits ``q_θ(s, ·)`` follow UP(f) (eq. 33, the PGPB
  form) with target ``T̂(s, a) = Q_w(s, a)`` from a critic table, so ``ΔR = Q_w(s, a) − q_θ(s, a)``; the
  critic follows UQ(f_Q) (squared error, eq. 31 with f = y) towards the expected-SARSA target
  ``r + γ Σ_u π_θ(u|s') Q_w(s', u)``;
* Q-learning: UQ(f) (eq. 31) with the bootstrapped target ``r + γ max_u q_θ(s', u)`` (sec. 6.2).

``ΔO = log π_θ(a|s) − log(1/4)`` (eq. 25) is passed to every scale, though f_MLA(0, αr) ignores it. The
test suite checks both against the autograd gradients of :mod:`pgcheck.updates`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from agents.fourroom.model import GAMMA, N_ACTIONS, Array, IntArray, Minibatch
from pgcheck.certificate import CheckedScale


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
