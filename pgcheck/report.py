"""Human-readable rendering of a :class:`~pgcheck.certificate.Certificate`."""

from __future__ import annotations

from pathlib import Path

from pgcheck.certificate import Certificate

_MEANING = {
    "VALID": "every property of Assumption 5.1 is proved",
    "VALID (tested)": "nothing is refuted, but some property is only tested (no proof)",
    "INVALID": "a property of Assumption 5.1 is refuted by a re-checked counterexample",
}


def render(cert: Certificate, plot: Path | None = None) -> str:
    inp = cert.input
    lines = []
    label = f"{inp['name']} ({inp.get('reference', '')})" if inp.get("kind") == "named" else inp.get("kind", "")
    lines.append(f"f(x, y) = {inp.get('text', '')}    [{label}]")
    if cert.params:
        lines.append("parameters: " + ", ".join(f"{k} = {v}" for k, v in sorted(cert.params.items())))
    lines.append(f"symbolic:  {cert.symbolic}")
    lines.append("")
    for p in cert.properties:
        lines.append(f"  {p.prop:<7}{p.verdict.upper():<10}{p.statement}")
        lines.append(f"  {'':<17}how: {p.method} ({p.seconds * 1000:.0f} ms)")
        if p.neighbourhood:
            lines.append(f"  {'':<17}shown on x in {p.neighbourhood}")
        if p.counterexample:
            lines.append(f"  {'':<17}counterexample: {p.counterexample['summary']}")
    if cert.taylor:
        lines.append("")
        lines.append(f"Taylor expansion at (0, 0), second order:  f    ~ {cert.taylor['f']}")
        lines.append(f"                                           f_ML ~ {cert.taylor['f_ML']}")
    lines.append("")
    lines.append(f"{cert.overall}: {_MEANING[cert.overall]}")
    if cert.canonical_hash:
        lines.append(f"certificate hash {cert.canonical_hash[:16]} (pgcheck {cert.pgcheck_version}; --json for all)")
    if plot is not None:
        lines.append(f"plot written to {plot}")
    return "\n".join(lines)
