"""Lanes: each lane of a LaneTrainer follows the single-run PPO trainer bitwise; a NaN lane stops alone; a
stopped multi-lane run resumes bitwise; the CLI trains seeds as lanes and evaluate/compare read their runs."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from agents.lanerun import NEXT, recover_checkpoints, run_lanes_job, save_lane_checkpoints
from agents.lanes import LaneTrainer
from agents.ppo import PPO, PPOConfig, RolloutBatch, ppo_loss, value_loss_fn
from agents.presets import preset
from agents.rundir import checkpoint_bytes, get_status, load_checkpoint, read_config
from agents.runner import create_run
from pgcheck.certificate import CheckedScale
from pgcheck.check import checked_scale
from pgcheck_cli.main import main

TINY: dict[str, Any] = {"env_id": "Hopper-v5", "total_steps": 192, "num_steps": 64, "minibatch_size": 32,
                        "update_epochs": 2, "checkpoint_every": 1, "exact_lanes": True}
MLA: dict[str, Any] = {"scale": "mla_ppo", "scale_params": {"ao": "0.1", "ar": "1.0", "eps": "0.2"}, "alpha": 0.01}
TIMING = ("time", "sps", "physics_seconds", "acting_seconds", "update_seconds")


def _lanes(configs: list[PPOConfig]) -> list[tuple[PPOConfig, CheckedScale]]:
    return [(c, checked_scale(c.scale, c.scale_params)) for c in configs]


def test_each_lane_follows_the_single_run_trainer_bitwise() -> None:
    configs = [PPOConfig(**TINY, seed=0), PPOConfig(**TINY, seed=1), PPOConfig(**TINY, **MLA, seed=0)]
    lanes = _lanes(configs)
    trainer = LaneTrainer(lanes)
    lane_metrics = [trainer.train_one_update() for _ in range(3)]
    m0 = lane_metrics[0][0]
    split = [m0[f"{k}_seconds"] for k in ("physics", "acting", "update")]
    assert all(v > 0 for v in split) and sum(split) <= m0["time"]    # the cycle's split, within its wall time
    assert m0["physics_seconds"] == lane_metrics[0][2]["physics_seconds"]  # shared by the lanes of a cycle
    finals = []
    for i, (config, scale) in enumerate(lanes):
        single = PPO(config, scale)
        metrics = [single.train_one_update() for _ in range(3)]
        assert torch.equal(single.flat_params.detach(), trainer.stack.flat.detach()[i]), f"lane {i} parameters"
        assert torch.equal(single.optimizer.exp_avg_sq, trainer.optimizer.exp_avg_sq[i]), f"lane {i} Adam"
        for m, lm in zip(metrics, lane_metrics, strict=True):
            assert {k: v for k, v in m.items() if k not in TIMING} == \
                {k: v for k, v in lm[i].items() if k not in TIMING}, f"lane {i} metrics"
        lane = trainer.lanes[i]
        assert np.array_equal(single.obs_norm.rms.mean, trainer.obs_norm.rms.mean[i])
        assert single.rew_scale.state_dict()["rms"] == pytest.approx(trainer.rew_scale.lane_state(i)["rms"], abs=0)
        assert single.act_rng.bit_generator.state == lane.act_rng.bit_generator.state
        assert single.mb_rng.bit_generator.state == lane.mb_rng.bit_generator.state
        assert np.array_equal(single.obs, lane.obs)
        finals.append(single.flat_params.detach())
    # negative controls: another seed, another scale (same seed) give other parameters
    assert not torch.equal(finals[0], trainer.stack.flat.detach()[1])
    assert not torch.equal(trainer.stack.flat.detach()[0], trainer.stack.flat.detach()[2])


def test_lanes_must_share_the_loop_shape() -> None:
    with pytest.raises(ValueError, match="lanes must share num_steps"):
        LaneTrainer(_lanes([PPOConfig(**TINY), PPOConfig(**{**TINY, "num_steps": 32}, seed=1)]))


def _make_runs(root: Path, configs: list[PPOConfig]) -> list[str]:
    runs = []
    for k, c in enumerate(configs):
        run = root / f"lane_{k}"
        create_run(run, c, checked_scale(c.scale, c.scale_params).certificate.to_json(), {"label": root.name})
        runs.append(str(run))
    return runs


def test_nan_lane_stops_alone_and_keeps_its_last_good_checkpoint(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    configs = [PPOConfig(**TINY, seed=0), PPOConfig(**TINY, seed=1)]
    original = LaneTrainer.evaluate_lane

    def poisoned(self: LaneTrainer, i: int) -> RolloutBatch:
        batch = original(self, i)
        if i == 1 and self.lanes[i].update_index == 2:
            batch.obs[5] = float("nan")
        return batch

    monkeypatch.setattr(LaneTrainer, "evaluate_lane", poisoned)
    results = run_lanes_job(_make_runs(tmp_path / "nan", configs), resume=False)
    assert [r.status for r in results] == ["finished", "failed"]
    assert "the loss became nan at update 3" in results[1].message
    assert "last good checkpoint (step 128)" in results[1].message
    bad = load_checkpoint(Path(results[1].run))
    assert bad is not None and bad["global_step"] == 128
    assert all(torch.isfinite(v).all() for v in bad["policy"].values())
    assert get_status(Path(results[1].run))["status"] == "failed"
    # the healthy lane is untouched: bitwise the single-run trainer
    good = load_checkpoint(Path(results[0].run))
    single = PPO(configs[0], checked_scale("ppo", {"eps": "0.2"}))
    single.learn()
    assert good is not None
    for k, v in single.policy.state_dict().items():
        assert torch.equal(v, good["policy"][k]), k


def test_stopped_and_resumed_lanes_equal_uninterrupted(tmp_path: Path) -> None:
    longer = {**TINY, "total_steps": 256}
    configs = [PPOConfig(**longer, seed=3), PPOConfig(**longer, **MLA, seed=4)]
    ref = run_lanes_job(_make_runs(tmp_path / "ref", configs), resume=False)
    assert [r.status for r in ref] == ["finished", "finished"]
    runs = _make_runs(tmp_path / "cut", configs)
    assert [r.status for r in run_lanes_job(runs, resume=False, stop_after_updates=2)] == ["stopped", "stopped"]
    assert [r.status for r in run_lanes_job(runs, resume=True)] == ["finished", "finished"]
    for a, b in zip([r.run for r in ref], runs, strict=True):
        sa, sb = load_checkpoint(Path(a)), load_checkpoint(Path(b))
        assert sa is not None and sb is not None and sa["global_step"] == sb["global_step"] == 256
        for k, v in sa["policy"].items():
            assert torch.equal(v, sb["policy"][k]), k
        assert sa["act_rng"] == sb["act_rng"] and sa["mb_rng"] == sb["mb_rng"]
        assert (Path(a) / "episodes.csv").read_text() == (Path(b) / "episodes.csv").read_text()


def test_a_torn_checkpoint_set_is_finished_or_undone(tmp_path: Path) -> None:
    configs = [PPOConfig(**TINY, seed=0), PPOConfig(**TINY, seed=1)]
    runs = [Path(r) for r in _make_runs(tmp_path, configs)]
    trainer = LaneTrainer(_lanes(configs))
    trainer.train_one_update()
    save_lane_checkpoints(trainer, runs, [0, 1])             # a complete set at update 1
    trainer.train_one_update()
    # killed in phase 1: only lane 0's new state was written -> undone, both stay at update 1
    (runs[0] / NEXT).write_bytes(checkpoint_bytes(trainer.lane_state_dict(0)))
    recover_checkpoints(runs)
    assert not (runs[0] / NEXT).exists()
    assert [load_checkpoint(r)["update_index"] for r in runs] == [1, 1]  # type: ignore[index]
    # killed in phase 2: lane 0 renamed, lane 1 still in .next -> finished, both at update 2
    (runs[0] / "checkpoint.pt").write_bytes(checkpoint_bytes(trainer.lane_state_dict(0)))
    (runs[1] / NEXT).write_bytes(checkpoint_bytes(trainer.lane_state_dict(1)))
    recover_checkpoints(runs)
    assert [load_checkpoint(r)["update_index"] for r in runs] == [2, 2]  # type: ignore[index]


def test_cli_trains_seeds_as_lanes_and_evaluate_compare_read_them(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "runs"
    code = main(["train", "--seeds", "0-1", "--total-steps", "128", "--set", "num_steps=64", "--set",
                 "minibatch_size=32", "--set", "update_epochs=1", "--set", "exact_lanes=true", "--out", str(out),
                 "--no-progress"])
    assert code == 0, capsys.readouterr().err
    for s in (0, 1):
        status = json.loads((out / f"seed_{s}" / "status.json").read_text())
        assert status["status"] == "finished"
    assert json.loads((out / "seed_0" / "status.json").read_text())["global_step"] == 128
    assert main(["evaluate", str(out / "seed_1"), "--episodes", "1"]) == 0
    assert main(["compare", str(out), "--out", str(tmp_path / "cmp")]) == 0
    single = PPO(PPOConfig(**{**TINY, "total_steps": 128, "update_epochs": 1, "checkpoint_every": 5,
                              "clip_eps_diagnostic": 0.2}, seed=1), checked_scale("ppo", {"eps": "0.2"}))
    single.learn()
    lane = load_checkpoint(out / "seed_1")
    assert lane is not None
    for k, v in single.policy.state_dict().items():
        assert torch.equal(v, lane["policy"][k]), k


FAST = ["--total-steps", "128", "--set", "num_steps=64", "--set", "minibatch_size=32", "--set", "update_epochs=1",
        "--no-progress"]


def test_cli_presets_are_lanes_of_one_process_with_own_directories(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "both"
    code = main(["train", "--preset", "ppo", "--preset", "mla-ppo", "--seeds", "0-1", "--out", str(out), *FAST,
                 "--set", "exact_lanes=true"])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["mla-ppo", "ppo"]
    for label, scale in (("ppo", "ppo"), ("mla-ppo", "mla_ppo")):
        for s in (0, 1):
            run = out / label / f"seed_{s}"
            config = json.loads((run / "config.json").read_text())
            assert (config["scale"], config["seed"]) == (scale, s)
            status = json.loads((run / "status.json").read_text())
            assert status["status"] == "finished" and status["lanes"] == 4  # all four in one trainer
            assert json.loads((run / "run.json").read_text())["preset"] == label
    # the MLA-PPO lane is the single-run trainer with Table 2's Hopper setting
    single = PPO(PPOConfig(**{**TINY, **MLA, "total_steps": 128, "update_epochs": 1, "checkpoint_every": 5,
                              "clip_eps_diagnostic": 0.2}, seed=1), checked_scale("mla_ppo", MLA["scale_params"]))
    single.learn()
    lane = load_checkpoint(out / "mla-ppo" / "seed_1")
    assert lane is not None
    for k, v in single.policy.state_dict().items():
        assert torch.equal(v, lane["policy"][k]), k
    capsys.readouterr()
    assert main(["compare", str(out), "--out", str(tmp_path / "cmp")]) == 0
    rows = [g for g in json.loads((tmp_path / "cmp.json").read_text()) if "group" in g]
    assert sorted(g["group"] for g in rows) == ["mla-ppo", "ppo"]
    assert all(g["seeds"] == [0, 1] for g in rows)
    assert main(["evaluate", str(out / "ppo"), "--episodes", "1"]) == 0
    assert (out / "ppo" / "seed_1" / "evaluation.json").is_file()
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--no-progress"]) == 0
    assert "every run under" in capsys.readouterr().out


def test_cli_grid_crosses_scale_parameters_and_config_fields(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "grid"
    code = main(["train", "--preset", "mla-ppo", "--grid", "ao=0.5,1", "--grid", "alpha=0,0.02", "--out", str(out),
                 *FAST])
    assert code == 0, capsys.readouterr().err
    labels = sorted(p.name for p in out.iterdir())
    assert labels == ["mla-ppo_ao=0.5_alpha=0", "mla-ppo_ao=0.5_alpha=0.02", "mla-ppo_ao=1_alpha=0",
                      "mla-ppo_ao=1_alpha=0.02"]
    config = json.loads((out / "mla-ppo_ao=1_alpha=0.02" / "seed_0" / "config.json").read_text())
    assert config["scale_params"] == {"ao": "1", "ar": "1.0", "eps": "0.2"} and config["alpha"] == 0.02
    finals = [load_checkpoint(out / label / "seed_0") for label in labels]
    assert all(f is not None and f["global_step"] == 128 for f in finals)
    # the same seed with other scale parameters trains other weights
    assert not torch.equal(finals[0]["policy"]["actor.0.weight"], finals[2]["policy"]["actor.0.weight"])  # type: ignore[index]


@pytest.mark.parametrize(("argv", "message"), [
    (["--grid", "seed=1,2"], "--grid seed: only a scale parameter or a per-run field"),
    (["--grid", "num_steps=32,64"], "--grid num_steps: only a scale parameter"),
    (["--grid", "ao"], "--grid 'ao': write KEY=V1,V2"),
    (["--grid", "ao=1,1"], "a value is repeated"),
    (["--preset", "ppo", "--grid", "ao=1,2"], "has no parameter ao"),
    (["--preset", "ppo", "--preset", "ppo"], "a preset is given twice"),
    (["--preset", "ppo", "--preset", "mla-ppo", "--scale", "q"], "give at most one --preset with it"),
    (["--grid", "gamma=0.9,x"], "--grid gamma=x: not a valid float"),
])
def test_cli_bad_grids_are_one_line_exit_2(argv: list[str], message: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", *argv, "--out", str(tmp_path / "o"), *FAST])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------------------------------------------
# the batched-GEMM mode (the default of exact_lanes): within float32 rounding of the single-run trainer

DRIFT_UPDATES = 6
PARAM_TOLERANCE = 1e-5        # max |θ_lane − θ_single| after DRIFT_UPDATES updates (measured: 6e-8)
RETURN_TOLERANCE = 1e-6       # relative, on each update's mean episodic return (measured: 1e-8)


def test_batched_gemm_lanes_stay_within_a_stated_tolerance_of_the_single_run_trainer() -> None:
    base: dict[str, Any] = {**TINY, "exact_lanes": False, "total_steps": 256 * DRIFT_UPDATES, "num_steps": 256,
                            "minibatch_size": 64, "update_epochs": 4}
    configs = [PPOConfig(**base, seed=0), PPOConfig(**base, seed=1), PPOConfig(**base, **MLA, seed=0),
               PPOConfig(**base, **MLA, seed=2)]
    lanes = _lanes(configs)
    trainer = LaneTrainer(lanes)
    assert not trainer.stack.exact
    lane_metrics = [trainer.train_one_update() for _ in range(DRIFT_UPDATES)]
    bitwise = 0
    for i, (config, scale) in enumerate(lanes):
        single = PPO(config, scale)
        metrics = [single.train_one_update() for _ in range(DRIFT_UPDATES)]
        theta, lane_theta = single.flat_params.detach(), trainer.stack.flat[i]
        assert (theta - lane_theta).abs().max().item() <= PARAM_TOLERANCE, f"lane {i} parameters"
        bitwise += int(torch.equal(theta, lane_theta))
        for m, lm in zip(metrics, lane_metrics, strict=True):
            assert m["episodes"] == lm[i]["episodes"], f"lane {i}: other episode ends"
            if m["episodes"]:
                assert lm[i]["episodic_return"] == pytest.approx(m["episodic_return"], rel=RETURN_TOLERANCE)
        # negative control: the tolerance is far below what another seed or scale gives
        other = trainer.stack.flat[(i + 1) % len(lanes)]
        assert (theta - other).abs().max().item() > 1000 * PARAM_TOLERANCE
    assert bitwise < len(lanes), "the batched mode matched bitwise: this test no longer tests a tolerance"


def test_a_lane_whose_lr_differs_is_stepped_apart_bitwise() -> None:
    # lanes with other learning rates are stepped as their own Adam group (gathered and scattered back)
    configs = [PPOConfig(**TINY, seed=0), PPOConfig(**TINY, seed=1, learning_rate=1e-3), PPOConfig(**TINY, seed=2)]
    lanes = _lanes(configs)
    trainer = LaneTrainer(lanes)
    for _ in range(2):
        trainer.train_one_update()
    for i, (config, scale) in enumerate(lanes):
        single = PPO(config, scale)
        single.learn(max_updates=2)
        assert torch.equal(single.flat_params.detach(), trainer.stack.flat[i]), f"lane {i}"
        assert torch.equal(single.optimizer.exp_avg, trainer.optimizer.exp_avg[i]), f"lane {i} Adam"


# ---------------------------------------------------------------------------------------------------
# the value clip follows the lane's ε


def test_value_clip_follows_the_scales_eps_unless_set() -> None:
    assert PPOConfig().value_clip == 0.2
    assert PPOConfig(scale_params={"eps": "0.3"}).value_clip == 0.3
    assert PPOConfig(scale_params={"eps": "0.3"}, vf_clip=0.1).value_clip == 0.1
    assert PPOConfig(scale="x * y", scale_params={}).value_clip == 0.2
    humanoid = PPOConfig(**preset("mla-ppo", "Humanoid-v5"))
    assert humanoid.value_clip == 0.3 and humanoid.vf_clip is None    # Table 2: ε = 0.3 on Humanoid
    # the loss uses it: values moved by 0.25 from V_old are clipped at ε = 0.2, not at ε = 0.3
    g = torch.Generator().manual_seed(0)
    old = torch.randn(64, generator=g)
    batch = RolloutBatch(torch.randn(64, 11, generator=g), torch.randn(64, 3, generator=g),
                         torch.randn(64, generator=g), old, torch.randn(64, generator=g), old + 1.0)
    heads = _Heads(torch.randn(64, generator=g), old + 0.25)
    scale = checked_scale("ppo", {"eps": "0.3"})
    loss_03 = ppo_loss(heads, scale, PPOConfig(scale_params={"eps": "0.3"}), batch)[1]["value_loss"]
    loss_02 = ppo_loss(heads, scale, PPOConfig(scale_params={"eps": "0.3"}, vf_clip=0.2), batch)[1]["value_loss"]
    assert torch.equal(loss_03, value_loss_fn(old + 0.25, old, old + 1.0, 0.3))
    assert not torch.equal(loss_03, loss_02)


class _Heads:
    def __init__(self, log_prob: torch.Tensor, value: torch.Tensor) -> None:
        self._lp, self._v = log_prob, value

    def log_prob_entropy(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._lp, torch.zeros_like(self._lp)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self._v


# ---------------------------------------------------------------------------------------------------
# the command line, as a user runs it: the `pgcheck` console script in a subprocess

PGCHECK = str(Path(sys.executable).with_name("pgcheck"))
SMALL = ["--set", "num_steps=64", "--set", "minibatch_size=32", "--set", "update_epochs=2", "--set",
         "checkpoint_every=1", "--no-progress"]
KILL_UPDATES = 40            # updates of the killed run: it must still be running when its first checkpoint lands


def _pgcheck(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PGCHECK, *argv], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_grid_over_eps_moves_the_value_clip(tmp_path: Path) -> None:
    done = _pgcheck("train", "--preset", "ppo", "--grid", "eps=0.1,0.3", "--total-steps", "64", *SMALL,
                    "--out", str(tmp_path / "g"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for eps in ("0.1", "0.3"):
        config = read_config(tmp_path / "g" / f"ppo_eps={eps}" / "seed_0")
        assert config.scale_params["eps"] == eps and config.value_clip == float(eps)


def test_killed_multi_lane_cli_run_resumes_bitwise(tmp_path: Path) -> None:
    steps = str(64 * KILL_UPDATES)
    args = ["train", "--preset", "ppo", "--preset", "mla-ppo", "--seeds", "0-1", "--total-steps", steps, *SMALL]
    ref = _pgcheck(*args, "--out", str(tmp_path / "ref"), cwd=tmp_path)
    assert ref.returncode == 0, ref.stderr
    cut = tmp_path / "cut"
    runs = [cut / label / f"seed_{s}" for label in ("ppo", "mla-ppo") for s in (0, 1)]
    proc = subprocess.Popen([PGCHECK, *args, "--out", str(cut)], cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not all((r / "checkpoint.pt").is_file() for r in runs):
            assert proc.poll() is None and time.monotonic() < deadline, "the run ended before its first checkpoint"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed_at = [json.loads((r / "status.json").read_text())["status"] for r in runs]
    assert killed_at == ["running"] * 4, killed_at           # killed mid-run, not finished
    resumed = _pgcheck("train", "--resume", str(cut), "--no-progress", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming 4 run(s)" in resumed.stdout
    for run in runs:
        a, b = load_checkpoint(tmp_path / "ref" / run.relative_to(cut)), load_checkpoint(run)
        assert a is not None and b is not None and a["global_step"] == b["global_step"] == int(steps)
        for k, v in a["policy"].items():
            assert torch.equal(v, b["policy"][k]), f"{run}: {k}"
        for k in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(a["optimizer"][k], b["optimizer"][k]), f"{run}: Adam {k}"
        assert a["act_rng"] == b["act_rng"] and a["mb_rng"] == b["mb_rng"]
        for name in ("metrics.csv", "episodes.csv"):
            assert _rows(tmp_path / "ref" / run.relative_to(cut) / name) == _rows(run / name), f"{run}: {name}"


def _rows(path: Path) -> list[dict[str, str]]:
    """A CSV's rows without the wall-clock columns."""
    with open(path, newline="") as fh:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(fh)]


def test_lanes_of_several_envs_and_without_normalisation_follow_the_single_run_trainer_bitwise() -> None:
    # two worlds per lane (the normalisers' batch merge, the stacked actor on n > 1) and lanes that switch
    # observation or reward normalisation off (their statistics stay untouched, as the single run's)
    base: dict[str, Any] = {**TINY, "num_envs": 2, "num_steps": 32, "total_steps": 128}
    configs = [PPOConfig(**base, seed=0), PPOConfig(**base, seed=1, norm_obs=False),
               PPOConfig(**base, **MLA, seed=2, norm_reward=False, gamma=0.95)]
    lanes = _lanes(configs)
    trainer = LaneTrainer(lanes)
    trainer.learn()
    for i, (config, scale) in enumerate(lanes):
        single = PPO(config, scale)
        single.learn()
        assert torch.equal(single.flat_params.detach(), trainer.stack.flat[i]), f"lane {i} parameters"
        state = trainer.lane_state_dict(i)
        for key in ("obs_norm", "rew_scale"):
            ours, theirs = state[key], single.state_dict()[key]
            assert ours.keys() == theirs.keys()
            for k in ours:
                if k == "rms":
                    assert all(np.array_equal(ours[k][m], theirs[k][m]) for m in ("mean", "var", "count")), key
                else:
                    assert np.array_equal(ours[k], theirs[k]), f"lane {i} {key}.{k}"
