"""The validator's promise, by root cause: no false proof, no false refutation, no hang, no traceback.

Each group below is one class of defect (numbers decided by rounded evaluation, a neighbourhood rounded
to nothing, short-circuit ignored, a refutation resting on a symbolic limit, an exact zero not recognised,
displayed values not certified, unguarded sympy calls, black boxes), tried on several inputs of the kind,
each checked against an independent truth: exact rational arithmetic or mpmath at 300 digits.
"""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
import tokenize
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import mpmath
import pytest

from pgcheck.check import Options, validate
from pgcheck.expr import ExprError

FRESH = Options(use_cache=False)
ROOT = Path(__file__).resolve().parent.parent
ZERO = "(log(6) - log(2) - log(3))"     # exactly 0; sympy's evalf leaves no correct digit of ZERO * e^1000
ZERO2 = "(log(10) - log(2) - log(5))"   # exactly 0 too
C = f"tanh({ZERO} * exp(1000) - 1)"      # exactly tanh(-1) = -0.7616, which sympy's evalf takes for +1


def verdicts(text: str, **kw: str) -> dict[str, str]:
    return {p.prop: p.verdict for p in validate(text, kw or None, options=FRESH).properties}


# --- R1: constants and their comparisons are decided exactly or by certified intervals --------------


@pytest.mark.parametrize(("text", "prop", "verdict"), [
    (f"y if {C} > 0 else -y", "1b", "refuted"),                 # f = -y
    (f"y * sign({C})", "1b", "refuted"),                        # f = -y
    (f"max({C}, 0) * x + y", "1a", "proved"),                   # max(C, 0) = 0: f = y
    (f"y + (x if y > {C} else 0)", "1a", "refuted"),            # at y = 0: 0 > C, so f(x, 0) = x
    (f"y + (log(x) if {C} > 0 else 0)", "domain", "proved"),    # log is never evaluated
    (f"y if {ZERO} * exp(1000) >= 0 else -y", "1b", "proved"),  # exactly 0 >= 0
    (f"y * abs({C} + 1/2)", "1b", "proved"),                    # |tanh(-1) + 1/2| y
    (f"y if {ZERO2} != 0 else -y", "1b", "refuted"),            # 0 != 0 is false: f = -y
])
def test_constants_are_decided_exactly_or_certified(text: str, prop: str, verdict: str) -> None:
    assert verdicts(text)[prop] == verdict


def test_an_undecidable_constant_condition_proves_only_what_holds_either_way() -> None:
    # exp(-10^5) - exp(-10^5) is structurally 0, but the comparison below is between two different
    # spellings of one tiny number; whatever pgcheck decides, it must not refute a function that is y
    # on both branches
    got = verdicts("y if exp(-1000) * exp(-1000) > exp(-2000) else y")
    assert "refuted" not in got.values()


# --- R2: a neighbourhood is an exact positive rational ----------------------------------------------


def _delta(text: str) -> Fraction:
    hood = validate(text, options=FRESH).property("2").neighbourhood
    assert hood is not None
    return Fraction(hood.split(",")[1].split("]")[0].strip())


@pytest.mark.parametrize("text", ["y if x != 1e-9 else 2 * y", "y * (1 + x) if x > -3e-8 else y * (1 + x) / 2",
                                  "y if abs(x - 1e-12) > 0 else 2 * y", "y if exp(x) != exp(1e-7) else 2 * y"])
def test_a_branch_point_near_0_gives_a_small_positive_neighbourhood(text: str) -> None:
    assert validate(text, options=FRESH).property("2").verdict == "proved"
    assert _delta(text) > 0


@pytest.mark.parametrize("text", ["y*exp(-x) if x != 1e-7 else 2*y", "y*exp(-x) if x > 3e-9 or x < 0 else y*exp(-x)",
                                  "y * (1 - x) if x != 1e-12 else y"])
def test_a_branch_point_near_0_does_not_hide_a_decrease(text: str) -> None:
    p = validate(text, options=FRESH).property("2")
    assert p.verdict == "refuted", p


# --- R3: and/or short-circuit as Python evaluates them ----------------------------------------------


@pytest.mark.parametrize("text", ["y if (x > 0 and log(x) > 0) else 2*y", "y if (x <= 0 or log(x) < 1) else 2*y",
                                  "y if (y != 0 and x / y > 1) else y", "y * (2 if x > -1 and sqrt(x + 1) > 0 else 1)",
                                  "y if 0 < x < log(x) + 5 else 2 * y", "y if not (x <= 0 or log(x) < 0) else 2 * y",
                                  "y if -1 < x < 1 < 1 / (1 - x * x) else 2 * y"])
def test_short_circuit_guards_partial_operations(text: str) -> None:
    assert verdicts(text)["domain"] == "proved"


def test_without_the_guard_the_partial_operation_is_refuted() -> None:
    p = validate("y if (log(x) > 0 and x > 0) else 2*y", options=FRESH).property("domain")
    assert p.verdict == "refuted" and p.counterexample is not None and Fraction(p.counterexample["x"]) <= 0


# --- R4: property 2 is refuted only by certified facts, never by a symbolic limit alone --------------


@pytest.mark.parametrize("text", ["y*(2 + sin(x) if x > x*x else 2 - sin(abs(x)))",
                                  "y*(1 + x if x > x**3 else 1 - abs(x)**3 + x)",
                                  "y * (exp(x) if x >= 0 else 1 + x + x*x/2 + x**3/6)"])
def test_equal_branches_near_0_are_not_refuted(text: str) -> None:
    assert verdicts(text)["2"] != "refuted"


@pytest.mark.parametrize("text", ["y*x**4", "y*x**64", "y*(x**2 - x**3) + y", "y * (1 - x**2)", "exp(-x) * y",
                                  "y*x**7"])
def test_higher_order_flatness_is_refuted_with_a_confirmed_pair(text: str) -> None:
    p = validate(text, options=FRESH).property("2")
    assert p.verdict == "refuted", p
    cx = p.counterexample
    assert cx is not None
    x1, x2, y0 = (mpmath.mpf(Fraction(cx[k]).numerator) / Fraction(cx[k]).denominator for k in ("x1", "x2", "y"))
    assert x1 < x2 and (x1 == 0 or x2 == 0)
    f: Callable[[Any, Any], Any] = {  # on mpmath numbers (mpmath is untyped)
        "y*x**4": lambda x, y: y * x**4, "y*x**64": lambda x, y: y * x**64,
        "y*(x**2 - x**3) + y": lambda x, y: y * (x**2 - x**3) + y, "y * (1 - x**2)": lambda x, y: y * (1 - x**2),
        "exp(-x) * y": lambda x, y: mpmath.exp(-x) * y, "y*x**7": lambda x, y: y * x**7}[text]
    with mpmath.workdps(300):
        assert abs(f(x1, y0)) > abs(f(x2, y0))


@pytest.mark.parametrize(("text", "f"), [
    ("y * sqrt(x**2)", lambda x, y: y * abs(x)), ("y * (x**2)**0.5", lambda x, y: y * abs(x)),
    ("y * sqrt(x**4)", lambda x, y: y * x**2)])
def test_a_partial_operation_whose_operand_reaches_0_at_x_0_does_not_block_a_refutation(
        text: str, f: Callable[[Any, Any], Any]) -> None:
    """sqrt's operand x**2 is 0 at x = 0, so it has no strict sign on [-h, 0]; that it is >= 0 there (an
    enclosure [0, h**2]) is what the side interval needs. Once, this was left undecided."""
    p = validate(text, options=FRESH).property("2")
    assert p.verdict == "refuted", p
    cx = p.counterexample
    assert cx is not None
    x1, x2, y0 = (mpmath.mpf(Fraction(cx[k]).numerator) / Fraction(cx[k]).denominator for k in ("x1", "x2", "y"))
    with mpmath.workdps(100):
        assert x1 < x2 and abs(f(x1, y0)) > abs(f(x2, y0))


@pytest.mark.parametrize("text", ["y * (1 + x + sqrt(x**4))", "y * (1 + x + sqrt(x**2)**3)"])
def test_a_partial_operation_whose_operand_reaches_0_is_no_false_alarm(text: str) -> None:
    assert verdicts(text)["2"] != "refuted"


# --- R5: exact zeros are recognised where a partial operation meets them ----------------------------


@pytest.mark.parametrize("text", [f"y + 0*log({ZERO})", f"y + 0*log({ZERO2} * exp(50))", f"y + 0*sqrt({ZERO} - 1e-40)",
                                  f"y if x > 0 else y + 0 * log({ZERO})"])
def test_a_partial_operation_at_an_exact_zero_is_refuted(text: str) -> None:
    assert verdicts(text)["domain"] == "refuted"


@pytest.mark.parametrize("text", ["(y*y) / ((y*y) / (0 if x == 0 else x))", "y / (0 if x == 0 else 1)"])
def test_a_branch_that_divides_by_0_is_a_refutation_not_an_error(text: str) -> None:
    p = validate(text, options=FRESH).property("domain")
    assert p.verdict == "refuted" and p.counterexample is not None and Fraction(p.counterexample["x"]) == 0


def test_division_by_an_exact_zero_constant_is_an_error() -> None:
    with pytest.raises(ExprError, match="division by zero"):
        validate(f"y / {ZERO}", options=FRESH)


# --- R6: displayed values are certified -------------------------------------------------------------


def test_displayed_values_are_right_after_cancellation() -> None:
    p = validate(f"y * ({C} + 0.5)", options=FRESH).property("1b")
    cx = p.counterexample
    assert p.verdict == "refuted" and cx is not None
    with mpmath.workdps(300):
        for key, yk in (("f(x,y1)", "y1"), ("f(x,y2)", "y2")):
            y = mpmath.mpf(Fraction(cx[yk]).numerator) / Fraction(cx[yk]).denominator
            truth = y * (mpmath.tanh(-1) + mpmath.mpf(1) / 2)
            shown = mpmath.mpf(cx[key])
            assert abs(shown - truth) <= mpmath.mpf(10) ** -13 * (1 + abs(truth)), (key, cx[key], truth)
        assert mpmath.mpf(cx["f(x,y1)"]) > mpmath.mpf(cx["f(x,y2)"])


def test_a_tiny_value_is_shown_with_its_exponent_not_as_0() -> None:
    cx = validate("(y + y**3) * ((1 + x*x) if y == 1e-3 else exp(x**3))", options=FRESH).property("1b").counterexample
    assert cx is not None
    with mpmath.workdps(50):
        x = mpmath.mpf(Fraction(cx["x"]).numerator) / Fraction(cx["x"]).denominator
        y2 = mpmath.mpf(Fraction(cx["y2"]).numerator) / Fraction(cx["y2"]).denominator
        truth = (y2 + y2**3) * mpmath.exp(x**3)
        shown = mpmath.mpf(cx["f(x,y2)"])
        assert shown > 0 and abs(shown / truth - 1) < mpmath.mpf(10) ** -13, (cx["f(x,y2)"], truth)


# --- R7: no traceback, no hang -------------------------------------------------------------------------


@pytest.mark.parametrize("text", [f"y if {ZERO} >= 0 else -y", f"y if {ZERO2} == 0 else -y",
                                  f"y * max({ZERO}, {ZERO2}) + y", f"clip(y, {ZERO}, 1) + y"])
def test_odd_constants_get_a_verdict(text: str) -> None:
    cert = validate(text, options=FRESH)
    assert cert.overall in {"VALID", "VALID (tested)", "INVALID"}


def test_the_time_budget_holds_off_the_main_thread() -> None:
    out: dict[str, object] = {}

    def work() -> None:
        out["cert"] = validate("scale_examples:sleeps", options=Options(use_cache=False, time_limit_s=2.0))

    t0 = time.monotonic()
    worker = threading.Thread(target=work)
    worker.start()
    worker.join(30)
    assert not worker.is_alive() and time.monotonic() - t0 < 20
    cert = out["cert"]
    assert all(p.verdict == "undecided" and "time limit" in p.method for p in cert.properties)  # type: ignore[attr-defined]


def test_a_proof_needs_no_budget_beyond_the_default() -> None:
    cert = validate("mla_ppo", options=Options(use_cache=False, time_limit_s=None))
    assert cert.overall == "VALID"


# --- black boxes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["complex_valued", "nan_everywhere"])
def test_a_black_box_without_a_real_value_is_refuted(name: str) -> None:
    cert = validate(f"scale_examples:{name}", options=FRESH)
    assert cert.overall == "INVALID" and cert.property("domain").verdict == "refuted"


@pytest.mark.parametrize("name", ["exits", "hard_exit"])
def test_a_black_box_that_ends_the_process_is_a_user_error(name: str) -> None:
    with pytest.raises(ExprError, match="scale function must return a number"):
        validate(f"scale_examples:{name}", options=FRESH)


def test_the_command_line_survives_a_black_box_that_exits() -> None:
    r = subprocess.run([sys.executable, "-m", "pgcheck_cli.main", "validate", "scale_examples:exits", "--no-cache"],
                       capture_output=True, text=True, cwd=Path(__file__).parent, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "SystemExit" in r.stderr


# --- one place decides: no rounded evaluation in the validator's code ---------------------------------

_VALIDATOR = ["check.py", "expr.py", "smt.py", "local.py", "symbols.py", "scales.py", "report.py",
              "certificate.py", "backends.py", "search.py"]
_FORBIDDEN = ["evalf", "nsimplify", "is_positive", "is_negative", "is_nonnegative", "is_nonpositive", "is_zero",
              "is_comparable", "is_real", "is_extended_positive", "is_extended_negative", "is_finite", "N"]


def _code_names(path: Path) -> list[tuple[int, str]]:
    """The names in a file's code (no strings, no comments)."""
    toks = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    return [(t.start[0], t.string) for t in toks if t.type == tokenize.NAME]


@pytest.mark.parametrize("name", _VALIDATOR)
def test_no_rounded_decision_outside_the_decision_layer(name: str) -> None:
    found = [(line, word) for line, word in _code_names(ROOT / "pgcheck" / name) if word in _FORBIDDEN]
    assert not found, f"pgcheck/{name} decides with rounded evaluation at {found}; use pgcheck.decide"


def test_the_grep_can_fail() -> None:
    # negative control: the check above sees a forbidden call in code (and not in a docstring)
    sample = ROOT / "pgcheck" / "decide.py"
    assert any(word == "evalf" for _, word in _code_names(sample)) is False
    probe = Path(__file__).parent / "_probe_rounded.py"
    probe.write_text('"""evalf is mentioned here"""\nimport sympy\nv = sympy.pi.evalf(5) > 3\n')
    try:
        assert [w for _, w in _code_names(probe) if w in _FORBIDDEN] == ["evalf"]
    finally:
        probe.unlink()
