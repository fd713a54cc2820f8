"""``pgcheck validate``: check a scale function against Assumption 5.1 and print its certificate."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from pgcheck.errors import UserError
from pgcheck.files import atomic_write

HELP = "check a scale function f(x=ΔO, y=ΔR) against Assumption 5.1: proved, refuted or undecided"

EPILOG = """\
FUNCTION is one of
  a named function:   q sq ml sil huber mla mla_param ppo mla_ppo   (e.g. mla_param --param ao=0.1)
  an expression:      'y * max(1 + x + y / 2, 0)'   (x = ΔO, y = ΔR; Python syntax, never eval-ed)
  a trusted callable: mypkg.scales:my_f   (vectorised over numpy arrays; can be tested, not proved)
an expression may start with a minus sign: pgcheck validate -y   (or: pgcheck validate -- '-exp(x) * y')
exit status: 0 VALID or VALID (tested), 1 INVALID (with --require-proof: anything not proved), 2 bad input"""


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("function", nargs="?", help="name, expression or module:function")
    p.add_argument("--file", type=Path, help="read the expression from a UTF-8 text file instead")
    p.add_argument("--param", action="append", default=[], metavar="K=V",
                   help="a parameter value, read exactly (0.1 is 1/10); repeatable")
    p.add_argument("--json", action="store_true", help="print the certificate as JSON")
    p.add_argument("--out", type=Path, help="also write the certificate JSON to this file")
    p.add_argument("--plot", type=Path, metavar="FILE", help="write a PNG: heat map and slices in x and y")
    p.add_argument("--timeout-ms", type=int, default=2000, help="z3 time limit per query (default 2000)")
    p.add_argument("--samples", type=int, default=100_000, help="random search points (default 100000)")
    p.add_argument("--time-limit", type=float, default=60.0, metavar="SECONDS",
                   help="time budget for the whole check (default 60); what is not settled by then is undecided")
    p.add_argument("--require-proof", action="store_true",
                   help="exit 1 unless every property is proved (for CI: VALID (tested) is not enough)")
    p.add_argument("--no-cache", action="store_true", help="ignore and do not write the certificate cache")


def parse_params(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UserError(f"--param {item!r}: write NAME=VALUE, e.g. --param ao=0.1")
        if key.strip() in out:
            raise UserError(f"--param {key.strip()} given twice")
        out[key.strip()] = value.strip()
    return out


def read_source(args: argparse.Namespace) -> str:
    if args.file is not None:
        if args.function is not None:
            raise UserError("give either FUNCTION or --file, not both")
        from pgcheck.expr import MAX_CHARS

        limit = 4 * MAX_CHARS  # UTF-8 takes at most 4 bytes a character; read no more than that
        try:
            with open(args.file, "rb") as fh:
                data = fh.read(limit + 1)
        except OSError as exc:
            raise UserError(f"cannot read {args.file}: {exc.strerror or exc}") from None
        if len(data) > limit:
            raise UserError(f"{args.file} is too long for an expression (limit {MAX_CHARS} characters)")
        try:
            return str(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise UserError(f"{args.file} is not valid UTF-8 text") from None
    if args.function is None:
        raise UserError("give a FUNCTION (a name, an expression or module:function) or --file")
    text: str = args.function
    return text


MAX_SAMPLES = 10_000_000
MAX_TIME_LIMIT = 24 * 3600.0


def _check_output_path(option: str, path: Path) -> None:
    """Refuse an output path that cannot be written before any work is done."""
    if not path.name or path.is_dir():
        raise UserError(f"{option} {path}: is a directory; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"{option} {path}: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise UserError(f"{option} {path}: the directory {parent} is not writable")



def run(args: argparse.Namespace) -> int:
    from pgcheck.check import Options, certify, resolve
    from pgcheck.search import Budget

    if args.timeout_ms <= 0 or not 100 <= args.samples <= MAX_SAMPLES:
        raise UserError(f"--timeout-ms must be positive and --samples between 100 and {MAX_SAMPLES}")
    if not 0 < args.time_limit <= MAX_TIME_LIMIT:  # also refuses nan
        raise UserError(f"--time-limit must be a number of seconds above 0 and at most {MAX_TIME_LIMIT:g}")
    for option, path in (("--out", args.out), ("--plot", args.plot)):
        if path is not None:
            _check_output_path(option, path)
    text = read_source(args)
    if ":" in text and os.getcwd() not in sys.path:  # a module:function in the current directory
        sys.path.insert(0, os.getcwd())
    source = resolve(text, parse_params(args.param), seconds=args.time_limit)
    options = Options(timeout_ms=args.timeout_ms, budget=Budget(samples=args.samples),
                      use_cache=not args.no_cache, time_limit_s=args.time_limit)
    cert = certify(source, options)
    if args.out is not None:
        atomic_write(args.out, cert.to_json())
    if args.plot is not None:
        from pgcheck.plot import plot_scale

        plot_scale(source, args.plot)
    if args.json:
        print(json.dumps(cert.to_dict(), indent=2, sort_keys=True, ensure_ascii=False))
    else:
        from pgcheck.report import render

        print(render(cert, plot=args.plot))
    if cert.overall == "INVALID":
        return 1
    if args.require_proof and cert.overall != "VALID":
        unproved = ", ".join(f"{p.prop} {p.verdict}" for p in cert.properties if p.verdict != "proved")
        print(f"pgcheck: a proof was required (--require-proof) and {unproved}", file=sys.stderr)
        return 1
    return 0
