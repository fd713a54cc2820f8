"""Certified enclosures of constant sympy expressions, by interval arithmetic (mpmath's ``iv`` context).

``sympy.N`` answers with the digits it is asked for even where catastrophic cancellation leaves none of
them right: ``log(6) - log(2) - log(3)`` is exactly 0, yet ``tanh((log(6) - log(2) - log(3)) * exp(1000) - 1)``
evaluates to 1 at 45 digits (the true value is ``tanh(-1)``). Every decision that a proof or a refutation
rests on therefore uses :func:`enclose` instead: a closed interval with rational endpoints that is
*guaranteed* to contain the exact value, computed with outward rounding node by node. When the interval
is too wide to decide a question, the answer is "not decided" — never a guess.

Guarantee: ``enclose(c)`` returns ``(lo, hi)`` with ``lo <= c <= hi`` for the real number ``c`` that the
expression denotes, or raises :class:`NoEnclosure` (unsupported node, a branch condition that the
interval cannot settle, a partial operation whose argument may leave its domain, or a magnitude beyond
``e^(10^6)``).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import mpmath
import sympy
from mpmath import iv
from mpmath.libmp import finf, fnan, fninf

PRECISIONS = (128, 512, 2048, 8192)  # bits tried in turn until an interval is narrow enough
MAX_EXP_ARGUMENT = 10**6             # exp of anything larger is not a number anyone means
MAX_BITS = 20_000                    # endpoints with larger binary exponents are not turned into Fractions


class NoEnclosure(ArithmeticError):
    """No certified interval for this expression (see the module docstring)."""


class TooLarge(NoEnclosure):
    """The constant is beyond e^(10^6) or 2^20000 in magnitude: no one means such a number, and even
    sympy's own evaluation of it may not finish."""


def _positive(v: Any) -> bool:
    return bool(v.a > 0)


def _negative(v: Any) -> bool:
    return bool(v.b < 0)


def _is_zero(v: Any) -> bool:
    return bool(v.a == 0 and v.b == 0)


def _compare(rel: sympy.Basic, a: Any, b: Any) -> bool:
    """Decide a < b, a <= b, ... for intervals, or raise when their overlap leaves it open."""
    lt, gt = bool(a.b < b.a), bool(a.a > b.b)
    le, ge = bool(a.b <= b.a), bool(a.a >= b.b)
    eq_known = _is_zero(a - b)
    if isinstance(rel, sympy.StrictLessThan) and (lt or ge):
        return lt
    if isinstance(rel, sympy.LessThan) and (le or gt):
        return le
    if isinstance(rel, sympy.StrictGreaterThan) and (gt or le):
        return gt
    if isinstance(rel, sympy.GreaterThan) and (ge or lt):
        return ge
    if isinstance(rel, sympy.Equality | sympy.Unequality) and (eq_known or lt or gt):
        return eq_known == isinstance(rel, sympy.Equality)
    raise NoEnclosure(f"cannot decide {rel} from intervals")


def _truth(c: sympy.Basic) -> bool:
    if c is sympy.true:
        return True
    if c is sympy.false:
        return False
    if isinstance(c, sympy.And):
        return all(_truth(a) for a in c.args)
    if isinstance(c, sympy.Or):
        return any(_truth(a) for a in c.args)
    if isinstance(c, sympy.Not):
        return not _truth(c.args[0])
    if isinstance(c, sympy.core.relational.Relational):
        return _compare(c, _iv(c.args[0]), _iv(c.args[1]))
    raise NoEnclosure(f"condition {c} is not decidable by intervals")


def _exp(a: Any) -> Any:
    if a.b > MAX_EXP_ARGUMENT:
        raise TooLarge("exp of an argument above 10^6")
    return iv.exp(a)


def _log(a: Any) -> Any:
    if not _positive(a):
        raise NoEnclosure("log of an interval that is not certainly positive")
    return iv.log(a)


def _tanh(a: Any) -> Any:
    """tanh as 1 - 2/(e^{2t} + 1), monotone in t and with t once, so exact up to rounding. Beyond ±10^6,
    where e^{2t} is out of reach, the argument is clamped and that end widened to ±1 (tanh is monotone
    and inside (-1, 1), so the interval stays certified and keeps the sign)."""
    m = MAX_EXP_ARGUMENT
    lo_t, hi_t = min(max(a.a, -m), m), max(min(a.b, m), -m)
    r = 1 - 2 / (iv.exp(2 * iv.mpf([lo_t, hi_t])) + 1)
    return iv.mpf([-1 if a.a < -MAX_EXP_ARGUMENT else r.a, 1 if a.b > MAX_EXP_ARGUMENT else r.b])


def _pow(base: sympy.Expr, exponent: sympy.Expr) -> Any:
    b = _iv(base)
    if exponent.is_Integer:
        n = int(exponent)
        if n < 0 and not (_positive(b) or _negative(b)):
            raise NoEnclosure("division by an interval that contains 0")
        if n >= 0:
            out = iv.mpf(1)
            for _ in range(n):  # repeated products are valid for every sign of b
                out = out * b
            if n % 2 == 0 and n > 0:  # an even power is non-negative
                out = iv.mpf([max(out.a, 0), out.b])
            return out
        return 1 / _pow(base, -exponent)
    if exponent == sympy.Rational(1, 2):
        if b.a < 0:
            raise NoEnclosure("sqrt of an interval that is not certainly non-negative")
        return iv.sqrt(b)
    if not _positive(b):
        raise NoEnclosure("a non-integer power of an interval that is not certainly positive")
    return _exp(_iv(exponent) * iv.log(b))


def _minmax(args: list[Any], pick: Callable[..., Any]) -> Any:
    return iv.mpf([pick(*[a.a for a in args]), pick(*[a.b for a in args])])


def _iv(e: sympy.Basic) -> Any:
    if isinstance(e, sympy.Integer):
        return iv.mpf(int(e))
    if isinstance(e, sympy.Rational):
        return iv.mpf(int(e.p)) / iv.mpf(int(e.q))
    if e is sympy.pi:
        return iv.pi
    if e is sympy.E:
        return iv.e
    if isinstance(e, sympy.Float):
        return iv.mpf(mpmath.mpf(e._mpf_))  # a Float is exactly its binary value
    if isinstance(e, sympy.Add):
        out = iv.mpf(0)
        for a in e.args:
            out = out + _iv(a)
        return out
    if isinstance(e, sympy.Mul):
        out = iv.mpf(1)
        for a in e.args:
            out = out * _iv(a)
        return out
    if isinstance(e, sympy.Pow):
        return _pow(*e.args)
    if isinstance(e, sympy.exp):
        return _exp(_iv(e.args[0]))
    if isinstance(e, sympy.log):
        return _log(_iv(e.args[0]))
    if isinstance(e, sympy.tanh):
        return _tanh(_iv(e.args[0]))
    if isinstance(e, sympy.sin):
        return iv.sin(_iv(e.args[0]))
    if isinstance(e, sympy.cos):
        return iv.cos(_iv(e.args[0]))
    if isinstance(e, sympy.Abs):
        return abs(_iv(e.args[0]))
    if isinstance(e, sympy.Max):
        return _minmax([_iv(a) for a in e.args], max)
    if isinstance(e, sympy.Min):
        return _minmax([_iv(a) for a in e.args], min)
    if isinstance(e, sympy.sign):
        a = _iv(e.args[0])
        if _positive(a):
            return iv.mpf(1)
        if _negative(a):
            return iv.mpf(-1)
        if _is_zero(a):
            return iv.mpf(0)
        raise NoEnclosure("the sign of an interval that contains 0")
    if isinstance(e, sympy.Piecewise):
        for value, cond in e.args:
            if _truth(cond):
                return _iv(value)
        raise NoEnclosure("a Piecewise with no branch at this point")
    raise NoEnclosure(f"no interval evaluation for {type(e).__name__}")


def _fraction(raw: tuple[int, int, int, int], upward: bool) -> Fraction:
    """An mpf endpoint as a Fraction, rounded outward (``upward`` for an upper end) when it is too small
    to hold exactly; too large is no enclosure."""
    if raw in (finf, fninf, fnan):
        raise NoEnclosure("an unbounded interval")
    sign, man, exp, bc = raw
    if man == 0:
        return Fraction(0)
    if exp + bc > MAX_BITS:
        raise TooLarge("a magnitude beyond 2^20000")
    if exp + bc < -MAX_BITS:  # |v| < 2^-20000: round outward to 0 or to ±2^-20000
        tiny = Fraction(1, 2**MAX_BITS)
        if sign:
            return Fraction(0) if upward else -tiny
        return tiny if upward else Fraction(0)
    v = Fraction(man) * (Fraction(2) ** exp)
    return -v if sign else v


def _at(e: sympy.Expr, prec: int) -> Any:
    old = iv.prec
    iv.prec = prec
    try:
        return _iv(e)
    except (ValueError, ZeroDivisionError, OverflowError) as exc:
        raise NoEnclosure(f"interval evaluation failed: {type(exc).__name__}") from None
    finally:
        iv.prec = old


def _bounds(v: Any) -> tuple[Fraction, Fraction]:
    lo, hi = v._mpi_
    return _fraction(lo, upward=False), _fraction(hi, upward=True)


def enclose(e: sympy.Expr, rel_width: Fraction = Fraction(1, 10**30),
            abs_width: Fraction = Fraction(1, 10**300)) -> tuple[Fraction, Fraction]:
    """A certified interval around the constant ``e``, at the lowest precision that makes it narrower
    than ``rel_width`` relative to its magnitude or ``abs_width`` absolutely (the last one tried if none
    does: still certified, only wider)."""
    if isinstance(e, sympy.Rational):
        v = Fraction(int(e.p), int(e.q))
        return v, v
    if not e.is_number:
        raise NoEnclosure(f"{e} is not a constant")
    last: tuple[Fraction, Fraction] | None = None
    for prec in PRECISIONS:
        lo, hi = _bounds(_at(e, prec))
        last = (lo, hi)
        width, size = hi - lo, max(abs(lo), abs(hi))
        if width <= abs_width or width <= rel_width * size:
            break
    assert last is not None
    return last


def sign(e: sympy.Expr) -> int:
    """The certain sign of the constant ``e`` (1, -1, or 0 when it is exactly 0), or raise
    :class:`NoEnclosure` when no precision tried separates it from 0."""
    if isinstance(e, sympy.Rational):
        return int(sympy.sign(e))
    for prec in PRECISIONS:
        v = _at(e, prec)
        if _positive(v):
            return 1
        if _negative(v):
            return -1
        if _is_zero(v):
            return 0
    raise NoEnclosure(f"cannot separate {e} from 0")


def midpoint_float(e: sympy.Expr) -> float:
    """``e`` as the nearest float, from an interval narrow enough that the float is right."""
    lo, hi = enclose(e, rel_width=Fraction(1, 10**20), abs_width=Fraction(1, 10**320))
    if hi - lo > max(Fraction(1, 10**320), Fraction(1, 10**17) * max(abs(lo), abs(hi))):
        raise NoEnclosure(f"{e} cannot be evaluated reliably (interval [{float(lo)}, {float(hi)}])")
    return float((lo + hi) / 2)


__all__ = ["NoEnclosure", "TooLarge", "enclose", "midpoint_float", "sign"]
