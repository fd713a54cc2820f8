"""Corollary 3.4 (eqs. 11–13): how the three sample gradients differ, at every (s, a) and θ.

Definitions (eqs. 5, 9, 10), with ``ΔR = T̂(s,a) − qθ(s,a)`` (eq. 14):
``Ĝ_PGPB = ΔR ∇log π(a|s) − ∇H(π(·|s))``, ``Ĝ_MSE = ΔR ∇q(s,a)``, ``Ĝ_MVE = ΔR ∇log π(a|s)``.

* (11) ``Ĝ_MVE − Ĝ_PGPB = ∇H(π(·|s))``;
* (12) ``Ĝ_MSE − Ĝ_MVE ∝ Σ_u π(u|s) ∇q(s,u)`` — the factor is exactly ``ΔR``;
* (13) ``Ĝ_MSE − Ĝ_PGPB − ∇H ∝ Σ_u π(u|s) ∇q(s,u)`` — again with factor ``ΔR``.

Symbolic: per coordinate ∂/∂q_b for both cases a = b and a ≠ b (general |A|). Cross-check: the three
gradients are pgcheck's own updates UQ(y), UV(y), UP(y) (eqs. 31–33 with f = y, scale ``q``).
"""

from __future__ import annotations

import sympy

from derivations import autograd as ag
from derivations import softmax as sx
from derivations.core import Evidence, collect

ID = "cor3.4"
TITLE = "The three forms differ by action-independent vectors"
REFERENCE = "Corollary 3.4, eqs. (11)–(13)"
STATEMENT = ("(11) Ĝ_MVE − Ĝ_PGPB = ∇H; (12) Ĝ_MSE − Ĝ_MVE = ΔR Σ_u π(u|s)∇q(s,u); "
             "(13) Ĝ_MSE − Ĝ_PGPB − ∇H = ΔR Σ_u π(u|s)∇q(s,u)")


def derive(ev: Evidence) -> None:
    sm = sx.Softmax()
    ok11 = ok12 = ok13 = True
    bags: dict[int, list[dict[str, str]]] = {11: [], 12: [], 13: []}
    for a_is_b in (True, False):
        q_a = sx.QB if a_is_b else sx.QA
        dr = (sx.TB if a_is_b else sx.TA) - q_a
        g_mse = dr * sx.d(q_a)
        g_mve = dr * sx.d(sm.log_pi(a_is_b))
        g_pgpb = dr * sx.d(sm.log_pi(a_is_b)) - sx.d(sm.entropy)
        mean_grad_q = sm.pi(True)  # Σ_u π(u|s) ∂q_u/∂q_b = π_b
        with collect() as bag:
            ok11 = ok11 and sx.identity(g_mve - g_pgpb, sx.d(sm.entropy))
        bags[11] += bag
        with collect() as bag:
            ok12 = ok12 and sx.identity(g_mse - g_mve, dr * mean_grad_q)
            if not a_is_b:
                ok12 = ok12 and not sx.identity(g_mse - g_mve, sympy.S.Zero)  # the difference is not 0
        bags[12] += bag
        with collect() as bag:
            ok13 = ok13 and sx.identity(g_mse - g_pgpb - sx.d(sm.entropy), dr * mean_grad_q)
        bags[13] += bag
    ev.step("eq. (11)", "Ĝ_MVE − Ĝ_PGPB = ∇θH(πθ(·|s))", sx.METHOD, ok11, evidence=bags[11])
    ev.step("eq. (12)", "Ĝ_MSE − Ĝ_MVE ∝ Σ_u π(u|s)∇q(s,u), with factor exactly ΔR", sx.METHOD, ok12,
            evidence=bags[12])
    ev.step("eq. (13)", "Ĝ_MSE − Ĝ_PGPB − ∇θH ∝ Σ_u π(u|s)∇q(s,u), with factor exactly ΔR", sx.METHOD, ok13,
            evidence=bags[13])
    ev.note("The proportionality constant in (12)–(13) is ΔR = T̂(s,a) − q(s,a): the *direction* "
            "Σ_u π(u|s)∇q(s,u) is independent of a and T̂, the factor is not (the text after the proof "
            "says the relations have 'no dependence on the action a or the return estimate').")
    ev.scope = "general |A| ≥ 2, both a = b and a ≠ b, any differentiable qθ: per-coordinate sympy identities"
    ev.complete = True

    with ag.single_thread():
        errs = {k: ag.MaxErr() for k in ("11", "12", "13")}
        n_states, n_actions = 4, 3
        f = ag.scale("q")
        g = ag.generator(34)
        for model in ag.models(34, n_states, n_actions):
            for s in range(n_states):
                for a in range(n_actions):
                    target = float(ag.randn(g, 1)[0]) * 2
                    q_sa = float(model(ag.index(s))[0, a].detach())
                    dr = target - q_sa
                    ref = ag.reference(model, s, a)
                    g_mse = ag.pgcheck_update("uq", model, s, a, 0.0, dr, f)
                    g_mve = ag.pgcheck_update("uv", model, s, a, 0.0, dr, f)
                    g_pgpb = ag.pgcheck_update("up", model, s, a, 0.0, dr, f)
                    errs["11"].add(g_mve - g_pgpb, ref.grad_entropy)
                    errs["12"].add(g_mse - g_mve, dr * ref.mean_grad_q)
                    errs["13"].add(g_mse - g_pgpb - ref.grad_entropy, dr * ref.mean_grad_q)
    inst = f"every (s, a) of {n_states} states × |A| = {n_actions}, random T̂, tabular logits and MLP, float64"
    pg = "pgcheck uq/uv/up_loss with scale q"
    ev.check("eq. (11)", f"{pg}: UV(y) − UP(y) vs ∇H (autograd)", inst, errs["11"].error, 1e-12,
             errs["11"].magnitude)
    ev.check("eq. (12)", f"{pg}: UQ(y) − UV(y) vs ΔR Σ_u π̂(u|s)∇q(s,u) (autograd)", inst, errs["12"].error, 1e-12,
             errs["12"].magnitude)
    ev.check("eq. (13)", f"{pg}: UQ(y) − UP(y) − ∇H vs ΔR Σ_u π̂(u|s)∇q(s,u)", inst, errs["13"].error, 1e-12,
             errs["13"].magnitude)
