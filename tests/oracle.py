"""An independent high-precision evaluator of scale-function texts, the oracle of the differential tests.

It shares no code with pgcheck (it imports only the standard library and mpmath): its own :mod:`ast`
walker over the user's text, with the grammar of ``pgcheck/expr.py`` (numbers read exactly as decimals,
``x``, ``y``, named parameters, ``pi``, ``+ - * / **``, unary ``-``/``+``, chained comparisons,
``and``/``or``/``not``, ``a if c else b`` and the functions exp log log1p expm1 sqrt abs max min clip sign
tanh sigmoid softplus relu cos sin), evaluated in **Python's order**: ``and``/``or`` short-circuit, only the
chosen branch of ``a if c else b`` is evaluated, and a chained comparison stops at the first false link.
Values are the real numbers, not floats: ``exp(1000)`` is a finite real number.

Every value carries two tracks:

* an *exact* track, where the value lies in the Q-vector space spanned by 1, sqrt(s) (s squarefree),
  log(p) (p prime) and pi. These are linearly independent over Q (Lindemann-Weierstrass, Baker), so a
  combination is zero exactly when its coefficients are: ``log(6) - log(2) - log(3)``,
  ``sqrt(2)**2 - 2`` and ``exp(log(2)) - 2`` are known to be exactly 0, and ``0 * anything = 0``.
  When an operation leaves the space (``exp(1)``, ``log(2) * log(3)``) the exact track is dropped;
* a *ball* track (midpoint ``m``, radius ``r``) in mpmath at the current precision, with the rounding
  error of every operation added to the radius, so the true value lies in ``[m - r, m + r]``.

A comparison, a sign, or the domain test of a partial operation is decided by the exact track when it
has one, otherwise by the ball; when the ball cannot decide it the whole evaluation is repeated at twice
the precision: 200, 400, 800, 1600 and 3200 digits. :class:`OracleUnsure` is raised when even the last
level does not settle it (a comparison of two transcendental values that agree to 3200 digits, a log of
a number indistinguishable from 0). :class:`OracleUndefined` is raised only when an operation that
Python would really evaluate is certainly outside its domain: division by 0, log of a number <= 0,
log1p of a number <= -1, sqrt of a number < 0, a non-integer power of a negative number, 0 to a negative
power.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

import mpmath
from mpmath import MPContext

LEVELS: tuple[int, ...] = (200, 400, 800, 1600, 3200)  # decimal digits

FUNCTION_ARITY: dict[str, tuple[int, int]] = {
    "exp": (1, 1), "log": (1, 1), "log1p": (1, 1), "expm1": (1, 1), "sqrt": (1, 1), "abs": (1, 1),
    "sign": (1, 1), "tanh": (1, 1), "sigmoid": (1, 1), "softplus": (1, 1), "relu": (1, 1), "cos": (1, 1),
    "sin": (1, 1), "max": (2, 16), "min": (2, 16), "clip": (3, 3),
}


def show(q: Fraction) -> str:
    """A rational as short text, safely (str() of a 5000-digit integer raises ValueError)."""
    if q.numerator.bit_length() < 200 and q.denominator.bit_length() < 200:
        return str(q)
    return str(mpmath.nstr(mpmath.mpf(q.numerator) / q.denominator, 8))


class OracleError(Exception):
    """Base class of the oracle's exceptions."""


class OracleSyntaxError(OracleError, ValueError):
    """The text is outside the grammar (the oracle refuses it, as pgcheck should)."""


class OracleUndefined(OracleError, ArithmeticError):
    """f is certainly undefined at the point: Python would evaluate an operation outside its domain."""


class OracleUnsure(OracleError):
    """The precision available did not settle a comparison, a sign or a domain test."""


# ---------------------------------------------------------------------------------------------------
# the exact track: Q-linear combinations of 1, sqrt(s), log(p), pi

Atom = tuple[Any, ...]  # ("1", 1), ("sqrt", s), ("log", p), ("pi", 1) or an opaque ("o", node, values)
ONE: Atom = ("1", 1)
PI: Atom = ("pi", 1)
MAX_TERMS = 16
MAX_BITS = 20_000


def _primes(limit: int) -> list[int]:
    sieve = bytearray([1]) * (limit + 1)
    sieve[0:2] = b"\x00\x00"
    for i in range(2, math.isqrt(limit) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytearray(len(sieve[i * i :: i]))
    return [i for i, v in enumerate(sieve) if v]


_SMALL_PRIMES = _primes(10_000)


@lru_cache(maxsize=4096)
def factor(n: int) -> tuple[tuple[int, int], ...] | None:
    """The prime factorisation of n >= 1, or None when a cofactor beyond 10^8 has no prime below 10^4."""
    if n < 1:
        raise ValueError(n)
    out: list[tuple[int, int]] = []
    for p in _SMALL_PRIMES:
        if p * p > n:
            break
        if n % p == 0:
            e = 0
            while n % p == 0:
                n //= p
                e += 1
            out.append((p, e))
    if n > 1:
        if n > _SMALL_PRIMES[-1] ** 2:
            return None
        out.append((n, 1))
    return tuple(out)


class Exact:
    """An exact real number sum(q_a * a) over atoms a in {1, sqrt(s), log(p), pi} (q_a rational)."""

    __slots__ = ("terms",)

    def __init__(self, terms: Mapping[Atom, Fraction]) -> None:
        self.terms: dict[Atom, Fraction] = {a: q for a, q in terms.items() if q != 0}

    @staticmethod
    def of(q: Fraction | int) -> Exact:
        return Exact({ONE: Fraction(q)})

    @property
    def is_zero(self) -> bool:
        return not self.terms

    def rational(self) -> Fraction | None:
        if not self.terms:
            return Fraction(0)
        if len(self.terms) == 1 and ONE in self.terms:
            return self.terms[ONE]
        return None

    @property
    def algebraic(self) -> bool:
        return all(a[0] in ("1", "sqrt") for a in self.terms)

    def ok(self) -> Exact | None:
        """self, or None when it grew too large to be worth tracking."""
        if len(self.terms) > MAX_TERMS:
            return None
        for q in self.terms.values():
            if q.numerator.bit_length() > MAX_BITS or q.denominator.bit_length() > MAX_BITS:
                return None
        return self

    def __add__(self, other: Exact) -> Exact:
        t = dict(self.terms)
        for a, q in other.terms.items():
            t[a] = t.get(a, Fraction(0)) + q
        return Exact(t)

    def __neg__(self) -> Exact:
        return Exact({a: -q for a, q in self.terms.items()})

    def __sub__(self, other: Exact) -> Exact:
        return self + (-other)

    def scale(self, q: Fraction) -> Exact:
        return Exact({a: c * q for a, c in self.terms.items()})

    def __mul__(self, other: Exact) -> Exact | None:
        qa, qb = self.rational(), other.rational()
        if qa is not None:
            return other.scale(qa).ok()
        if qb is not None:
            return self.scale(qb).ok()
        if not (self.algebraic and other.algebraic):
            return None
        out = Exact({})
        for a, ca in self.terms.items():
            for b, cb in other.terms.items():
                out = out + _sqrt_product(a[1], b[1]).scale(ca * cb)
        return out.ok()

    def inverse(self) -> Exact | None:
        q = self.rational()
        if q is not None:
            return None if q == 0 else Exact.of(1 / q)
        if len(self.terms) == 1:
            ((a, c),) = self.terms.items()
            if a[0] == "sqrt":  # 1 / (c sqrt(s)) = sqrt(s) / (c s)
                return Exact({a: 1 / (c * a[1])})
        return None

    def power(self, n: int) -> Exact | None:
        if n < 0:
            inv = self.inverse()
            return None if inv is None else inv.power(-n)
        result: Exact | None = Exact.of(1)
        base: Exact | None = self
        while n and result is not None and base is not None:
            if n & 1:
                result = result * base
            n >>= 1
            if n:
                base = base * base
        return result if n == 0 else None

    def __repr__(self) -> str:
        return " + ".join(f"{q}*{a[0]}{a[1:]}" for a, q in self.terms.items()) or "0"


def _sqrt_product(s: int, t: int) -> Exact:
    """sqrt(s) * sqrt(t) for squarefree s, t (1 means the atom 1)."""
    g = math.gcd(s, t)
    rest = (s // g) * (t // g)
    return Exact({ONE if rest == 1 else ("sqrt", rest): Fraction(g)})


def exact_log(q: Fraction) -> Exact | None:
    """log(q) for rational q > 0, when its numerator and denominator factor."""
    fn, fd = factor(q.numerator), factor(q.denominator)
    if fn is None or fd is None:
        return None
    t: dict[Atom, Fraction] = {}
    for p, e in fn:
        t[("log", p)] = t.get(("log", p), Fraction(0)) + e
    for p, e in fd:
        t[("log", p)] = t.get(("log", p), Fraction(0)) - e
    return Exact(t)


def exact_sqrt(q: Fraction) -> Exact | None:
    """sqrt(q) for rational q >= 0 as r * sqrt(s) (s squarefree), when the radicand factors."""
    if q == 0:
        return Exact({})
    n, d = q.numerator, q.denominator
    nd = n * d
    s = math.isqrt(nd)
    if s * s == nd:
        return Exact.of(Fraction(s, d))
    f = factor(nd)
    if f is None:
        return None
    outside, inside = 1, 1
    for p, e in f:
        outside *= p ** (e // 2)
        if e % 2:
            inside *= p
    return Exact({("sqrt", inside): Fraction(outside, d)})


def exact_exp(v: Exact) -> Exact | None:
    """exp(v) when v is 0 or a combination of logs of primes with half-integer coefficients."""
    if v.is_zero:
        return Exact.of(1)
    if any(a[0] != "log" for a in v.terms):
        return None
    rational, inside, bits = Fraction(1), 1, 0.0
    for (_, p), c in v.terms.items():
        if (2 * c).denominator != 1:
            return None
        k = math.floor(c)
        bits += abs(k) * math.log2(p)
        if bits > MAX_BITS:
            return None
        rational *= Fraction(p) ** k
        if c != k:
            inside *= p
    return Exact({ONE if inside == 1 else ("sqrt", inside): rational})


def _pi_multiple(v: Exact) -> Fraction | None:
    if v.is_zero:
        return Fraction(0)
    if len(v.terms) == 1 and PI in v.terms:
        return v.terms[PI]
    return None


# ---------------------------------------------------------------------------------------------------
# the ball track


class Level:
    """One working precision: an mpmath context of its own and the atoms' balls at that precision."""

    def __init__(self, digits: int) -> None:
        self.digits = digits
        self.ctx = MPContext()
        self.ctx.dps = digits
        self.prec: int = self.ctx.prec
        self.zero = self.ctx.mpf(0)
        self._atoms: dict[Atom, tuple[Any, Any]] = {}
        self.memo: dict[tuple[int, tuple[Fraction, ...]], Value | OracleError] = {}

    def err(self, m: Any) -> Any:
        """A bound on the rounding error of one operation whose rounded result is m (two ulps)."""
        return self.ctx.ldexp(abs(m), 2 - self.prec)

    def rational(self, q: Fraction) -> tuple[Any, Any]:
        m = self.ctx.fdiv(q.numerator, q.denominator)
        d = q.denominator
        exact = d & (d - 1) == 0 and abs(q.numerator).bit_length() <= self.prec
        return m, (self.zero if exact else self.err(m))

    def atom(self, a: Atom) -> tuple[Any, Any]:
        hit = self._atoms.get(a)
        if hit is None:
            kind, k = a
            c = self.ctx
            m = c.mpf(1) if kind == "1" else c.sqrt(k) if kind == "sqrt" else c.log(k) if kind == "log" else +c.pi
            hit = (m, self.zero if kind == "1" else self.err(m))
            self._atoms[a] = hit
        return hit

    def ball(self, e: Exact) -> tuple[Any, Any]:
        q = e.rational()
        if q is not None:
            return self.rational(q)
        m, r = self.zero, self.zero
        for a, coef in e.terms.items():
            am, ar = self.atom(a)
            cm, cr = self.rational(coef)
            pm = am * cm
            m = m + pm
            r = r + abs(am) * cr + abs(cm) * ar + cr * ar + self.err(pm) + self.err(m)
        return m, r


@dataclass(frozen=True)
class Value:
    """A real number: an exact form when known, and a ball [m - r, m + r] that contains it."""

    exact: Exact | None
    m: Any
    r: Any

    def sign(self) -> int | None:
        """The certain sign, or None when this precision cannot tell."""
        if self.exact is not None:
            q = self.exact.rational()
            if q is not None:
                return (q > 0) - (q < 0)
        if abs(self.m) > self.r:
            return 1 if self.m > 0 else -1
        return None


class _Eval:
    """Evaluates a compiled tree at one point and one level (raises OracleUndefined / OracleUnsure)."""

    def __init__(self, level: Level, env: Mapping[str, Fraction]) -> None:
        self.L = level
        self.c = level.ctx
        self.env = env

    # -- value construction ------------------------------------------------------------------------
    def exact(self, e: Exact) -> Value:
        m, r = self.L.ball(e)
        return Value(e, m, r)

    def num(self, m: Any, r: Any, exact: Exact | None = None) -> Value:
        if exact is not None:
            return self.exact(exact)
        return Value(None, m, r + self.L.err(m))

    def sign(self, v: Value) -> int:
        s = v.sign()
        if s is None:
            raise OracleUnsure("sign not decided at this precision")
        return s

    def sign_of_difference(self, a: Value, b: Value) -> int:
        if a.exact is not None and b.exact is not None:
            return self.sign(self.exact(a.exact - b.exact))
        return self.sign(self.sub(a, b))

    # -- arithmetic -----------------------------------------------------------------------------------
    def add(self, a: Value, b: Value) -> Value:
        if a.exact is not None and b.exact is not None:
            e = (a.exact + b.exact).ok()
            if e is not None:
                return self.exact(e)
        m = a.m + b.m
        return self.num(m, a.r + b.r)

    def neg(self, a: Value) -> Value:
        return Value(None if a.exact is None else -a.exact, -a.m, a.r)

    def sub(self, a: Value, b: Value) -> Value:
        return self.add(a, self.neg(b))

    def mul(self, a: Value, b: Value) -> Value:
        if any(u.exact is not None and u.exact.is_zero for u in (a, b)):
            return self.exact(Exact({}))  # 0 * anything defined is exactly 0
        if a.exact is not None and b.exact is not None:
            e = a.exact * b.exact
            if e is not None:
                return self.exact(e)
        m = a.m * b.m
        return self.num(m, abs(a.m) * b.r + abs(b.m) * a.r + a.r * b.r)

    def div(self, a: Value, b: Value) -> Value:
        if b.exact is not None and b.exact.is_zero:
            raise OracleUndefined("division by zero")
        self.sign(b)  # the divisor must certainly be non-zero
        if a.exact is not None and a.exact.is_zero:
            return self.exact(Exact({}))
        if a.exact is not None and b.exact is not None:
            inv = b.exact.inverse()
            if inv is not None:
                e = a.exact * inv
                if e is not None:
                    return self.exact(e)
        bm = abs(b.m)
        m = a.m / b.m
        return self.num(m, (abs(a.m) * b.r + bm * a.r) / (bm * (bm - b.r)))

    def power(self, base: Value, expo: Value) -> Value:
        q = expo.exact.rational() if expo.exact is not None else None
        if q is not None and q.denominator == 1:
            return self.int_power(base, int(q))
        base_zero = base.exact is not None and base.exact.is_zero
        if base_zero:  # 0 ** t: 0 for t > 0, undefined for t < 0 (t = 0 was the integer case)
            if self.sign(expo) < 0:
                raise OracleUndefined("0 raised to a negative power")
            return self.exact(Exact({}))
        sb = base.sign()
        if sb is None:
            raise OracleUnsure("sign of the base of a real power not decided")
        if sb < 0:
            # a negative base: undefined unless the exponent is an integer, which it is not when it is a
            # rational non-integer or irrational (exact track), or when no integer lies in its ball
            if q is not None or expo.exact is not None:
                raise OracleUndefined("a non-integer power of a negative number")
            lo, hi = expo.m - expo.r, expo.m + expo.r
            if self.c.floor(hi) < self.c.ceil(lo):
                raise OracleUndefined("a non-integer power of a negative number")
            raise OracleUnsure("is the exponent of a negative base an integer?")
        if q is not None and q.denominator == 2 and base.exact is not None:
            root = self.sqrt(base)
            if root.exact is not None:
                return self.int_power(root, q.numerator)
        return self.exp(self.mul(expo, self.log(base)))

    def int_power(self, base: Value, n: int) -> Value:
        if n == 0:
            return self.exact(Exact.of(1))  # Python: 0 ** 0 == 1
        if n < 0:
            if base.exact is not None and base.exact.is_zero:
                raise OracleUndefined("0 raised to a negative power")
            return self.div(self.exact(Exact.of(1)), self.int_power(base, -n))
        if n > 10**7:
            raise OracleUnsure("integer power beyond 10^7: not evaluated")
        if base.exact is not None:
            e = base.exact.power(n)
            if e is not None:
                return self.exact(e)
        m = base.m ** n
        bound = n * (abs(base.m) + base.r) ** (n - 1) * base.r
        return self.num(m, bound + self.c.ldexp(abs(m), 4 - self.L.prec) * n)

    # -- functions ---------------------------------------------------------------------------------
    def huge(self, v: Value, limit: int = 1000) -> bool:
        """Whether |v| may exceed 10^limit (exp, sin, ... of such a number need that many extra digits)."""
        return bool(self.c.mag(abs(v.m) + v.r) > 3.33 * limit)

    def guard(self, v: Value) -> None:
        if self.huge(v):
            raise OracleUnsure("argument beyond 10^1000: not evaluated")

    def exp(self, v: Value) -> Value:
        if v.exact is not None:
            e = exact_exp(v.exact)
            if e is not None:
                return self.exact(e)
        self.guard(v)
        m = self.c.exp(v.m)
        return self.num(m, abs(m) * self.c.expm1(v.r) * 2)

    def expm1(self, v: Value) -> Value:
        if v.exact is not None:
            e = exact_exp(v.exact)
            if e is not None:
                return self.exact(e - Exact.of(1))
        self.guard(v)
        m = self.c.expm1(v.m)
        return self.num(m, self.c.exp(v.m) * self.c.expm1(v.r) * 2)

    def log(self, v: Value) -> Value:
        if v.exact is not None:
            q = v.exact.rational()
            if q is not None and q <= 0:
                raise OracleUndefined(f"log of {show(q)}")
        s = v.sign()
        if s is not None and s <= 0:
            raise OracleUndefined("log of a negative number")
        if s is None:
            raise OracleUnsure("log of a number not certainly positive")
        if v.exact is not None:
            e = self.exact_log(v.exact)
            if e is not None:
                return self.exact(e)
        m = self.c.log(v.m)
        return self.num(m, v.r / (v.m - v.r) * 2)

    def exact_log(self, e: Exact) -> Exact | None:
        q = e.rational()
        if q is not None:
            return exact_log(q)
        if len(e.terms) == 1:
            ((a, c),) = e.terms.items()
            if a[0] == "sqrt" and c > 0:
                lc, ls = exact_log(c), exact_log(Fraction(a[1]))
                if lc is not None and ls is not None:
                    return lc + ls.scale(Fraction(1, 2))
        return None

    def log1p(self, v: Value) -> Value:
        shifted = self.add(v, self.exact(Exact.of(1)))
        if shifted.exact is not None:
            return self.log(shifted)
        s = shifted.sign()
        if s is not None and s <= 0:
            raise OracleUndefined("log1p of a number <= -1")
        if s is None:
            raise OracleUnsure("log1p of a number not certainly > -1")
        m = self.c.log1p(v.m)
        return self.num(m, v.r / (shifted.m - shifted.r) * 2)

    def sqrt(self, v: Value) -> Value:
        if v.exact is not None:
            if v.exact.is_zero:
                return v
            q = v.exact.rational()
            if q is not None:
                if q < 0:
                    raise OracleUndefined(f"sqrt of {show(q)}")
                e = exact_sqrt(q)
                if e is not None:
                    return self.exact(e)
        s = v.sign()
        if s is None:
            raise OracleUnsure("sqrt of a number not certainly >= 0")
        if s < 0:
            raise OracleUndefined("sqrt of a negative number")
        m = self.c.sqrt(v.m)
        return self.num(m, min(self.c.sqrt(v.r), v.r / self.c.sqrt(v.m - v.r)) * 2)

    def lipschitz(self, fn: Callable[[Any], Any], v: Value, constant: Any, cap: Any | None = None) -> Value:
        self.guard(v)
        m = fn(v.m)
        r = v.r * constant
        if cap is not None:
            r = min(r, cap)
        return self.num(m, r * 2)

    def sin(self, v: Value) -> Value:
        k = _pi_multiple(v.exact) if v.exact is not None else None
        if k is not None and (2 * k).denominator == 1:
            n = int(2 * k) % 4
            return self.exact(Exact.of([0, 1, 0, -1][n]))
        return self.lipschitz(self.c.sin, v, 1, self.c.mpf(2))

    def cos(self, v: Value) -> Value:
        k = _pi_multiple(v.exact) if v.exact is not None else None
        if k is not None and (2 * k).denominator == 1:
            n = int(2 * k) % 4
            return self.exact(Exact.of([1, 0, -1, 0][n]))
        return self.lipschitz(self.c.cos, v, 1, self.c.mpf(2))

    def tanh(self, v: Value) -> Value:
        if v.exact is not None and v.exact.is_zero:
            return v
        if abs(v.m) - v.r > 10**4:  # saturated: |tanh(t) -+ 1| < 2 exp(-2 10^4) < 10^-8000
            return Value(None, self.c.mpf(1 if v.m > 0 else -1), self.c.mpf(10) ** -8000)
        return self.lipschitz(self.c.tanh, v, 1, self.c.mpf(2))

    def sigmoid(self, v: Value) -> Value:
        if v.exact is not None and v.exact.is_zero:
            return self.exact(Exact.of(Fraction(1, 2)))
        if v.m - v.r > 10**4:
            return Value(None, self.c.mpf(1), self.c.mpf(10) ** -4000)
        return self.lipschitz(lambda t: 1 / (1 + self.c.exp(-t)), v, self.c.mpf(1) / 4, self.c.mpf(1))

    def softplus(self, v: Value) -> Value:
        if v.exact is not None:
            e = exact_exp(v.exact)
            if e is not None:
                return self.log(self.exact(e + Exact.of(1)))
        if v.m - v.r > 10**4:  # softplus(t) = t + log1p(exp(-t)), the second term below 10^-4000
            return Value(None, v.m, v.r + self.c.mpf(10) ** -4000)
        return self.lipschitz(lambda t: self.c.log1p(self.c.exp(t)), v, 1)

    def abs(self, v: Value) -> Value:
        s = v.sign()
        if s is not None:
            return v if s >= 0 else self.neg(v)
        return Value(None, abs(v.m), v.r)

    def sign_fn(self, v: Value) -> Value:
        return self.exact(Exact.of(self.sign(v)))

    def extreme(self, vals: list[Value], want: int) -> Value:
        """max (want = 1) or min (want = -1): the winner's value, exact, when every comparison with it is
        certain; otherwise a ball around the max (min) of the midpoints with the largest radius."""
        best = vals[0]
        try:
            for v in vals[1:]:
                if self.sign_of_difference(v, best) == want:
                    best = v
            return best
        except OracleUnsure:
            pick = max if want > 0 else min
            return Value(None, pick(v.m for v in vals), max(v.r for v in vals))

    # -- the tree ----------------------------------------------------------------------------------
    def value(self, node: tuple[Any, ...]) -> Value:
        kind = node[0]
        if kind == "num":
            return self.exact(Exact.of(node[1]))
        if kind == "var":
            return self.exact(Exact.of(self.env[node[1]]))
        if kind == "pi":
            return self.exact(Exact({PI: Fraction(1)}))
        if kind == "atom":
            return self.atom(node)
        if kind == "neg":
            return self.neg(self.value(node[1]))
        if kind == "bin":
            a, b = self.value(node[2]), self.value(node[3])
            op = node[1]
            if op == "+":
                return self.add(a, b)
            if op == "-":
                return self.sub(a, b)
            if op == "*":
                return self.mul(a, b)
            if op == "/":
                return self.div(a, b)
            return self.power(a, b)
        if kind == "if":
            return self.value(node[2] if self.truth(node[1]) else node[3])
        if kind == "call":
            name, args = node[1], node[2]
            vals = [self.value(a) for a in args]
            if name == "max":
                return self.extreme(vals, 1)
            if name == "min":
                return self.extreme(vals, -1)
            if name == "clip":
                return self.extreme([self.extreme([vals[0], vals[1]], 1), vals[2]], -1)
            if name == "relu":
                return self.extreme([vals[0], self.exact(Exact({}))], 1)
            if name == "sign":
                return self.sign_fn(vals[0])
            fn: Callable[[Value], Value] = getattr(self, name)
            return fn(vals[0])
        raise AssertionError(kind)

    def atom(self, node: tuple[Any, ...]) -> Value:
        """A subtree that depends on x alone, y alone or neither: evaluated once per level and values of
        its variables, and, when its value is not exact, named by an opaque atom. Two occurrences of the
        same atom cancel exactly (|tanh(y)| at two x is the same number), which is sound because the
        exact track is only ever trusted to say "zero", never "non-zero"."""
        _, idx, names, sub = node
        vals = tuple(self.env[n] for n in names)
        key = (idx, vals)
        hit = self.L.memo.get(key)
        if hit is None:
            try:
                v = self.value(sub)
                if v.exact is None:
                    a: Atom = ("o", idx, vals)
                    self.L._atoms[a] = (v.m, v.r)
                    v = Value(Exact({a: Fraction(1)}), v.m, v.r)
                hit = v
            except (OracleUndefined, OracleUnsure) as exc:
                hit = exc
            self.L.memo[key] = hit
        if isinstance(hit, OracleError):
            raise hit
        return hit

    def truth(self, node: tuple[Any, ...]) -> bool:
        kind = node[0]
        if kind == "and":
            return all(self.truth(v) for v in node[1])  # all() and any() stop early, as Python does
        if kind == "or":
            return any(self.truth(v) for v in node[1])
        if kind == "not":
            return not self.truth(node[1])
        if kind == "cmp":
            ops, terms = node[1], node[2]
            left = self.value(terms[0])
            for op, t in zip(ops, terms[1:], strict=True):
                right = self.value(t)
                s = self.sign_of_difference(left, right)
                ok = {"<": s < 0, "<=": s <= 0, ">": s > 0, ">=": s >= 0, "==": s == 0, "!=": s != 0}[op]
                if not ok:
                    return False  # Python stops a chained comparison at the first false link
                left = right
            return True
        raise AssertionError(kind)


# ---------------------------------------------------------------------------------------------------
# parsing: the user's text to a small tree, against the grammar


_BINOPS: dict[type, str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_CMPOPS: dict[type, str] = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}


MAX_EXACT_EXPONENT = 100_000  # 10^(10^5) is already a 40 kB integer


def parse_exact(text: str) -> Fraction:
    """A number as written (``0.1`` is 1/10, ``1e-400`` is not 0, ``2/3`` is 2/3)."""
    s = text.strip().replace("_", "")
    if "/" in s:
        p, q = s.split("/")
        return Fraction(int(p)) / Fraction(int(q))
    m = re.search(r"[eE]([+-]?\d+)$", s)
    if m and (len(m.group(1).lstrip("+-")) > 6 or abs(int(m.group(1))) > MAX_EXACT_EXPONENT):
        raise ValueError(f"{s!r}: a decimal exponent this large would take too long to hold exactly")
    return Fraction(s)


class _Compiler:
    def __init__(self, source: str, params: Mapping[str, Fraction]) -> None:
        self.source = source
        self.params = params

    def number(self, node: ast.AST) -> tuple[Any, ...]:
        tree = self.visit(node)
        if tree[0] in ("and", "or", "not", "cmp"):
            raise OracleSyntaxError(f"a condition used as a number: {ast.unparse(node)}")
        return tree

    def condition(self, node: ast.AST) -> tuple[Any, ...]:
        tree = self.visit(node)
        if tree[0] not in ("and", "or", "not", "cmp"):
            raise OracleSyntaxError(f"a number used as a condition: {ast.unparse(node)}")
        return tree

    def visit(self, node: ast.AST) -> tuple[Any, ...]:
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise OracleSyntaxError(f"literal {v!r}")
            segment = ast.get_source_segment(self.source, node)
            return ("num", parse_exact(segment) if segment else Fraction(v))
        if isinstance(node, ast.Name):
            if node.id in ("x", "y"):
                return ("var", node.id)
            if node.id == "pi":
                return ("pi",)
            if node.id in self.params and node.id not in FUNCTION_ARITY:
                return ("num", self.params[node.id])
            raise OracleSyntaxError(f"unknown name {node.id}")
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return ("neg", self.number(node.operand))
            if isinstance(node.op, ast.UAdd):
                return self.number(node.operand)
            if isinstance(node.op, ast.Not):
                return ("not", self.condition(node.operand))
            raise OracleSyntaxError("operator ~")
        if isinstance(node, ast.BinOp):
            op = _BINOPS.get(type(node.op))
            if op is None:
                raise OracleSyntaxError(f"operator {type(node.op).__name__}")
            return ("bin", op, self.number(node.left), self.number(node.right))
        if isinstance(node, ast.BoolOp):
            return ("and" if isinstance(node.op, ast.And) else "or", [self.condition(v) for v in node.values])
        if isinstance(node, ast.Compare):
            ops = []
            for o in node.ops:
                s = _CMPOPS.get(type(o))
                if s is None:
                    raise OracleSyntaxError(f"comparison {type(o).__name__}")
                ops.append(s)
            return ("cmp", ops, [self.number(t) for t in [node.left, *node.comparators]])
        if isinstance(node, ast.IfExp):
            return ("if", self.condition(node.test), self.number(node.body), self.number(node.orelse))
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTION_ARITY or node.keywords:
                raise OracleSyntaxError(f"call {ast.unparse(node.func)}")
            lo, hi = FUNCTION_ARITY[node.func.id]
            if not lo <= len(node.args) <= hi or any(isinstance(a, ast.Starred) for a in node.args):
                raise OracleSyntaxError(f"{node.func.id} with {len(node.args)} arguments")
            return ("call", node.func.id, [self.number(a) for a in node.args])
        raise OracleSyntaxError(f"{type(node).__name__} is not in the grammar")


_CONDITIONS = ("and", "or", "not", "cmp")


def _children(tree: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    kind = tree[0]
    if kind in ("num", "var", "pi"):
        return []
    if kind in ("neg", "not"):
        return [tree[1]]
    if kind == "bin":
        return [tree[2], tree[3]]
    if kind in ("and", "or"):
        return list(tree[1])
    if kind in ("cmp", "call"):
        return list(tree[2])
    if kind == "if":
        return [tree[1], tree[2], tree[3]]
    raise AssertionError(kind)


def _free(tree: tuple[Any, ...]) -> frozenset[str]:
    if tree[0] == "var":
        return frozenset([tree[1]])
    out: frozenset[str] = frozenset()
    for c in _children(tree):
        out |= _free(c)
    return out


def _atomize(tree: tuple[Any, ...], ids: dict[tuple[Any, ...], int]) -> tuple[Any, ...]:
    """Wrap each numeric subtree that misses x or y (or both) as an ("atom", id, names, subtree) node, the
    id shared by structurally equal subtrees (so tanh(y) - tanh(y) cancels)."""
    kind = tree[0]
    if kind in ("num", "var", "pi"):
        return tree
    w = tuple(_atomize(c, ids) for c in _children(tree))
    if kind in ("neg", "not"):
        out: tuple[Any, ...] = (kind, w[0])
    elif kind == "bin":
        out = ("bin", tree[1], w[0], w[1])
    elif kind in ("and", "or"):
        out = (kind, w)
    elif kind in ("cmp", "call"):
        out = (kind, tuple(tree[1]) if kind == "cmp" else tree[1], w)
    else:
        out = ("if", w[0], w[1], w[2])
    free = _free(tree)
    if kind not in _CONDITIONS and free != {"x", "y"}:
        return ("atom", ids.setdefault(out, len(ids)), tuple(sorted(free)), out)
    return out


Point = tuple[Fraction, Fraction]


class Oracle:
    """f(x, y) for one text, evaluated exactly where it can be and with certified balls elsewhere.

    ``at(x, y, level)`` evaluates at one precision level; the other methods try the levels in turn and
    raise :class:`OracleUnsure` when none decides. Results are cached per point and level.
    """

    def __init__(self, text: str, params: Mapping[str, str | Fraction] | None = None) -> None:
        exact_params = {k: v if isinstance(v, Fraction) else parse_exact(v) for k, v in (params or {}).items()}
        source = text.strip()
        try:
            tree = ast.parse(source, mode="eval")
        except SyntaxError as exc:
            raise OracleSyntaxError(str(exc)) from None
        self.text = source
        self.tree = _atomize(_Compiler(source, exact_params).number(tree.body), {})
        self.levels = [Level(d) for d in LEVELS]
        self._cache: dict[tuple[Point, int], Value | OracleError] = {}

    def at(self, x: Fraction, y: Fraction, level: int) -> Value:
        key = ((x, y), level)
        hit = self._cache.get(key)
        if hit is None:
            try:
                hit = _Eval(self.levels[level], {"x": x, "y": y}).value(self.tree)
            except (OracleUndefined, OracleUnsure) as exc:
                hit = exc
            except (ArithmeticError, ValueError, OverflowError) as exc:  # mpmath giving up counts as unsure
                hit = OracleUnsure(f"mpmath: {type(exc).__name__}: {exc}")
            self._cache[key] = hit
        if isinstance(hit, OracleError):
            raise hit
        return hit

    def value(self, x: Fraction, y: Fraction) -> Value:
        """f(x, y) at the lowest level that evaluates it; OracleUndefined / OracleUnsure otherwise."""
        for i in range(len(self.levels)):
            try:
                return self.at(x, y, i)
            except OracleUnsure:
                continue
        raise OracleUnsure(f"f({show(x)}, {show(y)}) not settled at {LEVELS[-1]} digits")

    def defined(self, x: Fraction, y: Fraction) -> bool:
        try:
            self.value(x, y)
        except OracleUndefined:
            return False
        return True

    def _decide(self, decide: Callable[[int], int | None], what: str) -> int:
        for i in range(len(self.levels)):
            try:
                s = decide(i)
            except OracleUnsure:
                continue
            if s is not None:
                return s
        raise OracleUnsure(f"{what} not settled at {LEVELS[-1]} digits")

    def sign(self, x: Fraction, y: Fraction) -> int:
        """The certain sign of f(x, y)."""
        def decide(i: int) -> int | None:
            v = self.at(x, y, i)
            if v.exact is not None and v.exact.is_zero:
                return 0
            return v.sign()
        return self._decide(decide, f"sign of f({show(x)}, {show(y)})")

    def compare(self, p1: Point, p2: Point, *, absolute: bool = False) -> int:
        """The certain sign of f(p1) - f(p2) (of |f(p1)| - |f(p2)| when ``absolute``)."""
        def decide(i: int) -> int | None:
            a, b = self.at(*p1, i), self.at(*p2, i)
            ev = _Eval(self.levels[i], {})
            if absolute:
                a, b = ev.abs(a), ev.abs(b)
            if a.exact is not None and b.exact is not None:
                d = a.exact - b.exact
                return 0 if d.is_zero else ev.exact(d).sign()
            return ev.sub(a, b).sign()
        return self._decide(decide, f"f({show(p1[0])}, {show(p1[1])}) vs f({show(p2[0])}, {show(p2[1])})")

    def close_to(self, x: Fraction, y: Fraction, shown: Fraction, rel: Fraction = Fraction(1, 10**9)) -> bool:
        """Whether f(x, y) agrees with the displayed number ``shown`` (exactly when it is 0, else to within
        the relative tolerance); raises OracleUnsure when the precision cannot tell."""
        if shown == 0:
            return self.sign(x, y) == 0

        def decide(i: int) -> int | None:
            v = self.at(x, y, i)
            level = self.levels[i]
            sm, _ = level.rational(shown)
            tol = abs(sm) * level.rational(rel)[0]
            dist = abs(v.m - sm)
            if dist + v.r < tol * (1 - level.ctx.mpf(10) ** -6):
                return 1
            if dist - v.r > tol * (1 + level.ctx.mpf(10) ** -6):
                return 0
            return None
        return self._decide(decide, f"f({show(x)}, {show(y)}) vs {show(shown)}") == 1
