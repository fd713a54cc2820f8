"""Speed of the validator (issue 2): one command, medians, ratios against floors measured in the same run.

    .venv/bin/python benchmarks/bench_validate.py [--repeats 7]

1. ``pgcheck validate mla --no-cache`` as a whole cold process, against two floors measured alongside it
   on the same machine: a bare ``python -c pass`` and ``python -c "import sympy, z3"`` (the libraries the
   validator cannot do without). Target: under 1.5 s.
2. Solver time of every named scale function (sum of the per-property times in its certificate, no
   cache). Target: under 0.5 s each.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    py = sys.executable
    commands = {
        "python -c pass": [py, "-c", "pass"],
        "import sympy, z3": [py, "-c", "import sympy, z3"],
        "pgcheck validate mla": [py, "-m", "pgcheck_cli.main", "validate", "mla", "--no-cache"],
    }
    times: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(args.repeats):  # interleaved, so drift on a shared machine hits all three alike
        for name, cmd in commands.items():
            times[name].append(wall(cmd))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"cold process, median of {args.repeats} interleaved runs:")
    for k, v in med.items():
        print(f"  {k:<24} {v:6.3f} s")
    full = med["pgcheck validate mla"]
    print(f"  validate / python startup   = {full / med['python -c pass']:.1f}x")
    print(f"  validate / import floor     = {full / med['import sympy, z3']:.2f}x "
          f"(pgcheck's own work: {full - med['import sympy, z3']:.3f} s)")
    print(f"  target < 1.5 s: {'met' if full < 1.5 else 'NOT met'}")

    sys.path.insert(0, str(ROOT))
    from pgcheck import scales
    from pgcheck.check import Options, validate

    print(f"\nsolver time per named function (sum over properties, median of {args.repeats}, no cache):")
    worst = 0.0
    for name in scales.REGISTRY:
        runs = []
        for _ in range(args.repeats):
            cert = validate(name, options=Options(use_cache=False))
            runs.append(sum(p.seconds for p in cert.properties))
        m = statistics.median(runs)
        worst = max(worst, m)
        print(f"  {name:<10} {m * 1000:7.1f} ms  {cert.overall}")
    print(f"  slowest {worst * 1000:.1f} ms; target < 500 ms each: {'met' if worst < 0.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
