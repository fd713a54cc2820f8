"""``pgcheck sweep`` (issue 14, item 3): INVALID points skipped with their counterexample, the best point re-run on
seeds disjoint from the search's, a stopped sweep resumed without training its finished runs again, and no
interval below 5 seeds. Tiny runs: Hopper-v5, 1024 steps in rollouts of 256."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import pytest

from agents import sweep
from agents.config import PPOConfig
from agents.lanerun import run_lanes_job
from agents.rundir import get_status
from agents.runner import JobResult
from pgcheck_cli.main import main

TINY = ["--env", "Hopper-v5", "--total-steps", "1024", "--set", "num_steps=256", "--no-progress"]


def test_invalid_point_skipped_with_counterexample_and_best_rerun_on_fresh_seeds(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sw"
    code = main(["sweep", *TINY, "--grid", "ao=-0.5,0.1,1", "--seeds", "0-1", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0, text
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    by_label = {p["label"]: p for p in report["points"]}
    bad = by_label["ao=-0.5"]
    # αo < 0 breaks property 2 (the validator's finding): no run, the counterexample listed
    assert bad["verdict"] == "INVALID" and bad["result"] is None
    # the validator may pick any y0 at which |f(., y0)| decreases next to 0 (y = 1 and y = -1 both do)
    assert "property 2 refuted: at y = " in bad["counterexample"]
    assert "decreases as x -> 0" in bad["counterexample"] and "certified" in bad["counterexample"]
    assert not (out / "search" / "ao=-0.5").exists()
    assert "ao=-0.5: INVALID, skipped: property 2 refuted" in text
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| -0.5 | INVALID | - | skipped: property 2 refuted" in md
    assert sorted(p.name for p in (out / "search").iterdir()) == ["ao=0.1", "ao=1"]
    # the best point by search IQM, re-run on fresh seeds (default: as many, after the search's)
    best, fresh = report["best_search"], report["best_fresh"]
    valid = [p["result"] for p in report["points"] if p["result"] is not None]
    assert best["iqm"]["value"] == max(r["iqm"]["value"] for r in valid)
    assert fresh["label"] == best["label"] and best["seeds"] == [0, 1] and fresh["seeds"] == [2, 3]
    assert not set(fresh["seeds"]) & set(best["seeds"])
    runs = sorted((out / "fresh" / best["label"]).iterdir())
    assert [json.loads((r / "config.json").read_text(encoding="utf-8"))["seed"] for r in runs] == [2, 3]
    assert all(get_status(r)["status"] == "finished" for r in runs)
    assert json.loads((out / "selection.json").read_text(encoding="utf-8"))["label"] == best["label"]
    # both numbers reported, the search's said to be biased; below 5 seeds: no interval
    assert "biased upwards" in md and "fresh seeds 2, 3: IQM" in md
    assert "n = 2 < 5 seeds: no interval" in md and best["iqm"]["ci"] is None
    assert (out / "heatmap.png").stat().st_size > 1000


def _base() -> PPOConfig:
    return PPOConfig(env_id="Hopper-v5", scale="mla_ppo", scale_params={"ao": "0.1", "ar": "1.0", "eps": "0.2"},
                     alpha=0.01, total_steps=1024, num_steps=256, checkpoint_every=1)


def test_resume_after_a_stop_does_not_train_finished_runs_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sw"
    plan = sweep.create_plan(out, _base(), [("ao", ["0.1", "1"])], [0, 1], [7, 8])

    def stopping(jobs: list[tuple[str, bool]]) -> list[JobResult]:
        # the sweep stops part-way: ao=0.1 finished, ao=1 stopped after one of its four updates
        run_lanes_job([r for r, _ in jobs if "/ao=0.1/" in r], resume=False)
        run_lanes_job([r for r, _ in jobs if "/ao=1/" in r], resume=False, stop_after_updates=1)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep.run_sweep(plan, stopping, say=lambda _: None)
    done = out / "search" / "ao=0.1"
    before = {r: (r / "checkpoint.pt").read_bytes() for r in done.iterdir()}
    assert all(get_status(r)["status"] == "finished" for r in before)
    assert all(get_status(r)["status"] == "stopped" for r in (out / "search" / "ao=1").iterdir())
    assert not (out / "fresh").exists()

    launched: list[tuple[str, bool]] = []
    real = sweep.local_launcher

    def recording(*args: object, **kwargs: object) -> sweep.Launcher:
        inner = real(*args, **kwargs)  # type: ignore[arg-type]

        def launch(jobs: list[tuple[str, bool]]) -> list[JobResult]:
            launched.extend(jobs)
            return inner(jobs)
        return launch

    monkeypatch.setattr(sweep, "local_launcher", recording)
    assert main(["sweep", "--resume", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "2 run(s) to train, 2 already finished" in text
    search = [(Path(r).parent.name, resume) for r, resume in launched if "/search/" in r]
    assert search == [("ao=1", True), ("ao=1", True)]          # continued from their checkpoints
    assert {r: (r / "checkpoint.pt").read_bytes() for r in done.iterdir()} == before   # not trained again
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert all(s == "finished" for p in report["points"] for s in p["result"]["status"])
    assert report["best_fresh"]["seeds"] == [7, 8]
    assert all(get_status(out / "fresh" / report["best_fresh"]["label"] / f"seed_{s}")["status"] == "finished"
               for s in (7, 8))
    # a second resume has nothing to train
    launched.clear()
    assert main(["sweep", "--resume", str(out), "--no-progress"]) == 0
    assert launched == []


@pytest.mark.parametrize(("argv", "message"), [
    (["--grid", "ao=0.1", "--seeds", "0-2", "--fresh-seeds", "2-3"], "must be disjoint from --seeds"),
    (["--seeds", "0"], "give the grid"),
    (["--grid", "ao=-0.5,-1"], "every grid point is INVALID"),
    # with --scale the base is the ppo preset, which every task has (Table 2 has no Pendulum row)
    (["--env", "Pendulum-v1", "--scale", "mla_ppo", "--param", "ar=1", "--param", "eps=0.2", "--grid", "ao=-0.5"],
     "every grid point is INVALID"),
    (["--preset", "ppo", "--grid", "ao=1"], "ppo has no parameter ao"),
    (["--grid", "num_steps=128,256"], "shared by every run"),
    (["--resume", "/no/such/sweep"], "no such directory"),
])
def test_bad_input_is_one_line_exit_2(argv: list[str], message: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)   # the default output directory is runs/ under the working directory
    code = main(["sweep", *TINY, *argv] if "--resume" not in argv else ["sweep", *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err


def test_a_used_output_directory_is_refused_before_validation(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "sw").mkdir()
    (tmp_path / "sw" / "plan.json").write_text("{}", encoding="utf-8")
    assert main(["sweep", *TINY, "--grid", "ao=0.1", "--out", str(tmp_path / "sw")]) == 2
    assert f"use --resume {tmp_path / 'sw'}" in capsys.readouterr().err


def test_resume_refuses_a_new_grid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep.create_plan(tmp_path / "sw", _base(), [("ao", ["0.1"])], [0], [1])
    assert main(["sweep", "--resume", str(tmp_path / "sw"), "--grid", "ao=1"]) == 2
    assert "--grid cannot change it" in capsys.readouterr().err


def test_five_seeds_get_an_interval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sw"
    argv = ["--env", "Hopper-v5", "--total-steps", "512", "--set", "num_steps=256", "--no-progress"]
    assert main(["sweep", *argv, "--grid", "ar=0.5", "--seeds", "0-4", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    for result in (report["best_search"], report["best_fresh"]):
        lo, hi = result["iqm"]["ci"]
        assert lo <= result["iqm"]["value"] <= hi
    assert report["best_fresh"]["seeds"] == [5, 6, 7, 8, 9]
    assert "no interval" not in (out / "report.md").read_text(encoding="utf-8").split("best point")[0]


def test_a_point_with_a_failed_run_is_not_selected(tmp_path: Path) -> None:
    from agents.rundir import set_status

    plan = sweep.create_plan(tmp_path / "sw", _base(), [("ao", ["0.1", "1"])], [0], [1])
    train = sweep.local_launcher()

    def failing(jobs: list[tuple[str, bool]]) -> list[JobResult]:
        results = train(jobs)
        if any("/search/" in r for r, _ in jobs):   # as a NaN loss would leave it
            set_status(tmp_path / "sw" / "search" / "ao=1" / "seed_0", "failed", reason="non-finite loss (test)")
        return results

    report, _ = sweep.run_sweep(plan, failing, say=lambda _: None)
    assert report.best is not None and report.best.point.label == "ao=0.1"
    assert report.fresh is not None and report.fresh.seeds == [1]
    assert "0: failed" in report.markdown


@pytest.mark.ray
def test_over_ray_the_sweep_trains_the_numbers_of_the_local_backend(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    # a cluster of this test's own, shut down after it (pgcheck joins it: ray.is_initialized)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    try:
        _ray_against_local(tmp_path)
    finally:
        ray.shutdown()


def _ray_against_local(tmp_path: Path) -> None:
    argv = ["--env", "Hopper-v5", "--total-steps", "512", "--set", "num_steps=256", "--no-progress",
            "--grid", "ao=-0.5,0.1", "--seeds", "0-1"]
    assert main(["sweep", *argv, "--out", str(tmp_path / "local")]) == 0
    assert main(["sweep", *argv, "--out", str(tmp_path / "ray"), "--backend", "ray"]) == 0
    local, ray = (json.loads((tmp_path / d / "report.json").read_text(encoding="utf-8")) for d in ("local", "ray"))
    assert [p["result"] for p in local["points"]] == [p["result"] for p in ray["points"]]
    assert local["best_fresh"] == ray["best_fresh"]


def test_resume_moves_unfinished_runs_to_the_device_and_records_the_resume(tmp_path: Path) -> None:
    out = tmp_path / "sw"
    plan = sweep.create_plan(out, dataclasses.replace(_base(), device="auto"), [("ao", ["0.1"])], [0], [1])

    def stopping(jobs: list[tuple[str, bool]]) -> list[JobResult]:
        run_lanes_job([r for r, _ in jobs], resume=False, stop_after_updates=1)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep.run_sweep(plan, stopping, say=lambda _: None)
    assert main(["sweep", "--resume", str(out), "--device", "cpu", "--no-progress"]) == 0
    for run in (out / "search" / "ao=0.1" / "seed_0", out / "fresh" / "ao=0.1" / "seed_1"):
        assert json.loads((run / "config.json").read_text(encoding="utf-8"))["device"] == "cpu"
    meta = json.loads((out / "search" / "ao=0.1" / "seed_0" / "run.json").read_text(encoding="utf-8"))
    assert len(meta["resumes"]) == 1 and meta["resumes"][0]["device"] == "cpu"   # this resume's provenance
