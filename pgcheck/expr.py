"""The scale-function language: a safe subset of Python expression syntax, translated to sympy.

A user writes ``f(x, y)`` with ``x = ΔO`` (log importance ratio, eq. 25) and ``y = ΔR`` (return
error, eq. 14). The text is parsed with :mod:`ast` and every node is checked against a whitelist
before it is translated, node by node, into a sympy expression. Nothing is ever evaluated as Python:
``eval``, ``sympify`` and ``parse_expr`` are never called on user text.

Guarantees of :func:`parse`:

* it returns an :class:`Expression` whose ``core`` is a real sympy expression in the symbols
  :data:`X`, :data:`Y` and named constants κ (:mod:`pgcheck.symbols`; parameters are substituted by exact
  rationals), in which every decision about a constant — a comparison, ``abs``, ``max``, ``sign``, a
  branch, a zero test — was made by :mod:`pgcheck.decide` (exactly or certified) or left open as a
  condition on κ; ``expr`` is the same function with the constants written out, for symbolic work, or
* it raises :class:`ExprError` with a one-line message that says what is wrong, where (column), and
  what is allowed. It raises nothing else, whatever the input text.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction

import sympy

from pgcheck import decide, symbols
from pgcheck.errors import UserError
from pgcheck.symbols import X as X
from pgcheck.symbols import Y as Y
from pgcheck.symbols import is_constant

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
    """A parsed scale function: the user's text, its parameters and the sympy expression f(x, y) in the
    variables and named constants κ (``core``), with the domain conditions of the partial operations as
    written (empty for total expressions)."""

    source: str
    params: tuple[tuple[str, Fraction], ...]
    core: sympy.Expr
    conditions: tuple[Condition, ...] = ()

    @property
    def param_dict(self) -> dict[str, Fraction]:
        return dict(self.params)

    @functools.cached_property
    def expr(self) -> sympy.Expr:
        """f with its constants written out (``log(6/5)`` rather than κ): for symbolic work and printing.
        sympy re-evaluates it while rebuilding, so the validator decides nothing on it (it uses ``core``)."""
        out: sympy.Expr = symbols.concrete(self.core)
        return out


# The kind of value a node produces: a real number or a truth value.
_NUM = "number"
_BOOL = "condition"

# functions whose value at a constant argument sympy would settle by rounded evaluation (sign tests)
_DECIDING = frozenset({"abs", "sign", "max", "min", "clip", "relu"})


class _Translator:
    def __init__(self, params: Mapping[str, Fraction], source: str = "") -> None:
        self.params = params
        self.source = source
        self.used_params: set[str] = set()
        self.nodes = 0
        self.guard: sympy.Basic = sympy.true  # where the node being translated is evaluated
        self.conditions: list[Condition] = []

    # --- constants: every decision goes to pgcheck.decide -------------------------------------------

    def sign(self, node: ast.AST, c: sympy.Expr) -> int | None:
        """The sign of the constant ``c`` (None when it cannot be decided or has no value)."""
        try:
            return decide.sign(c)
        except decide.TooLarge as exc:
            raise self.fail(node, f"the constant '{ast.unparse(node)}' is too large to evaluate ({exc})") from None
        except (decide.Undecided, decide.Undefined):
            return None

    def settle(self, node: ast.AST, value: sympy.Expr) -> sympy.Expr:
        """A constant result: its exact rational when exact arithmetic gives one, 0 when it is proved 0, a
        κ symbol for a new transcendental number (so that sympy never evaluates one), else itself."""
        if not is_constant(value) or isinstance(value, sympy.Rational):
            return value
        exact = decide.exact_rational(value)
        if exact is not None:
            return sympy.Rational(exact.numerator, exact.denominator)
        if self.sign(node, value) == 0:
            return sympy.Integer(0)
        if value.free_symbols and isinstance(value, sympy.Add | sympy.Mul):
            return value  # arithmetic on κ symbols: sympy cannot evaluate it numerically
        return symbols.constant(value)

    def need(self, node: ast.AST, operand: sympy.Expr, kind: str, what: str) -> bool:
        """Record that ``operand`` must be ``kind`` wherever this node is evaluated. A constant operand is
        decided on the spot; it is recorded only when it certainly fails (then f is undefined wherever this
        node is reached) or cannot be decided. Returns False when it certainly fails."""
        if is_constant(operand):
            s = self.sign(node, operand)
            ok = {"nonzero": s is not None and s != 0, "positive": s is not None and s > 0,
                  "nonnegative": s is not None and s >= 0}[kind]
            if ok:
                return True
            self.conditions.append(Condition(self.guard, operand, kind, f"{what} '{ast.unparse(node)}'"))
            return s is None
        self.conditions.append(Condition(self.guard, operand, kind, f"{what} '{ast.unparse(node)}'"))
        return True

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
        # sympy marks a division by a branch that is 0 with zoo (y / (0 if x == 0 else x)); where that branch
        # is taken f is undefined, which the recorded conditions and the certified evaluation both see. A
        # constant with no value, or an imaginary unit anywhere, cannot be meant.
        if value.has(sympy.I) or (is_constant(value) and value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)):
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
            return symbols.constant(CONSTANTS[node.id])
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
            return self.settle(node, left + right)
        if isinstance(op, ast.Sub):
            return self.settle(node, left - right)
        if isinstance(op, ast.Mult):
            return self.settle(node, left * right)
        if isinstance(op, ast.Div):
            if not self.need(node, right, "nonzero", "the division"):
                raise self.fail(node, "division by zero")  # a constant divisor that is exactly 0
            return self.settle(node, left / right)
        if isinstance(op, ast.Pow):
            return self.power(node, left, right)
        raise self.fail(node, f"operator {type(op).__name__} is not allowed; " + _ALLOWED_HELP)

    def power(self, node: ast.BinOp, base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
        if is_constant(exponent):
            try:
                lo, hi = decide.bounds(exponent)
            except (decide.Undecided, decide.Undefined, decide.TooLarge):
                raise self.fail(node, "the exponent cannot be evaluated") from None
            # a rational to an integer power is one exact number, bounded by the size check below (10**-100
            # is as good a constant as 1e-100); the limit is for powers of x and y, which sympy and z3 expand
            exact_constant = isinstance(base, sympy.Rational) and isinstance(exponent, sympy.Integer)
            if max(abs(lo), abs(hi)) > MAX_EXPONENT and not exact_constant:
                raise self.fail(node, f"exponent {symbols.render(exponent)} is too large "
                                      f"(limit |exponent| <= {MAX_EXPONENT})")
            e_sign = self.sign(node, exponent)
            if isinstance(base, sympy.Rational) and base != 0 and isinstance(exponent, sympy.Rational):
                # bits of |p|^n and q^n; a factor of 1 stays 1 however large n (1**100000 is 1)
                bits = sum(v.bit_length() for v in (abs(int(base.p)), int(base.q)) if v > 1)
                if bits * abs(exponent) > 4096:
                    raise self.fail(node, "constant power is too large "
                                          "(its numerator or denominator would exceed ~1e1200)")
            if isinstance(exponent, sympy.Integer):
                if int(exponent) < 0 and not self.need(node, base, "nonzero", "the power"):
                    raise self.fail(node, "0 raised to a non-positive power is undefined")
                return self.settle(node, sympy.Pow(base, exponent))
            # a real power needs a base >= 0 (> 0 when the exponent is not certainly positive)
            kind = "nonnegative" if e_sign is not None and e_sign > 0 else "positive"
            if not self.need(node, base, kind, "the power"):
                if isinstance(base, sympy.Rational) and base == 0:
                    raise self.fail(node, "0 raised to a non-positive power is undefined")
                return symbols.constant(sympy.Pow(base, exponent, evaluate=False))
        elif is_constant(base):
            if self.sign(node, base) != 1:
                raise self.fail(node, "a power with a variable exponent needs a positive constant base")
        else:
            raise self.fail(node, "a power needs a constant exponent or a constant base "
                                  "(write exp(b * log(a)) for a**b)")
        if is_constant(base) and not isinstance(base, sympy.Rational):
            base = symbols.constant(base) if not isinstance(base, sympy.Symbol) else base
        return self.settle(node, sympy.Pow(base, exponent))

    def relation(self, node: ast.AST, op: ast.cmpop, a: sympy.Expr, b: sympy.Expr) -> sympy.Basic:
        ops: dict[type, Callable[[sympy.Expr, sympy.Expr], sympy.Basic]] = {
            ast.Lt: sympy.Lt, ast.LtE: sympy.Le, ast.Gt: sympy.Gt, ast.GtE: sympy.Ge,
            ast.Eq: sympy.Eq, ast.NotEq: sympy.Ne,
        }
        builder = ops.get(type(op))
        if builder is None:
            raise self.fail(node, f"comparison {type(op).__name__} is not allowed; use < <= > >= == !=")
        if is_constant(a) and is_constant(b):  # decided here, never by sympy's rounded evaluation
            s = self.sign(node, a - b)
            if s is not None:
                outcome = {ast.Lt: s < 0, ast.LtE: s <= 0, ast.Gt: s > 0, ast.GtE: s >= 0,
                           ast.Eq: s == 0, ast.NotEq: s != 0}[type(op)]
                return sympy.true if outcome else sympy.false
        return builder(a, b)

    def compare(self, node: ast.Compare, d: int) -> sympy.Basic:
        """``a < b < c`` is ``a < b and b < c`` with b evaluated once: Python evaluates c only when a < b
        holds, so c's partial operations are guarded by the comparisons before it."""
        left = self.num(node.left, d)
        parts: list[sympy.Basic] = []
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            with self.guarded(sympy.And(*parts)):
                right = self.num(comparator, d)
            parts.append(self.relation(node, op, left, right))
            left = right
        return sympy.And(*parts)

    def extremum(self, node: ast.AST, pick_max: bool, args: list[sympy.Expr]) -> sympy.Expr:
        """max/min with its constant arguments reduced to one by certain comparisons (when possible)."""
        consts = [a for a in args if is_constant(a)]
        others = [a for a in args if not is_constant(a)]
        kept = list(dict.fromkeys(consts))
        changed = True
        while changed and len(kept) > 1:
            changed = False
            for i, a in enumerate(kept):
                for b in kept[i + 1:]:
                    s = self.sign(node, a - b)
                    if s is None:
                        continue
                    drop = b if (s >= 0) == pick_max else a
                    kept.remove(drop)
                    changed = True
                    break
                if changed:
                    break
        kept = [a if isinstance(a, sympy.Rational | sympy.Symbol) else symbols.constant(a) for a in kept]
        allargs = others + kept
        if len(allargs) == 1:
            return allargs[0]
        out = sympy.Max(*allargs) if pick_max else sympy.Min(*allargs)
        return self.settle(node, out) if not others else out

    def deciding_call(self, node: ast.Call, fname: str, args: list[sympy.Expr]) -> sympy.Expr:
        """abs, sign, max, min, clip and relu: decided here for constant arguments."""
        if fname in ("max", "min"):
            return self.extremum(node, fname == "max", args)
        if fname == "relu":
            return self.extremum(node, True, [args[0], sympy.Integer(0)])
        if fname == "clip":
            v, lo, hi = args
            if is_constant(lo) and is_constant(hi) and self.sign(node, lo - hi) == 1:
                raise ExprError(f"clip(v, lo, hi) needs lo <= hi, got lo={symbols.render(lo)}, hi={symbols.render(hi)}")
            return self.extremum(node, False, [self.extremum(node, True, [v, lo]), hi])
        (v,) = args
        if not is_constant(v):
            return sympy.Abs(v) if fname == "abs" else sympy.sign(v)
        s = self.sign(node, v)
        if s is None:
            return symbols.constant((sympy.Abs if fname == "abs" else sympy.sign)(symbols.constant(v)))
        if fname == "sign":
            return sympy.Integer(s)
        return v if s >= 0 else -v

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
        if fname in _DECIDING:
            return self.deciding_call(node, fname, args)
        domain = _PARTIAL.get(fname)
        defined = True
        if domain is not None:
            kind, shift = domain
            defined = self.need(node, self.settle(node, args[0] + shift), kind, "the call")
        if all(is_constant(a) for a in args):
            # the function of a constant: built on κ symbols only, so sympy cannot evaluate it numerically
            # (a certainly undefined one is kept unevaluated: f is undefined wherever this node is reached)
            placeholders = [a if isinstance(a, sympy.Symbol) else symbols.constant(a) for a in args]
            value = build(*placeholders)
            return symbols.constant(value) if not defined else self.settle(node, value)
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
    except ExprError:
        raise
    except Exception as exc:  # sympy may fail in many ways on odd input; the user gets one line, never a traceback
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise ExprError(f"the expression cannot be formed ({type(exc).__name__}: {first})") from None
    unused = sorted(set(exact) - translator.used_params)
    if unused:
        raise ExprError(f"parameter(s) {', '.join(unused)} given but not used in the expression")
    return Expression(source=text.strip(), params=tuple(sorted(exact.items())), core=expr,
                      conditions=tuple(dict.fromkeys(translator.conditions)))
