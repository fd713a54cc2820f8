"""Learning on Hopper-v5 (issue 5): PPO against MLA-PPO (Table 2's Hopper setting), same seeds and budget.

    nice .venv/bin/python benchmarks/bench_ppo_learning.py [--seeds 0-2] [--steps 1000000] [--workers 2]

Creates ``runs/bench/hopper-ppo/seed_K`` and ``runs/bench/hopper-mla-ppo/seed_K`` (the CLI's presets,
nothing else changed), trains the jobs with at most ``--workers`` processes at once (alternating PPO and
MLA-PPO so that partial results stay paired), then evaluates every run (10 deterministic episodes) and
writes ``pgcheck compare``'s plot and table to ``runs/bench/hopper-compare.{png,md,json}``. Run it again
to resume: finished runs are kept, unfinished ones continue from their checkpoints.

Target (issue 5): PPO's mean final return ≥ 2000 after 1M steps (CleanRL reports 2383 on Hopper-v4,
RL-Zoo 2410). MLA-PPO is reported whatever the outcome.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0-2")
    p.add_argument("--steps", type=int, default=1_000_000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "bench")
    p.add_argument("--figure", type=Path, help="also copy the compare plot here")
    args = p.parse_args()

    from agents.compare import compare_runs
    from agents.evaluate import evaluate_run
    from agents.rundir import get_status, is_run
    from agents.runner import create_run, run_local
    from pgcheck_cli.commands.train import build_config, checked, configure_defaults, parse_seeds

    seeds = parse_seeds(args.seeds)
    groups = {name: args.out / f"hopper-{name}" for name in ("ppo", "mla-ppo")}
    jobs: list[tuple[str, bool]] = []
    for s in seeds:
        for name, root in groups.items():
            run = root / f"seed_{s}"
            if is_run(run):
                if get_status(run).get("status") != "finished":
                    jobs.append((str(run), True))
                continue
            ns = configure_defaults(["--env", "Hopper-v5", "--preset", name, "--total-steps", str(args.steps)])
            config = build_config(ns)
            scale = checked(config.scale, config.scale_params)
            create_run(run, dataclasses.replace(config, seed=s), scale.certificate.to_json(),
                       {"label": root.name, "preset": name, "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
            jobs.append((str(run), False))
    print(f"{len(jobs)} job(s) to run with {args.workers} worker(s): " + ", ".join(
        f"{Path(r).parent.name}/{Path(r).name}{' (resume)' if res else ''}" for r, res in jobs), flush=True)
    t0 = time.time()
    if jobs:
        for r in run_local(jobs, args.workers, progress=False):
            print(f"  {r.run}: {r.status} at step {r.global_step} {r.message}", flush=True)
    print(f"training took {time.time() - t0:.0f} s", flush=True)

    for root in groups.values():
        for run in sorted(q for q in root.iterdir() if is_run(q)):
            if get_status(run).get("status") == "finished":
                ev = evaluate_run(run, episodes=10)
                print(f"  evaluate {root.name}/{run.name}: {ev['mean_return']:.1f} ± {ev['std_return']:.1f}",
                      flush=True)
    report = compare_runs(list(groups.values()), args.out / "hopper-compare")
    print(report["text"], end="")
    print(f"plot: {report['plot']}")
    if args.figure is not None:
        shutil.copyfile(report["plot"], args.figure)
        print(f"copied to {args.figure}")


if __name__ == "__main__":
    main()
