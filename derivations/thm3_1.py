"""Theorem 3.1 (eqs. 5–6): the policy gradient with policy baseline is an unbiased policy gradient.

Setting (sec. 2): discounted MDP, initial distribution µ, ``J_µ(π) = E_{s0∼µ}[Σ_t γ^t r_t]``,
``d^π_µ(s) = (1 − γ) Σ_t γ^t Pr(s_t = s)`` (a *probability* distribution), ``D^π_µ(s,a) = d^π_µ(s) π(a|s)``,
softmax policy (eq. 4), ``T̂`` unbiased for ``Q^π`` and ``Ĝ_PGPB = (T̂ − q)∇log π(a|s) − ∇H(π(·|s))`` (eq. 5).

Printed claim (6): ``∇J = E_{D^π_µ}[Ĝ_PGPB]``. With the normalised d this is off by the constant
``1/(1 − γ)``: the policy-gradient theorem reads ``∇J = (1/(1−γ)) E_{D^π_µ}[Q^π ∇log π]`` (equivalently,
(6) holds as printed with the *unnormalised* visitation ``Σ_t γ^t Pr(s_t = s)``, of mass ``1/(1 − γ)``).
The same constant is missing from ``J_µ(π) = E_{D^π_µ}[r]`` in sec. 2 and from step (37).

Derivation: (i) the policy-gradient theorem with its exact constant, symbolically for *every* MDP with
|S| = |A| = 2 (rational-function field: symbolic P, r, µ, γ, logits); (ii) steps (38)–(42) per state,
``E_{a∼π}[Ĝ_PGPB] = E_{a∼π}[T̂ ∇log π]``, for general |A| (per-coordinate sympy); (iii) unbiasedness in T̂:
Ĝ_PGPB is affine in T̂. Cross-check: exact ∇J (autograd through the linear solve of a random MDP) against
the exact expectation over D^π_µ of pgcheck's UP(y) update with T̂ = Q^π, and with a zero-mean noisy T̂.
"""

from __future__ import annotations

import sympy
import torch

from derivations import autograd as ag
from derivations import mdp
from derivations import softmax as sx
from derivations.core import Evidence

ID = "thm3.1"
TITLE = "PGPB is an unbiased policy gradient (up to the constant 1/(1−γ))"
REFERENCE = "Theorem 3.1, eqs. (5)–(6); proof (37)–(42); sec. 2 (d^π_µ, eq. 1)"
STATEMENT = ("If T̂ is unbiased for Q^π, E_{(s,a)∼D^π_µ}[Ĝ_PGPB(s,a,θ)] = (1−γ)∇θJ_µ(πθ) with the normalised "
             "d^π_µ of sec. 2 (the paper prints ∇θJ_µ(πθ), eq. 6)")

GAMMA = 0.9
FIELD = "sympy rational-function field QQ(γ, P, r, µ, e^θ): every 2-state 2-action MDP"


def derive(ev: Evidence) -> None:
    sym, recs, _ = mdp.symbolic_pg_theorem()
    ev.lemma("sec. 2", "Σ_s Σ_t γ^t Pr(s_t = s) = 1/(1−γ), so d^π_µ = (1−γ)Σ_t γ^t Pr(s_t = ·) is a distribution",
             FIELD, sym["total"], evidence=[recs["total"]])
    ev.lemma("PG theorem (Sutton et al. 1999)", "∇θJ_µ = (1/(1−γ)) E_{(s,a)∼D^π_µ}[Q^π(s,a)∇θlog πθ(a|s)]",
             FIELD, sym["pg"], evidence=[recs["pg"]])
    ev.step("sec. 2 / (37)", "∇θJ_µ(πθ) = E_{(s,a)∼D^π_µ}[Q^π(s,a)∇θlog πθ(a|s)] (as printed, d normalised)",
            FIELD, sym["printed"], erratum="E1", evidence=[recs["printed"]])
    ev.lemma("sec. 2", "J_µ(π) = (1/(1−γ)) E_{(s,a)∼D^π_µ}[r(s,a)] (printed without 1/(1−γ))", FIELD, sym["value"],
             evidence=[recs["value"]])

    sm = sx.Softmax()

    def q(ab: bool) -> sympy.Expr:
        return sx.QB if ab else sx.QA

    def t_hat(ab: bool) -> sympy.Expr:
        return sx.TB if ab else sx.TA

    def dlogpi(ab: bool) -> sympy.Expr:
        return sx.d(sm.log_pi(ab))

    def pgpb(ab: bool) -> sympy.Expr:
        return (t_hat(ab) - q(ab)) * dlogpi(ab) - sx.d(sm.entropy)

    centred = sm.E_a(lambda ab: (t_hat(ab) - q(ab)) * dlogpi(ab))
    line37 = sm.E_a(lambda ab: t_hat(ab) * dlogpi(ab))
    line38 = centred + sm.E_a(lambda ab: q(ab) * dlogpi(ab))
    line39 = centred + sm.grad_E_fixed_values(lambda qq, _t: qq)
    line41 = centred - sx.d(sm.entropy)
    line42 = sm.E_a(pgpb)
    ev.step("(38)", "E_a[T̂∇log π(a|s)] = E_a[(T̂ − q)∇log π(a|s)] + E_{u∼π}[q(s,u)∇log π(u|s)]", sx.METHOD,
            sx.identity(line37, line38))
    ev.step("(39)", "E_{u∼π}[q(s,u)∇log π(u|s)] = ∇E_{u∼πθ}[q̂(s,u)]", sx.METHOD, sx.identity(line38, line39))
    ev.step("(40)–(41)", "… = E_a[(T̂ − q)∇log π(a|s)] − ∇H(π(·|s)) (Theorem 3.5)", sx.METHOD,
            sx.identity(line39, line41))
    ev.step("(42)", "… = E_{a∼π}[Ĝ_PGPB(s,a,θ)]", sx.METHOD, sx.identity(line41, line42))
    ev.note("(40)–(41) print ∇θlog πθ(u|s) in the sampled-action term, where u is not bound; it is read as "
            "∇θlog πθ(a|s), the only reading under which the step is meaningful (a notational slip, not an "
            "erratum of substance).")
    ev.lemma("unbiasedness in T̂", "Ĝ_PGPB is affine in T̂(s,a), so E[Ĝ_PGPB | s, a] is Ĝ_PGPB at T̂ = E[T̂|s,a] = Q^π",
             "sympy: ∂²Ĝ_PGPB/∂T̂(s,a)² = 0 per coordinate (a = b and a ≠ b)",
             sx.is_zero(sympy.diff(pgpb(True), sx.TB, 2)) and sx.is_zero(sympy.diff(pgpb(False), sx.TA, 2)))

    # --- exact cross-check on random MDPs -----------------------------------------------------------
    n_states, n_actions = 4, 3
    f = ag.scale("q")
    corrected, printed_gap, noisy = ag.MaxErr(), 0.0, ag.MaxErr()
    ratio_text = ""
    with ag.single_thread():
        g = ag.generator(31)
        m = mdp.random_mdp(g, n_states, n_actions, GAMMA)
        for model in ag.models(31, n_states, n_actions):
            states = torch.arange(n_states)
            logits = model(states)
            pi = torch.softmax(logits, -1)
            sol = mdp.solve(m, pi)
            grad_j = ag.flat_grad(sol.J, model.params)
            d = sol.d.detach()
            Q = sol.Q.detach()
            noise = ag.randn(g, n_states, n_actions)
            exp_g = torch.zeros_like(grad_j)
            exp_g_noisy = torch.zeros_like(grad_j)
            for s in range(n_states):
                for a in range(n_actions):
                    w = float(d[s] * pi[s, a].detach())
                    q_sa = float(logits[s, a].detach())
                    exp_g += w * ag.pgcheck_update("up", model, s, a, 0.0, float(Q[s, a]) - q_sa, f)
                    # a two-point zero-mean noise T̂ = Q ± c, expectation taken exactly
                    for sign in (1.0, -1.0):
                        target = float(Q[s, a]) + sign * float(noise[s, a])
                        exp_g_noisy += 0.5 * w * ag.pgcheck_update("up", model, s, a, 0.0, target - q_sa, f)
            corrected.add(grad_j, exp_g / (1 - GAMMA))
            noisy.add(grad_j, exp_g_noisy / (1 - GAMMA))
            printed_gap = max(printed_gap, ag.max_abs(grad_j, exp_g))
            if not ratio_text:
                ratio = float(grad_j @ exp_g / (exp_g @ exp_g))
                ratio_text = (f"random MDP |S| = {n_states}, |A| = {n_actions}, γ = {GAMMA} (seed fixed), tabular "
                              f"logits: ∇J = {ratio:.6f} · E_D[Ĝ_PGPB] (least-squares ratio; 1/(1−γ) = "
                              f"{1 / (1 - GAMMA):.6f}), ‖∇J − E_D[Ĝ_PGPB]‖∞ = {printed_gap:.3g}")
    inst = (f"random MDP |S| = {n_states}, |A| = {n_actions}, γ = {GAMMA}; exact ∇J by autograd through "
            "(I − γP_π)^{-1}; exact sums over D^π_µ; tabular logits and MLP")
    ev.check("(6) with the constant", "∇J vs (1/(1−γ)) Σ_{s,a} d(s)π(a|s)·[pgcheck up_loss(q) update, T̂ = Q^π]",
             inst, corrected.error, 1e-10, corrected.magnitude)
    ev.check("unbiased T̂", "∇J vs (1/(1−γ)) E_{D, T̂}[UP(y)] with T̂ = Q^π ± c(s,a) (two-point, exact mean)",
             inst, noisy.error, 1e-10, noisy.magnitude)
    confirmed = (not sym["printed"]) and sym["pg"] and printed_gap > 1e-3 and corrected.error < 1e-10
    ev.add_erratum(
        "E1", "eq. (6), step (37); sec. 2 (J_µ = E_D[r] and the PG theorem)",
        "∇θJ_µ(θ) = E_{(s,a)∼D^π_µ}[Ĝ_PGPB(s,a,θ)] with d^π_µ(s) = (1−γ)Σ_t γ^t Pr(s_t = s)",
        ratio_text + "; symbolically, over all 2-state 2-action MDPs the printed form is not an identity while the "
        "corrected one is",
        "∇θJ_µ(θ) = (1/(1−γ)) E_{(s,a)∼D^π_µ}[Ĝ_PGPB(s,a,θ)] (equivalently, (6) as printed with the "
        "unnormalised visitation Σ_t γ^t Pr(s_t = s)); Ĝ_PGPB is unbiased up to the positive constant 1−γ, "
        "so it is an ascent direction of J_µ",
        confirmed)
    ev.scope = ("PG theorem with its constant: every MDP with |S| = |A| = 2 (symbolic P, r, µ, γ, logits); "
                "steps (38)–(42): general |A| per state (per-coordinate sympy); random larger MDPs: exact "
                "autograd cross-check")
    ev.complete = True

