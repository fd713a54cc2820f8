"""Running a group of run directories as lanes of one :class:`agents.lanes.LaneTrainer`.

Every lane writes its own run directory exactly as a single run does (:mod:`agents.rundir`): config,
certificate, status, metrics.csv, episodes.csv, tb/ and checkpoint.pt, the latter in :meth:`PPO.state_dict`'s
format plus the lane's worlds (``batched_env_states``), so ``evaluate``, ``compare`` and ``--resume`` work on
each directory by itself.

Checkpoints are per lane (not one lane-stacked file) so that each run directory stays self-contained. The
lanes of a group are saved as a set, in two phases: every lane's new state is first written to
``checkpoint.next.pt`` (atomically), then each is renamed to ``checkpoint.pt``. A kill in the first phase
leaves every ``checkpoint.pt`` at the previous update; a kill in the second leaves every lane with the new
state in one of the two files. :func:`recover_checkpoints` tells the two apart on resume, so a killed
multi-lane run always restarts from one consistent update of all its lanes, and resumes bitwise.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from agents.algos import extra_metrics
from agents.lanes import LaneTrainer
from agents.ppo import Callback
from agents.rundir import (
    CHECKPOINT,
    RunLogger,
    checkpoint_bytes,
    disk_failed,
    get_status,
    load_checkpoint,
    locked,
    read_checkpoint,
    read_config,
    read_json,
    restoring,
    set_status,
)
from agents.runner import JobResult, ProgressCallback, ProgressFn, record_failure, run_on_ray, run_scale
from pgcheck.errors import UserError
from pgcheck.files import atomic_write

NEXT = "checkpoint.next.pt"


def _load(path: Path) -> dict[str, Any]:
    return read_checkpoint(path)  # weights_only: a checkpoint cannot run code while it is read


def _update_index(path: Path, state: dict[str, Any]) -> int:
    with restoring(path):
        return int(state["update_index"])


def save_lane_checkpoints(trainer: LaneTrainer, runs: Sequence[Path], lanes: Sequence[int]) -> None:
    """Write the checkpoints of ``lanes`` as one set (see the module docstring)."""
    for i in lanes:
        atomic_write(runs[i] / NEXT, checkpoint_bytes(trainer.lane_state_dict(i)))
    for i in lanes:
        os.replace(runs[i] / NEXT, runs[i] / CHECKPOINT)


def recover_checkpoints(runs: Sequence[Path]) -> None:
    """Finish or undo an interrupted :func:`save_lane_checkpoints` of these runs (failed runs excluded)."""
    live = [r for r in runs if get_status(r).get("status") != "failed"]
    nexts = {r: _update_index(r / NEXT, _load(r / NEXT)) for r in live if (r / NEXT).is_file()}
    if not nexts:
        return
    target = max(nexts.values())
    current = {r: _update_index(r / CHECKPOINT, _load(r / CHECKPOINT)) if (r / CHECKPOINT).is_file() else -1
               for r in live}
    complete = all(nexts.get(r) == target or current[r] == target for r in live)
    for r in nexts:
        if complete:
            os.replace(r / NEXT, r / CHECKPOINT)
        else:
            (r / NEXT).unlink()


class _LaneLogger(Callback):
    """A lane's :class:`RunLogger` (CSV and TensorBoard); checkpoints are written by the group."""

    def __init__(self, logger: RunLogger) -> None:
        self.logger = logger

    def on_episode(self, trainer: Any, step: int, episode_return: float, length: int) -> None:
        self.logger.on_episode(trainer, step, episode_return, length)

    def on_update(self, trainer: Any, metrics: dict[str, float]) -> None:
        self.logger.write_metrics(metrics)


def physics_threads(processes: int = 1) -> int:
    """Physics threads for each of ``processes`` lane processes running at once: the CPUs this process may use,
    shared out (at least 1). ``mujoco.batch`` releases the GIL, so the threads use cores the learner leaves."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cpus // max(1, processes))


# lanes per process below which a second process is not started by default (see default_lane_workers)
MIN_LANES_PER_PROCESS = 4


def default_lane_workers(lanes: int) -> int:
    """Lane processes for ``lanes`` runs when ``--workers`` is not given: one per CPU, each with at least
    :data:`MIN_LANES_PER_PROCESS` lanes. Measured (``benchmarks/bench_lanes.py``, idle 2-core machine, Hopper,
    16 lanes): two processes of 8 lanes, each stepping its physics on one thread and then running its learner,
    keep both cores busy — 12.9k SPS against 9.8k for one process whose learner leaves the second core idle
    (1.3×); under load the two were even (0.8–1.2×). Below 4 lanes a process has little to batch."""
    return max(1, min(physics_threads(), lanes // MIN_LANES_PER_PROCESS))


def run_lanes_job(run_dirs: Sequence[str], resume: bool, progress: ProgressFn | None = None,
                  stop_after_updates: int | None = None, nthread: int | None = None) -> list[JobResult]:
    """Train (or continue) the runs ``run_dirs`` as lanes of one trainer, its physics on ``nthread`` threads
    (default :func:`physics_threads`). Never raises for a NaN loss: that lane stops, keeps its last good
    checkpoint and its result (and status.json) say why; the others go on. Every lane's run directory is
    locked while it trains (:func:`agents.rundir.lock_run`)."""
    runs = [Path(r) for r in run_dirs]
    with locked(runs):
        return _run_lanes(runs, resume, progress, stop_after_updates, nthread)


def _run_lanes(runs: list[Path], resume: bool, progress: ProgressFn | None,
               stop_after_updates: int | None, nthread: int | None) -> list[JobResult]:
    configs = [read_config(r) for r in runs]
    scales = [run_scale(r, c) for r, c in zip(runs, configs, strict=True)]
    if resume:
        recover_checkpoints(runs)
    states = [load_checkpoint(r) if resume else None for r in runs]
    indices = {_update_index(r / CHECKPOINT, s) if s is not None else 0 for r, s in zip(runs, states, strict=True)}
    if len(indices) > 1:
        raise UserError(f"the runs {', '.join(map(str, runs))} are at different updates; resume them separately")
    torch.set_num_threads(configs[0].torch_threads)
    trainer = LaneTrainer(list(zip(configs, scales, strict=True)),
                          nthread=physics_threads() if nthread is None else nthread)
    for i, state in enumerate(states):
        if state is not None:
            with restoring(runs[i] / CHECKPOINT):
                trainer.load_lane_state_dict(i, state)
    loggers = [RunLogger(r, c.checkpoint_every, resume_step=ln.global_step, extra_columns=extra_metrics(c.algo))
               for r, c, ln in zip(runs, configs, trainer.lanes, strict=True)]
    callbacks: list[list[Callback]] = []
    for r, logger in zip(runs, loggers, strict=True):
        cbs: list[Callback] = [_LaneLogger(logger)]
        if progress is not None:
            cbs.append(ProgressCallback(progress, str(r)))
        callbacks.append(cbs)
    for r, ln in zip(runs, trainer.lanes, strict=True):
        set_status(r, "running", pid=os.getpid(), resumed_from_step=ln.global_step if resume else None,
                   exact_env_state=ln.exact_env_state, device=str(trainer.device), lanes=len(runs))
    reported: set[int] = set()
    results: dict[int, JobResult] = {}
    c = trainer.config
    try:
        done = 0
        while trainer.active and trainer.update_index < c.num_updates and (
                stop_after_updates is None or done < stop_after_updates):
            trainer.train_one_update(callbacks)
            done += 1
            for i, reason in trainer.failed.items():
                if i not in reported:
                    reported.add(i)
                    results[i] = _failed(runs[i], reason)
            u = trainer.update_index
            if u % c.checkpoint_every == 0 or u >= c.num_updates:
                save_lane_checkpoints(trainer, runs, trainer.active)
        for i in trainer.active:
            ln = trainer.lanes[i]
            recent = sum(ln.recent_returns) / len(ln.recent_returns) if ln.recent_returns else float("nan")
            status = "finished" if ln.update_index >= c.num_updates else "stopped"
            set_status(runs[i], status, global_step=ln.global_step, exact_env_state=ln.exact_env_state,
                       lanes=len(runs))
            results[i] = JobResult(str(runs[i]), status, "", ln.global_step, recent)
        return [results[i] for i in range(len(runs))]
    except (OSError, UserError) as exc:   # a checkpoint or CSV row that cannot be written
        raise disk_failed([runs[i] for i in trainer.active] or runs, exc) from None
    except KeyboardInterrupt:
        for i in trainer.active:
            set_status(runs[i], "interrupted", global_step=trainer.lanes[i].global_step)
        raise
    finally:
        for logger in loggers:
            logger.close()
        trainer.close()


def _failed(run: Path, reason: str) -> JobResult:
    return record_failure(run, f"{reason}; this lane stopped (the others go on)", float("nan"))



# ---------------------------------------------------------------------------------------------------
# groups of lanes: in this process, in worker processes, or as Ray tasks


def lane_groups(jobs: Sequence[tuple[str, bool]], workers: int | None
                ) -> tuple[list[list[str]], list[tuple[str, bool]]]:
    """Split ``jobs`` into lane groups (runs of a batched task that can share a trainer: same shared fields,
    same resume flag and checkpoint update), each cut into at most ``workers`` pieces (None:
    :func:`default_lane_workers` of the group's size); and the jobs that must run alone (environments without
    a batched task)."""
    from agents.lanes import SHARED_FIELDS
    from agents.tasks import TASKS

    keyed: dict[tuple[Any, ...], list[str]] = {}
    single: list[tuple[str, bool]] = []
    if any(resume for _, resume in jobs):
        recover_checkpoints([Path(r) for r, resume in jobs if resume])
    for run_dir, resume in jobs:
        config = read_config(Path(run_dir))
        if config.env_id not in TASKS:
            single.append((run_dir, resume))
            continue
        state = load_checkpoint(Path(run_dir)) if resume else None
        index = _update_index(Path(run_dir) / CHECKPOINT, state) if state is not None else 0
        key = (*(repr(getattr(config, f)) for f in SHARED_FIELDS), resume, index)
        keyed.setdefault(key, []).append(run_dir)
    groups: list[list[str]] = []
    for runs in keyed.values():
        k = max(1, min(default_lane_workers(len(runs)) if workers is None else workers, len(runs)))
        size = -(-len(runs) // k)
        groups += [runs[j:j + size] for j in range(0, len(runs), size)]
    return groups, single


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (``prctl(PR_SET_PDEATHSIG)``); elsewhere nothing.
    A worker killed so leaves its runs as a killed run does: the last checkpoint set, resumable."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)     # 1 = PR_SET_PDEATHSIG
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:   # the parent died before prctl took effect
        os._exit(1)


def _group_worker(runs: list[str], resume: bool, q: Any, nthread: int) -> list[JobResult]:
    return run_lanes_job(runs, resume, progress=q.put if q is not None else None, nthread=nthread)


def run_groups_local(groups: Sequence[Sequence[str]], resume: bool, workers: int | None,
                     progress: bool = True) -> list[JobResult]:
    """Each group as one trainer: in this process (one group) or in ``workers`` spawned processes (None: one
    per group). A worker dies with this process (a kill of ``pgcheck train`` stops its lanes too, so that
    ``--resume`` finds the runs unlocked)."""
    import multiprocessing as mp

    from agents.runner import ProgressBars, _drain

    workers = len(groups) if workers is None else workers
    flat = [r for g in groups for r in g]
    totals = [int(read_json(Path(r) / "config.json")["total_steps"]) for r in flat]
    bars = ProgressBars(flat, totals, enabled=progress)
    try:
        if len(groups) == 1 or workers == 1:
            return [res for g in groups for res in run_lanes_job(list(g), resume, progress=bars)]
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context("spawn")
        with ctx.Manager() as manager:
            q = manager.Queue()
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=die_with_parent) as pool:
                nthread = physics_threads(min(workers, len(groups)))
                futures = [pool.submit(_group_worker, list(g), resume, q, nthread) for g in groups]
                while not all(f.done() for f in futures):
                    _drain(q, bars, timeout=0.2)
                _drain(q, bars, timeout=0.0)
                return [res for f in futures for res in f.result()]
    finally:
        bars.close()


def _one_cpu_lanes_job(run_dirs: Sequence[str], resume: bool, progress: ProgressFn | None = None) -> list[JobResult]:
    # a Ray task holds one CPU, so its physics gets one thread, not every CPU of the node
    return run_lanes_job(run_dirs, resume, progress, nthread=1)


def run_groups_ray(groups: Sequence[Sequence[str]], resume: bool, address: str | None,
                   progress: bool = True) -> list[JobResult]:
    """Each group as one Ray task (one CPU): run directories must be on storage every node shares."""
    per_group = run_on_ray(_one_cpu_lanes_job, [(list(g), resume) for g in groups], groups, address, progress)
    return [res for results in per_group for res in results]
