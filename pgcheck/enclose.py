"""Certified evaluation of sympy expressions: exact rationals where possible, outward-rounded intervals else.

``sympy.N`` answers with the digits it is asked for even where catastrophic cancellation leaves none of
them right: ``log(6) - log(2) - log(3)`` is exactly 0, yet ``tanh((log(6) - log(2) - log(3)) * exp(1000) - 1)``
evaluates to 1 at 45 digits (the true value is ``tanh(-1)``). This module is the arithmetic that pgcheck's
decisions rest on instead (:mod:`pgcheck.decide` is the only caller that decides anything with it).

:func:`evaluate` walks an expression node by node at a given precision. A node whose inputs are exact
rationals and whose operation is rational (``+ - * /``, integer powers, ``abs``, ``max``, ``min``,
``sign``, comparisons) stays an exact :class:`~fractions.Fraction`; anything else becomes an mpmath ``iv``
interval computed with outward rounding, so it is *guaranteed* to contain the exact value. Variables may be
bound to rationals or to intervals (then the result holds every value on that box). κ constants
(:mod:`pgcheck.symbols`) are evaluated from their definitions.

Guarantees: a returned Fraction is the exact value; a returned interval contains it; :class:`Undefined`
means the expression certainly has no real value there (a partial operation outside its domain, a
Piecewise with no branch); :class:`Unsure` means this precision does not settle a branch condition or a
domain test (a higher one may); :class:`TooLarge` means a magnitude beyond e^(10^6); any other
:class:`NoEnclosure` means the node is not supported. Nothing is ever guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from fractions import Fraction
from math import isqrt
from typing import Any

import mpmath
import sympy
from mpmath import iv
from mpmath.libmp import finf, fnan, fninf

from pgcheck import symbols
from pgcheck.errors import PgcheckError

PRECISIONS = (128, 512, 2048, 8192)  # bits tried in turn until an interval is narrow enough
MAX_EXP_ARGUMENT = 10**6             # exp of anything larger is not a number anyone means
MAX_BITS = 20_000                    # endpoints with larger binary exponents are not turned into Fractions
MAX_FRACTION_BITS = 4096             # exact rationals larger than this continue as intervals

Num = Fraction | Any  # an exact Fraction, or an mpmath iv interval


class NoEnclosure(PgcheckError, ArithmeticError):
    """No certified value for this expression (see the module docstring)."""


class TooLarge(NoEnclosure):
    """The constant is beyond e^(10^6) or 2^20000 in magnitude: no one means such a number, and even
    sympy's own evaluation of it may not finish."""


class Unsure(NoEnclosure):
    """This precision does not settle a condition or a domain test; a higher precision may."""


class Undefined(PgcheckError, ArithmeticError):
    """The expression certainly has no finite real value here."""


# ---------------------------------------------------------------------------------------------------
# numbers: exact or interval


def to_iv(v: Num) -> Any:
    if isinstance(v, Fraction):
        return iv.mpf(v.numerator) / iv.mpf(v.denominator) if v.denominator != 1 else iv.mpf(v.numerator)
    return v


def _small(v: Fraction) -> Num:
    """``v`` itself, or its interval when it has grown too large to carry exactly."""
    if v.numerator.bit_length() + v.denominator.bit_length() > MAX_FRACTION_BITS:
        return to_iv(v)
    return v


def sign_of(v: Num) -> int:
    """The certain sign of ``v``; raises :class:`Unsure` when an interval holds 0 and more."""
    if isinstance(v, Fraction):
        return (v > 0) - (v < 0)
    if v.a > 0:
        return 1
    if v.b < 0:
        return -1
    if v.a == 0 and v.b == 0:
        return 0
    raise Unsure("an interval that contains 0")


def _add(a: Num, b: Num) -> Num:
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return _small(a + b)
    return to_iv(a) + to_iv(b)


def _mul(a: Num, b: Num) -> Num:
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return _small(a * b)
    if (isinstance(a, Fraction) and a == 0) or (isinstance(b, Fraction) and b == 0):
        return Fraction(0)  # 0 times a finite number, exactly
    return to_iv(a) * to_iv(b)


def _reciprocal(a: Num) -> Num:
    if isinstance(a, Fraction):
        if a == 0:
            raise Undefined("division by 0")
        return 1 / a
    s = _sign_or_zero(a)
    if s == 0:
        raise Undefined("division by 0")
    return 1 / a


def _sign_or_zero(a: Num) -> int:
    s = sign_of(a)  # raises Unsure when the interval straddles 0
    return s


def _exp(a: Num) -> Num:
    if isinstance(a, Fraction) and a == 0:
        return Fraction(1)
    t = to_iv(a)
    if t.b > MAX_EXP_ARGUMENT:
        raise TooLarge("exp of an argument above 10^6")
    return iv.exp(t)


def _log(a: Num) -> Num:
    if isinstance(a, Fraction) and a == 1:
        return Fraction(0)
    s = sign_of(a) if isinstance(a, Fraction) or a.b <= 0 or a.a > 0 else None
    if s is None:
        raise Unsure("log of an interval that is not certainly positive")
    if s <= 0:
        raise Undefined("log of a number <= 0")
    return iv.log(to_iv(a))


def _tanh(a: Num) -> Num:
    """tanh as 1 - 2/(e^{2t} + 1), monotone in t and with t once, so exact up to rounding. Beyond ±10^6,
    where e^{2t} is out of reach, the argument is clamped and that end widened to ±1 (tanh is monotone
    and inside (-1, 1), so the interval stays certified and keeps the sign)."""
    if isinstance(a, Fraction) and a == 0:
        return Fraction(0)
    t = to_iv(a)
    m = MAX_EXP_ARGUMENT
    lo_t, hi_t = min(max(t.a, -m), m), max(min(t.b, m), -m)
    r = 1 - 2 / (iv.exp(2 * iv.mpf([lo_t, hi_t])) + 1)
    return iv.mpf([-1 if t.a < -m else r.a, 1 if t.b > m else r.b])


def _sin_cos(t: Any, sine: bool) -> Any:
    """sin or cos of the interval ``t``. An interval wider than a period (sin(exp(10**6)): the argument is
    known only to ~2^1442695 at any working precision) gets [-1, 1] at once, which is always an enclosure;
    mpmath would first reduce both ends mod π/2, which takes minutes for such arguments."""
    if not (mpmath.isfinite(t.a) and mpmath.isfinite(t.b)) or t.b - t.a > 7:  # 7 > 2π
        return iv.mpf([-1, 1])
    return (iv.sin if sine else iv.cos)(t)


def _sqrt(a: Num) -> Num:
    if isinstance(a, Fraction):
        if a < 0:
            raise Undefined("sqrt of a negative number")
        p, q = isqrt(a.numerator), isqrt(a.denominator)
        if p * p == a.numerator and q * q == a.denominator:
            return Fraction(p, q)
        return iv.sqrt(to_iv(a))
    if a.b < 0:
        raise Undefined("sqrt of a negative number")
    if a.a < 0:
        raise Unsure("sqrt of an interval that is not certainly non-negative")
    return iv.sqrt(a)


def _int_pow(b: Num, n: int) -> Num:
    if n < 0:
        return _reciprocal(_int_pow(b, -n))
    if isinstance(b, Fraction):
        bits = b.numerator.bit_length() + b.denominator.bit_length()
        if bits * n <= MAX_FRACTION_BITS:
            return b**n
    t = to_iv(b)
    out = iv.mpf(1)
    for _ in range(n):  # repeated products are valid for every sign of t
        out = out * t
    if n % 2 == 0 and n > 0:  # an even power is non-negative
        out = iv.mpf([max(out.a, 0), out.b])
    return out


def _minmax(args: list[Num], pick: Callable[..., Any]) -> Num:
    if all(isinstance(a, Fraction) for a in args):
        return pick(args)
    ivs = [to_iv(a) for a in args]
    return iv.mpf([pick([a.a for a in ivs]), pick([a.b for a in ivs])])


# ---------------------------------------------------------------------------------------------------
# the walk


_RELATIONS = (sympy.StrictLessThan, sympy.LessThan, sympy.StrictGreaterThan, sympy.GreaterThan)


class Evaluator:
    """Evaluates at one precision with variables bound by ``env`` (Fractions or iv intervals)."""

    def __init__(self, env: Mapping[sympy.Symbol, Num] | None = None) -> None:
        self.env = dict(env or {})
        self._kappa: dict[sympy.Symbol, Num] = {}

    def num(self, e: sympy.Basic) -> Num:
        if isinstance(e, sympy.Rational):
            return Fraction(int(e.p), int(e.q))
        if isinstance(e, sympy.Symbol):
            return self.symbol(e)
        if e is sympy.pi:
            return iv.pi
        if e is sympy.E:
            return iv.e
        if e is sympy.zoo or e is sympy.nan or e is sympy.oo or e is sympy.S.NegativeInfinity:
            raise Undefined("no finite value (sympy's mark of a division by 0 in a branch)")
        if isinstance(e, sympy.Float):
            man, exp = mpmath.mpf(e._mpf_).man_exp
            return Fraction(int(man)) * Fraction(2) ** int(exp)
        if isinstance(e, sympy.Add):
            out: Num = Fraction(0)
            for a in e.args:
                out = _add(out, self.num(a))
            return out
        if isinstance(e, sympy.Mul):
            out = Fraction(1)
            for a in e.args:
                out = _mul(out, self.num(a))
            return out
        if isinstance(e, sympy.Pow):
            return self.power(e.args[0], e.args[1])
        if isinstance(e, sympy.exp):
            return _exp(self.num(e.args[0]))
        if isinstance(e, sympy.log):
            return _log(self.num(e.args[0]))
        if isinstance(e, sympy.tanh):
            return _tanh(self.num(e.args[0]))
        if isinstance(e, sympy.sin | sympy.cos):
            a = self.num(e.args[0])
            if isinstance(a, Fraction) and a == 0:
                return Fraction(0 if isinstance(e, sympy.sin) else 1)
            return _sin_cos(to_iv(a), isinstance(e, sympy.sin))
        if isinstance(e, sympy.Abs):
            a = self.num(e.args[0])
            return abs(a)
        if isinstance(e, sympy.Max):
            return _minmax([self.num(a) for a in e.args], max)
        if isinstance(e, sympy.Min):
            return _minmax([self.num(a) for a in e.args], min)
        if isinstance(e, sympy.sign):
            return Fraction(sign_of(self.num(e.args[0])))
        if isinstance(e, sympy.Heaviside):  # from derivatives of max/min; sympy's H(0) is 1/2 unless given
            s = sign_of(self.num(e.args[0]))
            h0 = Fraction(1, 2) if len(e.args) < 2 else self.num(e.args[1])
            return Fraction(1) if s > 0 else (Fraction(0) if s < 0 else h0)
        if isinstance(e, sympy.DiracDelta):
            if sign_of(self.num(e.args[0])) != 0:
                return Fraction(0)
            raise Undefined("a Dirac delta at its singular point")
        if isinstance(e, sympy.Piecewise):
            for value, cond in e.args:
                if self.truth(cond):
                    return self.num(value)
            raise Undefined("a Piecewise with no branch here")
        raise NoEnclosure(f"no certified evaluation for {type(e).__name__}")

    def symbol(self, s: sympy.Symbol) -> Num:
        if s in self.env:
            return self.env[s]
        if s in self._kappa:
            return self._kappa[s]
        d = symbols.definition(s)
        if d is None:
            raise NoEnclosure(f"no value for the symbol {s}")
        v = self.num(d)
        self._kappa[s] = v
        return v

    def power(self, base: sympy.Expr, exponent: sympy.Expr) -> Num:
        b = self.num(base)
        if exponent.is_Integer:
            return _int_pow(b, int(exponent))
        if exponent == sympy.Rational(1, 2):
            return _sqrt(b)
        if exponent == sympy.Rational(-1, 2):
            return _reciprocal(_sqrt(b))
        e = self.num(exponent)
        s = sign_of(b) if isinstance(b, Fraction) or b.a > 0 or b.b < 0 else None
        if s is None:
            raise Unsure("a real power of an interval that is not certainly positive")
        if s < 0:
            raise Undefined("a non-integer power of a negative number")
        if s == 0:
            es = sign_of(e)
            if es <= 0:
                raise Undefined("0 to a non-positive power")
            return Fraction(0)
        return _exp(_mul(e, _log(b)))

    def truth(self, c: sympy.Basic) -> bool:
        if c is sympy.true:
            return True
        if c is sympy.false:
            return False
        if isinstance(c, sympy.And | sympy.Or):
            # every operand counts, in any order: one certain False (And) or True (Or) settles it even
            # when another operand cannot be evaluated here (definedness is checked separately, as written)
            settle = not isinstance(c, sympy.And)
            first_error: ArithmeticError | None = None
            for a in c.args:
                try:
                    if self.truth(a) == settle:
                        return settle
                except (Unsure, Undefined) as exc:
                    first_error = first_error or exc
            if first_error is not None:
                raise first_error
            return not settle
        if isinstance(c, sympy.Not):
            return not self.truth(c.args[0])
        if isinstance(c, _RELATIONS):
            s = sign_of(_add(self.num(c.args[0]), _mul(Fraction(-1), self.num(c.args[1]))))
            if isinstance(c, sympy.StrictLessThan):
                return s < 0
            if isinstance(c, sympy.LessThan):
                return s <= 0
            if isinstance(c, sympy.StrictGreaterThan):
                return s > 0
            return s >= 0
        if isinstance(c, sympy.Equality | sympy.Unequality):
            d = _add(self.num(c.args[0]), _mul(Fraction(-1), self.num(c.args[1])))
            if isinstance(d, Fraction):
                equal = d == 0
            elif d.a > 0 or d.b < 0:
                equal = False
            elif d.a == 0 and d.b == 0:
                equal = True
            else:
                raise Unsure("an equality that intervals cannot settle")
            return equal == isinstance(c, sympy.Equality)
        if isinstance(c, sympy.ITE):
            return self.truth(c.args[1]) if self.truth(c.args[0]) else self.truth(c.args[2])
        raise NoEnclosure(f"no certified evaluation for the condition {type(c).__name__}")


@contextmanager
def precision(bits: int) -> Iterator[None]:
    old = iv.prec
    iv.prec = bits
    try:
        yield
    finally:
        iv.prec = old


@contextmanager
def _evaluating(prec: int) -> Iterator[None]:
    # mpmath signals an interval it cannot bound by ordinary exceptions: none of them may pass as a value
    with precision(prec):
        try:
            yield
        except (ValueError, ZeroDivisionError, OverflowError) as exc:
            raise NoEnclosure(f"interval evaluation failed: {type(exc).__name__}") from None


def evaluate(e: sympy.Basic, env: Mapping[sympy.Symbol, Num] | None = None, prec: int = 128) -> Num:
    """``e`` at precision ``prec`` (bits) with variables bound by ``env``; see the module docstring."""
    with _evaluating(prec):
        return Evaluator(env).num(e)


def truth(c: sympy.Basic, env: Mapping[sympy.Symbol, Num] | None = None, prec: int = 128) -> bool:
    """The truth of the condition ``c`` at precision ``prec``; raises as :func:`evaluate`."""
    with _evaluating(prec):
        return Evaluator(env).truth(c)


def interval(lo: Fraction, hi: Fraction, prec: int = 128) -> Any:
    """The iv interval [lo, hi] (rounded outward)."""
    with precision(prec):
        a, b = to_iv(lo), to_iv(hi)
        return iv.mpf([a.a, b.b])


# ---------------------------------------------------------------------------------------------------
# bounds as Fractions


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


def bounds(v: Num) -> tuple[Fraction, Fraction]:
    """A certified value as rational bounds (lo, hi)."""
    if isinstance(v, Fraction):
        return v, v
    lo, hi = v._mpi_
    return _fraction(lo, upward=False), _fraction(hi, upward=True)


def enclose(e: sympy.Expr, rel_width: Fraction = Fraction(1, 10**30),
            abs_width: Fraction = Fraction(1, 10**300),
            env: Mapping[sympy.Symbol, Num] | None = None) -> tuple[Fraction, Fraction]:
    """A certified interval around ``e`` (a constant, or ``e`` on the box ``env``), at the lowest precision
    that makes it narrower than ``rel_width`` relative to its magnitude or ``abs_width`` absolutely (the
    last one tried if none does: still certified, only wider)."""
    if isinstance(e, sympy.Rational):
        v = Fraction(int(e.p), int(e.q))
        return v, v
    last: tuple[Fraction, Fraction] | None = None
    error: NoEnclosure | None = None
    for prec in PRECISIONS:
        try:
            lo, hi = bounds(evaluate(e, env, prec))
        except Unsure as exc:
            error = exc
            continue
        last = (lo, hi)
        width, size = hi - lo, max(abs(lo), abs(hi))
        if width <= abs_width or width <= rel_width * size:
            break
    if last is None:
        raise error or NoEnclosure(f"no enclosure of {e}")
    return last


def sign(e: sympy.Expr, env: Mapping[sympy.Symbol, Num] | None = None) -> int:
    """The certain sign of ``e`` (1, -1, or 0 when it is exactly 0), or raise :class:`NoEnclosure` when
    no precision tried separates it from 0 (:class:`Undefined` when it has no value)."""
    for prec in PRECISIONS:
        try:
            return sign_of(evaluate(e, env, prec))
        except Unsure:
            continue
    raise NoEnclosure(f"cannot separate {symbols.render(e)} from 0")


def midpoint_float(e: sympy.Expr) -> float:
    """``e`` as the nearest float, from an interval narrow enough that the float is right."""
    lo, hi = enclose(e, rel_width=Fraction(1, 10**20), abs_width=Fraction(1, 10**320))
    if hi - lo > max(Fraction(1, 10**320), Fraction(1, 10**17) * max(abs(lo), abs(hi))):
        raise NoEnclosure(f"{symbols.render(e)} cannot be evaluated reliably (interval [{float(lo)}, {float(hi)}])")
    return float((lo + hi) / 2)


__all__ = ["NoEnclosure", "Num", "TooLarge", "Undefined", "Unsure", "bounds", "enclose", "evaluate",
           "interval", "midpoint_float", "sign", "truth"]
