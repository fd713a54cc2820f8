"""Remark 5.2: the qualitative shape of f_MLA (eq. 35) compared with f_ML.

Printed: "When highly off-policy (ΔO ≪ 0), f_MLA(ΔO, ΔR) = 0 for all values of ΔR up to some positive
threshold that depends on ΔO. This threshold increases as the sample becomes more off-policy
(ΔO → −∞). For large values of ΔR, the update strength is quadratic in ΔR. Conversely, it saturates to a
negative value as ΔR → −∞."

What holds (z3 through pgcheck's encoder on the registry's ``mla``; sympy limits):
(a) for ΔO < −1 exactly: f_MLA(ΔO, ΔR) = 0 ⟺ ΔR ≤ t(ΔO) = −2(1 + ΔO) > 0, and t increases as ΔO decreases;
    for ΔO ≥ −1 there is no positive threshold (f > 0 for every ΔR > 0);
(b) for ΔR ≥ max(0, −2(1 + ΔO)), f_MLA = (1 + ΔO)ΔR + ΔR²/2, so f/ΔR² → ½;
(c) for ΔO > −1: f_MLA(ΔO, ΔR) = −(1 + ΔO)²/2 < 0 for all ΔR ≤ −(1 + ΔO) — a negative saturation; but for
    ΔO ≤ −1, f_MLA(ΔO, ΔR) = 0 for every ΔR ≤ 0, so the limit is 0, not negative (erratum: the last sentence
    needs ΔO > −1; f_ML → −e^{ΔO} < 0 for every ΔO, so here the similarity breaks).
Cross-check: pgcheck's compiled torch form at seeded points against these closed forms.
"""

from __future__ import annotations

import sympy
import torch

from derivations import autograd as ag
from derivations import logic
from derivations.core import Evidence
from pgcheck import backends
from pgcheck.expr import X, Y

ID = "rem5.2"
TITLE = "The shape of f_MLA (threshold, quadratic growth, saturation)"
REFERENCE = "Remark 5.2"
STATEMENT = ("ΔO ≪ 0: f_MLA = 0 up to a positive ΔO-dependent threshold that grows as ΔO → −∞; quadratic for large ΔR; "
             "saturates to a negative value as ΔR → −∞")


def derive(ev: Evidence) -> None:
    f = logic.registry("mla")
    x, y = X, Y
    t = -2 * (1 + x)
    zero_iff = logic.prove(sympy.And(sympy.Or(sympy.Not(logic.eq(f, 0)), y <= t),
                                     sympy.Or(sympy.Not(y <= t), logic.eq(f, 0))), [x < -1])
    ev.step("Rem. 5.2, threshold", "for ΔO < −1: f_MLA(ΔO, ΔR) = 0 ⟺ ΔR ≤ t(ΔO) = −2(1 + ΔO), and t(ΔO) > 0",
            zero_iff.method, zero_iff.proved and logic.prove(t > 0, [X < -1]).proved)
    x1, x2 = sympy.symbols("x1 x2", real=True)
    grows = logic.prove(t.subs(X, x1) > t.subs(X, x2), [x1 < x2])
    ev.step("Rem. 5.2, threshold", "the threshold increases as ΔO decreases (ΔO → −∞)", grows.method, grows.proved)
    none = logic.prove(f > 0, [X >= -1, Y > 0])
    ev.lemma("Rem. 5.2, 'ΔO ≪ 0'", "for ΔO ≥ −1 there is no positive threshold: f_MLA > 0 for every ΔR > 0 (so "
             "'highly off-policy' means exactly ΔO < −1)", none.method, none.proved)

    quad = logic.prove(logic.eq(f, (1 + X) * Y + Y ** 2 / 2), [y >= 0, y >= t])
    lim = sympy.limit(((1 + X) * Y + Y ** 2 / 2) / Y ** 2, Y, sympy.oo)
    ev.step("Rem. 5.2, large ΔR", "for ΔR ≥ max(0, −2(1 + ΔO)): f_MLA = (1 + ΔO)ΔR + ΔR²/2, quadratic, f/ΔR² → ½",
            quad.method + "; sympy limit", quad.proved and lim == sympy.Rational(1, 2))

    sat = logic.prove(sympy.And(logic.eq(f, -(1 + X) ** 2 / 2), f < 0), [X > -1, Y <= -(1 + X)])
    ev.lemma("Rem. 5.2 corrected", "for ΔO > −1: f_MLA(ΔO, ΔR) = −(1 + ΔO)²/2 < 0 for every ΔR ≤ −(1 + ΔO)",
             sat.method, sat.proved)
    vanish = logic.prove(logic.eq(f, 0), [X <= -1, Y <= 0])
    ev.lemma("Rem. 5.2 corrected", "for ΔO ≤ −1: f_MLA(ΔO, ΔR) = 0 for every ΔR ≤ 0 (limit 0 as ΔR → −∞)",
             vanish.method, vanish.proved)
    printed = logic.prove(sympy.Lt(f, 0), [Y <= -10 ** 6])
    cx = logic.value(f, {X: -2, Y: -10 ** 6})
    ev.step("Rem. 5.2, ΔR → −∞", "f_MLA(ΔO, ΔR) saturates to a negative value as ΔR → −∞ (for every ΔO, as printed)",
            printed.method, printed.proved, erratum="E1", detail=f"exact: f_MLA(−2, −10⁶) = {cx}")
    ev.add_erratum(
        "E1", "Remark 5.2, last sentence",
        "'Conversely, it saturates to a negative value as ΔR → −∞' (no condition on ΔO; the preceding sentences "
        "are about ΔO ≪ 0)",
        f"ΔO = −2: f_MLA(−2, ΔR) = 0 for every ΔR ≤ 0 (exactly f_MLA(−2, −10⁶) = {cx}), so the limit is 0",
        "for ΔO > −1, f_MLA saturates at −(1 + ΔO)²/2 < 0, reached at ΔR = −(1 + ΔO); for ΔO ≤ −1 (in particular "
        "in the highly off-policy regime of the same remark) f_MLA(ΔO, ΔR) = 0 for all ΔR ≤ 0, unlike f_ML → −e^{ΔO}",
        (not printed.proved) and cx == 0 and sat.proved and vanish.proved)
    ev.scope = "all real ΔO, ΔR (z3, exact: piecewise polynomial); the limit by sympy"
    ev.complete = True

    err = ag.MaxErr()
    fn = backends.to_torch(f)
    with ag.single_thread():
        g = ag.generator(52)
        xs = -1 - torch.rand(100, generator=g, dtype=ag.DTYPE) * 10        # ΔO < −1
        thr = -2 * (1 + xs)
        err.add(fn(xs, thr * torch.rand(100, generator=g, dtype=ag.DTYPE)), torch.zeros(100, dtype=ag.DTYPE))
        err.add(fn(xs, -torch.rand(100, generator=g, dtype=ag.DTYPE) * 1e6), torch.zeros(100, dtype=ag.DTYPE))
        xp = -1 + torch.rand(100, generator=g, dtype=ag.DTYPE) * 3           # ΔO > −1
        yneg = -(1 + xp) - torch.rand(100, generator=g, dtype=ag.DTYPE) * 1e3
        err.add(fn(xp, yneg), -(1 + xp) ** 2 / 2)
        xa = ag.randn(g, 100)
        ybig = torch.full((100,), 1e4, dtype=ag.DTYPE)
        err.add(fn(xa, ybig) / ybig ** 2, 0.5 + (1 + xa) / ybig)
    ev.check("shape", "pgcheck's torch form of mla vs the closed forms (zero below the threshold, zero for ΔO < −1 "
             "and ΔR → −∞, −(1+ΔO)²/2 for ΔO > −1, f/ΔR² at ΔR = 10⁴)", "400 seeded points", err.error, 1e-12,
             err.magnitude)
