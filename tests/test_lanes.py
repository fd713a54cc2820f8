"""Lanes: each lane of a LaneTrainer follows the single-run PPO trainer bitwise; a NaN lane stops alone; a
stopped multi-lane run resumes bitwise; the CLI trains seeds as lanes and evaluate/compare read their runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from agents.lanerun import NEXT, recover_checkpoints, run_lanes_job, save_lane_checkpoints
from agents.lanes import LaneTrainer
from agents.ppo import PPO, PPOConfig, RolloutBatch
from agents.rundir import checkpoint_bytes, get_status, load_checkpoint
from agents.runner import create_run
from pgcheck.certificate import CheckedScale
from pgcheck.check import checked_scale
from pgcheck.cli import main

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
