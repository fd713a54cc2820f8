"""Mutation testing of the test and proof suites (issue 11): apply each curated mutant to a temporary
copy of the repository and see whether the suite catches it.

    .venv/bin/python benchmarks/mutate.py [--only ID,...] [--source DIR] [--before] [--json FILE]

The mutants are listed in ``benchmarks/mutants.toml`` (file, original snippet, replacement, why;
equivalent ones marked). For each mutant the repository (``--source``, default: this checkout, without
``.git`` and ``.venv``) is copied to a temporary directory, the snippet is replaced there — never in a
working tree — and the cheapest relevant command runs first, each with ``-x``, stopping at the first
failure (= caught):

1. ``pgcheck prove --check`` (the proof suite as ``make test`` runs it);
2. the targeted test files of the mutated module;
3. the whole pytest suite.

A mutant that passes all three *survived*. ruff and mypy are not run: the mutants are well-typed
semantic changes. Before any mutant, the unmutated copy must pass the same three stages (the baseline;
``--no-baseline`` skips it), or every mutant would count as caught. ``--before`` uses each entry's
``before`` snippets (the code as it was on main before issue 11) where it has them. The copy is
imported through ``PYTHONPATH`` (checked before the run), with a fresh ``PGCHECK_CACHE_DIR`` per mutant
so no certificate cached from the unmutated code is reused.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = Path(__file__).resolve().parent / "mutants.toml"
# folders that are not the project's own text: never copied (tests/test_repository.py reads this list too)
UNTRACKED = (".venv", "build", "runs", "out", ".gpu_check", "__pycache__", ".mypy_cache", ".pytest_cache",
             ".ruff_cache", ".hypothesis")
IGNORE = shutil.ignore_patterns(".git", "*.egg-info", *UNTRACKED)

# the test files that exercise each mutated file (stage 2)
TARGETED: dict[str, list[str]] = {
    "pgcheck/scales.py": ["tests/test_check.py", "tests/test_updates.py"],
    "pgcheck/updates.py": ["tests/test_updates.py", "tests/test_ppo.py"],
    "pgcheck/smt.py": ["tests/test_check.py", "tests/test_derivations.py"],
    "derivations/runner.py": ["tests/test_prove.py"],
    "agents/ppo.py": ["tests/test_ppo.py", "tests/test_trainer_loss.py"],
    "agents/policy.py": ["tests/test_ppo.py", "tests/test_trainer_loss.py"],
}
DEFAULT_TARGETED = ["tests/test_derivations.py", "tests/test_prove.py"]


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    original: str
    replacement: str
    why: str
    equivalent: bool = False


def load(path: Path = MUTANTS, before: bool = False) -> list[Mutant]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    out = []
    for m in data["mutant"]:
        b: dict[str, Any] = m.get("before", {}) if before else {}
        out.append(Mutant(m["id"], m["file"], b.get("original", m["original"]),
                          b.get("replacement", m["replacement"]), m["why"], bool(m.get("equivalent", False))))
    ids = [m.id for m in out]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate mutant ids in " + str(path))
    return out


def apply(m: Mutant, tree: Path) -> None:
    """Replace the mutant's snippet in ``tree`` (a copy); the snippet must occur exactly once."""
    if not m.original:  # the baseline: nothing to change
        return
    path = tree / m.file
    text = path.read_text(encoding="utf-8")
    n = text.count(m.original)
    if n != 1:
        raise ValueError(f"{m.id}: the original snippet occurs {n} times in {m.file} (expected once)")
    path.write_text(text.replace(m.original, m.replacement), encoding="utf-8")


def copy_tree(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest, ignore=IGNORE)
    return dest


def environment(tree: Path, cache: Path, mutant: str = "") -> dict[str, str]:
    """The environment of the commands run in the copy ``tree``; ``PGCHECK_MUTANT`` names the applied mutant
    (tests/test_mutants.py then does not expect that one's original snippet in the copy)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree)
    env["PGCHECK_CACHE_DIR"] = str(cache)
    env["PGCHECK_MUTANT"] = mutant
    env.pop("PYTEST_ADDOPTS", None)
    return env


def stages(m: Mutant, python: str, tree: Path) -> list[tuple[str, list[str]]]:
    targeted = [t for t in TARGETED.get(m.file, DEFAULT_TARGETED) if (tree / t).exists()]
    return [("prove --check", [python, "-m", "pgcheck_cli.main", "prove", "--check"]),
            ("targeted pytest", [python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *targeted]),
            ("pytest", [python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"])]


def check_import(tree: Path, python: str) -> None:
    """The copy, not the editable install, must be what the commands import."""
    code = "import pgcheck, derivations, agents; print(pgcheck.__file__, derivations.__file__, agents.__file__)"
    with tempfile.TemporaryDirectory() as cache:
        r = subprocess.run([python, "-c", code], cwd=tree, env=environment(tree, Path(cache)), capture_output=True,
                           text=True, check=True)
    if any(not p.startswith(str(tree)) for p in r.stdout.split()):
        raise RuntimeError(f"the copy is not what gets imported: {r.stdout.strip()}")


def run_mutant(m: Mutant, source: Path, python: str, timeout: float = 1200.0) -> dict[str, Any]:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"mutant-{m.id}-") as tmp:
        tree = copy_tree(source, Path(tmp) / "repo")
        apply(m, tree)
        env = environment(tree, Path(tmp) / "cache", m.id)
        for name, cmd in stages(m, python, tree):
            try:
                r = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                return {"id": m.id, "caught": True, "by": f"{name} (timeout)", "seconds": time.perf_counter() - t0}
            if r.returncode != 0:
                tail = (r.stdout + r.stderr).strip().splitlines()[-3:]
                return {"id": m.id, "caught": True, "by": name, "seconds": round(time.perf_counter() - t0, 1),
                        "evidence": tail}
    return {"id": m.id, "caught": False, "by": None, "seconds": round(time.perf_counter() - t0, 1)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="", help="comma-separated mutant ids")
    p.add_argument("--source", type=Path, default=ROOT, help="the repository to mutate (copied; default: here)")
    p.add_argument("--before", action="store_true", help="use the snippets of the code before issue 11")
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument("--no-baseline", action="store_true", help="do not first check that the unmutated copy passes")
    args = p.parse_args()
    mutants = load(before=args.before)
    if args.only:
        wanted = {w.strip() for w in args.only.split(",") if w.strip()}
        unknown = wanted - {m.id for m in mutants}
        if unknown:
            p.error(f"unknown mutant ids: {', '.join(sorted(unknown))}")
        mutants = [m for m in mutants if m.id in wanted]
    source = args.source.resolve()
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:  # every snippet applies before anything runs
        tree = copy_tree(source, Path(tmp) / "repo")
        for m in mutants:
            text = (tree / m.file).read_text(encoding="utf-8")
            if text.count(m.original) != 1:
                p.error(f"{m.id}: the original snippet occurs {text.count(m.original)} times in {m.file}")
        check_import(tree, python)
    if not args.no_baseline:
        base = run_mutant(Mutant("baseline", mutants[0].file, "", "", "the unmutated code"), source, python)
        if base["caught"]:
            print(f"the unmutated code fails {base['by']}: {base.get('evidence')}", file=sys.stderr)
            return 2
        print(f"baseline: the unmutated code passes every stage ({base['seconds']:.0f} s)", flush=True)
    results = []
    for i, m in enumerate(mutants, 1):
        r = run_mutant(m, source, python)
        r["equivalent"] = m.equivalent
        results.append(r)
        status = f"caught by {r['by']}" if r["caught"] else "SURVIVED"
        print(f"[{i}/{len(mutants)}] {m.id:<34} {'(equivalent) ' if m.equivalent else ''}{status} "
              f"({r['seconds']:.0f} s)", flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    real = [r for r in results if not r["equivalent"]]
    caught = sum(r["caught"] for r in real)
    equivalent = len(results) - len(real)
    print(f"mutation score: {caught}/{len(real)} non-equivalent mutants caught, {len(real) - caught} survived, "
          f"{equivalent} equivalent ({sum(r['caught'] for r in results if r['equivalent'])} of them 'caught')")
    survivors = [r["id"] for r in real if not r["caught"]]
    if survivors:
        print("survived: " + ", ".join(survivors))
    return 0 if not survivors else 1


if __name__ == "__main__":
    sys.exit(main())
