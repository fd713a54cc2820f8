"""The vocabulary of a derivation: steps, autograd cross-checks, errata, and the verdict they imply.

Every claim of the paper (its theorems, corollaries, observations and equations of secs. 3-5 and appendix A)
is established by a module of :mod:`derivations` that records

* **steps** — one statement each, checked symbolically (sympy, or z3 through :mod:`pgcheck.smt`) or by
  pgcheck's own validator. A step is either *printed* (the paper's statement, checked as printed) or a
  lemma/corrected statement of ours;
* **cross-checks** — the same identity evaluated in float64 with torch autograd on random instances,
  always through pgcheck's own code (``pgcheck.updates`` losses, ``pgcheck.check.checked_scale``), with
  the largest absolute error and the tolerance it must stay under;
* **errata** — a printed step that is false: the printed form, a concrete counterexample (re-checked
  exactly) and the corrected statement (which is then itself a checked step).

Every step carries the **evidence** that decided it, not only its boolean: each symbolic computation a
derivation makes through the recorders (:func:`record`, used by :mod:`derivations.logic` and
:mod:`derivations.softmax`) is logged with a digest of the expressions it checked, its outcome (a residual,
z3's answer, an exact value) and, for an identity or a proof, the outcome of its **negative control** — a
perturbed statement that must fail in the same run. :meth:`Evidence.step` attaches the records made since the
previous step; ``pgcheck prove --check`` compares them with the committed certificate, so replacing a step's
computation by ``True`` changes the certificate, and a step with no recorded computation is a problem. A
cross-check may carry a negative control too (the same comparison with a deliberate bug, which must exceed
the tolerance).

The verdict follows mechanically (:meth:`Evidence.verdict`): ``failed`` when anything that should hold
does not (a lemma, a cross-check, an unconfirmed erratum, a printed step that fails without an erratum);
else ``erratum`` when the paper needed a correction; else ``proved`` when the symbolic steps establish
the whole claim; else ``cross-checked``.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

Verdict = Literal["proved", "cross-checked", "erratum", "failed"]
VERDICTS: tuple[Verdict, ...] = ("proved", "cross-checked", "erratum", "failed")


def sig(value: float, digits: int = 2) -> float:
    """``value`` rounded to ``digits`` significant digits (reported errors are not bit-for-bit stable)."""
    if value == 0 or not math.isfinite(value):
        return value
    return float(f"{value:.{digits - 1}e}")


CONTROL_OK = "failed as expected"
CONTROL_BAD = "PASSED: the check cannot fail (vacuous)"

# the computations recorded since the last step (see the module docstring); one claim runs at a time
_LOG: list[dict[str, str]] = []


def digest(*parts: object) -> str:
    """A short SHA-256 of what a computation checked (sympy objects by ``srepr``, the rest by ``repr``)."""
    import sympy

    text = "\x1f".join(sympy.srepr(p) if isinstance(p, sympy.Basic) else repr(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def make_record(kind: str, inputs: tuple[object, ...], outcome: str, control: bool | None = None) -> dict[str, str]:
    """One computation: its kind, a digest of ``inputs``, its outcome and, where it has one, whether its
    negative control failed (``True``: failed as expected)."""
    item = {"kind": kind, "digest": digest(*inputs), "outcome": outcome}
    if control is not None:
        item["negative control"] = CONTROL_OK if control else CONTROL_BAD
    return item


def record(kind: str, inputs: tuple[object, ...], outcome: str, control: bool | None = None) -> None:
    """Log one computation (:func:`make_record`); the next step recorded takes it as its evidence."""
    _LOG.append(make_record(kind, inputs, outcome, control))


@contextmanager
def collect() -> Iterator[list[dict[str, str]]]:
    """Capture the computations recorded inside the block (for a step that is computed in a loop with others);
    they are then not attached to the next step automatically: pass them as ``evidence=``."""
    start = len(_LOG)
    bag: list[dict[str, str]] = []
    try:
        yield bag
    finally:
        bag.extend(_LOG[start:])
        del _LOG[start:]


def take_records() -> list[dict[str, str]]:
    out = list(_LOG)
    _LOG.clear()
    return out


@dataclass
class Step:
    """One checked statement. ``printed``: the paper's own step, checked as printed. ``evidence``: the
    recorded computations that decided it (see :func:`record`)."""

    ref: str
    statement: str
    method: str
    holds: bool
    printed: bool = True
    detail: str = ""
    erratum: str | None = None
    evidence: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"ref": self.ref, "statement": self.statement, "method": self.method,
                             "holds": self.holds, "printed": self.printed, "evidence": self.evidence}
        if self.detail:
            d["detail"] = self.detail
        if self.erratum:
            d["erratum"] = self.erratum
        return d


@dataclass
class Control:
    """A negative control of a cross-check: the same comparison with a deliberate bug; it must fail."""

    what: str
    max_abs_error: float


@dataclass
class CrossCheck:
    """Both sides of an identity in float64 on random instances; passes when the error is small."""

    name: str
    compares: str
    instances: str
    max_abs_error: float
    tolerance: float
    scale: float = 1.0
    control: Control | None = None

    def within(self, error: float) -> bool:
        """The comparison itself: ``error`` finite and at most the tolerance (the check and its control)."""
        return math.isfinite(error) and error <= self.tolerance

    @property
    def passed(self) -> bool:
        return self.within(self.max_abs_error)

    @property
    def control_failed(self) -> bool | None:
        """Whether the negative control failed the same comparison, as it must (None: no control)."""
        if self.control is None:
            return None
        return not self.within(self.control.max_abs_error)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "compares": self.compares, "instances": self.instances,
                             "max_abs_error": sig(self.max_abs_error), "tolerance": self.tolerance,
                             "magnitude": sig(self.scale), "passed": self.passed}
        if self.control is not None:
            d["negative_control"] = {"what": self.control.what,
                                     "outcome": CONTROL_OK if self.control_failed else CONTROL_BAD}
        return d


@dataclass
class Erratum:
    """A printed step that is false, with a re-checked counterexample and the corrected statement."""

    id: str
    where: str
    printed: str
    counterexample: str
    corrected: str
    confirmed: bool

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "where": self.where, "printed": self.printed,
                "counterexample": self.counterexample, "corrected": self.corrected,
                "confirmed": self.confirmed}


@dataclass
class Evidence:
    """What a derivation established; its :meth:`verdict` is computed, never asserted."""

    scope: str = ""
    complete: bool = False
    steps: list[Step] = field(default_factory=list)
    checks: list[CrossCheck] = field(default_factory=list)
    errata: list[Erratum] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    # --- recording -------------------------------------------------------------------------------
    def step(self, ref: str, statement: str, method: str, holds: bool, *, printed: bool = True,
             detail: str = "", erratum: str | None = None, evidence: list[dict[str, str]] | None = None) -> bool:
        """Record a step; its evidence is ``evidence`` when given, else every computation recorded since the
        previous step."""
        found = take_records() if evidence is None else list(evidence)
        self.steps.append(Step(ref, statement, method, bool(holds), printed, detail, erratum, found))
        return bool(holds)

    def lemma(self, ref: str, statement: str, method: str, holds: bool, detail: str = "",
              evidence: list[dict[str, str]] | None = None) -> bool:
        """A statement of ours (a lemma, a rewriting, a corrected form): it must hold."""
        return self.step(ref, statement, method, holds, printed=False, detail=detail, evidence=evidence)

    def check(self, name: str, compares: str, instances: str, max_abs_error: float, tolerance: float,
              scale: float = 1.0, control: Control | None = None) -> bool:
        c = CrossCheck(name, compares, instances, float(max_abs_error), tolerance, float(scale), control)
        self.checks.append(c)
        return c.passed

    def add_erratum(self, id: str, where: str, printed: str, counterexample: str, corrected: str,
                    confirmed: bool) -> None:
        self.errata.append(Erratum(id, where, printed, counterexample, corrected, bool(confirmed)))

    def note(self, text: str) -> None:
        self.notes.append(text)

    # --- verdict ---------------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """Everything that makes the claim fail; empty when it does not."""
        out: list[str] = []
        if self.error:
            out.append(self.error)
        errata = {e.id: e for e in self.errata}
        for s in self.steps:
            if not s.evidence:
                out.append(f"{s.ref}: no computation is recorded for this step (a bare boolean is not evidence)")
            if any(e.get("negative control") == CONTROL_BAD for e in s.evidence):
                out.append(f"{s.ref}: a negative control passed, so the check behind this step cannot fail")
            if s.holds:
                continue
            if not s.printed:
                out.append(f"{s.ref}: does not hold: {s.statement}")
            elif s.erratum is None or s.erratum not in errata:
                out.append(f"{s.ref}: the printed statement fails and no erratum records it")
        for e in self.errata:
            if not e.confirmed:
                out.append(f"erratum {e.id} ({e.where}): counterexample or corrected statement not confirmed")
        for c in self.checks:
            if not c.passed:
                out.append(f"cross-check '{c.name}': max error {c.max_abs_error:.3g} > {c.tolerance:g}")
            if c.control_failed is False:
                assert c.control is not None
                out.append(f"cross-check '{c.name}': its negative control ({c.control.what}) passed, error "
                           f"{c.control.max_abs_error:.3g} <= {c.tolerance:g}: the comparison cannot fail")
        if not self.steps and not self.checks:
            out.append("no evidence recorded")
        return out

    def verdict(self) -> Verdict:
        if self.problems():
            return "failed"
        if self.errata:
            return "erratum"
        return "proved" if self.complete else "cross-checked"

    def max_error(self) -> float | None:
        if not self.checks:
            return None
        return max(c.max_abs_error for c in self.checks)

    def methods(self) -> list[str]:
        """The kinds of evidence used, in a fixed order (for the README table)."""
        kinds = []
        text = " ".join(s.method for s in self.steps)
        for keys, label in ((("sympy",), "sympy"), (("z3",), "z3"), (("validate",), "pgcheck validate"),
                            (("exact evaluation", "exact values", "pgcheck.decide"), "exact arithmetic")):
            if any(k in text for k in keys):
                kinds.append(label)
        if self.checks:
            kinds.append("torch autograd (float64)")
        return kinds


@dataclass(frozen=True)
class Claim:
    """A claim of the paper and the derivation that establishes it."""

    id: str
    title: str
    reference: str
    statement: str
    derive: Callable[[Evidence], None]

    def run(self) -> tuple[Evidence, float]:
        ev = Evidence()
        take_records()  # nothing recorded before this claim belongs to it
        t0 = time.perf_counter()
        try:
            self.derive(ev)
        except Exception as exc:  # a derivation that crashes is a failed claim, reported as such
            ev.error = f"derivation raised {type(exc).__name__}: {exc}"
        take_records()
        return ev, time.perf_counter() - t0
