"""Running training jobs: one seed in this process, several seeds in parallel processes, or on Ray.

A job is ``(run_dir, resume)``: everything else (config, scale) is read from ``run_dir``, which the
caller has already created (:func:`create_run`). A job re-validates its scale with
:func:`pgcheck.check.checked_scale` (the certificate cache makes this quick) and checks that the
certificate matches the one recorded in the run, so a worker never trains with an unchecked rule.
"""

from __future__ import annotations

import logging
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
    CHECKPOINT,
    RunLogger,
    disk_failed,
    get_status,
    load_checkpoint,
    locked,
    provenance,
    read_config,
    read_json,
    restoring,
    run_groups,
    set_status,
    write_config,
    write_json,
)
from pgcheck.errors import UserError
from pgcheck.files import atomic_write

if TYPE_CHECKING:
    from pgcheck.certificate import CheckedScale

BACKENDS = ("local", "ray")
ProgressFn = Callable[[dict[str, Any]], None]


def create_run(run: Path, config: PPOConfig, certificate_json: str, meta: dict[str, Any], *,
               requested_total_steps: int | None = None, origin: dict[str, Any] | None = None) -> None:
    """Make a fresh run directory with its config (and the steps asked for, when the trained
    ``config.total_steps`` differs), certificate, status and run.json: ``meta`` and the ``origin``
    (:func:`agents.rundir.provenance`; computed for this process when not given)."""
    try:
        run.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot write {run}: {exc.strerror or exc}") from None
    write_config(run, config, requested_total_steps)
    atomic_write(run / "certificate.json", certificate_json)
    if origin is None:
        origin = provenance(["python", *sys.argv], config.device)
    write_json(run / "run.json", {**meta, "provenance": origin})
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
    try:
        recorded = Certificate.from_dict(read_json(run / "certificate.json"))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UserError(f"{run / 'certificate.json'}: not a pgcheck certificate "
                        f"({type(exc).__name__}: {exc})") from None
    if recorded.canonical_hash != scale.certificate.canonical_hash:
        raise UserError(f"{run}: the scale {config.scale!r} no longer matches the certificate recorded "
                        "in the run (different pgcheck version or definition)")
    return scale


def run_job(run_dir: str, resume: bool, progress: ProgressFn | None = None,
            stop_after_updates: int | None = None) -> JobResult:
    """Train (or continue) the run in ``run_dir`` to its total_steps. Never raises for a NaN loss:
    the run stops, keeps its last good checkpoint, and the result says why. The run is locked while it trains
    (:func:`agents.rundir.lock_run`): a second writer gets a one-line error."""
    run = Path(run_dir)
    config = read_config(run)
    scale = run_scale(run, config)
    with locked([run]):
        return _train(run, config, scale, resume, progress, stop_after_updates)


def _train(run: Path, config: PPOConfig, scale: CheckedScale, resume: bool, progress: ProgressFn | None,
           stop_after_updates: int | None) -> JobResult:
    import torch

    from agents.ppo import PPO, NonFiniteLossError

    torch.set_num_threads(config.torch_threads)
    before = get_status(run).get("status")
    state = load_checkpoint(run) if resume else None
    trainer = PPO(config, scale)
    try:
        if state is not None:
            with restoring(run / CHECKPOINT):
                trainer.load_state_dict(state)
    except BaseException:
        trainer.close()
        raise
    logger = RunLogger(run, config.checkpoint_every, resume_step=trainer.global_step)
    callbacks: list[Callback] = [logger]
    if progress is not None:
        callbacks.append(ProgressCallback(progress, str(run)))
    set_status(run, "running", pid=os.getpid(), resumed_from_step=trainer.global_step if resume else None,
               resumed_after=before if resume else None, exact_env_state=trainer.exact_env_state,
               device=str(trainer.device))
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
        return record_failure(run, f"{exc}; training stopped", recent)
    except (OSError, UserError) as exc:   # a checkpoint or CSV row that cannot be written
        raise disk_failed([run], exc) from None
    except KeyboardInterrupt:
        set_status(run, "interrupted", global_step=trainer.global_step)
        raise
    finally:
        logger.close()
        trainer.close()


def record_failure(run: Path, what: str, recent: float) -> JobResult:
    """Mark ``run`` failed after a non-finite loss (``what`` says what happened and what stopped) and say what
    is kept: minibatches before the failing one may have changed the weights in memory, but nothing of that
    update is saved, so the checkpoint on disk, if any, is the last good state."""
    last = load_checkpoint(run)
    kept = int(last["global_step"]) if last is not None else 0
    where = (f"the last good checkpoint (step {kept}) is kept in {run / CHECKPOINT}" if last is not None
             else "no checkpoint had been written yet, so there is nothing to resume from")
    msg = f"{what} and nothing of this update was saved: {where}"
    set_status(run, "failed", reason=msg, global_step=kept)
    return JobResult(str(run), "failed", msg, kept, recent)


class ProgressCallback(Callback):
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


def run_on_ray(fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]], runs: Sequence[Sequence[str]],
               address: str | None, progress: bool = True) -> list[Any]:
    """``fn(*call, progress=...)`` for every call as one Ray task (one CPU each), ``runs[k]`` the run
    directories call k trains; returns the results in the order of ``calls``. Progress: one bar per run (the
    tasks report to a Ray queue) or, without bars, a line per finished task. A task that fails does not stop
    the others; when all have ended, its error is raised as itself, one line (a UserError from the task stays
    a UserError) instead of Ray's wrapper with the remote traceback; a task Ray lost (a crashed worker or node)
    is a UserError naming its runs."""
    try:
        import ray
        import ray.exceptions
        from ray.util.queue import Queue
    except ImportError:
        raise UserError("the Ray backend needs the ray package: pip install 'pgcheck[ray]'") from None
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR,   # Ray's banners off stderr
                 runtime_env={"env_vars": {"OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}})
    flat = [r for rs in runs for r in rs]
    bars = ProgressBars(flat, [int(read_json(Path(r) / "config.json")["total_steps"]) for r in flat],
                        enabled=progress)
    q = Queue() if progress else None
    remote = ray.remote(num_cpus=1)(fn)
    refs = [remote.remote(*call, progress=q.put if q is not None else None) for call in calls]
    index = {ref: k for k, ref in enumerate(refs)}
    results: list[Any] = [None] * len(refs)
    errors: list[BaseException] = []
    pending = list(refs)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=0.2)
            if q is not None:
                for msg in q.get_nowait_batch(q.qsize()):
                    bars(msg)
            for ref in done:
                k = index[ref]
                try:
                    results[k] = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:
                    cause = getattr(exc, "cause", None)
                    errors.append(cause if isinstance(cause, Exception) else
                                  UserError(f"a Ray task for {', '.join(runs[k])} failed: "
                                            f"{str(exc).splitlines()[0][:200]}"))
                except ray.exceptions.RayError as exc:
                    first = str(exc).splitlines()[0][:200] if str(exc) else ""
                    errors.append(UserError(f"Ray lost the task for {', '.join(runs[k])} ({type(exc).__name__}: "
                                            f"{first}); its runs keep their last checkpoints: resume them"))
                if not progress:
                    print(f"ray: {', '.join(runs[k])} ended ({len(refs) - len(pending)}/{len(refs)})",
                          file=sys.stderr)
    finally:
        bars.close()
        if q is not None:
            q.shutdown()
    if errors:
        raise errors[0]
    return results


def run_ray(jobs: Sequence[tuple[str, bool]], address: str | None, progress: bool = True) -> list[JobResult]:
    """Run each job as a Ray task (one CPU each). Run directories must be on storage the Ray workers
    share with this machine (the same path on every node), since each job reads and writes its run."""
    out: list[JobResult] = run_on_ray(run_job, list(jobs), [[r] for r, _ in jobs], address, progress)
    return out


def find_runs(root: Path) -> list[Path]:
    """The runs ``root`` stands for (:func:`agents.rundir.run_groups`), one list."""
    return [r for _, runs in run_groups(root) for r in runs]


def pending_jobs(root: Path) -> list[tuple[str, bool]]:
    """The runs under ``root`` (see :func:`find_runs`) that have not finished, as resume jobs."""
    runs = find_runs(root)
    if not runs:
        raise UserError(f"{root} is not a run directory (no config.json) and holds none")
    return [(str(r), True) for r in runs if get_status(r).get("status") != "finished"]
