"""`pgcheck validate` end to end, as a user runs it (a real process, real exit codes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent


def pgcheck(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "pgcheck_cli.main", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


def test_named_function_is_valid() -> None:
    r = pgcheck("validate", "mla", "--no-cache")
    assert r.returncode == 0, r.stderr
    assert "VALID: every property of Assumption 5.1 is proved" in r.stdout
    assert "f_ML ~ x*y + y**2/2 + y" in r.stdout


def test_invalid_expression_prints_counterexample_and_exits_1() -> None:
    r = pgcheck("validate", "y * max(1 + x + y / 2, 0)", "--no-cache")
    assert r.returncode == 1
    assert "INVALID" in r.stdout and "counterexample: f(" in r.stdout


def test_json_certificate(tmp_path: Path) -> None:
    out = tmp_path / "cert.json"
    r = pgcheck("validate", "mla_param", "--param", "ao=0.1", "--param", "ar=1", "--json", "--out", str(out))
    assert r.returncode == 0, r.stderr
    cert = json.loads(r.stdout)
    assert cert["overall"] == "VALID"
    assert cert["params"] == {"ao": "0.1", "ar": "1"}
    assert cert["canonical_hash"] and cert["pgcheck_version"]
    assert json.loads(out.read_text())["canonical_hash"] == cert["canonical_hash"]
    for p in cert["properties"]:
        assert {"prop", "verdict", "method", "seconds", "counterexample"} <= set(p)


def test_plot_is_written(tmp_path: Path) -> None:
    png = tmp_path / "mla.png"
    r = pgcheck("validate", "mla", "--plot", str(png))
    assert r.returncode == 0, r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args", [
    ["validate", "__import__('os').system('echo pwned')"],
    ["validate", "y + foo"],
    ["validate", "ao * y"],
    ["validate", "mla_param", "--param", "ao"],
    ["validate", "mla_param", "--param", "zz=1"],
    ["validate", "ppo", "--param", "eps=1"],
    ["validate", ""],
    ["validate"],
    ["validate", "1 / 0"],
    ["validate", "nosuchmodule_q:f"],
    ["validate", "y", "--timeout-ms", "0"],
    ["frobnicate"],
])
def test_bad_input_is_one_line_exit_2(args: list[str]) -> None:
    r = pgcheck(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "pwned" not in r.stdout
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("pgcheck: error:"), r.stderr


def test_bad_paths_and_sizes_are_one_line_exit_2(tmp_path: Path) -> None:
    huge = tmp_path / "huge.txt"
    huge.write_text("y + " * 5000 + "y")
    cases = [
        (["y", "--out", str(tmp_path)], "is a directory"),
        (["y", "--out", str(tmp_path / "missing" / "c.json")], "does not exist"),
        (["y", "--plot", "/"], "is a directory"),
        (["y", "--samples", "1000000000"], "--samples between 100 and"),
        (["ao * y", "--param", "ao=1e999999999"], "decimal exponent beyond"),
        (["y * 1e-99999999"], "decimal exponent beyond"),
        (["--file", str(huge)], "too long for an expression"),
        (["exp(exp(exp(100))) * y"], "too large to evaluate"),
        (["scale_examples:fails_on_large_arrays"], "raised ValueError on arrays of"),
    ]
    for args, message in cases:
        r = pgcheck("validate", "--no-cache", *args, cwd=TESTS)
        lines = [line for line in r.stderr.splitlines() if line.strip()]
        assert r.returncode == 2 and len(lines) == 1 and message in lines[0], (args, r.stderr)
    assert not list(tmp_path.glob("*.tmp*")) and not list(tmp_path.glob(".*tmp*"))


def test_a_callable_in_the_current_directory_is_found_by_the_console_script() -> None:
    script = Path(sys.executable).parent / "pgcheck"  # not 'python -m', which puts the cwd on sys.path itself
    r = subprocess.run([str(script), "validate", "scale_examples:good"], capture_output=True, text=True,
                       cwd=TESTS, timeout=120)
    assert r.returncode == 0 and "VALID (tested)" in r.stdout, r.stderr


def test_exact_literals_are_read_as_written() -> None:
    r = pgcheck("validate", "y * 1e-400", "--json", "--no-cache")
    assert r.returncode == 0, r.stderr
    assert "10000000000" in json.loads(r.stdout)["symbolic"]  # y/10**400, not 0·y from Python's float


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "f.txt"
    bad.write_bytes(b"y * \xff\xfe")
    r = pgcheck("validate", "--file", str(bad))
    assert r.returncode == 2 and "not valid UTF-8" in r.stderr and "Traceback" not in r.stderr
    good = tmp_path / "g.txt"
    good.write_text("exp(x) * y\n")
    assert pgcheck("validate", "--file", str(good)).returncode == 0


def test_trusted_callable_is_tested_only() -> None:
    r = pgcheck("validate", "scale_examples:good", cwd=TESTS)
    assert r.returncode == 0, r.stderr
    assert "VALID (tested)" in r.stdout


def test_validation_does_not_import_torch_or_gymnasium() -> None:
    code = ("import sys; from pgcheck_cli.main import main; rc = main(['validate', 'mla', '--no-cache']); "
            "heavy = [m for m in ('torch', 'gymnasium', 'matplotlib', 'hypothesis') if m in sys.modules]; "
            "print('HEAVY', heavy)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in r.stdout, r.stdout + r.stderr
