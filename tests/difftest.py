"""Differential testing of ``pgcheck validate`` against the independent oracle (:mod:`oracle`).

Shared by ``tests/test_differential.py`` (a few hundred examples) and ``benchmarks/bench_differential.py``
(a larger campaign):

* :func:`expressions` is a hypothesis strategy of scale-function texts from the grammar, biased to the
  cases where a validator goes wrong: constants that cancel exactly (``log(6)-log(2)-log(3)``), such
  constants times ``exp(1000)``, tiny and huge literals, piecewise guards near 0, and/or guards that
  protect partial operations, and monotone-in-y structures so that many texts are valid or nearly so;
* :func:`check_certificate` re-checks every proved or refuted verdict of a certificate with the oracle
  and returns the disagreements (empty when the oracle agrees, or cannot tell, everywhere);
* :func:`generate` draws texts from the strategy (deterministically, or from a seed), :func:`run` validates
  them and collects the verdict counts and disagreements.

A disagreement is only reported when the oracle is certain: a point where it is unsure is skipped.
"""

from __future__ import annotations

import dataclasses
import itertools
import multiprocessing
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from multiprocessing.connection import Connection
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from oracle import Oracle, OracleError, OracleSyntaxError, OracleUndefined, OracleUnsure, Point, parse_exact, show

# ---------------------------------------------------------------------------------------------------
# the generator

# exactly zero, but only after cancellation that floating point (or a careless simplifier) misses
ZERO_CONSTANTS = [
    "(log(6)-log(2)-log(3))", "(log(10)-log(2)-log(5))", "(sqrt(2)**2-2)", "(sqrt(8)-2*sqrt(2))",
    "(exp(log(3))-3)", "(log(4)-2*log(2))", "sin(pi)", "(sqrt(2)*sqrt(3)-sqrt(6))", "(log(1e-30)+30*log(10))",
]
LITERALS = ["0", "1", "2", "3", "0.5", "0.1", "0.25", "1e-300", "1e-30", "1e-9", "1e-7", "1e-3", "1e20", "1e6",
            "pi", "2/3"]
GUARD_POINTS = ["0", "1e-9", "1e-7", "1e-3", "-1e-7", "0.5", "1"]


@st.composite
def zero_constant(draw: st.DrawFn) -> str:
    """An exact 0 in disguise, sometimes blown up by exp(1000)."""
    z = draw(st.sampled_from(ZERO_CONSTANTS))
    return draw(st.sampled_from([z, f"({z}*exp(1000))", f"({z}*1e20)", f"({z}*exp(exp(5)))"]))


@st.composite
def constant(draw: st.DrawFn) -> str:
    """A constant: a literal, a disguised 0, or a disguised ordinary number such as tanh(-1)."""
    kind = draw(st.integers(0, 5))
    if kind <= 2:
        return draw(st.sampled_from(LITERALS))
    z = draw(zero_constant())
    if kind == 3:
        return z
    lit = draw(st.sampled_from(["1", "0.5", "2", "1e-30"]))
    return draw(st.sampled_from([f"tanh({z} - 1)", f"({z} + {lit})", f"exp({z})", f"({lit} - {z})",
                                 f"(tanh({z} - 1) + 0.5)", f"sigmoid({z})"]))


@st.composite
def guard(draw: st.DrawFn, var: str = "x") -> str:
    """A condition, often near 0, sometimes protecting a partial operation (Python short-circuits)."""
    v = var
    c = draw(st.sampled_from(GUARD_POINTS))
    choices = [
        f"{v} > {c}", f"{v} >= {c}", f"{v} < {c}", f"{v} != {c}", f"{v} == {c}", f"{v}*{v} < {v}", f"{v} > {v}*{v}",
        f"abs({v}) < {c}", f"{v} > 0 and log({v}) > 0", f"{v} > 0 and sqrt({v}) < 1", f"{v} <= 0 or log({v}) < 1",
        f"not ({v} < {c})", f"0 < {v} < 1", f"{v} != 0 and 1/{v} > 2", f"{v} > -1 and log1p({v}) < 1",
        f"{draw(constant())} > 0", f"{v} > {draw(constant())}", f"{v} > 0 or {v} < 0",
    ]
    return draw(st.sampled_from(choices))


@st.composite
def x_expr(draw: st.DrawFn, depth: int = 2) -> str:
    """An expression in x (no y), often a smooth function, sometimes piecewise or with a partial op."""
    if depth <= 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(["x", "x", "x", "(x*x)", "(x**3)", "(x**4)", "(-x)", "(2*x)", "(1e-7*x)",
                                     draw(constant())]))
    a = draw(x_expr(depth - 1))
    k = draw(st.integers(0, 22))
    if k <= 4:
        op = draw(st.sampled_from(["+", "-", "*"]))
        return f"({a} {op} {draw(x_expr(depth - 1))})"
    if k <= 11:
        fn = draw(st.sampled_from(["exp", "tanh", "sin", "cos", "sigmoid", "softplus", "abs", "relu", "expm1",
                                   "sign"]))
        return f"{fn}({a})"
    if k == 12:
        return f"{draw(st.sampled_from(['max', 'min']))}({a}, {draw(x_expr(depth - 1))})"
    if k == 13:
        return f"clip({a}, -1, 1)"
    if k == 14:
        return f"({a} / (1 + x*x))"
    if k == 15:
        return f"{draw(st.sampled_from(['sqrt', 'log', 'log1p']))}(1 + x*x)"
    if k == 16:  # partial operations as written, unguarded: should refute the domain
        return draw(st.sampled_from(["log(x)", "sqrt(x)", "(1/x)", "(x**0.5)", "log1p(x)", "(1/(x - 1e-7))",
                                     "(x*x/x)", "log(abs(x))", "(1/(x*x + 1e-300))", "(abs(x)**0.5)"]))
    if k == 17:  # partial operations protected by a guard
        return draw(st.sampled_from([
            "(log(x) if x > 0 else 0)", "(sqrt(x) if x >= 0 else -x)", "(1/x if x != 0 else 1)",
            "(x if x <= 0 or log(x) < 1 else 1)", "(log(x) if x > 0 and log(x) > 0 else 0)",
            "(1 if x == 0 else x/x)", "(x**0.5 if x > 1e-9 else 0)",
        ]))
    if k == 18:
        return f"(({a}) ** {draw(st.sampled_from(['2', '3', '0.5', '-1', '1/3']))})"
    return f"({a} if {draw(guard())} else {draw(x_expr(depth - 1))})"


@st.composite
def positive_x(draw: st.DrawFn) -> str:
    """An x-expression that is (meant to be) positive, a multiplier that keeps f monotone in y."""
    h = draw(x_expr(2))
    return draw(st.sampled_from([
        f"exp({h})", f"(2 + sin({h}))", "(1 + x*x)", f"sigmoid({h})", f"(1 + tanh({h}))", f"(1 + {h}**2)",
        f"softplus({h})", "exp(-x)", "(1 - x**2)", "(1 + x**3)", "x**4", "(1 + x**4)", f"max({h}, 1e-30)",
        f"({h} + 2 if {draw(guard())} else exp({h}))", "(2 + sin(x) if x > x*x else 2 - sin(abs(x)))",
        "(exp(-x) if x != 1e-7 else 2)", f"(1 + {draw(constant())})", f"({draw(constant())} + 0.5)",
    ]))


@st.composite
def y_part(draw: st.DrawFn) -> str:
    """A function of y, usually non-decreasing and 0 at 0."""
    return draw(st.sampled_from([
        "y", "y", "tanh(y)", "clip(y, -1, 1)", "max(y, 0)", "min(y, 0)", "(y if y > 0 else 0.5*y)", "expm1(y)",
        "(softplus(y) - log(2))", "(y**3)", "(y + y**3)", "sign(y)", "(y if y < 1e5 else 1e5)", "sigmoid(y) - 0.5",
        "(y*y)", "(-y)", "(y if y > 1e-7 else 2*y)", "(y - 1e-30)", "relu(y)", "(y / (1 + abs(y)))",
    ]))


@st.composite
def general(draw: st.DrawFn, depth: int = 3) -> str:
    """Any expression in x and y."""
    if depth <= 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.one_of(st.sampled_from(["x", "y", "(x*y)", "(y*y)"]), constant()))
    k = draw(st.integers(0, 8))
    a = draw(general(depth - 1))
    if k <= 3:
        return f"({a} {draw(st.sampled_from(['+', '-', '*']))} {draw(general(depth - 1))})"
    if k <= 5:
        return f"{draw(st.sampled_from(['exp', 'tanh', 'abs', 'sin', 'relu', 'log1p', 'sqrt']))}({a})"
    if k == 6:
        return f"({a} / {draw(general(depth - 1))})"
    if k == 7:
        return f"max({a}, {draw(general(depth - 1))})"
    cond = draw(st.one_of(guard("x"), guard("y")))
    return f"({a} if {cond} else {draw(general(depth - 1))})"


@st.composite
def expression(draw: st.DrawFn) -> str:
    """A scale-function text: mostly monotone-in-y structures, some arbitrary ones."""
    k = draw(st.integers(0, 11))
    if k <= 2:
        return f"{draw(y_part())} * {draw(positive_x())}"
    if k == 3:
        return f"y * {draw(x_expr(3))}"
    if k == 4:
        return f"{draw(y_part())} * max({draw(positive_x())}, {draw(x_expr(2))})"
    if k == 5:
        a, b = f"{draw(y_part())} * {draw(positive_x())}", f"{draw(y_part())} * {draw(positive_x())}"
        return f"({a} if {draw(guard())} else {b})"
    if k == 6:
        return f"{draw(y_part())} + {draw(constant())} * {draw(x_expr(2))}"
    if k == 7:
        return f"{draw(y_part())} * {draw(positive_x())} + {draw(zero_constant())} * {draw(x_expr(2))}"
    if k == 8:
        return f"(y if {draw(guard())} else -y)"
    if k == 9:
        return f"{draw(y_part())} * ({draw(positive_x())} if {draw(guard('y'))} else {draw(positive_x())})"
    return draw(general())


def expressions() -> st.SearchStrategy[str]:
    return expression()


def generate(n: int, seed: int | None = None) -> list[str]:
    """n distinct texts drawn by hypothesis: deterministic without a seed, else from that seed (hypothesis
    repeats small examples, so up to 4n draws are made)."""
    out: dict[str, None] = {}

    @settings(max_examples=4 * n, database=None, deadline=None, derandomize=seed is None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(expressions())
    def draw(text: str) -> None:
        if len(out) < n:
            out[text] = None

    if seed is not None:
        draw = hypothesis_seed(seed)(draw)
    draw()
    return list(out)


# ---------------------------------------------------------------------------------------------------
# the grids


@dataclass(frozen=True)
class Density:
    """How many points the oracle checks a proved property on."""

    xs: tuple[Fraction, ...]
    ys: tuple[Fraction, ...]
    random_points: int
    two_ys: tuple[Fraction, ...]


def _signed(values: Iterable[str]) -> tuple[Fraction, ...]:
    out = {Fraction(0)}
    for v in values:
        q = parse_exact(v)
        out |= {q, -q}
    return tuple(sorted(out))


BASE = _signed(["1e-9", "1e-7", "1e-3", "0.5", "1", "2", "10", "1e3", "1e6"])
FULL = Density(BASE, BASE, 8, _signed(["1e-9", "1e-3", "0.5", "1", "2", "10", "1e6"]))
CI = Density(BASE, _signed(["1e-7", "0.5", "1", "2", "1e3"]), 2, _signed(["1e-3", "1", "10"]))


def _literals(text: str) -> list[Fraction]:
    """The decimal literals of the text with |v| <= 1e6, to put points on a guard's threshold."""
    out = []
    for m in re.finditer(r"(?<![\w.])(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)", text):
        try:
            q = parse_exact(m.group(1))
        except (ValueError, ZeroDivisionError):
            continue
        if 0 < q <= 10**6:
            out.append(q)
    return out


def _random_values(rng: random.Random, n: int) -> list[Fraction]:
    out = []
    for _ in range(n):
        if rng.random() < 0.5:
            v = Fraction(round(rng.uniform(-3, 3), 4))
        else:
            v = Fraction(f"{rng.choice([-1, 1]) * rng.uniform(1, 10):.3f}e{rng.randint(-12, 6)}")
        out.append(Fraction(str(float(v))) if v.denominator > 10**12 else v)
    return out


def grid(text: str, density: Density, which: str) -> list[Fraction]:
    """The x or y values for a text: the base values, the text's literals and their neighbours, random ones."""
    rng = random.Random(f"{text}/{which}")
    base = density.xs if which == "x" else density.ys
    extra: set[Fraction] = set()
    for q in _literals(text):
        for v in (q, q * Fraction(1001, 1000), q * Fraction(999, 1000)):
            extra |= {v, -v}
    extra |= set(_random_values(rng, density.random_points))
    return sorted(set(base) | extra)


# ---------------------------------------------------------------------------------------------------
# checking one certificate


def _try(fn: Callable[[], Any]) -> Any:
    """fn(), or None when the oracle is unsure."""
    try:
        return fn()
    except OracleUnsure:
        return None


def _num(cx: Mapping[str, str], key: str) -> Fraction | None:
    v = cx.get(key)
    if v is None:
        return None
    try:
        return parse_exact(str(v))
    except (ValueError, ZeroDivisionError):
        return None


def _shown(text: str) -> Fraction | None:
    """A displayed number (exact decimal or p/q), or None if it is not one (e.g. 'oo', 'sqrt(2)')."""
    try:
        return parse_exact(text)
    except (ValueError, ZeroDivisionError):
        return None


def _fmt(q: Fraction) -> str:
    if q.numerator.bit_length() > 200 or q.denominator.bit_length() > 200:
        return show(q)
    return str(q) if q.denominator == 1 or len(str(q)) < 20 else f"{float(q):.6g}"


class _Checker:
    def __init__(self, text: str, params: Mapping[str, str], density: Density) -> None:
        self.text = text
        self.o = Oracle(text, params)
        self.density = density
        self.xs = grid(text, density, "x")
        self.ys = grid(text, density, "y")
        self.out: list[str] = []

    def say(self, prop: str, verdict: str, msg: str) -> None:
        self.out.append(f"{self.text!r}: property {prop} {verdict}, but {msg}")

    def undefined(self, p: Point) -> bool | None:
        """True when f is certainly undefined at p, False when certainly defined, None when unsure."""
        try:
            self.o.value(*p)
        except OracleUndefined:
            return True
        except OracleUnsure:
            return None
        return False

    def value_text(self, p: Point) -> str:
        try:
            v = self.o.value(*p)
        except OracleError as exc:
            return type(exc).__name__
        return str(self.o.levels[0].ctx.nstr(v.m, 12))

    # -- displayed numbers ---------------------------------------------------------------------------
    def displayed(self, prop: str, cx: Mapping[str, str]) -> None:
        """Every number the certificate shows as a value of f must be the oracle's, to its digits."""
        claims: list[tuple[Point, str, str]] = []
        for key, shown in cx.items():
            m = re.fullmatch(r"f\((\w+),\s*(\w+)\)", key) if key.startswith("f(") else None
            if key == "f":  # property 1a: the value at (x, 0)
                px, py = _num(cx, "x"), (_num(cx, "y") if "y" in cx else Fraction(0))
            elif m is not None:
                px = _num(cx, m.group(1)) if m.group(1) in cx else _shown(m.group(1))
                py = _num(cx, m.group(2)) if m.group(2) in cx else _shown(m.group(2))
            else:
                continue
            if px is not None and py is not None:
                claims.append(((px, py), str(shown), key))
        summary = cx.get("summary", "")
        for m in re.finditer(r"f\(([-+0-9.e/]+), ([-+0-9.e/]+)\) = ([-+0-9.e/]+)(?![\w(])", summary):
            px, py = _shown(m.group(1)), _shown(m.group(2))
            if px is not None and py is not None:
                claims.append(((px, py), m.group(3).rstrip("."), "summary"))
        seen: set[tuple[Point, str]] = set()
        for p, shown, key in claims:
            if (p, shown) in seen:
                continue
            seen.add((p, shown))
            q = _shown(shown)
            if q is None:
                continue
            try:
                ok = self.o.close_to(*p, q)
            except OracleUndefined:
                self.say(prop, "refuted", f"the counterexample shows {key} = {shown} at f({_fmt(p[0])}, "
                                          f"{_fmt(p[1])}), where f is undefined")
                continue
            except OracleUnsure:
                continue
            if not ok:
                self.say(prop, "refuted", f"the counterexample shows {key} = {shown}, while f({_fmt(p[0])}, "
                                          f"{_fmt(p[1])}) = {self.value_text(p)}")

    # -- domain --------------------------------------------------------------------------------------
    def domain(self, verdict: str, cx: Mapping[str, str] | None) -> None:
        if verdict == "refuted":
            x, y = _num(cx or {}, "x"), _num(cx or {}, "y")
            if x is None or y is None:
                self.say("domain", verdict, f"the counterexample has no point: {cx}")
                return
            if self.undefined((x, y)) is False:
                self.say("domain", verdict, f"f({_fmt(x)}, {_fmt(y)}) = {self.value_text((x, y))} is defined")
            return
        for x in self.xs:
            for y in self.ys:
                if self.undefined((x, y)) is True:
                    self.say("domain", verdict, f"f({_fmt(x)}, {_fmt(y)}) is undefined ({self._why((x, y))})")
                    return

    def _why(self, p: Point) -> str:
        try:
            self.o.value(*p)
        except OracleError as exc:
            return str(exc)
        return "defined"

    # -- 1a --------------------------------------------------------------------------------------------
    def p1a(self, verdict: str, cx: Mapping[str, str] | None) -> None:
        if verdict == "refuted":
            x = _num(cx or {}, "x")
            if x is None:
                self.say("1a", verdict, f"the counterexample has no x: {cx}")
                return
            if self.undefined((x, Fraction(0))) is True:
                self.say("1a", verdict, f"f({_fmt(x)}, 0) is undefined, not a non-zero number")
                return
            x0: Fraction = x
            if _try(lambda: self.o.sign(x0, Fraction(0))) == 0:
                self.say("1a", verdict, f"f({_fmt(x)}, 0) = 0 exactly")
            return
        for x in self.xs:
            try:
                s = self.o.sign(x, Fraction(0))
            except OracleError:
                continue
            if s != 0:
                self.say("1a", verdict, f"f({_fmt(x)}, 0) = {self.value_text((x, Fraction(0)))} != 0")
                return

    # -- 1b --------------------------------------------------------------------------------------------
    def p1b(self, verdict: str, cx: Mapping[str, str] | None) -> None:
        if verdict == "refuted":
            x, y1, y2 = (_num(cx or {}, k) for k in ("x", "y1", "y2"))
            if x is None or y1 is None or y2 is None:
                self.say("1b", verdict, f"the counterexample lacks x, y1 or y2: {cx}")
                return
            if not y1 < y2:
                self.say("1b", verdict, f"the counterexample has y1 = {_fmt(y1)} >= y2 = {_fmt(y2)}")
                return
            try:
                s = self.o.compare((x, y1), (x, y2))
            except OracleUndefined:
                self.say("1b", verdict, f"f is undefined at x = {_fmt(x)}, y = {_fmt(y1)} or {_fmt(y2)}")
                return
            except OracleUnsure:
                return
            if s <= 0:
                self.say("1b", verdict, f"f({_fmt(x)}, {_fmt(y1)}) = {self.value_text((x, y1))} <= "
                                        f"f({_fmt(x)}, {_fmt(y2)}) = {self.value_text((x, y2))}")
            return
        for x in self.xs:
            bad = self._drop([(x, y) for y in self.ys], absolute=False)
            if bad is not None:
                (p, q) = bad
                self.say("1b", verdict, f"f({_fmt(x)}, {_fmt(p[1])}) = {self.value_text(p)} > "
                                        f"f({_fmt(x)}, {_fmt(q[1])}) = {self.value_text(q)}")
                return

    def _drop(self, points: list[Point], *, absolute: bool) -> tuple[Point, Point] | None:
        """A pair p before q in ``points`` with f(p) > f(q) (|f| when ``absolute``) certainly, found by
        comparing each point with the earlier point of largest value (at the first precision level)."""
        best: Point | None = None
        best_m: Any = None
        for q in points:
            try:
                v = self.o.value(*q)
            except OracleError:
                continue
            m = abs(v.m) if absolute else v.m
            if best is not None:
                try:
                    s: int | None = self.o.compare(best, q, absolute=absolute)
                except OracleError:
                    s = None
                if s is not None and s > 0:
                    return best, q
            if best is None or m > best_m:
                best, best_m = q, m
        return None

    # -- 2 ---------------------------------------------------------------------------------------------
    def p2(self, verdict: str, cx: Mapping[str, str] | None, neighbourhood: str | None) -> None:
        if verdict == "proved":
            self._p2_proved(neighbourhood or "")
        else:
            self._p2_refuted(cx or {})

    def _p2_proved(self, neighbourhood: str) -> None:
        m = re.search(r"\[\s*([^,\]]+?)\s*,\s*([^\]]+?)\s*\]", neighbourhood)
        lo = _shown(m.group(1)) if m else None
        hi = _shown(m.group(2)) if m else None
        if lo is None or hi is None:
            self.say("2", "proved", f"the neighbourhood {neighbourhood!r} is not an interval of rationals")
            return
        if not (hi > 0 and lo == -hi):
            self.say("2", "proved", f"the neighbourhood {neighbourhood!r} is not [-δ, δ] with δ > 0")
            return
        d = hi
        xs = {Fraction(0), d, -d, d / 2, -d / 2, d * Fraction(999, 1000), -d * Fraction(999, 1000)}
        for k in (1, 2, 3, 5, 7, 9, 12, 15, 20, 30, 60):
            t = Fraction(1, 10**k)
            if t < d:
                xs |= {t, -t, 3 * t, -3 * t}
        xs |= {x for x in self.xs if -d <= x <= d}
        xs_sorted = sorted(x for x in xs if -d <= x <= d)
        for y in sorted(set(self.density.two_ys) | {v for v in self.ys if abs(v) in (1, 2)}):
            bad = self._drop([(x, y) for x in xs_sorted], absolute=True)
            if bad is not None:
                p, q = bad
                self.say("2", "proved", f"on {neighbourhood!r}: |f({_fmt(p[0])}, {_fmt(y)})| = "
                                        f"{self.value_text(p)} (abs) > |f({_fmt(q[0])}, {_fmt(y)})| = "
                                        f"{self.value_text(q)} (abs) although {_fmt(p[0])} < {_fmt(q[0])}")
                return

    def _increasing_chain(self, y: Fraction, side: str) -> bool:
        """Whether |f(·, y)| certainly increases strictly along a dense chain of points on ``side`` of 0,
        from 1e-60 to 5e-3 away, ending (left) or starting (right) at 0: then no decrease of |f| lies near
        0 on that side (at these scales)."""
        hs = sorted(Fraction(m, 10**k) for k in range(3, 61) for m in (1, 2, 5))
        pts = [Fraction(0), *hs] if side == "right" else [*(-h for h in reversed(hs)), Fraction(0)]
        for a, b in itertools.pairwise(pts):
            try:
                if self.o.compare((a, y), (b, y), absolute=True) >= 0:
                    return False
            except OracleError:
                return False
        return True

    def _p2_refuted(self, cx: Mapping[str, str]) -> None:
        y = _num(cx, "y")
        if y is None:
            self.say("2", "refuted", f"the counterexample has no y: {cx}")
            return
        x1, x2 = _num(cx, "x1"), _num(cx, "x2")
        if x1 is not None and x2 is not None:
            if not x1 < x2:
                self.say("2", "refuted", f"the counterexample has x1 = {_fmt(x1)} >= x2 = {_fmt(x2)}")
                return
            try:
                s = self.o.compare((x1, y), (x2, y), absolute=True)
            except OracleUndefined:
                self.say("2", "refuted", f"f is undefined at x = {_fmt(x1)} or {_fmt(x2)}, y = {_fmt(y)}")
                return
            except OracleUnsure:
                s = None
            if s is not None and s <= 0:
                self.say("2", "refuted", f"|f({_fmt(x1)}, {_fmt(y)})| = |{self.value_text((x1, y))}| <= "
                                         f"|f({_fmt(x2)}, {_fmt(y)})| = |{self.value_text((x2, y))}|")
                return
        side = cx.get("side")
        if side not in ("left", "right"):
            side = None
            if x1 is not None and x2 is not None:
                side = "right" if x1 >= 0 else "left" if x2 <= 0 else None
        sides = [side] if side is not None else ["left", "right"]
        if all(self._increasing_chain(y, s) for s in sides):
            where = " and ".join(f"{s} of 0" for s in sides)
            self.say("2", "refuted", f"at y = {_fmt(y)}, |f(·, y)| increases strictly along a chain of points "
                                     f"from 1e-60 to 5e-3 {where} (f(x, y) at x = -1e-30, 0, 1e-30: "
                                     f"{', '.join(self.value_text((Fraction(k, 10**30), y)) for k in (-1, 0, 1))}"
                                     "): the claimed decrease is not there")


def check_certificate(text: str | None, cert: Mapping[str, Any], params: Mapping[str, str] | None = None,
                      density: Density = CI) -> list[str]:
    """The disagreements between the oracle and a certificate (``Certificate.to_dict()`` or its JSON).

    Every property with verdict proved or refuted is re-checked: a refutation at its counterexample
    (and, for property 2, the claim that the decrease persists as x -> 0), a proof on a grid; every value
    of f the counterexample displays must match. Only certain disagreements are reported.
    """
    source = text if text is not None else str(cert["input"]["text"])
    ps = dict(params if params is not None else cert.get("params") or {})
    try:
        ch = _Checker(source, ps, density)
    except OracleSyntaxError as exc:
        return [f"{source!r}: the oracle cannot read the text pgcheck accepted: {exc}"]
    for p in cert["properties"]:
        verdict = p["verdict"]
        if verdict not in ("proved", "refuted"):
            continue
        cx = p.get("counterexample")
        if verdict == "refuted" and cx:
            ch.displayed(p["prop"], cx)
        if p["prop"] == "domain":
            ch.domain(verdict, cx)
        elif p["prop"] == "1a":
            ch.p1a(verdict, cx)
        elif p["prop"] == "1b":
            ch.p1b(verdict, cx)
        elif p["prop"] == "2":
            ch.p2(verdict, cx, p.get("neighbourhood"))
    return ch.out


# ---------------------------------------------------------------------------------------------------
# a campaign


def fast_options() -> Any:
    """pgcheck's Options with a small budget (and a small time limit, if the Options have one)."""
    from pgcheck.check import Options
    from pgcheck.search import Budget

    kwargs: dict[str, Any] = {"timeout_ms": 500, "budget": Budget(samples=2000, hypothesis_examples=20),
                              "use_cache": False}
    for f in dataclasses.fields(Options):
        if f.name.startswith("time_limit") or f.name.startswith("deadline"):
            kwargs[f.name] = 5000 if f.name.endswith("_ms") else 5.0
    return Options(**kwargs)


@dataclass
class Report:
    """What a campaign checked and found."""

    expressions: int = 0
    user_errors: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    disagreements: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # pgcheck raised something else than ExprError, or hung
    seconds_pgcheck: float = 0.0
    seconds_oracle: float = 0.0

    @property
    def checked(self) -> int:
        return sum(v for k, v in self.verdicts.items() if k.endswith(("proved", "refuted")))


def _serve(conn: Connection, options: Any) -> None:
    """The worker: validate each text received, send back the certificate or what went wrong."""
    from pgcheck.check import validate
    from pgcheck.expr import ExprError

    while True:
        text = conn.recv()
        try:
            conn.send(("ok", validate(text, options=options).to_dict()))
        except ExprError as exc:
            conn.send(("user error", str(exc)))
        except Exception as exc:  # any other exception is a pgcheck bug, reported as such
            conn.send(("failure", f"pgcheck raised {type(exc).__name__}: {exc}"))


class Validator:
    """pgcheck's validate in a forked worker process, so that a validation that hangs can be stopped
    (pgcheck uses SIGALRM itself, so an alarm in this process could be cancelled from inside)."""

    def __init__(self, options: Any = None, timeout_s: float = 20.0) -> None:
        self.options = options if options is not None else fast_options()
        self.timeout_s = timeout_s
        self.proc: multiprocessing.process.BaseProcess | None = None
        self.conn: Connection | None = None
        self.sent = 0.0

    def _start(self) -> None:
        ctx = multiprocessing.get_context("fork")
        parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, self.options), daemon=True)
        self.proc.start()
        self.conn = parent

    def submit(self, text: str) -> None:
        """Start validating ``text`` in the worker; :meth:`result` collects it."""
        if self.proc is None or not self.proc.is_alive():
            self._start()
        assert self.conn is not None
        self.conn.send(text)
        self.sent = time.perf_counter()

    def result(self) -> tuple[str, Any]:
        """("ok", certificate dict), ("user error", message) or ("failure", message)."""
        assert self.conn is not None
        if self.conn.poll(max(0.0, self.timeout_s - (time.perf_counter() - self.sent))):
            try:
                return tuple(self.conn.recv())
            except EOFError:
                self.close()
                return ("failure", "the pgcheck worker died")
        self.close()
        return ("failure", f"pgcheck did not finish within {self.timeout_s:g} s")

    def validate(self, text: str) -> tuple[str, Any]:
        self.submit(text)
        return self.result()

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()  # only the worker this object started
            self.proc.join()
        self.proc, self.conn = None, None


def run(texts: Iterable[str], density: Density = CI, options: Any = None, timeout_s: float = 20.0,
        progress: Callable[[int, str], None] | None = None) -> Report:
    """Validate each text with pgcheck and re-check its certificate with the oracle."""
    rep = Report()
    worker = Validator(options, timeout_s)
    todo = list(texts)
    pending: tuple[str, Any] | None = None  # the previous text's certificate, checked while pgcheck runs
    try:
        for i, text in enumerate([*todo, None]):
            if text is not None:
                if progress is not None:
                    progress(i, text)
                worker.submit(text)
            if pending is not None:  # the oracle works on text i - 1 while pgcheck works on text i
                t1 = time.perf_counter()
                try:
                    rep.disagreements += check_certificate(pending[0], pending[1], density=density)
                except Exception as exc:  # a bug of the oracle, not of pgcheck: reported as a failure to look at
                    rep.failures.append(f"{pending[0]!r}: the oracle crashed: {type(exc).__name__}: {exc}")
                rep.seconds_oracle += time.perf_counter() - t1
                pending = None
            if text is None:
                break
            status, payload = worker.result()
            rep.seconds_pgcheck += time.perf_counter() - worker.sent
            if status == "user error":
                rep.user_errors += 1
            elif status != "ok":
                rep.failures.append(f"{text!r}: {payload}")
            else:
                rep.expressions += 1
                for p in payload["properties"]:
                    rep.verdicts[f"{p['prop']} {p['verdict']}"] += 1
                pending = (text, payload)
    finally:
        worker.close()
    return rep
