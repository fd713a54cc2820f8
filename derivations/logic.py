"""Symbolic helpers shared by the derivations: pgcheck's scale definitions as sympy, z3 proofs through
pgcheck's own encoder (:mod:`pgcheck.smt`), and exact evaluation of counterexamples.

Nothing here re-defines a scale function: :func:`registry` parses the one definition in
:mod:`pgcheck.scales` (with pgcheck's parser), :func:`registry_symbolic` parses the same text with the
parameters left as real symbols, and :func:`prove` encodes sympy formulas with
:class:`pgcheck.smt.Encoder`, the encoder the validator uses. The paper's *printed* formulas are not parsed
here: derivations write them with sympy directly (the independence rules of :mod:`derivations`).

Every helper that decides something records it (:func:`derivations.core.record`): z3 proofs with their
negative control, exact values, validator runs, Taylor polynomials, sympy residuals and computed facts.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import sympy
import z3

from derivations.core import record
from pgcheck import check, decide, expr, scales, smt
from pgcheck.certificate import Certificate
from pgcheck.expr import X, Y

Number = Fraction | int | str


def registry(name: str, **params: Number) -> sympy.Expr:
    """The registry's scale function ``name`` (pgcheck.scales) with exact parameter values."""
    given = {k: v if isinstance(v, Fraction) else Fraction(str(v)) for k, v in params.items()}
    return scales.get(name).expression(given).expr


class _SymbolicParams(expr._Translator):
    """pgcheck's translator, with named parameters kept as real symbols instead of numbers."""

    def __init__(self, symbols: Mapping[str, sympy.Symbol]) -> None:
        super().__init__({})
        self.symbols = dict(symbols)

    def name(self, node: ast.Name) -> sympy.Expr:
        if node.id in self.symbols:
            return self.symbols[node.id]
        return super().name(node)


def parse_symbolic(text: str, names: Sequence[str]) -> tuple[sympy.Expr, dict[str, sympy.Symbol]]:
    """``text`` parsed by pgcheck's translator with the parameters ``names`` left as real symbols."""
    symbols = {k: sympy.Symbol(k, real=True) for k in names}
    tree = ast.parse(text, mode="eval")
    return _SymbolicParams(symbols).num(tree.body, 0), symbols


def registry_symbolic(name: str) -> tuple[sympy.Expr, dict[str, sympy.Symbol]]:
    """The registry's definition of ``name`` with every parameter a real symbol (general parameters)."""
    d = scales.get(name)
    return parse_symbolic(d.source, d.param_names)


# ---------------------------------------------------------------------------------------------------
# z3


@dataclass(frozen=True)
class Z3Result:
    status: str  # "proved" | "sat" | "unknown"
    method: str
    model: dict[str, Fraction]

    @property
    def proved(self) -> bool:
        return self.status == "proved"


def z3_version() -> str:
    return str(z3.get_version_string())


CONTROL_TIMEOUT_MS = 5000


def prove(goal: sympy.Basic, assume: Sequence[sympy.Basic] = (), timeout_ms: int = 20000) -> Z3Result:
    """Prove ``assume ⇒ goal`` for all real values of the free symbols by z3 ``unsat`` of the negation.

    Formulas are encoded by :class:`pgcheck.smt.Encoder`: exactly for piecewise polynomials, through a
    sound abstraction (true facts only) for exp/log. Every domain obligation the encoder records (a
    Piecewise branch, a log argument) is discharged under the assumptions too, or the result is not a
    proof. ``sat`` returns z3's model (a candidate; callers re-check counterexamples exactly).

    Negative control: after a proof, ``assume ⇒ ¬goal`` must *not* be provable in the same encoding. It is
    provable exactly when the assumptions and the abstraction's axioms are contradictory (or the encoding
    collapses), i.e. when the proof is vacuous. The computation is recorded (:func:`derivations.core.record`)
    with a digest of the goal and the assumptions, z3's answer and the control's outcome.
    """
    result = _prove(goal, assume, timeout_ms)
    control = None
    if result.proved:
        control = not _prove(sympy.Not(goal), assume, CONTROL_TIMEOUT_MS, obligations=False).proved
    record("z3", (goal, *assume), result.status, control)
    return result


def _prove(goal: sympy.Basic, assume: Sequence[sympy.Basic], timeout_ms: int,
           obligations: bool = True) -> Z3Result:
    enc = smt.Encoder()
    symbols = sorted(set().union(goal.free_symbols, *[a.free_symbols for a in assume]) | {X, Y},
                     key=lambda s: s.name)
    env: dict[sympy.Symbol, Any] = {s: z3.Real(s.name) for s in symbols}
    true = z3.BoolVal(True)
    g = enc.enc(goal, env, true)
    hyps = [enc.enc(a, env, true) for a in assume]
    for sym in symbols:  # sympy's own assumptions on a symbol are hypotheses too
        if sym.is_positive:
            hyps.append(env[sym] > 0)
        elif sym.is_nonnegative:
            hyps.append(env[sym] >= 0)
    s = z3.Solver()
    s.set("timeout", timeout_ms)
    s.add(*enc.axioms, *hyps, z3.Not(g))
    status = str(s.check())
    how = f"z3 {z3_version()} (pgcheck.smt encoder) nonlinear real arithmetic"
    if enc.used:  # the facts assumed are listed in pgcheck.smt.ABSTRACTION_FACTS
        how += " with a sound abstraction of " + ", ".join(sorted(enc.used)) + " (true facts only, pgcheck.smt)"
    else:
        how += " (exact)"
    if status == "sat":
        m = s.model()
        return Z3Result("sat", how + ": the negation is satisfiable (a counterexample candidate)",
                        {str(k): smt.model_value(m, env[k]) for k in symbols})
    if status != "unsat":
        return Z3Result("unknown", how + f": undecided ({status})", {})
    how += ": negation unsatisfiable"
    for ob in enc.obligations if obligations else ():
        s2 = z3.Solver()
        s2.set("timeout", timeout_ms)
        s2.add(*enc.axioms, *hyps, ob.guard, z3.Not(ob.cond))
        if str(s2.check()) != "unsat":
            return Z3Result("unknown", how + f"; obligation not discharged: {ob.what}", {})
    return Z3Result("proved", how, {})


def eq(a: sympy.Expr, b: sympy.Expr) -> sympy.Basic:
    """The formula a = b, unevaluated (so sympy cannot decide or drop it before z3 sees it)."""
    return sympy.Eq(a, b, evaluate=False)


# ---------------------------------------------------------------------------------------------------
# exact evaluation


def value(e: sympy.Expr, point: Mapping[sympy.Symbol, Number | sympy.Rational]) -> sympy.Expr:
    """``e`` at an exact rational point (Piecewise resolved), a sympy number."""
    sub = {s: v if isinstance(v, sympy.Rational) else sympy.Rational(str(Fraction(str(v))))
           for s, v in point.items()}
    out = e.subs(sub)
    if isinstance(out, sympy.Piecewise):
        out = out.doit()
    assert isinstance(out, sympy.Expr), out
    record("exact value", (e, *sorted(sub.items(), key=lambda kv: kv[0].name)), str(out)[:120])
    return out


def validate(name: str, params: Mapping[str, str] | None = None) -> Certificate:
    """pgcheck's validator on ``name`` (a registry name or an expression), never from the cache; recorded."""
    cert = check.validate(name, dict(params or {}), check.Options(use_cache=False))
    record("pgcheck validate", (name, sorted((params or {}).items())),
           cert.overall + ": " + ", ".join(f"{p.prop} {p.verdict}" for p in cert.properties))
    return cert


def taylor2(e: sympy.Expr) -> sympy.Expr:
    """pgcheck's second-order Taylor polynomial at (0, 0) (:func:`pgcheck.check.taylor2_polynomial`), recorded."""
    poly = check.taylor2_polynomial(e)
    record("pgcheck taylor2", (e,), str(poly)[:120])
    return poly


def zero(e: sympy.Expr) -> bool:
    """``sympy.simplify(e) == 0``, recorded, with the negative control ``e + 1/7 ≠ 0``."""
    residual = sympy.simplify(e)
    ok = residual == 0
    control = None
    if ok:
        control = sympy.simplify(e + sympy.Rational(1, 7)) != 0
    record("sympy simplify", (e,), f"residual {residual}"[:120], control)
    return bool(ok)


def fact(what: str, inputs: tuple[object, ...], holds: bool) -> bool:
    """Record a computed fact that is neither a proof nor an identity (a count, a comparison of numbers)."""
    record("computed", (what, *inputs), f"{what}: {'yes' if holds else 'no'}")
    return holds


def sign(v: sympy.Expr) -> int:
    """The sign of a real number, decided by pgcheck.decide (exact or certified intervals)."""
    return decide.sign(v)


def show(v: sympy.Expr) -> str:
    return decide.show(v)


__all__ = ["X", "Y", "Z3Result", "eq", "fact", "prove", "registry", "registry_symbolic", "show", "sign",
           "validate", "value", "zero"]
