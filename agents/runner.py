"""Running training jobs: one seed in this process, several seeds in parallel processes, or on Ray.

A job is ``(run_dir, resume)``: everything else (config, scale) is read from ``run_dir``, which the
caller has already created (:func:`create_run`). A job re-validates its scale with
:func:`pgcheck.check.checked_scale` (the certificate cache makes this quick) and checks that the
certificate matches the one recorded in the run, so a worker never trains with an unchecked rule.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.ppo import Callback, PPOConfig
from agents.rundir import (
    RunLogger,
    get_status,
    load_checkpoint,
    read_config,
    read_json,
    set_status,
    write_json,
)
from pgcheck.errors import UserError
from pgcheck.files import atomic_write

if TYPE_CHECKING:
    from pgcheck.certificate import CheckedScale

BACKENDS = ("local", "ray")
ProgressFn = Callable[[dict[str, Any]], None]


def create_run(run: Path, config: PPOConfig, certificate_json: str, meta: dict[str, Any]) -> None:
    """Make a fresh run directory with its config, certificate and status."""
    run.mkdir(parents=True, exist_ok=True)
    write_json(run / "config.json", config.to_dict())
    atomic_write(run / "certificate.json", certificate_json)
    write_json(run / "run.json", meta)
    set_status(run, "created")


@dataclass
class JobResult:
    run: str
    status: str
    message: str
    global_step: int
    recent_return: float


def run_scale(run: Path, config: PPOConfig) -> CheckedScale:
    """The run's scale, validated again and required to match the certificate recorded in the run (a run
    directory is trained only with the function its certificate names); one-line errors otherwise."""
    from pgcheck.certificate import Certificate
    from pgcheck.check import checked_scale

    scale = checked_scale(config.scale, config.scale_params)   # refused: InvalidScaleError / ExprError
    recorded = Certificate.from_dict(read_json(run / "certificate.json"))
    if recorded.canonical_hash != scale.certificate.canonical_hash:
        raise UserError(f"{run}: the scale {config.scale!r} no longer matches the certificate recorded "
                        "in the run (different pgcheck version or definition)")
    return scale


def run_job(run_dir: str, resume: bool, progress: ProgressFn | None = None,
            stop_after_updates: int | None = None) -> JobResult:
    """Train (or continue) the run in ``run_dir`` to its total_steps. Never raises for a NaN loss:
    the run stops, keeps its last good checkpoint, and the result says why."""
    import torch

    from agents.ppo import PPO, NonFiniteLossError

    run = Path(run_dir)
    config = read_config(run)
    scale = run_scale(run, config)
    torch.set_num_threads(config.torch_threads)
    trainer = PPO(config, scale)
    state = load_checkpoint(run) if resume else None
    if state is not None:
        trainer.load_state_dict(state)
    logger = RunLogger(run, config.checkpoint_every, resume_step=trainer.global_step)
    callbacks: list[Callback] = [logger]
    if progress is not None:
        callbacks.append(_ProgressCallback(progress, str(run)))
    set_status(run, "running", pid=os.getpid(), resumed_from_step=trainer.global_step if resume else None,
               exact_env_state=trainer.exact_env_state, device=str(trainer.device))
    recent = float("nan")
    try:
        trainer.learn(callbacks, max_updates=stop_after_updates)
        if trainer.recent_returns:
            recent = sum(trainer.recent_returns) / len(trainer.recent_returns)
        finished = trainer.update_index >= config.num_updates
        status = "finished" if finished else "stopped"
        set_status(run, status, global_step=trainer.global_step, exact_env_state=trainer.exact_env_state)
        return JobResult(str(run), status, "", trainer.global_step, recent)
    except NonFiniteLossError as exc:
        # Minibatches before the failing one may have changed the weights in memory; nothing of this
        # update is saved, so the checkpoint on disk (if any) is the last good state.
        last = load_checkpoint(run)
        kept = int(last["global_step"]) if last is not None else 0
        where = (f"the last good checkpoint (step {kept}) is kept in {run / 'checkpoint.pt'}" if last is not None
                 else "no checkpoint had been written yet, so there is nothing to resume from")
        msg = f"{exc}; training stopped and nothing of this update was saved: {where}"
        set_status(run, "failed", reason=msg, global_step=kept)
        return JobResult(str(run), "failed", msg, kept, recent)
    except KeyboardInterrupt:
        set_status(run, "interrupted", global_step=trainer.global_step)
        raise
    finally:
        logger.close()
        trainer.close()


class _ProgressCallback(Callback):
    """Reports steps, SPS and the recent return after every update (and a heartbeat per episode)."""

    def __init__(self, sink: ProgressFn, run: str) -> None:
        self.sink, self.run = sink, run

    def on_update(self, trainer: Any, metrics: dict[str, float]) -> None:
        self.sink({"run": self.run, "step": int(metrics["global_step"]), "total": trainer.config.total_steps,
                   "sps": metrics["sps"], "recent_return": metrics["recent_return"]})


# ---------------------------------------------------------------------------------------------------
# progress bars


class ProgressBars:
    """One tqdm bar per run: steps, SPS and the mean return of the last 20 episodes."""

    def __init__(self, runs: Sequence[str], totals: Sequence[int], enabled: bool = True) -> None:
        self.bars: dict[str, Any] = {}
        if not enabled:
            return
        from tqdm import tqdm

        names = [Path(r).name for r in runs]
        if len(set(names)) < len(names):   # several configurations: LABEL/seed_K
            names = [f"{Path(r).parent.name}/{Path(r).name}" for r in runs]
        width = max(len(n) for n in names)
        for i, (r, name, total) in enumerate(zip(runs, names, totals, strict=True)):
            self.bars[r] = tqdm(total=total, desc=name.ljust(width), position=i, unit="step",
                                dynamic_ncols=True, file=sys.stderr, leave=True,
                                bar_format="{desc} {bar} {n_fmt}/{total_fmt} [{elapsed}<{remaining}]{postfix}")

    def __call__(self, msg: dict[str, Any]) -> None:
        bar = self.bars.get(msg["run"])
        if bar is None:
            return
        bar.n = msg["step"]
        ret = msg["recent_return"]
        bar.set_postfix_str(f"SPS {msg['sps']:.0f}  return {ret:.1f}" if ret == ret else
                            f"SPS {msg['sps']:.0f}  return -")

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


# ---------------------------------------------------------------------------------------------------
# several jobs


def _worker(run_dir: str, resume: bool, q: Any) -> JobResult:
    return run_job(run_dir, resume, progress=q.put if q is not None else None)


def run_local(jobs: Sequence[tuple[str, bool]], workers: int, progress: bool = True) -> list[JobResult]:
    """Run jobs in this process (one job) or in ``workers`` spawned processes (several)."""
    totals = [int(read_json(Path(r) / "config.json")["total_steps"]) for r, _ in jobs]
    bars = ProgressBars([r for r, _ in jobs], totals, enabled=progress)
    try:
        if len(jobs) == 1 or workers == 1:
            return [run_job(r, resume, progress=bars) for r, resume in jobs]
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context("spawn")
        with ctx.Manager() as manager:
            q = manager.Queue()
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                futures = [pool.submit(_worker, r, resume, q) for r, resume in jobs]
                while not all(f.done() for f in futures):
                    _drain(q, bars, timeout=0.2)
                _drain(q, bars, timeout=0.0)
                return [f.result() for f in futures]
    finally:
        bars.close()


def _drain(q: Any, sink: ProgressFn, timeout: float) -> None:
    try:
        msg = q.get(timeout=timeout) if timeout > 0 else q.get_nowait()
        while True:
            sink(msg)
            msg = q.get_nowait()
    except queue.Empty:
        return


def run_ray(jobs: Sequence[tuple[str, bool]], address: str | None) -> list[JobResult]:
    """Run each job as a Ray task (one CPU each). Run directories must be on storage the Ray workers
    share with this machine (the same path on every node), since each job reads and writes its run."""
    try:
        import ray
    except ImportError:
        raise UserError("the Ray backend needs the ray package: pip install 'pgcheck[ray]'") from None
    ray.init(address=address, ignore_reinit_error=True,
             runtime_env={"env_vars": {"OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}})
    remote_job = ray.remote(num_cpus=1)(run_job)
    refs = [remote_job.remote(r, resume) for r, resume in jobs]
    results: list[JobResult] = []
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        results.extend(ray.get(done))
        print(f"ray: {len(results)}/{len(refs)} jobs done", file=sys.stderr)
    order = {r: i for i, (r, _) in enumerate(jobs)}
    return sorted(results, key=lambda res: order[res.run])


def find_runs(root: Path) -> list[Path]:
    """The runs ``root`` stands for: itself (a run), the runs in it (RUN/seed_K), or, for a command that
    trained several configurations, the runs in each configuration's directory (RUN/LABEL/seed_K)."""
    from agents.rundir import is_run

    if is_run(root):
        return [root]
    if not root.is_dir():
        return []
    children = sorted(p for p in root.iterdir() if p.is_dir())
    runs = [p for p in children if is_run(p)]
    if runs:
        return runs
    return [q for p in children for q in sorted(p.iterdir()) if is_run(q)]


def pending_jobs(root: Path) -> list[tuple[str, bool]]:
    """The runs under ``root`` (see :func:`find_runs`) that have not finished, as resume jobs."""
    runs = find_runs(root)
    if not runs:
        raise UserError(f"{root} is not a run directory (no config.json) and holds none")
    return [(str(r), True) for r in runs if get_status(r).get("status") != "finished"]
