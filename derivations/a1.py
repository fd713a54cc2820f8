"""Appendix A.1, step by step as printed: from f_ML = e^{ΔO}(e^{ΔR} − 1) to f_MLA (35) and f_MLA(αo,αr) (36).

Notation: x = ΔO, y = ΔR (pgcheck's symbols), ``f_ML = eˣ(eʸ − 1)`` (registry ``ml``),
``m(x, y) = y e^{x + y/2}`` (the middle of the chain), ``f0(x, y) = y max(1 + x + y/2, 0)``,
``h(t) = sinh t − t`` (h(0) = 0, h' = cosh − 1 = 2 sinh²(t/2) ≥ 0, so sign h(t) = sign t).

Printed chain: X ∼ U[x, x + y], E[e^X] = (e^{x+y} − eˣ)/y, e^{E[X]} = e^{x+y/2}; Jensen (an unnumbered
line) "0 < e^{x+y/2} ≤ (e^{x+y} − eˣ)/y ∀ x, y ∈ ℝ"; (57) the approximation e^{x+y/2} ≈ (e^{x+y} − eˣ)/y
"inspired by" it; (58) f_ML = e^{x+y} − eˣ; (59) ≈ y e^{x+y/2} "using Eq 57"; (60) "≥ y max(1 + x + y/2, 0)
since eᶻ ≥ max(1 + z, 0)"; the opening sentence calls the result f0 "a lower bound to f_ML, exact up to
second order". Then f0 is not monotone in y, "non-decreasing (and also convex) in y iff 1 + x ≤ 0"; the
fix at y_min = −(1 + x) gives (35); the derivation of (36) with αo, αr.

Errata found: the Jensen line is undefined at y = 0 (E1); (60) holds only for y ≥ 0 (E2), so f0 is not a
lower bound of f_ML for y < 0 (E3) — what is true for every y is |f0| ≤ |y e^{x+y/2}| ≤ |f_ML| with
equal signs; the derivation of (36) says the non-monotonicity of f1 occurs "when 1 + α0x < 0", where in
fact f1 is monotone: it occurs when 1 + αo x > 0 (E4). Every other step holds; the two "≈" steps (57) and
(59) are approximations, checked for the order to which they are exact.
Symbolic: sympy (integrals, identities, Taylor polynomials via pgcheck.check.taylor2) and z3 through
pgcheck's encoder; pgcheck validate for f0 and the fixed functions. Cross-check: a float64 grid of
(x, y) with pgcheck's compiled forms of f_ML and f0.
"""

from __future__ import annotations

import sympy
import torch

from derivations import autograd as ag
from derivations import logic
from derivations.core import Evidence
from pgcheck import backends
from pgcheck.expr import X, Y

ID = "a1"
TITLE = "Appendix A.1: the derivation of f_MLA and f_MLA(αo,αr), step by step"
REFERENCE = "Appendix A.1, eqs. (57)–(60), the fix for non-monotonicity, the derivation of (36)"
STATEMENT = ("Each printed step from e^{ΔO}(e^{ΔR}−1) through the Jensen bound, the approximations (57) and "
             "(59), the chain (58)–(60), the "
             "monotonicity/convexity of f0, the fix giving (35) and the derivation of (36)")

F0 = "y * max(1 + x + y / 2, 0)"
F0_SYMPY = Y * sympy.Max(1 + X + Y / 2, 0)  # the same formula written with sympy directly (not parsed)
SYMPY = "sympy"
JENSEN = "A.1, Jensen's inequality (unnumbered, before (57))"


def _h_sign_lemma(ev: Evidence) -> bool:
    t = sympy.Symbol("t", real=True)
    h = sympy.sinh(t) - t
    ok = (h.subs(t, 0) == 0
          and logic.zero((sympy.diff(h, t) - 2 * sympy.sinh(t / 2) ** 2).rewrite(sympy.exp)))
    return ev.lemma("lemma h", "h(t) = sinh t − t has h(0) = 0 and h'(t) = 2 sinh²(t/2) ≥ 0 (zero only at t = 0), "
                    "so h is strictly increasing and sign h(t) = sign t",
                    "sympy: h(0) and the identity h' = 2 sinh²(t/2); monotonicity from h' ≥ 0", ok)


def _jensen(ev: Evidence) -> None:
    x, y = X, Y
    u = sympy.Symbol("u", real=True)
    mean_exp = sympy.integrate(sympy.exp(u), (u, x, x + y)) / y
    mean = sympy.integrate(u, (u, x, x + y)) / y
    ev.step("A.1, X ∼ U[ΔO, ΔO+ΔR]", "E[e^X] = (e^{ΔO+ΔR} − e^{ΔO})/ΔR and e^{E[X]} = e^{ΔO+ΔR/2} (ΔR ≠ 0)",
            "sympy: integrals (for ΔR < 0 the interval is [ΔO+ΔR, ΔO]; the signed integral over ΔR is the same)",
            logic.zero(mean_exp - (sympy.exp(x + y) - sympy.exp(x)) / y)
            and logic.zero(mean - (x + y / 2)))
    dd = (sympy.exp(x + y) - sympy.exp(x)) / y
    at_zero = dd.subs(y, 0)
    limit = sympy.limit(dd, y, 0)
    ev.step(JENSEN, "0 < e^{ΔO+ΔR/2} ≤ (e^{ΔO+ΔR} − e^{ΔO})/ΔR for all ΔO, ΔR ∈ ℝ (as printed)",
            "sympy: the right side at ΔR = 0",
            logic.fact("the right side is finite at ΔR = 0", (dd, at_zero), at_zero.is_finite is True), erratum="E1",
            detail=f"at ΔR = 0 the right side is {at_zero}; its limit is {limit}")
    h_ok = _h_sign_lemma(ev)
    identity = logic.zero((dd - sympy.exp(x + y / 2)
                               - 2 * sympy.exp(x + y / 2) * (sympy.sinh(y / 2) - y / 2) / y).rewrite(sympy.exp))
    corrected = ev.lemma("(57) corrected", "for ΔR ≠ 0: 0 < e^{ΔO+ΔR/2} < (e^{ΔO+ΔR} − e^{ΔO})/ΔR, with equality "
                         "in the limit ΔR → 0 (both sides → e^{ΔO})",
                         "sympy: (e^{x+y} − eˣ)/y − e^{x+y/2} = 2e^{x+y/2} h(y/2)/y, positive by lemma h; limit",
                         identity and h_ok and logic.zero(limit - sympy.exp(x)))
    ev.add_erratum("E1", JENSEN, "0 < e^{ΔO+ΔR/2} ≤ (e^{ΔO+ΔR} − e^{ΔO})/ΔR  ∀ ΔO, ΔR ∈ ℝ",
                   f"ΔR = 0: the right side is (e^{{ΔO}} − e^{{ΔO}})/0 = 0/0, undefined (sympy: {at_zero})",
                   "for ΔR ≠ 0 (strictly: e^{ΔO+ΔR/2} < (e^{ΔO+ΔR} − e^{ΔO})/ΔR); at ΔR = 0 only as the limit "
                   "e^{ΔO} = e^{ΔO}", at_zero.is_finite is not True and corrected)
    # (57) is printed with "≈": it is exact to first order in ΔR, the difference being e^{ΔO}ΔR²/24 + O(ΔR³)
    lead = sympy.series(dd - sympy.exp(x + y / 2), y, 0, 3).removeO()
    ev.step("(57)", "e^{ΔO+ΔR/2} ≈ (e^{ΔO+ΔR} − e^{ΔO})/ΔR (an approximation, as printed)",
            "sympy series in ΔR at 0: the two sides agree to first order, the difference is e^{ΔO}ΔR²/24 + O(ΔR³)",
            logic.zero(lead - sympy.exp(x) * y ** 2 / 24), detail=f"difference to O(ΔR³): {lead}")


def _chain(ev: Evidence) -> None:
    x, y = X, Y
    f_ml = logic.registry("ml")
    mid = y * sympy.exp(x + y / 2)
    f0 = F0_SYMPY
    ev.step("(58)", "e^{ΔO}(e^{ΔR} − 1) = e^{ΔO+ΔR} − e^{ΔO}", "sympy (registry ml)",
            logic.zero(f_ml - (sympy.exp(x + y) - sympy.exp(x))))

    t = sympy.Symbol("t", positive=True)
    radial = sympy.series((f_ml - mid).subs({x: t * x, y: t * y}, simultaneous=True), t, 0, 3).removeO()
    ev.step("(59), 'using Eq 57'", "e^{ΔO+ΔR} − e^{ΔO} ≈ ΔR e^{ΔO+ΔR/2} ((57) multiplied by ΔR), exact to second "
            "order at (0, 0)", "sympy: the series of f_ML − ΔR e^{ΔO+ΔR/2} along (tΔO, tΔR) has no terms below t³",
            logic.zero(radial))
    gap = logic.zero((f_ml - mid - 2 * sympy.exp(x + y / 2) * (sympy.sinh(y / 2) - y / 2)).rewrite(sympy.exp))
    c59 = ev.lemma("(59) as a bound", "e^{ΔO}(e^{ΔR} − 1) − ΔR e^{ΔO+ΔR/2} = 2e^{ΔO+ΔR/2} h(ΔR/2) has the sign of "
                   "ΔR: ΔR e^{ΔO+ΔR/2} ≤ f_ML for ΔR ≥ 0, ≥ f_ML for ΔR ≤ 0, i.e. |ΔR e^{ΔO+ΔR/2}| ≤ |f_ML|, same sign",
                   "sympy identity + lemma h", gap)

    z = sympy.Symbol("z", real=True)
    g = sympy.exp(z) - 1 - z
    lemma = logic.fact("g(0) = g'(0) = 0 < g''", (g,), g.subs(z, 0) == 0 and sympy.diff(g, z).subs(z, 0) == 0
                       and bool(sympy.diff(g, z, 2).is_positive))
    ev.step("(60), 'since'", "eᶻ ≥ max(1 + z, 0) for every real z", "sympy: g = eᶻ − 1 − z is convex (g'' = eᶻ > 0) "
            "with g(0) = g'(0) = 0, so g ≥ 0; and eᶻ > 0", lemma)
    cx1 = {X: 0, Y: -1}
    v_mid1, v_f0 = logic.value(mid, cx1), logic.value(f0, cx1)
    wrong60 = logic.sign(v_mid1 - v_f0) < 0
    ev.step("(60)", "ΔR e^{ΔO+ΔR/2} ≥ ΔR max(1 + ΔO + ΔR/2, 0) for all ΔO, ΔR (as printed)",
            "exact evaluation (pgcheck.decide) at a point", not wrong60, erratum="E2",
            detail=f"at ΔO = 0, ΔR = −1: {logic.show(v_mid1)} < {logic.show(v_f0)}")
    e_, m_, r_ = sympy.symbols("E M r", real=True)
    times = logic.prove(sympy.And(sympy.Or(r_ < 0, r_ * e_ >= r_ * m_), sympy.Or(r_ > 0, r_ * e_ <= r_ * m_)),
                        [e_ >= m_])
    c60 = ev.lemma("(60) corrected", "ΔR e^{ΔO+ΔR/2} ≥ ΔR max(1 + ΔO + ΔR/2, 0) for ΔR ≥ 0 and ≤ for ΔR ≤ 0, i.e. "
                   "|f0| ≤ |ΔR e^{ΔO+ΔR/2}| with the same sign", "z3: E ≥ M ⇒ rE ⋛ rM by the sign of r (with E = e^z, "
                   "M = max(1+z, 0) from the lemma above); " + times.method, times.proved and lemma)
    ev.add_erratum("E2", "(60)", "ΔR e^{ΔO+ΔR/2} ≥ ΔR max(1 + ΔO + ΔR/2, 0) 'since eˣ ≥ max(1 + x, 0) ∀x ∈ ℝ'",
                   f"ΔO = 0, ΔR = −1: −e^{{−1/2}} = {logic.show(v_mid1)} < −1/2 = {logic.show(v_f0)}",
                   "≥ for ΔR ≥ 0, ≤ for ΔR ≤ 0, i.e. |f0| ≤ |ΔR e^{ΔO+ΔR/2}| with the same sign", wrong60 and c60)

    v_f0_ml, v_ml1 = logic.value(f0, cx1), logic.value(f_ml, cx1)
    wrong_bound = logic.sign(v_f0_ml - v_ml1) > 0
    ev.step("A.1 opening", "the result of the chain, f0 = ΔR max(1 + ΔO + ΔR/2, 0), is 'a lower bound to "
            "e^{ΔO}(e^{ΔR} − 1)' (as printed, for all ΔO, ΔR)", "exact evaluation (pgcheck.decide) at a point",
            not wrong_bound, erratum="E3",
            detail=f"at ΔO = 0, ΔR = −1: f0 = {logic.show(v_f0_ml)} > f_ML = {logic.show(v_ml1)}")
    ev.add_erratum("E3", "A.1 opening sentence, with (58)–(60)",
                   "'Consider the following lower bound to e^{ΔO}(e^{ΔR} − 1) which is also exact up to second "
                   "order', the following being the chain (58)–(60) that ends in f0 = ΔR max(1 + ΔO + ΔR/2, 0)",
                   f"ΔO = 0, ΔR = −1: f0 = −1/2 = {logic.show(v_f0_ml)} > e^{{−1}} − 1 = {logic.show(v_ml1)}",
                   "f0 ≤ f_ML for ΔR ≥ 0 and f0 ≥ f_ML for ΔR ≤ 0: a lower bound in magnitude, 0 ≤ f0/f_ML ≤ 1 for "
                   "ΔR ≠ 0 (from (59) as a bound and (60) corrected)", wrong_bound and c59 and c60)

    target = sympy.expand(Y + X * Y + Y ** 2 / 2)
    polys = [logic.taylor2(e) for e in (f_ml, mid, f0)]
    ev.step("A.1 opening", "f_ML, ΔR e^{ΔO+ΔR/2} and f0 agree up to second order at (0, 0): y + xy + y²/2",
            "pgcheck.check.taylor2", all(p == target for p in polys), detail=f"{polys}")


def _f0_monotonicity(ev: Evidence) -> None:
    f0 = F0_SYMPY
    cert = logic.validate(F0)
    ev.step("A.1, after (60)", "f0 does not satisfy the monotonicity in ΔR of Assumption 5.1",
            "pgcheck validate: " + "; ".join(f"{p.prop}: {p.verdict}" for p in cert.properties),
            cert.property("1b").verdict == "refuted")
    y1, y2 = sympy.symbols("y1 y2", real=True)
    mono = logic.prove(sympy.Le(f0.subs(Y, y1), f0.subs(Y, y2)), [1 + X <= 0, y1 < y2])
    witness = logic.prove(sympy.Gt(f0.subs(Y, -3 * (1 + X) / 2), f0.subs(Y, -(1 + X))), [1 + X > 0])
    ev.step("A.1, after (60)", "f0(ΔO, ·) is non-decreasing iff 1 + ΔO ≤ 0", "z3: monotone for every ΔO with "
            "1 + ΔO ≤ 0; for 1 + ΔO > 0 the pair y = −3(1+ΔO)/2 < −(1+ΔO) decreases; " + mono.method,
            mono.proved and witness.proved)
    mid = f0.subs(Y, (y1 + y2) / 2)
    convex = logic.prove(sympy.Le(2 * mid, f0.subs(Y, y1) + f0.subs(Y, y2)), [1 + X <= 0])
    not_convex = logic.prove(sympy.Gt(2 * f0.subs(Y, -2 * (1 + X)), f0.subs(Y, -3 * (1 + X)) + f0.subs(Y, -(1 + X))),
                             [1 + X > 0])
    ev.step("A.1, after (60)", "… and also convex in ΔR iff 1 + ΔO ≤ 0", "z3: midpoint convexity for 1 + ΔO ≤ 0 (f0 "
            "is continuous, so convex); for 1 + ΔO > 0 the midpoint of −3(1+ΔO) and −(1+ΔO) violates it",
            convex.proved and not_convex.proved)


def _fix(ev: Evidence) -> None:
    x, y = X, Y
    q = y * (1 + x + y / 2)
    ymin = sympy.solve(sympy.diff(q, y), y)
    ok_min = logic.fact("the stationary points and the curvature of q", (q, *ymin),
                        ymin == [-(1 + x)] and sympy.diff(q, y, 2) == 1)
    ev.step("fix for (35)", "the minimum of q(x, y) = y(1 + x + y/2) over y is at y_min = −(1 + x)",
            "sympy: solve ∂q/∂y = 0, ∂²q/∂y² = 1 > 0", ok_min)
    half = logic.prove(sympy.And(logic.eq(1 + x - (1 + x) / 2, (1 + x) / 2), (1 + x) / 2 > 0), [1 + x > 0])
    ev.step("fix for (35)", "1 + x + y_min/2 = (1 + x)/2 > 0 when 1 + x > 0", half.method, half.proved)
    f0 = F0_SYMPY
    left = logic.prove(sympy.And(logic.eq(f0, q), 1 + x + y < 0), [1 + x > 0, y > -2 * (1 + x), y < -(1 + x)])
    ev.step("fix for (35)", "f0 = q on a left neighbourhood (−2(1+x), y_min) of y_min, where ∂q/∂y = 1 + x + y < 0",
            left.method, left.proved)
    ev.step("fix for (35)", "q(x, y_min) = −(1 + x)²/2", SYMPY,
            logic.zero(q.subs(y, -(1 + x)) + (1 + x) ** 2 / 2))
    fixed = sympy.Piecewise((-(1 + x) ** 2 / 2, sympy.And(y < -(1 + x), 1 + x > 0)), (f0, True))
    same = logic.prove(logic.eq(fixed, logic.registry("mla")))
    ev.step("fix for (35)", "the fixed function (−(1+x)²/2 when y < y_min and 1 + x > 0, else f0) is eq. (35) "
            "(pgcheck's registry mla)", same.method, same.proved)
    cert = logic.validate("mla")
    poly = logic.taylor2(logic.registry("mla"))
    ev.step("fix for (35)", "the fix satisfies Assumption 5.1 and remains exact to second order at (0, 0)",
            "pgcheck validate: " + "; ".join(f"{p.prop}: {p.verdict}" for p in cert.properties)
            + "; pgcheck.check.taylor2", cert.overall == "VALID" and poly == sympy.expand(y + x * y + y ** 2 / 2))


def _eq36(ev: Evidence) -> None:
    x, y = X, Y
    ao, ar = sympy.symbols("ao ar", real=True)
    f0 = F0_SYMPY
    f1_printed = ar * y * sympy.Max(1 + ao * x + ar * y / 2, 0)
    ev.step("derivation of (36)", "replacing (ΔO, ΔR) by (αo ΔO, αr ΔR) in the chain gives f1 = αr y(1 + αo x + "
            "αr y/2)⁺", SYMPY, logic.zero(f0.subs({x: ao * x, y: ar * y}, simultaneous=True) - f1_printed))
    arp = sympy.Symbol("ar_p", real=True)
    wlog = logic.zero(f1_printed.subs(ar, 2 * arp) - 2 * arp * y * sympy.Max(1 + ao * x + arp * y, 0))
    ev.step("derivation of (36)", "WLOG f1 ≡ y(1 + αo x + αr y)⁺: f1 is the positive multiple αr of it with αr "
            "renamed αr/2 (needs αr > 0; for αr = 0, f1 ≡ 0)", SYMPY, wlog)
    ev.note("The reparametrisation of f1 needs αr > 0 (αr = 0 makes f1 ≡ 0); the cases αr = 0 of Observation 5.3 "
            "are cases of the final formula (36), not of f1.")
    f1 = y * sympy.Max(1 + ao * x + ar * y, 0)
    y1, y2 = sympy.symbols("y1 y2", real=True)
    mono_neg = logic.prove(sympy.Le(f1.subs(y, y1), f1.subs(y, y2)), [ar > 0, 1 + ao * x < 0, y1 < y2])
    c = 1 + ao * x
    witness = logic.prove(sympy.Gt(f1.subs(y, -3 * c / (4 * ar)), f1.subs(y, -c / (2 * ar))), [ar > 0, c > 0])
    cx_point = {x: 0, ao: 1, ar: sympy.Rational(1, 2)}
    a_, b_ = logic.value(f1.subs(y, sympy.Rational(-3, 2)), cx_point), logic.value(f1.subs(y, -1), cx_point)
    ev.step("derivation of (36)", "f1 = y max(1 + α0x + αr y, 0) is non-monotone in y for certain y 'when 1 + α0x < 0' "
            "(as printed)", "z3: for αr > 0 and 1 + αo x < 0, f1(x, ·) is non-decreasing; " + mono_neg.method,
            not mono_neg.proved, erratum="E4")
    ev.add_erratum("E4", "A.1, derivation of (36)",
                   "'fixing the non-monotonicity of f1(x, y) = y max(1 + α0x + αr y, 0) "
                   "for certain ranges of y when 1 + α0x < 0'",
                   "αo = 1, αr = 1/2, x = −2 (1 + αo x = −1 < 0): f1(−2, ·) is non-decreasing for every y (z3), so "
                   f"there is nothing to fix; at x = 0 (1 + αo x = 1 > 0): f1(0, −3/2) = {a_} > f1(0, −1) = {b_}",
                   "when 1 + αo x > 0 (as the next paragraph, 'the problematic case when 1 + αo x > 0', says): "
                   "for αr > 0, "
                   "f1(x, ·) is non-decreasing iff 1 + αo x ≤ 0",
                   mono_neg.proved and witness.proved and a_ > b_)
    ymin = sympy.solve(sympy.diff(y * (1 + ao * x + ar * y), y), y)
    ok = ymin == [-(1 + ao * x) / (2 * ar)] and logic.zero((1 + ao * x + ar * ymin[0]) - (1 + ao * x) / 2)
    ev.step("derivation of (36)", "argmin y_min = −(1 + αo x)/(2αr) and 1 + αo x + αr y_min = (1 + αo x)/2", SYMPY, ok)
    reg, syms = logic.registry_symbolic("mla_param")
    reg = reg.subs({syms["ao"]: ao, syms["ar"]: ar})
    clipped = sympy.Piecewise((y * sympy.Max(1 + ao * x + ar * y, (1 + ao * x) / 2), 1 + ao * x > 0),
                              (y * sympy.Max(1 + ao * x + ar * y, 0), True))
    same = logic.prove(logic.eq(clipped, reg))
    ev.step("derivation of (36)", "clipping the second factor below at (1 + αo x)/2 only when 1 + αo x > 0 is "
            "y max(1 + αo x + αr y, (1 + αo x)⁺/2), pgcheck's registry mla_param, for all αo, αr", same.method,
            same.proved)
    lin = logic.prove(logic.eq(reg, y * (1 + ao * x) / 2), [ar > 0, 1 + ao * x > 0, y <= -(1 + ao * x) / (2 * ar)])
    mono = logic.prove(sympy.Le(reg.subs(y, y1), reg.subs(y, y2)), [y1 < y2])
    ev.step("derivation of (36)", "below y_min the fix continues linearly, y(1 + αo x)/2, and the result is "
            "non-decreasing in y for all αo, αr", lin.method, lin.proved and mono.proved)


def derive(ev: Evidence) -> None:
    _jensen(ev)
    _chain(ev)
    _f0_monotonicity(ev)
    _fix(ev)
    _eq36(ev)
    ev.scope = ("every printed step of A.1: identities and integrals by sympy, inequalities by z3/sympy for all real "
                "ΔO, ΔR (and all αo, αr), counterexamples evaluated exactly")
    ev.complete = True

    worst, printed_fail, negative = 0.0, 0, 0
    f_ml = backends.to_torch(logic.registry("ml"))
    f0 = backends.to_torch(F0_SYMPY)
    with ag.single_thread():
        grid = torch.linspace(-3, 3, 121, dtype=ag.DTYPE)
        xs, ys = torch.meshgrid(grid, grid, indexing="ij")
        xs, ys = xs.reshape(-1), ys.reshape(-1)
        keep = ys != 0
        xs, ys = xs[keep], ys[keep]
        a, m, b = f0(xs, ys), ys * torch.exp(xs + ys / 2), f_ml(xs, ys)
        scale = 1e-14 * (1 + b.abs())
        worst = float(torch.clamp(a.abs() - m.abs() - scale, min=0).max())
        worst = max(worst, float(torch.clamp(m.abs() - b.abs() - scale, min=0).max()))
        worst = max(worst, float(torch.clamp(-(a * b), min=0).max()), float(torch.clamp(-(m * b), min=0).max()))
        fails = (a > b + scale) | (m < a - scale)  # f0 as a lower bound of f_ML (E3), printed (60) (E2)
        printed_fail = int(fails.sum())
        negative = int((fails & (ys < 0)).sum())
    ev.lemma("grid", "the printed 'lower bound' and (60) fail on the grid only where ΔR < 0",
             "float64 grid, margin 1e-14(1 + |f_ML|)",
             logic.fact("grid failure counts", (printed_fail, negative), printed_fail > 0 and negative == printed_fail),
             detail=f"{printed_fail} failures, {negative} of them with ΔR < 0")
    ev.check("corrected chain", "|f0| ≤ |ΔR e^{ΔO+ΔR/2}| ≤ |f_ML| and equal signs (largest violation), pgcheck's torch "
             "forms of f0 and ml", "121 × 121 grid on [−3, 3]², ΔR ≠ 0", worst, 1e-12, 1.0)
