"""Training throughput on Hopper-v5 (issue 5): pgcheck's PPO against Stable-Baselines3 and raw simulation.

    .venv/bin/python benchmarks/bench_ppo_speed.py [--steps 204800] [--repeats 1]

Identical hyperparameters for both trainers: 2048 steps per rollout, minibatches of 64, 10 epochs,
1 environment, 1 torch thread, CPU, 64-64 tanh actor and critic, observation and reward normalisation
(SB3 through ``VecNormalize``), lr 3e-4, γ 0.99, λ 0.95, clip 0.2, grad-norm clip 0.5. Each trainer runs in
its own fresh process, one after the other, ``--steps`` environment steps each (≥ 200k so that start-up
does not dominate). Reported per trainer:

* steady-state SPS: the median over rollout+update cycles of (steps in the cycle / wall seconds), the
  first 2 cycles left out (warm-up);
* overall SPS: all steps / all wall time of the training call;
* CPU SPS: all steps / process CPU seconds (less sensitive to other load on a shared machine);
* peak resident memory (ru_maxrss) of the process.

Raw simulation is ``env.step`` with uniform random actions (and ``reset`` when an episode ends) on the
same Gymnasium env, the ceiling any trainer can reach with one environment. Stable-Baselines3 is an
optional, benchmark-only dependency (``pip install -e '.[peers]'``); without it the SB3 rows say so.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ROLLOUT = 2048


def _child_raw(steps: int) -> dict[str, Any]:
    import gymnasium as gym
    import numpy as np

    env = gym.make("Hopper-v5")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1.0, 1.0, size=(steps, 3)).astype(np.float32)
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(steps):
        _, _, term, trunc, _ = env.step(actions[i])
        if term or trunc:
            env.reset()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"sps_steady": steps / wall, "sps_overall": steps / wall, "sps_cpu": steps / cpu}


def _child_pgcheck(steps: int) -> dict[str, Any]:
    import torch

    from agents.ppo import PPO, Callback, PPOConfig
    from pgcheck.check import checked_scale

    torch.set_num_threads(1)
    config = PPOConfig(env_id="Hopper-v5", total_steps=steps, num_steps=ROLLOUT, minibatch_size=64,
                       update_epochs=10, num_envs=1, device="cpu", torch_threads=1)
    trainer = PPO(config, checked_scale(config.scale, config.scale_params))
    cycle_sps: list[float] = []

    class Record(Callback):
        def on_update(self, trainer: PPO, metrics: dict[str, float]) -> None:
            cycle_sps.append(metrics["sps"])

    t0, c0 = time.perf_counter(), time.process_time()
    trainer.learn([Record()])
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"sps_steady": statistics.median(cycle_sps[2:]), "sps_overall": trainer.global_step / wall,
            "sps_cpu": trainer.global_step / cpu, "cycles": len(cycle_sps), "steps": trainer.global_step}


def _child_sb3(steps: int) -> dict[str, Any]:
    from sb3_peer import train_sb3_ppo

    t = train_sb3_ppo(steps)
    return {"sps_steady": statistics.median(t.cycle_sps[2:]), "sps_overall": t.steps / t.wall_seconds,
            "sps_cpu": t.steps / t.cpu_seconds, "cycles": len(t.cycle_sps), "steps": t.steps}


def child(kind: str, steps: int) -> None:
    result = {"raw": _child_raw, "pgcheck": _child_pgcheck, "sb3": _child_sb3}[kind](steps)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(result))


def run_child(kind: str, steps: int) -> dict[str, Any] | None:
    r = subprocess.run([sys.executable, __file__, "--child", kind, "--steps", str(steps)], capture_output=True,
                       text=True, cwd=ROOT)
    if r.returncode != 0:
        print(f"{kind}: failed:\n{r.stderr[-2000:]}", file=sys.stderr)
        return None
    out: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=100 * ROLLOUT, help="steps per trainer (default 204800)")
    p.add_argument("--raw-steps", type=int, default=50_000, help="steps of raw simulation (default 50000)")
    p.add_argument("--repeats", type=int, default=1, help="alternating repetitions of the trainer pair")
    p.add_argument("--child", choices=["raw", "pgcheck", "sb3"], help=argparse.SUPPRESS)
    p.add_argument("--json", type=Path, help="also write all measurements to this JSON file")
    args = p.parse_args()
    if args.child:
        child(args.child, args.steps)
        return
    try:
        import stable_baselines3

        sb3_version: str | None = stable_baselines3.__version__
    except ImportError:
        sb3_version = None
        print("stable-baselines3 is not installed: the SB3 rows are skipped "
              "(pip install -e '.[peers]' into this venv; it is a benchmark-only dependency)")
    runs: dict[str, list[dict[str, Any]]] = {"raw": [], "pgcheck": [], "sb3": []}
    print(f"Hopper-v5, {args.steps} steps per trainer, {args.repeats} repetition(s); SB3 {sb3_version or '-'}")
    res = run_child("raw", args.raw_steps)
    if res:
        runs["raw"].append(res)
    for _ in range(args.repeats):
        for kind in ("pgcheck", "sb3"):
            if kind == "sb3" and sb3_version is None:
                continue
            res = run_child(kind, args.steps)
            if res:
                runs[kind].append(res)
                print(f"  {kind:8s} steady {res['sps_steady']:7.0f} SPS  overall {res['sps_overall']:7.0f}  "
                      f"CPU {res['sps_cpu']:7.0f}  peak RSS {res['peak_rss_mb']:.0f} MB", flush=True)

    def med(kind: str, key: str) -> float:
        vals = [r[key] for r in runs[kind]]
        return statistics.median(vals) if vals else float("nan")

    print("\n| | steady-state SPS (median) | overall SPS | SPS per CPU second | peak RSS (MB) |")
    print("|---|---|---|---|---|")
    for kind, name in (("raw", "raw env.step (random actions)"), ("pgcheck", "pgcheck PPO"),
                       ("sb3", f"Stable-Baselines3 {sb3_version} PPO")):
        if runs[kind]:
            print(f"| {name} | {med(kind, 'sps_steady'):.0f} | {med(kind, 'sps_overall'):.0f} | "
                  f"{med(kind, 'sps_cpu'):.0f} | {med(kind, 'peak_rss_mb'):.0f} |")
    if runs["pgcheck"]:
        if runs["sb3"]:
            print(f"\npgcheck / SB3: steady {med('pgcheck', 'sps_steady') / med('sb3', 'sps_steady'):.2f}x, "
                  f"overall {med('pgcheck', 'sps_overall') / med('sb3', 'sps_overall'):.2f}x, "
                  f"per CPU second {med('pgcheck', 'sps_cpu') / med('sb3', 'sps_cpu'):.2f}x (target >= 2x)")
        if runs["raw"]:
            print(f"pgcheck / raw simulation: {med('pgcheck', 'sps_steady') / med('raw', 'sps_steady'):.1%} "
                  "of env.step throughput")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
