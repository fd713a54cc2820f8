"""Certified one-sided analysis of f(·, y0) next to x = 0: the refutations of property 2.

Property 2 of Assumption 5.1 fails at y0 when *no* neighbourhood of 0 works: |f(·, y0)| decreases
arbitrarily close to 0. A pair of points cannot show that on its own (it only rules out the neighbourhoods
that contain it), and a symbolic limit may be wrong on piecewise input. What is shown here instead, on a
one-sided interval I = (0, h] or [-h, 0), is a *certified sign*:

* every branch choice of f (Piecewise conditions, max/min/abs/sign) is the same all over I, so f equals one
  smooth formula b on I;
* a function d has a strict sign on I when d(0) != 0 and an interval evaluation of d over [0, h] has that
  sign, or when d(0) = d'(0) = ... = d^(k-1)(0) = 0 exactly and an interval evaluation of d^(k) over the
  closed interval has a strict sign σ (Taylor's theorem with the Lagrange remainder then gives the sign of
  d on I: σ on the right, σ(-1)^k on the left).

From these facts (and exact values at 0) the decrease is certain for every small enough neighbourhood,
and an exactly confirmed pair of points inside I is reported for people to paste back. Every number is
decided by :mod:`pgcheck.decide`; anything it cannot settle makes the analysis give up (None).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import sympy

from pgcheck import decide, enclose
from pgcheck.symbols import X, Y, is_constant

if TYPE_CHECKING:  # pgcheck.expr imports pgcheck.decide; the conditions are only read here
    from pgcheck.expr import Condition

HS = [Fraction(1, 10**k) for k in (1, 2, 4, 6, 8, 12, 16, 24, 32, 48)]
MAX_ORDER = 96
# the nodes that make a branch choice: f is one smooth formula only where all of them are decided
NONSMOOTH = (sympy.Piecewise, sympy.Max, sympy.Min, sympy.Abs, sympy.sign)


class _GiveUp(Exception):
    pass


@dataclass
class _Side:
    """One side of 0 and the largest h for which every certified fact so far holds."""

    right: bool
    deadline: float
    h: Fraction = HS[0]

    def box(self, h: Fraction) -> dict[sympy.Symbol, enclose.Num]:
        lo, hi = (Fraction(0), h) if self.right else (-h, Fraction(0))
        return {X: enclose.interval(lo, hi, 2048)}

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise _GiveUp

    def strict_sign_on_box(self, d: sympy.Expr, want: int) -> bool:
        """Whether d has the sign ``want`` on the closed interval for some h <= self.h (and then shrink h)."""
        for h in HS:
            if h > self.h:
                continue
            self.tick()
            for prec in (128, 512):
                try:
                    if enclose.sign_of(enclose.evaluate(d, self.box(h), prec)) == want:
                        self.h = h
                        return True
                    break
                except enclose.Unsure:
                    continue
                except (enclose.NoEnclosure, enclose.Undefined):
                    return False
        return False

    def sign(self, d: sympy.Expr) -> int | None:
        """The strict sign of d on the punctured side interval (0 if d is identically 0 there), or None."""
        d = self.resolve(d)
        if d == 0:
            return 0
        if is_constant(d):
            try:
                return decide.sign(d)
            except (decide.Undecided, decide.Undefined, decide.TooLarge):
                return None
        deriv = d
        for k in range(MAX_ORDER + 1):
            self.tick()
            try:
                s0 = decide.sign(deriv, decide.at(Fraction(0)))
            except (decide.Undecided, decide.Undefined, decide.TooLarge):
                return None
            if s0 != 0:
                if not self.strict_sign_on_box(deriv, s0):
                    return None
                return s0 if (self.right or k % 2 == 0) else -s0
            deriv = sympy.diff(deriv, X)
            if deriv == 0:
                return 0  # a polynomial whose every coefficient is 0 at the orders seen
        return None

    def truth(self, c: sympy.Basic) -> bool | None:
        if c is sympy.true or c is sympy.false:
            return bool(c)
        if isinstance(c, sympy.And | sympy.Or):
            parts = [self.truth(a) for a in c.args]
            if isinstance(c, sympy.And):
                return False if False in parts else (None if None in parts else True)
            return True if True in parts else (None if None in parts else False)
        if isinstance(c, sympy.Not):
            t = self.truth(c.args[0])
            return None if t is None else not t
        if isinstance(c, sympy.Rel):
            s = self.sign(c.args[0] - c.args[1])
            if s is None:
                return None
            table = {sympy.StrictLessThan: s < 0, sympy.LessThan: s <= 0, sympy.StrictGreaterThan: s > 0,
                     sympy.GreaterThan: s >= 0, sympy.Equality: s == 0, sympy.Unequality: s != 0}
            return table.get(type(c))
        return None

    def resolve(self, e: sympy.Basic) -> sympy.Expr:
        """e with every branch decided on the punctured side interval; raises _GiveUp when one is not."""
        if not e.has(*NONSMOOTH):
            return e
        if isinstance(e, sympy.Piecewise):
            for value, cond in e.args:
                t = self.truth(cond)
                if t is None:
                    raise _GiveUp
                if t:
                    return self.resolve(value)
            raise _GiveUp
        if isinstance(e, sympy.Max | sympy.Min):
            args = [self.resolve(a) for a in e.args]
            best = args[0]
            for a in args[1:]:
                s = self.sign(a - best)
                if s is None:
                    raise _GiveUp
                if (s > 0) == isinstance(e, sympy.Max) and s != 0:
                    best = a
            return best
        if isinstance(e, sympy.Abs | sympy.sign):
            inner = self.resolve(e.args[0])
            s = self.sign(inner)
            if s is None:
                raise _GiveUp
            if isinstance(e, sympy.sign):
                return sympy.Integer(s)
            return inner if s >= 0 else -inner
        return e.func(*[self.resolve(a) for a in e.args])


def _abs_value_sign(a: sympy.Expr, pa: dict[sympy.Symbol, enclose.Num], b: sympy.Expr,
                    pb: dict[sympy.Symbol, enclose.Num]) -> int | None:
    """The sign of |a(pa)| - |b(pb)|, or None; 0 also when intervals cannot settle it but a(pa) = b(pb) is
    proved exactly (a branch-free f is its own branch at 0, and |f(0)| - |f(0)| has no strict enclosure)."""
    try:
        return decide.sign_difference(sympy.Abs(a), pa, sympy.Abs(b), pb)
    except (decide.Undecided, decide.Undefined, decide.TooLarge):
        return 0 if decide.equal_at(a, pa, b, pb) else None


def refute(f: sympy.Expr, y0: Fraction, seconds: float = 2.0,
           conditions: Sequence[Condition] = ()) -> dict[str, str] | None:
    """A certified refutation of property 2 at y = y0, or None (nothing shown, which proves nothing).

    ``conditions`` are the partial operations of the text (:class:`pgcheck.expr.Condition`): the text must
    be certainly defined on the whole closed side interval at y0, or nothing is claimed there."""
    g = f.subs(Y, sympy.Rational(y0.numerator, y0.denominator))
    zero = decide.at(Fraction(0))
    try:
        decide.sign(g, zero)  # f(0, y0) must have a value
    except (decide.Undecided, decide.Undefined, decide.TooLarge):
        return None
    deadline = time.monotonic() + seconds
    for right in (True, False):
        side = _Side(right, deadline)
        try:
            found = _decrease(side, g, zero)
        except (_GiveUp, decide.Undecided, decide.Undefined, decide.TooLarge, enclose.NoEnclosure,
                TypeError, ValueError, RecursionError):
            found = None
        if found is None:
            continue
        reason, needs_pair_check = found
        h = side.h
        lo, hi = (Fraction(0), h) if right else (-h, Fraction(0))
        box = {X: enclose.interval(lo, hi, 2048), Y: y0}
        if not all(decide.satisfied(c.guard, c.operand, c.kind, box) for c in conditions):
            continue
        x1, x2 = (Fraction(0), h) if right else (-h, Fraction(0))
        # the pair inside I that the certified facts guarantee, confirmed once more exactly
        if needs_pair_check and _abs_value_sign(g, decide.at(x1), g, decide.at(x2)) != 1:
            continue
        ys, a, b = decide.fmt(y0), decide.fmt(x1), decide.fmt(x2)
        where = "x -> 0+" if right else "x -> 0-"
        return {"y": ys, "x1": a, "x2": b, "side": "right" if right else "left",
                "f(x1,y)": decide.show(g, decide.at(x1)), "f(x2,y)": decide.show(g, decide.at(x2)),
                "summary": f"at y = {ys}, |f(x, {ys})| decreases as {where} ({reason}, certified on "
                           f"{'(0, ' + decide.fmt(h) + ']' if right else '[-' + decide.fmt(h) + ', 0)'}), so no "
                           f"neighbourhood of x = 0 works; e.g. |f({a}, {ys})| > |f({b}, {ys})|"}
    return None


def _decrease(side: _Side, g: sympy.Expr, zero: dict[sympy.Symbol, enclose.Num]) -> tuple[str, bool] | None:
    """Why |g| certainly decreases on this side next to 0 (towards +x), or None."""
    b = side.resolve(g)
    b0_sign = decide.sign(b, zero)
    jump = _abs_value_sign(g, zero, b, zero)  # |f(0, y0)| against the branch's limit |b(0)|
    if jump is None:
        return None
    if jump != 0:
        # |b| stays on the far side of |f(0, y0)| all over the interval: a jump at 0
        if side.right and jump > 0:
            level = decide.bounds(sympy.Abs(g), zero)[0]
            if side.strict_sign_on_box(sympy.Abs(b) - sympy.Rational(level.numerator, level.denominator), -1):
                return "|f| jumps down at 0", True
        if not side.right and jump < 0:
            level = decide.bounds(sympy.Abs(g), zero)[1]
            if side.strict_sign_on_box(sympy.Abs(b) - sympy.Rational(level.numerator, level.denominator), 1):
                return "|f| jumps down at 0 from the left", True
        return None
    if b0_sign == 0:
        if side.right:
            return None  # |f| rises from 0 on the right
        s = side.sign(b)
        if s is None or s == 0:
            return None
        return "f(0, y) = 0 while f(x, y) != 0 for x < 0", True
    slope = side.sign(sympy.diff(b, X))
    if slope is None or slope == 0 or slope * b0_sign > 0:
        return None
    if not side.strict_sign_on_box(b, b0_sign):  # f keeps its sign, so |f| = ±f is strictly monotone
        return None
    return ("d|f|/dx < 0" if side.right else "d|f|/dx < 0 to the left of 0"), True
