"""The symbols of a scale function: the variables x, y and the *named constants* κ.

sympy decides comparisons, ``Abs``, ``Max``, ``sign`` and ``Piecewise`` conditions of numbers by rounded
floating evaluation (``evalf``), which cancellation fools: ``log(6) - log(2) - log(3)`` is exactly 0, yet
sympy takes ``tanh((log(6) - log(2) - log(3)) * exp(1000) - 1)`` for +1. So pgcheck never hands sympy a
transcendental number: every constant that is not a rational (``pi``, ``log(6)``, ``exp(1000)``,
``tanh(...)`` of a constant) becomes a real symbol κ whose definition is kept here. sympy can then only
do exact, structural algebra on it; every question about its value goes to :mod:`pgcheck.decide`.

A κ is named by a hash of its definition, so the same constant is the same symbol in every parse (and
canonical forms and certificate hashes are stable).
"""

from __future__ import annotations

import hashlib

import sympy
from sympy.printing.str import StrPrinter

X = sympy.Symbol("x", real=True)
Y = sympy.Symbol("y", real=True)

_DEFINITIONS: dict[sympy.Symbol, sympy.Expr] = {}
_BY_DEFINITION: dict[sympy.Expr, sympy.Symbol] = {}


def constant(definition: sympy.Expr) -> sympy.Symbol:
    """The κ symbol standing for ``definition``: a sympy expression over rationals, ``pi``, ``E`` and other
    κ symbols (never x or y)."""
    sym = _BY_DEFINITION.get(definition)
    if sym is None:
        digest = hashlib.sha256(sympy.srepr(definition).encode()).hexdigest()[:12]
        sym = sympy.Symbol(f"κ{digest}", real=True)
        _DEFINITIONS[sym] = definition
        _BY_DEFINITION[definition] = sym
    return sym


def definition(sym: sympy.Basic) -> sympy.Expr | None:
    """The definition of a κ symbol, or None for anything else."""
    return _DEFINITIONS.get(sym)


def is_constant(e: sympy.Basic) -> bool:
    """True when ``e`` is a number: its only symbols (if any) are κ constants."""
    return all(s in _DEFINITIONS for s in e.free_symbols)


def concrete(e: sympy.Basic) -> sympy.Basic:
    """``e`` with every κ replaced by its definition (recursively), rebuilt by sympy.

    For symbolic work (derivations, exact zero proofs of branch-free constants) and printing only: sympy
    re-evaluates while rebuilding, so nothing in the validator decides on the result.
    """
    kappas = [s for s in e.free_symbols if s in _DEFINITIONS]
    if not kappas:
        return e
    return e.xreplace({s: concrete(_DEFINITIONS[s]) for s in kappas})


class _Printer(StrPrinter):  # type: ignore[misc]
    def _print_Symbol(self, expr: sympy.Symbol) -> str:
        d = _DEFINITIONS.get(expr)
        if d is None:
            return str(super()._print_Symbol(expr))
        text = str(self._print(d))
        return text if d.is_Atom or isinstance(d, sympy.Function) else f"({text})"


def render(e: sympy.Basic) -> str:
    """``e`` as text, each κ printed as its definition (without re-evaluating anything)."""
    return str(_Printer().doprint(e))
