"""Eq. (24): self-imitation learning (Oh et al. 2018) as the scale λ(x) = max(x, 0).

* (24) ``Ĝ_SIL = max(ΔR, 0)∇q(s,a)`` is ``−∇θ ½ max(T̂ − q, 0)²``, the SIL surrogate (MSE clipped below at 0);
* λ_SIL(x) = max(x, 0) is "a piecewise-linear approximation" of λ_ML(x) = eˣ − 1: both vanish at 0 and are
  non-decreasing; they share the right derivative 1 at 0; for x ≥ 0, max(x, 0) ≤ eˣ − 1 (a lower bound,
  exact to first order); for x < 0, λ_ML ∈ (−1, 0) while λ_SIL = 0 (the approximation is one-sided).

Symbolic: sympy derivative of the clipped square (C¹, piecewise) compared with pgcheck's ``sil`` at ΔO = 0 by
z3; the inequalities by z3 (exp through pgcheck's sound abstraction, which includes eᵗ ≥ 1 + t).
Cross-check: autograd of ½ relu(T̂ − q)² against pgcheck's UQ with ``sil``.
"""

from __future__ import annotations

import sympy
import torch

from derivations import autograd as ag
from derivations import logic
from derivations.core import Evidence
from pgcheck.expr import X, Y

ID = "eq24"
TITLE = "Self-imitation learning: λ(x) = max(x, 0)"
REFERENCE = "sec. 4.2, eq. (24)"
STATEMENT = ("Ĝ_SIL = max(ΔR, 0)∇q(s,a) = −∇½max(T̂ − q, 0)², and max(x, 0) is a piecewise-linear stand-in "
             "for eˣ − 1")


def derive(ev: Evidence) -> None:
    y = Y
    loss = sympy.Piecewise((y ** 2 / 2, y > 0), (0, True))  # ½ max(y, 0)², y = T̂ − q
    lam = sympy.piecewise_fold(sympy.diff(loss, y))
    sil0 = logic.registry("sil").subs(X, 0)
    same = logic.prove(logic.eq(lam, sil0))
    continuous = sympy.limit(sympy.diff(y ** 2 / 2, y), y, 0, "+") == 0
    ev.step("(24)", "−d/dq ½max(T̂ − q, 0)² = max(ΔR, 0) (continuous at ΔR = 0), pgcheck's f_SIL at ΔO = 0",
            "sympy derivative of the clipped square; " + same.method, same.proved and bool(continuous),
            detail=f"sympy: {lam}")

    lam_ml = sympy.exp(y) - 1
    relu = sympy.Max(y, 0)
    lower = logic.prove(sympy.Le(relu, lam_ml), [y >= 0])
    ev.step("(24)", "max(x, 0) ≤ eˣ − 1 for x ≥ 0 (λ_SIL is a lower bound of λ_ML there)", lower.method, lower.proved)
    neg = logic.prove(sympy.And(sympy.Gt(lam_ml, -1), sympy.Lt(lam_ml, 0)), [y < 0])
    ev.step("(24)", "for x < 0: −1 < eˣ − 1 < 0 = max(x, 0) (the approximation is one-sided)", neg.method, neg.proved)
    derivatives = {(name, side): sympy.limit((lam - lam.subs(y, 0)) / y, y, 0, side)
                   for name, lam in (("ML", lam_ml), ("SIL", relu)) for side in ("+", "-")}
    ev.step("(24)", "λ_ML and λ_SIL agree at 0 with equal right derivative 1 (left derivatives 1 and 0)",
            "sympy: one-sided limits of the difference quotients at 0",
            logic.fact("values and one-sided derivatives at 0", (lam_ml, relu, sorted(derivatives.items())),
                       lam_ml.subs(y, 0) == relu.subs(y, 0) == 0
                       and derivatives == {("ML", "+"): 1, ("ML", "-"): 1, ("SIL", "+"): 1, ("SIL", "-"): 0}),
            detail=", ".join(f"λ_{n}'({s}0) = {v}" for (n, s), v in derivatives.items()))
    for name in ("sil", "ml"):
        cert = logic.validate(name)
        ev.step("(24)", f"f_{name.upper()} is a valid scale (λ(0) = 0, non-decreasing; Assumption 5.1)",
                "pgcheck validate: " + "; ".join(f"{p.prop}: {p.verdict}" for p in cert.properties),
                cert.overall == "VALID")
    ev.note("'≊' in the paper is qualitative; what holds exactly is listed above: agreement at 0 with the same "
            "right derivative, a lower bound for x ≥ 0, and no agreement in slope for x < 0.")
    ev.scope = "all real ΔR (z3, sympy); the surrogate's gradient for any differentiable qθ (chain rule)"
    ev.complete = True

    n_states, n_actions = 4, 3
    err = ag.MaxErr()
    f = ag.scale("sil")
    with ag.single_thread():
        g = ag.generator(24)
        for model in ag.models(24, n_states, n_actions):
            for s in range(n_states):
                for a in range(n_actions):
                    target = float(ag.randn(g, 1)[0]) * 2
                    q_sa = model(ag.index(s))[0, a]
                    dr = target - float(q_sa.detach())
                    g_sil = -ag.flat_grad(0.5 * torch.relu(target - q_sa) ** 2, model.params)
                    err.add(g_sil, ag.pgcheck_update("uq", model, s, a, 0.0, dr, f))
    ev.check("(24)", "−∇½relu(T̂ − q)² (autograd) vs pgcheck uq_loss(sil) at ΔO = 0",
             f"every (s, a) of {n_states} states × |A| = {n_actions}, random T̂ (both signs of ΔR), tabular and MLP",
             err.error, 1e-12, err.magnitude)
