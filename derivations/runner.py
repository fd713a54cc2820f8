"""The proof engine behind ``pgcheck prove``: run the derivations, write and check the certificates.

Each claim of the paper (secs. 3-5 and appendix A, listed in :mod:`derivations.registry`) is run by its
derivation module and becomes one certificate, ``proofs/<id>.json``: the statement, the verdict (proved /
cross-checked / erratum / failed, computed by :meth:`derivations.core.Evidence.verdict`), what exactly was
proved and by which methods, every step, every autograd cross-check with its maximum error and tolerance, and
every erratum with its printed form, counterexample and corrected statement. ``proofs/README.md`` is rendered
from the certificates.

Each step carries its evidence (see :mod:`derivations.core`): the digest, outcome and negative control of
every computation that decided it, so ``check`` notices a step whose computation was replaced by a constant.

``check`` compares freshly produced certificates with the committed ones *ignoring* what may legitimately
differ between machines and runs: timings, the environment record, library version numbers inside
method texts, and the exact size of numerical errors (only whether each cross-check stays under its
tolerance is compared).
"""

from __future__ import annotations

import json
import platform
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from pgcheck import __version__
from pgcheck.errors import UserError
from pgcheck.files import atomic_write

VOLATILE = ("timing", "environment")
README = "README.md"
SHARE = ("share", "pgcheck", "proofs")   # where a wheel install puts the committed certificates (pyproject)


def shipped_directory() -> Path:
    """The certificates that belong to this pgcheck: ``proofs/`` of the source checkout the code runs from
    (an editable install, ``make``), else the copy a wheel install placed under ``<prefix>/share/pgcheck``.

    So ``pgcheck prove --check`` in a user's CI compares the installed code with the certificates committed
    with that code, whatever the current directory holds (a folder of the user's that happens to be named
    ``proofs`` is never picked up by accident)."""
    checkout = Path(__file__).resolve().parent.parent / "proofs"
    if (checkout / README).is_file():
        return checkout
    installed = Path(sys.prefix).joinpath(*SHARE)
    return installed if (installed / README).is_file() else checkout
_VERSION_RE = re.compile(r"\b(z3|sympy|torch) \d+(?:\.\d+)+")


def claim_ids() -> tuple[str, ...]:
    from derivations.registry import IDS

    return IDS


def select(only: Sequence[str] | None) -> list[str]:
    """The claim ids to run, in the paper's order; unknown ids are a :class:`UserError`."""
    ids = claim_ids()
    if not only:
        return list(ids)
    wanted = [w.strip() for item in only for w in item.split(",") if w.strip()]
    if not wanted:  # an empty selection must not pass a check that ran nothing
        raise UserError(f"no claim id given; known ids: {' '.join(ids)}")
    unknown = [w for w in wanted if w not in ids]
    if unknown:
        raise UserError(f"unknown claim id {', '.join(repr(u) for u in unknown)}; known ids: {' '.join(ids)}")
    return [i for i in ids if i in wanted]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment() -> dict[str, str]:
    return {"pgcheck": __version__, "python": platform.python_version(), "torch": _version("torch"),
            "sympy": _version("sympy"), "z3-solver": _version("z3-solver"), "machine": platform.machine()}


def certificate(claim_id: str) -> dict[str, Any]:
    """Run one claim's derivation and return its certificate (plain JSON data)."""
    from derivations.core import sig
    from derivations.registry import get

    claim = get(claim_id)
    ev, seconds = claim.run()
    max_err = ev.max_error()
    return {
        "id": claim.id,
        "title": claim.title,
        "reference": claim.reference,
        "statement": claim.statement,
        "verdict": ev.verdict(),
        "complete": ev.complete,
        "scope": ev.scope,
        "methods": ev.methods(),
        "steps": [s.to_dict() for s in ev.steps],
        "cross_checks": [c.to_dict() for c in ev.checks],
        "errata": [e.to_dict() for e in ev.errata],
        "notes": list(ev.notes),
        "problems": ev.problems(),
        "max_autograd_error": None if max_err is None else sig(max_err),
        "timing": {"seconds": round(seconds, 2)},
        "environment": environment(),
    }


def run(ids: Iterable[str], progress: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    from derivations.autograd import single_thread

    certs = []
    with single_thread():
        for claim_id in ids:
            cert = certificate(claim_id)
            certs.append(cert)
            if progress is not None:
                progress(cert)
    return certs


def to_json(cert: dict[str, Any]) -> str:
    return json.dumps(cert, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------------------------------
# comparison (ignoring timings and float noise)


def _normalise(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in VOLATILE or k in ("max_abs_error", "magnitude", "max_autograd_error"):
                continue
            out[k] = _normalise(v)
        return out
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, str):
        return _VERSION_RE.sub(r"\1", value)
    return value


def differences(committed: dict[str, Any], fresh: dict[str, Any], where: str = "") -> list[str]:
    """Human-readable differences between two certificates, ignoring what may vary between runs."""
    a, b = _normalise(committed), _normalise(fresh)
    out: list[str] = []
    _diff(a, b, where or str(fresh.get("id", "?")), out)
    return out


def _diff(a: Any, b: Any, path: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                out.append(f"{path}.{k}: new in the fresh run")
            elif k not in b:
                out.append(f"{path}.{k}: missing from the fresh run")
            else:
                _diff(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} entries committed, {len(b)} now")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            _diff(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(f"{path}: committed {_short(a)} != now {_short(b)}")


def _short(v: Any) -> str:
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."


# ---------------------------------------------------------------------------------------------------
# files


def load(directory: Path, claim_id: str) -> dict[str, Any] | None:
    path = directory / f"{claim_id}.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data


def write(directory: Path, certs: Sequence[dict[str, Any]]) -> list[str]:
    """Write the certificates whose content changed and re-render README.md from every certificate present.

    A certificate that differs from the one on disk only in what :func:`differences` ignores (timings,
    versions, float noise) is left as it is, so re-running the suite does not churn the committed files.
    Returns the ids written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for cert in certs:
        old = load(directory, cert["id"])
        if old is not None and not differences(old, cert):
            continue
        atomic_write(directory / f"{cert['id']}.json", to_json(cert))
        written.append(cert["id"])
    all_certs = [c for c in (load(directory, i) for i in claim_ids()) if c is not None]
    readme = render_readme(all_certs)
    path = directory / README
    if not path.exists() or path.read_text(encoding="utf-8") != readme:
        atomic_write(path, readme)
    return written


@dataclass
class CheckResult:
    failed: list[str]
    mismatches: list[str]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.mismatches


def check(directory: Path, fresh: Sequence[dict[str, Any]], full: bool) -> CheckResult:
    """Failed claims, and every way the committed ``directory`` differs from what the code produces now."""
    failed = [f"{c['id']}: {'; '.join(c['problems'])}" for c in fresh if c["verdict"] == "failed"]
    mismatches: list[str] = []
    committed: list[dict[str, Any]] = []
    for cert in fresh:
        old = load(directory, cert["id"])
        if old is None:
            mismatches.append(f"{directory / (cert['id'] + '.json')}: missing or unreadable (run 'pgcheck prove')")
            continue
        mismatches += differences(old, cert)
    if full:
        known = set(claim_ids())
        stale = sorted(p.name for p in directory.glob("*.json") if p.stem not in known)
        mismatches += [f"{directory / s}: not a claim of the suite (stale file)" for s in stale]
        committed = [c for c in (load(directory, i) for i in claim_ids()) if c is not None]
        try:
            readme = (directory / README).read_text(encoding="utf-8")
        except OSError:
            readme = None
        if readme is None:
            mismatches.append(f"{directory / README}: missing (run 'pgcheck prove')")
        elif readme != render_readme(committed):
            mismatches.append(f"{directory / README}: not the README rendered from the committed certificates "
                              "(run 'pgcheck prove')")
    return CheckResult(failed, mismatches)


# ---------------------------------------------------------------------------------------------------
# README


def summary(certs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    from derivations.core import VERDICTS

    out: dict[str, Any] = {"claims": len(certs)}
    for v in VERDICTS:
        out[v] = sum(1 for c in certs if c["verdict"] == v)
    out["errata"] = sum(len(c["errata"]) for c in certs)
    out["seconds"] = round(sum(float(c.get("timing", {}).get("seconds", 0.0)) for c in certs), 1)
    return out


def summary_line(certs: Sequence[dict[str, Any]]) -> str:
    s = summary(certs)
    claims = "1 claim" if s["claims"] == 1 else f"{s['claims']} claims"
    return (f"{claims}: {s['proved']} proved, {s['cross-checked']} cross-checked, {s['erratum']} with "
            f"errata ({s['errata']} errata in all), {s['failed']} failed; derivations took {s['seconds']} s")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _err(v: float | None) -> str:
    return "—" if v is None else f"{v:.1e}"


def _evidence(step: dict[str, Any]) -> str:
    """The step's recorded computations in brief: how many, their digests, their negative controls."""
    ev = step.get("evidence", [])
    if not ev:
        return "[no recorded computation]"
    controls = [e["negative control"] for e in ev if "negative control" in e]
    digests = ", ".join(e["digest"][:8] for e in ev[:3]) + (", …" if len(ev) > 3 else "")
    text = f"[{len(ev)} computation{'s' if len(ev) != 1 else ''} {digests}"
    if controls:
        bad = sum(c != "failed as expected" for c in controls)
        text += f"; {len(controls)} negative control{'s' if len(controls) != 1 else ''}: "
        text += "failed as expected" if not bad else f"{bad} PASSED (vacuous)"
    return text + "]"


def render_readme(certs: Sequence[dict[str, Any]]) -> str:
    """proofs/README.md: the table of the paper's claims, what is proved, and the errata."""
    lines = [
        "# The paper's claims, proved and cross-checked",
        "",
        "Generated by `pgcheck prove` from the certificates in this directory (`<id>.json`); do not edit. "
        "`pgcheck prove --check` re-runs every derivation and fails when a claim fails or when these files differ "
        "from what the code now produces (timings, versions and the size of float64 rounding errors aside).",
        "",
        f"**{summary_line(certs)}.**",
        "",
        "Verdicts: **proved** — established symbolically (sympy, or z3 through pgcheck's encoder, or pgcheck's "
        "validator) for the scope stated below, *and* cross-checked with torch autograd through pgcheck's own code; "
        "**cross-checked** — numerical evidence only; **erratum** — a printed step is false: the counterexample is "
        "re-checked exactly and the corrected statement is proved; **failed** — something that should hold does "
        "not (a bug in pgcheck or in the derivation).",
        "",
        "Every step lists the computations that decided it (digests of the checked expressions, recorded in the "
        "certificate with their outcomes) and their negative controls: a perturbed identity, the negated goal of a "
        "z3 proof, a deliberately wrong reference — each must fail in the same run. `--check` compares this evidence "
        "too, so a step whose computation is replaced by `True` no longer matches. The independence rules the "
        "derivations follow are stated at the top of `derivations/__init__.py`.",
        "",
        "| claim | paper | statement | verdict | methods | max autograd error | time |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in certs:
        lines.append(f"| `{c['id']}` | {_cell(c['reference'])} | {_cell(c['statement'])} | **{c['verdict']}** | "
                     f"{_cell(', '.join(c['methods']))} | {_err(c['max_autograd_error'])} | "
                     f"{c['timing']['seconds']:.2f} s |")
    lines += ["", "## What exactly is proved", ""]
    for c in certs:
        lines.append(f"- **`{c['id']}`** ({_cell(c['title'])}): {c['scope']}.")
    errata = [(c["id"], e) for c in certs for e in c["errata"]]
    lines += ["", "## Errata", ""]
    if not errata:
        lines.append("None.")
    for cid, e in errata:
        lines += [f"### `{cid}` {e['id']} — {e['where']}", "",
                  f"- printed: {e['printed']}",
                  f"- counterexample: {e['counterexample']}",
                  f"- corrected: {e['corrected']}",
                  f"- confirmed: {'yes' if e['confirmed'] else 'NO'}", ""]
    lines += ["## Steps and cross-checks", ""]
    for c in certs:
        lines += [f"### `{c['id']}` — {c['title']} ({c['verdict']})", "", f"{c['statement']}", ""]
        for s in c["steps"]:
            mark = "✓" if s["holds"] else ("✗ (erratum " + s["erratum"] + ")" if s.get("erratum") else "✗")
            kind = "printed" if s["printed"] else "ours"
            lines.append(f"- {mark} [{kind}] {s['ref']}: {s['statement']} — *{s['method']}* {_evidence(s)}")
        for x in c["cross_checks"]:
            mark = "✓" if x["passed"] else "✗"
            control = x.get("negative_control")
            shown = f"; negative control ({control['what']}): {control['outcome']}" if control else ""
            lines.append(f"- {mark} [autograd] {x['name']}: {x['compares']} — {x['instances']}; max error "
                         f"{x['max_abs_error']:.1e} (tolerance {x['tolerance']:g}, magnitude {x['magnitude']:.1e})"
                         f"{shown}")
        for n in c["notes"]:
            lines.append(f"- note: {n}")
        for p in c["problems"]:
            lines.append(f"- **problem**: {p}")
        lines.append("")
    env = certs[0]["environment"] if certs else {}
    if env:
        lines += ["Environment of this run: " + ", ".join(f"{k} {v}" for k, v in sorted(env.items())) + ".", ""]
    return "\n".join(lines)


def demo_step(directory: Path | None = None) -> list[dict[str, Any]]:
    """For ``pgcheck demo``: run every claim, print one line each and the summary; compare with ``directory``."""
    print("== pgcheck prove: every claim of the paper (sympy/z3 + autograd) ==", flush=True)
    width = max(len(i) for i in claim_ids())

    def line(cert: dict[str, Any]) -> None:
        n = len(cert["errata"])
        errata = f"  ({n} errat{'um' if n == 1 else 'a'})" if n else ""
        print(f"  {cert['id']:<{width}} {cert['verdict']:<14} {cert['timing']['seconds']:5.2f} s{errata}", flush=True)

    certs = run(claim_ids(), line)
    print("  " + summary_line(certs))
    directory = shipped_directory() if directory is None else directory
    if (directory / README).exists():
        result = check(directory, certs, full=True)
        print(f"  {directory}/ is up to date" if result.ok else f"  {directory}/ differs: run 'pgcheck prove'")
    return certs


def time_suite(ids: Sequence[str]) -> float:
    """Wall time of one full run (used by benchmarks/bench_prove.py)."""
    t0 = time.perf_counter()
    run(ids)
    return time.perf_counter() - t0
