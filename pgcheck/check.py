"""The Assumption 5.1 checker: proofs with z3 and sympy, refutations re-checked exactly, honest search.

For a scale function ``f(x, y)`` (x = ΔO, y = ΔR) the checker decides, property by property (the
paper's Assumption 5.1, sec. 5):

* ``domain``: f is a finite real number everywhere (the assumption takes f : R² → R), with every partial
  operation of the text checked as written (Python's short-circuit semantics);
* ``1a``: f(x, 0) = 0 for every real x;
* ``1b``: f(x, ·) is non-decreasing for every real x — over the whole real line;
* ``2``:  |f(·, y)| is non-decreasing on a neighbourhood [-δ, δ] of 0 for every y.

Each verdict is *proved* (z3 ``unsat`` of the negation, exact for piecewise polynomials and sound under
the stated abstraction of transcendental functions; or an exact sympy identity), *refuted* (a
counterexample whose inequality :mod:`pgcheck.decide` confirms exactly or by certified intervals), or
*undecided* (neither, after the search in :mod:`pgcheck.search`; reported as ``tested`` for black-box
callables, which can never be proved). The path is one-way: each property checker asks z3
(:mod:`pgcheck.smt`) and the search for *candidates*, and :mod:`pgcheck.decide` for every decision.

Property 2 is proved with one exact positive δ for all y, which is sufficient; it is refuted only by a
certified one-sided analysis at some y (:mod:`pgcheck.local`), which shows that no neighbourhood works.

The whole check runs under a time budget (``Options.time_limit_s``, default 60 s): the properties run in
a child process that is stopped when the budget is spent, and what has not finished is undecided.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import itertools
import json
import os
import re
import select
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy

from pgcheck import __version__, deadline, decide, enclose, local, scales, search, symbols
from pgcheck.backends import ArrayFn, to_numpy, to_torch
from pgcheck.certificate import (
    _TOKEN,
    PROPERTY_STATEMENTS,
    Certificate,
    CheckedScale,
    InvalidScaleError,
    PropertyResult,
    UnprovedScaleError,
    Verdict,
    canonical_hash,
)
from pgcheck.errors import PgcheckError, UserError
from pgcheck.expr import Condition, ExprError, Expression, parse, parse_number
from pgcheck.files import atomic_write
from pgcheck.symbols import X, Y

if TYPE_CHECKING:
    from pgcheck.smt import Encoder

_CALLABLE_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
DELTAS = [Fraction(1, 2), Fraction(1, 8), Fraction(1, 32), Fraction(1, 128), Fraction(1, 1024)]
DEFAULT_TIME_LIMIT = 60.0
SIMPLIFY_SECONDS = 2.0
TAYLOR_SECONDS = 5.0
REFUTE_SECONDS = 8.0        # the certified property-2 analysis, over all candidate y
CERTIFIED_GRID_SECONDS = 2.0
# y values always tried by the property-2 analysis, after z3's and the search's candidates
Y_PROBES = [Fraction(v) for v in ("1", "-1", "1/2", "-1/2", "2", "-2", "10", "-10", "1/10", "-1/10")]


@dataclass(frozen=True)
class Options:
    """How hard to try. ``timeout_ms`` bounds each z3 query; the budget bounds the search;
    ``time_limit_s`` bounds the whole check (None: no limit, in this process)."""

    timeout_ms: int = 2000
    budget: search.Budget = field(default_factory=search.Budget)
    use_cache: bool = True
    time_limit_s: float | None = DEFAULT_TIME_LIMIT

    def key(self) -> str:
        return f"{self.timeout_ms}/{self.budget.samples}/{self.budget.hypothesis_examples}/{self.budget.seed}"


# ---------------------------------------------------------------------------------------------------
# resolving the user's input


@dataclass(frozen=True)
class Source:
    """What the user asked to check: an expression (named or written out) or a trusted callable."""

    input: dict[str, str]
    expression: Expression | None
    function: ArrayFn | None


def resolve(text: str, params: Mapping[str, str] | None = None, seconds: float | None = None) -> Source:
    """Turn ``NAME``, ``EXPR`` or ``module:function`` into a :class:`Source`; raises ExprError. Reading an
    expression (which settles its constants with certified numbers) gets at most ``seconds`` when given
    (on the main thread; off it no timer can be armed, and it runs unlimited), then it is an ExprError."""
    params = dict(params or {})
    stripped = text.strip() if isinstance(text, str) else text
    if isinstance(stripped, str) and stripped in scales.REGISTRY:
        d = scales.REGISTRY[stripped]
        e = d.expression(params)
        return Source({"kind": "named", "name": d.name, "text": d.source, "reference": d.reference},
                      e, None)
    if isinstance(stripped, str) and _CALLABLE_RE.match(stripped):
        if params:
            raise ExprError("--param applies to expressions and named functions, not to module:function")
        return Source({"kind": "callable", "text": stripped}, None, _import_callable(stripped))
    values = {k: parse_number(v) for k, v in params.items()}
    if seconds is not None and deadline.can_limit():
        try:
            e = deadline.limited(lambda: parse(text, values), seconds)
        except deadline.TimeUp:
            raise ExprError(f"reading the text took longer than the time limit ({seconds:g} s); simplify its "
                            "constants") from None
    else:
        e = parse(text, values)
    return Source({"kind": "expression", "text": e.source}, e, None)


def _user_failure(spec: str, what: str, exc: BaseException) -> ExprError:
    if isinstance(exc, SystemExit):
        return ExprError(f"{spec} tried to end the process (SystemExit {exc.code!r}) {what}; a scale function "
                         "must return a number for every real x, y")
    return ExprError(f"{spec} raised {type(exc).__name__} {what} (it must return a number for every real x, y): "
                     f"{exc}")


class _UserFunction:
    """A trusted callable as float64 arrays: a complex value with a non-zero imaginary part becomes NaN
    (it is not a real number, and so the domain search sees it); a failure or an attempt to end the
    process is a one-line user error."""

    def __init__(self, spec: str, fn: Callable[..., Any]) -> None:
        self.spec, self.fn = spec, fn

    def raw(self, x: float, y: float) -> Any:
        """The callable's own value at one point (complex or float), for the messages."""
        v = np.asarray(self.call(np.array([x]), np.array([y]))).ravel()[0]
        return complex(v) if np.iscomplexobj(v) else float(v)

    def overflows(self, x: float, y: float) -> bool:
        """Whether numpy reports a float overflow while the callable computes its value at (x, y): then a
        NaN there may be inf - inf or 0 * inf of a finite function, not a gap in its domain."""
        with np.errstate(over="raise"):
            try:
                self.fn(np.array([x]), np.array([y]))
            except FloatingPointError:
                return True
            except (Exception, SystemExit):
                return False
        return False

    def call(self, x: np.ndarray, y: np.ndarray) -> Any:
        try:
            return np.asarray(self.fn(x, y))
        except (Exception, SystemExit) as exc:  # a user's function may fail in any way, on any input
            raise _user_failure(self.spec, f"on arrays of {np.size(x)} points", exc) from None

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        raw = self.call(x, y)
        if np.iscomplexobj(raw):
            with np.errstate(all="ignore"):
                return np.asarray(np.where(raw.imag == 0, raw.real, np.nan), dtype=np.float64)
        try:
            return np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ExprError(f"{self.spec} returned {raw.dtype} values, not real numbers: {exc}") from None


def _import_callable(spec: str) -> ArrayFn:
    module_name, func_name = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # the user's module may fail in any way while importing
        raise ExprError(f"cannot import module {module_name!r}: {type(exc).__name__}: {exc}") from None
    fn = getattr(module, func_name, None)
    if not callable(fn):
        raise ExprError(f"module {module_name!r} has no callable {func_name!r}")

    f = _UserFunction(spec, fn)

    probe = np.array([0.0, 1.0]), np.array([1.0, -1.0])
    try:
        out = np.asarray(fn(*probe))
    except (Exception, SystemExit) as exc:  # a user's function may fail in any way
        if isinstance(exc, SystemExit):
            raise _user_failure(spec, "on its first call", exc) from None
        raise ExprError(f"{spec} failed on numpy arrays (it must be vectorised: f(x, y) on arrays): "
                        f"{type(exc).__name__}: {exc}") from None
    if np.broadcast(out, probe[0]).shape != probe[0].shape:
        raise ExprError(f"{spec} must be vectorised: f(x, y) on arrays of shape (2,) returned shape {out.shape}")
    return f


# ---------------------------------------------------------------------------------------------------
# results


def _z3_method(enc: Encoder, assumes_domain: bool) -> str:
    import z3

    from pgcheck.smt import describe_abstractions

    method = f"z3 {z3.get_version_string()} nonlinear real arithmetic: negation unsatisfiable"
    if enc.used:
        method += "; sound abstraction: " + describe_abstractions(enc.used)
    else:
        method += " (exact: f is piecewise polynomial)"
    if assumes_domain and enc.obligations:
        method += "; wherever f is defined"
    return method


def _refuted(method: str, t0: float, prop: str, cx: dict[str, str], **kw: str) -> PropertyResult:
    return PropertyResult(prop, PROPERTY_STATEMENTS[prop], "refuted", method, time.perf_counter() - t0,
                          counterexample=cx, **kw)


def _result(prop: str, verdict: Verdict, method: str, t0: float, **kw: Any) -> PropertyResult:
    return PropertyResult(prop, PROPERTY_STATEMENTS[prop], verdict, method, time.perf_counter() - t0, **kw)


def _query(options: Options) -> tuple[Encoder, Any]:
    import z3

    from pgcheck.smt import Encoder

    s = z3.Solver()
    s.set("timeout", options.timeout_ms)
    return Encoder(), s


def _short(v: float) -> Fraction:
    """The float's shortest decimal text read exactly, so counterexamples paste back readably."""
    return Fraction(repr(v))


def _finite(v: float) -> bool:
    return bool(np.isfinite(v))


# ---------------------------------------------------------------------------------------------------
# counterexamples, each confirmed by pgcheck.decide


def _cx_undefined(f: sympy.Expr, conditions: tuple[Condition, ...], x: Fraction, y: Fraction) -> dict[str, str] | None:
    """(x, y) refutes the domain property if a partial operation of the text is certainly evaluated outside
    its domain there, or f certainly has no value there."""
    xs, ys = decide.fmt(x), decide.fmt(y)
    for c in conditions:
        if decide.violated(c.guard, c.operand, c.kind, x, y):
            return {"x": xs, "y": ys, "summary": f"f({xs}, {ys}) is undefined: it takes {c.what} there"}
    try:
        decide.sign(f, decide.point(x, y))
    except decide.Undefined as exc:
        return {"x": xs, "y": ys, "summary": f"f({xs}, {ys}) is undefined: {exc}"}
    except (decide.Undecided, decide.TooLarge):
        return None
    return None


def _defined(conditions: tuple[Condition, ...], *points: tuple[Fraction, Fraction]) -> bool:
    """Whether the text, as written, is certainly defined at every point (a counterexample to 1a, 1b or 2
    must be a point of f's domain: the simplified expression may have a value where the text has none)."""
    return all(decide.satisfied(c.guard, c.operand, c.kind, decide.point(x, y))
               for c in conditions for x, y in points)


def _cx_1a(f: sympy.Expr, x: Fraction, conditions: tuple[Condition, ...] = ()) -> dict[str, str] | None:
    p = decide.point(x, Fraction(0))
    if not _defined(conditions, (x, Fraction(0))):
        return None
    try:
        if decide.sign(f, p) == 0:
            return None
    except (decide.Undefined, decide.Undecided, decide.TooLarge):
        return None
    xs, v = decide.fmt(x), decide.show(f, p)
    return {"x": xs, "y": "0", "f": v, "summary": f"f({xs}, 0) = {v} != 0"}


def _cx_1b(f: sympy.Expr, x: Fraction, y1: Fraction, y2: Fraction,
           conditions: tuple[Condition, ...] = ()) -> dict[str, str] | None:
    if not y1 < y2 or not _defined(conditions, (x, y1), (x, y2)):
        return None
    p1, p2 = decide.point(x, y1), decide.point(x, y2)
    if not decide.greater(f, p1, f, p2):
        return None
    xs, a, b = decide.fmt(x), decide.fmt(y1), decide.fmt(y2)
    v1, v2 = decide.show(f, p1), decide.show(f, p2)
    return {"x": xs, "y1": a, "y2": b, "f(x,y1)": v1, "f(x,y2)": v2,
            "summary": f"f({xs}, {a}) = {v1} > f({xs}, {b}) = {v2} although {a} < {b}"}


def _certified_grid(limit_s: float) -> Callable[[], bool]:
    end = time.monotonic() + limit_s
    return lambda: time.monotonic() < end


_GRID_X = [Fraction(v) for v in ("0", "1", "-1", "1/2", "-1/2", "2", "-2", "10", "-10", "1000", "-1000")]
_GRID_Y = sorted({Fraction(v) for v in ("0", "1e-6", "1e-3", "1/10", "1/2", "1", "2", "10", "100", "200", "1000",
                                        "1e4", "1e5", "1e6")} | {-Fraction(v) for v in ("1e-6", "1e-3", "1/10",
                                        "1/2", "1", "2", "10", "100", "200", "1000", "1e4", "1e5", "1e6")})


# ---------------------------------------------------------------------------------------------------
# the properties of an expression


def _written_conditions(conditions: tuple[Condition, ...], options: Options) -> dict[str, str] | bool:
    """Settle the partial operations as written: a re-checked counterexample, True when z3 shows every
    one defined wherever it is evaluated, False when some stays open."""
    import z3

    from pgcheck.smt import Unsupported, model_value

    settled = True
    x, y = z3.Reals("x y")
    for c in conditions:
        enc, s = _query(options)
        try:
            guard, v = enc.instance(c.guard, x, y), enc.instance(c.operand, x, y)
        except Unsupported:
            settled = False
            continue
        holds = {"nonzero": v != 0, "positive": v > 0, "nonnegative": v >= 0}[c.kind]
        s.add(*enc.axioms)
        s.add(guard, z3.Not(holds))
        status = str(s.check())
        if status == "sat":
            m = s.model()
            mx, my = model_value(m, x), model_value(m, y)
            if decide.violated(c.guard, c.operand, c.kind, mx, my):
                xs, ys = decide.fmt(mx), decide.fmt(my)
                return {"x": xs, "y": ys, "summary": f"f({xs}, {ys}) is undefined: it takes {c.what} there"}
        if status != "unsat":
            settled = False
    return settled


def _domain(e: Expression, fn: ArrayFn, options: Options) -> PropertyResult:
    import z3

    t0 = time.perf_counter()
    if not e.conditions:
        return _result("domain", "proved", "syntactic: the text uses total operations only (no division, log, "
                       "log1p, sqrt or real power)", t0)
    written = _written_conditions(e.conditions, options)
    if isinstance(written, dict):
        return _refuted("z3 model, re-checked exactly (a partial operation as written)", t0, "domain", written)
    if written:
        return _result("domain", "proved", f"z3 {z3.get_version_string()}: every division, log, sqrt and real "
                       "power, as written, is defined wherever Python would evaluate it (negation unsatisfiable "
                       "for each)", t0)
    for a, b in search.undefined_points(fn, options.budget):
        if _finite(a) and _finite(b):
            cx = _cx_undefined(e.core, e.conditions, _short(a), _short(b))
            if cx is not None:
                return _refuted("random search; re-checked exactly", t0, "domain", cx)
    return _result("domain", "undecided", "z3 did not settle every division, log or sqrt as written; no "
                   "undefined point found by search", t0)


def _prop_1a(f: sympy.Expr, fn: ArrayFn, options: Options, conditions: tuple[Condition, ...] = ()) -> PropertyResult:
    import z3

    from pgcheck.smt import Unsupported, model_value

    t0 = time.perf_counter()
    at_zero = f.subs(Y, 0)
    if at_zero == 0:
        return _result("1a", "proved", "sympy: f(x, 0) evaluates to 0 identically (exact algebra)", t0)
    enc, s = _query(options)
    x = z3.Real("x")
    why = "z3 could not decide it"
    try:
        v = enc.instance(f, x, z3.RealVal(0))
        s.add(*enc.axioms)
        s.add(v != 0)
        status = str(s.check())
        if status == "unsat":
            return _result("1a", "proved", _z3_method(enc, True), t0)
        if status == "sat":
            cx = _cx_1a(f, model_value(s.model(), x), conditions)
            if cx is not None:
                return _refuted("z3 model, re-checked exactly", t0, "1a", cx)
            why = "z3's model under the abstraction was not a real counterexample"
    except Unsupported as exc:
        why = f"z3 cannot encode it ({exc})"
    try:
        if deadline.limited(lambda: sympy.simplify(sympy.piecewise_fold(at_zero)) == 0, SIMPLIFY_SECONDS):
            return _result("1a", "proved", f"sympy: f(x, 0) = {symbols.render(at_zero)} simplifies to 0", t0)
    except (deadline.TimeUp, TypeError, ValueError, ArithmeticError, RecursionError):
        pass
    for cand in search.nonzero_at_zero(fn, options.budget):
        if _finite(cand):
            cx = _cx_1a(f, _short(cand), conditions)
            if cx is not None:
                return _refuted("adversarial search, re-checked exactly", t0, "1a", cx)
    more = _certified_grid(CERTIFIED_GRID_SECONDS)
    for gx in _GRID_X:
        if not more():
            break
        cx = _cx_1a(f, gx, conditions)
        if cx is not None:
            return _refuted("certified evaluation on a grid of x", t0, "1a", cx)
    return _result("1a", "undecided", f"{why}; search found no counterexample", t0)


def _prop_1b(f: sympy.Expr, fn: ArrayFn, options: Options, conditions: tuple[Condition, ...] = ()) -> PropertyResult:
    import z3

    from pgcheck.smt import Unsupported, model_value

    t0 = time.perf_counter()
    enc, s = _query(options)
    x, y1, y2 = z3.Reals("x y1 y2")
    why = "z3 could not decide it"
    try:
        f1, f2 = enc.instance(f, x, y1), enc.instance(f, x, y2)
        s.add(*enc.axioms)
        s.add(y1 < y2, f1 > f2)
        status = str(s.check())
        if status == "unsat":
            return _result("1b", "proved", _z3_method(enc, True), t0)
        if status == "sat":
            m = s.model()
            cx = _cx_1b(f, model_value(m, x), model_value(m, y1), model_value(m, y2), conditions)
            if cx is not None:
                return _refuted("z3 model, re-checked exactly", t0, "1b", cx)
            why = "z3's model under the abstraction was not a real counterexample"
    except Unsupported as exc:
        why = f"z3 cannot encode it ({exc})"
    for a, b, c in search.decreasing_in_y(fn, options.budget):
        if _finite(a) and _finite(b) and _finite(c):
            cx = _cx_1b(f, _short(a), _short(b), _short(c), conditions)
            if cx is not None:
                return _refuted("adversarial search, re-checked exactly", t0, "1b", cx)
    more = _certified_grid(CERTIFIED_GRID_SECONDS)
    for gx in _GRID_X:
        for lo, hi in itertools.pairwise(_GRID_Y):
            if not more():
                break
            cx = _cx_1b(f, gx, lo, hi, conditions)
            if cx is not None:
                return _refuted("certified evaluation on a grid of (x, y1 < y2)", t0, "1b", cx)
    return _result("1b", "undecided", f"{why}; search found no counterexample", t0)


def _nice_below(bound: Fraction) -> Fraction:
    """The largest number 1, 2 or 5 times a power of ten that is at most ``bound`` (> 0)."""
    k = 0
    while Fraction(10) ** k > bound:
        k -= 1
    while Fraction(10) ** (k + 1) <= bound:
        k += 1
    for m in (5, 2, 1):
        if m * Fraction(10) ** k <= bound:
            return m * Fraction(10) ** k
    raise AssertionError("unreachable")


def _root_free_radius(d: sympy.Expr) -> Fraction | None:
    """The largest h tried such that d (of x alone) certainly keeps the non-zero sign of d(0) on [-h, h]."""
    try:
        s0 = decide.sign(d, decide.at(Fraction(0)))
    except (decide.Undecided, decide.Undefined, decide.TooLarge):
        return None
    if s0 == 0:
        return None
    for h in local.HS:
        try:
            if decide.sign(d, {X: enclose.interval(-h, h, 2048)}) == s0:
                return h
        except (decide.Undecided, decide.Undefined, decide.TooLarge):
            continue
    return None


def _branch_points(f: sympy.Expr) -> list[Fraction]:
    """Certified lower bounds on |r| for the non-zero points r where a branch of f that depends on x alone
    switches (comparisons, and the kinks of max/min/abs), as far as they can be located exactly."""
    diffs: list[sympy.Expr] = []
    for rel in f.atoms(sympy.Rel):
        diffs.append(rel.lhs - rel.rhs)
    for node in f.atoms(sympy.Max, sympy.Min):
        args = list(node.args)
        diffs += [a - b for i, a in enumerate(args) for b in args[i + 1:]]
    for node in f.atoms(sympy.Abs):
        diffs.append(node.args[0])
    out: list[Fraction] = []
    for d in diffs:
        if Y in d.free_symbols or X not in d.free_symbols:
            continue
        try:
            poly = sympy.Poly(d, X)
        except sympy.PolynomialError:
            radius = _root_free_radius(d)  # not a polynomial (exp(x) != exp(1e-7)): a certified sign
            if radius is not None:
                out.append(radius)
            continue
        coeffs = poly.all_coeffs()
        if all(isinstance(c, sympy.Rational) for c in coeffs) and poly.degree() > 0:
            try:
                for (ra, rb), _ in poly.intervals(eps=sympy.Rational(1, 10**12)):
                    a, b = Fraction(int(ra.p), int(ra.q)), Fraction(int(rb.p), int(rb.q))
                    if a > 0:
                        out.append(a)
                    elif b < 0:
                        out.append(-b)
            except (sympy.PolynomialError, ValueError):
                continue
        elif poly.degree() == 1:  # c1 x + c0 with constant (κ) coefficients: the root -c0/c1
            try:
                lo, hi = decide.bounds(-coeffs[1] / coeffs[0])
            except (decide.Undecided, decide.Undefined, decide.TooLarge, ZeroDivisionError):
                continue
            if lo > 0:
                out.append(lo)
            elif hi < 0:
                out.append(-hi)
    return out


def _turning_points(f: sympy.Expr) -> list[Fraction]:
    """Certified lower bounds on |r| for the non-zero points r where ∂f/∂x may change sign for every y at
    once: the factor of ∂f/∂x that depends on x alone keeps its sign on [-r, r] (|y|(2 + sin(x + c)) turns
    at π/2 − c, so property 2 can only hold inside it)."""
    try:
        x_part, _ = sympy.diff(f, X).as_independent(Y, as_Add=False)
    except (TypeError, ValueError, NotImplementedError):
        return []
    if X not in x_part.free_symbols or x_part.has(*local.NONSMOOTH):
        return []  # the kinks of non-smooth parts are _branch_points'
    radius = _root_free_radius(x_part)
    return [] if radius is None else [radius]


def _deltas(f: sympy.Expr) -> list[Fraction]:
    """The neighbourhoods tried for property 2: exact positive rationals, largest first (the fixed ones,
    one inside the nearest branch point of f that depends on x alone, and one inside the nearest turning
    point of f in x that does not depend on y)."""
    near = [d for d in (_nice_below(r / 2) for r in _branch_points(f) if r > 0) if d < DELTAS[0]]
    turn = [d for d in (_nice_below(r) for r in _turning_points(f) if r > 0) if d < DELTAS[-1]]
    extra = ([min(near)] if near else []) + ([min(turn)] if turn else [])
    return sorted({d for d in DELTAS + extra if d > 0}, reverse=True)


def _separable_monotone(f: sympy.Expr, conditions: tuple[Condition, ...]) -> Fraction | None:
    """The largest h tried for which property 2 on [-h, h] follows from certified interval arithmetic alone,
    or None. For f = u(y)·g(x), |f(·, y)| = |u(y)|·|g|, so it is enough that g has a strict sign s on [-h, h]
    and s·g' >= 0 there (g' enclosed on the closed interval: g is differentiable, and the mean value theorem
    makes |g| = s·g non-decreasing). z3's abstractions miss such cases (y*(2 + x - x**2*exp(x)))."""
    g, u = f.as_independent(Y, as_Add=False)
    if X in u.free_symbols or X not in g.free_symbols or g.has(*local.NONSMOOTH):
        return None
    slope = sympy.diff(g, X)
    for h in local.HS:
        box: dict[sympy.Symbol, enclose.Num] = {X: enclose.interval(-h, h, 2048)}
        try:
            s = decide.sign(g, box)
            if s != 0 and decide.nonnegative(s * slope, box) \
                    and all(decide.satisfied(c.guard, c.operand, c.kind, box) for c in conditions):
                return h
        except (decide.Undecided, decide.Undefined, decide.TooLarge, enclose.NoEnclosure, TypeError, ValueError,
                ArithmeticError, RecursionError):
            continue  # nothing certified at this h
    return None


def _prop_2(f: sympy.Expr, fn: ArrayFn, options: Options, conditions: tuple[Condition, ...] = ()) -> PropertyResult:
    import z3

    from pgcheck.smt import Unsupported, abs_term, model_value

    t0 = time.perf_counter()
    deltas = _deltas(f)
    y_candidates: list[Fraction] = []
    why = "z3 could not prove it for any tried δ"
    try:
        for delta in deltas:
            assert delta > 0
            enc, s = _query(options)
            x1, x2, y = z3.Reals("x1 x2 y")
            f1, f2 = enc.instance(f, x1, y), enc.instance(f, x2, y)
            s.add(*enc.axioms)
            d = z3.RealVal(delta)
            s.add(-d <= x1, x1 < x2, x2 <= d, abs_term(f1) > abs_term(f2))
            status = str(s.check())
            if status == "unsat":
                return _result("2", "proved", _z3_method(enc, True), t0,
                               neighbourhood=f"[-{decide.fmt(delta)}, {decide.fmt(delta)}] for every y")
            if status == "sat":
                y_candidates.append(model_value(s.model(), y))
    except Unsupported as exc:
        why = f"z3 cannot encode it ({exc})"
    h = _separable_monotone(f, conditions)
    if h is not None:
        return _result("2", "proved", "certified interval arithmetic: f = u(y)·g(x) with g of strict sign s and "
                       "s·g' >= 0 on the closed neighbourhood (mean value theorem)", t0,
                       neighbourhood=f"[-{decide.fmt(h)}, {decide.fmt(h)}] for every y")
    end = time.monotonic() + REFUTE_SECONDS
    tried: set[Fraction] = set()

    def refute(candidates: list[Fraction]) -> dict[str, str] | None:
        for y0 in candidates:
            left = end - time.monotonic()
            if left <= 0:
                return None
            if y0 in tried:
                continue
            tried.add(y0)
            cx = local.refute(f, y0, seconds=min(left, 2.0), conditions=conditions)
            if cx is not None:
                return cx
        return None

    # z3's candidates and a few plain values first: the float search (hypothesis) costs more
    cx = refute(y_candidates + Y_PROBES)
    if cx is None:
        cx = refute([_short(v) for v in search.decreasing_abs_in_x(fn, options.budget) if _finite(v)])
    if cx is not None:
        return _refuted("certified one-sided analysis of |f(x, y0)| next to x = 0 (branches decided and "
                        "derivative signs certified by interval arithmetic), y0 from z3/search", t0, "2", cx)
    shown = ", ".join(decide.fmt(d) for d in deltas)
    return _result("2", "undecided", f"{why} (δ in {shown}); no y found where |f| certainly decreases at x = 0",
                   t0)


# ---------------------------------------------------------------------------------------------------
# properties of a black-box callable (tested only)


def _tested_domain(fn: ArrayFn, options: Options, raw: Callable[[float, float], Any],
                   overflowed: Callable[[float, float], bool]) -> PropertyResult:
    t0 = time.perf_counter()
    bad = search.undefined_points(fn, options.budget)
    for a, c in bad:
        v = raw(a, c)
        if isinstance(v, complex) and v.imag != 0:
            return _refuted("search; re-checked by calling the callable again", t0, "domain",
                            {"x": repr(a), "y": repr(c), "summary": f"the callable returned the complex value "
                             f"{v!r} at x = {a!r}, y = {c!r}: not a real number"})
        if isinstance(v, float) and v != v and not overflowed(a, c):
            return _refuted("search; re-checked by calling the callable again", t0, "domain",
                            {"x": repr(a), "y": repr(c), "summary": f"the callable returned nan at x = {a!r}, "
                             f"y = {c!r} (with no float overflow on the way): not a real number"})
    if bad:
        # inf may be float overflow of a finite function: a black box cannot tell, so this is no refutation
        a, c = bad[0]
        return _result("domain", "undecided", f"the callable returned {raw(a, c)!r} at x = {a!r}, y = {c!r} "
                       f"({len(bad)} such points kept); float overflow or a real gap in the domain cannot be "
                       "told apart for a black box", t0)
    return _result("domain", "tested", "random search found no non-finite value", t0)


def _tested(prop: str, fn: ArrayFn, options: Options) -> PropertyResult:
    b = options.budget
    margin = "re-checked by re-evaluating the callable in float64 with relative margin 1e-9"

    def again(x: float, y: float) -> float:
        with np.errstate(all="ignore"):
            return float(np.asarray(fn(np.array([x]), np.array([y])), dtype=np.float64).ravel()[0])

    t0 = time.perf_counter()
    if prop == "1a":
        cands = [x for x in search.nonzero_at_zero(fn, b) if abs(again(x, 0.0)) > 1e-12]
        if cands:
            x = cands[0]
            return _refuted(f"adversarial search; {margin}", t0, "1a",
                            {"x": repr(x), "y": "0", "summary": f"f({x!r}, 0) = {again(x, 0.0)!r} != 0"})
        return _result("1a", "tested", "adversarial search found no counterexample", t0)
    if prop == "1b":
        trip = [(x, a, c) for x, a, c in search.decreasing_in_y(fn, b)
                if again(x, a) - again(x, c) > 1e-9 * (1 + abs(again(x, a)) + abs(again(x, c)))]
        if trip:
            x, a, c = trip[0]
            return _refuted(f"adversarial search; {margin}", t0, "1b", {
                "x": repr(x), "y1": repr(a), "y2": repr(c),
                "summary": f"f({x!r}, {a!r}) = {again(x, a)!r} > f({x!r}, {c!r}) = {again(x, c)!r}"})
        return _result("1b", "tested", "adversarial search found no counterexample", t0)
    ys = search.decreasing_abs_in_x(fn, b)
    if ys:
        y = ys[0]
        return _refuted(f"numerical: |f(x, y)| decreases through x = 0 at h = 1e-3, 1e-5, 1e-7; {margin}",
                        t0, "2", {"y": repr(y), "x1": "-1e-07", "x2": "1e-07",
                                  "summary": f"at y = {y!r}, |f| decreases through x = 0 "
                                  f"(f(-1e-7, y) = {again(-1e-7, y)!r}, f(1e-7, y) = {again(1e-7, y)!r})"})
    return _result("2", "tested", "search found no y where |f| decreases through x = 0", t0)


# ---------------------------------------------------------------------------------------------------
# symbolic summaries (for people; they decide nothing)


_F_ML = sympy.exp(X) * (sympy.exp(Y) - 1)


class NoTaylor(PgcheckError, ValueError):
    """f has no second-order Taylor polynomial at (0, 0) that pgcheck can state; ``str`` says why."""


def taylor2(expr: sympy.Expr) -> str:
    """The second-order Taylor polynomial of f at (0, 0) as text, or why there is none."""
    try:
        return symbols.render(taylor2_polynomial(expr))
    except NoTaylor as exc:
        return str(exc)


def _coefficient(d: sympy.Expr, quadrants: list[dict[sympy.Symbol, Any]], i: int, j: int) -> sympy.Expr:
    """The derivative ``d`` at (0, 0) for a function with branches: its certified values just inside the
    four quadrants must agree with each other and with the value at 0 (else there is no Taylor polynomial)."""
    origin = decide.point(Fraction(0), Fraction(0))
    try:
        near = [decide.bounds(d, q, rel_width=Fraction(1, 10**20)) for q in quadrants]
    except (decide.Undecided, decide.Undefined, decide.TooLarge):
        raise NoTaylor("not available (derivatives could not be evaluated at (0, 0))") from None
    tol = Fraction(1, 10**15) * (1 + max(abs(b) for lo_hi in near for b in lo_hi))
    if max(hi for _, hi in near) - min(lo for lo, _ in near) > tol:
        raise NoTaylor(f"none: f is not twice differentiable at (0, 0) (∂^{i + j}f/∂x^{i}∂y^{j} differs by quadrant)")
    exact = decide.exact_rational(d, origin)
    if exact is not None and abs(exact - near[0][0]) <= tol:
        return sympy.Rational(exact.numerator, exact.denominator)
    # the formula's own value at (0, 0) may come from another branch: take the quadrants' common limit
    mid = (near[0][0] + near[0][1]) / 2
    short = mid.limit_denominator(10**6)
    if abs(short - mid) <= tol:
        return sympy.Rational(short.numerator, short.denominator)
    return sympy.Float(decide._decimal(mid, 15), 15)


def taylor2_polynomial(expr: sympy.Expr) -> sympy.Expr:
    """The second-order Taylor polynomial of f at (0, 0) in x, y; raises :class:`NoTaylor`.

    Smooth f: the exact derivatives at (0, 0). f with branches: the derivatives' certified values at
    (±h, ±h), h = 1e-25, must agree with each other and with (0, 0) (a summary for people, not a proof
    of differentiability)."""
    h = Fraction(1, 10**25)
    nonsmooth = expr.has(*local.NONSMOOTH)
    quadrants = [decide.point(a, b) for a, b in [(h, h), (-h, h), (h, -h), (-h, -h)]]
    terms: list[sympy.Expr] = []
    for i, j in [(0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2)]:
        d = expr
        for _ in range(i):
            d = sympy.diff(d, X)
        for _ in range(j):
            d = sympy.diff(d, Y)
        if nonsmooth:
            c = _coefficient(d, quadrants, i, j)
        else:
            c = d.subs({X: 0, Y: 0})
            if c.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo) or c.free_symbols & {X, Y}:
                raise NoTaylor("not available (derivatives could not be evaluated at (0, 0))")
            try:
                decide.sign(c)
            except decide.Undefined:
                raise NoTaylor("not available (derivatives could not be evaluated at (0, 0))") from None
            except (decide.Undecided, decide.TooLarge):
                pass
        terms.append(c * X**i * Y**j / (sympy.factorial(i) * sympy.factorial(j)))
    return sympy.expand(sympy.Add(*terms))


_TAYLOR_ML: str | None = None


def taylor_ml() -> str:
    global _TAYLOR_ML
    if _TAYLOR_ML is None:
        _TAYLOR_ML = taylor2(_F_ML)
    return _TAYLOR_ML


def symbolic_form(expr: sympy.Expr) -> str:
    """sympy's simplest form of f when simplification is cheap and helps, else its canonical print (κ
    constants written out)."""
    if sympy.count_ops(expr) <= 40 and not expr.has(*local.NONSMOOTH):
        try:
            simpler = deadline.limited(lambda: sympy.simplify(sympy.piecewise_fold(expr)), SIMPLIFY_SECONDS)
            return symbols.render(simpler if sympy.count_ops(simpler) < sympy.count_ops(expr) else expr)
        except Exception:  # simplification is cosmetic; any failure or time-out keeps the unsimplified form
            return symbols.render(expr)
    return symbols.render(expr)


# ---------------------------------------------------------------------------------------------------
# running the checks under the time budget


Task = tuple[str, Callable[[], Any]]


def _unsettled(name: str, why: str) -> PropertyResult | str:
    """What a task that did not finish leaves: its property undecided, or for a summary the reason."""
    if name in PROPERTY_STATEMENTS:
        return PropertyResult(name, PROPERTY_STATEMENTS[name], "undecided", why, 0.0)
    return f"(not available: {why})"


def _safely(name: str, task: Callable[[], Any]) -> Any:
    """Run one task; an internal failure (a sympy or z3 error) makes its property undecided, never a
    traceback or a verdict. A user error (from a trusted callable) propagates."""
    try:
        return task()
    except ExprError:
        raise
    except deadline.TimeUp as exc:
        return _unsettled(name, f"a step did not finish in time ({exc})")
    except Exception as exc:  # sympy, z3 and mpmath can fail in many ways on odd input
        return _unsettled(name, f"pgcheck could not decide it: {type(exc).__name__}: {str(exc)[:200]}")


def _encode(value: Any) -> str:
    if isinstance(value, PropertyResult):
        return json.dumps({"property": asdict(value)})
    return json.dumps({"text": value})


def _decode(line: str) -> Any:
    d = json.loads(line)
    return PropertyResult(**d["property"]) if "property" in d else d["text"]


def _in_child(tasks: list[Task], limit: float) -> tuple[dict[str, Any], str | None]:
    """Run the tasks in a forked child (whose only thread is its main thread, so the sympy step limits
    hold), reading each result as it comes; stop the child when ``limit`` seconds are spent. Returns the
    results that arrived and, when the child ended before sending them all, why."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run, report line by line, and leave without running any cleanup of the parent
        os.close(r)
        code = 0
        try:
            with os.fdopen(w, "w") as out:
                for name, task in tasks:
                    try:
                        msg = {"name": name, "value": _encode(_safely(name, task))}
                    except ExprError as exc:
                        msg = {"name": name, "error": str(exc)}
                    out.write(json.dumps(msg) + "\n")
                    out.flush()
                    if "error" in msg:
                        break
        except BaseException:
            code = 3
        os._exit(code)
    os.close(w)
    results: dict[str, Any] = {}
    buffer, eof = b"", False
    end = time.monotonic() + limit
    try:
        while len(results) < len(tasks):
            left = end - time.monotonic()
            if left <= 0 or not select.select([r], [], [], left)[0]:
                break
            chunk = os.read(r, 1 << 16)
            if not chunk:
                eof = True
                break
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                msg = json.loads(line)
                if "error" in msg:
                    raise ExprError(msg["error"])
                results[msg["name"]] = _decode(msg["value"])
    finally:
        os.close(r)
        if not eof:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    crash = None
    if eof and len(results) < len(tasks):
        crash = (f"exit status {os.WEXITSTATUS(status)}" if os.WIFEXITED(status)
                 else f"signal {os.WTERMSIG(status)}")
    return results, crash


def _run(tasks: list[Task], options: Options, callable_spec: str | None = None) -> dict[str, Any]:
    """Every task's result; what the budget did not allow is undecided (or 'not available')."""
    limit = options.time_limit_s
    if limit is None or not hasattr(os, "fork"):
        return {name: _safely(name, task) for name, task in tasks}
    results, crash = _in_child(tasks, limit)
    if crash is not None and callable_spec is not None:
        raise ExprError(f"{callable_spec} ended the check process ({crash}); a scale function must return a "
                        "number for every real x, y")
    for name, _ in tasks:
        if name not in results:
            why = (f"the check process ended before it finished ({crash})" if crash is not None else
                   f"the time limit of {limit:g} s was reached before it finished (--time-limit)")
            results[name] = _unsettled(name, why)
    return results


# ---------------------------------------------------------------------------------------------------
# public API


def _cache_dir() -> Path:
    root = os.environ.get("PGCHECK_CACHE_DIR")
    return Path(root) if root else Path.home() / ".cache" / "pgcheck" / "certificates"


@functools.cache
def code_fingerprint() -> str:
    """A hash of the source of every module of :mod:`pgcheck` (the validator's code, as it is now). Cached
    certificates are keyed on it as well as on the version: a verdict reached by other code, an older or
    edited checkout of the same version, is never served (it may be one a later fix would not reach)."""
    package = Path(__file__).resolve().parent
    h = hashlib.sha256(__version__.encode())
    for path in sorted(package.rglob("*.py")):
        h.update(path.relative_to(package).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _cache_path(chash: str, options: Options) -> Path:
    key = hashlib.sha256(f"{chash}/{options.key()}/{code_fingerprint()}".encode()).hexdigest()[:32]
    return _cache_dir() / f"{key}.json"


def _load_cached(path: Path, source: Source) -> Certificate | None:
    """The cached certificate of the same canonical function, restated for *this* input: its text and
    parameters (two inputs with one canonical form share the verdicts, not the wording)."""
    try:
        cert = Certificate.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    cert.input = dict(source.input)
    if source.expression is not None:
        cert.params = {k: decide.fmt(v) for k, v in source.expression.params}
    return cert


def _store(path: Path, cert: Certificate) -> None:
    if any("time limit" in p.method or "did not finish" in p.method for p in cert.properties):
        return  # a verdict cut short by the budget is not the function's verdict
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, cert.to_json())
    except (OSError, UserError):
        pass  # the cache is an optimisation; an unwritable cache must not fail a validation


_PROPS = ("domain", "1a", "1b", "2")


def _callable_certificate(source: Source, options: Options) -> Certificate:
    fn = source.function
    assert fn is not None
    spec = source.input.get("text", "the callable")

    def raw(x: float, y: float) -> Any:
        if isinstance(fn, _UserFunction):
            return fn.raw(x, y)
        return float(np.asarray(fn(np.array([x]), np.array([y]))).ravel()[0])

    def overflowed(x: float, y: float) -> bool:
        return isinstance(fn, _UserFunction) and fn.overflows(x, y)

    tasks: list[Task] = [("domain", lambda: _tested_domain(fn, options, raw, overflowed))]
    tasks += [(p, lambda p=p: _tested(p, fn, options)) for p in ("1a", "1b", "2")]  # type: ignore[misc]
    results = _run(tasks, options, callable_spec=spec)
    return Certificate(input=dict(source.input), params={}, canonical="", canonical_hash="",
                       symbolic="(black-box callable)", taylor={}, properties=[results[p] for p in _PROPS],
                       pgcheck_version=__version__, search=options.budget.describe())


def _require_prover() -> None:
    """z3 is imported where a proof needs it, not with this module, so that a certificate already issued
    (the cache, ``PGCHECK_CACHE_DIR``) becomes a :class:`CheckedScale` on a machine without z3 (a GPU
    machine that trains only). Issuing a new certificate needs it: without z3 this is a user error, never
    a certificate whose properties are undecided for want of the solver."""
    try:
        import z3  # noqa: F401
    except ImportError as exc:
        raise UserError("z3-solver is not installed: pgcheck can only use certificates already issued here "
                        f"(none for this function in {_cache_dir()}; set PGCHECK_CACHE_DIR to a folder that "
                        "has it)") from exc


def certify(source: Source, options: Options = Options()) -> Certificate:
    """Check a resolved source against Assumption 5.1 and return its certificate."""
    if source.expression is None:
        return _callable_certificate(source, options)
    e = source.expression
    canonical = sympy.srepr(e.core)
    if e.conditions:  # 'y * x / x' is y where defined, but not the same input: keep their certificates apart
        canonical += "\nwhere " + sympy.srepr([(c.guard, c.operand, c.kind) for c in e.conditions])
    chash = canonical_hash(canonical, __version__)
    path = _cache_path(chash, options)
    if options.use_cache and path.exists():
        cached = _load_cached(path, source)
        if cached is not None:
            return cached
    _require_prover()
    fn = to_numpy(e.core)
    f = e.core
    tasks: list[Task] = [
        ("domain", lambda: _domain(e, fn, options)),
        ("1a", lambda: _prop_1a(f, fn, options, e.conditions)),
        ("1b", lambda: _prop_1b(f, fn, options, e.conditions)),
        ("2", lambda: _prop_2(f, fn, options, e.conditions)),
        ("symbolic", lambda: symbolic_form(f)),
        ("taylor", lambda: deadline.limited(lambda: taylor2(f), TAYLOR_SECONDS)),
    ]
    results = _run(tasks, options)
    cert = Certificate(
        input=dict(source.input), params={k: decide.fmt(v) for k, v in e.params}, canonical=canonical,
        canonical_hash=chash, symbolic=str(results["symbolic"]),
        taylor={"f": str(results["taylor"]), "f_ML": taylor_ml()}, properties=[results[p] for p in _PROPS],
        pgcheck_version=__version__, search=options.budget.describe(),
    )
    if options.use_cache:
        _store(path, cert)
    return cert


def validate(text: str, params: Mapping[str, str] | None = None, options: Options = Options()) -> Certificate:
    """Check ``NAME``, ``EXPR`` or ``module:function`` against Assumption 5.1 (raises ExprError on bad input)."""
    return certify(resolve(text, params, options.time_limit_s), options)


def checked_scale(text: str, params: Mapping[str, str] | None = None, options: Options = Options(),
                  *, require_proof: bool = False) -> CheckedScale:
    """The only way to obtain a :class:`CheckedScale`.

    Raises :class:`pgcheck.certificate.InvalidScaleError` (with the counterexample) when the function
    is INVALID, and :class:`pgcheck.certificate.UnprovedScaleError` when ``require_proof`` is set and some
    property is only tested or undecided.
    """
    source = resolve(text, params, options.time_limit_s)
    cert = certify(source, options)
    if cert.overall == "INVALID":
        raise InvalidScaleError(cert)
    if require_proof and cert.overall != "VALID":
        raise UnprovedScaleError(cert)
    numpy_fn: ArrayFn
    torch_fn: Callable[..., Any] | None
    if source.expression is not None:
        numpy_fn, torch_fn = to_numpy(source.expression.core), to_torch(source.expression.core)
    else:
        assert source.function is not None
        numpy_fn, torch_fn = source.function, None
    return CheckedScale(cert, numpy_fn, torch_fn, _token=_TOKEN)


__all__ = ["DEFAULT_TIME_LIMIT", "NoTaylor", "Options", "Source", "certify", "checked_scale", "resolve",
           "symbolic_form", "taylor2", "taylor2_polynomial", "validate"]
