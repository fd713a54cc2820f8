"""Seed 001 §4.4 eq. (18) and §4.6 Table 1, PPO, as printed: ``(1/|D|) Σ_D Â∇θ min(rθ, clip(rθ, 1−ε, 1+ε))``.

PPO's clipped surrogate ``min(ρÂ, clip(ρ, 1−ε, 1+ε)Â)`` (ρ = πθ/π_old) is Uπ with pgcheck's ``ppo`` scale
``eˣ y τ_ε(x, y)``: that is the paper's Theorem 4.3, proved in claim ``thm4.3`` and not repeated here. This
claim checks what seed 001 *prints*: the advantage outside the min. Since ``min(ρ, clip(ρ, 1−ε, 1+ε)) =
min(ρ, 1+ε)`` for ρ > 0, the printed gradient is ``Âρ 1[ρ < 1+ε] ∇log πθ`` — the scale
``f_18(x, y) = eˣ y 1[x < log(1+ε)]`` — which equals PPO for Â > 0 but not for Â < 0: there it clips
ρ < 1−ε instead of ρ > 1+ε (it removes the pessimistic branch PPO keeps). The seed's own Figure 3 (b) and its
text ("r is not clipped due to taking the minimum" when the objective decreases) describe PPO, so the
printed formula is an erratum, confirmed exactly (E1). It appears twice, in eq. (18) and in Table 1, with Â
written before ∇θ min(·) on the same line of the extracted text, so it is not an artefact of the PDF
extraction (Algorithm 6's line is garbled and cannot be read either way).

Symbolic: min(ρ, clip(ρ)) = min(ρ, 1+ε) (z3); the printed gradient region by region (z3 + sympy); f_18 =
ppo for y > 0 (z3) and f_18 ≠ ppo (z3 finds a model; exact counterexamples at ε = 1/5, Â = −1, ρ ∈ {3/2, 1/2});
pgcheck's validator finds f_18 VALID: Assumption 5.1 does not notice the misprint, only the comparison with
J_PPO does. Cross-check: autograd of the printed batch mean against ``upi_loss(f_18)`` (the derived scale is
the printed rule), with the negative control ``upi_loss(ppo)`` (PPO is not the printed rule).
"""

from __future__ import annotations

import math

import sympy
import torch

from derivations import autograd as ag
from derivations import logic
from derivations import onpolicy as op
from derivations.core import Control, Evidence
from pgcheck import updates
from pgcheck.expr import X, Y

ID = "s001-t1-ppo"
TITLE = "Seed 001 §4.6 Table 1 / eq. (18): PPO as printed (Â outside the min) against Theorem 4.3"
REFERENCE = "seed 001 §4.4 eq. (18), Figure 3, §4.6 Table 1; paper Theorem 4.3 (claim thm4.3)"
STATEMENT = ("Â∇θ min(r, clip(r,1−ε,1+ε)) = Uπ(f_18), f_18(x, y) = eˣy1[x < log(1+ε)]; it equals PPO's "
             "∇min(rÂ, clip(r,1−ε,1+ε)Â) = Uπ(ppo) (Theorem 4.3) only for Â > 0")

EPS = sympy.Rational(1, 5)
PRINTED = "exp(x) * y if x < log(1 + eps) else 0"


def _clip(v: sympy.Expr, lo: sympy.Expr, hi: sympy.Expr) -> sympy.Expr:
    return sympy.Min(sympy.Max(v, lo), hi)


def derive(ev: Evidence) -> None:
    rho, adv, eps = sympy.symbols("rho A eps", real=True)
    domain = [rho > 0, eps > 0, eps < 1]
    inner = sympy.Min(rho, _clip(rho, 1 - eps, 1 + eps))
    r_min = logic.prove(logic.eq(inner, sympy.Min(rho, 1 + eps)), domain)
    ev.lemma("eq. (18)", "min(ρ, clip(ρ, 1−ε, 1+ε)) = min(ρ, 1+ε) for ρ > 0, 0 < ε < 1", r_min.method, r_min.proved)
    printed = adv * inner
    below = logic.prove(logic.eq(printed, adv * rho), [*domain, rho < 1 + eps])
    above = logic.prove(logic.eq(printed, adv * (1 + eps)), [*domain, rho > 1 + eps])
    slope_below = sympy.diff(adv * rho, rho) * rho
    slope_above = sympy.diff(adv * (1 + eps), rho) * rho
    ev.lemma("eq. (18)", "the printed Â min(ρ, clip(ρ)) is Âρ for ρ < 1+ε and Â(1+ε) for ρ > 1+ε, so its gradient "
             "is Âρ1[ρ < 1+ε]∇log πθ (∇ρ = ρ∇log πθ, away from ρ = 1+ε): Uπ(f_18), f_18 = eˣy1[x < log(1+ε)]",
             "z3 on each region; sympy: ρ d/dρ of each branch", below.proved and above.proved
             and logic.zero(slope_below - adv * rho) and logic.zero(slope_above),
             detail=f"{below.method}; branch slopes ρ·d/dρ: {slope_below}, {slope_above}")

    f18 = sympy.exp(X) * Y * sympy.Piecewise((1, sympy.Lt(X, sympy.log(1 + eps))), (0, True))
    ppo, syms = logic.registry_symbolic("ppo")
    ppo = ppo.subs(syms["eps"], eps)
    pos = logic.prove(logic.eq(f18, ppo), [eps > 0, eps < 1, Y > 0])
    ev.lemma("Table 1 vs Theorem 4.3", "for ΔR = Â > 0, f_18 = pgcheck's ppo (every x, every ε ∈ (0, 1))",
             pos.method, pos.proved)
    whole = logic.prove(logic.eq(f18, ppo), [eps > 0, eps < 1])
    j_ppo = sympy.Min(rho * adv, _clip(rho, 1 - eps, 1 + eps) * adv)
    coeffs = []
    for r in (sympy.Rational(3, 2), sympy.Rational(1, 2)):
        point = {rho: r, adv: -1, eps: EPS}
        true_c = logic.value(rho * sympy.diff(j_ppo, rho), point)       # the coefficient of ∇log πθ
        printed_c = logic.value(rho * sympy.diff(printed, rho), point)
        reg_c = logic.value(logic.registry("ppo", eps=EPS).subs(X, sympy.log(rho)), {rho: r, Y: -1})
        coeffs.append((r, true_c, printed_c, reg_c))
    shown = "; ".join(f"ρ = {r}: true {t}, printed {p}, pgcheck ppo {c}" for r, t, p, c in coeffs)
    ev.step("eq. (18), Table 1", "∇θJ_PPO = (1/|D|)Σ_D Â∇θ min(rθ, clip(rθ, 1−ε, 1+ε))  (as printed)",
            whole.method + "; exact coefficients of ∇log πθ at ε = 1/5, Â = −1", whole.proved, erratum="E1",
            detail=f"z3: {whole.status}; {shown}")
    confirmed = (not whole.proved and all(t != p and t == c for _, t, p, c in coeffs))
    ev.add_erratum(
        "E1", "seed 001 §4.4 eq. (18) and §4.6 Table 1 (PPO row)",
        "∇̂θJ(θ) = (1/|D|)Σ_D Â(s,a)∇θ min(rθ(a|s), clip(rθ(a|s), 1−ε, 1+ε)) — the advantage outside the min",
        f"ε = 1/5, Â = −1: {shown} (coefficients of ∇log πθ): for Â < 0 the printed rule clips ρ < 1−ε and "
        "follows ρ > 1+ε, the opposite of PPO's min(ρÂ, clip(ρ)Â) and of the seed's own Figure 3 (b)",
        "(1/|D|)Σ_D ∇θ min(rθÂ, clip(rθ, 1−ε, 1+ε)Â) = mean_D Uπ(ppo) with ppo = eˣyτ_ε(x, y) — the paper's "
        "Theorem 4.3, proved in claim thm4.3; at the counterexamples pgcheck's ppo gives the true coefficients",
        confirmed)
    op.verdict_step(ev, "Assumption 5.1", "the printed rule f_18", PRINTED, "VALID", {"eps": str(EPS)})
    ev.note("the printed rule is itself a valid scale (Assumption 5.1 holds: it is eˣy on a neighbourhood of "
            "x = 0), so the validator cannot tell it from PPO; the difference is which side of the trust region "
            "is clipped when Â < 0")
    ev.scope = ("every ρ > 0, Â and ε ∈ (0, 1) (z3, sympy); the erratum exactly at ε = 1/5; the corrected "
                "statement is Theorem 4.3 (claim thm4.3)")
    ev.complete = True
    _cross_check(ev)


def _cross_check(ev: Evidence) -> None:
    eps = float(EPS)
    hi, lo = math.log(1 + eps), math.log(1 - eps)
    err, control = ag.MaxErr(), ag.MaxErr()
    f18 = op.expression_scale(PRINTED, eps=str(EPS))
    counts = {"Â<0, ρ>1+ε": 0, "Â<0, ρ<1−ε": 0, "Â>0, ρ>1+ε": 0}
    kinds = []
    with ag.single_thread():
        g = ag.generator(1004)
        for make in (op.gaussian_batch, op.softmax_batch):
            b = make(g, 64, 0.5)
            d_o = updates.delta_o(b.log_prob, b.log_prob_old)
            keep = (d_o - hi).abs() > 1e-9  # away from the kink ρ = 1+ε
            lp, lpo, ent, adv, d_o = b.log_prob[keep], b.log_prob_old[keep], b.entropy[keep], b.adv[keep], d_o[keep]
            for x, a in zip(d_o.tolist(), adv.tolist(), strict=True):
                counts["Â<0, ρ>1+ε"] += a < 0 and x > hi
                counts["Â<0, ρ<1−ε"] += a < 0 and x < lo
                counts["Â>0, ρ>1+ε"] += a > 0 and x > hi
            ratio = torch.exp(lp - lpo)
            printed = ag.flat_grad((adv * torch.min(ratio, torch.clamp(ratio, 1 - eps, 1 + eps))).mean(), b.params)
            update = -ag.flat_grad(updates.upi_loss(f18, lp, ent, d_o, adv), b.params)
            ppo = -ag.flat_grad(updates.upi_loss(ag.scale("ppo", eps=str(EPS)), lp, ent, d_o, adv), b.params)
            err.add(printed, update)
            control.add(printed, ppo)
            kinds.append(f"{b.kind} ({int(keep.sum())} kept)")
    summary = ", ".join(f"{k}: {v}" for k, v in counts.items())
    ev.lemma("cross-check coverage", "the regions where the printed rule and PPO differ or clip are populated "
             "(≥ 3 samples each)", "count of the seeded samples",
             logic.fact("region counts", (summary,), all(v >= 3 for v in counts.values())), detail=summary)
    ev.check("eq. (18) as printed", "autograd of mean_D Â·min(r, clip(r, 0.8, 1.2)) vs pgcheck upi_loss(f_18)",
             f"behaviour shifted by 0.5, samples within 1e-9 of ρ = 1+ε left out: {'; '.join(kinds)}; {summary}",
             err.error, 1e-12, err.magnitude,
             control=Control("pgcheck upi_loss(ppo): PPO's gradient is not the printed one", control.error))
