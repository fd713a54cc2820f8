"""The layers import one way: core ``pgcheck`` < ``agents`` < ``derivations`` < ``pgcheck_cli``.

Data flows text -> expression -> checked scale -> update -> lanes -> run directories -> statistics; the
derivations check the code users run (the core's and the trainer's), and only the command line knows
``argv``. Every import is found by walking each module's syntax tree — top-level, inside functions, under
``TYPE_CHECKING``, and ``importlib.import_module("...")`` with a literal name — so a lazy import cannot
hide an upward edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RANK = {"pgcheck": 0, "agents": 1, "derivations": 2, "pgcheck_cli": 3}


def imported_packages(source: str) -> set[tuple[str, int]]:
    """(top-level package, line) for every absolute import in ``source`` of one of :data:`RANK`'s packages."""
    found: set[tuple[str, int]] = set()
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        line = 0  # set with names: the line of the import, from-import or call
        if isinstance(node, ast.Import):
            names, line = [alias.name for alias in node.names], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names, line = [node.module], node.lineno
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("import_module", "__import__"):
                names, line = [node.args[0].value], node.lineno
        for full in names:
            top = full.split(".")[0]
            if top in RANK:
                found.add((top, line))
    return found


def upward_edges(package: str, source: str, where: str) -> list[str]:
    """Each import in ``source`` (a module of ``package``) of a package above it, as 'where:line -> package'."""
    return [f"{where}:{line} imports {top} (layer {RANK[top]} above {package}'s {RANK[package]})"
            for top, line in sorted(imported_packages(source)) if RANK[top] > RANK[package]]


def test_no_module_imports_a_layer_above_its_own() -> None:
    problems: list[str] = []
    checked = 0
    for package in RANK:
        for path in sorted((ROOT / package).rglob("*.py")):
            checked += 1
            problems += upward_edges(package, path.read_text(), str(path.relative_to(ROOT)))
    assert checked > 60, f"only {checked} modules found: the walk looks in the wrong place"
    assert not problems, "upward imports:\n" + "\n".join(problems)


def test_the_walk_finds_lazy_typed_and_dynamic_imports() -> None:
    # negative control: each of these is an upward edge from the core, and each must be reported
    planted = (
        "import agents.ppo\n"
        "def f():\n    from derivations.registry import IDS\n"
        "if TYPE_CHECKING:\n    from pgcheck_cli import main\n"
        "importlib.import_module('agents.lanes')\n"
    )
    assert len(upward_edges("pgcheck", planted, "planted.py")) == 4
    assert upward_edges("pgcheck_cli", planted, "planted.py") == []   # downward edges are fine
    assert upward_edges("pgcheck", "from . import expr\nimport numpy\n", "ok.py") == []


OUTSIDE = ("DESIGN.md", "../shared", "shared/seeds")


def outside_citations(text: str, where: str) -> list[str]:
    """Each line of ``text`` that cites a file which is not part of the repository."""
    return [f"{where}:{n}: {line.strip()}" for n, line in enumerate(text.splitlines(), 1)
            if any(name in line for name in OUTSIDE)]


def test_code_cites_the_paper_not_files_outside_the_repository() -> None:
    problems = []
    for folder in (*RANK, "tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path != Path(__file__).resolve():
                problems += outside_citations(path.read_text(), str(path.relative_to(ROOT)))
    assert not problems, "cite the paper (section, equation) instead:\n" + "\n".join(problems)
    assert outside_citations('"""as restated in DESIGN.md §2"""', "planted.py")   # negative control
