"""Certified enclosures: the interval always holds the exact value, and verdicts never rest on rounded digits."""

from __future__ import annotations

from fractions import Fraction

import mpmath
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from pgcheck import enclose
from pgcheck.check import Options, validate
from pgcheck.expr import ExprError

FRESH = Options(use_cache=False)
ZERO = "(log(6) - log(2) - log(3))"  # exactly 0, but sympy.N leaves no correct digit after scaling it up


def _reference(e: sympy.Expr) -> mpmath.mpf:
    with mpmath.workdps(400):
        return mpmath.mpf(sympy.N(e, 400))


_leaf = st.sampled_from([sympy.pi, sympy.E, sympy.Rational(1, 3), sympy.Integer(-2), sympy.sqrt(2),
                         sympy.log(3), sympy.Rational(7, 5)])


def _grow(children: st.SearchStrategy[sympy.Expr]) -> st.SearchStrategy[sympy.Expr]:
    return st.one_of(
        st.builds(lambda a, b: a + b, children, children),
        st.builds(lambda a, b: a * b, children, children),
        st.builds(lambda a: sympy.exp(a / 4), children),
        st.builds(lambda a: sympy.tanh(a), children),
        st.builds(lambda a: sympy.cos(a), children),
        st.builds(lambda a: sympy.log(1 + a * a), children),
    )


@settings(max_examples=60, deadline=None)
@given(st.recursive(_leaf, _grow, max_leaves=5))
def test_the_interval_holds_the_value(e: sympy.Expr) -> None:
    lo, hi = enclose.enclose(e)
    ref = _reference(e)
    slack = mpmath.mpf(10) ** -300 * (1 + abs(ref))  # the 400-digit reference's own error
    assert mpmath.mpf(lo.numerator) / lo.denominator <= ref + slack
    assert ref - slack <= mpmath.mpf(hi.numerator) / hi.denominator


def test_cancellation_is_seen_through() -> None:
    zero = sympy.log(6) - sympy.log(2) - sympy.log(3)
    assert sympy.N(sympy.tanh(zero * sympy.exp(1000) - 1) + sympy.Rational(1, 2), 45) > 1  # sympy.N is wrong
    assert enclose.sign(sympy.tanh(zero * sympy.exp(1000) - 1) + sympy.Rational(1, 2)) == -1
    lo, hi = enclose.enclose(zero * sympy.exp(1000))
    assert lo <= 0 <= hi and hi - lo < Fraction(1, 10**300)
    with pytest.raises(enclose.NoEnclosure):
        enclose.sign(zero)  # exactly 0 but not provably so by intervals: not decided, never guessed


def test_tiny_and_huge_magnitudes() -> None:
    assert enclose.sign(sympy.exp(-100)) == 1 and enclose.sign(-sympy.exp(-10**6 - 5)) == -1
    big = sympy.Integer(10**7)  # beyond the reach of e^{2t}: tanh keeps its sign and its range
    assert enclose.sign(sympy.tanh(big)) == 1 and enclose.sign(sympy.tanh(-big)) == -1
    lo, hi = enclose.enclose(sympy.tanh(big))
    assert 0 < lo <= hi <= 1
    with pytest.raises(enclose.TooLarge):
        enclose.enclose(sympy.exp(sympy.exp(sympy.exp(100))))


def test_no_false_proof_after_cancellation() -> None:
    cert = validate(f"y * (tanh({ZERO} * exp(1000) - 1) + 0.5)", options=FRESH)  # = (0.5 + tanh(-1)) y < 0·y
    assert cert.overall == "INVALID" and cert.property("1b").verdict == "refuted"


def test_no_false_alarm_after_cancellation() -> None:
    cert = validate(f"y + {ZERO} * exp(1000)", options=FRESH)  # = y exactly
    assert cert.overall != "INVALID", [(p.prop, p.verdict, p.counterexample) for p in cert.properties]


def test_a_tiny_nonzero_value_at_y_0_is_refuted() -> None:
    cert = validate("y + exp(-100)", options=FRESH)
    assert cert.overall == "INVALID" and cert.property("1a").verdict == "refuted"


def test_astronomical_constants_are_refused_not_hung() -> None:
    for text in ("exp(exp(exp(100))) * y", "exp(10**30) * y"):
        with pytest.raises(ExprError, match="too large to evaluate"):
            validate(text, options=FRESH)


def test_sin_and_cos_of_an_argument_wider_than_a_period_are_all_of_minus_1_to_1() -> None:
    # exp(10**6) is known only to ~2^1442695 at any working precision: reducing it mod π/2 took mpmath
    # minutes, in the parse (before the time limit), so a check of the text below ran 3 min for a 60 s limit
    huge = sympy.exp(10**6)
    for fn in (sympy.sin, sympy.cos):
        v = enclose.evaluate(fn(huge), None, 128)
        assert not isinstance(v, Fraction) and (v.a, v.b) == (-1, 1)
        narrow = enclose.evaluate(fn(sympy.Integer(10**30)), None, 512)   # control: exact, reduced as usual
        assert not isinstance(narrow, Fraction) and narrow.b - narrow.a < mpmath.mpf(10) ** -100
    cert = validate("(y - 1e-30) * ((2 + sin(exp(1e6))) if y > -1 and log1p(y) < 1 else (1 + x**3))",
                    options=FRESH)
    assert cert.property("1a").verdict == "refuted"     # f(x, 0) = -1e-30 (2 + sin(e^1e6)), in [-3e-30, -1e-30]
    assert validate("y * (2 + sin(exp(1e6)))", options=FRESH).overall == "VALID"


def test_nonnegative_needs_no_strict_sign() -> None:
    from pgcheck import decide
    from pgcheck.symbols import X
    h = Fraction(1, 10)
    left = {X: enclose.interval(-h, Fraction(0), 2048)}
    assert decide.nonnegative(X**2, left)                   # [0, h^2]: reaches 0, never below
    assert decide.nonnegative(sympy.sqrt(X**2) * X**2, left)
    assert not decide.nonnegative(-1 - X**2, left)          # certainly negative: False, not an error
    with pytest.raises(decide.Undecided):                     # negative control: x + h/2 changes sign there
        decide.nonnegative(X + sympy.Rational(1, 20), left)
    assert decide.satisfied(sympy.true, X**2, "nonnegative", left)
    assert not decide.satisfied(sympy.true, X**2, "positive", left)   # x = 0 is in the box


def test_equal_at_proves_what_intervals_cannot() -> None:
    from pgcheck import decide
    from pgcheck.symbols import X
    g = 3 - sympy.cos(X - sympy.Rational(1, 1000))
    zero = decide.at(Fraction(0))
    with pytest.raises(decide.Undecided):                     # |g(0)| - |g(0)|: no strict enclosure
        decide.sign_difference(sympy.Abs(g), zero, sympy.Abs(g), zero)
    assert decide.equal_at(g, zero, g, zero)
    assert decide.equal_at(sympy.sin(2 * X), decide.at(Fraction(1, 2)), 2 * sympy.sin(X) * sympy.cos(X),
                           decide.at(Fraction(1, 2)))        # sin 1 = 2 sin(1/2) cos(1/2), by algebra
    assert not decide.equal_at(g, zero, g, decide.at(Fraction(1, 10**30)))  # negative control: 1e-30 apart
    assert not decide.equal_at(g, {X: enclose.interval(Fraction(0), Fraction(1), 64)}, g, zero)  # a box
    assert not decide.equal_at(sympy.Abs(g), zero, g, zero)   # a branch: never substituted into (proved_zero's rule)

