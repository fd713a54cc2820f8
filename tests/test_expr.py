"""The expression language: whitelisted syntax only, one-line errors, never any evaluation of text."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

from pgcheck.backends import to_numpy, to_torch
from pgcheck.expr import FUNCTIONS, ExprError, X, Y, parse

ATTACKS = [
    "__import__('os').system('touch /tmp/pgcheck-pwned')",
    "().__class__.__bases__[0].__subclasses__()",
    "x.real",
    "(lambda: 1)()",
    "[i for i in range(10)]",
    "{1: 2}",
    "x[0]",
    "f'{x}'",
    "open('/etc/passwd')",
    "eval('1')",
    "exec('import os')",
    "globals()",
    "2 ** 2 ** 2 ** 100",
    "10 ** 100000",
    "x ** 1000",
    "1 / 0",
    "y / (1 - 1)",
    "ao * y",
    "",
    "   ",
    "(x := 3)",
    "x if y else 1",
    "exp(x, y)",
    "max(y)",
    "exp(y=1)",
    "y < 1",
    "not y",
    "y +",
    "1e400",
    "x @ y",
    "x // y",
    "x % y",
    "~x",
    "'a'",
    "b'a'",
    "None",
    "True",
    "x ** y",
    "clip(y, 1, -1)",
    "exp(" * 200 + "y" + ")" * 200,
    "-" * 300 + "y",
    "y + " * 1000 + "y",
    "\ud800",
]


_EVAL, _EXEC = builtins.eval, builtins.exec


def _guard(real: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap eval/exec so that evaluating *text* fails; the import system's code objects still run."""

    def guarded(source: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(source, str | bytes):
            raise AssertionError(f"text was evaluated: {source!r:.60}")
        return real(source, *args, **kwargs)
    return guarded


@pytest.fixture
def no_eval(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make every text-evaluating entry point explode while a test runs."""
    monkeypatch.setattr(builtins, "eval", _guard(_EVAL))
    monkeypatch.setattr(builtins, "exec", _guard(_EXEC))
    monkeypatch.setattr(sympy.parsing.sympy_parser, "parse_expr", _guard(_EVAL))
    yield


@pytest.mark.parametrize("text", ATTACKS)
def test_attack_strings_get_one_line_errors(text: str, no_eval: None) -> None:
    with pytest.raises(ExprError) as err:
        parse(text)
    message = str(err.value)
    assert message and "\n" not in message
    assert not Path("/tmp/pgcheck-pwned").exists()


def test_redundant_parentheses_are_harmless() -> None:
    assert parse("(" * 200 + "y" + ")" * 200).expr == Y


def test_errors_say_where_and_what_is_allowed() -> None:
    with pytest.raises(ExprError, match=r"column 5: unknown name 'foo'.*--param foo=VALUE"):
        parse("y + foo")
    with pytest.raises(ExprError, match=r"attribute access is not allowed; allowed: numbers, x, y"):
        parse("x.real")
    with pytest.raises(ExprError, match="division by zero"):
        parse("y / 0")
    with pytest.raises(ExprError, match="given but not used"):
        parse("y", {"ao": "1"})
    with pytest.raises(ExprError, match="reserved"):
        parse("y", {"exp": "1"})
    with pytest.raises(ExprError, match="not a number"):
        parse("ao * y", {"ao": "abc"})


@given(st.text(max_size=80))
def test_arbitrary_text_raises_only_expr_error(text: str) -> None:
    builtins.eval, builtins.exec = _guard(_EVAL), _guard(_EXEC)
    try:
        parse(text)
    except ExprError as exc:
        assert "\n" not in str(exc)
    finally:
        builtins.eval, builtins.exec = _EVAL, _EXEC


TOKENS = ["x", "y", "1", "0.5", "-", "+", "*", "/", "**", "(", ")", "exp(", "max(", ",", "<", "if", "else",
          "and", "not", " ", "__class__", ".", "[", "]", "lambda", ":", "import", "'", "2"]


@given(st.lists(st.sampled_from(TOKENS), max_size=25))
def test_token_soup_never_escapes(tokens: list[str]) -> None:
    try:
        parse(" ".join(tokens))
    except ExprError as exc:
        assert "\n" not in str(exc)


def test_numbers_and_parameters_are_exact() -> None:
    e = parse("ao * y + 0.1", {"ao": "1/3"})
    assert e.expr == sympy.Rational(1, 3) * Y + sympy.Rational(1, 10)
    assert e.param_dict == {"ao": Fraction(1, 3)}


def test_conditionals_and_functions_translate() -> None:
    e = parse("y if 0 <= x < 1 and not y > 2 else clip(y, -1, 1)")
    assert isinstance(e.expr, sympy.Piecewise)
    assert parse("relu(y)").expr == sympy.Max(Y, 0)
    assert parse("2 ** x").expr == 2**X


# A grammar of valid expressions, used to compare the sympy form with the numeric forms.
_leaf = st.sampled_from(["x", "y", "1", "0.5", "2", "-3"])
_unary_total = sorted(set(FUNCTIONS) - {"log", "log1p", "sqrt", "max", "min", "clip", "exp", "expm1",
                                        "softplus"})


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*"]), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(_unary_total), children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(children).map(lambda t: f"exp(tanh({t[0]}))"),
        st.tuples(children, children).map(lambda t: f"max({t[0]}, {t[1]})"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} < {t[2]} else {t[1]})"),
        # the partial functions on arguments where they are defined, and the remaining operators
        st.tuples(st.sampled_from(["log(1 + ({0}) ** 2)", "sqrt(abs({0}))", "log1p(abs({0}))",
                                   "expm1(tanh({0}))", "softplus(tanh({0}))", "clip({0}, -1, 2)"]), children)
        .map(lambda t: t[0].format(t[1])),
        st.tuples(children, children).map(lambda t: f"min({t[0]}, {t[1]})"),
        st.tuples(children, children).map(lambda t: f"({t[0]}) / (1 + ({t[1]}) ** 2)"),
        st.tuples(children, children).map(
            lambda t: f"({t[0]} if ({t[1]} < 0 and not {t[0]} == {t[1]}) or {t[1]} != 1 else {t[1]})"),
    )


_expressions = st.recursive(_leaf, _extend, max_leaves=8)


@given(_expressions, st.lists(st.one_of(st.floats(-5, 5), st.floats(-1e3, 1e3)), min_size=2, max_size=2))
def test_numpy_and_torch_agree_with_sympy(text: str, point: list[float]) -> None:
    import torch

    e = parse(text)
    xv, yv = point
    exact = complex(sympy.N(e.expr.subs({X: sympy.Float(xv, 30), Y: sympy.Float(yv, 30)}), 30))
    numeric = float(to_numpy(e.expr)(np.array([xv]), np.array([yv]))[0])
    as_tensor = to_torch(e.expr)
    tensor = float(as_tensor(torch.tensor([xv], dtype=torch.float64), torch.tensor([yv], dtype=torch.float64))[0])
    tol = 1e-9 * (1 + abs(exact.real))
    # Points on a branch boundary can legitimately differ by rounding; only compare off boundaries.
    if abs(exact.imag) < 1e-20 and np.isfinite(numeric):
        assert abs(numeric - exact.real) <= tol or _near_boundary(e.expr, xv, yv), (text, xv, yv)
        assert abs(tensor - numeric) <= tol or _near_boundary(e.expr, xv, yv)


def _near_boundary(expr: sympy.Expr, xv: float, yv: float) -> bool:
    f = to_numpy(expr)
    h = 1e-7
    vals = f(np.array([xv - h, xv + h, xv, xv]), np.array([yv, yv, yv - h, yv + h]))
    return bool(np.ptp(vals) > 1e-4)


def test_a_constant_power_is_one_exact_number_whatever_its_exponent() -> None:
    assert parse("y * 10**-100").expr == Y / sympy.Integer(10) ** 100     # as exact as 1e-100
    assert parse("y * 1e-100").expr == parse("y * 10**-100").expr
    assert parse("(-2)**-101 * y").expr == -Y / sympy.Integer(2) ** 101
    assert parse("y * 1**100000").expr == Y and parse("y * (-1)**100001").expr == -Y  # ±1 stays small
    for text, message in (("y * (1 + x)**100", "exponent 100 is too large"),      # powers of x and y: limited
                          ("y * 10**(10**6)", "constant power is too large"),     # and constants by their size
                          ("y * (1/2)**100000", "its numerator or denominator would exceed"),
                          ("0**-100 * y", "0 raised to a non-positive power")):
        with pytest.raises(ExprError, match=message):
            parse(text)
