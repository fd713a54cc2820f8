"""``pgcheck compare``: learning curves with confidence bands and a final-return table across seeds."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = ("compare runs: learning curves as PNG and final returns: IQM with stratified-bootstrap CIs from 5 seeds, "
        "probability of improvement")


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN_DIR",
                   help="directories of seed runs (one group each) or single runs (grouped by parent)")
    p.add_argument("--out", type=Path, help="output prefix: writes PREFIX.png, .md, .json "
                   "(default: compare next to the first RUN_DIR)")


def run(args: argparse.Namespace) -> int:
    from agents.compare import compare_runs

    first: Path = args.runs[0]
    out = args.out if args.out is not None else (first.parent / "compare" if (first / "config.json").is_file()
                                                 else first / "compare")
    report = compare_runs(list(args.runs), out)
    print(report["text"], end="")
    for png in report["plots"]:
        print(f"plot: {png}")
    print(f"table: {report['table']}\ndata: {report['json']}")
    return 0
