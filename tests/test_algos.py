"""Seed 001's A2C and REINFORCE and the KL-penalised PPO (seed 003) on the lane trainer: their presets, that A2C
is PPO's loop under another name, REINFORCE's return against a hand computation, PPO-KL's loss gradient, β's
adaptation, NaN isolation and bitwise resume, and ``pgcheck train --algo`` end to end."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from agents.algos import extra_metrics, registry
from agents.algos.onpolicy import PPOKL, adapt_beta, kl_penalty
from agents.buffer import RolloutBuffer, monte_carlo_returns
from agents.lanes import LaneTrainer
from agents.policy import LOG_2PI, ActorCritic
from agents.ppo import PPOConfig, RolloutBatch, evaluate_rollout, ppo_loss
from agents.presets import preset, preset_family, preset_names
from pgcheck.certificate import CheckedScale
from pgcheck.check import checked_scale
from pgcheck.errors import UserError
from pgcheck_cli.main import main

TINY: dict[str, Any] = {"env_id": "Hopper-v5", "total_steps": 192, "num_steps": 64, "minibatch_size": 32,
                        "update_epochs": 2, "checkpoint_every": 1, "exact_lanes": True}


def _lanes(configs: list[PPOConfig]) -> list[tuple[PPOConfig, CheckedScale]]:
    return [(c, checked_scale(c.scale, c.scale_params)) for c in configs]


def _s001(algo: str, **over: Any) -> PPOConfig:
    """Seed 001's preset for ``algo`` on the tiny Hopper loop (``over`` on top)."""
    return PPOConfig(**{**preset(f"s001-{algo}", "Hopper-v5"), **TINY, **over})


# ---------------------------------------------------------------------------------------------------
# presets and the --algo option


def test_s001_presets_are_table_2_and_name_their_family() -> None:
    for name in preset_names():
        values = preset(name, "Hopper-v5")
        assert PPOConfig(**values).problems() == [], name
        assert values.get("algo", "ppo") == preset_family(name), name
    a2c, rf, kl, ppo = (PPOConfig(**preset(f"s001-{a}", "Hopper-v5")) for a in ("a2c", "reinforce", "ppo-kl", "ppo"))
    # 2048 steps per env × 8 envs, 8 minibatches of one unroll's size (seed 001's code: one unroll per minibatch)
    assert (a2c.num_envs, a2c.num_steps, a2c.batch_size // a2c.minibatch_size, a2c.update_epochs) == (8, 2048, 8, 1)
    assert (a2c.scale, a2c.ent_coef, a2c.adv_norm, a2c.advantage) == ("q", 0.1, "minibatch", "gae")
    assert (rf.num_envs, rf.batch_size // rf.minibatch_size, rf.update_epochs, rf.ent_coef) == (1, 1, 1, 0.0)
    assert (rf.scale, rf.advantage, rf.adv_norm, rf.vf_coef) == ("q", "return", "none", 0.0)
    assert (ppo.update_epochs, ppo.batch_size // ppo.minibatch_size, ppo.scale_params) == (10, 8, {"eps": "0.2"})
    assert (kl.scale, kl.kl_beta_init, kl.kl_target, kl.update_epochs) == ("sq", 1.0, 0.01, 10)
    for c in (a2c, rf, kl, ppo):
        assert (c.learning_rate, c.max_grad_norm, c.gamma, c.clip_vloss) == (3e-4, 0.5, 0.99, False)
    assert preset("ppo", "Hopper-v5").get("algo", "ppo") == "ppo" and "num_envs" not in preset("ppo", "Hopper-v5")
    assert extra_metrics("ppo-kl") == ("kl_beta", "kl_mean") and extra_metrics("a2c") == ()
    assert registry()["a2c"].build is None and registry()["reinforce"].build is None


@pytest.mark.parametrize(("argv", "message"), [
    (["--algo", "sac"], "--algo 'sac': choose one of ppo, a2c"),
    (["--algo", "a2c", "--preset", "mla-ppo"], "--algo a2c with --preset mla-ppo: mla-ppo is a preset of algorithm "
     "ppo, not a2c"),
    (["--preset", "ppo", "--preset", "s001-a2c"], "the presets train different algorithms (a2c, ppo)"),
    (["--set", "advantage=td"], "advantage must be one of gae, return, not 'td'"),
    (["--algo", "ppo-kl", "--env", "Pendulum-v1"], "--algo ppo-kl has its own update, which runs on the lane "
     "trainer only"),
    (["--set", "engine=mjx", "--env", "Pendulum-v1"], "engine mjx steps the lanes of a batched MuJoCo task only"),
    (["--set", "engine=warp"], "engine must be one of mujoco, mjx, not 'warp'"),
])
def test_bad_algo_options_are_one_line_exit_2(argv: list[str], message: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", *argv, "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_algo_alone_is_its_s001_preset_and_set_still_overrides() -> None:
    from pgcheck_cli.commands.train import build_configs, configure_defaults

    (v,) = build_configs(configure_defaults(["--algo", "a2c", "--set", "ent_coef=0.05"]))
    assert v.preset == "s001-a2c" and v.config.algo == "a2c" and v.config.ent_coef == 0.05
    assert v.config.num_envs == 8 and v.config.update_epochs == 1
    (d,) = build_configs(configure_defaults([]))
    assert d.preset == "ppo" and d.config.algo == "ppo" and d.config.num_envs == 1   # the default stays CleanRL's
    (p,) = build_configs(configure_defaults(["--algo", "ppo"]))
    assert p.preset == "s001-ppo" and p.config.num_envs == 8
    (m,) = build_configs(configure_defaults(["--algo", "ppo", "--preset", "mla-ppo"]))   # same family: allowed
    assert m.preset == "mla-ppo" and m.config.scale == "mla_ppo"


# ---------------------------------------------------------------------------------------------------
# REINFORCE: the return G


def test_reinforce_return_against_a_hand_computation() -> None:
    gamma = 0.5
    # two envs, five steps. env 0: terminates after step 1, then runs into the rollout's end (cut);
    # env 1: a time-limit truncation after step 2, then a termination at the last step
    rewards = np.array([[1, 10], [2, 20], [4, 30], [8, 40], [16, 50]], dtype=np.float32)
    terminated = np.array([[0, 0], [1, 0], [0, 0], [0, 0], [0, 1]], dtype=bool)
    truncated = np.array([[0, 0], [0, 0], [0, 1], [0, 0], [0, 0]], dtype=bool)
    dones = terminated | truncated
    hand = np.array([
        [1 + 0.5 * 2, 10 + 0.5 * 20 + 0.25 * 30],        # G_0: to the episode's end (termination / truncation)
        [2, 20 + 0.5 * 30],
        [4 + 0.5 * 8 + 0.25 * 16, 30],                   # the truncation ends the sum: nothing bootstrapped
        [8 + 0.5 * 16, 40 + 0.5 * 50],
        [16, 50],                                        # the rollout's end cuts env 0's episode
    ], dtype=np.float32)
    got = monte_carlo_returns(rewards, dones, gamma)
    assert np.array_equal(got, hand)
    assert not np.array_equal(monte_carlo_returns(rewards, terminated, gamma), hand)  # control: through the limit

    # evaluate_rollout (both trainers' step 2) hands G to the loss as Â and as the critic's target
    obs_dim, act_dim = 3, 2
    buf = RolloutBuffer(5, 2, obs_dim, act_dim)
    g = np.random.default_rng(0)
    buf.obs[:] = g.standard_normal(buf.obs.shape)
    buf.actions[:] = g.standard_normal(buf.actions.shape)
    buf.rewards[:], buf.terminated[:], buf.dones[:] = rewards, terminated, dones
    buf.truncations.append((2, 1, g.standard_normal(obs_dim).astype(np.float32)))
    torch.manual_seed(0)
    policy = ActorCritic(obs_dim, act_dim)
    c = PPOConfig(num_steps=5, num_envs=2, minibatch_size=2, total_steps=10, gamma=gamma, advantage="return")
    batch = evaluate_rollout(policy, buf, c, obs_dim, act_dim, torch.device("cpu"))
    assert torch.equal(batch.advantages, torch.from_numpy(hand.reshape(-1)))
    assert torch.equal(batch.targets, batch.advantages)
    gae = evaluate_rollout(policy, buf, dataclasses.replace(c, advantage="gae"), obs_dim, act_dim, torch.device("cpu"))
    assert not torch.equal(gae.advantages, batch.advantages)    # control: the default source of Â differs


def test_reinforce_lane_trains_the_policy_only() -> None:
    trainer = LaneTrainer(_lanes([_s001("reinforce", minibatch_size=64, update_epochs=1)]))
    critic = [k for k in trainer.stack.params if k.startswith("critic.")]
    before = {k: v.detach().clone() for k, v in trainer.stack.params.items()}
    metrics = trainer.train_one_update()[0]
    for k, v in trainer.stack.params.items():
        assert torch.equal(v.detach(), before[k]) == (k in critic), k    # vf_coef 0: the critic never moves
    assert math.isfinite(metrics["policy_kl"]) and metrics["epochs"] == 1.0
    trainer.close()


# ---------------------------------------------------------------------------------------------------
# A2C: PPO's loop under another name, and its gradient


def test_a2c_lane_equals_the_same_ppo_lane_bitwise() -> None:
    a2c = _s001("a2c", num_envs=1, update_epochs=1)
    runs = {}
    for c in (a2c, dataclasses.replace(a2c, algo="ppo"), dataclasses.replace(a2c, ent_coef=0.0)):
        trainer = LaneTrainer(_lanes([c, dataclasses.replace(c, seed=1)]))
        metrics = [trainer.train_one_update() for _ in range(2)]
        runs[(c.algo, c.ent_coef)] = (trainer.stack.flat.detach().clone(), metrics)
        trainer.close()
    (p_a2c, m_a2c), (p_ppo, m_ppo), (p_ctl, _) = runs.values()
    assert torch.equal(p_a2c, p_ppo)
    timing = ("time", "sps", "physics_seconds", "acting_seconds", "update_seconds")
    for ma, mp in zip(m_a2c, m_ppo, strict=True):
        assert {i: {k: v for k, v in m.items() if k not in timing} for i, m in ma.items()} == \
            {i: {k: v for k, v in m.items() if k not in timing} for i, m in mp.items()}
    assert not torch.equal(p_a2c, p_ctl)    # control: the settings matter (entropy 0.1 against 0)


def _minibatch(seed: int = 0, n: int = 48) -> tuple[ActorCritic, RolloutBatch, torch.Tensor, torch.Tensor]:
    """A float64 policy moved off its behaviour (ΔO ≠ 0, as after a step) and a minibatch sampled from the
    behaviour; with the behaviour's mean and log σ per sample."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    policy = ActorCritic(5, 3).to(torch.float64)
    obs = torch.randn(n, 5, generator=g, dtype=torch.float64)
    with torch.no_grad():
        mu_old, log_std_old = policy.mean(obs).clone(), policy.log_std.clone()
        actions = mu_old + torch.randn(n, 3, generator=g, dtype=torch.float64)
        old_log_prob, _ = policy.log_prob_entropy(obs, actions)
        for p in policy.parameters():     # one "step" away from the behaviour
            p.add_(0.1 * torch.randn(p.shape, generator=g, dtype=torch.float64))
    adv = torch.randn(n, generator=g, dtype=torch.float64)
    zeros = torch.zeros(n, dtype=torch.float64)
    return policy, RolloutBatch(obs, actions, old_log_prob, zeros, adv, zeros), mu_old, log_std_old


def _actor_grad(loss: torch.Tensor, policy: ActorCritic) -> torch.Tensor:
    params = [p for n, p in policy.named_parameters() if not n.startswith("critic.")]
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params, retain_graph=True)])


def _log_prob(policy: ActorCritic, mb: RolloutBatch) -> torch.Tensor:
    """log N(a; μ, σ²) written out here (not the trainer's density)."""
    mean, log_std = policy.mean(mb.obs), policy.log_std
    return (-0.5 * ((mb.actions - mean) / log_std.exp()) ** 2 - log_std - 0.5 * LOG_2PI).sum(-1)


def test_a2c_gradient_is_the_a2c_estimator_and_not_the_importance_weighted_one() -> None:
    policy, mb, _, _ = _minibatch()
    c = dataclasses.replace(_s001("a2c"), vf_coef=0.0)
    entropy = policy.log_std.sum() + 0.5 * (1 + LOG_2PI) * 3
    reference = _actor_grad(-(mb.advantages * _log_prob(policy, mb)).mean() - c.ent_coef * entropy, policy)
    got = _actor_grad(ppo_loss(policy, checked_scale("q", {}), c, mb)[0], policy)
    assert torch.allclose(got, reference, rtol=0, atol=1e-12)
    ratio = (_log_prob(policy, mb) - mb.log_prob).exp().detach()
    assert float((ratio - 1).abs().max()) > 0.05                          # ΔO ≠ 0 on this minibatch
    sq = _actor_grad(ppo_loss(policy, checked_scale("sq", {}), c, mb)[0], policy)
    assert float((sq - reference).abs().max()) > 1e-3                   # control: e^ΔO Â ∇log π differs


# ---------------------------------------------------------------------------------------------------
# PPO-KL


def test_ppo_kl_loss_gradient_is_the_penalised_surrogate_and_not_the_reversed_kl() -> None:
    policy, mb, mu_old, log_std_old = _minibatch(1)
    c = dataclasses.replace(_s001("ppo-kl"), vf_coef=0.0)
    beta = 0.7

    def loss(kl: torch.Tensor) -> torch.Tensor:
        ratio = (_log_prob(policy, mb) - mb.log_prob).exp()
        return -(ratio * mb.advantages).mean() + beta * kl.sum(-1).mean()

    new, old = Normal(policy.mean(mb.obs), policy.log_std.exp()), Normal(mu_old, log_std_old.exp())
    reference = _actor_grad(loss(kl_divergence(old, new)), policy)
    reversed_kl = _actor_grad(loss(kl_divergence(new, old)), policy)
    surrogate = ppo_loss(policy, checked_scale("sq", {}), c, mb)[0]
    penalty, mean_kl = kl_penalty(beta, mu_old, log_std_old, policy.mean(mb.obs), policy.log_std)
    got = _actor_grad(surrogate + penalty, policy)
    assert torch.allclose(got, reference, rtol=0, atol=1e-12)
    assert float(mean_kl) == pytest.approx(float(kl_divergence(old, new).sum(-1).mean().detach()), rel=1e-12)
    assert float((got - reversed_kl).abs().max()) > 1e-4                # control: KL(πθ ‖ π_old)
    assert float((got - _actor_grad(surrogate, policy)).abs().max()) > 1e-4   # and the penalty is not vacuous


def test_adapt_beta_is_seed_003s_rule() -> None:
    t = 0.01
    assert adapt_beta(1.0, t / 1.5 - 1e-9, t) == 0.5 and adapt_beta(1.0, t / 1.5, t) == 1.0
    assert adapt_beta(1.0, 1.5 * t, t) == 1.0 and adapt_beta(1.0, 1.5 * t + 1e-9, t) == 2.0
    assert adapt_beta(4.0, t, t) == 4.0


def test_ppo_kl_beta_adapts_per_lane_by_the_update_mean_kl() -> None:
    base = _s001("ppo-kl", num_envs=1)
    # lane 0's target far below any KL of an update (β doubles), lane 1's far above (β halves)
    trainer = LaneTrainer(_lanes([dataclasses.replace(base, kl_target=1e-12),
                                  dataclasses.replace(base, seed=1, kl_target=1e3)]))
    algo = trainer.algorithm
    assert isinstance(algo, PPOKL) and algo.beta == [1.0, 1.0]
    trainer.collect_rollout()
    batches = {i: trainer.evaluate_lane(i) for i in range(2)}
    old = [(ln.policy.mean(batches[i].obs).detach(), ln.policy.log_std.detach().clone())
           for i, ln in enumerate(trainer.lanes)]
    out = algo.update(batches)
    for i, ln in enumerate(trainer.lanes):
        with torch.no_grad():   # the reference in float64
            d = kl_divergence(Normal(old[i][0].double(), old[i][1].double().exp()),
                              Normal(ln.policy.mean(batches[i].obs).double(),
                                     ln.policy.log_std.double().exp())).sum(-1).mean()
        assert out[i]["kl_mean"] == pytest.approx(float(d), rel=1e-4) and float(d) > 0
        assert out[i]["kl_beta"] == 1.0
    assert algo.beta == [2.0, 0.5]
    trainer.close()


def test_a_lane_whose_penalty_is_nan_fails_alone() -> None:
    base = _s001("ppo-kl", num_envs=1)
    finals = []
    for bad in (False, True):
        trainer = LaneTrainer(_lanes([base, dataclasses.replace(base, seed=1)]))
        algo = trainer.algorithm
        assert isinstance(algo, PPOKL)
        if bad:
            algo.beta[1] = math.nan
        out = trainer.train_one_update()
        finals.append(trainer.stack.flat.detach()[0].clone())
        if bad:
            assert set(out) == {0} and set(trainer.failed) == {1} and "loss became nan" in trainer.failed[1]
            assert trainer.active == [0]
        else:
            assert set(out) == {0, 1} and not trainer.failed
        trainer.close()
    assert torch.equal(finals[0], finals[1])     # the good lane trained as if beside a healthy one


def test_ppo_kl_resumes_bitwise_with_its_beta() -> None:
    base = _s001("ppo-kl", num_envs=1, kl_target=1e-12)      # β doubles after every update
    lanes = _lanes([base, dataclasses.replace(base, seed=1)])
    straight = LaneTrainer(lanes)
    straight.learn(max_updates=2)
    first = LaneTrainer(lanes)
    first.learn(max_updates=1)
    states = [first.lane_state_dict(i) for i in range(2)]
    first.close()
    assert [s["algorithm"] for s in states] == [{"beta": 2.0}, {"beta": 2.0}]
    results = []
    for beta in (None, 1.0):      # None: the checkpoint's β; 1.0: the control, β lost on resume
        resumed = LaneTrainer(lanes)
        for i, s in enumerate(states):
            resumed.load_lane_state_dict(i, s if beta is None else {**s, "algorithm": {"beta": beta}})
        resumed.learn(max_updates=1)
        results.append(resumed.stack.flat.detach().clone())
        assert isinstance(resumed.algorithm, PPOKL)
        if beta is None:
            assert isinstance(straight.algorithm, PPOKL) and resumed.algorithm.beta == straight.algorithm.beta
        resumed.close()
    assert torch.equal(results[0], straight.stack.flat.detach())
    assert not torch.equal(results[1], straight.stack.flat.detach())
    straight.close()


def test_ppo_kl_needs_the_lane_trainer() -> None:
    from agents.ppo import PPO

    c = dataclasses.replace(_s001("ppo-kl", num_envs=1), env_id="Pendulum-v1")
    with pytest.raises(UserError, match="runs on the lane trainer only"):
        PPO(c, checked_scale("sq", {}))


# ---------------------------------------------------------------------------------------------------
# end to end


@pytest.mark.parametrize(("algo", "extra"), [("a2c", ()), ("ppo-kl", ("kl_beta", "kl_mean"))])
def test_cli_algo_trains_two_seeds_with_policy_kl(algo: str, extra: tuple[str, ...], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / algo
    code = main(["train", "--algo", algo, "--env", "Hopper-v5", "--seeds", "0-1", "--total-steps", "128",
                 "--set", "num_steps=64", "--set", "num_envs=1", "--set", "minibatch_size=32", "--set",
                 "update_epochs=2", "--out", str(out), "--no-progress"])
    assert code == 0, capsys.readouterr().err
    for s in (0, 1):
        with open(out / f"seed_{s}" / "metrics.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == 2
        for column in ("policy_kl", *extra):
            assert all(math.isfinite(float(r[column])) for r in rows), column
        assert json.loads((out / f"seed_{s}" / "config.json").read_text())["algo"] == algo
        if algo == "ppo-kl":
            assert float(rows[0]["kl_beta"]) == 1.0 and float(rows[1]["kl_beta"]) in (0.5, 1.0, 2.0)
