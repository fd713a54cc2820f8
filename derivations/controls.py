"""Controls for the machinery behind every z3 step and every ``pgcheck validate`` step of the suite.

Every z3 proof of a claim about exp, log, tanh, sin, cos or a transcendental constant goes through a sound
abstraction of :mod:`pgcheck.smt` (true facts only, see ``pgcheck.smt.ABSTRACTION_FACTS``). Proofs only
ever hand z3 true goals, so an abstraction that became *unsound* (a false axiom such as exp(t) ≥ 1 + 2t)
would make more goals provable and no proof would notice; one that became *too weak* would only show as a
proof that suddenly fails. This claim pins both directions, for each abstraction:

* **negative controls** — statements that are false for the real function (each refuted at a witness
  point by exact evaluation, :mod:`pgcheck.decide`): z3 must not prove them through the encoder, e.g.
  exp(t) ≥ 1 + 2t, log t ≤ (t − 1)/2, tanh t ≤ t/2 for t > 0, sin t ≥ 0, log 2 > 0.7;
  (log t)² ≥ 0 for every real t, which holds wherever log t is defined and is stopped only by the encoder's
  domain obligation;
* **positive controls** — true statements the abstraction is meant to prove (exp(t) ≥ 1 + t,
  log t ≤ t − 1, |tanh t| ≤ |t|, −1 ≤ sin t ≤ 1, 0.69 < log 2 < 0.7, …).

And for the validator (Assumption 5.1 as checked by :func:`pgcheck.check.validate`): a list of functions
that violate Assumption 5.1 (or are undefined somewhere), each of which must be refuted on the stated
property — f0 of Appendix A.1 among them, and f_MLA(αo,αr) with αo < 0 (sec. 5.1 requires αo ≥ 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from derivations import logic
from derivations.core import Evidence

ID = "controls"
TITLE = "The z3 abstractions and the validator can fail: negative and positive controls"
REFERENCE = "the machinery of every z3 and validate step (pgcheck.smt abstractions; Assumption 5.1 as checked)"
STATEMENT = ("For exp, log, tanh, sin, cos and constants: statements false for the real function stay unproved and "
             "true ones are proved; pgcheck validate refutes functions that violate Assumption 5.1")

T = sympy.Symbol("t", real=True)
U = sympy.Symbol("u", real=True)


@dataclass(frozen=True)
class Control:
    abstraction: str
    text: str
    goal: sympy.Basic
    assume: tuple[sympy.Basic, ...] = ()
    witness: dict[sympy.Symbol, str] | None = None  # for a false statement: a point where it fails


def _false(abstraction: str, text: str, goal: sympy.Basic, witness: dict[sympy.Symbol, str],
           assume: tuple[sympy.Basic, ...] = ()) -> Control:
    return Control(abstraction, text, goal, assume, witness)


def _true(abstraction: str, text: str, goal: sympy.Basic, assume: tuple[sympy.Basic, ...] = ()) -> Control:
    return Control(abstraction, text, goal, assume)


exp, log, tanh, sin, cos = sympy.exp, sympy.log, sympy.tanh, sympy.sin, sympy.cos
R = sympy.Rational

CONTROLS: tuple[Control, ...] = (
    _false("exp", "exp(t) ≥ 1 + 2t for every t", exp(T) >= 1 + 2 * T, {T: "1/2"}),
    _false("exp", "exp(t) ≥ 1 + t + t²/2 for every t", exp(T) >= 1 + T + T ** 2 / 2, {T: "-1"}),
    _false("exp", "exp(t) ≤ 1 + t + t² for t ≤ 2", exp(T) <= 1 + T + T ** 2, {T: "2"}, (T <= 2,)),
    _true("exp", "exp(t) ≥ 1 + t and exp(t) > 0 for every t", sympy.And(exp(T) >= 1 + T, exp(T) > 0)),
    _true("exp", "exp is increasing: t < u ⇒ exp(t) < exp(u)", exp(T) < exp(U), (T < U,)),
    _true("exp", "exp(t) ≤ 1/(1 − t) for t < 1", exp(T) * (1 - T) <= 1, (T < 1,)),
    _false("log", "log t ≤ (t − 1)/2 for t > 0", 2 * log(T) <= T - 1, {T: "11/10"}, (T > 0,)),
    _false("log", "log t ≥ t − 1 for t > 0", log(T) >= T - 1, {T: "2"}, (T > 0,)),
    # true wherever it is defined, so only the encoder's domain obligation (log of t > 0) stops it
    _false("log", "(log t)² ≥ 0 for every real t (log is undefined for t ≤ 0)", log(T) ** 2 >= 0, {T: "-1"}),
    _true("log", "1 − 1/t ≤ log t ≤ t − 1 for t > 0", sympy.And(log(T) <= T - 1, T * log(T) >= T - 1), (T > 0,)),
    _false("tanh", "tanh t ≤ t/2 for t > 0", 2 * tanh(T) <= T, {T: "1/10"}, (T > 0,)),
    _false("tanh", "tanh t ≥ t for t > 0", tanh(T) >= T, {T: "1"}, (T > 0,)),
    _true("tanh", "|tanh t| ≤ |t| and −1 < tanh t < 1", sympy.And(sympy.Abs(tanh(T)) <= sympy.Abs(T), tanh(T) < 1,
                                                                 tanh(T) > -1)),
    _false("sin", "sin t ≥ 0 for every t", sin(T) >= 0, {T: "-1"}),
    _false("sin", "sin t ≤ t for every t", sin(T) <= T, {T: "-1"}),
    # just past pi/2 and pi: an abstraction whose windows reached 1.58 or 3.15 would prove these
    _false("sin", "sin increasing on [−1.58, 1.58]", sin(T) < sin(U), {T: "1.571", U: "1.58"},
           (T < U, -R(158, 100) <= T, R(158, 100) >= U)),
    _false("sin", "sin t > 0 for 0 < t ≤ 3.15", sin(T) > 0, {T: "3.15"}, (T > 0, R(315, 100) >= T)),
    _true("sin", "−1 ≤ sin t ≤ 1", sympy.And(sin(T) >= -1, sin(T) <= 1)),
    _true("sin", "|sin t| ≤ |t| and |sin t − sin u| ≤ |t − u|",
          sympy.And(sympy.Abs(sin(T)) <= sympy.Abs(T), sympy.Abs(sin(T) - sin(U)) <= sympy.Abs(T - U))),
    _true("sin", "sin increasing on [−1.57, 1.57]", sin(T) < sin(U), (T < U, -R(157, 100) <= T, R(157, 100) >= U)),
    _false("cos", "cos t ≥ 0 for every t", cos(T) >= 0, {T: "3"}),
    _false("cos", "cos t ≥ 1 − t²/4 for every t", cos(T) >= 1 - T ** 2 / 4, {T: "1"}),
    _false("cos", "cos decreasing on [0, 3.15]", cos(T) > cos(U), {T: "3.1416", U: "3.15"},
           (T < U, T >= 0, R(315, 100) >= U)),
    _false("cos", "cos t > 0 for |t| < 1.58", cos(T) > 0, {T: "1.575"}, (R(158, 100) > T, -R(158, 100) < T)),
    _true("cos", "−1 ≤ cos t ≤ 1", sympy.And(cos(T) >= -1, cos(T) <= 1)),
    _true("cos", "cos t ≥ 1 − t²/2 and |cos t − cos u| ≤ |t − u|",
          sympy.And(cos(T) >= 1 - T ** 2 / 2, sympy.Abs(cos(T) - cos(U)) <= sympy.Abs(T - U))),
    _true("cos", "cos decreasing on [0, 3.14] and increasing on [−3.14, 0]",
          sympy.And(cos(T) > cos(U), cos(-U) < cos(-T)), (T < U, T >= 0, R(314, 100) >= U)),
    # unevaluated, or sympy would decide these comparisons of numbers before z3 sees them
    _false("const", "log 2 > 0.7", sympy.Gt(log(2), R(7, 10), evaluate=False), {}),
    _false("const", "e < 2.718", sympy.Lt(exp(1), R(2718, 1000), evaluate=False), {}),
    _true("const", "0.69 < log 2 < 0.7 and 2.718 < e < 2.719",
          sympy.And(sympy.Gt(log(2), R(69, 100), evaluate=False), sympy.Lt(log(2), R(7, 10), evaluate=False),
                    sympy.Gt(exp(1), R(2718, 1000), evaluate=False), sympy.Lt(exp(1), R(2719, 1000), evaluate=False))),
)

# functions that violate Assumption 5.1 or are undefined somewhere, with the property that must be refuted
INVALID: tuple[tuple[str, dict[str, str], str, str], ...] = (
    ("y * max(1 + x + y / 2, 0)", {}, "1b", "f0 of Appendix A.1 (before the fix)"),
    ("exp(-x) * y", {}, "2", "the importance weight inverted"),
    ("y + 1", {}, "1a", "f(x, 0) ≠ 0"),
    ("-y", {}, "1b", "decreasing in ΔR"),
    ("x * y", {}, "1b", "decreasing in ΔR for ΔO < 0"),
    ("y * y", {}, "1b", "decreasing in ΔR for ΔR < 0"),
    ("y / x", {}, "domain", "undefined at ΔO = 0"),
    ("mla_param", {"ao": "-1", "ar": "1/2"}, "2", "f_MLA(αo,αr) with αo < 0 (sec. 5.1 asks αo ≥ 0)"),
)


def derive(ev: Evidence) -> None:
    for c in CONTROLS:
        r = logic.prove(c.goal, c.assume)
        if c.witness is None:
            ev.lemma(f"{c.abstraction}: positive control", f"proved through the abstraction: {c.text}", r.method,
                     r.proved and c.abstraction in r.method)
            continue
        # the statement is false for the real function: exactly at the witness point
        point = {k: sympy.Rational(v) for k, v in c.witness.items()}
        at = c.goal.subs(point) if point else c.goal
        refuted = at is sympy.false or (isinstance(at, sympy.Rel) and _exact_truth(at) is False)
        shown = ", ".join(f"{k} = {v}" for k, v in c.witness.items()) or "the constants themselves"
        holds = logic.fact("false for the real function, and not proved", (c.goal, *c.assume, shown),
                           refuted and not r.proved and c.abstraction in r.method)
        ev.lemma(f"{c.abstraction}: negative control",
                 f"not proved although z3 was asked: {c.text} (false: at {shown})", r.method, holds,
                 detail=f"z3: {r.status}")
    for text, params, prop, why in INVALID:
        cert = logic.validate(text, params)
        verdicts = {p.prop: p.verdict for p in cert.properties}
        shown = text + (" with " + ", ".join(f"{k} = {v}" for k, v in params.items()) if params else "")
        ev.lemma("validate: negative control", f"{shown} ({why}) is INVALID, property {prop} refuted",
                 "pgcheck validate: " + "; ".join(f"{k}: {v}" for k, v in verdicts.items()),
                 cert.overall == "INVALID" and verdicts.get(prop) == "refuted")
    n_false = sum(c.witness is not None for c in CONTROLS)
    ev.scope = (f"{n_false} false statements (exactly refuted) stay unproved and {len(CONTROLS) - n_false} true ones "
                f"are proved, for every abstraction of pgcheck.smt; {len(INVALID)} invalid scale functions refuted by "
                "pgcheck validate")
    ev.complete = True


def _exact_truth(rel: sympy.Basic) -> bool | None:
    """The truth of a relation between real numbers, by the certified sign of lhs − rhs."""
    assert isinstance(rel, sympy.Rel)
    s = logic.sign(rel.lhs - rel.rhs)
    table = {sympy.GreaterThan: s >= 0, sympy.StrictGreaterThan: s > 0, sympy.LessThan: s <= 0,
             sympy.StrictLessThan: s < 0}
    return table.get(type(rel))
