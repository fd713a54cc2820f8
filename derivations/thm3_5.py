"""Theorem 3.5 (eq. 15): ``∇θ H(πθ(·|s)) + ∇θ E_{u∼πθ}[q̂θ(s, u)] = 0`` for the softmax policy (eq. 4).

Symbols: ``q_θ(s, ·)`` logits, ``π = softmax(q)``, ``F(q) = log Σ_u e^{q_u}``, ``q̂`` = stop-gradient of q
(the expectation differentiates π only). Assumption: softmax parameterisation; any finite |A|.

Symbolic (general |A|, :mod:`derivations.softmax`): every printed line of the appendix proof is an
expression in ``∂/∂q_b``; consecutive lines are shown equal, the first is ``∇E[q̂]``, the last is ``−∇H``.
Cross-check: (i) torch autograd of ``H + E_π[q.detach()]`` is zero; (ii) pgcheck's UP − UV difference
(the term ``∇E_{u∼πθ}[q̂]`` of eq. 33 in :func:`pgcheck.updates.up_loss`) equals ``−∇H``.
"""

from __future__ import annotations

import sympy
import torch

from derivations import autograd as ag
from derivations import softmax as sx
from derivations.core import Evidence
from pgcheck import updates

ID = "thm3.5"
TITLE = "Entropy gradient and the stop-gradient baseline cancel"
REFERENCE = "Theorem 3.5, eq. (15); proof in App. A"
EXPLICIT_MAX = 6
STATEMENT = "∇θ H(πθ(·|s)) + ∇θ E_{u∼πθ}[q̂θ(s,u)] = 0 for the softmax policy πθ = softmax(qθ(s,·))"


def proof_lines(sm: sx.Softmax) -> list[tuple[str, sympy.Expr]]:
    """The printed lines of the proof of Theorem 3.5, as coefficients of ∇θ q(s, b)."""
    def q(ab: bool) -> sympy.Expr:
        return sx.QB if ab else sx.QA

    def dlogpi(ab: bool) -> sympy.Expr:
        return sx.d(sm.log_pi(ab))

    F = sm.F
    total = sm.E(lambda _q, _t: sympy.S.One)  # Σ_u π_u, as a function of q_b
    plogp_grad = sm.E_a(lambda ab: sm.log_pi(ab) * dlogpi(ab))
    return [
        ("∇E_{u∼πθ}[q̂(s,u)] = Σ_u q(s,u) ∇π(u|s)", sm.grad_E_fixed_values(lambda qq, _t: qq)),
        ("= Σ_u π(u|s) q(s,u) ∇log π(u|s)", sm.E_a(lambda ab: q(ab) * dlogpi(ab))),
        ("= Σ_u π(u|s) (log π(u|s) + F(q(s))) ∇log π(u|s)", sm.E_a(lambda ab: (sm.log_pi(ab) + F) * dlogpi(ab))),
        ("= Σ_u π log π ∇log π + F(q(s)) Σ_u π ∇log π", plogp_grad + F * sm.E_a(dlogpi)),
        ("= Σ_u π log π ∇log π + F(q(s)) Σ_u ∇π(u|s)", plogp_grad + F * sx.d(total)),
        ("= Σ_u π log π ∇log π + F(q(s)) ∇ Σ_u π(u|s)  (= F ∇1)", plogp_grad + F * sx.d(sympy.simplify(total))),
        ("= Σ_u π log π ∇log π + ∇1", plogp_grad + sx.d(sympy.S.One)),
        ("= Σ_u π log π ∇log π + Σ_u π ∇log π", plogp_grad + sm.E_a(dlogpi)),
        ("= Σ_u log π ∇π + Σ_u π ∇log π", sm.E_a(lambda ab: sm.log_pi(ab) * dlogpi(ab)) + sm.E_a(dlogpi)),
        ("= Σ_u ∇(π(u|s) log π(u|s))", sx.d(sm.E(lambda qq, _t: qq - F))),
        ("= −∇H(π(·|s))", -sx.d(sm.entropy)),
    ]


def derive(ev: Evidence) -> None:
    sm = sx.Softmax()
    lines = proof_lines(sm)
    for k in range(1, len(lines)):
        ev.step(f"App. A, proof of Thm 3.5, line {k + 1}", f"line {k + 1} equals line {k}: {lines[k][0]}",
                sx.METHOD, sx.identity(lines[k - 1][1], lines[k][1]))
    whole = sx.d(sm.entropy) + sm.grad_E_fixed_values(lambda qq, _t: qq)
    ev.step("eq. (15)", STATEMENT, sx.METHOD, sx.is_zero(whole))
    explicit = all(sx.explicit_theorem_3_5(n) for n in range(2, EXPLICIT_MAX + 1))
    ev.lemma("eq. (15), second route", f"the same for each |A| = 2, …, {EXPLICIT_MAX} with every logit an explicit "
             "symbol", f"sympy: explicit softmax over |A| actions, every coordinate (no abstract sums; |A| ≤ "
             f"{EXPLICIT_MAX})", explicit)
    ev.scope = ("general |A| ≥ 2 and any differentiable qθ: per-coordinate sympy identity with abstract sums; "
                f"independently, explicit softmax for each |A| = 2..{EXPLICIT_MAX}")
    ev.complete = True

    with ag.single_thread():
        independent, pgcheck_term = ag.MaxErr(), ag.MaxErr()
        n_states, n_actions = 5, 4
        q_scale = ag.scale("q")
        for model in ag.models(35, n_states, n_actions):
            for s in range(n_states):
                logits = model(ag.index(s))
                pi = torch.softmax(logits, -1)
                total = ag.entropy(logits).sum() + (pi * logits.detach()).sum()
                g = ag.flat_grad(total, model.params)
                independent.add(g, torch.zeros_like(g))
                zero = ag.scalar(0.0)
                a = ag.index(s % n_actions)
                diff = (updates.up_loss(q_scale, logits, a, zero, ag.scalar(0.7))
                        - updates.uv_loss(q_scale, logits, a, zero, ag.scalar(0.7)))
                extra = -ag.flat_grad(diff, model.params)  # the update term UP − UV = ∇E_{πθ}[q̂]
                minus_grad_h = -ag.flat_grad(ag.entropy(logits).sum(), model.params)
                pgcheck_term.add(extra, minus_grad_h)
    inst = f"{n_states} states × {{tabular logits, MLP}}, |A| = {n_actions}, float64"
    ev.check("∇H + ∇E[q̂] = 0 (torch autograd)", "‖∇H + ∇E_{πθ}[q̂]‖∞ vs 0", inst, independent.error, 1e-12,
             independent.magnitude)
    ev.check("pgcheck UP − UV term = −∇H", "−∇(up_loss − uv_loss) (pgcheck.updates) vs −∇H (autograd)", inst,
             pgcheck_term.error, 1e-12, pgcheck_term.magnitude)
