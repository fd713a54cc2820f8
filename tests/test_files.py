"""``pgcheck.files``: the one atomic writer. What it guarantees: the whole new content or the old one,
never a temporary file left behind, and a one-line UserError for a path that cannot be written."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgcheck.errors import UserError
from pgcheck.files import atomic_save, atomic_write


def test_writes_text_and_bytes_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    atomic_write(target, "first ü")
    assert target.read_text(encoding="utf-8") == "first ü"
    atomic_write(target, b"\x00second")
    assert target.read_bytes() == b"\x00second"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_a_failing_writer_leaves_the_old_content_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    atomic_write(target, "old")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("half of the new")
        raise RuntimeError("the writer broke")

    with pytest.raises(RuntimeError, match="the writer broke"):
        atomic_save(target, half_then_fail)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_an_os_error_is_one_line_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "a.txt"
    with pytest.raises(UserError, match=r"^cannot write .*a\.txt: No such file or directory$"):
        atomic_write(missing, "x")

    def disk_full(tmp: Path) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(UserError, match="No space left on device"):
        atomic_save(tmp_path / "b.txt", disk_full)
    assert list(tmp_path.iterdir()) == []


def test_temporary_names_are_unique_per_call(tmp_path: Path) -> None:
    # two writers into one directory (two runs with one --out) must not share a temporary file
    seen: list[Path] = []

    def write(tmp: Path) -> None:
        seen.append(tmp)
        tmp.write_text("x")

    for _ in range(2):
        atomic_save(tmp_path / "same.txt", write)
    assert len(set(seen)) == 2 and all(p.parent == tmp_path and p.name.startswith(".same.txt.") for p in seen)
    assert atomic_save(tmp_path / "p.png", lambda tmp: seen.append(tmp), suffix=".png").name == "p.png"
    assert seen[-1].suffix == ".png"


def test_permissions_are_those_of_an_ordinary_file_not_mkstemps(tmp_path: Path) -> None:
    import os
    import stat

    mask = os.umask(0o022)
    try:
        fresh = atomic_write(tmp_path / "fresh.json", "{}")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644      # mkstemp alone would give 0600
        os.chmod(fresh, 0o640)
        atomic_write(fresh, "{}")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o640      # a replaced file keeps its mode
    finally:
        os.umask(mask)
