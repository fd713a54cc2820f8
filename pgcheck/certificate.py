"""Certificates of Assumption 5.1 and :class:`CheckedScale`, the only scale agents accept.

A :class:`Certificate` is plain data (JSON round-trips exactly). A :class:`CheckedScale` pairs a
certificate whose overall verdict is not ``INVALID`` with the numeric forms of the function it
certifies. It cannot be built outside :mod:`pgcheck.check`: the constructor demands a private token,
so an agent holding a ``CheckedScale`` knows it went through the validator.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from pgcheck.errors import UserError

if TYPE_CHECKING:
    import torch

    from pgcheck.backends import ArrayFn, TensorFn

Verdict = Literal["proved", "refuted", "undecided", "tested"]
Overall = Literal["VALID", "VALID (tested)", "INVALID"]

PROPERTY_STATEMENTS: dict[str, str] = {
    "domain": "f(x, y) is a finite real number for every real x, y (f : R^2 -> R)",
    "1a": "f(x, 0) = 0 for every real x",
    "1b": "f(x, .) is non-decreasing for every real x",
    "2": "|f(., y)| is non-decreasing on a neighbourhood of x = 0 for every real y",
}


@dataclass
class PropertyResult:
    """The verdict on one property of Assumption 5.1 and how it was reached."""

    prop: str
    statement: str
    verdict: Verdict
    method: str
    seconds: float
    counterexample: dict[str, str] | None = None
    neighbourhood: str | None = None


@dataclass
class Certificate:
    """Everything the validator established about one scale function."""

    input: dict[str, str]
    params: dict[str, str]
    canonical: str
    canonical_hash: str
    symbolic: str
    taylor: dict[str, str]
    properties: list[PropertyResult]
    pgcheck_version: str
    search: dict[str, str] = field(default_factory=dict)

    @property
    def overall(self) -> Overall:
        verdicts = {p.verdict for p in self.properties}
        if "refuted" in verdicts:
            return "INVALID"
        if verdicts == {"proved"}:
            return "VALID"
        return "VALID (tested)"

    def property(self, prop: str) -> PropertyResult:
        for p in self.properties:
            if p.prop == prop:
                return p
        raise KeyError(prop)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["overall"] = self.overall
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Certificate:
        props = [PropertyResult(**p) for p in d["properties"]]
        fields = {k: d[k] for k in ("input", "params", "canonical", "canonical_hash", "symbolic", "taylor",
                                    "pgcheck_version")}
        return cls(properties=props, search=d.get("search", {}), **fields)


def canonical_hash(canonical: str, version: str) -> str:
    return hashlib.sha256(f"{version}\n{canonical}".encode()).hexdigest()


class InvalidScaleError(UserError, ValueError):
    """Raised when an INVALID scale function is asked to become a :class:`CheckedScale`; its message carries
    the refuted property and its re-checked counterexample."""

    def __init__(self, certificate: Certificate) -> None:
        self.certificate = certificate
        refuted = [p for p in certificate.properties if p.verdict == "refuted"]
        first = refuted[0]
        cx = (first.counterexample or {}).get("summary", "")
        super().__init__(f"scale function {certificate.input.get('text', '')!r} is INVALID: property "
                         f"{first.prop} ({first.statement}) is refuted: {cx}; it cannot be used for training")


class UnprovedScaleError(UserError, ValueError):
    """Raised when a proof is required (``require_proof=True``, ``--require-proof``) and some property of
    the scale function is only tested or undecided."""

    def __init__(self, certificate: Certificate) -> None:
        self.certificate = certificate
        open_props = [f"{p.prop} {p.verdict}" for p in certificate.properties if p.verdict != "proved"]
        super().__init__(f"scale function {certificate.input.get('text', '')!r} is {certificate.overall}, not "
                         f"proved ({', '.join(open_props)}); a proof was required")


_TOKEN = object()


class CheckedScale:
    """A scale function f(ΔO, ΔR) that passed :func:`pgcheck.check.validate` (not INVALID).

    ``numpy(x, y)`` and ``torch(x, y)`` evaluate f elementwise; the torch form is evaluated without
    gradient tracking because every update form uses f as a per-sample coefficient (eqs. 31-34).
    Both return NaN wherever ΔO or ΔR is NaN, for expressions and trusted callables alike: a NaN must
    reach the trainer's non-finite guard, never become a silent 0 through a branch condition.
    """

    def __init__(self, certificate: Certificate, numpy_fn: ArrayFn, torch_fn: TensorFn | None,
                 *, _token: object = None) -> None:
        if _token is not _TOKEN:
            raise TypeError("a CheckedScale comes only from pgcheck.check.checked_scale(...)")
        if certificate.overall == "INVALID":
            raise InvalidScaleError(certificate)
        self.certificate = certificate
        self._numpy = numpy_fn
        self._torch = torch_fn

    @property
    def name(self) -> str:
        return self.certificate.input.get("name") or self.certificate.input.get("text", "?")

    @property
    def proved(self) -> bool:
        return self.certificate.overall == "VALID"

    def numpy(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = np.asarray(self._numpy(x, y), dtype=np.float64)
        missing = np.isnan(np.asarray(x, dtype=np.float64)) | np.isnan(np.asarray(y, dtype=np.float64))
        return np.where(missing, np.nan, out) if missing.any() else out

    def torch(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        import torch as _torch

        with _torch.no_grad():
            if self._torch is not None:
                out = self._torch(x.detach(), y.detach())
            else:
                out = _torch.as_tensor(self.numpy(x.detach().cpu().double().numpy(),
                                                  y.detach().cpu().double().numpy()), dtype=x.dtype, device=x.device)
            missing = _torch.isnan(x) | _torch.isnan(y)
            return _torch.where(missing, _torch.full_like(out, float("nan")), out)

    def __repr__(self) -> str:
        return f"CheckedScale({self.name!r}, {self.certificate.overall})"
