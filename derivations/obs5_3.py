"""Observation 5.3: special cases of f_MLA(αo,αr) (eq. 36), "in a non-vanishing neighbourhood of (0, 0)".

1. αo = 1, αr = ½ approximately recovers f_MLA (eq. 35), and therefore f_ML = eˣ(eʸ − 1);
2. αo = 1, αr = 0 gives f_MLA(1,0)(x, y) = y max(1 + x, (1 + x)⁺/2) = y max(1 + x, 0) ≊ y eˣ (f_SQ);
3. αo = 0, αr = 0 gives f_MLA(0,0)(x, y) = y (the identity scale, Q-learning).

What is proved (z3 through pgcheck's encoder, and pgcheck's own second-order Taylor polynomials
:func:`pgcheck.check.taylor2`, against sympy series of f_ML):
(1) f_MLA(1,½) = f_MLA exactly on {1 + x ≤ 0} ∪ {y ≥ −(1 + x)}, which contains the neighbourhood
|x|, |y| ≤ ½ of (0, 0), and the two differ elsewhere; all three share the Taylor polynomial y + xy + y²/2
(f_ML departs at third order). (2) the printed equality holds for every x, y; y(1 + x)⁺ and y eˣ agree to
second order (total degree; first order in x), departing in x²y/2. (3) exact for every x, y.
Cross-check: gradients and Hessians at (0, 0) of pgcheck's compiled torch forms by autograd, against the
derivatives of the stated Taylor polynomials worked out by hand (not against each other).
"""

from __future__ import annotations

import sympy
import torch

from derivations import autograd as ag
from derivations import logic
from derivations.core import Control, Evidence
from pgcheck import backends
from pgcheck.expr import X, Y

ID = "obs5.3"
TITLE = "f_MLA(αo,αr) recovers f_MLA/f_ML, f_SQ and the identity"
REFERENCE = "Observation 5.3 and its justification, footnote 3"
STATEMENT = ("(1) f_MLA(1,½) ≈ f_MLA ≈ f_ML near (0,0); (2) f_MLA(1,0) = y·max(1+x, 0) ≈ y·eˣ; (3) f_MLA(0,0) = y")


def _series2(e: sympy.Expr) -> sympy.Expr:
    """The total-degree ≤ 2 part of e at (0, 0), by sympy series (independent of pgcheck.check.taylor2)."""
    t = sympy.Symbol("t")
    s = sympy.series(e.subs({X: t * X, Y: t * Y}), t, 0, 3).removeO()
    return sympy.expand(s.subs(t, 1))


def derive(ev: Evidence) -> None:
    mla = logic.registry("mla")
    f_half = logic.registry("mla_param", ao=1, ar="1/2")
    f_ml = logic.registry("ml")
    region = sympy.Or(1 + X <= 0, Y >= -(1 + X))
    same = logic.prove(logic.eq(f_half, mla), [region])
    differ = logic.prove(sympy.Not(logic.eq(f_half, mla)), [sympy.Not(region)])
    hood = logic.prove(region, [sympy.Abs(X) <= sympy.Rational(1, 2), sympy.Abs(Y) <= sympy.Rational(1, 2)])
    ev.step("Obs. 5.3 (1)", "f_MLA(1,½) = f_MLA exactly where 1 + x ≤ 0 or y ≥ −(1 + x) — a region containing "
            "|x|, |y| ≤ ½ — and nowhere else", same.method, same.proved and differ.proved and hood.proved,
            detail="e.g. at (0, −2): f_MLA = −1/2, f_MLA(1,½) = −1")
    target = sympy.expand(Y + X * Y + Y ** 2 / 2)
    t_half, t_mla, t_ml = logic.taylor2(f_half), logic.taylor2(mla), logic.taylor2(f_ml)
    ml_series = _series2(f_ml)
    ok = all(t == target for t in (t_half, t_mla, t_ml)) and ml_series == target
    third = sympy.expand(sympy.series((sympy.exp(X) * (sympy.exp(Y) - 1)).subs({X: 0}), Y, 0, 4).removeO()
                         - (Y + Y ** 2 / 2))
    ev.step("Obs. 5.3 (1)",
            "f_MLA(1,½), f_MLA and f_ML share the second-order Taylor polynomial y + xy + y²/2 at (0,0)",
            "pgcheck.check.taylor2 (derivatives by quadrant) for all three; sympy series for f_ML", ok,
            detail=f"taylor2: {t_half} | {t_mla} | {t_ml}; f_ML(0, y) departs by {third} at third order")

    f10 = logic.registry("mla_param", ao=1, ar=0)
    printed_chain = [Y * sympy.Max(1 + X, sympy.Max(1 + X, 0) / 2), Y * sympy.Max(1 + X, 0)]  # as printed
    r_chain = all(logic.prove(logic.eq(f10, p)).proved for p in printed_chain)
    ev.step("Obs. 5.3 (2)", "f_MLA(1,0)(x, y) = y max(1 + x, (1 + x)⁺/2) = y max(1 + x, 0) for every x, y",
            "z3 (pgcheck.smt encoder, exact)", r_chain)
    sq = logic.registry("sq")
    t10, tsq = logic.taylor2(f10), logic.taylor2(sq)
    cubic = sympy.expand(_series3(sq) - sympy.expand(Y * (1 + X)))
    ev.step("Obs. 5.3 (2)", "y max(1 + x, 0) ≊ y eˣ = f_SQ: equal second-order Taylor polynomials y + xy at (0,0) "
            "(first order in x); they differ by x²y/2 at third order",
            "pgcheck.check.taylor2; sympy series", t10 == tsq == sympy.expand(Y + X * Y)
            and cubic == X ** 2 * Y / 2, detail=f"taylor2: {t10} | {tsq}; y eˣ − y(1 + x) = {cubic} + O(4)")
    f00 = logic.registry("mla_param", ao=0, ar=0)
    r3 = logic.prove(logic.eq(f00, logic.registry("q")))
    ev.step("Obs. 5.3 (3)", "f_MLA(0,0)(x, y) = y exactly (pgcheck's identity scale q), for every x, y", r3.method,
            r3.proved)
    ev.scope = ("all real x, y for the identities (z3, exact); Taylor polynomials at (0, 0) (pgcheck taylor2, "
                "sympy series)")
    ev.complete = True

    # the reference is the paper's stated Taylor polynomials, differentiated by hand (no pgcheck code):
    # y + xy + y²/2 (f_ML, f_MLA): ∇ = (0, 1), Hessian [[0, 1], [1, 1]]; y + xy (f_SQ): [[0, 1], [1, 0]]; y (q): 0
    ml_like = torch.tensor([0, 1, 0, 1, 1, 1], dtype=ag.DTYPE)
    sq_like = torch.tensor([0, 1, 0, 1, 1, 0], dtype=ag.DTYPE)
    identity = torch.tensor([0, 1, 0, 0, 0, 0], dtype=ag.DTYPE)
    cases = [(f_half, ml_like), (mla, ml_like), (f_ml, ml_like), (f10, sq_like), (sq, sq_like),
             (f00, identity), (logic.registry("q"), identity)]
    err, control = ag.MaxErr(), ag.MaxErr()
    with ag.single_thread():
        for fe, expected in cases:
            d = _derivatives_at_zero(backends.to_torch(fe))
            err.add(d, expected)
        # negative control: f_MLA(1,½) against f_SQ's derivatives (they differ in ∂²f/∂y²)
        control.add(_derivatives_at_zero(backends.to_torch(f_half)), sq_like)
    ev.check("derivatives at (0,0)", "gradient and Hessian at (0, 0) by autograd of pgcheck's torch forms of "
             "f_MLA(1,½), f_MLA, f_ML, f_MLA(1,0), f_SQ, f_MLA(0,0), q vs those of the stated Taylor polynomials "
             "y + xy + y²/2, y + xy, y (by hand)", "the point (0, 0)", err.error, 1e-12, err.magnitude,
             control=Control("f_MLA(1,½) against y + xy", control.error))


def _derivatives_at_zero(fn: backends.TensorFn) -> torch.Tensor:
    """(∂f/∂x, ∂f/∂y, and the Hessian) at (0, 0), by autograd through the compiled torch form."""
    x = torch.zeros(1, dtype=ag.DTYPE, requires_grad=True)
    y = torch.zeros(1, dtype=ag.DTYPE, requires_grad=True)
    out = fn(x, y).sum()
    zero = torch.zeros(1, dtype=ag.DTYPE)
    grads = torch.autograd.grad(out, [x, y], create_graph=True, allow_unused=True)
    gx, gy = (zero if gi is None else gi for gi in grads)
    rows = []
    for gi in (gx, gy):
        if not gi.requires_grad:  # the gradient is constant: its derivatives vanish
            rows.append(torch.zeros(2, dtype=ag.DTYPE))
            continue
        hx, hy = torch.autograd.grad(gi.sum(), [x, y], retain_graph=True, allow_unused=True)
        rows.append(torch.cat([zero if h is None else h.detach() for h in (hx, hy)]))
    return torch.cat([gx.detach(), gy.detach(), *rows])


def _series3(e: sympy.Expr) -> sympy.Expr:
    t = sympy.Symbol("t")
    return sympy.expand(sympy.series(e.subs({X: t * X, Y: t * Y}), t, 0, 4).removeO().subs(t, 1))
