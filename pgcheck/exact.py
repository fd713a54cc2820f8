"""Exact and high-precision evaluation, used to re-check every counterexample before it is reported.

A candidate counterexample (from z3 under an abstraction, from random sampling or from hypothesis) is
only a *refutation* once the inequality it claims has been confirmed here: with exact rational
arithmetic when f is rational at the point, otherwise by certified interval arithmetic
(:mod:`pgcheck.enclose`, up to 8192 bits), so neither float rounding nor cancellation in sympy's
high-precision evaluation ever produces a false alarm.
"""

from __future__ import annotations

from fractions import Fraction

import sympy

from pgcheck import enclose
from pgcheck.expr import X, Y


class Undefined(ArithmeticError):
    """f has no finite real value at the point."""


class Indeterminate(ArithmeticError):
    """sympy could not reduce f at the point to a number (e.g. an undecided branch condition).

    Deliberately not an :class:`Undefined`: failing to evaluate is no evidence against f.
    """


def rational(v: Fraction) -> sympy.Rational:
    return sympy.Rational(v.numerator, v.denominator)


def value(expr: sympy.Expr, x: Fraction, y: Fraction) -> sympy.Expr:
    """f(x, y) as an exact sympy number (possibly transcendental); raises :class:`Undefined`."""
    out = expr.subs({X: rational(x), Y: rational(y)})
    if out.has(sympy.Piecewise, sympy.ITE):
        out = out.doit()
    if not isinstance(out, sympy.Expr) or out.has(sympy.Piecewise, sympy.ITE, sympy.Rel):
        raise Indeterminate(f"f({fmt(x)}, {fmt(y)}) did not reduce to a number: {out}")
    if out.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise Undefined(f"f({fmt(x)}, {fmt(y)}) = {out} is not a finite real number")
    if not out.is_number:
        raise Indeterminate(f"f({fmt(x)}, {fmt(y)}) did not reduce to a number: {out}")
    if out.is_real is False:
        raise Undefined(f"f({fmt(x)}, {fmt(y)}) = {out} is not real")
    return out


def sign(v: sympy.Expr) -> int:
    """The certain sign of a real sympy number, or 0 when it is exactly 0 *or not decided*: the sign
    comes from a certified interval (:mod:`pgcheck.enclose`), never from rounded digits."""
    if isinstance(v, sympy.Rational):
        return int(sympy.sign(v))
    if v.is_real is False:
        raise Undefined(f"{v} is not real")
    try:
        return enclose.sign(v)
    except enclose.NoEnclosure:
        return 0


def greater(a: sympy.Expr, b: sympy.Expr) -> bool:
    """True only when a > b is certain."""
    return sign(a - b) > 0


def fmt(v: Fraction) -> str:
    """A rational as the shortest faithful text: a decimal when it terminates, else p/q."""
    if v.denominator == 1:
        return str(v.numerator)
    d = v.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    if d == 1:
        s = f"{float(v)!r}"
        if Fraction(s) == v:
            return s
        # a terminating decimal that no float holds (e.g. 1e-400): digits times a power of ten, exactly
        k = 0
        while (v * 10**k).denominator != 1:
            k += 1
        m = (v * 10**k).numerator
        while m % 10 == 0 and m != 0:
            m, k = m // 10, k - 1
        return f"{m}e-{k}" if k > 0 else str(m)
    return f"{v.numerator}/{v.denominator}"


def show(v: sympy.Expr) -> str:
    """A number for people: exact when rational and short, else 15 significant digits."""
    if isinstance(v, sympy.Rational) and len(str(v)) <= 24:
        return fmt(Fraction(int(v.p), int(v.q)))
    return str(sympy.N(v, 15))
