"""The MJX engine on a GPU (or, ``--small``, on JAX's CPU): equivalence with Gymnasium, physics steps/s and
end-to-end lane-training SPS, as one table. Run through ``benchmarks/gpu_check.sh`` (which installs the
wheels on a machine without a network); see ``benchmarks/README.md``.

    python benchmarks/gpu_check.py [--small] [--budget SECONDS] [--json FILE]

Rows, in order, each skipped (and marked so) when the time left in ``--budget`` is too short:

* **equivalence**: ``agents.tasks.equivalence.compare_to_gymnasium`` — 4 Hopper-v5 worlds on the MJX
  engine (compiled for the 1k batch below, so it shares that compilation) against Gymnasium, 100 steps,
  seed 11, time limit 40; pass when no episode end differs and qpos is within 5e-6 (``tests/test_mjx.py``).
* **physics**: ``MjxEngine.step`` alone (controls already on the device), Hopper-v5, at 1k / 8k / 64k
  worlds: env steps/s (each is ``frame_skip`` = 4 RK4 substeps), median of 5 timed blocks after a warm-up;
  then the same with the task logic on the device (``DeviceLogic``) and the observations handed to torch
  by DLPack; and at 1k the full host path, ``BatchedTask.step`` (numpy logic, autoreset, float64 copies).
  The peer measured in the same run is ``mujoco.batch`` on this machine's CPU threads at the same size.
* **lanes**: ``LaneTrainer`` of 64 / 256 / 1024 Hopper PPO lanes (one world each; PPO and MLA-PPO
  alternating, the paper's Table 2 rules) on the MJX engine, networks and update on the GPU, with
  ``--rollout`` steps per lane per cycle (default 256; CleanRL's 2048 is ``--rollout 2048``), minibatch
  64, 10 epochs: aggregate SPS of the second cycle, and its physics / acting / update split.

Compile times are reported with each first row at a size: XLA compiles per shape.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QPOS_TOL = 5e-6


class Budget:
    def __init__(self, seconds: float) -> None:
        self.t0, self.seconds = time.perf_counter(), seconds

    def left(self) -> float:
        return self.seconds - (time.perf_counter() - self.t0)


def _timed(fn: Callable[[], Any], sync: Callable[[], None], blocks: int = 5, min_s: float = 0.2) -> float:
    """Seconds per call: the median over ``blocks`` blocks, each long enough for ``min_s``."""
    fn()
    sync()
    t = time.perf_counter()
    fn()
    sync()
    once = max(time.perf_counter() - t, 1e-6)
    reps = max(1, int(min_s / once))
    out = []
    for _ in range(blocks):
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        sync()
        out.append((time.perf_counter() - t) / reps)
    return statistics.median(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true", help="small sizes, for JAX's CPU (the check of this script)")
    ap.add_argument("--budget", type=float, default=450.0, help="seconds for everything (default 450)")
    ap.add_argument("--rollout", type=int, default=None, help="steps per lane per cycle (default 256; small: 64)")
    ap.add_argument("--json", type=Path, default=None, help="also write the table here (default $OUT/gpu_check.json)")
    args = ap.parse_args(argv)
    budget = Budget(args.budget)

    import jax
    import numpy as np
    import torch

    from agents.tasks.mjx import DeviceLogic, MjxEngine, enable_compilation_cache

    enable_compilation_cache()
    from agents.tasks.batched import BatchedTask, load_model
    from agents.tasks.engine import MujocoBatchEngine
    from agents.tasks.equivalence import compare_to_gymnasium
    from agents.tasks.logic import make_task

    device = jax.devices()[0]
    cuda = torch.cuda.is_available()
    sizes = [16, 64] if args.small else [1024, 8192, 65536]
    lane_counts = [2, 4] if args.small else [64, 256, 1024]
    rollout = args.rollout or (64 if args.small else 256)
    rows: list[dict[str, Any]] = []
    env = {"jax": jax.__version__, "jax_device": str(device), "torch": torch.__version__,
           "torch_cuda": torch.cuda.get_device_name(0) if cuda else None, "python": sys.version.split()[0],
           "cpu_count": os.cpu_count(), "small": args.small, "rollout": rollout}

    def row(check: str, size: int | str, value: Any, unit: str, note: str = "") -> None:
        rows.append({"check": check, "size": size, "value": value, "unit": unit, "note": note})
        v = f"{value:,.4g}" if isinstance(value, float) else str(value)
        print(f"  {check:<34} {size!s:>8} {v:>14} {unit:<14} {note}", flush=True)

    task = make_task("Hopper-v5")
    model = load_model(task)
    engines: dict[int, MjxEngine] = {}

    def engine(num_worlds: int, capacity: int) -> tuple[MjxEngine, float]:
        t = time.perf_counter()
        e = MjxEngine(model, num_worlds, task.frame_skip, task.fields, capacity=capacity)
        e.reset(np.arange(num_worlds), np.tile(model.qpos0, (num_worlds, 1)), np.zeros((num_worlds, model.nv)))
        e.step(e._put(np.zeros((capacity, model.nu), dtype=np.float32)))
        e.block_until_ready()
        return e, time.perf_counter() - t

    print(f"gpu_check: {json.dumps(env)}", flush=True)
    # 1. equivalence with Gymnasium, on an engine compiled for the first physics size
    e4, compile_s = engine(4, sizes[0])
    a = compare_to_gymnasium("Hopper-v5", lambda n: BatchedTask("Hopper-v5", n, engine=e4, max_episode_steps=40),
                             n=4, steps=100, seed=11, max_episode_steps=40)
    ok = not a.end_mismatches and a.qpos < QPOS_TOL
    row("equivalence Hopper-v5 (100 steps)", 4, "pass" if ok else "FAIL", "",
        f"max|dqpos| {a.qpos:.2e}, max|dobs| {a.obs:.2e}, max|dreward| {a.reward:.2e}, "
        f"{a.terminated} ends, {len(a.end_mismatches)} differ; compile {compile_s:.0f} s")

    # 2. physics steps/s
    key = jax.random.PRNGKey(0)
    for n in sizes:
        if budget.left() < 60:
            row("physics MJX", n, "skipped", "", "budget")
            continue
        try:
            e, compile_s = engine(n, n)
        except Exception as exc:   # e.g. out of device memory at 64k
            row("physics MJX", n, "error", "", f"{type(exc).__name__}: {str(exc)[:120]}")
            continue
        engines[n] = e
        ctrl = jax.random.uniform(key, (n, model.nu), minval=-1.0, maxval=1.0)

        def step(e: MjxEngine = e, ctrl: Any = ctrl) -> None:
            e.step(ctrl)

        s = _timed(step, e.block_until_ready)
        row("physics MJX step", n, n / s, "env-steps/s", f"{s * 1e3:.2f} ms/step; first call {compile_s:.0f} s")
        logic = DeviceLogic(e, task, BatchedTask("Hopper-v5", 1).consts)

        def fused(logic: DeviceLogic = logic, ctrl: Any = ctrl) -> None:
            out = logic.step(ctrl)
            torch.utils.dlpack.from_dlpack(out.obs)     # zero-copy hand-over to torch on the same device

        s2 = _timed(fused, e.block_until_ready)
        row("physics + logic on device + DLPack", n, n / s2, "env-steps/s", f"{s2 * 1e3:.2f} ms/step")
        if n == sizes[0]:
            bt = BatchedTask("Hopper-v5", n, engine=e)
            bt.reset(seed=0)
            acts = np.random.default_rng(0).uniform(-1, 1, (n, model.nu)).astype(np.float32)

            def task_step(bt: BatchedTask = bt, acts: np.ndarray = acts) -> None:
                bt.step(acts)

            s3 = _timed(task_step, lambda: None)
            row("BatchedTask.step on MJX (host logic)", n, n / s3, "env-steps/s", f"{s3 * 1e3:.2f} ms/step")
        peer = MujocoBatchEngine(model, n, task.frame_skip, task.fields, nthread=os.cpu_count() or 1)
        peer.reset(np.arange(n), np.tile(model.qpos0, (n, 1)), np.zeros((n, model.nv)))
        zero_acts = np.zeros((n, model.nu))

        def peer_step(peer: MujocoBatchEngine = peer, acts: np.ndarray = zero_acts) -> None:
            peer.step(acts)

        s4 = _timed(peer_step, lambda: None, blocks=3, min_s=0.1)
        row("peer: mujoco.batch (CPU threads)", n, n / s4, "env-steps/s", f"{os.cpu_count()} threads; MJX/peer "
            f"{s4 / s:.2f}x")

    # 3. lane training
    from agents.lanes import LaneTrainer
    from agents.ppo import PPOConfig
    from agents.presets import preset
    from pgcheck.check import checked_scale

    cap = max(lane_counts)
    lane_engine_cap = sizes[0] if cap <= sizes[0] else cap
    estimate = 0.0
    for L in lane_counts:
        if budget.left() < max(30.0, 1.3 * estimate * 1.0):
            row("lanes PPO Hopper-v5", L, "skipped", "", f"budget (estimate {estimate:.0f} s)")
            continue
        t = time.perf_counter()
        configs = []
        for k in range(L):
            p = preset("ppo" if k % 2 == 0 else "mla-ppo", "Hopper-v5")
            configs.append(PPOConfig(env_id="Hopper-v5", total_steps=3 * rollout, num_steps=rollout, minibatch_size=64,
                                     update_epochs=10, device="cuda" if cuda else "cpu", seed=k // 2, **p))
        lanes = [(c, checked_scale(c.scale, c.scale_params)) for c in configs]
        eng = MjxEngine(model, L, task.frame_skip, task.fields, capacity=lane_engine_cap)
        trainer = LaneTrainer(lanes, nthread=1, exact=not cuda, engine=eng)
        cycles = []
        for _ in range(2):
            before = dict(trainer.timing)
            tc = time.perf_counter()
            trainer.train_one_update()
            cycles.append((time.perf_counter() - tc, {k: trainer.timing[k] - before[k] for k in trainer.timing}))
        wall, split = cycles[-1]
        row("lanes PPO Hopper-v5", L, L * rollout / wall, "steps/s",
            f"cycle {wall:.1f} s: physics {split['physics']:.1f}, acting {split['acting']:.1f}, update "
            f"{split['update']:.1f}; first cycle {cycles[0][0]:.1f} s")
        elapsed = time.perf_counter() - t
        estimate = elapsed * 4.0          # the next size has 4x the lanes
        trainer.close()

    result = {"environment": env, "rows": rows, "seconds": args.budget - budget.left()}
    target = args.json or (Path(os.environ["OUT"]) / "gpu_check.json" if os.environ.get("OUT") else None)
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(result, indent=1))
    print(f"gpu_check: {result['seconds']:.0f} s" + (f"; table in {target}" if target else ""))
    return 0 if all(r["value"] != "FAIL" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
