"""The one place where pgcheck decides anything about a number.

Every sign, comparison, zero test, branch condition and displayed value that the validator relies on —
at parse time, in substitutions, in domain obligations, in re-checks of z3 models and search candidates,
and in what it prints — comes from here. A decision is

* **exact**: rational arithmetic (:mod:`pgcheck.enclose` keeps rational nodes as Fractions), or a symbolic
  proof that a branch-free constant is exactly 0 (sympy's exact algebra on logs of integers, radicals and
  trigonometric values; :func:`proved_zero`); or
* **certified**: outward-rounded interval arithmetic, refined from 128 to 8192 bits until the answer is
  certain; or
* **not made**: :class:`Undecided` is raised, and the caller must leave its property undecided.

Rounded floating evaluation (``evalf``, ``sympy.N``, ``float`` of a sympy number, sympy's own
``is_positive``) is never used to decide; a test greps the validator's modules for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any, TypeVar

import mpmath
import sympy

from pgcheck import deadline, enclose, symbols
from pgcheck.enclose import PRECISIONS, NoEnclosure, Num, TooLarge, Undefined, Unsure, sign_of
from pgcheck.errors import PgcheckError
from pgcheck.symbols import X, Y

Point = Mapping[sympy.Symbol, Num]
T = TypeVar("T")
ZERO_PROOF_SECONDS = 1.0


class Undecided(PgcheckError, ArithmeticError):
    """Neither exact arithmetic nor certified intervals up to 8192 bits settle the question."""


__all__ = ["TooLarge", "Undecided", "Undefined", "at", "bounds", "exact_rational", "fmt", "greater", "point",
           "proved_zero", "show", "sign", "sign_difference", "truth", "violated"]


def point(x: Fraction, y: Fraction) -> dict[sympy.Symbol, Num]:
    return {X: x, Y: y}


def at(x: Fraction) -> dict[sympy.Symbol, Num]:
    return {X: x}


def _no_value(exc: NoEnclosure) -> Undecided:
    return Undecided(str(exc))


def _refine(attempt: Callable[[int], T], what: Callable[[], str]) -> T:
    """``attempt(bits)`` at 128, 512, 2048 and 8192 bits until one settles the question (each raises Unsure
    when its intervals cannot); raises :class:`Undecided` when none does."""
    last: Exception | None = None
    for prec in PRECISIONS:
        try:
            return attempt(prec)
        except Unsure as exc:
            last = exc
        except TooLarge:
            raise
        except NoEnclosure as exc:
            raise _no_value(exc) from None
    raise Undecided(f"cannot decide {what()}: {last}")


def _refine_or_zero(attempt: Callable[[int], T], what: Callable[[], str], e: sympy.Basic, env: Point | None,
                    if_zero: T) -> T:
    """:func:`_refine`, and when intervals cannot settle it (an exact 0 never has a strict enclosure)
    ``if_zero`` if ``e`` is proved to be exactly 0 there."""
    try:
        return _refine(attempt, what)
    except Undecided:
        if proved_zero(e, env):
            return if_zero
        raise


def sign(e: sympy.Basic, env: Point | None = None) -> int:
    """The sign of ``e`` (a constant, or ``e`` at the point ``env``): 1, -1, or 0 only when it is exactly 0.
    Raises :class:`Undefined` when ``e`` has no value there, :class:`Undecided` when it cannot be settled."""
    return _refine_or_zero(lambda prec: sign_of(enclose.evaluate(e, env, prec)),
                           lambda: f"the sign of {symbols.render(e)}", e, env, if_zero=0)


def sign_difference(a: sympy.Basic, env_a: Point, b: sympy.Basic, env_b: Point) -> int:
    """The sign of a(env_a) - b(env_b); raises as :func:`sign`."""
    def attempt(prec: int) -> int:
        va, vb = enclose.evaluate(a, env_a, prec), enclose.evaluate(b, env_b, prec)
        if isinstance(va, Fraction) and isinstance(vb, Fraction):
            return (va > vb) - (va < vb)
        return sign_of(enclose.to_iv(va) - enclose.to_iv(vb))
    return _refine(attempt, lambda: "the order of the two values")


def greater(a: sympy.Basic, env_a: Point, b: sympy.Basic, env_b: Point) -> bool:
    """True only when a(env_a) > b(env_b) is certain (False when it is false *or* undecided or undefined)."""
    try:
        return sign_difference(a, env_a, b, env_b) > 0
    except (Undecided, Undefined, TooLarge):
        return False


def truth(c: sympy.Basic, env: Point | None = None) -> bool:
    """The truth of the condition ``c`` at ``env``; raises :class:`Undefined` or :class:`Undecided`."""
    return _refine(lambda prec: enclose.truth(c, env, prec), lambda: symbols.render(c))


def bounds(e: sympy.Basic, env: Point | None = None,
           rel_width: Fraction = Fraction(1, 10**30)) -> tuple[Fraction, Fraction]:
    """Certified rational bounds lo <= e <= hi; raises :class:`Undecided` (or Undefined, TooLarge)."""
    try:
        return enclose.enclose(e, rel_width=rel_width, env=env)
    except TooLarge:
        raise
    except NoEnclosure as exc:
        raise _no_value(exc) from None


def exact_rational(e: sympy.Basic, env: Point | None = None) -> Fraction | None:
    """The value of ``e`` when exact rational arithmetic gives it, else None."""
    try:
        v = enclose.evaluate(e, env, PRECISIONS[0])
    except (NoEnclosure, Undefined):
        return None
    return v if isinstance(v, Fraction) else None


_BRANCHING = (sympy.Piecewise, sympy.Abs, sympy.Max, sympy.Min, sympy.sign, sympy.Rel, sympy.ITE,
              sympy.logic.boolalg.Boolean)


def _split_logs(e: sympy.Basic) -> sympy.Basic:
    """log(p/q) of a positive rational as a sum of logs of its (small) prime factors: exact, so that
    log(6) - log(2) - log(3) becomes 0 by plain algebra."""
    def split(arg: sympy.Expr) -> sympy.Expr:
        if not (isinstance(arg, sympy.Rational) and arg > 0):
            return sympy.log(arg)
        total = sympy.Integer(0)
        for n, s in ((int(arg.p), 1), (int(arg.q), -1)):
            for p, k in sympy.factorint(n, limit=10**5).items():
                total += s * k * sympy.log(sympy.Integer(p))
        return total
    return e.replace(lambda a: isinstance(a, sympy.log), lambda a: split(a.args[0]))


def _at_rational_point(e: sympy.Basic, env: Point | None) -> sympy.Basic | None:
    """``e`` with the variables of ``env`` replaced by its rationals, or None when ``env`` binds an interval."""
    subs: dict[sympy.Basic, sympy.Basic] = {}
    for s, v in (env or {}).items():
        if not isinstance(v, Fraction):
            return None
        subs[s] = sympy.Rational(v.numerator, v.denominator)
    return e.xreplace(subs)


def proved_zero(e: sympy.Basic, env: Point | None = None) -> bool:
    """True only when ``e`` (at ``env``, which must bind rationals) is *proved* exactly 0 by sympy's exact
    algebra. Only branch-free expressions qualify: rebuilding one cannot make sympy decide a condition."""
    c = symbols.concrete(e)
    if c.has(*_BRANCHING) or not isinstance(c, sympy.Expr):
        return False
    at = _at_rational_point(c, env)
    if at is None or at.free_symbols:
        return False
    try:
        if sympy.expand(_split_logs(at)) == 0:
            return True
        return bool(deadline.limited(lambda: sympy.simplify(_split_logs(at)) == 0, ZERO_PROOF_SECONDS))
    except (deadline.TimeUp, TypeError, ValueError, ArithmeticError, RecursionError):
        return False


def _has_branch(e: sympy.Basic) -> bool:
    """Whether ``e`` holds a branch or a condition (a Symbol is a sympy Boolean too, so ``has`` cannot say)."""
    return any(isinstance(n, _BRANCHING) and not isinstance(n, sympy.Symbol) for n in sympy.preorder_traversal(e))


def equal_at(a: sympy.Basic, env_a: Point, b: sympy.Basic, env_b: Point) -> bool:
    """True only when a(env_a) = b(env_b) is *proved* by exact algebra (both points bind rationals): the
    equality that interval arithmetic can never show for a transcendental value, as 3 - cos(1/1000) twice.
    Branch-free a and b only: substituting a point into a branch could make sympy decide its condition."""
    if _has_branch(symbols.concrete(a)) or _has_branch(symbols.concrete(b)):
        return False
    va, vb = _at_rational_point(a, env_a), _at_rational_point(b, env_b)
    if va is None or vb is None:
        return False
    return va == vb or proved_zero(sympy.Add(va, -vb))


def satisfied(guard: sympy.Basic, operand: sympy.Basic, kind: str, env: Point) -> bool:
    """True only when, at ``env`` (a point, or a box of intervals), the partial operation certainly is
    defined: its guard is certainly false there, or its operand certainly is ``kind``."""
    try:
        if not truth(guard, env):
            return True
    except (Undecided, Undefined, TooLarge):
        pass
    try:
        if kind == "nonnegative":
            return nonnegative(operand, env)
        s = sign(operand, env)
    except (Undecided, Undefined, TooLarge):
        return False
    return {"nonzero": s != 0, "positive": s > 0}[kind]


def nonnegative(e: sympy.Basic, env: Point | None = None) -> bool:
    """Whether ``e`` is >= 0 (at a point, or everywhere on a box); raises :class:`Undefined` or
    :class:`Undecided`. Unlike :func:`sign` it needs no strict sign: an enclosure [0, b] settles it, as
    x ** 2 has on a box that reaches x = 0."""
    def attempt(prec: int) -> bool:
        v = enclose.evaluate(e, env, prec)
        if isinstance(v, Fraction):
            return v >= 0
        if v.a >= 0:
            return True
        if v.b < 0:
            return False
        raise enclose.Unsure("an interval that reaches below 0 and above it")
    return _refine_or_zero(attempt, lambda: f"whether {symbols.render(e)} >= 0", e, env, if_zero=True)


def violated(guard: sympy.Basic, operand: sympy.Basic, kind: str, x: Fraction, y: Fraction) -> bool:
    """True only when, at (x, y), ``guard`` certainly holds and ``operand`` is certainly not ``kind``
    (nonzero | positive | nonnegative): a partial operation of the text is certainly evaluated outside its
    domain there. A guard or operand that is itself undefined is left to the inner operation's own check."""
    env = point(x, y)
    try:
        if not truth(guard, env):
            return False
        s = sign(operand, env)
    except (Undecided, Undefined, TooLarge):
        return False
    if kind == "nonzero":
        return s == 0
    if kind == "positive":
        return s <= 0
    return s < 0


# ---------------------------------------------------------------------------------------------------
# numbers for people


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


def _decimal(v: Fraction, digits: int) -> str:
    """``v`` to ``digits`` significant digits, from exact integer arithmetic (no float rounding)."""
    if v == 0:
        return "0"
    sgn, a = ("-" if v < 0 else ""), abs(v)
    e = len(str(a.numerator)) - len(str(a.denominator))
    while Fraction(10) ** e > a:
        e -= 1
    while Fraction(10) ** (e + 1) <= a:
        e += 1
    m = round(a / Fraction(10) ** (e - digits + 1))
    if m >= 10**digits:  # 9.99…95 rounded up to 10.0…0: one more digit before the point
        m, e = m // 10, e + 1
    text = str(m).rstrip("0") or "0"
    point_at = e + 1
    if -5 <= e < 16:
        if point_at <= 0:
            body = "0." + "0" * (-point_at) + text
        elif point_at >= len(text):
            body = text + "0" * (point_at - len(text))
        else:
            body = text[:point_at] + "." + text[point_at:]
        return sgn + body
    mant = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return f"{sgn}{mant}e{e:+d}"


def show(e: sympy.Basic, env: Point | None = None, digits: int = 15) -> str:
    """The value of ``e`` at ``env`` for people: exact when rational and short, else ``digits``
    significant digits that a certified interval guarantees (a ``≈`` marks a value not known to that many;
    magnitudes like e^(-10^18) are printed with their own exponent, not as 0)."""
    v = exact_rational(e, env)
    if v is not None and len(fmt(v)) <= 24:
        return fmt(v)
    last: Any = None
    for prec in PRECISIONS:
        try:
            n = enclose.evaluate(e, env, prec)
        except Unsure:
            continue
        except (NoEnclosure, Undefined) as exc:
            return f"(no certified value: {exc})"
        if isinstance(n, Fraction):
            return _decimal(n, digits)
        last = n
        with mpmath.mp.workprec(prec + 10):
            a, b = mpmath.mpf(n.a), mpmath.mpf(n.b)
            mid = (a + b) / 2
            if (a > 0 or b < 0) and b - a <= abs(mid) * mpmath.mpf(10) ** -(digits + 2):
                return str(mpmath.nstr(mid, digits))
    if last is None:
        return "(no certified value)"
    with mpmath.mp.workprec(PRECISIONS[-1] + 10):
        a, b = mpmath.mpf(last.a), mpmath.mpf(last.b)
        if a == 0 and b == 0:
            return "0"
        if a <= 0 <= b:
            return f"0 (to within {mpmath.nstr(max(abs(a), abs(b)), 3)})"
        return f"≈{mpmath.nstr((a + b) / 2, digits)} (certified in [{mpmath.nstr(a, 6)}, {mpmath.nstr(b, 6)}])"
