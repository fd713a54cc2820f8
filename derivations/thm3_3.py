"""Theorem 3.3 (eqs. 7–10): Ĝ_MSE and Ĝ_MVE are unbiased semi-gradients of the MSE and MVE objectives.

* (7) ``G_MSE(θ) = −∇θ ½ E_{(s,a)∼D̂}[(T̂ − q)²]`` and (9) ``Ĝ_MSE = (T̂ − q)∇q(s,a)``;
* (8) ``G_MVE(θ) = −∇θ ½ E_s V_{a∼π̂}[T̂ − q]`` and (10) ``Ĝ_MVE = (T̂ − q)∇log π(a|s)``.

"Semi-gradient" (footnote 1): the sampling distribution D̂ = d(s)π̂(a|s) and the target T̂ are held fixed;
in the variance of (8) the policy is ``π̂`` (stop-gradient, as in step (45)), the same π from which a is
drawn in (47)–(50). Symbolic: per-coordinate sympy for (43) and each of (44)–(50) (general |A|).
Cross-check: exact finite expectations — autograd of the objectives (7), (8) against the D̂-weighted sums
of pgcheck's UQ(y) and UV(y) updates.
"""

from __future__ import annotations

import sympy
import torch

from derivations import autograd as ag
from derivations import softmax as sx
from derivations.core import Evidence

ID = "thm3.3"
TITLE = "MSE and MVE sample gradients are unbiased semi-gradients"
REFERENCE = "Theorem 3.3, eqs. (7)–(10); proof (43)–(50)"
STATEMENT = ("E_{D̂}[Ĝ_MSE] = −∇½E_{D̂}[(T̂−q)²] and E_{D̂}[Ĝ_MVE] = −∇½E_s V_{a∼π̂}[T̂−q], "
             "with D̂ = d(s)π̂(a|s) and T̂ held fixed")


def derive(ev: Evidence) -> None:
    sm = sx.Softmax()
    half = sympy.Rational(1, 2)

    def q(ab: bool) -> sympy.Expr:
        return sx.QB if ab else sx.QA

    def t_hat(ab: bool) -> sympy.Expr:
        return sx.TB if ab else sx.TA

    # (43): −½ ∂/∂q_b (T̂ − q_a)² = (T̂ − q_a) ∂q_a/∂q_b for either case of a.
    ok43 = all(sx.identity(-half * sx.d((t_hat(ab) - q(ab)) ** 2), (t_hat(ab) - q(ab)) * sx.d(q(ab)))
               for ab in (True, False))
    ev.step("(43)", "−½∇(T̂ − q)² = (T̂ − q)∇q, so G_MSE = E_{D̂}[Ĝ_MSE]", sx.METHOD, ok43)

    # (44)–(50), with the weights π̂ held fixed (grad_E_fixed_policy).
    def err(qq: sympy.Expr, tt: sympy.Expr) -> sympy.Expr:
        return tt - qq

    def sq(qq: sympy.Expr, tt: sympy.Expr) -> sympy.Expr:
        return (tt - qq) ** 2

    line45 = sm.thaw(-half * sx.d(sm.E_hat(sq) - sm.E_hat(err) ** 2))  # −½ ∂V_{π̂}[T̂ − q], π̂ frozen
    line46 = -half * (sm.grad_E_fixed_policy(sq) - 2 * sm.E(err) * sm.grad_E_fixed_policy(err))
    line47 = (sm.E_a(lambda ab: (t_hat(ab) - q(ab)) * sx.d(q(ab)))
              - sm.E(err) * sm.E_a(lambda ab: sx.d(q(ab))))
    line48 = sm.E_a(lambda ab: (t_hat(ab) - q(ab)) * (sx.d(q(ab)) - sm.pi(True)))
    line49 = sm.E_a(lambda ab: (t_hat(ab) - q(ab)) * sx.d(sm.log_pi(ab)))
    ev.step("(45)–(46)", "−½∇V_{a∼π̂}[T̂ − q] = −½(∇E_{π̂}[(T̂−q)²] − ∇(E_{π̂}[T̂−q])²) (π̂ fixed)", sx.METHOD,
            sx.identity(line45, line46))
    ev.step("(47)", "… = E_{a∼π}[(T̂−q)∇q(s,a)] − E_{a∼π}[T̂−q] E_{u∼π}[∇q(s,u)]", sx.METHOD,
            sx.identity(line46, line47))
    ev.step("(48)", "… = E_{a∼π}[(T̂−q)(∇q(s,a) − E_{u∼π}∇q(s,u))]", sx.METHOD, sx.identity(line47, line48))
    ev.step("(49)–(50)", "… = E_{a∼π}[(T̂−q)∇log π(a|s)] = E_{a∼π}[Ĝ_MVE]", sx.METHOD, sx.identity(line48, line49))
    ev.note("(8) prints V_a without a hat; the proof (45) differentiates with π̂ fixed (footnote 1: "
            "semi-gradient). With π differentiated, −½∇V_{a∼πθ} has extra terms and Ĝ_MVE is not its "
            "unbiased estimate; the claim is checked in the semi-gradient sense the proof uses.")
    ev.scope = "general |A| ≥ 2, any differentiable qθ, per state (per-coordinate sympy); sums over s are linear"
    ev.complete = True

    n_states, n_actions = 4, 3
    mse, mve = ag.MaxErr(), ag.MaxErr()
    f = ag.scale("q")
    with ag.single_thread():
        g = ag.generator(33)
        d = torch.softmax(ag.randn(g, n_states), -1)
        t_table = ag.randn(g, n_states, n_actions, scale=2.0)
        for model in ag.models(33, n_states, n_actions):
            logits = model(torch.arange(n_states))
            pi_hat = torch.softmax(logits, -1).detach()
            w = d[:, None] * pi_hat
            objective_mse = -0.5 * (w * (t_table - logits) ** 2).sum()
            e = t_table - logits
            variance = (pi_hat * e ** 2).sum(-1) - ((pi_hat * e).sum(-1)) ** 2
            objective_mve = -0.5 * (d * variance).sum()
            g_mse = ag.flat_grad(objective_mse, model.params)
            g_mve = ag.flat_grad(objective_mve, model.params)
            sum_mse = torch.zeros_like(g_mse)
            sum_mve = torch.zeros_like(g_mve)
            for s in range(n_states):
                for a in range(n_actions):
                    dr = float(e[s, a].detach())
                    sum_mse += float(w[s, a]) * ag.pgcheck_update("uq", model, s, a, 0.0, dr, f)
                    sum_mve += float(w[s, a]) * ag.pgcheck_update("uv", model, s, a, 0.0, dr, f)
            mse.add(g_mse, sum_mse)
            mve.add(g_mve, sum_mve)
    inst = (f"{n_states} states × |A| = {n_actions}, random d(s) and T̂, π̂ = softmax(qθ) detached; exact sums; "
            "tabular logits and MLP, float64")
    ev.check("(7) ↔ (9)", "autograd of −½Σ D̂(T̂−q)² vs Σ D̂ · [pgcheck uq_loss(q) update]", inst, mse.error,
             1e-12, mse.magnitude)
    ev.check("(8) ↔ (10)", "autograd of −½Σ_s d(s)V_{π̂}[T̂−q] vs Σ D̂ · [pgcheck uv_loss(q) update]", inst,
             mve.error, 1e-12, mve.magnitude)
