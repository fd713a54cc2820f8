"""Differential campaign (issue 10, item 5): pgcheck's verdicts against the independent mpmath oracle.

    .venv/bin/python benchmarks/bench_differential.py --examples 2000 --seed 0

hypothesis draws ``--examples`` distinct scale-function texts from the grammar (``tests/difftest.py``:
cancelling constants, tiny and huge literals, guards near 0, and/or guards, monotone-in-y structures),
pgcheck validates each (small budget, in a worker process so that a hang is reported, not waited for),
and every proved or refuted verdict is re-checked by ``tests/oracle.py`` (exact track plus certified
mpmath balls, 200 to 3200 digits) at the reported points and on the dense grid. Prints how many
expressions, how many verdicts were checked, and every disagreement with its text; exits 1 on any
disagreement or pgcheck failure (target: 0).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from difftest import CI, FULL, generate, run  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--grid", choices=["full", "ci"], default="full", help="oracle grid density (default full)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per validation before it counts as a hang")
    ap.add_argument("--quiet", action="store_true", help="no progress line every 100 expressions")
    args = ap.parse_args()

    t0 = time.perf_counter()
    texts = generate(args.examples, args.seed)
    print(f"generated {len(texts)} distinct texts (seed {args.seed}) in {time.perf_counter() - t0:.1f} s")

    def progress(i: int, text: str) -> None:
        if not args.quiet and i and i % 100 == 0:
            print(f"  ... {i}/{len(texts)} ({time.perf_counter() - t0:.0f} s)", flush=True)

    rep = run(texts, density=FULL if args.grid == "full" else CI, timeout_s=args.timeout, progress=progress)
    wall = time.perf_counter() - t0
    print(f"\nexpressions validated: {rep.expressions} (and {rep.user_errors} refused as bad input by pgcheck)")
    print(f"verdicts checked by the oracle (proved or refuted): {rep.checked}")
    for prop in ("domain", "1a", "1b", "2"):
        counts = ", ".join(f"{v} {rep.verdicts.get(f'{prop} {v}', 0)}" for v in ("proved", "refuted", "undecided"))
        print(f"  {prop:<6} {counts}")
    print(f"time: {wall:.0f} s wall, pgcheck {rep.seconds_pgcheck:.0f} s, oracle {rep.seconds_oracle:.0f} s "
          "(overlapped: the oracle checks one certificate while pgcheck validates the next)")
    print(f"\npgcheck failures (an exception other than bad input, or no answer within {args.timeout:g} s): "
          f"{len(rep.failures)}")
    for f in rep.failures:
        print(f"  {f}")
    print(f"\ndisagreements: {len(rep.disagreements)}")
    for d in rep.disagreements:
        print(f"  {d}")
    return 1 if rep.disagreements or rep.failures else 0


if __name__ == "__main__":
    sys.exit(main())
