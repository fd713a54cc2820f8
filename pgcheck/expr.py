"""The scale-function language: a safe subset of Python expression syntax, translated to sympy.

A user writes ``f(x, y)`` with ``x = ΔO`` (log importance ratio, eq. 25) and ``y = ΔR`` (return
error, eq. 14). The text is parsed with :mod:`ast` and every node is checked against a whitelist
before it is translated, node by node, into a sympy expression. Nothing is ever evaluated as Python:
``eval``, ``sympify`` and ``parse_expr`` are never called on user text.

Guarantees of :func:`parse`:

* it returns an :class:`Expression` whose ``expr`` is a real sympy expression in the symbols
  :data:`X` and :data:`Y` only (parameters are substituted by exact rationals), or
* it raises :class:`ExprError` with a one-line message that says what is wrong, where (column), and
  what is allowed. It raises nothing else, whatever the input text.
"""

from __future__ import annotations

import ast
import contextlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction

import sympy

from pgcheck.errors import UserError

X = sympy.Symbol("x", real=True)
Y = sympy.Symbol("y", real=True)

MAX_CHARS = 2000
MAX_DEPTH = 40
MAX_NODES = 600
MAX_EXPONENT = 64
MAX_LITERAL = Fraction(10) ** 30

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ExprError(UserError, ValueError):
    """A scale-function text that pgcheck refuses; ``str(err)`` is one line for the user."""

    def __init__(self, message: str, column: int | None = None) -> None:
        self.column = column
        where = f"column {column}: " if column is not None else ""
        super().__init__(f"{where}{message}")


def _unary(fn: Callable[[sympy.Expr], sympy.Expr]) -> tuple[int, int, Callable[..., sympy.Expr]]:
    return (1, 1, fn)


def _clip(v: sympy.Expr, lo: sympy.Expr, hi: sympy.Expr) -> sympy.Expr:
    if lo.is_number and hi.is_number and bool(lo > hi):
        raise ExprError(f"clip(v, lo, hi) needs lo <= hi, got lo={lo}, hi={hi}")
    return sympy.Min(sympy.Max(v, lo), hi)


# name -> (min arity, max arity, sympy builder). Each entry is a plain mathematical function.
FUNCTIONS: dict[str, tuple[int, int, Callable[..., sympy.Expr]]] = {
    "exp": _unary(sympy.exp),
    "log": _unary(sympy.log),
    "log1p": _unary(lambda v: sympy.log(1 + v)),
    "expm1": _unary(lambda v: sympy.exp(v) - 1),
    "sqrt": _unary(sympy.sqrt),
    "abs": _unary(sympy.Abs),
    "sign": _unary(sympy.sign),
    "tanh": _unary(sympy.tanh),
    "sigmoid": _unary(lambda v: 1 / (1 + sympy.exp(-v))),
    "softplus": _unary(lambda v: sympy.log(1 + sympy.exp(v))),
    "relu": _unary(lambda v: sympy.Max(v, 0)),
    "cos": _unary(sympy.cos),
    "sin": _unary(sympy.sin),
    "max": (2, 16, lambda *a: sympy.Max(*a)),
    "min": (2, 16, lambda *a: sympy.Min(*a)),
    "clip": (3, 3, _clip),
}

# partial functions: what their argument (plus a shift) must be for the call to be defined
_PARTIAL: dict[str, tuple[str, int]] = {"log": ("positive", 0), "log1p": ("positive", 1), "sqrt": ("nonnegative", 0)}

CONSTANTS: dict[str, sympy.Expr] = {"pi": sympy.pi}
VARIABLES: dict[str, sympy.Symbol] = {"x": X, "y": Y}
RESERVED = frozenset(FUNCTIONS) | frozenset(CONSTANTS) | frozenset(VARIABLES)

_ALLOWED_HELP = (
    "allowed: numbers, x, y, parameters, pi, + - * / ** and unary -, comparisons, and/or/not, "
    "'a if cond else b', and the functions " + " ".join(sorted(FUNCTIONS))
)


_EXPONENT_RE = re.compile(r"[eE]\s*([+-]?\d+)")
MAX_DECIMAL_EXPONENT = 400  # 1e-400 is read exactly; 1e-999999999 would build a billion-digit integer


def _exact_decimal(text: str) -> Fraction:
    """``text`` read exactly as a Fraction; raises ValueError, or ExprError for an exponent so large that
    merely building the number would take minutes."""
    for m in _EXPONENT_RE.finditer(text):
        if len(m.group(1).lstrip("+-")) > 6 or abs(int(m.group(1))) > MAX_DECIMAL_EXPONENT:
            raise ExprError(f"number {text.strip()!r} has a decimal exponent beyond ±{MAX_DECIMAL_EXPONENT}")
    return Fraction(text.strip().replace("_", ""))


def parse_number(text: str) -> Fraction:
    """An exact rational from a decimal literal such as ``0.1``, ``-3``, ``1e-3`` or ``2/3``."""
    try:
        value = _exact_decimal(text)
    except ExprError:
        raise
    except (ValueError, ZeroDivisionError) as exc:
        raise ExprError(f"{text!r} is not a number (write e.g. 0.1, 1e-3 or 2/3)") from exc
    if abs(value) > MAX_LITERAL:
        raise ExprError(f"number {text!r} is too large (limit 1e30)")
    return value


@dataclass(frozen=True)
class Condition:
    """Where ``guard`` holds, ``operand`` must be non-zero, positive or non-negative (``kind``) for f to be
    defined *as written*: sympy simplifies ``x / x`` to 1 and ``exp(log(y))`` to y while building the
    expression, so the partial operations of the text are recorded here, before they can vanish."""

    guard: sympy.Basic
    operand: sympy.Expr
    kind: str  # nonzero | positive | nonnegative
    what: str


@dataclass(frozen=True)
class Expression:
    """A parsed scale function: the user's text, its parameters and the sympy expression f(x, y), with
    the domain conditions of the partial operations as written (empty for total expressions)."""

    source: str
    params: tuple[tuple[str, Fraction], ...]
    expr: sympy.Expr
    conditions: tuple[Condition, ...] = ()

    @property
    def param_dict(self) -> dict[str, Fraction]:
        return dict(self.params)


# The kind of value a node produces: a real number or a truth value.
_NUM = "number"
_BOOL = "condition"


class _Translator:
    def __init__(self, params: Mapping[str, Fraction], source: str = "") -> None:
        self.params = params
        self.source = source
        self.used_params: set[str] = set()
        self.nodes = 0
        self.guard: sympy.Basic = sympy.true  # where the node being translated is evaluated
        self.conditions: list[Condition] = []

    def need(self, node: ast.AST, operand: sympy.Expr, kind: str, what: str) -> None:
        """Record that ``operand`` must be ``kind`` wherever this node is evaluated (constants are
        checked on the spot by :meth:`num`)."""
        if not operand.is_number:
            self.conditions.append(Condition(self.guard, operand, kind, f"{what} '{ast.unparse(node)}'"))

    @contextlib.contextmanager
    def guarded(self, cond: sympy.Basic) -> Iterator[None]:
        """Translate under ``cond`` too: a branch of 'a if c else b', or the right side of and/or, which
        Python only evaluates when the condition lets it."""
        outer = self.guard
        self.guard = sympy.And(outer, cond)
        try:
            yield
        finally:
            self.guard = outer

    def fail(self, node: ast.AST, message: str) -> ExprError:
        col = getattr(node, "col_offset", None)
        return ExprError(message, None if col is None else col + 1)

    def num(self, node: ast.AST, depth: int) -> sympy.Expr:
        kind, value = self.visit(node, depth)
        if kind != _NUM:
            raise self.fail(node, "a comparison or and/or/not can only be used as a condition "
                                  "('a if cond else b'), not as a number")
        if value.is_number and (value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo, sympy.I)
                                or value.is_real is False):
            raise self.fail(node, f"'{ast.unparse(node)}' is undefined or not a real number (it is {value}); "
                                  "check divisions, log and sqrt of constants and parameter values")
        return value

    def cond(self, node: ast.AST, depth: int) -> sympy.Basic:
        kind, value = self.visit(node, depth)
        if kind != _BOOL:
            raise self.fail(node, "a condition must be a comparison (<, <=, >, >=, ==, !=) "
                                  "combined with and/or/not")
        return value

    def visit(self, node: ast.AST, depth: int) -> tuple[str, sympy.Basic]:
        self.nodes += 1
        if depth > MAX_DEPTH:
            raise self.fail(node, f"expression nested too deeply (limit {MAX_DEPTH} levels)")
        if self.nodes > MAX_NODES:
            raise self.fail(node, f"expression too large (limit {MAX_NODES} syntax nodes)")
        d = depth + 1
        if isinstance(node, ast.Constant):
            return _NUM, self.constant(node)
        if isinstance(node, ast.Name):
            return _NUM, self.name(node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return _NUM, -self.num(node.operand, d)
            if isinstance(node.op, ast.UAdd):
                return _NUM, self.num(node.operand, d)
            if isinstance(node.op, ast.Not):
                return _BOOL, sympy.Not(self.cond(node.operand, d))
            raise self.fail(node, "operator '~' is not allowed; " + _ALLOWED_HELP)
        if isinstance(node, ast.BinOp):
            return _NUM, self.binop(node, d)
        if isinstance(node, ast.BoolOp):
            is_and = isinstance(node.op, ast.And)
            parts: list[sympy.Basic] = []
            for v in node.values:  # short-circuit: each operand is evaluated only if the earlier let it
                with self.guarded(sympy.And(*parts) if is_and else sympy.And(*[sympy.Not(p) for p in parts])):
                    parts.append(self.cond(v, d))
            return _BOOL, (sympy.And(*parts) if is_and else sympy.Or(*parts))
        if isinstance(node, ast.Compare):
            return _BOOL, self.compare(node, d)
        if isinstance(node, ast.IfExp):
            test = self.cond(node.test, d)
            with self.guarded(test):
                body = self.num(node.body, d)
            with self.guarded(sympy.Not(test)):
                orelse = self.num(node.orelse, d)
            return _NUM, sympy.Piecewise((body, test), (orelse, True))
        if isinstance(node, ast.Call):
            return _NUM, self.call(node, d)
        raise self.fail(node, f"{_describe(node)} is not allowed; " + _ALLOWED_HELP)

    def constant(self, node: ast.Constant) -> sympy.Expr:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(node, f"literal {value!r} is not allowed; only real numbers are")
        if isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                raise self.fail(node, "number is not finite")
            exact = self.literal(node, value)
        else:
            exact = Fraction(value)
        if abs(exact) > MAX_LITERAL:
            raise self.fail(node, "number is too large (limit 1e30)")
        return sympy.Rational(exact.numerator, exact.denominator)

    def literal(self, node: ast.Constant, value: float) -> Fraction:
        """The decimal literal exactly as written (Python's float would turn 1e-400 into 0.0 and 0.1 into
        a binary fraction); the float's shortest text when the source segment is not a plain decimal."""
        segment = ast.get_source_segment(self.source, node) or ""
        try:
            return _exact_decimal(segment)
        except ExprError as exc:
            raise self.fail(node, str(exc)) from None
        except (ValueError, ZeroDivisionError):
            return Fraction(repr(value))

    def name(self, node: ast.Name) -> sympy.Expr:
        if node.id in VARIABLES:
            return VARIABLES[node.id]
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id in self.params:
            self.used_params.add(node.id)
            v = self.params[node.id]
            return sympy.Rational(v.numerator, v.denominator)
        if node.id in FUNCTIONS:
            raise self.fail(node, f"function '{node.id}' must be called, e.g. {node.id}(y)")
        known = ", ".join(sorted(self.params)) or "none given"
        raise self.fail(
            node,
            f"unknown name '{node.id}'; names are x (ΔO), y (ΔR), pi and parameters "
            f"(given: {known}; pass one with --param {node.id}=VALUE)",
        )

    def binop(self, node: ast.BinOp, d: int) -> sympy.Expr:
        left = self.num(node.left, d)
        right = self.num(node.right, d)
        op = node.op
        if isinstance(op, ast.Add):
            return left + right
        if isinstance(op, ast.Sub):
            return left - right
        if isinstance(op, ast.Mult):
            return left * right
        if isinstance(op, ast.Div):
            if right.is_number and right == 0:
                raise self.fail(node, "division by zero")
            self.need(node, right, "nonzero", "the division")
            return left / right
        if isinstance(op, ast.Pow):
            return self.power(node, left, right)
        raise self.fail(node, f"operator {type(op).__name__} is not allowed; " + _ALLOWED_HELP)

    def power(self, node: ast.BinOp, base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
        if exponent.is_number:
            if not exponent.is_real or abs(exponent) > MAX_EXPONENT:
                raise self.fail(node, f"exponent {exponent} is too large (limit |exponent| <= {MAX_EXPONENT})")
            if base.is_number and base == 0 and bool(exponent <= 0):
                raise self.fail(node, "0 raised to a non-positive power is undefined")
            if isinstance(base, sympy.Rational) and base != 0:
                bits = base.p.bit_length() + base.q.bit_length()
                if bits * abs(exponent) > 4096:
                    raise self.fail(node, "constant power is too large (the result would exceed ~1e1200)")
        elif base.is_number:
            if not bool(base > 0):
                raise self.fail(node, "a power with a variable exponent needs a positive constant base")
        else:
            raise self.fail(node, "a power needs a constant exponent or a constant base "
                                  "(write exp(b * log(a)) for a**b)")
        if exponent.is_number and not exponent.is_integer:  # a real power needs a base >= 0 (> 0 if < 0)
            self.need(node, base, "positive" if bool(exponent < 0) else "nonnegative", "the power")
        elif exponent.is_number and bool(exponent < 0):
            self.need(node, base, "nonzero", "the power")
        return sympy.Pow(base, exponent)

    def compare(self, node: ast.Compare, d: int) -> sympy.Basic:
        terms = [self.num(node.left, d)] + [self.num(c, d) for c in node.comparators]
        ops: dict[type, Callable[[sympy.Expr, sympy.Expr], sympy.Basic]] = {
            ast.Lt: sympy.Lt, ast.LtE: sympy.Le, ast.Gt: sympy.Gt, ast.GtE: sympy.Ge,
            ast.Eq: sympy.Eq, ast.NotEq: sympy.Ne,
        }
        parts = []
        for op, a, b in zip(node.ops, terms, terms[1:], strict=False):
            builder = ops.get(type(op))
            if builder is None:
                raise self.fail(node, f"comparison {type(op).__name__} is not allowed; use < <= > >= == !=")
            parts.append(builder(a, b))
        return sympy.And(*parts)

    def call(self, node: ast.Call, d: int) -> sympy.Expr:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, f"only plain function calls are allowed ({_describe(node.func)} is not)")
        fname = node.func.id
        spec = FUNCTIONS.get(fname)
        if spec is None:
            raise self.fail(node, f"unknown function '{fname}'; allowed functions: " + " ".join(sorted(FUNCTIONS)))
        if node.keywords:
            raise self.fail(node, f"{fname}() takes no keyword arguments")
        lo, hi, build = spec
        n = len(node.args)
        if not lo <= n <= hi:
            want = str(lo) if lo == hi else f"{lo} to {hi}"
            raise self.fail(node, f"{fname}() takes {want} argument(s), got {n}")
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise self.fail(a, "argument unpacking (*) is not allowed")
        args = [self.num(a, d) for a in node.args]
        domain = _PARTIAL.get(fname)
        if domain is not None:
            kind, shift = domain
            self.need(node, args[0] + shift, kind, "the call")
        return build(*args)


def _describe(node: ast.AST) -> str:
    names = {
        ast.Attribute: "attribute access", ast.Subscript: "indexing", ast.Lambda: "lambda",
        ast.ListComp: "a comprehension", ast.SetComp: "a comprehension", ast.DictComp: "a comprehension",
        ast.GeneratorExp: "a generator", ast.List: "a list", ast.Tuple: "a tuple", ast.Dict: "a dict",
        ast.Set: "a set", ast.JoinedStr: "an f-string", ast.NamedExpr: "':=' assignment",
        ast.Await: "await", ast.Yield: "yield", ast.Starred: "'*' unpacking", ast.Call: "a call",
    }
    return names.get(type(node), type(node).__name__)


def check_param_name(name: str) -> None:
    """Raise :class:`ExprError` unless ``name`` may name a parameter."""
    if not _NAME_RE.match(name):
        raise ExprError(f"parameter name {name!r} is not an identifier")
    if name in RESERVED:
        raise ExprError(f"parameter name {name!r} is reserved (x, y, pi and function names are)")


def _check_real(expr: sympy.Expr) -> None:
    if expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo, sympy.I):
        raise ExprError("the expression is undefined or not real for these parameters "
                        f"(it simplifies to {expr}); check divisions, log and sqrt of constants")


def parse(text: str, params: Mapping[str, Fraction | int | str] | None = None) -> Expression:
    """Parse a scale-function text ``f(x, y)`` into an :class:`Expression`.

    ``params`` maps parameter names to exact values (decimal strings are read exactly: ``"0.1"`` is
    1/10). Every parameter must be used and every name must be known.
    """
    if not isinstance(text, str):
        raise ExprError("the expression must be text")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ExprError("the expression is not valid UTF-8 text") from exc
    if len(text) > MAX_CHARS:
        raise ExprError(f"expression too long ({len(text)} characters, limit {MAX_CHARS})")
    if not text.strip():
        raise ExprError("empty expression; write f(x, y), e.g. 'exp(x) * y'")
    exact: dict[str, Fraction] = {}
    for k, v in (params or {}).items():
        check_param_name(k)
        exact[k] = v if isinstance(v, Fraction) else parse_number(str(v))
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        col = exc.offset if exc.offset is not None else None
        raise ExprError(f"syntax error: {exc.msg}; write a Python-style expression such as "
                        "'y * max(1 + x + y / 2, 0)'", col) from None
    except (ValueError, MemoryError, RecursionError) as exc:
        raise ExprError(f"cannot parse the expression: {type(exc).__name__}") from None
    translator = _Translator(exact, text.strip())
    try:
        expr = translator.num(tree.body, 0)
    except RecursionError:
        raise ExprError(f"expression nested too deeply (limit {MAX_DEPTH} levels)") from None
    except (TypeError, ValueError, ArithmeticError) as exc:
        if isinstance(exc, ExprError):
            raise
        raise ExprError(f"the expression cannot be formed: {exc}") from None
    unused = sorted(set(exact) - translator.used_params)
    if unused:
        raise ExprError(f"parameter(s) {', '.join(unused)} given but not used in the expression")
    _check_real(expr)
    return Expression(source=text.strip(), params=tuple(sorted(exact.items())), expr=expr,
                      conditions=tuple(dict.fromkeys(translator.conditions)))
