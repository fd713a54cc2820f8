"""The twelve update rules of the bandit (sec. 6.1, Table 1), vectorised and in closed form.

The forms UQ, UV, UP (eqs. 31-33) crossed with the scale functions (Table 1: f_SQ, f_ML, f_SIL, f_MLA),
with ``ΔO = log π_θ(a|x) − log π_b(a|x)`` (eq. 25) and ``ΔR = r − q_θ(x, a)`` (eq. 14; the target is the
observed reward of this one-step problem). The scale functions arrive only as
:class:`~pgcheck.certificate.CheckedScale` and are evaluated on whole arrays; the test suite checks
:func:`rule_updates` against the autograd gradients of :mod:`pgcheck.updates`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agents.bandit.model import COS, LOG_BEHAVIOUR, N_ACTIONS, SIN, Array, Batch
from pgcheck.certificate import CheckedScale

FORMS: tuple[str, ...] = ("UQ", "UV", "UP")

# Action axis first in the vectorised code: reductions over a short leading axis are contiguous
# adds in numpy, where a reduction over a short trailing axis is several times slower.
_C = COS.reshape(N_ACTIONS, 1, 1, 1, 1, 1)
_S = SIN.reshape(N_ACTIONS, 1, 1, 1, 1, 1)


def rule_label(form: str, scale_name: str) -> str:
    """``UP(f_MLA)`` for the paper's named scales (Table 1), ``UP(<expression>)`` otherwise."""
    named = {"sq": "f_SQ", "ml": "f_ML", "sil": "f_SIL", "mla": "f_MLA", "q": "f_Q"}
    return f"{form}({named.get(scale_name, scale_name)})"


def rule_updates(theta: Array, batch: Batch, scales: Sequence[CheckedScale]) -> Array:
    """The batch mean of every rule's update, in closed form (eqs. 31-33).

    ``theta`` has shape (2, L, 3, K, S): parameter component, learning rate, form (UQ, UV, UP), scale,
    seed. The result has the same shape: for the rule (form, scale k) and sample (x, a, r),

    * UQ(f) = f ∇q(x,a)                                   (eq. 31)
    * UV(f) = f (∇q(x,a) − Σ_u π(u|x) ∇q(x,u))             (eq. 32)
    * UP(f) = UV(f) + Σ_u π(u|x) (q(x,u) − q̄(x)) ∇q(x,u)   (eq. 33: ∇ E_{u∼π_θ} q̂ = Cov_π(q̂, ∇q))

    with ``f = scales[k](ΔO, ΔR)``, ``ΔO = log π_θ(a|x) + log 8`` and ``ΔR = r − q_θ(x, a)``.
    Every ∇q is ``(1 + x_d) Ψ_d(u)`` per component d, so each update is ``(1 + x_d)`` times a
    coefficient built from π, f and Ψ.
    """
    if theta.shape[2] != len(FORMS) or theta.shape[3] != len(scales):
        raise ValueError(f"theta has shape {theta.shape}; expected (2, L, 3, {len(scales)}, S)")
    ox = 1.0 + batch.x  # (2, S, B)
    ca, sa = COS[batch.a], SIN[batch.a]  # (S, B)
    v0 = theta[0][..., None] * ox[0] - 1.0  # (L, F, K, S, B)
    v1 = theta[1][..., None] * ox[1] - 1.0
    q = v0 * _C + v1 * _S  # (A, L, F, K, S, B)
    m = q.max(axis=0)
    e = np.exp(q - m)
    z = e.sum(axis=0)
    pi = e / z
    qa = v0 * ca + v1 * sa
    d_o = qa - m - np.log(z) - LOG_BEHAVIOUR  # log π_θ(a|x) − log π_b(a|x)   (eq. 25)
    d_r = batch.r - qa  # T̂ − q_θ(x, a) with T̂ = r   (eq. 14)
    f = np.empty_like(d_o)
    for k, scale in enumerate(scales):
        f[:, :, k] = scale.numpy(d_o[:, :, k], d_r[:, :, k])
    pc = (pi * _C).sum(axis=0)  # E_{u∼π} Ψ(u), per component
    ps = (pi * _S).sum(axis=0)
    c0 = np.empty_like(f)
    c1 = np.empty_like(f)
    c0[:, 0] = f[:, 0] * ca  # UQ
    c1[:, 0] = f[:, 0] * sa
    c0[:, 1:] = f[:, 1:] * (ca - pc[:, 1:])  # UV and the UV part of UP
    c1[:, 1:] = f[:, 1:] * (sa - ps[:, 1:])
    q_up, pi_up = q[:, :, 2], pi[:, :, 2]
    w = pi_up * (q_up - (pi_up * q_up).sum(axis=0))  # π(u)(q(u) − q̄): the ∇E_{u∼π_θ} q̂ term of UP
    c0[:, 2] += (w * _C[:, :, 0]).sum(axis=0)
    c1[:, 2] += (w * _S[:, :, 0]).sum(axis=0)
    out: Array = np.stack([(c0 * ox[0]).mean(axis=-1), (c1 * ox[1]).mean(axis=-1)])
    return out
