"""Checkpoints: an interrupted and resumed run ends bitwise where an uninterrupted one does; NaN stops a
run and keeps the last good checkpoint."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from agents.ppo import PPO, PPOConfig, RolloutBatch
from agents.rundir import get_status, load_checkpoint
from agents.runner import create_run, run_job
from pgcheck.check import checked_scale

CONFIG: dict[str, Any] = {"env_id": "Hopper-v5", "total_steps": 2048, "num_steps": 512, "minibatch_size": 64,
                          "update_epochs": 2, "checkpoint_every": 1, "seed": 7, "scale": "mla_ppo",
                          "scale_params": {"ao": "0.1", "ar": "1.0", "eps": "0.2"}, "alpha": 0.01}


def _make(run: Path, **kw: Any) -> None:
    config = PPOConfig(**{**CONFIG, **kw})
    scale = checked_scale(config.scale, config.scale_params)
    create_run(run, config, scale.certificate.to_json(), {"label": run.parent.name})


def _same_final_state(a: Path, b: Path) -> None:
    sa, sb = load_checkpoint(a), load_checkpoint(b)
    assert sa is not None and sb is not None
    assert sa["global_step"] == sb["global_step"] == CONFIG["total_steps"]
    for k, v in sa["policy"].items():
        assert torch.equal(v, sb["policy"][k]), k
    for k in ("mean", "var", "count"):
        assert np.array_equal(sa["obs_norm"]["rms"][k], sb["obs_norm"]["rms"][k]), k
    assert sa["act_rng"] == sb["act_rng"] and sa["mb_rng"] == sb["mb_rng"]
    for name in ("metrics.csv", "episodes.csv"):
        with open(a / name) as fa, open(b / name) as fb:
            ra, rb = list(csv.DictReader(fa)), list(csv.DictReader(fb))
        assert [r["global_step"] for r in ra] == [r["global_step"] for r in rb], name
        if name == "episodes.csv":
            assert ra == rb


def test_stopped_and_resumed_run_equals_uninterrupted(tmp_path: Path) -> None:
    _make(tmp_path / "a")
    _make(tmp_path / "b")
    assert run_job(str(tmp_path / "a"), resume=False).status == "finished"
    assert run_job(str(tmp_path / "b"), resume=False, stop_after_updates=2).status == "stopped"
    assert run_job(str(tmp_path / "b"), resume=True).status == "finished"
    _same_final_state(tmp_path / "a", tmp_path / "b")


def test_killed_cli_run_resumes_to_the_same_parameters(tmp_path: Path) -> None:
    """A real SIGKILL at an arbitrary moment after the second checkpoint, then ``train --resume``."""
    args = ["--env", "Hopper-v5", "--preset", "mla-ppo", "--seeds", "7", "--total-steps", "2048", "--no-progress",
            "--set", "num_steps=512", "--set", "update_epochs=2", "--set", "checkpoint_every=1"]
    cmd = [sys.executable, "-m", "pgcheck_cli.main", "train", *args]
    ref = subprocess.run([*cmd, "--out", str(tmp_path / "ref")], capture_output=True, text=True, timeout=120)
    assert ref.returncode == 0, ref.stderr
    killed = tmp_path / "killed"
    proc = subprocess.Popen([*cmd, "--out", str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 90
    while time.time() < deadline:
        state = load_checkpoint(killed / "seed_7") if (killed / "seed_7" / "checkpoint.pt").exists() else None
        if state is not None and state["global_step"] >= 1024:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # it really was killed mid-run: status.json still says so, and a reader sees that its process is gone
    assert json.loads((killed / "seed_7" / "status.json").read_text())["status"] == "running"
    assert get_status(killed / "seed_7")["status"] == "died"
    r = subprocess.run([sys.executable, "-m", "pgcheck_cli.main", "train", "--resume", str(killed), "--no-progress"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "resuming 1 run(s)" in r.stdout and "afresh" not in r.stdout
    _same_final_state(tmp_path / "ref" / "seed_7", killed / "seed_7")
    assert not (killed / "seed_7" / "lock").exists()


def test_killed_before_its_first_checkpoint_resume_says_so_and_starts_afresh(tmp_path: Path) -> None:
    """A real SIGKILL after the first update but before any checkpoint (the first is at the end): nothing
    to resume from, so the seed starts afresh, and ends where an uninterrupted run does, rows not doubled."""
    args = ["--env", "Hopper-v5", "--preset", "mla-ppo", "--seeds", "7", "--total-steps", "2048", "--no-progress",
            "--set", "num_steps=512", "--set", "update_epochs=2", "--set", "checkpoint_every=10"]
    cmd = [sys.executable, "-m", "pgcheck_cli.main", "train", *args]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([*cmd, "--out", str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = killed / "seed_7" / "metrics.csv"
    deadline = time.time() + 90
    while time.time() < deadline and not (metrics.is_file() and len(metrics.read_text().splitlines()) >= 2):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(metrics.read_text().splitlines()) >= 2 and not (killed / "seed_7" / "checkpoint.pt").exists()
    ref = subprocess.run([*cmd, "--out", str(tmp_path / "ref")], capture_output=True, text=True, timeout=120)
    assert ref.returncode == 0, ref.stderr
    r = subprocess.run([sys.executable, "-m", "pgcheck_cli.main", "train", "--resume", str(killed), "--no-progress"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (f"pgcheck train: {killed / 'seed_7'} has no checkpoint (it ended before its first one was saved): "
            "starting seed 7 afresh") in r.stdout
    _same_final_state(tmp_path / "ref" / "seed_7", killed / "seed_7")
    status = get_status(killed / "seed_7")
    assert status["status"] == "finished"


@pytest.mark.parametrize(("key", "message"), [("obs", "the loss became nan at update 3"),
                                                ("advantages", "the advantages of update 3 contain NaN")])
def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              key: str, message: str) -> None:
    original = PPO.evaluate_rollout

    def poisoned(self: PPO) -> RolloutBatch:
        batch = original(self)
        if self.update_index == 2:  # the third update sees one NaN
            getattr(batch, key)[5] = float("nan")
        return batch

    monkeypatch.setattr(PPO, "evaluate_rollout", poisoned)
    run = tmp_path / "nan" / "seed_7"
    _make(run)
    result = run_job(str(run), resume=False)
    assert result.status == "failed"
    assert message in result.message
    assert "last good checkpoint (step 1024)" in result.message
    state = load_checkpoint(run)
    assert state is not None and state["global_step"] == 1024
    assert all(torch.isfinite(v).all() for v in state["policy"].values())
    assert get_status(run)["status"] == "failed"
