"""``pgcheck evaluate``: run a trained policy deterministically with its saved normalisation."""

from __future__ import annotations

import argparse
from pathlib import Path

from pgcheck.errors import UserError

HELP = "evaluate a trained run: deterministic actions, saved normalisation statistics, N episodes"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", type=Path, metavar="RUN_DIR", help="a run (RUN/seed_K) or a directory of runs")
    p.add_argument("--episodes", type=int, default=10, help="episodes per run (default 10)")
    p.add_argument("--seed", type=int, help="first episode seed (default 1000000 + the run's seed)")


def run(args: argparse.Namespace) -> int:
    if args.episodes < 1:
        raise UserError("--episodes must be at least 1")
    root: Path = args.run
    if not root.exists():
        raise UserError(f"{root}: no such run directory")
    from agents.evaluate import evaluate_run
    from agents.rundir import is_run

    runs = [root] if is_run(root) else sorted(p for p in root.iterdir() if is_run(p)) if root.is_dir() else []
    if not runs:
        raise UserError(f"{root} is not a run directory (no config.json) and holds none")
    for r in runs:
        res = evaluate_run(r, args.episodes, args.seed)
        print(f"{r}: {res['env_id']} at step {res['checkpoint_step']}: return {res['mean_return']:.1f} "
              f"± {res['std_return']:.1f} over {res['episodes']} deterministic episodes "
              f"(lengths {min(res['lengths'])}-{max(res['lengths'])}) -> {r / 'evaluation.json'}")
    return 0
