"""``pgcheck train --backend ray`` against a real local Ray cluster (two CPUs), not a stand-in for Ray.

The runs a Ray task trains are the runs the local backend trains, number for number; an error inside a task
is a one-line error (exit 2 for bad input), not Ray's ``RayTaskError`` with the remote traceback; every run
has a progress bar, fed from the tasks through a Ray queue. Needs ``pgcheck[ray]``; deselect with
``-m 'not ray'`` where Ray is not installed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.rundir import set_status
from pgcheck_cli.main import main

pytestmark = pytest.mark.ray

TINY = ["--total-steps", "512", "--set", "num_steps=256", "--set", "update_epochs=1", "--seeds", "0-1"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """One local cluster for the module (starting one takes seconds); pgcheck joins it (ray.is_initialized)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    try:
        yield
    finally:
        ray.shutdown()


def _episodes(run: Path) -> str:
    return (run / "episodes.csv").read_text(encoding="utf-8")


@pytest.mark.parametrize("env", ["Hopper-v5",      # a batched MuJoCo task: the seeds are lanes of one Ray task
                                 "Pendulum-v1"])   # any other task: one Ray task per seed
def test_ray_trains_the_same_numbers_as_the_local_backend(cluster: None, tmp_path: Path, env: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    local, remote = tmp_path / "local", tmp_path / "ray"
    assert main(["train", "--env", env, *TINY, "--no-progress", "--out", str(local)]) == 0
    capsys.readouterr()
    assert main(["train", "--env", env, *TINY, "--backend", "ray", "--out", str(remote)]) == 0
    err = capsys.readouterr().err
    for s in (0, 1):
        assert f"seed_{s}" in err and "512/512" in err   # a progress bar per run, fed by the Ray tasks
        assert json.loads((remote / f"seed_{s}" / "status.json").read_text())["status"] == "finished"
        ours, theirs = _episodes(local / f"seed_{s}"), _episodes(remote / f"seed_{s}")
        assert ours.count("\n") > 2 and ours == theirs   # every episode's return, bit for bit


def test_an_error_inside_a_ray_task_is_one_line(cluster: None, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r"
    assert main(["train", *TINY, "--backend", "ray", "--no-progress", "--out", str(out)]) == 0
    run = out / "seed_1"
    (run / "certificate.json").write_text('{"not": "a certificate"}', encoding="utf-8")  # read only by the task
    set_status(run, "running")
    capsys.readouterr()
    code = main(["train", "--resume", str(out), "--backend", "ray", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.strip().splitlines()[-1] == (f"pgcheck: error: {run / 'certificate.json'}: not a pgcheck "
                                            "certificate (KeyError: 'properties')")
    assert "Traceback" not in err and "RayTaskError" not in err
    assert f"ray: {run} ended (1/1)" in err   # without bars: a line per task as it ends
