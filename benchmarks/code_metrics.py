"""The size and shape of the code: the numbers the agent-layer redesign is measured by.

    python benchmarks/code_metrics.py [--json FILE]

Prints, for the project's four packages (``pgcheck``, ``agents``, ``derivations``, ``pgcheck_cli``):

* lines (all lines of the ``.py`` files) per package;
* functions longer than 60 lines outside ``derivations/`` and ``benchmarks/``, longest first;
* import cycles between modules: the strongly connected components of the graph whose edges are every
  import of a project module, wherever it stands (top level, inside a function, under ``TYPE_CHECKING``,
  relative, or ``importlib.import_module("...")`` with a literal name), each resolved to the most specific
  module it names.

Everything is read from the syntax trees; nothing is imported or run.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pgcheck", "agents", "derivations", "pgcheck_cli")
LONG = 60


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file of the packages (``__init__`` is the package)."""
    out: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The longest prefix of ``name`` that is a known module, or None for a module outside the project."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in known:
            return candidate
    return None


def imported_names(module: str, path: Path) -> Iterator[str]:
    """Every dotted name ``module`` imports, relative imports made absolute; for ``from a import b`` both
    ``a.b`` and ``a`` (resolution keeps the most specific that exists)."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                drop = node.level - 1 if is_package else node.level
                base = base[: len(base) - drop] if drop else base
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            for alias in node.names:
                yield f"{stem}.{alias.name}"
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if called in ("import_module", "__import__"):
                yield node.args[0].value


def import_graph(known: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in known}
    for module, path in known.items():
        for name in imported_names(module, path):
            target = _resolve(name, known)
            if target is not None and target != module:
                graph[module].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return sorted(out)


def long_functions(root: Path = ROOT, limit: int = LONG) -> list[tuple[int, str]]:
    """(lines, 'path:line name') of every function longer than ``limit`` lines outside derivations/."""
    out: list[tuple[int, str]] = []
    for package in PACKAGES:
        if package == "derivations":
            continue
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
                    length = node.end_lineno - node.lineno + 1
                    if length > limit:
                        out.append((length, f"{path.relative_to(root)}:{node.lineno} {node.name}"))
    return sorted(out, reverse=True)


def package_lines(root: Path = ROOT) -> dict[str, int]:
    return {p: sum(len(f.read_text().splitlines()) for f in (root / p).rglob("*.py")) for p in PACKAGES}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args(argv)
    known = modules()
    found = cycles(import_graph(known))
    longest = long_functions()
    lines = package_lines()
    print("lines: " + ", ".join(f"{p} {n}" for p, n in lines.items()))
    print(f"functions over {LONG} lines (outside derivations/): {len(longest)}")
    for length, where in longest:
        print(f"  {length:4d}  {where}")
    print(f"import cycles: {len(found)}")
    for component in found:
        print("  " + " <-> ".join(component))
    if args.json is not None:
        args.json.write_text(json.dumps({"lines": lines, "long_functions": longest, "cycles": found}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
