"""Env-steps per second: Gymnasium ``env.step`` (one env, one core) against ``agents.tasks.BatchedTask``
(``mujoco.batch``) at 16/64/256 worlds on 1 and 2 threads, for the five v5 tasks.

    .venv/bin/python benchmarks/bench_batched_env.py [--tasks Hopper-v5,Ant-v5] [--repeats 5] [--seconds 0.3]

Both sides step with uniform random actions in [-1, 1] and reset episodes as they end (Gymnasium:
``env.reset()`` after ``terminated or truncated``; batched: its same-step autoreset), so the figures
include resets and, for Ant and Humanoid, the post-step contact forces. Each figure is the median over
``--repeats`` timed runs of about ``--seconds`` each; every ratio is against the Gymnasium figure of the
same task measured in the same invocation.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import gymnasium as gym
import numpy as np

from agents.tasks import TASKS, BatchedTask

WORLDS = (16, 64, 256)
THREADS = (1, 2)


def _gym_rate(env_id: str, seconds: float, repeats: int) -> float:
    env = gym.make(env_id)
    assert isinstance(env.action_space, gym.spaces.Box)   # MuJoCo tasks act in a Box
    nu = env.action_space.shape[0]
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    t0 = time.perf_counter()
    for _ in range(20):                                  # warm-up, and the size of a timed run
        env.step(rng.uniform(-1, 1, nu))
    steps = max(50, int(seconds / ((time.perf_counter() - t0) / 20)))
    rates = []
    for _ in range(repeats):
        actions = rng.uniform(-1, 1, (steps, nu))
        env.reset(seed=1)
        t0 = time.perf_counter()
        for a in actions:
            _, _, term, trunc, _ = env.step(a)
            if term or trunc:
                env.reset()
        rates.append(steps / (time.perf_counter() - t0))
    env.close()
    return statistics.median(rates)


def _batched_rate(env_id: str, worlds: int, nthread: int, seconds: float, repeats: int) -> float:
    env = BatchedTask(env_id, worlds, nthread=nthread)
    nu = env.model.nu
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    t0 = time.perf_counter()
    for _ in range(3):
        env.step(rng.uniform(-1, 1, (worlds, nu)))
    steps = max(5, int(seconds / ((time.perf_counter() - t0) / 3)))
    rates = []
    for _ in range(repeats):
        actions = rng.uniform(-1, 1, (steps, worlds, nu))
        env.reset(seed=1)
        t0 = time.perf_counter()
        for a in actions:
            env.step(a)
        rates.append(steps * worlds / (time.perf_counter() - t0))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default=",".join(TASKS), help="comma-separated v5 ids")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.3, help="length of one timed run")
    args = parser.parse_args()
    tasks = [t for t in args.tasks.split(",") if t]
    start = time.perf_counter()
    print(f"load average before: {os.getloadavg()[0]:.2f}; CPUs: {os.cpu_count()}; repeats {args.repeats}")
    header = ["task", "Gymnasium env.step"] + [f"{w} worlds, {t} thr" for t in THREADS for w in WORLDS]
    rows = []
    for env_id in tasks:
        base = _gym_rate(env_id, args.seconds, args.repeats)
        cells = [env_id, f"{base:,.0f}"]
        for t in THREADS:
            for w in WORLDS:
                rate = _batched_rate(env_id, w, t, args.seconds, args.repeats)
                cells.append(f"{rate:,.0f} ({rate / base:.2f}×)")
        rows.append(cells)
        print(" | ".join(cells), flush=True)
    print()
    print("env-steps/s, median of", args.repeats, "(ratio against Gymnasium env.step in this run)")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for cells in rows:
        print("| " + " | ".join(cells) + " |")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}; wall {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
