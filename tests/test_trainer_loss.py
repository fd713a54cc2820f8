"""The trainer's minibatch loss (agents.ppo.ppo_loss and its parts) on hand-made numbers: the value-clip
direction, the advantage normalisation, and the claim ``ppo-trainer`` that ties the loss to the paper."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from agents.policy import ActorCritic
from agents.ppo import PPOConfig, normalize_advantages, ppo_loss, value_loss_fn
from derivations import runner as prove
from derivations import trainer
from pgcheck.check import checked_scale


def _grad_wrt_value(values: list[float], old: list[float], targets: list[float],
                    clip: float | None) -> tuple[float, list[float]]:
    v = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    loss = value_loss_fn(v, torch.tensor(old, dtype=torch.float64), torch.tensor(targets, dtype=torch.float64), clip)
    (g,) = torch.autograd.grad(loss, [v])
    return float(loss.detach()), g.tolist()


def test_value_clip_is_pessimistic_it_keeps_the_larger_error() -> None:
    # V moved away from the target beyond the clip: the unclipped error is larger, it is kept, the gradient flows
    loss, g = _grad_wrt_value([-0.5], [0.0], [1.0], 0.2)
    assert loss == pytest.approx(0.5 * 1.5 ** 2)
    assert g == pytest.approx([-1.5])
    # V moved past the target beyond the clip: the clipped error (V_old + 0.2 − T)² is larger, and constant in V
    loss, g = _grad_wrt_value([1.5], [0.0], [1.0], 0.2)
    assert loss == pytest.approx(0.5 * 0.8 ** 2)
    assert g == [0.0]
    # inside the clip range both terms agree
    loss, g = _grad_wrt_value([0.1], [0.0], [1.0], 0.2)
    assert loss == pytest.approx(0.5 * 0.9 ** 2)
    assert g == pytest.approx([-0.9])


def test_value_loss_without_clip_is_half_the_mean_squared_error() -> None:
    loss, g = _grad_wrt_value([1.5, -1.0], [0.0, 0.0], [1.0, 1.0], None)
    assert loss == pytest.approx(0.5 * (0.25 + 4.0) / 2)
    assert g == pytest.approx([0.25, -1.0])


def test_advantages_are_normalised_per_minibatch_with_the_unbiased_std() -> None:
    adv = torch.tensor([1.0, 2.0, 3.0, 10.0, 20.0, 60.0], dtype=torch.float64)
    out = normalize_advantages(adv, 3)
    first = (adv[:3] - 2.0) / (1.0 + 1e-8)  # std of 1, 2, 3 with n − 1 is exactly 1
    torch.testing.assert_close(out[:3], first)
    assert float(out[3:].mean()) == pytest.approx(0.0, abs=1e-12)
    assert float(out[3:].std()) == pytest.approx(1.0, rel=1e-6)


def test_ppo_loss_uses_the_configured_alpha_beta_and_value_clip() -> None:
    torch.manual_seed(0)
    policy = ActorCritic(3, 2, (8,)).to(torch.float64)
    n = 8
    mb = {"obs": torch.randn(n, 3, dtype=torch.float64), "actions": torch.randn(n, 2, dtype=torch.float64),
          "log_prob": torch.randn(n, dtype=torch.float64) - 2.0, "advantages": torch.randn(n, dtype=torch.float64),
          "targets": torch.randn(n, dtype=torch.float64), "values": torch.randn(n, dtype=torch.float64)}
    scale = checked_scale("mla_ppo", {"ao": "0.1", "ar": "1", "eps": "0.2"})
    base = PPOConfig(alpha=0.0, ent_coef=0.0, clip_vloss=False)
    ref, _ = ppo_loss(policy, scale, base, mb)
    for change in ({"alpha": 0.5}, {"ent_coef": 0.5}, {"clip_vloss": True}, {"vf_coef": 1.0}):
        other, _ = ppo_loss(policy, scale, dataclasses.replace(base, **change), mb)
        assert float(other.detach()) != pytest.approx(float(ref.detach()), abs=1e-9), change


def test_trainer_claim_holds_and_every_comparison_has_a_failing_negative_control() -> None:
    cert = prove.certificate(trainer.ID)
    assert cert["verdict"] == "cross-checked", cert["problems"]
    checks = cert["cross_checks"]
    assert len(checks) == 1 + 2 * len(trainer.CASES) + 1  # behaviour data, actor and critic per case, the lanes
    assert any(c["name"] == "lanes: one update" and c["max_abs_error"] == 0.0 for c in checks)
    assert all(c["passed"] and c["negative_control"]["outcome"] == "failed as expected" for c in checks)
    # value clipping on and off, α ≠ 0, and both ppo (Theorem 4.3) and a scale from sympy are covered
    assert {c.clip_vloss for c in trainer.CASES} == {True, False}
    assert any(c.alpha > 0 for c in trainer.CASES) and {c.surrogate for c in trainer.CASES} == {True, False}
