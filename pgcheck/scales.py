"""The paper's named scale functions, each defined once as text in pgcheck's expression language.

The one definition below is parsed by :func:`pgcheck.expr.parse` into sympy; the numpy and torch forms
are compiled from that sympy expression (:mod:`pgcheck.backends`), so the proof and the code that runs
are about the same tree. ``x = ΔO`` (eq. 25), ``y = ΔR`` (eq. 14).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from pgcheck.expr import ExprError, Expression, parse, parse_number
from pgcheck.symbols import is_constant

# PPO's trust region as a scale factor (Theorem 4.3): τ_ε(x, y) = 1[y>0]1[x<log(1+ε)] + 1[y<0]1[x>log(1−ε)].
TAU = "(y > 0 and x < log(1 + eps)) or (y < 0 and x > log(1 - eps))"
MLA_PARAM = "y * max(1 + ao * x + ar * y, max(1 + ao * x, 0) / 2)"


@dataclass(frozen=True)
class ScaleDef:
    """A named scale function: its one definition, its parameters and where the paper defines it."""

    name: str
    source: str
    defaults: tuple[tuple[str, str], ...]
    reference: str
    summary: str

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.defaults)

    def resolve(self, given: Mapping[str, str | Fraction] | None = None) -> dict[str, Fraction]:
        """The exact parameter values: defaults overridden by ``given``; unknown names are errors."""
        given = dict(given or {})
        unknown = sorted(set(given) - set(self.param_names))
        if unknown:
            allowed = ", ".join(self.param_names) or "none"
            raise ExprError(f"{self.name} has no parameter {', '.join(unknown)} (its parameters: {allowed})")
        out: dict[str, Fraction] = {}
        for k, default in self.defaults:
            v = given.get(k, default)
            out[k] = v if isinstance(v, Fraction) else parse_number(str(v))
        return out

    def expression(self, given: Mapping[str, str | Fraction] | None = None) -> Expression:
        values = self.resolve(given)
        shown = ", ".join(f"{k}={v}" for k, v in values.items())
        try:
            e = parse(self.source, values)
        except ExprError as exc:
            # a column would point into the registry's definition, which the user never typed
            reason = re.sub(r"^column \d+: ", "", str(exc))
            raise ExprError(f"{self.name}({shown}) is not defined: {reason} (in {self.source})") from None
        for c in e.conditions:  # a constant operand is recorded only when it fails or cannot be decided
            if is_constant(c.operand):
                raise ExprError(f"{self.name}({shown}) is not defined: {c.what} is not defined for these "
                                f"parameter values (in {self.source})")
        return e


REGISTRY: dict[str, ScaleDef] = {
    d.name: d
    for d in [
        ScaleDef("q", "y", (), "Table 1 / eq. 16", "identity: squared-error (Q-learning) scale, f = ΔR"),
        ScaleDef("sq", "exp(x) * y", (), "Table 1 (f_SQ)",
                 "policy gradient with importance weight: f = e^ΔO ΔR"),
        ScaleDef("ml", "exp(x) * (exp(y) - 1)", (), "Table 1 (f_ML), eq. 23",
                 "maximum likelihood: f = e^ΔO (e^ΔR − 1)"),
        ScaleDef("sil", "exp(x) * max(y, 0)", (), "Table 1 (f_SIL), eq. 24",
                 "self-imitation learning: f = e^ΔO max(ΔR, 0)"),
        ScaleDef("huber", "clip(y, -delta, delta)", (("delta", "1"),), "eq. 21",
                 "Huber loss: f = clip(ΔR, −δ, δ)"),
        ScaleDef("mla", "-(1 + x)**2 / 2 if y <= -(1 + x) <= 0 else y * max(1 + x + y / 2, 0)", (),
                 "eq. 35", "f_MLA, the monotone approximation of f_ML"),
        ScaleDef("mla_param", MLA_PARAM, (("ao", "1"), ("ar", "1/2")), "eq. 36",
                 "f_MLA(αo,αr) = y max(1 + αo x + αr y, (1 + αo x)⁺/2)"),
        ScaleDef("ppo", f"exp(x) * y if {TAU} else 0", (("eps", "1/5"),), "Theorem 4.3",
                 "PPO's clipped surrogate as a scale: f = e^ΔO ΔR τ_ε(ΔO, ΔR)"),
        ScaleDef("mla_ppo", f"{MLA_PARAM} if {TAU} else 0", (("ao", "1"), ("ar", "1/2"), ("eps", "1/5")),
                 "Appendix C.2", "MLA-PPO: f_MLA(αo,αr)(ΔO, ΔR) τ_ε(ΔO, ΔR)"),
    ]
}


def get(name: str) -> ScaleDef:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ExprError(f"no named scale function {name!r}; named ones: {', '.join(REGISTRY)}") from None
