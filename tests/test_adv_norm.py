"""The scale of Â (hence of ΔR, eq. 29) is the config field ``adv_norm``: each mode against an independent
computation, in the single-run trainer and bitwise in the lane trainer; the running scale of ``scale`` mode
resumes bitwise; old config.json files with ``norm_adv`` load and mean what they meant; the presets say which
mode they use, and ``acme-2021`` trains from the command line."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import agents.ppo as ppo_module
from agents.config import ADV_NORMS
from agents.lanes import LaneTrainer
from agents.ppo import PPO, AdvantageScale, PPOConfig, RolloutBatch, normalize_advantages, rollout_advantages
from agents.presets import ACME_2021, PRESETS, TABLE2, preset
from agents.rundir import checkpoint_bytes, from_plain, read_config
from pgcheck.certificate import CheckedScale
from pgcheck.check import checked_scale
from pgcheck_cli.main import main

TINY: dict[str, Any] = {"env_id": "Hopper-v5", "total_steps": 192, "num_steps": 64, "minibatch_size": 32,
                        "update_epochs": 2, "checkpoint_every": 1, "exact_lanes": True}
MLA: dict[str, Any] = {"scale": "mla_ppo", "scale_params": {"ao": "0.1", "ar": "1.0", "eps": "0.2"}, "alpha": 0.01}


def _scale(c: PPOConfig) -> CheckedScale:
    return checked_scale(c.scale, c.scale_params)


def _reference(adv: np.ndarray, mode: str, mb: int, history: list[float], tau: float) -> np.ndarray:
    """What the epochs should see, in float64 numpy; ``history``: mean|Â| of every rollout so far, this one last."""
    if mode == "minibatch":
        blocks = adv.reshape(-1, mb)
        z: np.ndarray = (blocks - blocks.mean(1, keepdims=True)) / (blocks.std(1, ddof=1, keepdims=True) + 1e-8)
        return z.reshape(-1)
    if mode == "batch":
        whole: np.ndarray = (adv - adv.mean()) / (adv.std(ddof=1) + 1e-8)
        return whole
    if mode == "scale":
        t = len(history)
        m = sum((1 - tau) * tau ** (t - 1 - k) * h for k, h in enumerate(history))   # the EMA unrolled
        return adv / max(m / (1 - tau ** t), 1e-6)
    return adv


@pytest.mark.parametrize("mode", ADV_NORMS)
def test_each_mode_on_a_fixed_batch_against_numpy(mode: str) -> None:
    g = np.random.default_rng(3)
    rollouts = [g.normal(0.3 * k, 0.2 + k, size=96) for k in range(3)]   # three updates of another scale each
    running, history = AdvantageScale(0.9), []
    for adv in rollouts:
        history.append(float(np.abs(adv.astype(np.float32)).mean()))
        got = rollout_advantages(torch.tensor(adv, dtype=torch.float32), mode, running)
        if mode == "minibatch":
            got = normalize_advantages(got, 32)
        np.testing.assert_allclose(got.numpy(), _reference(adv, mode, 32, history, 0.9), rtol=2e-5, atol=2e-6)
    if mode == "scale":   # not centred: the signs survive; the scale is the debiased EMA (float32 means)
        assert np.array_equal(np.sign(got.numpy()), np.sign(rollouts[-1]))
        assert running.count == 3 and running.scale == pytest.approx(
            sum(0.1 * 0.9 ** (2 - k) * h for k, h in enumerate(history)) / (1 - 0.9 ** 3), rel=1e-6)
    assert (mode == "scale") == (running.count == 3)


@pytest.mark.parametrize("mode", ADV_NORMS)
def test_the_loss_gets_the_modes_advantages(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The advantages that reach ppo_loss in PPO.update, against the reference on the same permutation."""
    c = PPOConfig(**{**TINY, "update_epochs": 1, "adv_norm": mode, "adv_scale_tau": 0.9})
    trainer = PPO(c, _scale(c))
    seen: list[torch.Tensor] = []
    real = ppo_module.ppo_loss

    def spy(policy: Any, scale: CheckedScale, cfg: PPOConfig, mb: RolloutBatch) -> Any:
        seen.append(mb.advantages.clone())
        return real(policy, scale, cfg, mb)

    monkeypatch.setattr(ppo_module, "ppo_loss", spy)
    history: list[float] = []
    for _ in range(2):
        trainer.collect_rollout()
        batch = trainer.evaluate_rollout()
        rng = np.random.Generator(np.random.PCG64())
        rng.bit_generator.state = trainer.mb_rng.bit_generator.state
        perm = rng.permutation(c.batch_size)
        adv = batch.advantages.numpy().astype(np.float64)
        history.append(float(batch.advantages.abs().mean()))
        seen.clear()
        trainer.update(batch)
        expect = _reference(adv, mode, c.minibatch_size, history, 0.9)[perm] if mode != "minibatch" else \
            _reference(adv[perm], mode, c.minibatch_size, history, 0.9)
        np.testing.assert_allclose(torch.cat(seen).numpy(), expect, rtol=2e-5, atol=2e-6)
    if mode == "none":   # negative control: the raw Â is not z-scored
        assert abs(float(torch.cat(seen).std()) - 1.0) > 0.05


@pytest.mark.parametrize("mode", ADV_NORMS)
def test_lanes_follow_the_single_run_trainer_bitwise_in_each_mode(mode: str) -> None:
    configs = [PPOConfig(**TINY, adv_norm=mode, seed=0), PPOConfig(**TINY, **MLA, adv_norm=mode, seed=1)]
    lanes = [(c, _scale(c)) for c in configs]
    trainer = LaneTrainer(lanes)
    for _ in range(2):
        trainer.train_one_update()
    for i, (c, scale) in enumerate(lanes):
        single = PPO(c, scale)
        for _ in range(2):
            single.train_one_update()
        assert torch.equal(single.flat_params.detach(), trainer.stack.flat.detach()[i]), f"{mode}: lane {i}"
        assert single.adv_scale.state_dict() == trainer.lanes[i].adv_scale.state_dict()
    if mode == "scale":
        assert trainer.lanes[0].adv_scale.count == 2 and trainer.lanes[0].adv_scale.scale > 0


def test_modes_change_the_update() -> None:
    """Negative control of the bitwise tests: the four modes give four different parameter vectors."""
    finals = []
    for mode in ADV_NORMS:
        c = PPOConfig(**TINY, adv_norm=mode)
        single = PPO(c, _scale(c))
        single.train_one_update()
        finals.append(single.flat_params.detach().clone())
    assert all(not torch.equal(finals[a], finals[b]) for a in range(4) for b in range(a + 1, 4))


def _roundtrip(state: dict[str, Any]) -> dict[str, Any]:
    # through the checkpoint format runs use: plain data, read back with weights_only=True
    out: dict[str, Any] = from_plain(torch.load(io.BytesIO(checkpoint_bytes(state)), weights_only=True))
    return out


def test_scale_mode_resumes_bitwise_single_run_and_lanes() -> None:
    c = PPOConfig(**{**TINY, **MLA, "adv_norm": "scale"})
    whole = PPO(c, _scale(c))
    whole.learn()
    first = PPO(c, _scale(c))
    first.learn(max_updates=1)
    state = _roundtrip(first.state_dict())
    assert state["adv_scale"]["count"] == 1
    resumed = PPO(c, _scale(c))
    resumed.load_state_dict(state)
    resumed.learn()
    assert torch.equal(whole.flat_params, resumed.flat_params)
    assert whole.adv_scale.state_dict() == resumed.adv_scale.state_dict()
    # negative control: a checkpoint without the running scale restarts it, and the run is no longer the same
    amnesic = PPO(c, _scale(c))
    amnesic.load_state_dict({k: v for k, v in state.items() if k != "adv_scale"})
    amnesic.learn()
    assert not torch.equal(whole.flat_params, amnesic.flat_params)

    lanes = LaneTrainer([(c, _scale(c))])
    lanes.learn(max_updates=1)
    lane_state = _roundtrip(lanes.lane_state_dict(0))
    again = LaneTrainer([(c, _scale(c))])
    again.load_lane_state_dict(0, lane_state)
    again.learn()
    assert torch.equal(again.stack.flat[0], whole.flat_params)


def test_old_config_with_norm_adv_loads_and_means_the_same(tmp_path: Path) -> None:
    new = PPOConfig().to_dict()
    assert new["adv_norm"] == "minibatch" and "norm_adv" not in new
    for old, meant in ((True, "minibatch"), (False, "none")):
        d = {k: v for k, v in new.items() if k not in ("adv_norm", "adv_scale_tau")} | {"norm_adv": old}
        run = tmp_path / str(old)
        run.mkdir()
        (run / "config.json").write_text(json.dumps({**d, "requested_total_steps": d["total_steps"]}))
        assert read_config(run).adv_norm == meant
        assert PPOConfig.from_dict({**d, "adv_norm": meant}).adv_norm == meant   # both, agreeing
    with pytest.raises(ValueError, match="contradicts"):
        PPOConfig.from_dict({"norm_adv": False, "adv_norm": "scale"})
    with pytest.raises(ValueError, match="norm_adv must be true or false"):
        PPOConfig.from_dict({"norm_adv": "yes"})
    assert PPOConfig(adv_norm="zscore").problems() == ["adv_norm must be one of minibatch, batch, scale, none, "
                                                      "not 'zscore'"]
    assert "adv_norm" in {name for name, *_ in PPOConfig.field_docs()}   # --set adv_norm=..., with its help


def test_presets_say_their_mode_and_acme_2021_is_its_machinery_plus_table_2() -> None:
    for name in PRESETS:
        values = preset(name, "Hopper-v5")
        assert values["adv_norm"] == "minibatch", name
        assert PPOConfig(**values).problems() == [], name
    acme, mla = preset("acme-2021", "Humanoid-v5"), preset("mla-ppo-acme-2021", "Humanoid-v5")
    for k, v in ACME_2021.items():
        assert acme[k] == mla[k] == v, k
    assert acme["scale_params"] == {"eps": TABLE2["Humanoid"][3]} and acme["alpha"] == 0.0
    ar, ao, alpha, eps = TABLE2["Humanoid"]
    assert mla["scale_params"] == {"ao": ao, "ar": ar, "eps": eps} and mla["alpha"] == alpha
    assert ACME_2021["log_std_init"] == math.log(0.3)
    assert {k for k in acme if acme[k] != preset("ppo", "Humanoid-v5").get(k, acme[k])} == set()  # ppo ⊂ acme-2021


def test_cli_trains_the_acme_2021_preset_and_records_its_mode(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "acme"
    code = main(["train", "--preset", "acme-2021", "--preset", "mla-ppo-acme-2021", "--seeds", "0-1", "--out",
                 str(out), "--total-steps", "128", "--set", "num_steps=64", "--set", "minibatch_size=32",
                 "--set", "update_epochs=1", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    for label in ("acme-2021", "mla-ppo-acme-2021"):
        config = json.loads((out / label / "seed_1" / "config.json").read_text())
        assert (config["adv_norm"], config["vf_coef"], config["norm_obs"], config["anneal_lr"]) == \
            ("minibatch", 2.0, False, False)
