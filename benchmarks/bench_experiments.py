"""Speed of the paper's experiments (issue 4): one command, medians of whole cold processes.

    .venv/bin/python benchmarks/bench_experiments.py [--repeats 3] [--fourroom-repeats 1] [--only bandit]

Runs ``pgcheck experiment bandit --seeds 5`` (12 rules x 10k iterations x 5 seeds, default sizes) and
``pgcheck experiment fourroom --seeds 5`` (2 algorithms x 5 αr x 5 runs x 100k steps) into a temporary
directory and prints the median wall time of each, with the median of each phase as the run itself
records it in results.json's ``seconds`` (both experiments go through agents.experiment.run: ``train``,
``analyse``, ``plot``, ``total``, and for FourRoom ``train_pg`` / ``train_ql``, one per learner).
Targets: bandit under 60 s, FourRoom under 5 minutes. A bare ``python -c "import torch, numpy"`` is
timed alongside as the floor every run pays.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"bandit": 60.0, "fourroom": 300.0}


def timed_run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3, help="bandit runs (default 3)")
    ap.add_argument("--fourroom-repeats", type=int, default=1, help="FourRoom runs (default 1: ~3 min each)")
    ap.add_argument("--only", choices=["bandit", "fourroom"], default=None)
    args = ap.parse_args()
    py = sys.executable
    repeats = {"bandit": args.repeats, "fourroom": args.fourroom_repeats}
    names = [args.only] if args.only else ["bandit", "fourroom"]
    floor = statistics.median(timed_run([py, "-c", "import torch, numpy"]) for _ in range(3))
    print(f"floor: python -c 'import torch, numpy'  {floor:6.2f} s (median of 3)")
    with tempfile.TemporaryDirectory(prefix="pgcheck-bench-") as tmp:
        for name in names:
            walls: list[float] = []
            phases: dict[str, list[float]] = {}
            for i in range(repeats[name]):
                out = os.path.join(tmp, f"{name}{i}")
                walls.append(timed_run([py, "-m", "pgcheck_cli.main", "experiment", name, "--seeds", "5",
                                        "--out", out, "--no-progress"]))
                for k, v in json.loads(Path(out, "results.json").read_text())["seconds"].items():
                    phases.setdefault(k, []).append(float(v))
            med = statistics.median(walls)
            print(f"\n{name}: whole process, median of {len(walls)}: {med:7.1f} s "
                  f"(runs: {', '.join(f'{w:.1f}' for w in walls)})")
            for k, v in phases.items():
                print(f"  {k:<12} {statistics.median(v):7.1f} s")
            print(f"  target < {TARGETS[name]:.0f} s: {'met' if med < TARGETS[name] else 'NOT met'}")


if __name__ == "__main__":
    main()
