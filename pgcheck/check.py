"""The Assumption 5.1 checker: proofs with z3 and sympy, refutations re-checked exactly, honest search.

For a scale function ``f(x, y)`` (x = ΔO, y = ΔR) the checker decides, property by property
(DESIGN.md §4, the paper's Assumption 5.1):

* ``domain``: f is a finite real number everywhere (the assumption takes f : R² → R);
* ``1a``: f(x, 0) = 0 for every real x;
* ``1b``: f(x, ·) is non-decreasing for every real x — over the whole real line;
* ``2``:  |f(·, y)| is non-decreasing on a neighbourhood [-δ, δ] of 0 for every y.

Each verdict is *proved* (z3 ``unsat`` of the negation, exact for piecewise polynomials and sound under
the stated abstraction of transcendental functions; or a sympy identity), *refuted* (a counterexample
confirmed by :mod:`pgcheck.exact`), or *undecided* (neither, after the search in :mod:`pgcheck.search`;
reported as ``tested`` for black-box callables, which can never be proved).

Property 2 is proved with one δ for all y, which is sufficient; it is refuted only by a y for which
a one-sided derivative of |f(·, y)| at 0 is negative (sympy limit), so no neighbourhood can work.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import sympy
import z3

from pgcheck import __version__, exact, scales, search
from pgcheck.backends import ArrayFn, to_numpy, to_torch
from pgcheck.certificate import (
    _TOKEN,
    PROPERTY_STATEMENTS,
    Certificate,
    CheckedScale,
    PropertyResult,
    Verdict,
    canonical_hash,
)
from pgcheck.expr import Condition, ExprError, Expression, X, Y, parse, parse_number
from pgcheck.smt import Encoder, Obligation, Unsupported, describe_abstractions, model_value

_CALLABLE_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
DELTAS = [Fraction(1, 2), Fraction(1, 8), Fraction(1, 32), Fraction(1, 128), Fraction(1, 1024)]


@dataclass(frozen=True)
class Options:
    """How hard to try. ``timeout_ms`` bounds each z3 query; the budget bounds the search."""

    timeout_ms: int = 2000
    budget: search.Budget = field(default_factory=search.Budget)
    use_cache: bool = True

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


def resolve(text: str, params: Mapping[str, str] | None = None) -> Source:
    """Turn ``NAME``, ``EXPR`` or ``module:function`` into a :class:`Source`; raises ExprError."""
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
    e = parse(text, {k: parse_number(v) for k, v in params.items()})
    return Source({"kind": "expression", "text": e.source}, e, None)


def _import_callable(spec: str) -> ArrayFn:
    module_name, func_name = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # the user's module may fail in any way while importing
        raise ExprError(f"cannot import module {module_name!r}: {type(exc).__name__}: {exc}") from None
    fn = getattr(module, func_name, None)
    if not callable(fn):
        raise ExprError(f"module {module_name!r} has no callable {func_name!r}")
    probe = np.array([0.0, 1.0]), np.array([1.0, -1.0])
    try:
        out = np.asarray(fn(*probe), dtype=np.float64)
    except Exception as exc:  # a user's function may fail in any way
        raise ExprError(f"{spec} failed on numpy arrays (it must be vectorised: f(x, y) on arrays): "
                        f"{type(exc).__name__}: {exc}") from None
    if np.broadcast(out, probe[0]).shape != probe[0].shape:
        raise ExprError(f"{spec} must be vectorised: f(x, y) on arrays of shape (2,) returned shape {out.shape}")

    def f(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        try:
            return np.asarray(fn(x, y), dtype=np.float64)
        except Exception as exc:  # a user's function may fail in any way, on any input
            raise ExprError(f"{spec} raised {type(exc).__name__} on arrays of {np.size(x)} points "
                            f"(it must return a number for every real x, y): {exc}") from None
    return f


# ---------------------------------------------------------------------------------------------------
# z3 queries


@dataclass
class _Query:
    encoder: Encoder
    solver: Any
    abstract: bool

    def check(self) -> str:
        self.solver.add(*self.encoder.axioms)
        return str(self.solver.check())


def _query(options: Options) -> tuple[Encoder, Any]:
    s = z3.Solver()
    s.set("timeout", options.timeout_ms)
    return Encoder(), s


def _z3_method(enc: Encoder, assumes_domain: bool) -> str:
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


# ---------------------------------------------------------------------------------------------------
# exact re-checks of candidate counterexamples


def _short(v: float) -> Fraction:
    """The float's shortest decimal text read exactly, so counterexamples paste back readably."""
    return Fraction(repr(v))


def _as_obligation(c: Condition) -> Obligation:
    """A written partial operation as an obligation for the exact re-check (z3 parts unused there)."""
    return Obligation(None, None, c.what, c.guard, c.operand, c.kind)


def _violated(ob: Obligation, x: Fraction, y: Fraction) -> dict[str, str] | None:
    """The domain counterexample when (x, y) certainly violates the obligation, else None."""
    if not ob.violated_at(x, y):
        return None
    xs, ys = exact.fmt(x), exact.fmt(y)
    return {"x": xs, "y": ys, "summary": f"f({xs}, {ys}) is undefined: it takes {ob.what} there"}


def _cx_undefined(expr: sympy.Expr, x: Fraction, y: Fraction, obligation: Obligation | None = None,
                  conditions: tuple[Condition, ...] = ()) -> dict[str, str] | None:
    """(x, y) refutes the domain property if f, or an operation f uses there, is undefined at it."""
    where = {"x": exact.fmt(x), "y": exact.fmt(y)}
    for ob in ([obligation] if obligation is not None else []) + [_as_obligation(c) for c in conditions]:
        cx = _violated(ob, x, y)
        if cx is not None:
            return cx
    try:
        exact.value(expr, x, y)
    except exact.Undefined as exc:
        return {**where, "summary": str(exc)}
    except exact.Indeterminate:
        return None
    return None


def _cx_1a(expr: sympy.Expr, x: Fraction) -> dict[str, str] | None:
    try:
        v = exact.value(expr, x, Fraction(0))
        if exact.sign(v) == 0:
            return None
    except (exact.Undefined, exact.Indeterminate):
        return None
    return {"x": exact.fmt(x), "y": "0", "f": exact.show(v),
            "summary": f"f({exact.fmt(x)}, 0) = {exact.show(v)} != 0"}


def _cx_1b(expr: sympy.Expr, x: Fraction, y1: Fraction, y2: Fraction) -> dict[str, str] | None:
    if not y1 < y2:
        return None
    try:
        f1, f2 = exact.value(expr, x, y1), exact.value(expr, x, y2)
        if not exact.greater(f1, f2):
            return None
    except (exact.Undefined, exact.Indeterminate):
        return None
    xs, a, b = exact.fmt(x), exact.fmt(y1), exact.fmt(y2)
    return {"x": xs, "y1": a, "y2": b, "f(x,y1)": exact.show(f1), "f(x,y2)": exact.show(f2),
            "summary": f"f({xs}, {a}) = {exact.show(f1)} > f({xs}, {b}) = {exact.show(f2)} although {a} < {b}"}


_H = sympy.Symbol("h", positive=True)
LIMIT_SECONDS = 3.0
SIMPLIFY_SECONDS = 2.0


class _TimeUp(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Bound a sympy computation that may run away (limits of large Piecewise); main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def alarm(signum: int, frame: object) -> None:
        raise _TimeUp

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _witness_pair(g: sympy.Expr, y0: Fraction, side: str) -> tuple[Fraction, Fraction] | None:
    """A pair x1 < x2 next to 0 with |f(x1, y0)| > |f(x2, y0)|, confirmed exactly, or None when no tried
    distance shows it (the limit proves that one exists, possibly closer to 0 than 1e-39)."""
    for k in range(3, 40, 3):
        h = Fraction(1, 10**k)
        xa, xb = (Fraction(0), h) if side == "right" else (-h, Fraction(0))
        try:
            if exact.greater(exact.value(g, xa, y0), exact.value(g, xb, y0)):
                return xa, xb
        except (exact.Undefined, exact.Indeterminate):
            break
    return None


def _cx_2(expr: sympy.Expr, y0: Fraction) -> dict[str, str] | None:
    """y0 refutes property 2 if |f(·, y0)| drops to the right of 0 or rises to the left, at some order."""
    g = sympy.Abs(expr.subs(Y, exact.rational(y0)))
    try:
        g0 = exact.value(g, Fraction(0), y0)
    except (exact.Undefined, exact.Indeterminate):
        return None
    for side, term in (("right", g.subs(X, _H) - g0), ("left", g0 - g.subs(X, -_H))):
        for order in (0, 1, 2, 3):
            try:
                with _time_limit(LIMIT_SECONDS):
                    lim = sympy.limit(term / _H**order, _H, 0, "+")
            except Exception:  # sympy's limit may give up or time out; then this y0 decides nothing
                break
            if lim.is_number and lim.is_real is not False and lim.is_comparable and bool(lim < 0):
                ys = exact.fmt(y0)
                where = "x -> 0+" if side == "right" else "x -> 0-"
                what = ["|f| jumps down", "d|f|/dx < 0", "second-order decrease", "third-order decrease"][order]
                pair = _witness_pair(g, y0, side)
                out = {"y": ys, "side": side, "order": str(order), "limit": str(lim),
                       "summary": f"at y = {ys}, |f(x, {ys})| decreases as {where} ({what}: limit {lim}), "
                                  "so no neighbourhood of x = 0 works"}
                if pair is None:
                    out["summary"] += "; the decrease is closer to 0 than 1e-39, so no pasteable pair is given"
                else:
                    out.update(x1=exact.fmt(pair[0]), x2=exact.fmt(pair[1]))
                    out["summary"] += f"; e.g. compare x = {out['x1']} and x = {out['x2']}"
                return out
            if not (lim.is_number and lim == 0):
                break
    return None


# ---------------------------------------------------------------------------------------------------
# properties of an expression


def _written_conditions(conditions: tuple[Condition, ...], options: Options) -> dict[str, str] | bool:
    """Settle the partial operations as written: a re-checked counterexample, True when z3 shows every
    one defined wherever it is evaluated, False when some stays open."""
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
            cx = _violated(_as_obligation(c), model_value(m, x), model_value(m, y))
            if cx is not None:
                return cx
        if status != "unsat":
            settled = False
    return settled


def _domain(expr: sympy.Expr, fn: ArrayFn, options: Options, conditions: tuple[Condition, ...] = ()) -> PropertyResult:
    t0 = time.perf_counter()
    written = _written_conditions(conditions, options)
    if isinstance(written, dict):
        return _refuted("z3 model, re-checked exactly (a partial operation as written)", t0, "domain", written)
    enc, s = _query(options)
    x, y = z3.Reals("x y")
    try:
        enc.instance(expr, x, y)
    except Unsupported as exc:
        return _search_domain(expr, fn, options, t0, f"z3 cannot encode it ({exc})", conditions)
    if not enc.obligations and not conditions:
        return _result("domain", "proved", "syntactic: f is built from total operations only", t0)
    unknown = not written
    for ob in enc.obligations:
        s.push()
        s.add(*enc.axioms)
        s.add(ob.guard, z3.Not(ob.cond))
        status = str(s.check())
        if status == "sat":
            m = s.model()
            cx = _cx_undefined(expr, model_value(m, x), model_value(m, y), ob)
            if cx is not None:
                return _refuted("z3 model, re-checked exactly", t0, "domain", cx)
            unknown = True
        elif status != "unsat":
            unknown = True
        s.pop()
    if not unknown:
        return _result("domain", "proved", _z3_method(enc, False) + ": every division, log, sqrt and real "
                       "power, as written, is defined wherever it is used (including that a Piecewise covers "
                       "every input)", t0)
    return _search_domain(expr, fn, options, t0, "z3 did not settle every division, log or sqrt", conditions)


def _search_domain(expr: sympy.Expr, fn: ArrayFn, options: Options, t0: float, why: str,
                   conditions: tuple[Condition, ...] = ()) -> PropertyResult:
    for a, b in search.undefined_points(fn, options.budget):
        cx = _cx_undefined(expr, _short(a), _short(b), conditions=conditions)
        if cx is not None:
            return _refuted("random search; re-checked exactly", t0, "domain", cx)
    return _result("domain", "undecided", f"{why}; no undefined point found by search", t0)


def _prop_1a(expr: sympy.Expr, fn: ArrayFn, options: Options) -> PropertyResult:
    t0 = time.perf_counter()
    at_zero = expr.subs(Y, 0)
    if at_zero == 0:
        return _result("1a", "proved", "sympy: f(x, 0) evaluates to 0 identically", t0)
    enc, s = _query(options)
    x = z3.Real("x")
    why = "z3 could not decide it"
    try:
        v = enc.instance(expr, x, z3.RealVal(0))
        s.add(*enc.axioms)
        s.add(v != 0)
        status = str(s.check())
        if status == "unsat":
            return _result("1a", "proved", _z3_method(enc, True), t0)
        if status == "sat":
            cx = _cx_1a(expr, model_value(s.model(), x))
            if cx is not None:
                return _refuted("z3 model, re-checked exactly", t0, "1a", cx)
            why = "z3's model under the abstraction was not a real counterexample"
    except Unsupported as exc:
        why = f"z3 cannot encode it ({exc})"
    if sympy.simplify(sympy.piecewise_fold(at_zero)) == 0:
        return _result("1a", "proved", f"sympy: f(x, 0) = {at_zero} simplifies to 0", t0)
    for cand in search.nonzero_at_zero(fn, options.budget):
        cx = _cx_1a(expr, _short(cand))
        if cx is not None:
            return _refuted("adversarial search, re-checked exactly", t0, "1a", cx)
    return _result("1a", "undecided", f"{why}; search found no counterexample", t0)


def _prop_1b(expr: sympy.Expr, fn: ArrayFn, options: Options) -> PropertyResult:
    t0 = time.perf_counter()
    enc, s = _query(options)
    x, y1, y2 = z3.Reals("x y1 y2")
    why = "z3 could not decide it"
    try:
        f1, f2 = enc.instance(expr, x, y1), enc.instance(expr, x, y2)
        s.add(*enc.axioms)
        s.add(y1 < y2, f1 > f2)
        status = str(s.check())
        if status == "unsat":
            return _result("1b", "proved", _z3_method(enc, True), t0)
        if status == "sat":
            m = s.model()
            cx = _cx_1b(expr, model_value(m, x), model_value(m, y1), model_value(m, y2))
            if cx is not None:
                return _refuted("z3 model, re-checked exactly", t0, "1b", cx)
            why = "z3's model under the abstraction was not a real counterexample"
    except Unsupported as exc:
        why = f"z3 cannot encode it ({exc})"
    for a, b, c in search.decreasing_in_y(fn, options.budget):
        cx = _cx_1b(expr, _short(a), _short(b), _short(c))
        if cx is not None:
            return _refuted("adversarial search, re-checked exactly", t0, "1b", cx)
    return _result("1b", "undecided", f"{why}; search found no counterexample", t0)


def _critical_deltas(expr: sympy.Expr) -> list[Fraction]:
    """Half the distance from 0 to the nearest branch point that depends on x alone."""
    roots: list[float] = []
    for rel in expr.atoms(sympy.Rel):
        diff = rel.lhs - rel.rhs
        if diff.free_symbols == {X} and diff.is_polynomial(X) and sympy.degree(diff, X) == 1:
            r = sympy.solve(diff, X)
            roots += [float(sympy.N(v)) for v in r if v.is_real and v != 0]
    if not roots:
        return []
    nearest = min(abs(r) for r in roots)
    return [Fraction(nearest / 2).limit_denominator(10**6)]


def _prop_2(expr: sympy.Expr, fn: ArrayFn, options: Options) -> PropertyResult:
    t0 = time.perf_counter()
    deltas = sorted(set(_critical_deltas(expr) + DELTAS), reverse=True)
    y_candidates: list[Fraction] = []
    why = "z3 could not prove it for any tried δ"
    try:
        for delta in deltas:
            enc, s = _query(options)
            x1, x2, y = z3.Reals("x1 x2 y")
            f1, f2 = enc.instance(expr, x1, y), enc.instance(expr, x2, y)
            s.add(*enc.axioms)
            d = z3.RealVal(delta)
            s.add(-d <= x1, x1 < x2, x2 <= d, z3.If(f1 >= 0, f1, -f1) > z3.If(f2 >= 0, f2, -f2))
            status = str(s.check())
            if status == "unsat":
                return _result("2", "proved", _z3_method(enc, True), t0,
                               neighbourhood=f"[-{exact.fmt(delta)}, {exact.fmt(delta)}] for every y")
            if status == "sat":
                y_candidates.append(model_value(s.model(), y))
    except Unsupported as exc:
        why = f"z3 cannot encode it ({exc})"
    y_candidates += [_short(v) for v in search.decreasing_abs_in_x(fn, options.budget)]
    seen: set[Fraction] = set()
    for y0 in y_candidates:
        if y0 in seen:
            continue
        seen.add(y0)
        cx = _cx_2(expr, y0)
        if cx is not None:
            return _refuted("one-sided limit of |f(x, y0)| at x = 0 (sympy), y0 from z3/search", t0, "2", cx)
    tried = ", ".join(exact.fmt(d) for d in deltas)
    return _result("2", "undecided", f"{why} (δ in {tried}); no y found where |f| decreases at x = 0", t0)


# ---------------------------------------------------------------------------------------------------
# properties of a black-box callable (tested only)


def _tested_properties(fn: ArrayFn, options: Options) -> list[PropertyResult]:
    b = options.budget
    margin = "re-checked by re-evaluating the callable in float64 with relative margin 1e-9"
    out: list[PropertyResult] = []

    def again(x: float, y: float) -> float:
        with np.errstate(all="ignore"):
            return float(np.asarray(fn(np.array([x]), np.array([y])), dtype=np.float64).ravel()[0])

    t0 = time.perf_counter()
    bad = search.undefined_points(fn, b)
    if bad:
        # A black box cannot be evaluated exactly: inf/nan may be float overflow, so this is no refutation.
        a, c = bad[0]
        out.append(_result("domain", "undecided", f"the callable returned {again(a, c)!r} at x = {a!r}, "
                           f"y = {c!r} ({len(bad)} such points kept); float overflow or a real gap in the "
                           "domain cannot be told apart for a black box", t0))
    else:
        out.append(_result("domain", "tested", "random search found no non-finite value", t0))

    t0 = time.perf_counter()
    cands = [x for x in search.nonzero_at_zero(fn, b) if abs(again(x, 0.0)) > 1e-12]
    if cands:
        x = cands[0]
        out.append(_refuted(f"adversarial search; {margin}", t0, "1a",
                            {"x": repr(x), "y": "0", "summary": f"f({x!r}, 0) = {again(x, 0.0)!r} != 0"}))
    else:
        out.append(_result("1a", "tested", "adversarial search found no counterexample", t0))

    t0 = time.perf_counter()
    trip = [(x, a, c) for x, a, c in search.decreasing_in_y(fn, b)
            if again(x, a) - again(x, c) > 1e-9 * (1 + abs(again(x, a)) + abs(again(x, c)))]
    if trip:
        x, a, c = trip[0]
        out.append(_refuted(f"adversarial search; {margin}", t0, "1b", {
            "x": repr(x), "y1": repr(a), "y2": repr(c),
            "summary": f"f({x!r}, {a!r}) = {again(x, a)!r} > f({x!r}, {c!r}) = {again(x, c)!r}"}))
    else:
        out.append(_result("1b", "tested", "adversarial search found no counterexample", t0))

    t0 = time.perf_counter()
    ys = search.decreasing_abs_in_x(fn, b)
    if ys:
        y = ys[0]
        out.append(_refuted(f"numerical: |f(x, y)| decreases through x = 0 at h = 1e-3, 1e-5, 1e-7; {margin}",
                            t0, "2", {"y": repr(y), "summary": f"at y = {y!r}, |f| decreases through x = 0 "
                                      f"(f(-1e-7, y) = {again(-1e-7, y)!r}, f(1e-7, y) = {again(1e-7, y)!r})"}))
    else:
        out.append(_result("2", "tested", "search found no y where |f| decreases through x = 0", t0))
    return out


# ---------------------------------------------------------------------------------------------------
# symbolic summaries


_F_ML = sympy.exp(X) * (sympy.exp(Y) - 1)
_NONSMOOTH = (sympy.Piecewise, sympy.Max, sympy.Min, sympy.Abs, sympy.sign)


class NoTaylor(ValueError):
    """f has no second-order Taylor polynomial at (0, 0) that pgcheck can state; ``str`` says why."""


def taylor2(expr: sympy.Expr) -> str:
    """The second-order Taylor polynomial of f at (0, 0) as text, or why there is none."""
    try:
        return str(taylor2_polynomial(expr))
    except NoTaylor as exc:
        return str(exc)


def taylor2_polynomial(expr: sympy.Expr) -> sympy.Expr:
    """The second-order Taylor polynomial of f at (0, 0) in x, y; raises :class:`NoTaylor`."""
    h = sympy.Rational(1, 10**25)
    # Smooth expressions need no test for differentiability: their derivatives are read off at (0, 0).
    quadrants = [(h, h), (-h, h), (h, -h), (-h, -h)] if expr.has(*_NONSMOOTH) else []
    terms: list[sympy.Expr] = []
    for i, j in [(0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2)]:
        d = expr
        for _ in range(i):
            d = sympy.diff(d, X)
        for _ in range(j):
            d = sympy.diff(d, Y)
        if not quadrants:
            c = d.subs({X: 0, Y: 0})
            if not (c.is_number and c.is_finite):
                raise NoTaylor("not available (derivatives could not be evaluated at (0, 0))")
            terms.append(c * X**i * Y**j / (sympy.factorial(i) * sympy.factorial(j)))
            continue
        try:
            vals = [sympy.N(d.subs({X: a, Y: b}), 30) for a, b in quadrants]
        except (TypeError, ValueError):
            raise NoTaylor("not available (derivatives could not be evaluated at (0, 0))") from None
        if not all(v.is_real and v.is_finite for v in vals) or max(vals) - min(vals) > sympy.Float("1e-15"):
            raise NoTaylor(f"none: f is not twice differentiable at (0, 0) (∂^{i + j}f/∂x^{i}∂y^{j} differs by "
                           "quadrant)")
        at_zero = d.subs({X: 0, Y: 0})
        if at_zero.is_number and at_zero.is_finite and abs(sympy.N(at_zero, 30) - vals[0]) < 1e-15:
            c = at_zero
        else:
            c = sympy.nsimplify(sympy.Float(vals[0], 20), rational=True, tolerance=1e-15)
        terms.append(c * X**i * Y**j / (sympy.factorial(i) * sympy.factorial(j)))
    return sympy.expand(sympy.Add(*terms))


_TAYLOR_ML: str | None = None


def taylor_ml() -> str:
    global _TAYLOR_ML
    if _TAYLOR_ML is None:
        _TAYLOR_ML = taylor2(_F_ML)
    return _TAYLOR_ML


def symbolic_form(expr: sympy.Expr) -> str:
    """sympy's simplest form of f when simplification is cheap and helps, else its canonical print."""
    if sympy.count_ops(expr) <= 40 and not expr.has(*_NONSMOOTH):
        try:
            with _time_limit(SIMPLIFY_SECONDS):
                simpler = sympy.simplify(sympy.piecewise_fold(expr))
            return str(simpler if sympy.count_ops(simpler) < sympy.count_ops(expr) else expr)
        except Exception:  # simplification is cosmetic; any failure or time-out keeps the unsimplified form
            return str(expr)
    return str(expr)


# ---------------------------------------------------------------------------------------------------
# public API


def _cache_dir() -> Path:
    root = os.environ.get("PGCHECK_CACHE_DIR")
    return Path(root) if root else Path.home() / ".cache" / "pgcheck" / "certificates"


def _cache_path(chash: str, options: Options) -> Path:
    key = hashlib.sha256(f"{chash}/{options.key()}".encode()).hexdigest()[:32]
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
        cert.params = {k: exact.fmt(v) for k, v in source.expression.params}
    return cert


def _store(path: Path, cert: Certificate) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(cert.to_json())
        os.replace(tmp, path)
    except OSError:
        pass  # the cache is an optimisation; an unwritable cache must not fail a validation


def certify(source: Source, options: Options = Options()) -> Certificate:
    """Check a resolved source against Assumption 5.1 and return its certificate."""
    if source.expression is None:
        assert source.function is not None
        props = _tested_properties(source.function, options)
        return Certificate(input=dict(source.input), params={}, canonical="", canonical_hash="",
                           symbolic="(black-box callable)", taylor={}, properties=props,
                           pgcheck_version=__version__, search=options.budget.describe())
    e = source.expression
    canonical = sympy.srepr(e.expr)
    if e.conditions:  # 'y * x / x' is y where defined, but not the same input: keep their certificates apart
        canonical += "\nwhere " + sympy.srepr([(c.guard, c.operand, c.kind) for c in e.conditions])
    chash = canonical_hash(canonical, __version__)
    path = _cache_path(chash, options)
    if options.use_cache and path.exists():
        cached = _load_cached(path, source)
        if cached is not None:
            return cached
    fn = to_numpy(e.expr)
    props = [_domain(e.expr, fn, options, e.conditions), _prop_1a(e.expr, fn, options), _prop_1b(e.expr, fn, options),
             _prop_2(e.expr, fn, options)]
    cert = Certificate(
        input=dict(source.input), params={k: exact.fmt(v) for k, v in e.params}, canonical=canonical,
        canonical_hash=chash, symbolic=symbolic_form(e.expr),
        taylor={"f": taylor2(e.expr), "f_ML": taylor_ml()}, properties=props,
        pgcheck_version=__version__, search=options.budget.describe(),
    )
    if options.use_cache:
        _store(path, cert)
    return cert


def validate(text: str, params: Mapping[str, str] | None = None, options: Options = Options()) -> Certificate:
    """Check ``NAME``, ``EXPR`` or ``module:function`` against Assumption 5.1 (raises ExprError on bad input)."""
    return certify(resolve(text, params), options)


def checked_scale(text: str, params: Mapping[str, str] | None = None, options: Options = Options(),
                  *, require_proof: bool = False) -> CheckedScale:
    """The only way to obtain a :class:`CheckedScale`.

    Raises :class:`pgcheck.certificate.InvalidScaleError` (with the counterexample) when the function
    is INVALID, and also when ``require_proof`` is set and some property is only tested or undecided.
    """
    source = resolve(text, params)
    cert = certify(source, options)
    if require_proof and cert.overall != "VALID":
        from pgcheck.certificate import InvalidScaleError

        if cert.overall == "INVALID":
            raise InvalidScaleError(cert)
        raise ExprError(f"{text!r} is {cert.overall}, not proved; a proof was required")
    numpy_fn: ArrayFn
    torch_fn: Callable[..., Any] | None
    if source.expression is not None:
        numpy_fn, torch_fn = to_numpy(source.expression.expr), to_torch(source.expression.expr)
    else:
        assert source.function is not None
        numpy_fn, torch_fn = source.function, None
    return CheckedScale(cert, numpy_fn, torch_fn, _token=_TOKEN)
