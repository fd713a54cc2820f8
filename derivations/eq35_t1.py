"""Eq. (35) and the f_MLA row of Table 1 define the same function.

Eq. (35):  ``f_MLA(x, y) = −½(1 + x)²`` if ``y ≤ −(1 + x) ≤ 0``, else ``y max(1 + x + y/2, 0)``.
Table 1:   ``f_MLA(x, y) = −½(1 + x)²`` if ``1 + x + y ≤ 0 < 1 + x``, else ``y max(1 + x + y/2, 0)``.

The branch conditions differ exactly on the half-line ``{1 + x = 0, y ≤ 0}`` (eq. 35 takes the first branch
there, Table 1 the second), where both branches are 0 — so the functions agree everywhere. Symbolic: z3
through pgcheck's encoder (exact: both are piecewise polynomials), with pgcheck's registry ``mla`` on one side
and both printed formulas written with sympy directly (not pgcheck's parser, which the registry goes through).
Cross-check: the registry's compiled torch form (:func:`pgcheck.backends.to_torch`) against Table 1's formula
written directly in torch, values and autograd gradients, on a seeded grid that includes the boundary x = −1;
negative control: eq. (35) with the first branch's ½ dropped must fail the same comparison.
"""

from __future__ import annotations

import sympy
import torch

from derivations import autograd as ag
from derivations import logic
from derivations.core import Control, Evidence
from pgcheck import backends
from pgcheck.expr import X, Y

ID = "eq35-t1"
TITLE = "Eq. (35) and Table 1's f_MLA are the same function"
REFERENCE = "eq. (35); Appendix B, Table 1"
STATEMENT = "−½(1+x)² if y ≤ −(1+x) ≤ 0 else y·max(1+x+y/2, 0)  ≡  −½(1+x)² if 1+x+y ≤ 0 < 1+x else y·max(1+x+y/2, 0)"



def printed_eq35(x: sympy.Expr = X, y: sympy.Expr = Y) -> sympy.Expr:
    """Eq. (35) as printed: −½(1 + x)² if y ≤ −(1 + x) ≤ 0, else y max(1 + x + y/2, 0) (sympy, directly)."""
    return sympy.Piecewise((-(1 + x) ** 2 / 2, sympy.And(y <= -(1 + x), -(1 + x) <= 0)),
                           (y * sympy.Max(1 + x + y / 2, 0), True))


def printed_table1(x: sympy.Expr = X, y: sympy.Expr = Y) -> sympy.Expr:
    """Table 1's f_MLA as printed: −½(1 + x)² if 1 + x + y ≤ 0 < 1 + x, else y max(1 + x + y/2, 0)."""
    return sympy.Piecewise((-(1 + x) ** 2 / 2, sympy.And(1 + x + y <= 0, 1 + x > 0)),
                           (y * sympy.Max(1 + x + y / 2, 0), True))


def table1_torch(x: torch.Tensor, y: torch.Tensor, half: float = 0.5) -> torch.Tensor:
    """Table 1's formula written directly in torch (``half`` ≠ ½ is the negative control)."""
    first = -half * (1 + x) ** 2
    second = y * torch.clamp(1 + x + y / 2, min=0)
    return torch.where((1 + x + y <= 0) & (1 + x > 0), first, second)


def derive(ev: Evidence) -> None:
    reg = logic.registry("mla")
    eq35, t1 = printed_eq35(), printed_table1()
    r0 = logic.prove(logic.eq(reg, eq35))
    ev.lemma("eq. (35)", "pgcheck's registry mla is eq. (35) as printed", r0.method, r0.proved)
    r1 = logic.prove(logic.eq(reg, t1))
    ev.step("eq. (35) vs Table 1", "f_MLA of eq. (35) (registry) = f_MLA of Table 1 for every real x, y", r1.method,
            r1.proved)
    c35 = sympy.And(Y <= -(1 + X), -(1 + X) <= 0)
    ct1 = sympy.And(1 + X + Y <= 0, 1 + X > 0)
    differ = sympy.Or(sympy.And(c35, sympy.Not(ct1)), sympy.And(ct1, sympy.Not(c35)))
    boundary = sympy.And(logic.eq(1 + X, 0), Y <= 0)
    r2 = logic.prove(sympy.And(sympy.Or(sympy.Not(differ), boundary), sympy.Or(sympy.Not(boundary), differ)))
    both_zero = logic.prove(sympy.And(logic.eq(-(1 + X) ** 2 / 2, 0), logic.eq(Y * sympy.Max(1 + X + Y / 2, 0), 0)),
                            [logic.eq(1 + X, 0), Y <= 0])
    ev.lemma("eq. (35) vs Table 1", "the branch conditions differ exactly on {1 + x = 0, y ≤ 0}, where both "
             "branches equal 0", r2.method, r2.proved and both_zero.proved)
    ev.scope = "all real x, y (z3, exact: piecewise polynomial)"
    ev.complete = True

    err_v, err_g, control = ag.MaxErr(), ag.MaxErr(), ag.MaxErr()
    f35 = backends.to_torch(reg)
    with ag.single_thread():
        g = ag.generator(35)
        x = torch.cat([ag.randn(g, 500, scale=2.0) - 1, torch.full((50,), -1.0, dtype=ag.DTYPE)])
        y = torch.cat([ag.randn(g, 500, scale=2.0), -torch.rand(50, generator=g, dtype=ag.DTYPE) * 3])
        xa, ya = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
        xb, yb = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
        va, vb = f35(xa, ya), table1_torch(xb, yb)
        err_v.add(va.detach(), vb.detach())
        control.add(va.detach(), table1_torch(x, y, half=1.0))
        err_g.add(torch.cat(torch.autograd.grad(va.sum(), [xa, ya])),
                  torch.cat(torch.autograd.grad(vb.sum(), [xb, yb])))
    inst = "550 seeded points (x ~ −1 + N(0, 2²), y ~ N(0, 2²); 50 on the boundary x = −1 with y ≤ 0)"
    ev.check("values", "torch form of the registry mla (eq. 35, pgcheck.backends.to_torch) vs Table 1 written in torch",
             inst, err_v.error, 1e-12, err_v.magnitude,
             control=Control("Table 1 with −(1 + x)² for −½(1 + x)²", control.error))
    ev.check("gradients", "autograd ∇f of both torch forms", inst, err_g.error, 1e-12, err_g.magnitude)
