"""Eqs. (22)–(23): the maximum-likelihood update and the scale λ(x) = eˣ − 1.

Target distribution ``p̂_T(a|s) = exp(T̂(s,a) − F(T̂)(s))``, ``F(T)(s) = log Σ_a exp T(s,a)``.

* (22) ``G_ML = E_s E_{a∼p̂_T}[∇log π(a|s)] = E_{(s,a)∼π}[(p̂_T/π − 1)∇q(s,a)]`` (three printed lines);
* ``log p̂_T − log π = ΔR + ξ(s)``, ``ξ(s) = F(q)(s) − F(T̂)(s)``, so ``(e^{ΔR+ξ} − 1)∇q(s,a)`` with a ∼ π is
  an unbiased sample of (22);
* dropping ξ gives (23) ``Ĝ_ML = (e^{ΔR} − 1)∇q``, i.e. λ(x) = eˣ − 1 with λ(0) = 0, increasing; it is
  exact when ξ(s) = 0 and otherwise has expectation ``e^{−ξ} G_ML + (e^{−ξ} − 1) E_{u∼π}∇q(s,u)``.

Symbolic: per coordinate, general |A| (the sums over a ≠ b of e^{T_a} enter as free symbols). Cross-check:
exact sums over finite action sets; the sample update is pgcheck's UQ with its ``ml`` scale (at ΔO = 0,
``f_ML(0, y) = e^y − 1``).
"""

from __future__ import annotations

import sympy
import torch

from derivations import autograd as ag
from derivations import logic
from derivations import softmax as sx
from derivations.core import Evidence
from pgcheck.expr import X, Y

ID = "eq22-23"
TITLE = "The maximum-likelihood update (λ(x) = eˣ − 1)"
REFERENCE = "sec. 4.2, eqs. (22)–(23)"
STATEMENT = ("E_s E_{a∼p̂_T}[∇log π] = E_{(s,a)∼π}[(p̂_T/π − 1)∇q]; log p̂_T − log π = ΔR + ξ(s), ξ = F(q) − F(T̂); "
             "dropping ξ gives λ(x) = eˣ − 1")


def derive(ev: Evidence) -> None:
    sm = sx.Softmax()

    def q(ab: bool) -> sympy.Expr:
        return sx.QB if ab else sx.QA

    line1 = sm.E_a(lambda ab: sx.d(sm.log_pi(ab)), weight="phat")
    line2 = sm.E_a(lambda ab: sx.d(q(ab)) - sm.pi(True), weight="phat")
    line3 = sm.E_a(lambda ab: sm.phat(ab) / sm.pi(ab) * (sx.d(q(ab)) - sm.pi(True)))
    line4 = sm.E_a(lambda ab: (sm.phat(ab) / sm.pi(ab) - 1) * sx.d(q(ab)))
    ev.step("(22), line 2", "E_{a∼p̂_T}[∇log π(a|s)] = E_{a∼p̂_T}[∇q(s,a) − Σ_u π(u|s)∇q(s,u)]", sx.METHOD,
            sx.identity(line1, line2))
    ev.step("(22), line 3", "… = E_{a∼π}[(p̂_T(a|s)/π(a|s))(∇q(s,a) − E_{u∼π}∇q(s,u))]", sx.METHOD,
            sx.identity(line2, line3))
    ev.step("(22), line 4", "… = E_{a∼π}[(p̂_T(a|s)/π(a|s) − 1)∇q(s,a)]", sx.METHOD, sx.identity(line3, line4))

    ok_ratio = True
    for ab in (True, False):
        dr = (sx.TB if ab else sx.TA) - q(ab)
        xi = sm.F - sm.FT
        ratio = sympy.log(sm.phat(ab)) - sympy.log(sm.pi(ab))
        ok_ratio = ok_ratio and sx.identity(sympy.expand_log(ratio, force=True), dr + xi)
    ev.step("below (22)", "log p̂_T(a|s) − log π(a|s) = ΔR + ξ(s), ξ(s) = F(q)(s) − F(T̂)(s)",
            "sympy: log identity (general |A|, sums as free symbols)", ok_ratio)

    xi = sm.F - sm.FT
    unbiased = sm.E_a(lambda ab: (sympy.exp((sx.TB if ab else sx.TA) - q(ab) + xi) - 1) * sx.d(q(ab)))
    ev.step("below (22)", "E_{a∼π}[(e^{ΔR+ξ(s)} − 1)∇q(s,a)] = G_ML(s): the sample update is unbiased", sx.METHOD,
            sx.identity(unbiased, line1))
    dropped = sm.E_a(lambda ab: (sympy.exp((sx.TB if ab else sx.TA) - q(ab)) - 1) * sx.d(q(ab)))
    bias_form = sympy.exp(-xi) * line1 + (sympy.exp(-xi) - 1) * sm.pi(True)
    ev.lemma("(23), the ξ ≈ 0 approximation", "E_{a∼π}[(e^{ΔR} − 1)∇q] = e^{−ξ}G_ML + (e^{−ξ} − 1)E_{u∼π}∇q(s,u): "
             "exact iff ξ(s) = 0", sx.METHOD, sx.identity(dropped, bias_form))

    f_ml = logic.registry("ml")
    lam = sympy.exp(Y) - 1
    ok = logic.zero(f_ml.subs(X, 0) - lam)
    ev.step("(23)", "λ(x) = eˣ − 1 is pgcheck's f_ML at ΔO = 0; λ(0) = 0; λ'(x) = eˣ > 0 (increasing)",
            "sympy: registry ml at x = 0, value and derivative",
            ok and lam.subs(Y, 0) == 0 and bool(sympy.diff(lam, Y).is_positive))
    ev.scope = "general |A| ≥ 2 per state (per-coordinate sympy with abstract sums), any differentiable qθ"
    ev.complete = True

    n_states, n_actions = 4, 5
    unb, drop = ag.MaxErr(), ag.MaxErr()
    f = ag.scale("ml")
    with ag.single_thread():
        g = ag.generator(22)
        for model in ag.models(22, n_states, n_actions):
            for s in range(n_states):
                t_row = ag.randn(g, n_actions, scale=1.5)
                logits = model(ag.index(s))[0]
                p_hat = torch.softmax(t_row, -1)
                g_ml = ag.flat_grad((p_hat * torch.log_softmax(logits, -1)).sum(), model.params)
                pi = torch.softmax(logits, -1).detach()
                xi_s = float(torch.logsumexp(logits.detach(), -1) - torch.logsumexp(t_row, -1))
                exp_unbiased = torch.zeros_like(g_ml)
                exp_dropped = torch.zeros_like(g_ml)
                for a in range(n_actions):
                    dr = float(t_row[a] - logits[a].detach())
                    exp_unbiased += float(pi[a]) * ag.pgcheck_update("uq", model, s, a, 0.0, dr + xi_s, f)
                    exp_dropped += float(pi[a]) * ag.pgcheck_update("uq", model, s, a, 0.0, dr, f)
                mean_grad_q = ag.flat_grad((pi * logits).sum(), model.params)
                unb.add(g_ml, exp_unbiased)
                xi_t = torch.tensor(xi_s, dtype=ag.DTYPE)
                drop.add(exp_dropped, torch.exp(-xi_t) * g_ml + (torch.exp(-xi_t) - 1) * mean_grad_q)
    inst = (f"{n_states} states × |A| = {n_actions}, random T̂ over all actions; exact sums over a; "
            "tabular logits and MLP")
    ev.check("(22) unbiased sample", "autograd of Σ_a p̂_T log π vs Σ_a π·[pgcheck uq_loss(ml) update at (0, ΔR+ξ)]",
             inst, unb.error, 1e-12, unb.magnitude)
    ev.check("(23) with ξ dropped", "Σ_a π·[pgcheck uq_loss(ml) at (0, ΔR)] vs e^{−ξ}G_ML + (e^{−ξ}−1)E_π∇q", inst,
             drop.error, 1e-12, drop.magnitude)
