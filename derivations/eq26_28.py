"""Eqs. (26)–(28): off-policy corrected forms — ΔR becomes e^{ΔO}ΔR in the sampled-action terms only.

With a behaviour policy π_b and ``ΔO = log π_θ(a|s) − log π_b(a|s)`` (eq. 25), states from matching
marginals (as the paper assumes):

* (26) ``Ĝ_PGPB = e^{ΔO}ΔR(∇q(s,a) − E_{u∼π}∇q(s,u)) + ∇E_{u∼πθ}[q̂(s,u)]`` (last term not reweighted,
  Remark 4.2);
* (27) ``Ĝ_MVE = e^{ΔO}ΔR(∇q(s,a) − E_{u∼π}∇q(s,u))``;
* (28) ``Ĝ_λ = e^{ΔO}λ(ΔR)∇q(s,a)``.

Claim: with a ∼ π_b each has the same expectation as its on-policy form (16)–(18)/(21) with a ∼ π, and
pgcheck's scales ``sq``, ``ml``, ``sil`` are exactly ``e^x λ(y)`` for λ = id, eʸ − 1, max(y, 0) (Remark 4.1:
ΔO = 0 recovers the on-policy case). Symbolic: per coordinate with a general behaviour policy (its
probabilities free symbols), general |A|, the sampled-action terms built by evaluating pgcheck's registry
scales at ΔO = log π − log π_b (so the behaviour probability cancels only if the scale really carries e^{ΔO});
sympy for the factorisation of the registry scales.
Cross-check: exact expectation over a ∼ π_b of pgcheck's UP/UV/UQ updates with the off-policy scale
against the exact on-policy expectation over a ∼ π with ΔO = 0.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy
import torch

from derivations import autograd as ag
from derivations import logic
from derivations import softmax as sx
from derivations.core import Evidence
from pgcheck.expr import X, Y

ID = "eq26-28"
TITLE = "Off-policy corrected forms"
REFERENCE = "sec. 4.3, eqs. (25)–(28), Remarks 4.1–4.2"
STATEMENT = ("E_{a∼π_b}[e^{ΔO}(sampled-action terms) + (action-independent terms)] equals the on-policy "
             "E_{a∼π}[…] of (16)–(18), (21); f_SQ, f_ML, f_SIL are e^{ΔO}λ(ΔR)")

BB, BA = sympy.symbols("β_b β_a", positive=True)  # behaviour probabilities of b and of a sampled a ≠ b


def _at_log_ratio(f: sympy.Expr, pi: sympy.Expr, beta: sympy.Expr, dr: sympy.Expr) -> sympy.Expr:
    """β · f(ΔO, ΔR) with ΔO = log π − log β (eq. 25): a sampled action's term of E_{a∼π_b}, weighted by
    its behaviour probability β. β cancels only if f carries the factor e^{ΔO}: this is what is checked."""
    return beta * f.subs({X: sympy.log(pi) - sympy.log(beta), Y: dr}, simultaneous=True)


def _expect_behaviour(sm: sx.Softmax, f: sympy.Expr, dr: Callable[[bool], sympy.Expr],
                      h: Callable[[bool], sympy.Expr], rest: sympy.Expr) -> sympy.Expr:
    """E_{a∼π_b}[f(ΔO, ΔR) h(a)] + rest for pgcheck's scale ``f`` (a sympy expression in x, y)."""
    off_b = _at_log_ratio(f, sm.pi(True), BB, dr(True)) * h(True)
    off_a = _at_log_ratio(f, sm.pi(False), BA, dr(False)) * h(False)
    if off_a.has(BA):  # β_a left in a term of the abstract sum over a ≠ b: not the on-policy expectation
        raise ValueError(f"the behaviour probability does not cancel: {off_a}")
    return off_b + (sm.others(off_a) if off_a != 0 else sympy.S.Zero) + rest


def _holds(make: Callable[[], tuple[sympy.Expr, sympy.Expr]]) -> bool:
    try:
        off, on = make()
    except ValueError:  # raised above, or by the abstract sum for a term that is not a monomial
        return False
    return sx.identity(off, on)


def derive(ev: Evidence) -> None:
    sm = sx.Softmax()
    f_sq, f_q = logic.registry("sq"), logic.registry("q")

    def dr(ab: bool) -> sympy.Expr:
        return (sx.TB if ab else sx.TA) - (sx.QB if ab else sx.QA)

    def centred(ab: bool) -> sympy.Expr:
        return sx.d(sx.QB if ab else sx.QA) - sm.pi(True)

    def on_policy(f: sympy.Expr, h: Callable[[bool], sympy.Expr]) -> sympy.Expr:
        return sm.E_a(lambda ab: f.subs({X: 0, Y: dr(ab)}, simultaneous=True) * h(ab))

    baseline = sm.grad_E_fixed_values(lambda q, _t: q)
    ev.step("(26)", "E_{a∼π_b}[f_SQ(ΔO, ΔR)(∇q − E_π∇q)] + ∇E_{πθ}[q̂] = E_{a∼π}[Ĝ_PGPB (16)], ΔO = log π − log π_b, "
            "f_SQ from pgcheck's registry", sx.METHOD + "; behaviour probabilities free positive symbols",
            _holds(lambda: (_expect_behaviour(sm, f_sq, dr, centred, baseline), on_policy(f_q, centred) + baseline)))
    ev.step("(27)", "E_{a∼π_b}[f_SQ(ΔO, ΔR)(∇q − E_π∇q)] = E_{a∼π}[Ĝ_MVE (17)]",
            sx.METHOD + "; behaviour probabilities free positive symbols",
            _holds(lambda: (_expect_behaviour(sm, f_sq, dr, centred, sympy.S.Zero), on_policy(f_q, centred))))

    def grad_q(ab: bool) -> sympy.Expr:
        return sx.d(sx.QB if ab else sx.QA)

    lam = sympy.Function("λ")
    generic = sympy.exp(X) * lam(Y)
    ev.step("(28)", "E_{a∼π_b}[e^{ΔO}λ(ΔR)∇q(s,a)] = E_{a∼π}[λ(ΔR)∇q(s,a)] for any λ",
            sx.METHOD + "; behaviour probabilities free positive symbols",
            _holds(lambda: (_expect_behaviour(sm, generic, dr, grad_q, sympy.S.Zero), on_policy(generic, grad_q))))
    def registry_pair(name: str) -> Callable[[], tuple[sympy.Expr, sympy.Expr]]:
        f = logic.registry(name)
        return lambda: (_expect_behaviour(sm, f, dr, grad_q, sympy.S.Zero), on_policy(f, grad_q))

    registry_ok = all(_holds(registry_pair(name)) for name in ("sq", "ml", "sil"))
    ev.step("(28), registry", "the same for pgcheck's f_SQ, f_ML, f_SIL: E_{a∼π_b}[f(ΔO, ΔR)∇q] = "
            "E_{a∼π}[f(0, ΔR)∇q]", sx.METHOD + "; behaviour probabilities free positive symbols", registry_ok)
    ev.note("Remark 4.2: the action-independent ∇E_{πθ}[q̂] is not reweighted; reweighting it would not bias "
            "the expectation either (E_{a∼π_b}[e^{ΔO}] = Σ_a π(a|s) = 1), only change the variance.")

    factor_ok = True
    for name, lam_y in (("sq", Y), ("ml", sympy.exp(Y) - 1), ("sil", sympy.Max(Y, 0))):
        f = logic.registry(name)
        factor_ok = factor_ok and logic.zero(f - sympy.exp(X) * f.subs(X, 0))
        factor_ok = factor_ok and logic.zero(f.subs(X, 0) - lam_y)
    ev.step("(28), Table 1", "pgcheck's f_SQ, f_ML, f_SIL equal e^x λ(y) with λ = y, eʸ − 1, max(y, 0); "
            "ΔO = 0 gives λ (Remark 4.1)", "sympy: registry definitions", factor_ok)
    ev.scope = ("general |A| ≥ 2 and any behaviour policy (its probabilities free positive symbols, which cancel "
                "only through the e^{ΔO} of the scale): per-coordinate sympy identities with pgcheck's registry "
                "f_SQ, f_ML, f_SIL (and e^{ΔO}λ(ΔR) for any λ) evaluated at ΔO = log π − log π_b")
    ev.complete = True

    n_states, n_actions = 4, 4
    errs = {k: ag.MaxErr() for k in ("up", "uv", "uq-sq", "uq-ml", "uq-sil", "sample")}
    with ag.single_thread():
        g = ag.generator(26)
        for model in ag.models(26, n_states, n_actions):
            for s in range(n_states):
                logits = model(ag.index(s))[0].detach()
                pi = torch.softmax(logits, -1)
                behaviour = torch.softmax(ag.randn(g, n_actions), -1)
                t_row = ag.randn(g, n_actions, scale=1.5)
                for a in range(n_actions):  # one sample: pgcheck's off-policy forms against (26)–(28) directly
                    err_r = float(t_row[a] - logits[a])
                    rho = float(pi[a] / behaviour[a])
                    log_ratio = float(torch.log(pi[a]) - torch.log(behaviour[a]))
                    ref = ag.reference(model, s, a)
                    sq = ag.scale("sq")
                    errs["sample"].add(ag.pgcheck_update("up", model, s, a, log_ratio, err_r, sq),
                                       rho * err_r * ref.grad_log_pi - ref.grad_entropy)
                    errs["sample"].add(ag.pgcheck_update("uv", model, s, a, log_ratio, err_r, sq),
                                       rho * err_r * ref.grad_log_pi)
                    errs["sample"].add(ag.pgcheck_update("uq", model, s, a, log_ratio, err_r, sq),
                                       rho * err_r * ref.grad_q)
                for key, form, off_name, on_name in (("up", "up", "sq", "q"), ("uv", "uv", "sq", "q"),
                                                     ("uq-sq", "uq", "sq", "q"), ("uq-ml", "uq", "ml", "ml"),
                                                     ("uq-sil", "uq", "sil", "sil")):
                    off = on = None
                    for a in range(n_actions):
                        err_r = float(t_row[a] - logits[a])
                        log_ratio = float(torch.log(pi[a]) - torch.log(behaviour[a]))
                        u_off = float(behaviour[a]) * ag.pgcheck_update(form, model, s, a, log_ratio, err_r,
                                                                        ag.scale(off_name))
                        u_on = float(pi[a]) * ag.pgcheck_update(form, model, s, a, 0.0, err_r, ag.scale(on_name))
                        off = u_off if off is None else off + u_off
                        on = u_on if on is None else on + u_on
                    assert off is not None and on is not None
                    errs[key].add(off, on)
    inst = f"{n_states} states × |A| = {n_actions}, random behaviour policies and T̂; exact sums; tabular and MLP"
    ev.check("(26)–(28) per sample", "pgcheck up/uv/uq_loss(sq) at (ΔO, ΔR) vs e^{ΔO}ΔR∇log π − ∇H, e^{ΔO}ΔR∇log π, "
             "e^{ΔO}ΔR∇q (independent autograd)", inst, errs["sample"].error, 1e-12, errs["sample"].magnitude)
    for key, label in (("up", "(26): UP(sq) off-policy vs UP(q) on-policy"), ("uv", "(27): UV(sq) vs UV(q)"),
                       ("uq-sq", "(28) λ = id: UQ(sq) vs UQ(q)"), ("uq-ml", "(28) λ = eʸ−1: UQ(ml) at ΔO vs at 0"),
                       ("uq-sil", "(28) λ = max(y,0): UQ(sil) at ΔO vs at 0")):
        ev.check(label.split(":")[0], "E_{a∼π_b} of pgcheck's update with ΔO = log π/π_b vs E_{a∼π} with ΔO = 0: "
                 + label, inst, errs[key].error, 1e-12, errs[key].magnitude)
