"""Theorem 4.3 (proof (51)–(56)): PPO's clipped surrogate is the update Uπ with f(x, y) = eˣ y τ_ε(x, y).

Setting: behaviour policy π_b, ``ρ = πθ(a|s)/π_b(a|s) = e^{ΔO}``, advantage Â, ``ΔR = Â`` (α = 0 in eq. 29),
``0 < ε < 1``; ``J_PPO = min(ρÂ, clip(ρ, 1−ε, 1+ε)Â)`` and
``τ_ε(x, y) = 1[y>0]1[x<log(1+ε)] + 1[y<0]1[x>log(1−ε)]``. Claim: ``∇θJ_PPO = τ_ε(ΔO, Â) e^{ΔO} Â ∇θlog πθ(a|s)``
wherever J_PPO is differentiable (all points but ρ = 1 ± ε, a null set), i.e. pgcheck's ``ppo`` scale in
Uπ (eq. 34) with β = 0.

Steps as printed: (52) the case split on the sign of Â — proved by z3 for all ρ > 0, Â, ε ∈ (0, 1);
(53)–(54) print the unclipped indicator for Â < 0 as 1[ΔO > log(1+ε)] — false (erratum), the corrected
1[ΔO > log(1−ε)] is proved; (55)–(56) differentiate region by region (sympy) and use ∇ρ = ρ∇log π.
pgcheck's registry ``ppo`` is shown equal to eˣ y τ_ε(x, y) as printed in the theorem (z3, every ε ∈ (0, 1)).
Cross-check: torch autograd of the batch mean of the clipped surrogate against pgcheck's ``upi_loss`` with
the ``ppo`` scale on whole batches (so a per-sample-versus-mean bug shows), Gaussian policies (ε = 0.2, 0.3)
and a softmax policy, with every one of the six regions (sign Â × ΔO below / inside / above
[log(1−ε), log(1+ε)]) populated; negative control: the surrogate with the inverted ratio must fail.
"""

from __future__ import annotations

import math

import sympy
import torch

from derivations import autograd as ag
from derivations import logic
from derivations.core import Control, Evidence
from pgcheck import updates
from pgcheck.expr import X, Y

ID = "thm4.3"
TITLE = "PPO's clipped surrogate as a scale function"
REFERENCE = "Theorem 4.3, proof (51)–(56); eqs. (29), (30)"
STATEMENT = ("∇θ min(ρÂ, clip(ρ,1−ε,1+ε)Â) = τ_ε(ΔO,Â)e^{ΔO}Â∇θlog πθ(a|s), ρ = e^{ΔO}, away from ρ = 1±ε; "
             "τ_ε(x,y) = 1[y>0]1[x<log(1+ε)] + 1[y<0]1[x>log(1−ε)]")



def printed_ppo(x: sympy.Expr, y: sympy.Expr, eps: sympy.Expr) -> sympy.Expr:
    """eˣ y τ_ε(x, y) with τ_ε = 1[y>0]1[x<log(1+ε)] + 1[y<0]1[x>log(1−ε)] as printed, written with sympy
    directly (not pgcheck's parser)."""
    return sympy.exp(x) * y * (_ind(y > 0) * _ind(x < sympy.log(1 + eps)) + _ind(y < 0) * _ind(x > sympy.log(1 - eps)))
EPSILONS = ("1/5", "3/10")


def _surrogate(rho: sympy.Expr, adv: sympy.Expr, eps: sympy.Expr) -> sympy.Expr:
    return sympy.Min(rho * adv, sympy.Min(sympy.Max(rho, 1 - eps), 1 + eps) * adv)


def _ind(cond: sympy.Basic) -> sympy.Expr:
    return sympy.Piecewise((1, cond), (0, True))


def _line53(rho: sympy.Expr, adv: sympy.Expr, eps: sympy.Expr, upper_for_negative: sympy.Expr) -> sympy.Expr:
    """(53), with ΔO ⋚ log c written as ρ ⋚ c (log is increasing); the Â<0 bound is a parameter."""
    return ((_ind(sympy.And(adv > 0, rho < 1 + eps)) + _ind(sympy.And(adv < 0, rho > upper_for_negative))) * rho * adv
            + (1 + eps) * _ind(sympy.And(adv > 0, rho >= 1 + eps)) * adv
            + (1 - eps) * _ind(sympy.And(adv < 0, rho <= 1 - eps)) * adv)


def derive(ev: Evidence) -> None:
    rho, adv, eps = sympy.symbols("rho A eps", real=True)
    domain = [rho > 0, eps > 0, eps < 1]
    J = _surrogate(rho, adv, eps)
    line52 = _ind(adv > 0) * sympy.Min(rho, 1 + eps) * adv + _ind(adv < 0) * sympy.Max(1 - eps, rho) * adv
    r52 = logic.prove(logic.eq(J, line52), domain)
    ev.step("(52)", "min(ρÂ, clip(ρ,1−ε,1+ε)Â) = 1[Â>0]min(ρ,1+ε)Â + 1[Â<0]max(1−ε,ρ)Â (ρ > 0, 0 < ε < 1)",
            r52.method, r52.proved)

    printed = _line53(rho, adv, eps, 1 + eps)
    corrected = _line53(rho, adv, eps, 1 - eps)
    r_printed = logic.prove(logic.eq(line52, printed), domain)
    cx = {rho: 1, adv: -1, eps: sympy.Rational(1, 5)}
    lhs_cx, rhs_cx = logic.value(J, cx), logic.value(printed, cx)
    ev.step("(53)", "… = (1[Â>0]1[ΔO<log(1+ε)] + 1[Â<0]1[ΔO>log(1+ε)]) ρÂ + (1+ε)1[Â>0]1[ΔO≥log(1+ε)]Â "
            "+ (1−ε)1[Â<0]1[ΔO≤log(1−ε)]Â  (as printed)", r_printed.method, r_printed.proved, erratum="E1",
            detail=f"z3: {r_printed.status}; exact at ε = 1/5, Â = −1, ρ = 1: left {lhs_cx}, printed right {rhs_cx}")
    # (54) as printed: ∇J = (1[Â>0]1[ΔO<log(1+ε)] + 1[Â<0]1[ΔO>log(1+ε)]) e^{ΔO}Â∇log π (the clipped terms are
    # constant in θ); compare its coefficient of ∇log π with ρ ∂J/∂ρ (∇ρ = ρ∇log π) at the same point
    printed54 = (_ind(sympy.And(adv > 0, rho < 1 + eps)) + _ind(sympy.And(adv < 0, rho > 1 + eps))) * rho * adv
    true54, printed54_cx = logic.value(rho * sympy.diff(J, rho), cx), logic.value(printed54, cx)
    ev.step("(54)", "∇J_PPO = (1[Â>0]1[ΔO<log(1+ε)] + 1[Â<0]1[ΔO>log(1+ε)]) e^{ΔO}Â∇log πθ(a|s)  (as printed)",
            "exact evaluation of ρ∂J/∂ρ (the coefficient of ∇log π) against the printed coefficient",
            true54 == printed54_cx, erratum="E1",
            detail=f"at ε = 1/5, Â = −1, ρ = 1 (J = ρÂ near this point): ρ∂J/∂ρ = {true54}, printed {printed54_cx}")
    r_corr = logic.prove(logic.eq(line52, corrected), domain)
    ev.lemma("(53) corrected", "the same with 1[Â<0]1[ΔO>log(1−ε)] for the unclipped branch", r_corr.method,
             r_corr.proved)
    ev.add_erratum(
        "E1", "Appendix A, proof of Theorem 4.3, (53)–(54)",
        "1[ΔR<0]1[ΔO>log(1+ε)] as the indicator of the unclipped branch when ΔR = Â < 0",
        f"ε = 1/5, Â = −1, ΔO = 0 (ρ = 1): min(ρÂ, clip(ρ)Â) = {lhs_cx} but the printed (53) gives {rhs_cx}, "
        "and the printed (54) gives gradient 0 where the true gradient is Â∇log π = −∇log π",
        "1[ΔR<0]1[ΔO>log(1−ε)] (as in τ_ε of the theorem statement and in (55)); with it (53)–(56) hold",
        (not r_printed.proved) and lhs_cx == -1 and rhs_cx == 0 and true54 == -1 and printed54_cx == 0
        and r_corr.proved)

    # (55)–(56): differentiate each of the six open regions of (ρ, Â); τ = 1 exactly on the ρ-branches.
    ok_regions = True
    regions = []
    for a_sign in (1, -1):
        for where in ("below", "inside", "above"):
            lo, hi = 1 - eps, 1 + eps
            fifth = sympy.Rational(1, 5)
            rho_in = {"below": (1 - fifth) / 2, "inside": sympy.S.One, "above": 2 + fifth}[where]
            branches = {(1, "below"): rho * adv, (1, "inside"): rho * adv, (1, "above"): (1 + eps) * adv,
                        (-1, "below"): (1 - eps) * adv, (-1, "inside"): rho * adv, (-1, "above"): rho * adv}
            branch = branches[(a_sign, where)]
            region = {"below": [rho < lo], "inside": [rho > lo, rho < hi], "above": [rho > hi]}[where]
            region = [*region, adv > 0] if a_sign > 0 else [*region, adv < 0]
            same = logic.prove(logic.eq(corrected, branch), [*domain, *region]).proved
            tau = sympy.diff(branch, rho) / adv  # dJ/dρ = τ Â
            point = {rho: rho_in, adv: a_sign, eps: sympy.Rational(1, 5)}
            tau_printed = logic.value(_ind(sympy.Or(sympy.And(adv > 0, rho < 1 + eps),
                                                    sympy.And(adv < 0, rho > 1 - eps))), point)
            ok_regions = ok_regions and same and logic.zero(tau - tau_printed)
            regions.append(f"Â{'>' if a_sign > 0 else '<'}0, ρ {where}: τ = {tau}")
    ev.step("(55)–(56)", "in each open region J_PPO is ρÂ (τ = 1) or constant (τ = 0): ∇J = τ_ε Â∇ρ = "
            "τ_ε e^{ΔO} Â ∇log πθ(a|s) (∇ρ = ρ∇log π); J is not differentiable at ρ = 1 ± ε (a null set)",
            "z3: corrected (53) equals the branch on each region; sympy: d/dρ of the branch", ok_regions,
            detail="; ".join(regions))

    reg, syms = logic.registry_symbolic("ppo")
    e = syms["eps"]
    same_f = logic.prove(logic.eq(reg, printed_ppo(X, Y, e)), [e > 0, e < 1])
    ev.step("Theorem 4.3", "pgcheck's registry ppo(x, y) = eˣ y τ_ε(x, y) with τ_ε as printed, for every ε ∈ (0, 1)",
            same_f.method, same_f.proved)
    zero_or_sq = logic.prove(sympy.Or(logic.eq(reg, 0), logic.eq(reg, sympy.exp(X) * Y)), [e > 0, e < 1])
    ev.step("Theorem 4.3", "τ_ε ∈ {0, 1}: pgcheck's ppo(x, y) is either 0 or f_SQ = eˣ y, for all x, y and "
            "ε ∈ (0, 1)", zero_or_sq.method, zero_or_sq.proved)
    ev.scope = ("all ρ > 0, Â, ε ∈ (0, 1) (z3) and every open region (sympy); registry equality for every ε ∈ (0, 1); "
                "any differentiable policy (chain rule ∇ρ = ρ∇log π)")
    ev.complete = True
    _cross_check(ev)


def _gaussian_policy(g: torch.Generator, n_states: int, dim: int) -> tuple[list[torch.Tensor], torch.Tensor]:
    phi = ag.randn(g, n_states, 3)
    w = ag.randn(g, 3, dim, scale=0.7).requires_grad_(True)
    b = ag.randn(g, dim, scale=0.3).requires_grad_(True)
    log_std = ag.randn(g, dim, scale=0.2).requires_grad_(True)
    return [w, b, log_std], phi


def _region(d_o: float, adv: float, eps: float) -> str:
    lo, hi = float(torch.log(torch.tensor(1 - eps))), float(torch.log(torch.tensor(1 + eps)))
    where = "below" if d_o < lo else ("above" if d_o > hi else "inside")
    return f"{'+' if adv > 0 else '−'}{where}"


def _cross_check(ev: Evidence) -> None:
    """Batches of Gaussian (and softmax) samples through pgcheck's ``upi_loss`` against the batch mean of the
    clipped surrogate, both differentiated by autograd; the reference side never calls pgcheck."""
    n_states, dim, n_samples = 6, 2, 96
    surrogate, entropy_term, control = ag.MaxErr(), ag.MaxErr(), ag.MaxErr()
    counts: dict[str, int] = {}
    near_kink = 0
    with ag.single_thread():
        g = ag.generator(43)
        for eps_text in EPSILONS:
            eps = float(sympy.Rational(eps_text))
            f = ag.scale("ppo", eps=eps_text)
            params, phi = _gaussian_policy(g, n_states, dim)
            w, b, log_std = params
            lp, lpb, advs = [], [], []
            for i in range(n_samples):
                s = i % n_states
                mean = phi[s] @ w + b
                std = log_std.exp()
                b_mean = mean.detach() + ag.randn(g, dim, scale=0.35)
                b_std = std.detach() * ag.randn(g, dim, scale=0.15).exp()
                action = b_mean + b_std * ag.randn(g, dim)
                log_prob = ag.gaussian_log_prob(mean, std, action)
                log_prob_b = ag.gaussian_log_prob(b_mean, b_std, action)
                adv = ag.randn(g, 1)
                d_o = float((log_prob - log_prob_b).detach())
                lo, hi = math.log(1 - eps), math.log(1 + eps)
                if min(abs(d_o - lo), abs(d_o - hi)) < 1e-9:
                    near_kink += 1
                    continue
                key = f"ε={eps_text}:{_region(d_o, float(adv), eps)}"
                counts[key] = counts.get(key, 0) + 1
                lp.append(log_prob)
                lpb.append(log_prob_b)
                advs.append(adv)
            log_prob, log_prob_b, adv = torch.cat(lp), torch.cat(lpb), torch.cat(advs)
            ent = ag.gaussian_entropy(log_std.exp()).expand(log_prob.shape[0])
            # reference: the batch mean of the clipped surrogate (Theorem 4.3), no pgcheck code
            ratio = torch.exp(log_prob - log_prob_b)
            grad_j = ag.flat_grad(torch.min(ratio * adv, torch.clamp(ratio, 1 - eps, 1 + eps) * adv).mean(), params)
            inverted = torch.exp(log_prob_b - log_prob)
            grad_inv = ag.flat_grad(torch.min(inverted * adv, torch.clamp(inverted, 1 - eps, 1 + eps) * adv).mean(),
                                    params)
            loss = updates.upi_loss(f, log_prob, ent, updates.delta_o(log_prob, log_prob_b), adv, beta=0.0)
            surrogate.add(grad_j, -ag.flat_grad(loss, params))
            control.add(grad_inv, -ag.flat_grad(loss, params))
            beta = 0.01
            loss_b = updates.upi_loss(f, log_prob, ent, updates.delta_o(log_prob, log_prob_b), adv, beta=beta)
            expected = grad_j + beta * ag.flat_grad(ent.mean(), params)
            entropy_term.add(-ag.flat_grad(loss_b, params), expected)
        # a softmax policy (discrete actions) through the same Uπ, one batch of 48
        model = ag.mlp(g, n_states, 4)
        f = ag.scale("ppo")
        states = ag.index(*[i % n_states for i in range(48)])
        logits = model(states)
        behaviour_pi = torch.softmax(logits.detach() + ag.randn(g, 48, 4, scale=0.5), -1)
        a = torch.multinomial(behaviour_pi, 1, generator=g).squeeze(-1)
        log_prob = torch.log_softmax(logits, -1).gather(-1, a[:, None]).squeeze(-1)
        log_prob_b = torch.log(behaviour_pi.gather(-1, a[:, None]).squeeze(-1))
        adv = ag.randn(g, 48)
        ratio = torch.exp(log_prob - log_prob_b)
        j = torch.min(ratio * adv, torch.clamp(ratio, 0.8, 1.2) * adv).mean()
        ent = ag.entropy(logits)
        loss = updates.upi_loss(f, log_prob, ent, updates.delta_o(log_prob, log_prob_b), adv, beta=0.0)
        surrogate.add(ag.flat_grad(j, model.params), -ag.flat_grad(loss, model.params))
    populated = all(counts.get(f"ε={e}:{sgn}{w}", 0) >= 3 for e in EPSILONS for sgn in "+−"
                    for w in ("below", "inside", "above"))
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    inst = (f"Gaussian policies (2-d actions, linear mean, learned log σ; behaviour = shifted/widened Gaussian), one "
            f"batch of ≤ {n_samples} samples for each ε ∈ {{0.2, 0.3}}; softmax MLP policy, one batch of 48; region "
            f"counts {summary}; {near_kink} samples within 1e-9 of a kink left out")
    ev.lemma("cross-check coverage", "every region (sign Â × ΔO below/inside/above the trust region) has ≥ 3 "
             "samples for each ε", "count of the seeded samples", logic.fact("region counts", (summary,), populated),
             detail=summary)
    ev.check("Theorem 4.3", "autograd of the batch mean of min(ρÂ, clip(ρ,1−ε,1+ε)Â) vs pgcheck upi_loss(ppo ε), β = 0",
             inst, surrogate.error, 1e-12, surrogate.magnitude,
             control=Control("the surrogate with the inverted ratio π_b/π", control.error))
    ev.check("eq. (30)/(34) with β", "pgcheck upi_loss(ppo, β = 0.01) vs the surrogate's gradient + β∇H (autograd, "
             "Gaussian entropy)", "the Gaussian batches above", entropy_term.error, 1e-12, entropy_term.magnitude)
