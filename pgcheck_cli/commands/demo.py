"""``pgcheck demo``: the main jobs in one go, each step short and printed as it runs.

1. validate the paper's named scale functions (all proved) and f0 of Appendix A.1 (refuted);
2. ``pgcheck prove``: every claim of the paper, its verdict, and whether ``proofs/`` is up to date;
3. ``pgcheck experiment bandit``: the 12 update rules of sec. 6.1 at the paper's sizes;
4. a short MLA-PPO training on Hopper-v5 with Table 2's Hopper setting, and where its outputs are.

Outputs of steps 3–4 go under ``--out`` (default ``runs/demo``); nothing is written into ``proofs/``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

HELP = "run the main jobs: validate, prove, the bandit experiment and a short MLA-PPO training"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true",
                   help="skip the proof suite, shrink the bandit's analysis and the training (a smoke test)")
    p.add_argument("--out", type=Path, default=Path("runs") / "demo",
                   help="where the experiment and the training write (default runs/demo)")


def validate_step() -> None:
    from pgcheck.check import Options, validate
    from pgcheck.report import render

    print("== pgcheck validate: the paper's named scale functions ==", flush=True)
    for name in ("q", "sq", "ml", "sil", "huber", "mla", "mla_param", "ppo", "mla_ppo"):
        cert = validate(name, options=Options(use_cache=False))
        print(f"  {name:<10} {cert.overall:<15} "
              + "  ".join(f"{p.prop}:{p.verdict}" for p in cert.properties))
    print("\n== pgcheck validate 'y * max(1 + x + y / 2, 0)'  (f0 of Appendix A.1, before the fix) ==")
    print(render(validate("y * max(1 + x + y / 2, 0)", options=Options(use_cache=False))), flush=True)


def bandit_step(out: Path, quick: bool) -> None:
    from pgcheck_cli.commands import experiment

    argv = ["bandit", "--seeds", "5", "--out", str(out), "--no-progress", *(["--quick"] if quick else [])]
    print(f"\n== pgcheck experiment {' '.join(argv)} ==", flush=True)
    p = argparse.ArgumentParser(prog="pgcheck experiment")
    experiment.configure(p)
    experiment.run(p.parse_args(argv))
    summary = out / "summary.md"
    print(f"  summary: {summary}")


def run(args: argparse.Namespace) -> int:
    from derivations.runner import demo_step as prove_step
    from pgcheck_cli.commands.train import demo_step as train_step

    t0 = time.perf_counter()
    validate_step()
    if not args.quick:
        print()
        prove_step()
    bandit_step(args.out / "bandit", args.quick)
    print()
    run_dir = args.out / f"hopper-mla-ppo-{time.strftime('%Y%m%d-%H%M%S')}"
    train_step(total_steps=2048 if args.quick else 6144, out=run_dir)
    print(f"\npgcheck demo: done in {time.perf_counter() - t0:.0f} s")
    return 0
