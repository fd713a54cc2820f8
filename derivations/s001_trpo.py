"""Seed 001 §4.3 and §4.6 Table 1, TRPO: the surrogate gradient ``g = (1/|D|) Σ_D Â∇θ (πθ(a|s)/π_old(a|s))`` is the
batch mean of the paper's Uπ(f_SQ) (eq. 34) with ``f_SQ(x, y) = eˣ y`` (pgcheck's ``sq``), ΔO = log πθ − log π_old
(eq. 25), ΔR = Â (α = 0 in eq. 29), β = 0 — at π = π_old (where f_SQ(0, y) = y: A2C's update, the gradient
TRPO's natural-gradient step starts from) and away from it (the line search's later iterates).

Symbolic: ∇θ(e^{ℓθ − ℓ_old})Â = e^{ℓθ − ℓ_old}Â∇θℓθ for ℓθ = log πθ(a|s) (sympy, chain rule with ℓ an
undetermined function of θ); pgcheck's registry sq = eˣy for every (x, y) (z3); f_SQ(0, y) = q(0, y) = y
(z3); the validator's verdict on sq. TRPO's KL constraint and conjugate-gradient step postprocess g (an
optimiser, not a scale) and are not part of this claim.

Cross-check: autograd of the batch mean of ``(πθ/π_old)Â`` against pgcheck's ``upi_loss(sq)``, Gaussian and
softmax policies, behaviour π_old ≠ πθ (negative control: the inverted ratio π_old/πθ) and π_old = πθ, where
it is also compared with ``upi_loss(q)`` (negative control: upi_loss(q) against the off-policy surrogate, which
must fail: f = y equals f_SQ only at ΔO = 0).
"""

from __future__ import annotations

import sympy
import torch

from derivations import autograd as ag
from derivations import logic
from derivations import onpolicy as op
from derivations.core import Control, Evidence
from pgcheck import updates
from pgcheck.expr import X, Y

ID = "s001-t1-trpo"
TITLE = "Seed 001 §4.6 Table 1: TRPO's surrogate gradient as Uπ(f_SQ = eˣy)"
REFERENCE = "seed 001 §4.3, Algorithm 5, §4.6 Table 1; paper eqs. (25), (29), (34)"
STATEMENT = ("(1/|D|)Σ_D Â∇θ(πθ(a|s)/π_old(a|s)) = mean_D Uπ(f_SQ), f_SQ(x, y) = eˣy (pgcheck sq), ΔO = log πθ − "
             "log π_old, ΔR = Â; at π = π_old it is Uπ(q) (A2C)")


def derive(ev: Evidence) -> None:
    theta, adv, l_old = sympy.symbols("theta A l_old", real=True)
    ell = sympy.Function("l")(theta)  # log πθ(a|s) as a function of one coordinate of θ
    ratio = sympy.exp(ell - l_old)
    grad = sympy.diff(ratio * adv, theta)
    ev.lemma("Table 1, TRPO", "∂θ[(πθ/π_old)Â] = (πθ/π_old)Â ∂θ log πθ(a|s) (chain rule, every coordinate of θ)",
             "sympy: derivative with log πθ an undetermined function of θ",
             logic.zero(grad - sympy.exp(ell - l_old) * adv * sympy.diff(ell, theta)))
    f_sq = logic.registry("sq")
    same = logic.prove(logic.eq(f_sq, sympy.exp(X) * Y))
    ev.lemma("Table 1, TRPO", "pgcheck's registry sq(x, y) = eˣy for every real x, y, so the coefficient "
             "(πθ/π_old)Â = e^{ΔO}ΔR is f_SQ(ΔO, ΔR) with ΔR = Â", same.method, same.proved)
    at_old = logic.prove(logic.eq(f_sq.subs(X, 0), logic.registry("q").subs(X, 0)))
    ev.lemma("at π = π_old", "f_SQ(0, y) = q(0, y) = y: at θ = θ_old TRPO's g is A2C's update Uπ(q)",
             at_old.method, at_old.proved)
    op.verdict_step(ev, "Assumption 5.1", "the scale used, f_SQ = eˣy", "sq", "VALID")
    ev.scope = ("every differentiable policy, every ΔO and Â (chain rule by sympy; registry sq = eˣy for all x, y "
                "by z3); TRPO's constraint and natural-gradient step are outside the claim")
    ev.complete = True
    _cross_check(ev)


def _cross_check(ev: Evidence) -> None:
    away, away_control = ag.MaxErr(), ag.MaxErr()
    at, at_q, q_off = ag.MaxErr(), ag.MaxErr(), ag.MaxErr()
    kinds = []
    with ag.single_thread():
        g = ag.generator(1003)
        for shift, b in op.batches(g, 24, (0.4, 0.0)):
            ratio = torch.exp(b.log_prob - b.log_prob_old)
            reference = ag.flat_grad((ratio * b.adv).mean(), b.params)
            d_o = updates.delta_o(b.log_prob, b.log_prob_old)
            sq = -ag.flat_grad(updates.upi_loss(ag.scale("sq"), b.log_prob, b.entropy, d_o, b.adv), b.params)
            q = -ag.flat_grad(updates.upi_loss(ag.scale("q"), b.log_prob, b.entropy, d_o, b.adv), b.params)
            if shift:
                inverted = ag.flat_grad((torch.exp(b.log_prob_old - b.log_prob) * b.adv).mean(), b.params)
                away.add(reference, sq)
                away_control.add(inverted, sq)
                q_off.add(reference, q)
                kinds.append(b.kind)
            else:
                at.add(reference, sq)
                at_q.add(reference, q)
    inst = f"behaviour π_old = πθ perturbed (shift 0.4), 24 samples each: {'; '.join(kinds)}"
    ev.check("Table 1, TRPO (π ≠ π_old)", "autograd of mean_D (πθ/π_old)Â vs pgcheck upi_loss(sq) with ΔO = delta_o",
             inst, away.error, 1e-12, away.magnitude,
             control=Control("the inverted ratio π_old/πθ", away_control.error))
    ev.check("Table 1, TRPO (π = π_old)", "autograd of mean_D (πθ/π_old)Â at π_old = πθ vs pgcheck upi_loss(sq)",
             "the same policies with π_old = πθ (ΔO = 0), 24 samples each", at.error, 1e-12, at.magnitude)
    ev.check("TRPO at π = π_old is A2C", "autograd of mean_D (πθ/π_old)Â at π_old = πθ vs pgcheck upi_loss(q)",
             "the same policies with π_old = πθ (ΔO = 0), 24 samples each", at_q.error, 1e-12, at_q.magnitude,
             control=Control("upi_loss(q) against the off-policy surrogate (π_old ≠ πθ)", q_off.error))
