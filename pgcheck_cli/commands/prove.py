"""``pgcheck prove``: run the proof suite (every claim of the paper) and write or check ``proofs/``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

HELP = "prove the paper's claims (sympy/z3 + autograd) and write or check the certificates in proofs/"

EPILOG = """\
Each claim becomes proofs/<id>.json and a row of proofs/README.md (verdict: proved, cross-checked,
erratum or failed). With --check nothing is written: the run fails when a claim fails or when the
committed proofs/ differ from what the code now produces (timings and float noise aside) — including
the evidence each step records (digests of what was checked, outcomes, negative controls).
exit status: 0 all claims hold (errata recorded), 1 a claim failed or --check found a difference, 2 bad input"""


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--only", action="append", default=[], metavar="ID",
                   help="run only this claim (repeatable or comma-separated), e.g. --only thm4.3")
    p.add_argument("--json", action="store_true", help="print the certificates as JSON")
    p.add_argument("--check", action="store_true",
                   help="write nothing; fail if a claim fails or proofs/ differs from what the code produces")
    p.add_argument("--dir", type=Path, default=None,
                   help="the certificate directory (default: the proofs/ committed with this pgcheck)")


def run(args: argparse.Namespace) -> int:
    from derivations import runner as prove

    ids = prove.select(args.only)
    directory: Path = prove.shipped_directory() if args.dir is None else args.dir
    t0 = time.perf_counter()

    width = max(len(i) for i in ids)

    def progress(cert: dict[str, Any]) -> None:
        if not args.json:
            print(f"  {cert['id']:<{width}} {cert['verdict']:<14} {cert['timing']['seconds']:6.2f} s  {cert['title']}",
                  flush=True)

    if not args.json:
        print(f"== pgcheck prove: {len(ids)} claim{'' if len(ids) == 1 else 's'} ==", flush=True)
    certs = prove.run(ids, progress)
    wall = time.perf_counter() - t0
    code = 0
    if args.check:
        result = prove.check(directory, certs, full=not args.only)
        # on stderr even with --json: the JSON on stdout stays parseable and the reasons are not lost
        for line in result.failed:
            print(f"FAILED {line}", file=sys.stderr)
        for line in result.mismatches[:40]:
            print(f"DIFFERS {line}", file=sys.stderr)
        if len(result.mismatches) > 40:
            print(f"DIFFERS ... and {len(result.mismatches) - 40} more", file=sys.stderr)
        code = 0 if result.ok else 1
    else:
        written = prove.write(directory, certs)
        code = 1 if any(c["verdict"] == "failed" for c in certs) else 0
    if args.json:
        print(json.dumps(certs, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        print(prove.summary_line(certs) + f"; wall time {wall:.1f} s")
        if args.check:
            print(f"check: OK, {_shown(directory)}/ is up to date" if code == 0 else "check: FAILED")
        else:
            changed = ", ".join(written) if written else "none (content unchanged; timings kept)"
            print(f"certificates written to {_shown(directory)}/: {changed}; {_shown(directory)}/README.md rendered")
    return code


def _shown(directory: Path) -> str:
    """The directory relative to the current one when it is below it (``proofs``), else as it is."""
    try:
        return str(directory.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(directory)
