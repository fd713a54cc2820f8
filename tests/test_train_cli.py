"""``pgcheck train / evaluate / compare`` end to end, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pgcheck_cli.main import main


def pgcheck(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pgcheck_cli.main", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=180)


def test_short_hopper_training_then_evaluate_and_compare(tmp_path: Path) -> None:
    out = tmp_path / "hopper-mla"
    r = pgcheck("train", "--env", "Hopper-v5", "--preset", "mla-ppo", "--total-steps", "4096", "--out", str(out))
    assert r.returncode == 0, r.stderr
    run = out / "seed_0"
    for name in ("config.json", "certificate.json", "metrics.csv", "episodes.csv", "checkpoint.pt", "status.json"):
        assert (run / name).is_file(), name
    config = json.loads((run / "config.json").read_text())
    assert (config["scale"], config["scale_params"], config["alpha"]) == (
        "mla_ppo", {"ao": "0.1", "ar": "1.0", "eps": "0.2"}, 0.01)  # Table 2, Hopper
    cert = json.loads((run / "certificate.json").read_text())
    assert cert["overall"] == "VALID" and cert["input"]["name"] == "mla_ppo"
    rows = (run / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("global_step,update,time,sps,") and len(rows) == 3  # 2 updates of 2048
    assert json.loads((run / "status.json").read_text())["status"] == "finished"
    assert "SPS" in r.stderr  # the progress bar
    events = list((run / "tb").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0  # TensorBoard gets the same metrics

    r = pgcheck("evaluate", str(out), "--episodes", "2")
    assert r.returncode == 0, r.stderr
    ev = json.loads((run / "evaluation.json").read_text())
    assert ev["episodes"] == 2 and ev["deterministic"] and ev["checkpoint_step"] == 4096

    r = pgcheck("compare", str(out))
    assert r.returncode == 0, r.stderr
    assert "| hopper-mla | Hopper-v5 | 1 | 4096 |" in r.stdout  # steps trained, not the last episode's end
    assert (out / "compare.png").stat().st_size > 10_000


def test_two_seeds_in_parallel_processes(tmp_path: Path) -> None:
    out = tmp_path / "two"
    r = pgcheck("train", "--seeds", "0-1", "--workers", "2", "--total-steps", "1024", "--set", "num_steps=512",
                "--set", "update_epochs=1", "--no-progress", "--out", str(out))
    assert r.returncode == 0, r.stderr
    for s in (0, 1):
        assert json.loads((out / f"seed_{s}" / "status.json").read_text())["status"] == "finished"
        assert json.loads((out / f"seed_{s}" / "config.json").read_text())["seed"] == s
    r = pgcheck("compare", str(out / "seed_0"), str(out / "seed_1"), "--out", str(tmp_path / "cmp"))
    assert r.returncode == 0, r.stderr
    assert "| two | Hopper-v5 | 2 |" in r.stdout and (tmp_path / "cmp.png").is_file()


def test_invalid_scale_is_refused_before_any_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import gymnasium

    def no_env(*a: object, **k: object) -> None:
        raise AssertionError("an environment was created")

    monkeypatch.setattr(gymnasium, "make", no_env)
    out = tmp_path / "bad"
    code = main(["train", "--scale", "y * max(1 + x + y / 2, 0)", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert "INVALID" in err and "f(0, -3) = 0 > f(0, -1) = -0.5" in err and "cannot be used for training" in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_invalid_scale_exit_code_through_the_console(tmp_path: Path) -> None:
    r = pgcheck("train", "--scale", "exp(x) * y * y", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "INVALID" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(("argv", "message"), [
    (["train", "--env", "NoSuchEnv-v0"], "unknown environment 'NoSuchEnv-v0'"),
    (["train", "--env", "CartPole-v1"], "needs a Box (continuous) action space"),
    (["train", "--seeds", "2-1"], "the range 2-1 is empty"),
    (["train", "--seeds", "a"], "write a seed (3), a range (0-4) or a list (0,2,7)"),
    (["train", "--preset", "nope"], "unknown preset 'nope'"),
    (["train", "--env", "Ant-v5", "--preset", "mla-ppo"], "Table 2 of the paper has no MLA-PPO setting for Ant"),
    (["train", "--set", "gamma=abc"], "--set gamma=abc: not a valid float"),
    (["train", "--set", "minibatch_size=100"], "minibatch_size (100) must be at least 2 and divide"),
    (["train", "--scale", "mla_ppo", "--param", "zz=1"], "mla_ppo has no parameter zz"),
    (["train", "--resume", "/no/such/run"], "no such directory"),
    (["train", "--workers", "0"], "--workers must be at least 1"),
    (["evaluate", "/no/such/run"], "no such run directory"),
    (["compare", "/no/such/run"], "no such run directory"),
])
def test_bad_input_is_one_line_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    code = main([*argv, "--out", str(tmp_path / "o")] if argv[0] == "train" else argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


def test_unavailable_cuda_is_refused_before_any_run_directory(capsys: pytest.CaptureFixture[str],
                                                              tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.fail("CUDA is available here; this test checks the refusal without it")
    code = main(["train", "--device", "cuda", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "torch sees no CUDA device" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


def test_resume_refuses_options_that_would_change_the_run(capsys: pytest.CaptureFixture[str],
                                                          tmp_path: Path) -> None:
    run = tmp_path / "r"
    run.mkdir()
    code = main(["train", "--resume", str(run), "--total-steps", "4096", "--scale", "q"])
    err = capsys.readouterr().err
    assert code == 2 and "--scale, --total-steps cannot change it" in err, err


@pytest.mark.parametrize("command", ["evaluate", "compare"])
def test_corrupt_config_is_one_line_exit_2(command: str, capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    run = tmp_path / "r"
    run.mkdir()
    (run / "config.json").write_text('{"env_id": "Hopper-v5", ', encoding="utf-8")
    code = main([command, str(run)])
    err = capsys.readouterr().err
    assert code == 2 and "config.json: not valid JSON" in err and len(err.strip().splitlines()) == 1, err


def test_ray_backend_without_ray_says_how_to_get_it(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)   # as if ray were not installed (find_spec: None)
    code = main(["train", "--backend", "ray", "--out", str(tmp_path / "o")])
    assert code == 2 and "install ray to use --backend ray (pip install 'pgcheck[ray]')" in capsys.readouterr().err


def test_demo_runs_every_main_job_and_prints_where_everything_is(tmp_path: Path) -> None:
    """``pgcheck demo --quick``: validate, the bandit experiment and a short MLA-PPO training, end to end."""
    r = pgcheck("demo", "--quick", "--out", str(tmp_path / "demo"))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "mla_ppo    VALID" in out and "INVALID: a property of Assumption 5.1 is refuted" in out
    assert (tmp_path / "demo" / "bandit" / "summary.md").is_file()
    runs = sorted((tmp_path / "demo").glob("hopper-mla-ppo-*"))
    assert len(runs) == 1
    run = runs[0] / "seed_0"
    assert f"run directory: {run}" in out and f"{run / 'metrics.csv'}" in out
    assert f"plot:          {runs[0] / 'compare.png'}" in out and (runs[0] / "compare.png").is_file()
    assert json.loads((run / "config.json").read_text())["scale"] == "mla_ppo"


def test_help_of_every_new_subcommand_renders(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["train", "--help"], ["evaluate", "--help"], ["compare", "--help"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "train" in out and "compare" in out and "evaluate" in out


@pytest.mark.parametrize("key", ["exact_lanes", "num_steps", "seed", "env", "scale"])
def test_grid_refuses_a_field_every_lane_of_a_trainer_shares(key: str) -> None:
    from agents.lanes import SHARED_FIELDS
    from pgcheck.errors import UserError
    from pgcheck_cli.commands.train import parse_grid

    with pytest.raises(UserError, match=f"--grid {key}: .* {key} is shared by every run"):
        parse_grid([f"{key}=1,2"])
    assert "exact_lanes" in SHARED_FIELDS
    assert parse_grid(["ao=0.5,1", "learning_rate=1e-4"]) == [("ao", ["0.5", "1"]), ("learning_rate", ["1e-4"])]


def test_out_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    target = tmp_path / "a_file"
    target.write_text("not a directory")
    r = subprocess.run([sys.executable, "-m", "pgcheck_cli.main", "train", "--total-steps", "64", "--set",
                        "num_steps=64", "--out", str(target)], capture_output=True, text=True, cwd=tmp_path,
                       timeout=300)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "is a file, not a directory" in r.stderr and target.read_text() == "not a directory"
