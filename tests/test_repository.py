"""The repository itself: no tracked file carries an unresolved merge (``.gitignore`` once did, after the
merge of the GPU branch: its conflict markers were committed and read as ignore patterns)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# git's markers: seven '<' or '>' at the start of a line, then a space and the side's name
MARKER = re.compile(rb"^(<{7}|>{7}) ", re.MULTILINE)


def conflict_markers(data: bytes, where: str) -> list[str]:
    """'where:line' for every line of ``data`` that starts with a git conflict marker."""
    newline = b"\n"
    return [f"{where}:{data.count(newline, 0, m.start()) + 1}" for m in MARKER.finditer(data)]


def test_no_tracked_file_has_conflict_markers() -> None:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    paths = [p for p in listed.decode().split("\0") if p]
    assert len(paths) > 100, f"git ls-files listed {len(paths)} files: not this repository's checkout"
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
