"""Assumption 5.1 for every named scale function (Table 1, eqs. 21, 23, 24, 35, 36, Theorem 4.3, C.2).

Assumption 5.1: (1) for every fixed x, f(x, 0) = 0 and f(x, ·) is non-decreasing (so y·f ≥ 0);
(2) for every fixed y, |f(·, y)| is non-decreasing on a neighbourhood of x = 0. The paper: "Both
constraints are clearly satisfied by all of the specific updates derived in Section 4", and the class (36)
is "all satisfying the constraints of Assumption 5.1".

Symbolic: pgcheck's validator (:func:`pgcheck.check.validate`, z3 + sympy, never the cache) on every entry
of the registry at its defaults and at the paper's parameter values (Huber δ, Observation 5.3 and Table 2
for f_MLA(αo,αr), ε = 0.3 for PPO); plus z3 proofs for *general* parameters: Huber for every δ > 0 and
f_MLA(αo,αr) for every αo ≥ 0 and every αr (property 2 on the neighbourhood {1 + αo x > 0} of 0), and a
counterexample showing αo ≥ 0 is needed. Cross-check: the torch form that agents run
(:func:`pgcheck.backends.to_torch` of the same definition), differentiated by autograd at seeded random
points: ∂f/∂y ≥ 0, y·f ≥ 0, f(x, 0) = 0, and ∂|f|/∂x ≥ 0 inside the certified neighbourhood.
"""

from __future__ import annotations

from fractions import Fraction

import sympy
import torch

from derivations import autograd as ag
from derivations import logic
from derivations.core import Evidence
from pgcheck import backends, scales
from pgcheck.expr import X, Y

ID = "asm5.1"
TITLE = "Every named scale function satisfies Assumption 5.1"
REFERENCE = "Assumption 5.1; sec. 4 ('clearly satisfied'), sec. 5.1, Table 1, Table 2"
STATEMENT = ("For every named scale f (q, sq, ml, sil, huber, mla, mla_param, ppo, mla_ppo) at the paper's parameters: "
             "f(x,0) = 0, f(x,·) non-decreasing, |f(·,y)| non-decreasing near x = 0")

PAPER_PARAMS: list[tuple[str, dict[str, str], str]] = [
    ("huber", {"delta": "1/2"}, "δ = 1/2"),
    ("huber", {"delta": "2"}, "δ = 2"),
    ("mla_param", {"ao": "1", "ar": "0"}, "Obs. 5.3 (2)"),
    ("mla_param", {"ao": "0", "ar": "0"}, "Obs. 5.3 (3)"),
    ("mla_param", {"ao": "0.1", "ar": "0.05"}, "Table 2 Walker2d"),
    ("mla_param", {"ao": "0.1", "ar": "1"}, "Table 2 Hopper"),
    ("mla_param", {"ao": "0.1", "ar": "0.5"}, "Table 2 HalfCheetah"),
    ("mla_param", {"ao": "1", "ar": "1"}, "Table 2 Humanoid"),
    ("ppo", {"eps": "0.3"}, "ε = 0.3 (Table 2 Humanoid)"),
]


def _validated(ev: Evidence, name: str, params: dict[str, str], label: str) -> Fraction | None:
    cert = logic.validate(name, params)
    props = "; ".join(f"{p.prop}: {p.verdict}" for p in cert.properties)
    hood = cert.property("2").neighbourhood or ""
    shown = ", ".join(f"{k} = {v}" for k, v in params.items())
    ev.step(label, f"{name}({shown}) satisfies Assumption 5.1 (domain, 1a, 1b, 2)" if shown else
            f"{name} satisfies Assumption 5.1 (domain, 1a, 1b, 2)",
            f"pgcheck validate: {props}" + (f"; neighbourhood {hood}" if hood else ""), cert.overall == "VALID")
    if cert.overall != "VALID" or not hood.startswith("[-"):
        return None
    return Fraction(hood[2:hood.index(",")])


def _general(ev: Evidence) -> None:
    x1, x2, y1, y2 = sympy.symbols("x1 x2 y1 y2", real=True)
    huber, hs = logic.registry_symbolic("huber")
    d = hs["delta"]
    ok = (logic.prove(logic.eq(huber.subs(Y, 0), 0), [d > 0]).proved
          and logic.prove(sympy.Le(huber.subs(Y, y1), huber.subs(Y, y2)), [d > 0, y1 < y2]).proved)
    ev.lemma("eq. (21)", "huber: 1a and 1b for every δ > 0 (f does not depend on x, so 2 is trivial)",
             "z3 (pgcheck.smt encoder), δ symbolic", ok)
    f, ps = logic.registry_symbolic("mla_param")
    ao, ar = ps["ao"], ps["ar"]
    r1a = logic.prove(logic.eq(f.subs(Y, 0), 0))
    r1b = logic.prove(sympy.Le(f.subs(Y, y1), f.subs(Y, y2)), [y1 < y2])
    r2 = logic.prove(sympy.Le(sympy.Abs(f.subs(X, x1)), sympy.Abs(f.subs(X, x2))),
                     [ao >= 0, x1 < x2, 1 + ao * x1 > 0])
    ev.lemma("eq. (36)", "f_MLA(αo,αr): 1a and 1b for all real αo, αr; 2 for αo ≥ 0 on the neighbourhood "
             "{x : 1 + αo x > 0} ∋ 0", f"z3, αo and αr symbolic: {r1b.method}", r1a.proved and r1b.proved and r2.proved)
    f_neg = f.subs({ao: -1, ar: 0})
    left, right = logic.value(f_neg, {X: Fraction(-1, 10), Y: 1}), logic.value(f_neg, {X: Fraction(1, 10), Y: 1})
    ev.lemma("eq. (36)", "αo ≥ 0 is needed for property 2: with αo = −1, αr = 0, f(x, 1) = 1 − x near 0, so |f(·, 1)| "
             "decreases through x = 0", f"exact values f(−1/10, 1) = {left} > f(1/10, 1) = {right}",
             left == sympy.Rational(11, 10) and right == sympy.Rational(9, 10))


def derive(ev: Evidence) -> None:
    hoods: dict[str, Fraction | None] = {}
    for name in scales.REGISTRY:
        hoods[name] = _validated(ev, name, {}, scales.get(name).reference + " (defaults)")
    for name, params, label in PAPER_PARAMS:
        _validated(ev, name, params, label)
    _general(ev)
    ev.scope = ("every registry entry at its defaults and at the paper's parameter values (z3/sympy via pgcheck "
                "validate); Huber for every δ > 0 and f_MLA(αo,αr) for every αo ≥ 0, αr (z3)")
    ev.complete = True

    worst = ag.MaxErr()
    n_points = 400
    with ag.single_thread():
        g = ag.generator(51)
        for name in scales.REGISTRY:
            fn = backends.to_torch(logic.registry(name))
            x = ag.randn(g, n_points, scale=1.5)
            y = ag.randn(g, n_points, scale=2.0)
            y = torch.where(y.abs() < 1e-6, torch.full_like(y, 1e-3), y)
            xr, yr = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
            out = fn(xr, yr)
            dfdy = torch.autograd.grad(out.sum(), yr, retain_graph=True, allow_unused=True)[0]
            viol = torch.zeros((), dtype=ag.DTYPE) if dfdy is None else torch.clamp(-dfdy, min=0).max()
            viol = torch.maximum(viol, torch.clamp(-(y * out.detach()), min=0).max())
            viol = torch.maximum(viol, fn(x, torch.zeros_like(x)).abs().max())
            delta = hoods.get(name)
            if delta is not None:
                xs = (torch.rand(n_points, generator=g, dtype=ag.DTYPE) * 2 - 1) * float(delta)
                xs = xs.requires_grad_(True)
                mag = fn(xs, y).abs()
                if mag.requires_grad:  # otherwise |f| does not depend on x at all
                    dmag = torch.autograd.grad(mag.sum(), xs, allow_unused=True)[0]
                    if dmag is not None:
                        viol = torch.maximum(viol, torch.clamp(-dmag, min=0).max())
            worst.add(viol.reshape(1), torch.zeros(1, dtype=ag.DTYPE))
    ev.check("Assumption 5.1 on the torch form", "largest violation of ∂f/∂y ≥ 0, y·f ≥ 0, f(x,0) = 0, ∂|f|/∂x ≥ 0 "
             "(inside the certified neighbourhood), autograd of pgcheck.backends.to_torch",
             f"every registry entry at defaults, {n_points} seeded points each (x ~ N(0, 1.5²), y ~ N(0, 2²))",
             worst.error, 1e-12, 1.0)
