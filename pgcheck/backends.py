"""Compile a sympy scale expression f(x, y) into vectorised numpy and torch callables.

The compilers walk the sympy tree and build closures; no source code is generated and nothing is
``exec``-ed. Only the node types that :mod:`pgcheck.expr` can produce are supported; anything else
raises :class:`UnsupportedNode` (an internal error, not a user error).

Piecewise branches are evaluated everywhere and selected with ``where``; floating-point warnings
from unselected branches (e.g. ``log`` of a negative number) are expected and silenced. Every backend
returns NaN wherever an input is NaN, whatever the branches say (a condition on NaN picks no branch).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy

from pgcheck import enclose, symbols
from pgcheck.errors import PgcheckError
from pgcheck.expr import ExprError
from pgcheck.symbols import X, Y

if TYPE_CHECKING:
    import torch

ArrayFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
TensorFn = Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]
_Node = Callable[[Any, Any], Any]


class UnsupportedNode(PgcheckError, TypeError):
    """The expression holds a sympy node that the numeric backends do not know."""


class _Ops:
    """The numeric primitives one backend provides; ``xp`` is numpy or torch."""

    def __init__(self, xp: Any, is_torch: bool) -> None:
        self.xp = xp
        self.is_torch = is_torch
        self.unary: dict[type, Callable[[Any], Any]] = {
            sympy.exp: xp.exp, sympy.log: xp.log, sympy.Abs: xp.abs, sympy.sign: xp.sign,
            sympy.tanh: xp.tanh, sympy.cos: xp.cos, sympy.sin: xp.sin,
        }

    def const(self, value: float, like: Any) -> Any:
        if self.is_torch:
            return self.xp.full_like(like, value)
        return np.full_like(like, value, dtype=np.result_type(like, np.float64))

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        return self.xp.where(cond, a, b)

    def maximum(self, a: Any, b: Any) -> Any:
        return self.xp.maximum(a, b)

    def minimum(self, a: Any, b: Any) -> Any:
        return self.xp.minimum(a, b)

    def logical(self, name: str, a: Any, b: Any) -> Any:
        return getattr(self.xp, f"logical_{name}")(a, b)

    def logical_not(self, a: Any) -> Any:
        return self.xp.logical_not(a)

    def nan_where_input_nan(self, x: Any, y: Any, out: Any) -> Any:
        """``out`` with NaN wherever ``x`` or ``y`` is NaN.

        A comparison with NaN is False, so a branch condition on a NaN input would silently pick a branch
        (``ppo``'s clip would turn a NaN advantage into a 0 update). f of a NaN input is undefined: NaN.
        """
        missing = self.xp.logical_or(self.xp.isnan(x), self.xp.isnan(y))
        return self.where(missing, self.const(float("nan"), out), out)


def _compile(expr: sympy.Basic, ops: _Ops) -> _Node:
    if expr == X:
        return lambda x, y: x
    if expr == Y:
        return lambda x, y: y
    if expr is sympy.true:
        return lambda x, y: ops.xp.ones_like(x, dtype=ops.xp.bool)
    if expr is sympy.false:
        return lambda x, y: ops.xp.zeros_like(x, dtype=ops.xp.bool)
    if isinstance(expr, sympy.Expr) and symbols.is_constant(expr):  # rationals and κ constants
        try:
            value = enclose.midpoint_float(expr)  # certified: sympy.N can be wrong after cancellation
        except enclose.TooLarge as exc:
            raise ExprError(f"the constant {symbols.render(expr)} is too large to evaluate ({exc})") from None
        except (enclose.NoEnclosure, enclose.Undefined):  # no value (a branch f never takes) or no float
            value = float("nan")
        return lambda x, y: ops.const(value, x)
    if isinstance(expr, sympy.Piecewise):
        pairs = [(_compile(e, ops), _compile(c, ops)) for e, c in expr.args]

        def piecewise(x: Any, y: Any) -> Any:
            value, _ = pairs[-1]
            out = value(x, y)
            if expr.args[-1][1] is not sympy.true:
                out = ops.where(pairs[-1][1](x, y), out, ops.const(float("nan"), x))
            for value, cond in reversed(pairs[:-1]):
                out = ops.where(cond(x, y), value(x, y), out)
            return out
        return piecewise
    args = [_compile(a, ops) for a in expr.args]
    if isinstance(expr, sympy.Add):
        def add(x: Any, y: Any) -> Any:
            out = args[0](x, y)
            for a in args[1:]:
                out = out + a(x, y)
            return out
        return add
    if isinstance(expr, sympy.Mul):
        def mul(x: Any, y: Any) -> Any:
            out = args[0](x, y)
            for a in args[1:]:
                out = out * a(x, y)
            return out
        return mul
    if isinstance(expr, sympy.Pow):
        base, exponent = args
        e = expr.args[1]
        if e == sympy.Rational(1, 2):
            return lambda x, y: ops.xp.sqrt(base(x, y))
        if e.is_Integer:
            n = int(e)
            return lambda x, y: base(x, y) ** n
        return lambda x, y: base(x, y) ** exponent(x, y)
    fn = ops.unary.get(type(expr))
    if fn is not None:
        (inner,) = args
        return lambda x, y: fn(inner(x, y))
    if isinstance(expr, sympy.Max | sympy.Min):
        pick = ops.maximum if isinstance(expr, sympy.Max) else ops.minimum

        def extremum(x: Any, y: Any) -> Any:
            out = args[0](x, y)
            for a in args[1:]:
                out = pick(out, a(x, y))
            return out
        return extremum
    relations: dict[type, Callable[[Any, Any], Any]] = {
        sympy.StrictLessThan: lambda a, b: a < b, sympy.LessThan: lambda a, b: a <= b,
        sympy.StrictGreaterThan: lambda a, b: a > b, sympy.GreaterThan: lambda a, b: a >= b,
        sympy.Equality: lambda a, b: a == b, sympy.Unequality: lambda a, b: a != b,
    }
    rel = relations.get(type(expr))
    if rel is not None:
        left, right = args
        return lambda x, y: rel(left(x, y), right(x, y))
    if isinstance(expr, sympy.And | sympy.Or):
        name = "and" if isinstance(expr, sympy.And) else "or"

        def junction(x: Any, y: Any) -> Any:
            out = args[0](x, y)
            for a in args[1:]:
                out = ops.logical(name, out, a(x, y))
            return out
        return junction
    if isinstance(expr, sympy.Not):
        (inner,) = args
        return lambda x, y: ops.logical_not(inner(x, y))
    if isinstance(expr, sympy.ITE):  # a boolean if-then-else: sympy's form of a comparison with a Piecewise
        test, then, orelse = args
        return lambda x, y: ops.where(test(x, y), then(x, y), orelse(x, y))
    raise UnsupportedNode(f"no numeric form for sympy node {type(expr).__name__}")


def to_numpy(expr: sympy.Expr) -> ArrayFn:
    """f as a function of two broadcastable float arrays, returning a float64 array."""
    ops = _Ops(np, is_torch=False)
    node = _compile(expr, ops)

    def f(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        xa, ya = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        with np.errstate(all="ignore"):
            out = np.asarray(node(xa, ya), dtype=np.float64)
            return np.asarray(ops.nan_where_input_nan(xa, ya, out), dtype=np.float64)
    return f


def to_torch(expr: sympy.Expr) -> TensorFn:
    """f as a function of two broadcastable tensors; dtype and device follow ``x``."""
    import torch

    ops = _Ops(torch, is_torch=True)
    node = _compile(expr, ops)

    def f(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        xb, yb = torch.broadcast_tensors(x, y.to(x.dtype))  # type: ignore[no-untyped-call]
        out: torch.Tensor = ops.nan_where_input_nan(xb, yb, node(xb, yb))
        return out
    return f
