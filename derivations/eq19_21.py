"""Eqs. (19)–(21): an error loss l gives the scale λ = l' on the MSE form.

Assumptions (sec. 4.1): ``l : ℝ → ℝ₊`` smooth (differentiable) and convex with ``l(0) = 0``.
Claims: (20)–(21) ``−∇θ l(T̂ − qθ(s,a)) = λ(ΔR) ∇θ q(s,a)`` with ``λ = l'``; λ is non-decreasing and
``λ(0) = 0``; MSE ``l = x²/2`` gives ``λ(x) = x`` (pgcheck scale ``q``); Huber (printed below (21))
gives ``λ(x) = clip(x, −δ, δ)`` (pgcheck scale ``huber``).

Symbolic: the chain rule with an abstract l (sympy); monotonicity of l' from the first-order convexity
inequalities (z3, linear arithmetic); λ(0) = 0 from l ≥ 0 = l(0) (one-sided difference quotients, z3);
the MSE and Huber derivatives by sympy, compared with pgcheck's registry scales by z3 for every δ > 0;
both registry scales validated (Assumption 5.1 1a/1b give λ(0) = 0 and monotonicity). Cross-check:
torch autograd of the MSE and ``torch.nn.functional.huber_loss`` against pgcheck's UQ update.
"""

from __future__ import annotations

import sympy
import torch

from derivations import autograd as ag
from derivations import logic
from derivations.core import Evidence
from pgcheck.expr import Y

ID = "eq19-21"
TITLE = "Error-loss updates: λ = l' on the MSE form (MSE, Huber)"
REFERENCE = "sec. 4.1, eqs. (19)–(21) and the Huber loss below (21)"
STATEMENT = ("For smooth convex l ≥ 0 with l(0) = 0: −∇l(T̂ − q) = λ(ΔR)∇q with λ = l' non-decreasing, λ(0) = 0; "
             "MSE gives λ(x) = x, Huber gives λ(x) = clip(x, −δ, δ)")

DELTAS = ("1/2", "1", "2")


def derive(ev: Evidence) -> None:
    x, t, q = sympy.symbols("x T q", real=True)
    loss = sympy.Function("l")
    chain = sympy.diff(-loss(t - q), q)
    lam_at = sympy.Subs(sympy.Derivative(loss(x), x), x, t - q)
    ev.step("(20)–(21)", "−∂/∂q l(T̂ − q) = l'(T̂ − q) = λ(ΔR), so −∇θ l = λ(ΔR)∇θq(s,a)",
            "sympy: chain rule with an abstract function l", logic.zero(chain - lam_at.doit()))

    # Monotonicity from convexity: l(v) ≥ l(u) + l'(u)(v − u) and l(u) ≥ l(v) + l'(v)(u − v)
    # give (l'(v) − l'(u))(v − u) ≥ 0.
    u, v, lu, lv, du, dv = sympy.symbols("u v l_u l_v dl_u dl_v", real=True)
    mono = logic.prove(sympy.Ge((dv - du) * (v - u), 0),
                       [sympy.Ge(lv, lu + du * (v - u)), sympy.Ge(lu, lv + dv * (u - v))])
    ev.step("sec. 4.1", "l convex and differentiable ⇒ λ = l' is non-decreasing",
            "z3 from the first-order convexity inequalities (exact, linear): " + mono.method, mono.proved)
    # λ(0) = 0: l(h) ≥ 0 = l(0) makes the right difference quotient ≥ 0 and the left one ≤ 0.
    h, lh = sympy.symbols("h l_h", real=True)
    right = logic.prove(sympy.Ge(lh / h, 0), [h > 0, lh >= 0])
    left = logic.prove(sympy.Le(lh / h, 0), [h < 0, lh >= 0])
    ev.step("sec. 4.1", "l ≥ 0 = l(0) ⇒ (l(h) − l(0))/h ≥ 0 for h > 0 and ≤ 0 for h < 0, so λ(0) = l'(0) = 0",
            "z3 on the difference quotients (exact), then the limit h → 0", right.proved and left.proved)

    mse_lambda = sympy.diff(x ** 2 / 2, x)
    ok_mse = logic.prove(logic.eq(mse_lambda.subs(x, Y), logic.registry("q"))).proved
    ev.step("below (21)", "MSE l(x) = x²/2 gives λ(x) = x, pgcheck's scale q", "sympy derivative; z3 equality "
            "with the registry's q", ok_mse)

    delta = sympy.Symbol("delta", real=True)
    huber = sympy.Piecewise((x ** 2 / 2, sympy.Abs(x) < delta), (delta * (sympy.Abs(x) - delta / 2), True))
    lam = sympy.piecewise_fold(sympy.diff(huber, x))
    registry_huber, symbols = logic.registry_symbolic("huber")
    reg = registry_huber.subs(symbols["delta"], delta)
    same = logic.prove(logic.eq(lam.subs(x, Y), reg), [delta > 0])
    ev.step("Huber, below (21)", "d/dx Huber_δ(x) = clip(x, −δ, δ), pgcheck's scale huber, for every δ > 0",
            "sympy derivative of the printed piecewise loss; " + same.method.replace("negation", "equality's negation"),
            same.proved, detail=f"sympy: l'(x) = {lam}")
    inner, outer = x ** 2 / 2, delta * (x - delta / 2)  # the two branches for x > 0 (even function)
    c1 = (logic.zero((inner - outer).subs(x, delta))
          and logic.zero(sympy.diff(inner - outer, x).subs(x, delta))
          and sympy.diff(inner, x, 2) != sympy.diff(outer, x, 2))
    ev.lemma("Huber", "Huber_δ and its derivative are continuous at |x| = δ, its second derivative jumps (1 → 0): "
             "it is C¹, not C², so 'smooth' means differentiable here", "sympy: branch values and derivatives at "
             "x = δ (x ↦ Huber_δ(x) is even)", bool(c1))
    for name, params in [("q", {}), *[("huber", {"delta": dd}) for dd in DELTAS]]:
        cert = logic.validate(name, params)
        ok = cert.overall == "VALID"
        ev.step("sec. 4.1", f"λ = {name}{params or ''} satisfies λ(0) = 0 and is non-decreasing (pgcheck validate "
                "1a, 1b)", "pgcheck validate: " + "; ".join(f"{p.prop}: {p.verdict}" for p in cert.properties), ok)
    ev.scope = ("general l (chain rule, convexity ⇒ monotone λ, λ(0) = 0); MSE and Huber for every δ > 0 against "
                "pgcheck's registry scales")
    ev.complete = True

    n_states, n_actions = 4, 3
    errs = {"mse": ag.MaxErr(), "huber": ag.MaxErr()}
    with ag.single_thread():
        g = ag.generator(19)
        for model in ag.models(19, n_states, n_actions):
            for s in range(n_states):
                for a in range(n_actions):
                    target = float(ag.randn(g, 1)[0]) * 2.5
                    logits = model(ag.index(s))
                    q_sa = logits[0, a]
                    dr = target - float(q_sa.detach())
                    g_mse = -ag.flat_grad(0.5 * (target - q_sa) ** 2, model.params)
                    errs["mse"].add(g_mse, ag.pgcheck_update("uq", model, s, a, 0.0, dr, ag.scale("q")))
                    for dd in DELTAS:
                        loss = torch.nn.functional.huber_loss(q_sa, torch.tensor(target, dtype=ag.DTYPE),
                                                              delta=float(sympy.Rational(dd)))
                        g_h = -ag.flat_grad(loss, model.params)
                        errs["huber"].add(g_h, ag.pgcheck_update("uq", model, s, a, 0.0, dr,
                                                                 ag.scale("huber", delta=dd)))
    inst = (f"every (s, a) of {n_states} states × |A| = {n_actions}, random T̂ (|ΔR| up to ~6), δ ∈ {{1/2, 1, 2}}, "
            "tabular logits and MLP, float64")
    ev.check("MSE", "−∇½(T̂ − q)² (autograd) vs pgcheck uq_loss(q)", inst, errs["mse"].error, 1e-12,
             errs["mse"].magnitude)
    ev.check("Huber", "−∇ torch huber_loss(q, T̂, δ) vs pgcheck uq_loss(huber δ)", inst, errs["huber"].error, 1e-12,
             errs["huber"].magnitude)
