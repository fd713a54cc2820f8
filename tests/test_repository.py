"""The repository itself: no tracked file carries an unresolved merge (``.gitignore`` once did, after the
merge of the GPU branch: its conflict markers were committed and read as ignore patterns)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# git's markers: seven '<' or '>' at the start of a line, then a space and the side's name
MARKER = re.compile(rb"^(<{7}|>{7}) ", re.MULTILINE)


def conflict_markers(data: bytes, where: str) -> list[str]:
    """'where:line' for every line of ``data`` that starts with a git conflict marker."""
    newline = b"\n"
    return [f"{where}:{data.count(newline, 0, m.start()) + 1}" for m in MARKER.finditer(data)]


def _untracked() -> set[str]:
    """The folders benchmarks/mutate.py leaves out of its copies (the trees without .git this test runs in)."""
    spec = importlib.util.spec_from_file_location("_mutate_harness", ROOT / "benchmarks" / "mutate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return set(module.UNTRACKED)


def project_files() -> list[str]:
    """The tracked files (``git ls-files``), or in a copy without .git every file outside the folders that
    benchmarks/mutate.py leaves out."""
    if (ROOT / ".git").exists():
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        return [p for p in listed.decode().split("\0") if p]
    untracked = _untracked()
    return [str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
            if p.is_file() and not untracked & set(p.relative_to(ROOT).parts[:-1])
            and not any(part.endswith(".egg-info") for part in p.relative_to(ROOT).parts)]


def test_no_tracked_file_has_conflict_markers() -> None:
    paths = project_files()
    assert len(paths) > 100 and "pyproject.toml" in paths, f"{len(paths)} files found: not this repository"
    problems: list[str] = []
    for rel in paths:
        path = ROOT / rel
        if path.is_file() and not path.is_symlink():
            problems += conflict_markers(path.read_bytes(), rel)
    assert not problems, "unresolved merge conflict at:\n" + "\n".join(problems)


def test_conflict_markers_are_found() -> None:
    planted = b"a\n<<<<<<< HEAD\n/build/\n=======\n/.gpu_check/\n>>>>>>> gpu\n"
    assert conflict_markers(planted, "planted") == ["planted:2", "planted:6"]   # negative control
    assert conflict_markers(b"Title\n=======\n", "heading") == []   # a setext heading is not a marker


def test_the_folders_left_out_of_copies_are_read_from_the_mutation_harness() -> None:
    # the path taken in benchmarks/mutate.py's copies (no .git), exercised here in the checkout as well
    untracked = _untracked()
    assert {".venv", "runs", "build", "__pycache__"} <= untracked and "pgcheck" not in untracked
