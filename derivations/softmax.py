"""Softmax calculus for *every* finite action set, one coordinate at a time, with abstract sums.

Every identity of sec. 3 is linear in the gradients ``∇θ q(s, u)``: by the chain rule
``∇θ g(q(s,·)) = Σ_b ∂g/∂q_b ∇θ q(s, b)``, so an identity holds for every differentiable model ``q_θ``
as soon as the coefficient of each ``∇θ q(s, b)`` agrees, i.e. as soon as it holds for ``∂/∂q_b``
with ``q_b`` a free real variable. Fix one coordinate ``b``. Every sum over actions splits into the
``b`` term and a remainder over ``u ≠ b``; the remainder does not depend on ``q_b``. So with

    R[k, m, i, j] = Σ_{u≠b} e^{k q_u} e^{m T_u} T_u^i q_u^j        (independent of q_b)

the softmax (eq. 4) is ``π_b = e^{q_b} / Z`` with ``Z = e^{q_b} + R[1,0,0,0]``, ``F(q) = log Z``,
``E_{u∼π}[g(q_u, T_u)] = (e^{q_b} g(q_b, T_b) + Σ_{u≠b} e^{q_u} g(q_u, T_u)) / Z``, and the same for the
target softmax ``p̂_T`` of eq. 22 with ``Z_T = e^{T_b} + R[0,1,0,0]``. A sampled action ``a`` is either
``b`` itself or another action, whose ``q_a``, ``T_a`` are constants for ``∂/∂q_b``.

Identities are then proved by sympy as identities in the free symbols ``q_b, T_b, q_a, T_a, e^{q_a},
e^{T_a}`` and the ``R``'s, which is stronger than needed (it never uses relations between the sums),
for every number of actions ``|A| ≥ 2`` at once. (``|A| = 1`` is trivial: π ≡ 1 and every gradient of
π vanishes.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sympy

from derivations.core import record

QB, TB = sympy.symbols("q_b T_b", real=True)
QA, TA = sympy.symbols("q_a T_a", real=True)
EA, FA = sympy.symbols("e_a f_a", positive=True)  # e^{q_a}, e^{T_a} for a sampled action a ≠ b
_EB = sympy.Symbol("e_b", positive=True)
PB_HAT = sympy.Symbol("π̂_b", positive=True)      # frozen π(b|s)
ZINV_HAT = sympy.Symbol("1/Ẑ", positive=True)    # frozen 1/Σ_u e^{q_u}
QB_HAT = sympy.Symbol("q̂_b", real=True)          # frozen q(s, b)
_LOGS = sympy.symbols("L_Z L_T", real=True)

METHOD = ("sympy: per-coordinate identity in ∂/∂q_b with the sums over u ≠ b as free symbols "
          "(general |A| ≥ 2; chain rule gives every model q_θ)")

G = Callable[[sympy.Expr, sympy.Expr], sympy.Expr]


@dataclass
class Softmax:
    """The quantities of one state ``s`` seen from coordinate ``b``; see the module docstring."""

    _r: dict[tuple[int, int, int, int], sympy.Symbol] = field(default_factory=dict)

    def R(self, k: int, m: int, i: int, j: int) -> sympy.Symbol:
        key = (k, m, i, j)
        if key not in self._r:
            self._r[key] = sympy.Symbol(f"R[{k},{m},{i},{j}]", real=True, positive=(i == 0 and j == 0))
        return self._r[key]

    @property
    def Z(self) -> sympy.Expr:
        return sympy.exp(QB) + self.R(1, 0, 0, 0)

    @property
    def ZT(self) -> sympy.Expr:
        return sympy.exp(TB) + self.R(0, 1, 0, 0)

    @property
    def F(self) -> sympy.Expr:
        """F(q)(s) = log Σ_u e^{q_u}."""
        return sympy.log(self.Z)

    @property
    def FT(self) -> sympy.Expr:
        """F(T̂)(s) = log Σ_u e^{T̂_u}."""
        return sympy.log(self.ZT)

    def others(self, expr: sympy.Expr) -> sympy.Expr:
        """Σ over the actions a ≠ b of ``expr``, a Laurent polynomial in e^{q_a}, e^{T_a}, T_a, q_a."""
        out = sympy.S.Zero
        for term in sympy.Add.make_args(_monomials(expr)):
            k = m = i = j = 0
            rest: list[sympy.Expr] = []
            for fac in sympy.Mul.make_args(term):
                base, e = fac.as_base_exp()
                if base in (EA, FA, TA, QA):
                    if not e.is_Integer:
                        raise ValueError(f"non-integer power {fac} in a sum over actions")
                    n = int(e)
                    if base == EA:
                        k += n
                    elif base == FA:
                        m += n
                    elif base == TA:
                        i += n
                    else:
                        j += n
                elif fac.has(EA, FA, TA, QA):
                    raise ValueError(f"{fac} is not a monomial in the action's quantities")
                else:
                    rest.append(fac)
            if i < 0 or j < 0:
                raise ValueError("negative power of q_a or T_a in a sum over actions")
            out += sympy.Mul(*rest) * self.R(k, m, i, j)
        return out

    # --- the two distributions ---------------------------------------------------------------------
    def pi(self, a_is_b: bool) -> sympy.Expr:
        """π(a|s) for the sampled action (a = b, or a ≠ b)."""
        return sympy.exp(QB) / self.Z if a_is_b else EA / self.Z

    def log_pi(self, a_is_b: bool) -> sympy.Expr:
        """log π(a|s) = q_a − F(q) (eq. 4)."""
        return (QB if a_is_b else QA) - self.F

    def phat(self, a_is_b: bool) -> sympy.Expr:
        """p̂_T(a|s) = exp(T̂_a − F(T̂)) (sec. 4.2)."""
        return sympy.exp(TB) / self.ZT if a_is_b else FA / self.ZT

    def E(self, g: G) -> sympy.Expr:
        """E_{u∼π}[g(q_u, T_u)] (π differentiable through q_b)."""
        return (sympy.exp(QB) * g(QB, TB) + self.others(EA * g(QA, TA))) / self.Z

    def E_a(self, h: Callable[[bool], sympy.Expr], weight: str = "pi") -> sympy.Expr:
        """E_{a∼π}[h(a)] (weight 'pi') or E_{a∼p̂_T}[h(a)] (weight 'phat'): a = b plus a ≠ b."""
        w = self.pi if weight == "pi" else self.phat
        return w(True) * h(True) + self.others(w(False) * h(False))

    # --- stop-gradient: differentiate with frozen symbols, then substitute their values back ---------
    def E_hat(self, g: G) -> sympy.Expr:
        """E_{u∼π̂}[g(q_u, T_u)] with the policy weights frozen (π̂: stop-gradient on π)."""
        return PB_HAT * g(QB, TB) + self.others(EA * g(QA, TA)) * ZINV_HAT

    def E_qhat(self, g: G) -> sympy.Expr:
        """E_{u∼πθ}[ĝ(q̂_u, T_u)] with the values frozen (q̂: stop-gradient on q, Theorem 3.5)."""
        return (sympy.exp(QB) * g(QB_HAT, TB) + self.others(EA * g(QA, TA))) / self.Z

    def thaw(self, e: sympy.Expr) -> sympy.Expr:
        """Give the frozen symbols their values again (after differentiating)."""
        return e.subs({PB_HAT: sympy.exp(QB) / self.Z, ZINV_HAT: 1 / self.Z, QB_HAT: QB})

    def grad_E_fixed_values(self, g: G) -> sympy.Expr:
        """∂/∂q_b of E_{u∼πθ}[ĝ(u)] with the values ĝ held fixed (stop-gradient, Theorem 3.5)."""
        return self.thaw(d(self.E_qhat(g)))

    def grad_E_fixed_policy(self, g: G) -> sympy.Expr:
        """∂/∂q_b of E_{u∼π̂}[g(q_u)] with the policy weights held fixed (π̂, Theorem 3.3)."""
        return self.thaw(d(self.E_hat(g)))

    @property
    def entropy(self) -> sympy.Expr:
        """H(π(·|s)) = −Σ_u π_u log π_u."""
        return -self.E(lambda q, _t: q - self.F)


def _exp_to_symbols(arg: sympy.Expr) -> sympy.Expr:
    """exp(k q_a) → e_a^k and exp(k T_a) → f_a^k for integer k; other exponentials unchanged."""
    for sym, base in ((QA, EA), (TA, FA)):
        k = sympy.simplify(arg / sym)
        if k.is_Integer:
            return base ** int(k)
    return sympy.exp(arg)


def _monomials(expr: sympy.Expr) -> sympy.Expr:
    """Expand, splitting exponentials of sums, and write e^{q_a}, e^{T_a} through e_a, f_a."""
    e = sympy.expand(expr, power_exp=True)
    return sympy.expand(e.replace(sympy.exp, _exp_to_symbols))


def d(expr: sympy.Expr) -> sympy.Expr:
    """∂/∂q_b: the coefficient of ∇θ q(s, b)."""
    return sympy.diff(expr, QB)


def is_zero(expr: sympy.Expr) -> bool:
    """Exact zero test: e^{q_b}, e^{T_b}, log Z and log Z_T become symbols; the rest is rational.

    Recorded (:func:`derivations.core.record`) with a digest of ``expr``; a zero comes with its negative
    control: ``expr`` plus a small multiple of one of its symbols must not test zero.
    """
    ok = _is_zero(expr)
    control = None
    if ok:
        symbols = sorted(expr.free_symbols, key=lambda s: s.name)
        delta = sympy.Rational(1, 7) * (symbols[0] if symbols else sympy.S.One)
        control = not _is_zero(expr + delta)
    record("sympy zero test", (expr,), "residual 0" if ok else "residual nonzero", control)
    return ok


def _is_zero(expr: sympy.Expr) -> bool:
    sm = Softmax()
    e = expr.subs({sympy.log(sm.Z): _LOGS[0], sympy.log(sm.ZT): _LOGS[1]})
    e = e.subs({sympy.exp(QB): _EB, sympy.exp(TB): sympy.Symbol("f_b", positive=True)})
    e = e.subs({sympy.log(_EB): QB, sympy.log(EA): QA, sympy.log(FA): TA})
    e = _monomials(e)
    return bool(sympy.cancel(sympy.together(sympy.expand(e))) == 0)


def identity(lhs: sympy.Expr, rhs: sympy.Expr) -> bool:
    """lhs ≡ rhs for every value of the free symbols (see :func:`is_zero`)."""
    return is_zero(lhs - rhs)


def explicit_theorem_3_5(n: int) -> bool:
    """Theorem 3.5 for exactly ``n`` actions with all logits explicit symbols (no abstract sums).

    For every coordinate b: ∂H/∂q_b + Σ_u q̂_u ∂π_u/∂q_b = 0, with log Σ e^q and the e^{q_u} then treated
    as free symbols and the rest cancelled as a rational function.
    """
    q = sympy.symbols(f"q0:{n}", real=True)
    q_hat = sympy.symbols(f"qh0:{n}", real=True)
    e = sympy.symbols(f"e0:{n}", positive=True)
    log_z = sympy.Symbol("L_Z", real=True)
    Z = sum(sympy.exp(v) for v in q)
    pi = [sympy.exp(v) / Z for v in q]
    H = -sum(p * (v - sympy.log(Z)) for p, v in zip(pi, q, strict=True))
    baseline = sum(p * v for p, v in zip(pi, q_hat, strict=True))

    def cancels(sign: int) -> bool:
        for b in range(n):
            expr = sympy.diff(H, q[b]) + sign * sympy.diff(baseline, q[b]).subs(dict(zip(q_hat, q, strict=True)))
            expr = expr.subs(sympy.log(Z), log_z).subs({sympy.exp(v): ev for v, ev in zip(q, e, strict=True)})
            if sympy.cancel(sympy.together(expr)) != 0:
                return False
        return True

    ok = cancels(1)
    # negative control: with the baseline's sign flipped (∇H − ∇E[q̂]) nothing may cancel
    record("sympy explicit softmax", (n,), "every coordinate cancels" if ok else "a coordinate does not cancel",
           (not cancels(-1)) if ok else None)
    return ok
