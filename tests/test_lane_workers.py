"""How ``pgcheck train`` spreads lanes over processes: the default number of lane processes, and a lane worker
dying with the process that started it (so that a killed ``pgcheck train`` leaves no trainer behind holding
its runs' locks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from agents import lanerun


@pytest.mark.parametrize(("cpus", "lanes", "expected"),
                         [(2, 16, 2), (2, 8, 2), (2, 7, 1), (2, 4, 1), (2, 1, 1), (16, 16, 4), (1, 64, 1)])
def test_default_lane_workers(monkeypatch: pytest.MonkeyPatch, cpus: int, lanes: int, expected: int) -> None:
    monkeypatch.setattr(lanerun, "physics_threads", lambda processes=1: max(1, cpus // processes))
    assert lanerun.default_lane_workers(lanes) == expected


def test_lane_groups_default_cuts_by_cpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """16 runs of one task on 2 CPUs: two groups of 8 (None = the default); --workers 1: one group of 16."""
    from agents.config import PPOConfig
    from agents.rundir import write_json

    monkeypatch.setattr(lanerun, "physics_threads", lambda processes=1: max(1, 2 // processes))
    jobs = []
    for s in range(16):
        run = tmp_path / f"seed_{s}"
        run.mkdir()
        write_json(run / "config.json", PPOConfig(seed=s).to_dict())
        jobs.append((str(run), False))
    groups, single = lanerun.lane_groups(jobs, None)
    assert [len(g) for g in groups] == [8, 8] and not single
    assert [len(g) for g in lanerun.lane_groups(jobs, 1)[0]] == [16]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_lane_worker_dies_with_its_parent(tmp_path: Path) -> None:
    """A parent starts a worker as run_groups_local does (spawn, initializer die_with_parent) and is SIGKILLed:
    the worker must be gone soon after. Negative control: without the initializer the worker outlives it."""
    for initializer, survives in (("die_with_parent", False), ("None", True)):
        pidfile = tmp_path / f"worker-{initializer}.pid"
        script = textwrap.dedent(f"""
            import multiprocessing as mp, os, time
            from concurrent.futures import ProcessPoolExecutor
            from agents.lanerun import die_with_parent

            def work(path):
                open(path, "w").write(str(os.getpid()))
                time.sleep(60)

            if __name__ == "__main__":
                with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"), initializer={initializer}) as pool:
                    pool.submit(work, {str(pidfile)!r}).result()
        """)
        program = tmp_path / f"parent_{initializer}.py"   # a file: spawn re-imports it to find work()
        program.write_text(script)
        err = open(tmp_path / f"stderr_{initializer}.txt", "w")  # noqa: SIM115 (closed in the finally below)
        parent = subprocess.Popen([sys.executable, str(program)], cwd=Path(__file__).resolve().parent.parent,
                                  env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
                                  # the killed parent's resource tracker reports its semaphores there, not here
                                  stderr=err)
        try:
            deadline = time.monotonic() + 60
            while not (pidfile.is_file() and pidfile.read_text()):
                assert time.monotonic() < deadline, "the worker did not start"
                time.sleep(0.1)
            worker = int(pidfile.read_text())
            parent.send_signal(signal.SIGKILL)
            parent.wait()
            deadline = time.monotonic() + 5
            while _alive(worker) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _alive(worker) == survives, initializer
        finally:
            parent.kill()
            err.close()
            if pidfile.is_file() and pidfile.read_text() and _alive(int(pidfile.read_text())):
                os.kill(int(pidfile.read_text()), signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a killed child of a dead parent is reaped by init; a zombie counts as gone
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
