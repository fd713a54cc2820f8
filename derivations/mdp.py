"""Small random MDPs solved exactly, numerically (torch linear algebra) and symbolically (sympy field).

With a policy π, ``P_π[s, s'] = Σ_a π(a|s) P(s'|s, a)`` and ``r_π(s) = Σ_a π(a|s) r(s, a)``:

* ``V = (I − γ P_π)^{-1} r_π``, ``Q = r + γ P V``, ``J_µ(π) = µᵀ V`` (sec. 2: ``E_{s0∼µ}[Σ_t γ^t r_t]``);
* the *unnormalised* discounted visitation ``d̃ᵀ = µᵀ (I − γ P_π)^{-1} = Σ_t γ^t Pr(s_t = ·)``, of total
  mass ``1/(1 − γ)``; the paper's ``d^π_µ = (1 − γ) d̃`` (sec. 2) is a probability distribution.

Everything is exact up to float64 rounding (no sampling): expectations over ``D^π_µ(s, a) =
d^π_µ(s) π(a|s)`` are finite sums.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch

from derivations.autograd import DTYPE, randn
from derivations.core import make_record


@dataclass
class MDP:
    P: torch.Tensor   # (S, A, S) transition probabilities
    r: torch.Tensor   # (S, A) rewards
    mu: torch.Tensor  # (S,) initial distribution
    gamma: float

    @property
    def n_states(self) -> int:
        return int(self.r.shape[0])

    @property
    def n_actions(self) -> int:
        return int(self.r.shape[1])


def random_mdp(g: torch.Generator, n_states: int, n_actions: int, gamma: float) -> MDP:
    P = torch.softmax(randn(g, n_states, n_actions, n_states, scale=1.5), dim=-1)
    r = randn(g, n_states, n_actions)
    mu = torch.softmax(randn(g, n_states), dim=-1)
    return MDP(P, r, mu, gamma)


@dataclass
class Solution:
    V: torch.Tensor
    Q: torch.Tensor
    J: torch.Tensor          # scalar, differentiable through π
    d_unnorm: torch.Tensor   # Σ_t γ^t Pr(s_t = s), total mass 1/(1−γ)
    gamma: float

    @property
    def d(self) -> torch.Tensor:
        """The paper's normalised d^π_µ = (1 − γ) d̃ (sec. 2)."""
        return (1 - self.gamma) * self.d_unnorm


def solve(m: MDP, pi: torch.Tensor) -> Solution:
    """Exact values for the policy ``pi`` of shape (S, A) (differentiable in ``pi``)."""
    eye = torch.eye(m.n_states, dtype=DTYPE)
    P_pi = torch.einsum("sa,sat->st", pi, m.P)
    r_pi = (pi * m.r).sum(-1)
    A = eye - m.gamma * P_pi
    V = torch.linalg.solve(A, r_pi)
    Q = m.r + m.gamma * torch.einsum("sat,t->sa", m.P, V)
    d_unnorm = torch.linalg.solve(A.T, m.mu)
    return Solution(V, Q, m.mu @ V, d_unnorm, m.gamma)


# ---------------------------------------------------------------------------------------------------
# the symbolic instance: every MDP with |S| = |A| = 2, in the field of rational functions


def symbolic_pg_theorem() -> tuple[dict[str, bool], dict[str, dict[str, str]], float]:
    """For every 2-state, 2-action MDP (symbolic P, r, µ, γ) and softmax logits θ (e^θ symbolic):

    * ``total``: Σ_s d̃(s) = 1/(1 − γ);
    * ``pg``: ∂J/∂θ_{s,b} = Σ_{s'} d̃(s') Σ_a π(a|s') Q(s', a) ∂log π(a|s')/∂θ_{s,b}, i.e.
      ``∇J = (1/(1−γ)) E_{D^π_µ}[Q ∇log π]`` with the normalised d (every coordinate);
    * ``printed``: the same with d in place of d̃ (i.e. without the 1/(1−γ)) — expected *false*;
    * ``value``: J = (1/(1−γ)) E_{D^π_µ}[r].

    Each of the four comes with its record (:func:`derivations.core.make_record`), negative control included.

    Computed in sympy's field QQ(γ, P, r, µ, e^θ): the identities are exact rational-function
    identities. ∂/∂θ = e^θ ∂/∂e^θ (chain rule).
    """
    from sympy import QQ, field

    t0 = time.perf_counter()
    names = "g,p00,p01,p10,p11,r00,r01,r10,r11,m,e00,e01,e10,e11"
    _, g, p00, p01, p10, p11, r00, r01, r10, r11, m, e00, e01, e10, e11 = field(names, QQ)
    n = 2
    P = {(0, 0): [p00, 1 - p00], (0, 1): [p01, 1 - p01], (1, 0): [p10, 1 - p10], (1, 1): [p11, 1 - p11]}
    r = {(0, 0): r00, (0, 1): r01, (1, 0): r10, (1, 1): r11}
    mu = [m, 1 - m]
    e = [[e00, e01], [e10, e11]]
    pi = [[e[s][a] / (e[s][0] + e[s][1]) for a in range(n)] for s in range(n)]
    Ppi = [[sum(pi[s][a] * P[(s, a)][t] for a in range(n)) for t in range(n)] for s in range(n)]
    rpi = [sum(pi[s][a] * r[(s, a)] for a in range(n)) for s in range(n)]
    M = [[(1 if s == t else 0) - g * Ppi[s][t] for t in range(n)] for s in range(n)]
    det = M[0][0] * M[1][1] - M[0][1] * M[1][0]
    Minv = [[M[1][1] / det, -M[0][1] / det], [-M[1][0] / det, M[0][0] / det]]
    V = [sum(Minv[s][t] * rpi[t] for t in range(n)) for s in range(n)]
    J = sum(mu[s] * V[s] for s in range(n))
    dt = [sum(mu[s] * Minv[s][t] for s in range(n)) for t in range(n)]
    d = [(1 - g) * x for x in dt]
    Q = {(s, a): r[(s, a)] + g * sum(P[(s, a)][t] * V[t] for t in range(n)) for s in range(n) for a in range(n)}

    def D(x: object, s: int, b: int) -> object:
        return e[s][b] * x.diff(e[s][b])  # type: ignore[attr-defined]

    total, value = sum(dt), sum(d[s] * rpi[s] for s in range(n)) / (1 - g)
    pairs: dict[str, list[tuple[Any, Any]]] = {"total": [(total, 1 / (1 - g))], "value": [(value, J)],
                                                "pg": [], "printed": []}
    for s in range(n):
        for b in range(n):
            lhs = D(J, s, b)
            rhs_corrected = sum(dt[s2] * pi[s2][a] * Q[(s2, a)] * (D(pi[s2][a], s, b) / pi[s2][a])
                                for a in range(n) for s2 in range(n))
            rhs_printed = sum(d[s2] * pi[s2][a] * Q[(s2, a)] * (D(pi[s2][a], s, b) / pi[s2][a])
                              for a in range(n) for s2 in range(n))
            pairs["pg"].append((lhs, rhs_corrected))
            pairs["printed"].append((lhs, rhs_printed))
    out, records = {}, {}
    for key, items in pairs.items():
        holds = all(lhs == rhs for lhs, rhs in items)
        # negative control: the same comparison against a perturbed right side (+ γ/7) must fail
        control = (not any(lhs == rhs + g / 7 for lhs, rhs in items)) if holds else None
        records[key] = make_record("sympy field identity", tuple(f"{lhs} = {rhs}" for lhs, rhs in items),
                                   "every coordinate equal" if holds else "a coordinate differs", control)
        out[key] = holds
    return out, records, time.perf_counter() - t0
