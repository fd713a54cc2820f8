"""Encode a sympy scale expression into z3's real arithmetic, exactly where possible.

Polynomials, rationals, Piecewise, max/min/abs/sign, comparisons and and/or/not are encoded exactly,
so z3's nonlinear real arithmetic (nlsat) *decides* claims about piecewise-polynomial functions.
Transcendental functions become fresh variables constrained by true facts only (a *sound
abstraction*): an ``unsat`` answer is a proof for the real function, a ``sat`` answer is only a
candidate that must be re-checked on the real function (:mod:`pgcheck.decide`).

Partial operations (division, log, sqrt) record *domain obligations*: each is a pair (guard, cond)
meaning "whenever guard holds, cond must hold for f to be defined". A proof is only sound over the
real function once every obligation is discharged.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import sympy
import z3

from pgcheck import decide, enclose
from pgcheck.errors import PgcheckError
from pgcheck.symbols import X, Y, is_constant

# rationals strictly below pi and pi/2 (3.1415926..., 1.5707963...), so the windows of sin and cos hold for
# the real functions
PI_BELOW = z3.RealVal(Fraction(314159, 100000))
HALF_PI_BELOW = z3.RealVal(Fraction(157079, 100000))
_PI, _HALF_PI = PI_BELOW.as_decimal(5), HALF_PI_BELOW.as_decimal(5)

ABSTRACTION_FACTS: dict[str, str] = {
    "exp": "exp as a positive strictly increasing function with exp(t) >= 1 + t, exp(t)(1 - t) <= 1 "
           "for t < 1, exp(0) = 1",
    "log": "log on (0, inf) as a strictly increasing function with 1 - 1/t <= log(t) <= t - 1, log(1) = 0",
    "tanh": "tanh as a strictly increasing odd-signed function into (-1, 1) with |tanh(t)| <= |t|",
    "sin": "sin as a 1-Lipschitz function into [-1, 1] with |sin(t)| <= |t|, sin(0) = 0, the sign of t for "
           f"0 < |t| <= {_PI}, strictly increasing on [-{_HALF_PI}, {_HALF_PI}]",
    "cos": "cos as a 1-Lipschitz function into [-1, 1] with cos(t) >= 1 - t^2/2, cos(0) = 1, positive for "
           f"|t| < {_HALF_PI}, strictly decreasing on [0, {_PI}] and increasing on [-{_PI}, 0]",
    "const": "transcendental constants as rational intervals certified by interval arithmetic (outward "
             "rounding, width below 1e-30 relative)",
    "undefined-const": "a constant with no real value (in a branch the domain check covers) as an "
                       "unconstrained real",
}


class Unsupported(PgcheckError, TypeError):
    """The expression holds something the encoder cannot represent soundly."""


@dataclass
class Obligation:
    """Whenever ``guard`` holds, ``cond`` must hold; ``operand``/``kind`` restate it in sympy."""

    guard: Any  # z3 BoolRef
    cond: Any   # z3 BoolRef
    what: str
    sym_guard: sympy.Basic = sympy.true
    operand: sympy.Expr = sympy.S.One
    kind: str = "nonzero"  # nonzero | positive | nonnegative | covered

    def violated_at(self, x: Fraction, y: Fraction) -> bool:
        """True only when the point certainly violates this obligation (decided by :mod:`pgcheck.decide`)."""
        if self.kind == "covered":
            try:
                return decide.truth(self.sym_guard, decide.point(x, y))
            except (decide.Undecided, decide.Undefined, decide.TooLarge):
                return False
        return decide.violated(self.sym_guard, self.operand, self.kind, x, y)


@dataclass
class Encoder:
    """Encodes sympy terms; one encoder per query so abstraction facts can relate all instances."""

    axioms: list[Any] = field(default_factory=list)
    obligations: list[Obligation] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    _instances: dict[str, list[tuple[Any, Any]]] = field(default_factory=dict)
    _memo: dict[tuple[str, str, int, sympy.Basic], Any] = field(default_factory=dict)
    _constants: dict[sympy.Basic, Any] = field(default_factory=dict)
    _sguard: sympy.Basic = sympy.true
    _fresh: int = 0

    def instance(self, expr: sympy.Expr, x: Any, y: Any, guard: Any = None) -> Any:
        """The z3 term of ``expr`` with X := x and Y := y."""
        env = {X: x, Y: y}
        return self.enc(expr, env, z3.BoolVal(True) if guard is None else guard)

    def fresh(self, stem: str) -> Any:
        self._fresh += 1
        return z3.Real(f"{stem}!{self._fresh}")

    def relate(self, kind: str, arg: Any, var: Any, increasing: bool = True,
               pairwise: Callable[[Any, Any, Any, Any], list[Any]] | None = None) -> None:
        """Relate a new instance of a function to all earlier ones: equal arguments give equal values
        (it is a function), for a strictly increasing function order is preserved, and ``pairwise(a, v, b, w)``
        adds the facts a function states about two of its instances (v = g(a), w = g(b))."""
        for other_arg, other_var in self._instances.setdefault(kind, []):
            self.axioms.append(z3.Implies(arg == other_arg, var == other_var))
            if increasing:
                self.axioms.append(z3.Implies(arg < other_arg, var < other_var))
                self.axioms.append(z3.Implies(arg > other_arg, var > other_var))
            if pairwise is not None:
                self.axioms += pairwise(arg, var, other_arg, other_var)
        self._instances[kind].append((arg, var))

    def constant(self, e: sympy.Expr) -> Any:
        """A constant subexpression (rationals and κ symbols): exact when it is rational, else one variable
        bounded by a certified interval of the whole subexpression."""
        if isinstance(e, sympy.Rational):
            return z3.RealVal(Fraction(int(e.p), int(e.q)))
        if e in self._constants:  # one variable per constant, or instances could disagree on it
            return self._constants[e]
        exact = decide.exact_rational(e)
        if exact is not None:
            return z3.RealVal(exact)
        c = self.fresh("const")
        try:
            lo, hi = _coarsen(*decide.bounds(e))  # certified by interval arithmetic, never a rounded guess
            self.axioms += [c >= z3.RealVal(lo), c <= z3.RealVal(hi)]
            self.used.add("const")
        except decide.Undefined:
            self.used.add("undefined-const")  # sound: its value is never used where f is defined
        except (decide.Undecided, decide.TooLarge, enclose.NoEnclosure) as exc:
            raise Unsupported(f"constant {e}: {exc}") from None
        self._constants[e] = c
        return c

    def enc(self, e: sympy.Basic, env: dict[sympy.Symbol, Any], guard: Any) -> Any:
        key = (env[X].sexpr(), env[Y].sexpr(), guard.get_id(), e)
        if key in self._memo:
            return self._memo[key]
        out = self._enc(e, env, guard)
        self._memo[key] = out
        return out

    def _enc(self, e: sympy.Basic, env: dict[sympy.Symbol, Any], guard: Any) -> Any:
        if e in env:
            return env[e]
        if e is sympy.true:
            return z3.BoolVal(True)
        if e is sympy.false:
            return z3.BoolVal(False)
        if isinstance(e, sympy.Expr) and is_constant(e):
            return self.constant(e)

        def sub(a: sympy.Basic, g: Any = guard) -> Any:
            return self.enc(a, env, g)

        if isinstance(e, sympy.Add):
            return z3.Sum([sub(a) for a in e.args])
        if isinstance(e, sympy.Mul):
            return z3.Product([sub(a) for a in e.args])
        if isinstance(e, sympy.Pow):
            return self.power(e, env, guard)
        if isinstance(e, sympy.Piecewise):
            return self.piecewise(e, env, guard)
        if isinstance(e, sympy.Max | sympy.Min):
            args = [sub(a) for a in e.args]
            out = args[0]
            for a in args[1:]:
                out = z3.If(a > out, a, out) if isinstance(e, sympy.Max) else z3.If(a < out, a, out)
            return out
        if isinstance(e, sympy.Abs):
            return abs_term(sub(e.args[0]))
        if isinstance(e, sympy.sign):
            a = sub(e.args[0])
            return z3.If(a > 0, z3.RealVal(1), z3.If(a < 0, z3.RealVal(-1), z3.RealVal(0)))
        rel = _RELATIONS.get(type(e))
        if rel is not None:
            return rel(sub(e.args[0]), sub(e.args[1]))
        if isinstance(e, sympy.And):
            return z3.And([sub(a) for a in e.args])
        if isinstance(e, sympy.Or):
            return z3.Or([sub(a) for a in e.args])
        if isinstance(e, sympy.Not):
            return z3.Not(sub(e.args[0]))
        if isinstance(e, sympy.ITE):
            return z3.If(sub(e.args[0]), sub(e.args[1]), sub(e.args[2]))
        if isinstance(e, sympy.exp):
            return self.exp(sub(e.args[0]))
        if isinstance(e, sympy.log):
            return self.log(e.args[0], sub(e.args[0]), guard)
        if isinstance(e, sympy.tanh):
            return self.tanh(sub(e.args[0]))
        if isinstance(e, sympy.sin):
            return self.sin(sub(e.args[0]))
        if isinstance(e, sympy.cos):
            return self.cos(sub(e.args[0]))
        raise Unsupported(f"z3 encoding of {type(e).__name__} is not available")

    def power(self, e: sympy.Pow, env: dict[sympy.Symbol, Any], guard: Any) -> Any:
        base, exponent = e.args
        if is_constant(base) and not is_constant(exponent):
            return self.enc(sympy.exp(exponent * sympy.log(base)), env, guard)
        b = self.enc(base, env, guard)
        if exponent.is_Integer:
            n = int(exponent)
            if n == 0:
                return z3.RealVal(1)
            m = b if abs(n) == 1 else (z3.Product([b] * abs(n)) if abs(n) <= 8 else b ** abs(n))
            if n > 0:
                return m
            self.obligations.append(Obligation(guard, b != 0, f"division by {base}", self._sguard, base, "nonzero"))
            return 1 / m
        if exponent == sympy.Rational(1, 2):
            self.obligations.append(Obligation(guard, b >= 0, f"sqrt of {base}", self._sguard, base,
                                               "nonnegative"))
            s = self.fresh("sqrt")
            self.axioms += [s >= 0, z3.Implies(b >= 0, s * s == b)]
            return s
        if exponent == sympy.Rational(-1, 2):
            return 1 / self.power(sympy.Pow(base, sympy.Rational(1, 2), evaluate=False), env, guard)
        raise Unsupported(f"power with exponent {exponent}")

    def piecewise(self, e: sympy.Piecewise, env: dict[sympy.Symbol, Any], guard: Any) -> Any:
        conds = [self.enc(c, env, guard) for _, c in e.args]
        covered = z3.Or(conds)
        self.obligations.append(Obligation(guard, covered, "a Piecewise with no branch for some input",
                                           sympy.And(self._sguard, *[sympy.Not(c) for _, c in e.args]),
                                           kind="covered"))
        out: Any = None
        taken = z3.BoolVal(False)
        outer = self._sguard
        values = []
        for i, ((value, sc), c) in enumerate(zip(e.args, conds, strict=True)):
            g = z3.And(guard, z3.Not(taken), c)
            self._sguard = sympy.And(outer, *[sympy.Not(prev) for _, prev in e.args[:i]], sc)
            try:
                values.append(self.enc(value, env, g))
            finally:
                self._sguard = outer
            taken = z3.Or(taken, c)
        out = values[-1]
        for v, c in zip(reversed(values[:-1]), reversed(conds[:-1]), strict=True):
            out = z3.If(c, v, out)
        return out

    def exp(self, a: Any) -> Any:
        v = self.fresh("exp")
        self.axioms += [v > 0, v >= 1 + a, z3.Implies(a < 1, v * (1 - a) <= 1),
                        z3.Implies(a == 0, v == 1), z3.Implies(a < 0, v < 1)]
        self.relate("exp", a, v)
        self.used.add("exp")
        return v

    def log(self, operand: sympy.Expr, a: Any, guard: Any) -> Any:
        self.obligations.append(Obligation(guard, a > 0, f"log of {operand}", self._sguard, operand, "positive"))
        v = self.fresh("log")
        self.axioms += [z3.Implies(a > 0, z3.And(v <= a - 1, v * a >= a - 1)), z3.Implies(a == 1, v == 0)]
        self.relate("log", a, v)
        self.used.add("log")
        return v

    def sin(self, a: Any) -> Any:
        v = self.fresh("sin")
        self.axioms += [v >= -1, v <= 1, v <= abs_term(a), -v <= abs_term(a), z3.Implies(a == 0, v == 0),
                        z3.Implies(z3.And(a > 0, a <= PI_BELOW), v > 0),
                        z3.Implies(z3.And(a < 0, a >= -PI_BELOW), v < 0)]

        def pairwise(a: Any, v: Any, b: Any, w: Any) -> list[Any]:
            # |sin'| <= 1, and sin' = cos > 0 on (-pi/2, pi/2), which [-1.57079, 1.57079] is inside
            return [abs_term(v - w) <= abs_term(a - b),
                    *_monotone_on(-HALF_PI_BELOW, HALF_PI_BELOW, a, v, b, w, increasing=True)]

        self.relate("sin", a, v, increasing=False, pairwise=pairwise)
        self.used.add("sin")
        return v

    def cos(self, a: Any) -> Any:
        v = self.fresh("cos")
        self.axioms += [v >= -1, v <= 1, v >= 1 - a * a / 2, z3.Implies(a == 0, v == 1),
                        z3.Implies(abs_term(a) < HALF_PI_BELOW, v > 0)]

        def pairwise(a: Any, v: Any, b: Any, w: Any) -> list[Any]:
            # |cos'| <= 1, and cos' = -sin < 0 on (0, pi), > 0 on (-pi, 0)
            return [abs_term(v - w) <= abs_term(a - b),
                    *_monotone_on(z3.RealVal(0), PI_BELOW, a, v, b, w, increasing=False),
                    *_monotone_on(-PI_BELOW, z3.RealVal(0), a, v, b, w, increasing=True)]

        self.relate("cos", a, v, increasing=False, pairwise=pairwise)
        self.used.add("cos")
        return v

    def tanh(self, a: Any) -> Any:
        v = self.fresh("tanh")
        self.axioms += [v > -1, v < 1, z3.Implies(a > 0, z3.And(v > 0, v <= a)),
                        z3.Implies(a < 0, z3.And(v < 0, v >= a)), z3.Implies(a == 0, v == 0)]
        self.relate("tanh", a, v)
        self.used.add("tanh")
        return v


_RELATIONS: dict[type, Callable[[Any, Any], Any]] = {
    sympy.StrictLessThan: lambda a, b: a < b, sympy.LessThan: lambda a, b: a <= b,
    sympy.StrictGreaterThan: lambda a, b: a > b, sympy.GreaterThan: lambda a, b: a >= b,
    sympy.Equality: lambda a, b: a == b, sympy.Unequality: lambda a, b: a != b,
}


def abs_term(t: Any) -> Any:
    """|t| as a z3 term."""
    return z3.If(t >= 0, t, -t)


def _monotone_on(lo: Any, hi: Any, a: Any, v: Any, b: Any, w: Any, increasing: bool) -> list[Any]:
    """Facts for a function strictly monotone on [lo, hi], given v = g(a) and w = g(b): when both arguments
    lie in the window, their order carries over to the values (reversed when decreasing)."""
    def ordered(s: Any, fs: Any, t: Any, ft: Any) -> Any:  # lo <= s < t <= hi
        return z3.Implies(z3.And(lo <= s, s < t, t <= hi), fs < ft if increasing else fs > ft)
    return [ordered(a, v, b, w), ordered(b, w, a, v)]


def _coarsen(lo: Fraction, hi: Fraction, bits: int = 160) -> tuple[Fraction, Fraction]:
    """[lo, hi] widened outward to dyadic endpoints with about ``bits`` significant bits (at most 2^-400
    absolute resolution), so z3 gets short numbers; constants beyond 2^4000 are not encoded."""
    m = max(abs(lo), abs(hi))
    if m == 0:
        return lo, hi
    e = m.numerator.bit_length() - m.denominator.bit_length()
    if e > 4000:
        raise enclose.NoEnclosure("a constant beyond 2^4000")
    scale = Fraction(2) ** min(bits - e, 400)
    return Fraction(math.floor(lo * scale)) / scale, Fraction(math.ceil(hi * scale)) / scale


def model_value(model: Any, var: Any) -> Fraction:
    """A rational value of ``var`` in a z3 model (algebraic numbers rounded to 30 digits)."""
    v = model.eval(var, model_completion=True)
    if z3.is_rational_value(v):
        return Fraction(v.numerator_as_long(), v.denominator_as_long())
    if z3.is_algebraic_value(v):
        return Fraction(v.approx(30).as_fraction())
    raise Unsupported(f"z3 returned a non-numeric model value {v}")


def describe_abstractions(used: set[str]) -> str:
    return "; ".join(ABSTRACTION_FACTS[k] for k in sorted(used))
