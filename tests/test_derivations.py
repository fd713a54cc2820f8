"""The machinery of the derivations: the softmax calculus, the z3 helper, the exact MDP, the verdicts."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import sympy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from derivations import autograd as ag
from derivations import logic, mdp
from derivations import softmax as sx
from derivations.core import Control, CrossCheck, Evidence, make_record, record, sig, take_records
from derivations.registry import CLAIMS, IDS
from pgcheck.expr import X, Y

# --- the per-coordinate softmax calculus -------------------------------------------------------------


def test_softmax_calculus_proves_true_and_rejects_false_identities() -> None:
    sm = sx.Softmax()
    assert sx.identity(sx.d(sm.log_pi(True)), 1 - sm.pi(True))
    assert sx.identity(sx.d(sm.log_pi(False)), -sm.pi(True))
    assert sx.is_zero(sx.d(sm.entropy) + sm.grad_E_fixed_values(lambda q, _t: q))
    # wrong signs and a missing stop-gradient are not identities
    assert not sx.is_zero(sx.d(sm.entropy) - sm.grad_E_fixed_values(lambda q, _t: q))
    assert not sx.identity(sm.grad_E_fixed_policy(lambda q, t: (t - q) ** 2), sx.d(sm.E(lambda q, t: (t - q) ** 2)))
    assert not sx.identity(sx.d(sm.log_pi(False)), sm.pi(True))


def test_sums_over_other_actions_become_free_symbols() -> None:
    sm = sx.Softmax()
    out = sm.others(sx.EA * sx.QA ** 2 + 3 * sx.FA / sx.EA)
    assert out == sm.R(1, 0, 0, 2) + 3 * sm.R(-1, 1, 0, 0)
    with pytest.raises(ValueError):
        sm.others(sympy.sin(sx.QA))


@pytest.mark.parametrize("n", [2, 3, 4])
def test_explicit_softmax_theorem_3_5(n: int) -> None:
    assert sx.explicit_theorem_3_5(n)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-3, 3), min_size=3, max_size=3), st.integers(0, 2), st.integers(0, 2))
def test_calculus_coefficients_match_autograd(logits: list[float], a: int, b: int) -> None:
    """The symbolic ∂/∂q_b of Ĝ_PGPB's coefficient, evaluated at a point, equals torch autograd (|A| = 3)."""
    sm = sx.Softmax()
    t_hat = 0.7
    a_is_b = a == b
    coeff = (t_hat - (sx.QB if a_is_b else sx.QA)) * sx.d(sm.log_pi(a_is_b)) - sx.d(sm.entropy)
    others = [u for u in range(3) if u != b]
    point: dict[sympy.Symbol, float] = {sx.QB: logits[b], sx.TB: t_hat}
    for key, sym in list(sm._r.items()):  # the remainders that appear
        k, m, i, j = key
        assert m == 0 and i == 0
        point[sym] = sum(math.exp(k * logits[u]) * logits[u] ** j for u in others)
    if not a_is_b:
        point[sx.QA] = logits[a]
        point[sx.EA] = math.exp(logits[a])
    value = float(coeff.subs(point).evalf())
    q = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    logp = torch.log_softmax(q, -1)
    g = (t_hat - q[a].detach()) * logp[a] - ag.entropy(q)
    expected = float(torch.autograd.grad(g, q)[0][b])
    assert value == pytest.approx(expected, abs=1e-9)


# --- z3 helper, registry parsing, exact values -------------------------------------------------------


def test_prove_uses_symbol_assumptions_and_reports_models() -> None:
    d = sympy.Symbol("d", positive=True)
    assert logic.prove(d * d > 0).proved
    r = logic.prove(X * X > 0)
    assert r.status == "sat" and r.model["x"] == 0


def test_registry_symbolic_is_the_registry_at_given_parameters() -> None:
    f, syms = logic.registry_symbolic("mla_param")
    g = logic.registry("mla_param", ao="0.1", ar="0.05")
    at = f.subs({syms["ao"]: sympy.Rational(1, 10), syms["ar"]: sympy.Rational(1, 20)})
    assert logic.prove(logic.eq(at, g)).proved


def test_exact_values() -> None:
    assert logic.value(logic.registry("mla"), {X: Fraction(-2), Y: Fraction(-10**6)}) == 0
    assert logic.sign(logic.value(Y * sympy.exp(X + Y / 2) - logic.registry("ml"), {X: 0, Y: -2})) == 1


# --- the exact MDP ----------------------------------------------------------------------------------


def test_exact_mdp_visitation_and_value() -> None:
    g = ag.generator(7)
    m = mdp.random_mdp(g, 3, 2, 0.8)
    pi = torch.softmax(ag.randn(g, 3, 2), -1)
    sol = mdp.solve(m, pi)
    assert float(sol.d.sum()) == pytest.approx(1.0, abs=1e-12)
    assert float(sol.d_unnorm.sum()) == pytest.approx(1 / (1 - 0.8), abs=1e-12)
    # J as a truncated discounted sum of expected rewards
    P_pi = torch.einsum("sa,sat->st", pi, m.P)
    r_pi = (pi * m.r).sum(-1)
    state, total = m.mu.clone(), 0.0
    for t in range(400):
        total += 0.8 ** t * float(state @ r_pi)
        state = state @ P_pi
    assert float(sol.J) == pytest.approx(total, abs=1e-10)


def test_symbolic_policy_gradient_theorem() -> None:
    out, records, _ = mdp.symbolic_pg_theorem()
    assert out == {"total": True, "value": True, "pg": True, "printed": False}
    # each holding identity carries its negative control (a perturbed right side must fail)
    assert {k: r.get("negative control") for k, r in records.items()} == {
        "total": "failed as expected", "value": "failed as expected", "pg": "failed as expected", "printed": None}


# --- verdicts ---------------------------------------------------------------------------------------


REC = [make_record("test", ("a computation",), "done", True)]


def test_verdict_rules() -> None:
    ev = Evidence(complete=True)
    ev.step("(1)", "s", "m", True, evidence=REC)
    ev.check("c", "a vs b", "i", 1e-15, 1e-12)
    assert ev.verdict() == "proved"
    ev.complete = False
    assert ev.verdict() == "cross-checked"
    ev.step("(2)", "printed and false", "m", False, erratum="E1", evidence=REC)
    assert ev.verdict() == "failed"  # no erratum recorded yet
    ev.add_erratum("E1", "(2)", "p", "cx", "c", True)
    assert ev.verdict() == "erratum"
    ev.lemma("(3)", "our lemma", "m", False, evidence=REC)
    assert ev.verdict() == "failed"


def test_a_bare_boolean_step_and_a_passing_negative_control_fail_the_claim() -> None:
    take_records()
    ev = Evidence(complete=True)
    ev.step("(1)", "forged", "m", True)  # nothing was computed
    assert ev.verdict() == "failed" and "no computation is recorded" in ev.problems()[0]
    ev2 = Evidence(complete=True)
    record("test", ("x",), "residual 0", control=False)  # its perturbed version passed too
    ev2.step("(1)", "vacuous", "m", True)
    assert ev2.verdict() == "failed" and "negative control passed" in ev2.problems()[0]
    ev3 = Evidence(complete=True)
    ev3.step("(1)", "s", "m", True, evidence=REC)
    ev3.check("c", "a vs b", "i", 1e-15, 1e-12, control=Control("a deliberate bug", 1e-16))
    assert ev3.verdict() == "failed" and "negative control" in ev3.problems()[0]
    ev3.checks[0] = CrossCheck("c", "a vs b", "i", 1e-15, 1e-12, control=Control("a deliberate bug", 0.5))
    assert ev3.verdict() == "proved"


def test_identity_and_z3_steps_record_digests_and_controls() -> None:
    take_records()
    assert sx.identity(sx.d(sx.Softmax().log_pi(True)), 1 - sx.Softmax().pi(True))
    assert logic.prove(X > 0, [X > 1]).proved
    recs = take_records()
    assert [r["kind"] for r in recs] == ["sympy zero test", "z3"]
    assert all(r["negative control"] == "failed as expected" for r in recs)
    # contradictory assumptions make anything provable: the z3 step's control notices
    logic.prove(X > 1, [X > 2, X < 0])
    (vacuous,) = take_records()
    assert vacuous["negative control"].startswith("PASSED")
    # the digest depends on what was checked
    assert logic.prove(X > 0, [X > 1]).proved and logic.prove(Y > 0, [Y > 1]).proved
    a, b = take_records()
    assert a["digest"] != b["digest"]


def test_failed_cross_check_and_unconfirmed_erratum_fail() -> None:
    ev = Evidence(complete=True)
    ev.step("(1)", "s", "m", True, evidence=REC)
    ev.check("c", "a vs b", "i", 1e-3, 1e-12)
    assert ev.verdict() == "failed"
    ev2 = Evidence(complete=True)
    ev2.step("(1)", "s", "m", False, erratum="E1", evidence=REC)
    ev2.add_erratum("E1", "(1)", "p", "cx", "c", False)
    assert ev2.verdict() == "failed"
    ev3 = Evidence(complete=True)
    ev3.check("c", "a vs b", "i", float("nan"), 1e-12)
    assert ev3.verdict() == "failed"


def test_a_crashing_derivation_is_a_failed_claim() -> None:
    from derivations.core import Claim

    def boom(ev: Evidence) -> None:
        raise RuntimeError("no")

    ev, _ = Claim("x", "t", "r", "s", boom).run()
    assert ev.verdict() == "failed" and "RuntimeError" in (ev.error or "")


def test_registry_covers_design_claims() -> None:
    assert IDS == ("thm3.1", "thm3.3", "cor3.4", "thm3.5", "eq16-18", "eq19-21", "eq22-23", "eq24", "eq26-28",
                   "thm4.3", "asm5.1", "a1", "eq35-t1", "obs5.3", "rem5.2", "c2", "ppo-trainer", "controls",
                   "s001-t1-reinforce", "s001-t1-a2c", "s001-t1-trpo", "s001-t1-ppo", "s001-t1-ppo-kl",
                   "s001-t1-vmpo")
    assert all(c.statement and c.reference and c.title for c in CLAIMS)


def test_sig() -> None:
    assert sig(1.23456e-15) == 1.2e-15 and sig(0.0) == 0.0


def test_the_derivations_gaussian_density_and_entropy_match_torch_distributions() -> None:
    """The helpers of derivations.autograd sit on both sides of thm4.3's cross-check: pin them independently."""
    g = ag.generator(5)
    mean, std, action = ag.randn(g, 3), ag.randn(g, 3, scale=0.3).exp(), ag.randn(g, 3)
    normal = torch.distributions.Normal(mean, std)
    # torch leaves Distribution.log_prob/entropy unannotated
    log_prob: torch.Tensor = normal.log_prob(action)  # type: ignore[no-untyped-call]
    entropy: torch.Tensor = normal.entropy()  # type: ignore[no-untyped-call]
    torch.testing.assert_close(ag.gaussian_log_prob(mean, std, action), log_prob.sum().reshape(1))
    torch.testing.assert_close(ag.gaussian_entropy(std), entropy.sum().reshape(1))


def test_an_undischarged_domain_obligation_is_not_a_proof() -> None:
    # (log x)² ≥ 0 holds wherever log x is defined: only the obligation x > 0 stops the proof
    r = logic.prove(sympy.log(X) ** 2 >= 0)
    assert not r.proved and "obligation not discharged" in r.method
    assert logic.prove(sympy.log(X) ** 2 >= 0, [X > 0]).proved
