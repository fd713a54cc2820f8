"""Runs that survive bad disks and bad files: a read-only place, a damaged checkpoint, a second writer, a
killed writer, steps that are not whole rollouts, and the provenance of a run. Each is one line, exit 2, and
nothing already computed is lost.

A read-only place is made for real: ``chattr +i`` (an immutable directory: root may not create a file in it
either; ``chmod`` would not stop root) or, where the filesystem has no such attribute, a read-only tmpfs.
"""

from __future__ import annotations

import contextlib
import errno
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from agents.ppo import PPOConfig
from agents.rundir import (
    CHECKPOINT,
    LOCK,
    REQUESTED,
    checkpoint_bytes,
    get_status,
    lock_run,
    provenance,
    read_checkpoint,
    read_config,
    set_status,
    unlock_run,
    write_config,
)
from agents.runner import create_run, run_job
from pgcheck.check import checked_scale
from pgcheck_cli.main import main

TINY: dict[str, Any] = {"env_id": "Hopper-v5", "total_steps": 512, "num_steps": 256, "minibatch_size": 64,
                        "update_epochs": 1, "seed": 3}


def make_run(run: Path, **kw: Any) -> Path:
    config = PPOConfig(**{**TINY, **kw})
    create_run(run, config, checked_scale(config.scale, config.scale_params).certificate.to_json(), {"label": "t"})
    return run


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny run (RUN/seed_3) to copy from."""
    root = tmp_path_factory.mktemp("trained") / "tiny"
    run = make_run(root / "seed_3")
    assert run_job(str(run), resume=False).status == "finished"
    return root


def copy_run(trained: Path, dest: Path) -> Path:
    shutil.copytree(trained, dest)
    return dest


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[str]:
    """``path`` (an existing directory) made read-only for root too; yields how."""
    probe = path / ".probe"
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0:
        try:
            try:
                probe.touch()
            except PermissionError:
                yield "chattr +i"
                return
            probe.unlink()
        finally:
            subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(path)], capture_output=True).returncode:
        pytest.skip("neither chattr +i nor a read-only tmpfs mount is possible here")
    try:
        yield "read-only tmpfs"
    finally:
        subprocess.run(["umount", str(path)], capture_output=True)


def one_line_error(capsys: pytest.CaptureFixture[str], code: int, *needles: str) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import gymnasium

    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("an environment was created")

    monkeypatch.setattr(gymnasium, "make", refuse)
    monkeypatch.setattr("agents.evaluate.make_env", refuse)


# ---------------------------------------------------------------------------------------------------
# 1. a read-only --out


@pytest.mark.parametrize("where", ["inside", "itself"])
def test_train_into_a_read_only_place_is_one_line(tmp_path: Path, where: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    out = ro / "run" if where == "inside" else ro
    with read_only(ro):
        code = main(["train", "--total-steps", "512", "--set", "num_steps=256", "--no-progress", "--out", str(out)])
    one_line_error(capsys, code, f"cannot write in {out}")
    assert not any(ro.iterdir())


def test_compare_into_a_read_only_place_fails_before_the_work(trained: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def no_work(*a: object) -> None:
        raise AssertionError("compared before checking that the result can be written")

    monkeypatch.setattr("agents.compare.table", no_work)
    ro = tmp_path / "ro"
    ro.mkdir()
    with read_only(ro):
        code = main(["compare", str(trained), "--out", str(ro / "cmp")])
    one_line_error(capsys, code, f"cannot write in {ro}")
    runs = copy_run(trained, tmp_path / "runs")
    with read_only(runs):   # the default output lies next to the runs
        code = main(["compare", str(runs)])
    one_line_error(capsys, code, f"cannot write in {runs}")


def test_evaluate_a_read_only_run_fails_before_any_episode(trained: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    no_environment(monkeypatch)
    runs = copy_run(trained, tmp_path / "runs")
    with read_only(runs / "seed_3"):
        code = main(["evaluate", str(runs), "--episodes", "2"])
    one_line_error(capsys, code, f"cannot write in {runs / 'seed_3'}")
    assert not (runs / "seed_3" / "evaluation.json").exists()


def test_evaluate_whose_save_fails_at_the_end_prints_the_result(trained: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up between the check and the save (simulated at the OS boundary: the final rename)."""
    import os

    def full(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    runs = copy_run(trained, tmp_path / "runs")
    monkeypatch.setattr(os, "replace", full)   # the rename that ends every atomic write (pgcheck.files)
    code = main(["evaluate", str(runs), "--episodes", "2"])
    out, err = capsys.readouterr()
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "evaluation.json: No space left on device; the result is printed above as JSON" in err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["episodes"] == 2 and len(result["returns"]) == 2


@pytest.mark.parametrize("env", ["Hopper-v5", "Pendulum-v1"])   # lanes of one trainer; a single run
def test_a_disk_that_fills_up_during_training_is_one_line(tmp_path: Path, env: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A real full disk: a 96 KiB tmpfs, enough for the run's first files and not for its checkpoints."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        code = main(["train", "--env", env, "--total-steps", "4096", "--set", "num_steps=256", "--set",
                     "update_epochs=1", "--set", "checkpoint_every=1", "--no-progress", "--out", str(disk / "r")])
        err = one_line_error(capsys, code, "No space left on device", "the last checkpoint is kept")
        status = json.loads((disk / "r" / "seed_0" / "status.json").read_text())
        assert status["status"] == "failed" and "No space left on device" in status["reason"], err
        assert not (disk / "r" / "seed_0" / LOCK).exists()
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


# ---------------------------------------------------------------------------------------------------
# 2. a damaged checkpoint, on every path that reads one


def _damage(run: Path, kind: str) -> str:
    path = run / CHECKPOINT
    data = path.read_bytes()
    if kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "garbage":
        path.write_bytes(b"\x80\x04not a checkpoint" * 50)
    elif kind == "foreign dict":
        torch.save({"global_step": 5}, path)
    elif kind == "another shape":
        state = read_checkpoint(path)
        state["policy"]["actor.0.weight"] = torch.zeros(64, 3)
        path.write_bytes(checkpoint_bytes(state))
    elif kind == "damaged next":   # a lane set's half-written second phase (agents.lanerun)
        (run / "checkpoint.next.pt").write_bytes(b"junk")
        return "checkpoint.next.pt"
    return CHECKPOINT


KINDS = ["truncated", "garbage", "foreign dict", "another shape"]


@pytest.mark.parametrize(("command", "kind"), [*(("evaluate", k) for k in KINDS),   # evaluate reads checkpoint.pt
                                               *(("resume", k) for k in [*KINDS, "damaged next"])])
def test_a_damaged_checkpoint_is_one_line(trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          command: str, kind: str) -> None:
    runs = copy_run(trained, tmp_path / "runs")
    name = _damage(runs / "seed_3", kind)
    if command == "evaluate":
        code = main(["evaluate", str(runs), "--episodes", "1"])
    else:
        set_status(runs / "seed_3", "running")   # killed: not finished
        code = main(["train", "--resume", str(runs), "--no-progress"])
    one_line_error(capsys, code, f"{runs / 'seed_3' / name}: ")


def test_a_garbage_checkpoint_through_the_console_is_exactly_one_line(trained: Path, tmp_path: Path) -> None:
    """Through the console script, where a warning torch prints would be a second and third line."""
    runs = copy_run(trained, tmp_path / "runs")
    _damage(runs / "seed_3", "garbage")
    r = subprocess.run([sys.executable, "-m", "pgcheck_cli.main", "evaluate", str(runs)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "refused: not a pgcheck checkpoint of tensors and plain data (Unsupported operand" in r.stderr


# ---------------------------------------------------------------------------------------------------
# 3. one writer per run


HOLD = """import sys, time
from pathlib import Path
from agents.rundir import lock_run, set_status
runs = [Path(p) for p in sys.argv[1:]]
for run in runs:
    lock_run(run)
    set_status(run, "running")
print("locked", flush=True)
time.sleep(120)
"""


@contextlib.contextmanager
def holder(*runs: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process that holds the locks of ``runs`` until it is killed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, *map(str, runs)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_second_writer_gets_one_line_and_changes_nothing(trained: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    runs = copy_run(trained, tmp_path / "runs")
    run = runs / "seed_3"
    def files() -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in run.iterdir() if p.is_file() and p.name not in ("status.json", LOCK)}

    before = files()
    with holder(run) as proc:
        code = main(["train", "--resume", str(runs), "--no-progress"])
        one_line_error(capsys, code, f"{run} is being trained by pid {proc.pid} on ", "one writer at a time")
        with pytest.raises(Exception, match=f"being trained by pid {proc.pid}"):
            run_job(str(run), resume=True)   # the library refuses too, whoever calls it
        assert files() == before
        assert get_status(run)["status"] == "running"


def test_a_dead_writers_lock_is_taken_over_and_the_run_is_marked_died(tmp_path: Path) -> None:
    run = make_run(tmp_path / "seed_3")
    with holder(run) as proc:
        pass   # killed on leaving: its lock file (with its pid) stays behind
    assert json.loads((run / LOCK).read_text())["pid"] == proc.pid
    assert get_status(run)["status"] == "died"          # what a reader sees meanwhile
    assert json.loads((run / "status.json").read_text())["status"] == "running"
    lock = lock_run(run)
    try:
        assert lock.previous is not None and lock.previous["pid"] == proc.pid
        status = json.loads((run / "status.json").read_text())
        assert (status["status"], status["pid"]) == ("died", proc.pid)
        assert "ended without finishing" in status["reason"]
    finally:
        unlock_run(lock)
    assert not (run / LOCK).exists()
    lock = lock_run(run)   # a clean release leaves no previous holder
    assert lock.previous is None
    unlock_run(lock)


def test_every_lane_is_locked_while_it_trains_and_all_or_none(tmp_path: Path) -> None:
    from agents.lanerun import run_lanes_job

    runs = [make_run(tmp_path / f"seed_{s}", seed=s) for s in (0, 1)]
    seen: dict[str, Any] = {}

    def sink(msg: dict[str, Any]) -> None:
        seen[msg["run"]] = [json.loads((r / LOCK).read_text())["pid"] for r in runs]

    results = run_lanes_job([str(r) for r in runs], resume=False, progress=sink)
    assert [r.status for r in results] == ["finished", "finished"]
    import os

    assert seen and all(pids == [os.getpid()] * 2 for pids in seen.values())
    assert not any((r / LOCK).exists() for r in runs)
    with holder(runs[1]) as proc, pytest.raises(Exception, match=f"seed_1 is being trained by pid {proc.pid}"):
        run_lanes_job([str(r) for r in runs], resume=True)
    assert not (runs[0] / LOCK).exists()   # the lane it did lock is released again


# ---------------------------------------------------------------------------------------------------
# 5. steps that are not whole rollouts; 6. provenance


def test_steps_are_cut_to_whole_rollouts_said_first_and_recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import pgcheck_cli.commands.train as train

    def launched(args: object, jobs: list[tuple[str, bool]], out: Path) -> int:
        print("-- training starts --")
        return 0

    monkeypatch.setattr(train, "_launch", launched)
    out = tmp_path / "r"
    assert main(["train", "--total-steps", "100000", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    line = ("pgcheck train: 100000 steps is not a whole number of rollouts of 2048 (num_steps 2048 × num_envs 1): "
            "each run trains 98304 steps (48 updates); config.json records both")
    assert line in stdout and stdout.index(line) < stdout.index("-- training starts --")
    assert "98304 steps × 1 seed(s)" in stdout
    recorded = json.loads((out / "seed_0" / "config.json").read_text())
    assert (recorded["total_steps"], recorded[REQUESTED]) == (98304, 100000)
    config = read_config(out / "seed_0")
    assert config.total_steps == 98304 and config.num_updates == 48
    write_config(out / "seed_0", config)   # rewriting (e.g. another device on resume) keeps what was asked for
    assert json.loads((out / "seed_0" / "config.json").read_text())[REQUESTED] == 100000
    assert main(["train", "--total-steps", "4096", "--out", str(tmp_path / "whole")]) == 0
    assert "not a whole number" not in capsys.readouterr().out


def test_run_json_records_where_the_run_came_from(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata
    import platform

    import pgcheck_cli.commands.train as train

    monkeypatch.setattr(train, "_launch", lambda *a: 0)
    monkeypatch.setattr(sys, "argv", ["pgcheck", "train", "--seeds", "0-1", "--out", str(tmp_path / "r")])
    assert main(sys.argv[1:]) == 0
    repo = Path(__file__).resolve().parents[1]
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True)
    for s in (0, 1):
        prov = json.loads((tmp_path / "r" / f"seed_{s}" / "run.json").read_text())["provenance"]
        assert prov["command"] == sys.argv
        assert prov["versions"] == {d: importlib.metadata.version(d) for d in ("torch", "gymnasium", "mujoco", "numpy")}
        assert prov["python"] == platform.python_version() and prov["pgcheck"] == "0.1.0"
        assert prov["device"] == "cpu" and prov["cpu"] and prov["host"]
        if head.returncode == 0:   # a git checkout of pgcheck: its commit
            assert prov["git"]["commit"] == head.stdout.strip()


def test_provenance_without_git_is_no_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")   # no git program at all
    prov = provenance(["x"], "auto")
    assert prov["git"] is None and prov["versions"]["torch"] == torch.__version__


def test_a_copy_outside_a_checkout_has_no_commit(tmp_path: Path) -> None:
    from agents.rundir import _git_commit

    shutil.copytree(Path(__file__).resolve().parents[1] / "pgcheck", tmp_path / "pgcheck")
    assert _git_commit(tmp_path / "pgcheck") is None


# ---------------------------------------------------------------------------------------------------
# 8. evaluate RUN on the output of a command with several configurations


def test_evaluate_every_configuration_grouped_by_label(trained: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "multi"
    for label in ("ppo", "mla-ppo"):
        copy_run(trained, out / label)
    assert main(["evaluate", str(out), "--episodes", "1"]) == 0, capsys.readouterr().err
    stdout = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in stdout] == [
        str(out / "mla-ppo" / "seed_3"), "mla-ppo", str(out / "ppo" / "seed_3"), "ppo"]
    assert stdout[1].startswith("mla-ppo: mean return ") and stdout[1].endswith("over 1 run(s) (std across runs 0.0)")
    for label in ("ppo", "mla-ppo"):
        assert json.loads((out / label / "seed_3" / "evaluation.json").read_text())["episodes"] == 1
