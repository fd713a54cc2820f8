"""The Assumption 5.1 checker: proofs for the paper's functions, re-checked refutations, honest verdicts."""

from __future__ import annotations

import json
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgcheck import scales
from pgcheck.certificate import Certificate, CheckedScale, InvalidScaleError, UnprovedScaleError
from pgcheck.check import Options, checked_scale, validate
from pgcheck.expr import ExprError, X, Y, parse
from pgcheck.search import Budget

FRESH = Options(use_cache=False)
UNPROVABLE = "y * (2 + y**2 + sin(x + 1.5707963))"   # true, and beyond pgcheck's proof methods (see below)


@pytest.mark.parametrize("name", list(scales.REGISTRY))
def test_every_registry_function_is_proved(name: str) -> None:
    cert = validate(name, options=FRESH)
    assert cert.overall == "VALID", [(p.prop, p.verdict, p.method) for p in cert.properties]
    assert [p.prop for p in cert.properties] == ["domain", "1a", "1b", "2"]
    assert all(p.verdict == "proved" and p.method for p in cert.properties)
    assert cert.property("2").neighbourhood


def test_registry_solver_time_is_bounded() -> None:
    # Not a speed benchmark (see benchmarks/): a guard against a proof silently degrading to search.
    for name in scales.REGISTRY:
        cert = validate(name, options=FRESH)
        assert sum(p.seconds for p in cert.properties) < 5.0, name


def _value(text: str, x: str, y: str) -> sympy.Expr:
    """Paste a counterexample back into the user's expression and evaluate it exactly."""
    e = parse(text)
    return sympy.N(e.expr.subs({X: sympy.Rational(x), Y: sympy.Rational(y)}), 50)


@pytest.mark.parametrize("text", [
    "y * max(1 + x + y / 2, 0)",            # f0 of Appendix A.1: decreasing in y when 1 + x > 0
    "y if y < 1e5 else 2e5 - y",            # decreasing only far from the origin
    "y * (1 - x**2)",                        # decreasing in y for |x| > 1
    "y * exp(-y**2)",                        # decreasing for |y| > 1/sqrt(2): needs the exp abstraction
])
def test_decreasing_in_y_is_refuted_with_a_pasteable_counterexample(text: str) -> None:
    cert = validate(text, options=FRESH)
    assert cert.overall == "INVALID"
    cx = cert.property("1b").counterexample
    assert cert.property("1b").verdict == "refuted" and cx is not None
    assert Fraction(cx["y1"]) < Fraction(cx["y2"])
    assert _value(text, cx["x"], cx["y1"]) > _value(text, cx["x"], cx["y2"])


@pytest.mark.parametrize("text", ["y + 0.1", "exp(x) - 1 + y", "x * x + y"])
def test_nonzero_at_zero_is_refuted(text: str) -> None:
    cert = validate(text, options=FRESH)
    p = cert.property("1a")
    assert p.verdict == "refuted" and p.counterexample is not None
    assert _value(text, p.counterexample["x"], "0") != 0


@pytest.mark.parametrize(("text", "params"), [
    ("exp(-x) * y", {}),
    ("y * (1 - x**2)", {}),
    ("x * y", {}),
    ("mla_param", {"ao": "-0.5"}),
])
def test_abs_decreasing_at_zero_is_refuted(text: str, params: dict[str, str]) -> None:
    cert = validate(text, params, options=FRESH)
    p = cert.property("2")
    assert p.verdict == "refuted" and p.counterexample is not None
    cx = p.counterexample
    f = (scales.get(text).expression(params) if text in scales.REGISTRY else parse(text)).expr
    a = abs(sympy.N(f.subs({X: sympy.Rational(cx["x1"]), Y: sympy.Rational(cx["y"])}), 50))
    b = abs(sympy.N(f.subs({X: sympy.Rational(cx["x2"]), Y: sympy.Rational(cx["y"])}), 50))
    assert a > b


def test_mla_param_validity_depends_on_the_signs_of_the_parameters() -> None:
    assert validate("mla_param", {"ao": "0.1", "ar": "1"}, options=FRESH).overall == "VALID"
    assert validate("mla_param", {"ao": "0", "ar": "0"}, options=FRESH).overall == "VALID"
    # The floor (1 + αo x)⁺/2 keeps f monotone in y even for αr < 0; only αo < 0 breaks property 2.
    assert validate("mla_param", {"ao": "1", "ar": "-0.5"}, options=FRESH).overall == "VALID"
    neg_ao = validate("mla_param", {"ao": "-0.1", "ar": "0.5"}, options=FRESH)
    assert neg_ao.overall == "INVALID" and neg_ao.property("2").verdict == "refuted"


def test_undefined_points_are_refuted() -> None:
    for text in ("y / x", "log(x) * y", "sqrt(x) * y"):
        cert = validate(text, options=FRESH)
        assert cert.property("domain").verdict == "refuted", text


@pytest.mark.parametrize(("text", "operation"), [
    ("log(-1) * y", "log(-1)"), ("y + 0 * log(log(6) - log(2) - log(3))", "log(log(6)"),
    ("y if x > 1 else sqrt(-2) * y", "sqrt(-2)"), ("y + 0 * (-8) ** (1/3)", "the power"),
])
def test_constant_partial_operations_outside_their_domain_are_refuted(text: str, operation: str) -> None:
    """A constant certainly outside the domain of its operation (log(6) - log(2) - log(3) is exactly 0) makes
    f undefined wherever that operation is reached, even when sympy would multiply it away."""
    domain = validate(text, options=FRESH).property("domain")
    assert domain.verdict == "refuted" and domain.counterexample is not None \
        and operation in domain.counterexample["summary"], domain


def test_an_unreachable_constant_operation_is_not_an_error() -> None:
    cert = validate("y if x * x >= 0 else log(-1) * y", options=FRESH)  # Python never evaluates log(-1) here
    assert cert.property("domain").verdict == "proved" and cert.overall == "VALID", cert.properties


def test_guarded_partial_operations_are_proved_defined() -> None:
    cert = validate("y * log(x) if x > 1 else 0", options=FRESH)
    assert cert.property("domain").verdict == "proved"
    short_circuit = validate("y if x > 0 and log(x) > 0 else y", options=FRESH)  # log only where x > 0
    assert short_circuit.property("domain").verdict == "proved"


@pytest.mark.parametrize(("text", "operation"), [
    ("y * x / x", "the division"), ("exp(log(y))", "log(y)"), ("sqrt(y) ** 2", "sqrt(y)"),
    ("y + log(x) - log(x)", "log(x)"), ("y if log(x) > 0 else y", "log(x)"), ("y ** pi", "the power"),
])
def test_partial_operations_are_checked_as_written(text: str, operation: str) -> None:
    """sympy simplifies these to total functions while building them; the text is still undefined
    somewhere, and the counterexample names the operation."""
    cert = validate(text, options=FRESH)
    domain = cert.property("domain")
    assert domain.verdict == "refuted" and domain.counterexample is not None \
        and operation in domain.counterexample["summary"], domain
    assert cert.canonical_hash != validate("y", options=FRESH).canonical_hash


def test_a_cached_certificate_states_this_inputs_parameters(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGCHECK_CACHE_DIR", str(tmp_path))
    cached = Options()
    validate("mla_param", {"ao": "0.1", "ar": "1"}, options=cached)
    written = validate("y * max(1 + 0.1 * x + y, max(1 + 0.1 * x, 0) / 2)", options=cached)
    assert written.params == {} and written.input["kind"] == "expression"
    validate("2 * y", options=cached)
    assert validate("k * y", {"k": "2"}, options=cached).params == {"k": "2"}


def test_unprovable_but_true_is_undecided_not_refuted() -> None:
    # |y| (2 + y² + sin(x + 1.5707963)) increases on [-δ, δ] only for δ < pi/2 - 1.5707963 ≈ 2.7e-8: true, but
    # z3's abstraction knows sin increasing only on [-1.57079, 1.57079], which x + 1.5707963 leaves, and f is
    # not a product u(y)·g(x) for the interval argument (which proves y * (2 + sin(x + 1.5707963)))
    assert validate("y * (2 + sin(x + 1.5707963))", options=FRESH).property("2").verdict == "proved"
    cert = validate(UNPROVABLE, options=FRESH)
    assert cert.property("1b").verdict == "proved"
    assert cert.property("2").verdict == "undecided"
    assert cert.overall == "VALID (tested)"


def test_a_turning_point_of_f_in_x_sets_the_neighbourhood_of_property_2() -> None:
    # ∂f/∂x = y cos(x + 1.5707) first vanishes at x = pi/2 - 1.5707 ≈ 9.6e-5, below every fixed δ: the δ tried
    # inside it proves property 2; just past pi/2 the same form decreases at 0 and is refuted
    proved = validate("y * (2 + sin(x + 1.5707))", options=FRESH).property("2")
    assert proved.verdict == "proved" and "1e-06" in (proved.neighbourhood or "")
    assert validate("y * (2 + sin(x + 1.57079633))", options=FRESH).property("2").verdict == "refuted"


def test_property_2_of_a_product_u_y_times_g_x_is_proved_by_certified_intervals() -> None:
    from pgcheck import check
    for text in ("y * (2 + x - x**2 * exp(x))", "y * (1 + x * exp(-1000 * x))"):  # beyond z3's exp abstraction
        prop = validate(text, options=FRESH).property("2")
        assert prop.verdict == "proved" and "interval" in prop.method, (text, prop)
    # negative controls: false (g decreases somewhere in every [-h, h]), and not a product
    for text in ("y * (1 + x**2)", "y * (3 - cos(x - 0.001))", "exp(y) * (3 - x)", UNPROVABLE):
        assert check._separable_monotone(parse(text).expr, ()) is None, text
    h = check._separable_monotone(parse("y * (2 + x - x**2 * exp(x))").expr, ())
    assert h is not None and h > 0


@pytest.mark.parametrize(("text", "verdict"), [
    ("y * (3 - cos(x - 0.001))", "refuted"), ("y * (2 + exp(-(x + 0.01)**2))", "refuted"),
    ("y * (2 + cos(x - 3.1417))", "refuted"),
    ("y * (3 - cos(x + 0.001))", "proved"), ("y * (2 + exp(-(x - 0.01)**2))", "proved")])  # controls: true
def test_a_smooth_transcendental_f_that_decreases_at_zero_is_refuted(text: str, verdict: str) -> None:
    # |f(0, y0)| = 3 - cos(1/1000) has no strict interval for |f(0)| - |f(0)|: only exact algebra shows the
    # branch-free f is its own branch at 0 (decide.equal_at); before, these were undecided
    assert validate(text, options=FRESH).property("2").verdict == verdict


@pytest.mark.parametrize("text", ["y * (2 + sin(x))", "y + sin(y)", "y * (2 + cos(x - 1))", "y * exp(sin(x))"])
def test_sin_and_cos_are_proved_through_their_monotone_windows_and_lipschitz_bound(text: str) -> None:
    # sin increasing on [-1.57079, 1.57079], cos on [-3.14159, 0], both 1-Lipschitz (pgcheck.smt)
    assert validate(text, options=FRESH).overall == "VALID"


@pytest.mark.parametrize(("text", "prop"), [("y * (2 + cos(x))", "2"), ("y + 1.0001 * sin(y)", "1b"),
                                            ("y * (0.99 + sin(x))", "1b")])
def test_sin_and_cos_past_their_windows_are_still_refuted(text: str, prop: str) -> None:
    assert validate(text, options=FRESH).property(prop).verdict == "refuted"


def test_callables_are_tested_not_proved() -> None:
    cert = validate("scale_examples:good", options=FRESH)
    assert cert.overall == "VALID (tested)"
    assert {p.verdict for p in cert.properties if p.prop != "domain"} == {"tested"}
    # e^x overflows far out: a black box cannot tell overflow from a gap, so that is no refutation.
    assert cert.property("domain").verdict in {"tested", "undecided"}
    bad = validate("scale_examples:shifted", options=FRESH)
    assert bad.overall == "INVALID" and bad.property("1a").verdict == "refuted"
    narrow = validate("scale_examples:drops_at_a_round_threshold", options=FRESH)  # a drop of 1 at y = 1e5 only
    assert narrow.overall == "INVALID" and narrow.property("1b").verdict == "refuted"
    with pytest.raises(ExprError, match="vectorised"):
        validate("scale_examples:scalar_only", options=FRESH)
    with pytest.raises(ExprError, match="cannot import"):
        validate("no_such_module_xyz:f", options=FRESH)


def test_checked_scale_only_from_the_validator() -> None:
    cert = validate("q", options=FRESH)
    with pytest.raises(TypeError):
        CheckedScale(cert, lambda x, y: y, None)
    with pytest.raises(InvalidScaleError, match=r"is INVALID: property 1a .* is refuted"):
        checked_scale("y + 1", options=FRESH)
    with pytest.raises(UnprovedScaleError, match=r"VALID \(tested\), not proved \(2 undecided\)") as err:
        checked_scale(UNPROVABLE, options=FRESH, require_proof=True)
    assert not isinstance(err.value, ExprError)  # its own error type, not a parse error
    assert checked_scale(UNPROVABLE, options=FRESH).certificate.overall == "VALID (tested)"
    assert checked_scale("mla", options=FRESH, require_proof=True).proved


@pytest.mark.parametrize("name", list(scales.REGISTRY))
def test_numpy_and_torch_forms_agree_with_sympy(name: str) -> None:
    scale = checked_scale(name, options=FRESH)
    expr = scales.get(name).expression().expr
    rng = np.random.default_rng(0)
    xs, ys = rng.normal(0, 1.5, 200), rng.normal(0, 2.0, 200)
    want = np.array([float(sympy.N(expr.subs({X: sympy.Float(a, 30), Y: sympy.Float(b, 30)}), 30))
                     for a, b in zip(xs, ys, strict=True)])
    np.testing.assert_allclose(scale.numpy(xs, ys), want, rtol=1e-12, atol=1e-12)
    got = scale.torch(torch.tensor(xs, dtype=torch.float64), torch.tensor(ys, dtype=torch.float64))
    assert got.dtype == torch.float64 and not got.requires_grad
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


def test_certificate_round_trips_and_is_cached() -> None:
    cached = Options()
    first = validate("mla_param", {"ao": "0.25", "ar": "0.75"}, options=cached)
    t0 = time.perf_counter()
    second = validate("mla_param", {"ao": "0.25", "ar": "0.75"}, options=cached)
    assert time.perf_counter() - t0 < 1.0
    assert second.to_dict() == first.to_dict()
    again = Certificate.from_dict(json.loads(first.to_json()))
    assert again.to_dict() == first.to_dict()
    # The same function written out by hand has the same canonical form and hash.
    by_hand = validate("y * max(1 + 0.25 * x + 0.75 * y, max(1 + 0.25 * x, 0) / 2)", options=FRESH)
    assert by_hand.canonical_hash == first.canonical_hash


def test_a_certificate_cached_by_other_code_is_not_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pgcheck import check
    monkeypatch.setenv("PGCHECK_CACHE_DIR", str(tmp_path))
    validate("2 * y", options=Options())
    assert len(list(tmp_path.glob("*.json"))) == 1
    validate("2 * y", options=Options())           # control: the same code reads the one it wrote
    assert len(list(tmp_path.glob("*.json"))) == 1
    monkeypatch.setattr(check, "code_fingerprint", lambda: "edited-validator")
    validate("2 * y", options=Options())           # as after a fix to the validator: checked again
    assert len(list(tmp_path.glob("*.json"))) == 2


def test_reading_the_text_is_under_the_time_limit_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from pgcheck import check

    def slow_parse(*args: Any, **kwargs: Any) -> Any:
        time.sleep(3)   # as mpmath once spent minutes on sin(exp(1e6)) while the text was read
        return parse(*args, **kwargs)

    monkeypatch.setattr(check, "parse", slow_parse)
    with pytest.raises(ExprError, match="reading the text took longer than the time limit"):
        check.resolve("2 * y", seconds=0.2)
    with pytest.raises(ExprError, match="took longer"):
        validate("2 * y", options=Options(use_cache=False, time_limit_s=0.2))
    assert check.resolve("2 * y").expression is not None          # control: no limit, it is read


def test_taylor_expansion_is_reported_next_to_ml() -> None:
    cert = validate("mla", options=FRESH)
    assert sympy.simplify(sympy.sympify(cert.taylor["f"], locals={"x": X, "y": Y})
                          - (Y + X * Y + Y**2 / 2)) == 0
    assert "not twice differentiable" in validate("sil", options=FRESH).taylor["f"]


_leaf = st.sampled_from(["x", "y", "1", "0.5", "-2"])


def _grow(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*"]), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["exp", "tanh", "abs", "relu"]), children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(children, children).map(lambda t: f"max({t[0]}, {t[1]})"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} < 0 else {t[2]})"),
    )


@settings(max_examples=20, suppress_health_check=[HealthCheck.nested_given])  # the search uses hypothesis too
@given(st.recursive(_leaf, _grow, max_leaves=6))
def test_every_refutation_of_a_random_expression_pastes_back(text: str) -> None:
    """Whatever the function, a refutation is a real counterexample (never a false alarm)."""
    cert = validate(text, options=Options(use_cache=False, budget=Budget(samples=3000, hypothesis_examples=30)))
    f = parse(text).expr
    for p in cert.properties:
        cx = p.counterexample
        if p.verdict != "refuted" or cx is None:
            continue
        if p.prop == "1a":
            assert _value(text, cx["x"], "0") != 0
        elif p.prop == "1b":
            assert _value(text, cx["x"], cx["y1"]) > _value(text, cx["x"], cx["y2"])
        elif p.prop == "2" and "x1" in cx:  # without a pair, the one-sided limit is the evidence
            point = {Y: sympy.Rational(cx["y"])}
            a = abs(sympy.N(f.subs({**point, X: sympy.Rational(cx["x1"])}), 50))
            b = abs(sympy.N(f.subs({**point, X: sympy.Rational(cx["x2"])}), 50))
            assert a > b
        elif p.prop == "2":
            assert sympy.sympify(cx["limit"]) < 0
