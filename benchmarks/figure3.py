"""Figure 3 of the paper (sec. 6.3): MLA-PPO with Table 2's settings against PPO on MuJoCo, as one command.

    .venv/bin/python benchmarks/figure3.py [--tasks Hopper-v5,Walker2d-v5,HalfCheetah-v5,Humanoid-v5]
        [--seeds 10] [--steps 1000000] [--preset-pair ppo,mla-ppo] [--out runs/figure3] [--protocol]
        [--engine mujoco|mjx] [--device cpu|cuda] [--workers N] [--set FIELD=VALUE] [--estimate-only]

For every task: ``pgcheck train --env TASK --preset PPO --preset MLA --seeds 0-(N-1) --total-steps S`` (all
runs of a task as lanes), ``pgcheck evaluate`` on every finished run (10 deterministic episodes), and
``pgcheck compare`` (learning curves, IQM with stratified-bootstrap intervals, probability of improvement and
performance profile, by rliable) into ``OUT/TASK-compare.{png,md,json}``. Run it again to resume: an unfinished
task continues from its checkpoints (``pgcheck train --resume``), a finished one is only compared again.

``--protocol`` is the paper's full protocol: 100 seeds × 5M steps on the four tasks (4 × 10⁹ environment
steps), meant for a GPU machine (``--engine mjx --device cuda``). ``--estimate-only`` prints the time the run
would take at the steps per second measured so far in ``OUT`` (or ``--sps``) and trains nothing.

``--preset-pair`` picks the PPO machinery: ``ppo,mla-ppo`` (CleanRL's, Â z-scored per minibatch) or
``acme-2021,mla-ppo-acme-2021`` (ACME's PPO of 2021 as far as pgcheck expresses it); see ``agents/presets.py``.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASKS = "Hopper-v5,Walker2d-v5,HalfCheetah-v5,Humanoid-v5"
# Humanoid's physics costs about 3× Hopper's per step (benchmarks/README.md, batched tasks): for estimates
COST = {"Hopper-v5": 1.0, "Walker2d-v5": 1.0, "HalfCheetah-v5": 0.8, "Humanoid-v5": 3.0}


def pgcheck(*args: str) -> int:
    cmd = [sys.executable, "-m", "pgcheck_cli.main", *args]
    print("$ pgcheck " + " ".join(args), flush=True)
    return subprocess.call(cmd, cwd=ROOT)


def runs_of(task_dir: Path) -> list[Path]:
    return sorted(p.parent for p in task_dir.glob("*/seed_*/config.json"))


def status(run: Path) -> str:
    try:
        return str(json.loads((run / "status.json").read_text())["status"])
    except (OSError, ValueError, KeyError):
        return "new"


def measured_sps(out: Path) -> float | None:
    """Aggregate steps per second of the finished tasks in ``out``: each task's steps over its wall time (the
    largest training time of its runs, which train at once as lanes), Hopper-equivalent by :data:`COST`."""
    rates = []
    for task_dir in sorted(p for p in out.iterdir() if p.is_dir()) if out.is_dir() else []:
        runs = runs_of(task_dir)
        steps, wall = 0.0, 0.0
        for run in runs:
            rows = list(csv.DictReader((run / "metrics.csv").open())) if (run / "metrics.csv").is_file() else []
            if rows:
                steps += float(rows[-1]["global_step"])
                wall = max(wall, float(rows[-1]["time"]))
        if steps and wall:
            rates.append(steps / wall * COST.get(task_dir.name, 1.0))
    return statistics.median(rates) if rates else None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default=TASKS)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--steps", type=int, default=1_000_000)
    p.add_argument("--preset-pair", default="ppo,mla-ppo")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "figure3")
    p.add_argument("--protocol", action="store_true", help="the paper's protocol: 100 seeds × 5M steps")
    p.add_argument("--engine", default="mujoco", choices=["mujoco", "mjx"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--workers", type=int)
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="a config field for every run, e.g. adv_norm=scale (repeatable; pgcheck train --set)")
    p.add_argument("--estimate-only", action="store_true")
    p.add_argument("--sps", type=float, help="Hopper-equivalent steps per second for --estimate-only")
    args = p.parse_args()
    if args.protocol:
        args.seeds, args.steps = 100, 5_000_000
    tasks = [t for t in args.tasks.split(",") if t]
    pair = args.preset_pair.split(",")
    total = sum(COST.get(t, 1.0) for t in tasks) * len(pair) * args.seeds * args.steps
    sps = args.sps or measured_sps(args.out)
    print(f"{len(tasks)} task(s) × {len(pair)} rules × {args.seeds} seeds × {args.steps:,} steps "
          f"= {total:,.0f} Hopper-equivalent steps", flush=True)
    if sps:
        hours = total / sps / 3600
        print(f"at {sps:,.0f} Hopper-equivalent steps/s: {hours:,.1f} hours = {hours / 24:,.1f} days", flush=True)
    if args.estimate_only:
        return 0
    failed = 0
    for task in tasks:
        task_dir = args.out / task
        t0 = time.monotonic()
        if task_dir.is_dir() and runs_of(task_dir):
            if any(status(r) != "finished" for r in runs_of(task_dir)):
                failed |= pgcheck("train", "--resume", str(task_dir), "--no-progress",
                                  *(["--workers", str(args.workers)] if args.workers else []))
        else:
            presets = [a for name in pair for a in ("--preset", name)]
            failed |= pgcheck("train", "--env", task, *presets, "--seeds", f"0-{args.seeds - 1}",
                              "--total-steps", str(args.steps), "--set", f"engine={args.engine}",
                              *(a for kv in args.set for a in ("--set", kv)),
                              "--device", args.device, "--out", str(task_dir), "--no-progress",
                              *(["--workers", str(args.workers)] if args.workers else []))
        for run in runs_of(task_dir):
            if status(run) == "finished" and not (run / "evaluation.json").is_file():
                failed |= pgcheck("evaluate", str(run), "--episodes", "10")
        failed |= pgcheck("compare", str(task_dir), "--out", str(args.out / f"{task}-compare"))
        print(f"{task}: {time.monotonic() - t0:,.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
