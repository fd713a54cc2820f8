"""``pgcheck evaluate``: run a trained policy deterministically with its saved normalisation."""

from __future__ import annotations

import argparse
from pathlib import Path

from pgcheck.errors import UserError

HELP = "evaluate a trained run: deterministic actions, saved normalisation statistics, N episodes"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", type=Path, metavar="RUN_DIR",
                   help="a run (RUN/seed_K), a directory of runs (RUN), or the output of a train command with "
                   "several configurations (RUN/LABEL/seed_K: every configuration, grouped by LABEL)")
    p.add_argument("--episodes", type=int, default=10, help="episodes per run (default 10)")
    p.add_argument("--seed", type=int, help="first episode seed (default 1000000 + the run's seed)")


def run(args: argparse.Namespace) -> int:
    if args.episodes < 1:
        raise UserError("--episodes must be at least 1")
    root: Path = args.run
    if not root.exists():
        raise UserError(f"{root}: no such run directory")
    import json

    import numpy as np

    from agents.evaluate import evaluate_policy, save_evaluation
    from agents.rundir import require_writable, run_groups

    groups = run_groups(root)
    if not groups:
        raise UserError(f"{root} is not a run directory (no config.json) and holds none")
    for _, runs in groups:
        for r in runs:   # before any episode: a result that cannot be saved is not computed
            require_writable(r)
    unsaved: list[str] = []
    for label, runs in groups:
        means = []
        for r in runs:
            res = evaluate_policy(r, args.episodes, args.seed)
            means.append(res["mean_return"])
            print(f"{r}: {res['env_id']} at step {res['checkpoint_step']}: return {res['mean_return']:.1f} "
                  f"± {res['std_return']:.1f} over {res['episodes']} deterministic episodes "
                  f"(lengths {min(res['lengths'])}-{max(res['lengths'])}) -> {r / 'evaluation.json'}")
            try:
                save_evaluation(r, res)
            except UserError as exc:   # the disk went bad since the check: the result goes to stdout instead
                print(json.dumps(res, sort_keys=True))
                unsaved.append(str(exc))
        if len(groups) > 1 or len(runs) > 1:
            print(f"{label}: mean return {np.mean(means):.1f} over {len(runs)} run(s) "
                  f"(std across runs {np.std(means):.1f})")
    if unsaved:
        raise UserError(f"{unsaved[0]} (and {len(unsaved) - 1} more); each unsaved result is printed above as "
                        "JSON" if len(unsaved) > 1 else f"{unsaved[0]}; the result is printed above as JSON")
    return 0
