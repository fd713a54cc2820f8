"""The PPO trainer's pieces on real data: Uπ(ppo) = clipped surrogate, truncation, normalisers, stats."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import gymnasium as gym
import numpy as np
import pytest
import torch

from agents import stats
from agents.buffer import compute_gae
from agents.envs import InlineVectorEnv
from agents.normalize import RunningMeanStd
from agents.ppo import PPO, PPOConfig
from pgcheck.certificate import CheckedScale
from pgcheck.check import checked_scale
from pgcheck.updates import delta_o, delta_r_pi, upi_loss


@pytest.fixture(scope="module")
def ppo_scale() -> CheckedScale:
    return checked_scale("ppo", {"eps": "0.2"})


def _small(**kw: Any) -> PPOConfig:
    base: dict[str, Any] = {"env_id": "Hopper-v5", "total_steps": 1024, "num_steps": 256, "minibatch_size": 64,
                            "update_epochs": 2}
    base.update(kw)
    return PPOConfig(**base)


# ---------------------------------------------------------------------------------------------------
# Theorem 4.3 on a real batch


def test_upi_ppo_gradient_equals_clipped_surrogate_on_hopper_batch(ppo_scale: CheckedScale) -> None:
    trainer = PPO(_small(), ppo_scale)
    trainer.collect_rollout()
    batch = trainer.evaluate_rollout()
    with torch.no_grad():  # move away from π_old so that ratios spread over both sides of the clip
        for p in trainer.policy.actor.parameters():
            p.add_(0.1 * torch.randn_like(p))
    obs, actions, old = batch.obs, batch.actions, batch.log_prob
    adv = batch.advantages
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    params = [*trainer.policy.actor.parameters(), trainer.policy.log_std]

    def grads(loss: torch.Tensor) -> list[torch.Tensor]:
        return [g.clone() for g in torch.autograd.grad(loss, params)]

    log_prob, entropy = trainer.policy.log_prob_entropy(obs, actions)
    u = upi_loss(ppo_scale, log_prob, entropy, delta_o(log_prob, old), delta_r_pi(adv, log_prob, entropy, 0.0))
    g_u = grads(u)
    log_prob, _ = trainer.policy.log_prob_entropy(obs, actions)
    ratio = torch.exp(log_prob - old)
    surrogate = -torch.minimum(ratio * adv, ratio.clamp(0.8, 1.2) * adv).mean()
    g_s = grads(surrogate)

    clipped = ((adv > 0) & (ratio >= 1.2)) | ((adv < 0) & (ratio <= 0.8))
    assert 0.1 < clipped.float().mean().item() < 0.9  # both branches occur in the batch
    for a, b in zip(g_u, g_s, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_trainer_update_with_ppo_scale_matches_a_clipped_surrogate_trainer(
        ppo_scale: CheckedScale, monkeypatch: pytest.MonkeyPatch) -> None:
    """The full update (value loss, clipping, Adam, ...) with f = ppo(ε) against the same trainer whose
    policy loss is replaced by the textbook clipped surrogate: the parameters agree after an update."""
    a = PPO(_small(seed=3), ppo_scale)
    a.train_one_update()

    def clipped_surrogate(scale: Any, log_prob: torch.Tensor, entropy: torch.Tensor, d_o: torch.Tensor,
                          d_r: torch.Tensor, beta: float = 0.0) -> torch.Tensor:
        ratio = torch.exp(log_prob - log_prob.detach() + d_o)
        return -torch.minimum(ratio * d_r, ratio.clamp(0.8, 1.2) * d_r).mean() - beta * entropy.mean()

    monkeypatch.setattr("agents.ppo.upi_loss", clipped_surrogate)
    b = PPO(_small(seed=3), ppo_scale)
    b.train_one_update()
    for (name, pa), (_, pb) in zip(a.policy.named_parameters(), b.policy.named_parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=1e-4, atol=1e-6, msg=name)
    a.close()
    b.close()


def test_trainer_accepts_only_a_checked_scale() -> None:
    with pytest.raises(TypeError, match="CheckedScale"):
        PPO(_small(), lambda x, y: y)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------
# truncation: bootstrap from the final observation, not at a termination


class CountEnv(gym.Env[np.ndarray, np.ndarray]):
    """Reward 1 per step; terminates after ``terminate_at`` steps if given (else only a TimeLimit ends it)."""

    def __init__(self, terminate_at: int | None = None) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float64)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.terminate_at = terminate_at
        self.t = 0

    def _obs(self) -> np.ndarray:
        return np.array([self.t / 10.0, 1.0])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray,
                                                                                              dict[str, Any]]:
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self.t += 1
        return self._obs(), 1.0, self.terminate_at is not None and self.t >= self.terminate_at, False, {}


def _toy_envs(kind: str) -> gym.vector.VectorEnv:
    fns: list[Callable[[], gym.Env[Any, Any]]] = [
        lambda: gym.wrappers.TimeLimit(CountEnv(), max_episode_steps=5),
        lambda: gym.wrappers.TimeLimit(CountEnv(terminate_at=5), max_episode_steps=50)]
    if kind == "inline":
        return InlineVectorEnv(fns)
    return gym.vector.SyncVectorEnv(fns, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)


@pytest.mark.parametrize("kind", ["inline", "gymnasium-sync"])
def test_truncation_bootstraps_from_final_observation(ppo_scale: CheckedScale, kind: str) -> None:
    """V ≡ 2 is the true value of 'reward 1 forever' at γ = 1/2. Cut by a time limit, every TD error is
    1 + γ·2 − 2 = 0, so all advantages vanish; when the episode *terminates* after 5 steps the last TD
    error is 1 − 2 = −1 and the advantages are −(γλ)^k, k steps before the end."""
    config = PPOConfig(env_id="toy", total_steps=40, num_envs=2, num_steps=20, minibatch_size=20,
                       gamma=0.5, gae_lambda=0.8, norm_obs=False, norm_reward=False)
    trainer = PPO(config, ppo_scale, envs=_toy_envs(kind))
    with torch.no_grad():
        last = cast(torch.nn.Linear, trainer.policy.critic[-1])   # the critic's head (agents.policy.mlp)
        last.weight.zero_()
        last.bias.fill_(2.0)
    trainer.collect_rollout()
    batch = trainer.evaluate_rollout()
    adv = batch.advantages.numpy().reshape(20, 2)
    assert np.all(trainer.buffer.dones[4::5])  # both envs end an episode every 5 steps
    np.testing.assert_array_equal(adv[:, 0], np.zeros(20))
    expected = -np.tile((0.5 * 0.8) ** np.arange(4, -1, -1), 4)
    np.testing.assert_allclose(adv[:, 1], expected, rtol=1e-6)
    trainer.close()


@pytest.mark.parametrize("kind", ["inline", "gymnasium-sync"])
def test_truncation_bootstraps_from_the_final_not_the_reset_observation(
        ppo_scale: CheckedScale, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a state-dependent critic V(s) = 10·s[0] = t (the step count), the TD error of the step that a
    time limit cuts is 1 + γ·V(final obs, t = 5) − V(t = 4) = 1 + 5γ − 4; bootstrapping from the *reset*
    observation (V = 0), or treating the cut as a termination, would both give 1 − 4. A constant critic
    cannot tell these apart, so this test pins the final observation itself."""
    gamma, lam = 0.5, 0.8
    config = PPOConfig(env_id="toy", total_steps=40, num_envs=2, num_steps=20, minibatch_size=20,
                       gamma=gamma, gae_lambda=lam, norm_obs=False, norm_reward=False)
    trainer = PPO(config, ppo_scale, envs=_toy_envs(kind))
    monkeypatch.setattr(trainer.policy, "value", lambda obs: 10.0 * obs[..., 0])
    trainer.collect_rollout()
    adv = trainer.evaluate_rollout().advantages.numpy().reshape(20, 2)

    def episode_advantages(last_next_value: float) -> np.ndarray:
        """GAE over one 5-step episode of CountEnv, V(s_t) = t, written out independently of agents.buffer."""
        deltas = [1.0 + gamma * (t + 1) - t for t in range(4)] + [1.0 + gamma * last_next_value - 4.0]
        out, running = np.zeros(5), 0.0
        for t in range(4, -1, -1):
            running = deltas[t] + gamma * lam * running
            out[t] = running
        return out

    np.testing.assert_allclose(adv[:, 0], np.tile(episode_advantages(5.0), 4), rtol=1e-5)  # truncated
    np.testing.assert_allclose(adv[:, 1], np.tile(episode_advantages(0.0), 4), rtol=1e-5)  # terminated
    trainer.close()


def test_critic_learns_the_infinite_horizon_value_under_truncation(ppo_scale: CheckedScale) -> None:
    """Only time limits end the episodes, so the value of the (constant) state is 1/(1−γ) = 5; treating
    truncation as termination would give about 2.3."""
    class ConstObs(gym.ObservationWrapper[np.ndarray, np.ndarray, np.ndarray]):
        def observation(self, observation: np.ndarray) -> np.ndarray:
            return np.array([0.0, 1.0])

    fns: list[Callable[[], gym.Env[Any, Any]]] = [
        lambda: ConstObs(gym.wrappers.TimeLimit(CountEnv(), max_episode_steps=5))]
    config = PPOConfig(env_id="toy", total_steps=64 * 60, num_steps=64, minibatch_size=32, update_epochs=10,
                       gamma=0.8, norm_obs=False, norm_reward=False, learning_rate=3e-3, anneal_lr=False,
                       clip_vloss=False, max_grad_norm=10.0)
    trainer = PPO(config, ppo_scale, envs=InlineVectorEnv(fns))
    trainer.learn()
    with torch.no_grad():
        v = trainer.policy.value(torch.tensor([[0.0, 1.0]])).item()
    assert abs(v - 5.0) < 0.25, v
    trainer.close()


def test_next_step_autoreset_vector_env_is_refused(ppo_scale: CheckedScale) -> None:
    envs = gym.vector.SyncVectorEnv([lambda: CountEnv(5)])  # Gymnasium's default: NEXT_STEP
    with pytest.raises(ValueError, match="SAME_STEP"):
        PPO(PPOConfig(env_id="toy", total_steps=64, num_steps=64, minibatch_size=32), ppo_scale, envs=envs)


def test_gae_matches_a_direct_sum() -> None:
    rng = np.random.default_rng(0)
    r = rng.normal(size=(6, 1)).astype(np.float32)
    v = rng.normal(size=(6, 1)).astype(np.float32)
    nv = np.vstack([v[1:], [[0.7]]]).astype(np.float32)
    term = np.zeros((6, 1), bool)
    adv, ret = compute_gae(r, v, nv, term, term, 0.9, 0.8)
    deltas = r[:, 0] + 0.9 * nv[:, 0] - v[:, 0]
    direct = [sum((0.9 * 0.8) ** k * deltas[t + k] for k in range(6 - t)) for t in range(6)]
    np.testing.assert_allclose(adv[:, 0], direct, rtol=1e-5)
    np.testing.assert_allclose(ret, adv + v, rtol=1e-6)


# ---------------------------------------------------------------------------------------------------
# normalisation and statistics


def test_running_mean_std_one_at_a_time_equals_batch() -> None:
    x = np.random.default_rng(1).normal(3.0, 2.0, size=(500, 4))
    a, b = RunningMeanStd((4,)), RunningMeanStd((4,))
    for row in x:
        a.update(row[None])
    b.update(x)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-10)
    np.testing.assert_allclose(a.var, b.var, rtol=1e-8)
    np.testing.assert_allclose(a.mean, x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(a.var, x.var(0), rtol=1e-3)


def test_iqm_weights_and_bootstrap() -> None:
    np.testing.assert_allclose(stats.iqm_weights(3), [1 / 6, 2 / 3, 1 / 6])
    np.testing.assert_allclose(stats.iqm_weights(4), [0, 0.5, 0.5, 0])
    assert float(stats.iqm(np.array([0.0, 10.0, 1000.0]))) == pytest.approx(1000 / 6 + 20 / 3)
    assert float(stats.iqm(np.array([1.0, 2.0, 3.0, 100.0]))) == pytest.approx(2.5)
    e = stats.estimate(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), stats.mean)  # more in tests/test_stats.py
    assert e.lo is not None and e.hi is not None and 1.0 <= e.lo < 3.0 < e.hi <= 5.0


def test_flat_adam_and_clip_match_torch() -> None:
    from agents.optim import FlatAdam, clip_grad_norm

    torch.manual_seed(0)
    a = torch.randn(50)
    b = torch.nn.Parameter(a.clone())
    grad = torch.zeros(50)
    mine = FlatAdam(a, grad, lr=1e-2, eps=1e-5)
    ref = torch.optim.Adam([b], lr=1e-2, eps=1e-5)
    for _ in range(20):
        g = torch.randn(50) * 3
        grad.copy_(g)
        b.grad = g.clone()
        n1 = clip_grad_norm(grad, 0.5)
        n2 = torch.nn.utils.clip_grad_norm_([b], 0.5)
        torch.testing.assert_close(n1, n2)
        torch.testing.assert_close(grad, b.grad)
        mine.step()
        ref.step()
    torch.testing.assert_close(a, b.detach(), rtol=1e-5, atol=1e-6)
