"""Appendix C.2: the MLA-PPO update and its scale ``f_MLA(αo,αr)(x, y)·τ_ε(x, y)``.

Printed (C.2): ``Ĝ_MLA−PPO = f_MLA−PPO(ΔO, ΔR)∇log π(a|s) + β∇H(π(·|s))`` with
``f_MLA−PPO = f_MLA(αo,αr)·τ_ε``, ``f_MLA(αo,αr)(x, y) = y max(1 + αo x + αr y, (1 + αo x)⁺/2)``,
``τ_ε(x, y) = 1[y>0]1[x<log(1+ε)] + 1[y<0]1[x>log(1−ε)]``, ``ΔR = Â − α(log π(a|s) + H(π(·|s)))`` (eq. 29).

Claims checked: pgcheck's registry ``mla_ppo`` is the printed C.2 formula for every αo, αr and ε ∈ (0, 1)
(z3); it satisfies Assumption 5.1 at every Table 2 configuration (pgcheck validate) and for general
parameters αo ≥ 0, αr real, ε ∈ (0, 1) (z3: property 2 on {1 + αo x > 0} ∩ (log(1−ε), log(1+ε)));
"(α, αo, αr) = (0, 1, 0) is approximately vanilla PPO" (sec. 6.3): f_MLA(1,0)·τ_ε = y(1 + x)⁺τ_ε exactly,
within 2.9 % of PPO's eˣ y τ_ε inside the trust region for ε = 0.2 (exact bound). Cross-check: pgcheck's
``upi_loss`` with ``mla_ppo``, ``delta_o`` and ``delta_r_pi`` on batches of Gaussian samples against the
printed update computed independently (ΔO, ΔR and f in plain float64, ∇log π by autograd of the density
written here), for the four Table 2 configurations; negative control: the printed f at −ΔO must fail.
"""

from __future__ import annotations

import math

import sympy
import torch

from derivations import autograd as ag
from derivations import logic
from derivations.core import Control, Evidence
from pgcheck import backends, updates
from pgcheck.expr import X, Y

ID = "c2"
TITLE = "The MLA-PPO scale satisfies Assumption 5.1"
REFERENCE = "Appendix C.2, Table 2; sec. 6.3"
STATEMENT = "f_MLA−PPO = f_MLA(αo,αr)·τ_ε satisfies Assumption 5.1 (at the Table 2 settings and for αo ≥ 0)"



def _ind(cond: sympy.Basic) -> sympy.Expr:
    return sympy.Piecewise((1, cond), (0, True))


def printed_mla_ppo(x: sympy.Expr, y: sympy.Expr, ao: sympy.Expr, ar: sympy.Expr, eps: sympy.Expr) -> sympy.Expr:
    """C.2 as printed, f_MLA(αo,αr)(x, y)·τ_ε(x, y), written with sympy directly (not pgcheck's parser)."""
    f_mla = y * sympy.Max(1 + ao * x + ar * y, sympy.Max(1 + ao * x, 0) / 2)
    tau = _ind(y > 0) * _ind(x < sympy.log(1 + eps)) + _ind(y < 0) * _ind(x > sympy.log(1 - eps))
    return f_mla * tau


def printed_mla_ppo_float(x: float, y: float, ao: float, ar: float, eps: float) -> float:
    """The same formula in plain float64 arithmetic (the reference of the update cross-check)."""
    tau = float(y > 0 and x < math.log(1 + eps)) + float(y < 0 and x > math.log(1 - eps))
    return y * max(1 + ao * x + ar * y, max(1 + ao * x, 0.0) / 2) * tau
TABLE2 = [("Walker2d", "0.05", "0.1", "0.0", "0.2"), ("Hopper", "1.0", "0.1", "0.01", "0.2"),
          ("HalfCheetah", "0.5", "0.1", "0.1", "0.2"), ("Humanoid", "1.0", "1.0", "0.0", "0.3")]


def derive(ev: Evidence) -> None:
    reg, syms = logic.registry_symbolic("mla_ppo")
    ao, eps = syms["ao"], syms["eps"]
    printed = printed_mla_ppo(X, Y, ao, syms["ar"], eps)
    same = logic.prove(logic.eq(reg, printed), [eps > 0, eps < 1])
    ev.step("C.2", "pgcheck's registry mla_ppo equals the printed f_MLA(αo,αr)(x,y)·τ_ε(x,y) for all αo, αr, "
            "ε ∈ (0, 1)", same.method, same.proved)

    for env, ar_v, ao_v, _alpha, eps_v in TABLE2:
        cert = logic.validate("mla_ppo", {"ao": ao_v, "ar": ar_v, "eps": eps_v})
        ev.step(f"Table 2 {env}", f"mla_ppo(αo = {ao_v}, αr = {ar_v}, ε = {eps_v}) satisfies Assumption 5.1",
                "pgcheck validate: " + "; ".join(f"{p.prop}: {p.verdict}" for p in cert.properties)
                + f"; neighbourhood {cert.property('2').neighbourhood}", cert.overall == "VALID")

    x1, x2, y1, y2 = sympy.symbols("x1 x2 y1 y2", real=True)
    dom = [eps > 0, eps < 1]
    r1a = logic.prove(logic.eq(reg.subs(Y, 0), 0), dom)
    r1b = logic.prove(sympy.Le(reg.subs(Y, y1), reg.subs(Y, y2)), [*dom, y1 < y2])
    r2 = logic.prove(sympy.Le(sympy.Abs(reg.subs(X, x1)), sympy.Abs(reg.subs(X, x2))),
                     [*dom, ao >= 0, x1 < x2, 1 + ao * x1 > 0, x1 > sympy.log(1 - eps), x2 < sympy.log(1 + eps)])
    ev.lemma("C.2, general parameters", "for all real αo, αr and ε ∈ (0, 1): f(x, 0) = 0 and f(x, ·) non-decreasing; "
             "for αo ≥ 0: |f(·, y)| non-decreasing on {1 + αo x > 0} ∩ (log(1−ε), log(1+ε)), a neighbourhood of 0",
             r1b.method, r1a.proved and r1b.proved and r2.proved)

    f10 = logic.registry("mla_ppo", ao=1, ar=0, eps="0.2")
    ppo = logic.registry("ppo", eps="0.2")
    x, y = X, Y
    tau = sympy.Piecewise((1, sympy.Or(sympy.And(y > 0, x < sympy.log(sympy.Rational(6, 5))),
                                       sympy.And(y < 0, x > sympy.log(sympy.Rational(4, 5))))), (0, True))
    exact_form = logic.prove(logic.eq(f10, Y * sympy.Max(1 + X, 0) * tau))
    lo, hi = sympy.log(sympy.Rational(4, 5)), sympy.log(sympy.Rational(6, 5))
    gap = sympy.Max(1 - (1 + lo) * sympy.exp(-lo), 1 - (1 + hi) * sympy.exp(-hi))
    t = sympy.Symbol("t", real=True)
    dev = 1 - (1 + t) * sympy.exp(-t)
    unimodal = logic.zero(sympy.diff(dev, t) - t * sympy.exp(-t))  # decreasing for t < 0, increasing after
    ok_sec63 = exact_form.proved and unimodal and float(gap) < 0.03 and ppo.has(sympy.exp(X))
    ev.step("sec. 6.3", "(α, αo, αr) = (0, 1, 0) is approximately vanilla PPO: f_MLA(1,0)·τ_ε = y(1 + x)⁺τ_ε exactly, "
            f"and |1 − (1 + x)e^{{−x}}| ≤ {float(gap):.4f} on the trust region log(0.8) ≤ x ≤ log(1.2) (ε = 0.2)",
            "z3 equality with the registry; sympy: d/dx[1 − (1+x)e^{−x}] = x e^{−x} (extremes at the ends), exact "
            "value at the ends", ok_sec63,
            detail="outside the trust region, where τ_ε = 1 (Â > 0, x < log(1 − ε); Â < 0, x > log(1 + ε)), the "
            "two differ more: e.g. at x = −1, y > 0 MLA gives 0 and PPO e^{−1}y")
    ev.scope = ("registry = printed C.2 for all parameters (z3); Assumption 5.1 at the four Table 2 settings (pgcheck "
                "validate) and for all αo ≥ 0, αr, ε ∈ (0, 1) (z3)")
    ev.complete = True

    err_update, err_dr, control = ag.MaxErr(), ag.MaxErr(), ag.MaxErr()
    n_samples, beta = 24, 0.01
    with ag.single_thread():
        g = ag.generator(62)
        for _env, ar_v, ao_v, alpha_v, eps_v in TABLE2:
            f = ag.scale("mla_ppo", ao=ao_v, ar=ar_v, eps=eps_v)
            a_o, a_r, alpha, e = float(ao_v), float(ar_v), float(alpha_v), float(eps_v)
            w = ag.randn(g, 3, 2, scale=0.7).requires_grad_(True)
            log_std = ag.randn(g, 2, scale=0.2).requires_grad_(True)
            params = [w, log_std]
            phi = ag.randn(g, n_samples, 3)
            mean, std = phi @ w, log_std.exp()
            b_mean, b_std = mean.detach() + ag.randn(g, n_samples, 2, scale=0.35), std.detach()
            action = b_mean + b_std * ag.randn(g, n_samples, 2)
            z, zb = (action - mean) / std, (action - b_mean) / b_std
            log_prob = (-0.5 * z ** 2 - torch.log(std) - 0.5 * math.log(2 * math.pi)).sum(-1)
            log_prob_b = (-0.5 * zb ** 2 - torch.log(b_std) - 0.5 * math.log(2 * math.pi)).sum(-1)
            ent = (0.5 * math.log(2 * math.pi * math.e) + torch.log(std)).sum().expand(n_samples)
            adv = ag.randn(g, n_samples)
            # pgcheck's side: delta_o, delta_r_pi and upi_loss on the whole batch
            dr = updates.delta_r_pi(adv, log_prob, ent, alpha)
            loss = updates.upi_loss(f, log_prob, ent, updates.delta_o(log_prob, log_prob_b), dr, beta=beta)
            # the printed side: ΔO, ΔR and f in plain float64, the update as the batch mean of f∇log π + β∇H
            xo = (log_prob - log_prob_b).detach().tolist()
            yr = (adv - alpha * (log_prob + ent)).detach()
            err_dr.add(dr, yr)
            coef = [printed_mla_ppo_float(a, b, a_o, a_r, e) for a, b in zip(xo, yr.tolist(), strict=True)]
            coef_inv = [printed_mla_ppo_float(-a, b, a_o, a_r, e) for a, b in zip(xo, yr.tolist(), strict=True)]
            grad_ent = ag.flat_grad(ent.mean(), params)

            def update(c: list[float], lp: torch.Tensor = log_prob, gh: torch.Tensor = grad_ent,
                       ps: list[torch.Tensor] = params) -> torch.Tensor:
                return ag.flat_grad((torch.tensor(c, dtype=ag.DTYPE) * lp).mean(), ps) + beta * gh

            err_update.add(-ag.flat_grad(loss, params), update(coef))
            control.add(-ag.flat_grad(loss, params), update(coef_inv))
        # sec. 6.3: inside the trust region (ε = 0.2), |f_MLA(1,0)τ − f_PPO| ≤ gap · |f_PPO| (torch forms)
        f_a, f_b = backends.to_torch(f10), backends.to_torch(ppo)
        xs = torch.linspace(float(lo), float(hi), 201, dtype=ag.DTYPE)[1:-1]
        ys = ag.randn(g, 199, scale=2.0)
        va, vb = f_a(xs, ys), f_b(xs, ys)
        rel_excess = float(torch.clamp((va - vb).abs() - float(gap) * vb.abs() - 1e-15, min=0).max())
    inst = ("Gaussian policies (2-d actions) at each Table 2 (αr, αo, α, ε), one batch of 24 off-policy samples each, "
            "β = 0.01")
    ev.check("sec. 6.3 bound", f"|f_MLA(1,0)τ − f_PPO| − {float(gap):.4f}|f_PPO| (excess over the bound), "
             "pgcheck's torch forms of mla_ppo(1, 0, 0.2) and ppo(0.2)",
             "199 points inside log(0.8) < x < log(1.2), y ~ N(0, 2²)", rel_excess, 1e-12, 1.0)
    ev.check("eq. (29)", "pgcheck delta_r_pi vs printed Â − α(log π + H)", inst, err_dr.error, 1e-12, err_dr.magnitude)
    ev.check("C.2 update", "pgcheck upi_loss(mla_ppo) vs the batch mean of the printed f_MLA−PPO∇log π + β∇H (ΔO, ΔR "
             "and f in plain float64, ∇log π by autograd)", inst, err_update.error, 1e-12, err_update.magnitude,
             control=Control("the printed f at the inverted ratio −ΔO", control.error))
