"""Lanes (issue 12): 16 Hopper-v5 runs in one ``pgcheck train`` against SB3, the one-process-per-seed path
and raw batched physics, a scaling table over the number of lanes, and the paper's protocol as a time.

    .venv/bin/python benchmarks/bench_lanes.py [--quick] [--no-64] [--rounds N] [--baseline DIR] [--json FILE]

The side-by-side rows are measured in ``--rounds`` interleaved rounds (every row once per round), because the
machine is shared: ratios are taken within a round, and the median over rounds is reported. ``--baseline DIR``
(a ``git archive`` of an earlier commit) adds that tree's 16-lane rows, run with its own code, for before/after.

Per-lane hyperparameters are identical everywhere: 2048 steps per rollout per lane, minibatches of 64,
10 epochs, 1 environment per lane, CPU, 64-64 tanh actor and critic, observation and reward normalisation
(SB3: ``VecNormalize``), lr 3e-4, γ 0.99, λ 0.95, clip 0.2, grad-norm clip 0.5. Measured, each in fresh
child processes:

* **lanes**: ``pgcheck train --preset ppo --preset mla-ppo --seeds 0-7`` (16 lanes, one process), and the
  same with ``--workers 2`` (two processes of 8 lanes: a lane process uses one core, physics aside);
* **(a)** Stable-Baselines3 PPO, two processes at once (what an SB3 user gets from a 2-core machine);
* **(b)** the single-run trainer (``agents.ppo.PPO``, the path for environments without a batched task),
  two processes at once, as ``pgcheck train --workers 2`` ran seeds before lanes;
* **(c)** raw batched physics: ``BatchedTask`` with 16 worlds on 2 threads, uniform random actions;
* **scaling**: a ``LaneTrainer`` (the default batched-GEMM mode, physics on ``physics_threads()``; and 16 lanes
  in the bitwise ``exact`` mode) with 1, 4, 16 (and 64) lanes: aggregate SPS and seconds per cycle split
  into physics (``BatchedTask.step``), acting (the rest of the rollout) and update (``LaneTrainer.timing``).

SPS are aggregate (all lanes or processes together): steady = median over cycles after the first of the
cycle's steps per wall second; overall = all steps / wall time of the training call. Peak RSS is each child
process's own ``ru_maxrss`` (``os.wait4``; for ``--workers 2`` the largest of the three processes). The load
average is printed before and after.
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ROLLOUT = 2048
PROTOCOL_STEPS = 100 * 5_000_000 * 4 * 2        # 100 seeds × 5M steps × 4 tasks × 2 rules


# ---------------------------------------------------------------------------------------------------
# children: each writes one JSON object to the file given as --result


def _child_lanes(lanes: int, updates: int, exact: int = 0) -> dict[str, Any]:
    import torch

    from agents.lanerun import physics_threads
    from agents.lanes import LaneTrainer
    from agents.ppo import Callback, PPOConfig
    from agents.presets import preset
    from agents.tasks.engine import MujocoBatchEngine
    from pgcheck.check import checked_scale

    torch.set_num_threads(1)
    cycles: list[dict[str, float]] = []

    class Record(Callback):
        def on_update(self, trainer: Any, metrics: dict[str, float]) -> None:
            if trainer.lane.index == 0:
                cycles.append(metrics)

    configs = []
    for k in range(lanes):                    # half PPO, half MLA-PPO (Table 2, Hopper), seeds 0, 1, ...
        p = preset("ppo" if k % 2 == 0 else "mla-ppo", "Hopper-v5")
        configs.append(PPOConfig(env_id="Hopper-v5", total_steps=updates * ROLLOUT, num_steps=ROLLOUT,
                                 minibatch_size=64, update_epochs=10, device="cpu", seed=k // 2, **p))
    trainer = LaneTrainer([(c, checked_scale(c.scale, c.scale_params)) for c in configs], nthread=physics_threads(),
                          exact=bool(exact))
    callbacks = [[Record()] if i == 0 else [] for i in range(lanes)]
    t0 = time.perf_counter()
    trainer.learn(callbacks)
    wall = time.perf_counter() - t0
    steady = cycles[1:] or cycles
    per_cycle = {k: statistics.median(m[f"{k}_seconds"] for m in steady) for k in ("physics", "acting", "update")}
    cycle_s = [ROLLOUT / m["sps"] for m in steady]
    # nthread is MujocoBatchEngine's, not the Engine protocol's (MjxEngine has none): these lanes use the
    # configs' default engine, "mujoco"; another engine reports None instead of raising AttributeError
    engine = trainer.task.engine
    nthread = engine.nthread if isinstance(engine, MujocoBatchEngine) else None
    return {"lanes": lanes, "exact": bool(exact), "nthread": nthread,
            "sps_steady": lanes * statistics.median(m["sps"] for m in steady),
            "sps_overall": lanes * updates * ROLLOUT / wall, "cycle_seconds": statistics.median(cycle_s),
            **{f"{k}_seconds": v for k, v in per_cycle.items()}, "cycles": len(cycles)}


def _child_single(updates: int) -> dict[str, Any]:
    import torch

    from agents.ppo import PPO, Callback, PPOConfig
    from pgcheck.check import checked_scale

    torch.set_num_threads(1)
    config = PPOConfig(env_id="Hopper-v5", total_steps=updates * ROLLOUT, num_steps=ROLLOUT, minibatch_size=64,
                       update_epochs=10, device="cpu", torch_threads=1)
    trainer = PPO(config, checked_scale(config.scale, config.scale_params))
    cycle_sps: list[float] = []

    class Record(Callback):
        def on_update(self, trainer: PPO, metrics: dict[str, float]) -> None:
            cycle_sps.append(metrics["sps"])

    t0 = time.perf_counter()
    trainer.learn([Record()])
    wall = time.perf_counter() - t0
    return {"sps_steady": statistics.median(cycle_sps[1:] or cycle_sps), "sps_overall": trainer.global_step / wall}


def _child_sb3(updates: int) -> dict[str, Any]:
    from sb3_peer import train_sb3_ppo

    t = train_sb3_ppo(updates * ROLLOUT)
    return {"sps_steady": statistics.median(t.cycle_sps[1:] or t.cycle_sps), "sps_overall": t.steps / t.wall_seconds}


def _child_raw(worlds: int, seconds: float) -> dict[str, Any]:
    import numpy as np

    from agents.tasks import BatchedTask

    env = BatchedTask("Hopper-v5", worlds, nthread=2)
    rng = np.random.default_rng(0)
    env.reset(seed=list(range(worlds)))
    nu = env.model.nu
    steps = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        env.step(rng.uniform(-1.0, 1.0, (worlds, nu)).astype(np.float32))
        steps += 1
    wall = time.perf_counter() - t0
    return {"sps_steady": steps * worlds / wall, "sps_overall": steps * worlds / wall}


def _child_cli(updates: int, out: str, workers: int = 1) -> dict[str, Any]:
    import csv
    import resource

    # the `pgcheck` console script, as a user runs it (this child's RUSAGE_CHILDREN then covers its processes)
    pgcheck = str(Path(sys.executable).with_name("pgcheck"))
    t0 = time.perf_counter()
    code = subprocess.run([pgcheck, "train", "--preset", "ppo", "--preset", "mla-ppo", "--seeds", "0-7",
                           "--total-steps", str(updates * ROLLOUT), "--device", "cpu", "--no-progress", "--out", out,
                           "--workers", str(workers)], stdout=subprocess.DEVNULL).returncode
    wall = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"pgcheck train exited {code}")
    sps = 0.0   # each lane group (process) has its own cycle time: sum the groups' lanes' steady SPS
    for run in sorted(Path(out).glob("*/seed_*")):
        with open(run / "metrics.csv", newline="") as fh:
            lane = [float(r["sps"]) for r in csv.DictReader(fh)]
        sps += statistics.median(lane[1:] or lane)
    # the largest process pgcheck ran (itself, or a worker): this child's own RSS is a small wrapper's
    children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return {"sps_steady": sps, "sps_overall": 16 * updates * ROLLOUT / wall, "worker_peak_rss_mb": children_mb}


def child(argv: list[str]) -> None:
    kind, result = argv[0], argv[-1]
    a = [int(v) if v.isdigit() else v for v in argv[1:-1]]
    fn: Any = {"lanes": _child_lanes, "single": _child_single, "sb3": _child_sb3,
               "raw": lambda w, s: _child_raw(int(w), float(s)), "cli": _child_cli}[kind]
    Path(result).write_text(json.dumps(fn(*a)))


# ---------------------------------------------------------------------------------------------------


def run_children(kind: str, args: list[str], copies: int = 1,
                 baseline: Path | None = None) -> list[dict[str, Any]] | None:
    """``copies`` child processes of ``kind`` at once; each one's result with its own peak RSS (MB). With
    ``baseline`` (a source tree of an earlier commit), the children are that tree's own script and code."""
    with tempfile.TemporaryDirectory() as tmp:
        procs = []
        for k in range(copies):
            res = Path(tmp) / f"r{k}.json"
            err = open(Path(tmp) / f"e{k}.txt", "w")  # noqa: SIM115 - closed below
            env = {**os.environ, "OMP_NUM_THREADS": "1"}
            script, cwd = Path(__file__), ROOT
            if baseline is not None:
                env["PYTHONPATH"] = str(baseline)
                script, cwd = baseline / "benchmarks" / "bench_lanes.py", baseline
            procs.append((subprocess.Popen([sys.executable, str(script), "--child", kind, *args, str(res)], cwd=cwd,
                                           stdout=subprocess.DEVNULL, stderr=err, env=env), res, err))
        out = []
        for proc, res, err in procs:
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            err.close()
            if proc.returncode != 0 or not res.is_file():
                print(f"{kind}: failed:\n{Path(err.name).read_text()[-2000:]}", file=sys.stderr)
                return None
            r = json.loads(res.read_text())
            r["peak_rss_mb"] = usage.ru_maxrss / 1024.0
            out.append(r)
        return out


def _sum(rs: list[dict[str, Any]], key: str) -> float:
    total: float = sum(r[key] for r in rs)   # the rows' numeric fields (JSON numbers)
    return total


def _median_row(rounds: list[list[dict[str, Any]]], key: str) -> float:
    return float(statistics.median(_sum(rs, key) for rs in rounds))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="few cycles, one round, no 64 lanes (a smoke run)")
    p.add_argument("--no-64", action="store_true", help="leave 64 lanes out of the scaling table")
    p.add_argument("--rounds", type=int, default=3, help="rounds of the side-by-side rows (default 3)")
    p.add_argument("--json", type=Path, help="also write every measurement to this JSON file")
    p.add_argument("--baseline", type=Path, help="a source tree of an earlier commit (git archive): its 16-lane "
                   "pgcheck train and 16-lane trainer are measured in this run too, for before/after figures")
    p.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child)
        return
    try:
        import stable_baselines3

        sb3: str | None = stable_baselines3.__version__
    except ImportError:
        sb3 = None
    quick = args.quick
    rounds = 1 if quick else max(1, args.rounds)
    start = time.perf_counter()
    loads = [os.getloadavg()[0]]
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; CPUs: {os.cpu_count()}; "
          f"SB3 {sb3 or 'not installed (pip install -e .[peers]): (a) is skipped'}; {rounds} round(s)", flush=True)
    cli_updates, single_updates = (2, 3) if quick else (5, 8)
    # the side-by-side rows, interleaved: each round measures every row once, so a change of the machine's load
    # (it is shared) falls on all rows of a round alike; ratios are taken per round, then the median
    kinds: list[tuple[str, str, list[str], int, Path | None]] = [
        ("lanes16_cli", "cli", [str(cli_updates)], 1, None),
        ("lanes16_cli_w2", "cli", [str(cli_updates)], 1, None),
        ("single_x2", "single", [str(single_updates)], 2, None),
        ("raw16", "raw", ["16", "3" if quick else "8"], 1, None)]
    if sb3 is not None:
        kinds.insert(2, ("sb3_x2", "sb3", [str(single_updates)], 2, None))
    if args.baseline is not None:
        kinds.append(("baseline_cli", "cli", [str(cli_updates)], 1, args.baseline))
    found: dict[str, Any] = {key: [] for key, *_ in kinds}
    for r in range(rounds):
        for key, kind, extra, copies, baseline in kinds:
            with tempfile.TemporaryDirectory() as tmp:
                a = [*extra, str(Path(tmp) / "runs")] if kind == "cli" else list(extra)
                if key == "lanes16_cli_w2":
                    a.append("2")
                rs = run_children(kind, a, copies=copies, baseline=baseline)
            loads.append(os.getloadavg()[0])
            if rs:
                found[key].append(rs)
                print(f"  round {r + 1}, {key}: {_sum(rs, 'sps_steady'):.0f} SPS (load {loads[-1]:.2f})", flush=True)
    found["lanes16_exact"] = run_children("lanes", ["16", "2" if quick else "3", "1"])
    if args.baseline is not None:
        found["baseline_lanes16"] = run_children("lanes", ["16", "2" if quick else "3"], baseline=args.baseline)
    sizes = [(1, 3 if quick else 6), (4, 2 if quick else 4), (16, 2 if quick else 3)]
    if not (quick or args.no_64):
        sizes.append((64, 2))
    found["scaling"] = []
    for lanes, updates in sizes:
        rs = run_children("lanes", [str(lanes), str(updates)])
        loads.append(os.getloadavg()[0])
        if rs:
            found["scaling"].append(rs[0])
            print(f"  scaling, {lanes} lanes: {rs[0]['sps_steady']:.0f} SPS (load {loads[-1]:.2f})", flush=True)

    print(f"\nHopper-v5, per lane 2048 steps per rollout, minibatches of 64, 10 epochs; "
          f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())} (1-min load sampled after each "
          f"row: {min(loads):.2f}–{max(loads):.2f}); wall {time.perf_counter() - start:.0f} s\n")
    print(f"| what | aggregate SPS, steady (median of {rounds}) | per round | overall | peak RSS per process |")
    print("|---|---|---|---|---|")
    rows = [("lanes16_cli", "16 lanes (PPO × 8 + MLA-PPO × 8), one `pgcheck train`"),
            ("lanes16_cli_w2", "the same with `--workers 2` (2 processes of 8 lanes)"),
            ("sb3_x2", f"(a) Stable-Baselines3 {sb3} PPO, 2 processes"),
            ("single_x2", "(b) single-run trainer, 2 processes"),
            ("raw16", "(c) raw BatchedTask, 16 worlds, 2 threads, random actions"),
            ("baseline_cli", f"before: 16 lanes, one `pgcheck train` of {args.baseline}")]
    for key, name in rows:
        rr = found.get(key)
        if rr:
            per = ", ".join(f"{_sum(rs, 'sps_steady'):.0f}" for rs in rr)
            rss = max(max(r["peak_rss_mb"], r.get("worker_peak_rss_mb", 0.0)) for rs in rr for r in rs)
            print(f"| {name} | {_median_row(rr, 'sps_steady'):.0f} | {per} | {_median_row(rr, 'sps_overall'):.0f} | "
                  f"{rss:.0f} MB |")
    cli_rows = found.get("lanes16_cli")
    if cli_rows:
        sps = _median_row(cli_rows, "sps_steady")
        for key, target, name in (("sb3_x2", 5.0, "(a)"), ("single_x2", 2.0, "(b)"), ("raw16", 0.6, "(c)"),
                                  ("lanes16_cli_w2", None, "--workers 2"), ("baseline_cli", None, "before")):
            peer = found.get(key)
            if not peer or len(peer) != len(cli_rows):
                continue
            ratios = [_sum(a, "sps_steady") / _sum(b, "sps_steady") for a, b in zip(cli_rows, peer, strict=True)]
            goal = "" if target is None else f" (target >= {target:g}{'x' if target >= 1 else ''})"
            print(f"16 lanes / {name}: median {statistics.median(ratios):.2f}x, per round "
                  f"{', '.join(f'{v:.2f}' for v in ratios)}{goal}")
        rss = max(max(r["peak_rss_mb"], r.get("worker_peak_rss_mb", 0.0)) for rs in cli_rows for r in rs)
        print(f"peak RSS of the 16-lane process: {rss:.0f} MB (target <= 2048 MB)")
        hours = PROTOCOL_STEPS / sps / 3600
        print(f"the paper's protocol (100 seeds x 5M steps x 4 tasks x 2 rules = {PROTOCOL_STEPS:.1e} steps) at "
              f"{sps:.0f} SPS: {hours:,.0f} hours = {hours / 24:,.1f} days on this machine (Hopper's SPS for all)")
    print("\n| lanes | aggregate SPS, steady | seconds per cycle | physics | acting | update | peak RSS |")
    print("|---|---|---|---|---|---|---|")
    named = [("16, exact (bitwise)", r) for r in found.get("lanes16_exact") or []]
    named += [(f"16, before ({args.baseline})", r) for r in found.get("baseline_lanes16") or []]
    named += [(str(r["lanes"]), r) for r in found["scaling"]]
    for name, r in named:
        print(f"| {name} | {r['sps_steady']:.0f} | {r['cycle_seconds']:.2f} | {r['physics_seconds']:.2f} | "
              f"{r['acting_seconds']:.2f} | {r['update_seconds']:.2f} | {r['peak_rss_mb']:.0f} MB |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(found, indent=2))


if __name__ == "__main__":
    main()
