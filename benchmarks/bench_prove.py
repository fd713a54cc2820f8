"""Time the proof suite (issue 3): the full ``pgcheck prove --check`` as CI runs it, median of a few runs.

    .venv/bin/python benchmarks/bench_prove.py [--repeats 3]

Measures, each as the median over ``--repeats`` runs:

* the whole cold process ``pgcheck prove --check`` (what ``make test`` runs), against the floor
  ``python -c "import torch, sympy, z3"`` measured in the same session;
* in-process, after imports, the wall time of each claim's derivation (from its certificate).

Target: the full suite under 2 minutes on the 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def wall(cmd: list[str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    return time.perf_counter() - t0, r.returncode


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    py = sys.executable

    floor = [wall([py, "-c", "import torch, sympy, z3"])[0] for _ in range(args.repeats)]
    runs = [wall([py, "-m", "pgcheck_cli.main", "prove", "--check"]) for _ in range(args.repeats)]
    if any(code != 0 for _, code in runs):
        print("pgcheck prove --check failed; run it to see why", file=sys.stderr)
        sys.exit(1)

    from derivations import runner as prove

    per_claim: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        for cert in prove.run(prove.claim_ids()):
            per_claim.setdefault(cert["id"], []).append(float(cert["timing"]["seconds"]))

    full = statistics.median(t for t, _ in runs)
    result = {
        "repeats": args.repeats,
        "floor_import_s": round(statistics.median(floor), 3),
        "prove_check_cold_process_s": round(full, 2),
        "target_s": 120,
        "per_claim_median_s": {k: round(statistics.median(v), 2) for k, v in per_claim.items()},
        "derivations_total_median_s": round(sum(statistics.median(v) for v in per_claim.values()), 2),
    }
    print(json.dumps(result, indent=2))
    print(f"\nfull suite (cold process, --check): median {full:.1f} s over {args.repeats} runs "
          f"({'met' if full < 120 else 'MISSED'}: target < 120 s)")


if __name__ == "__main__":
    main()
