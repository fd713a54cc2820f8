"""PPO-family training with a checked scale function: the update ``Uπ(f)`` of eq. 30 for any ``f`` that
passed :func:`pgcheck.check.checked_scale`.

The whole algorithm is in this file, top to bottom:

1. :meth:`PPO.collect_rollout` — ``num_steps`` vector steps: normalise the observation, sample
   ``a ~ N(μ_θ(s), σ²)``, step the environments with the action clipped to the box, scale the reward,
   remember where episodes ended and the final observation of every time-limit truncation.
2. :meth:`PPO.evaluate_rollout` — one batched pass: behaviour log-probabilities ``log π_old(a|s)``,
   values, bootstrap values (see :mod:`agents.buffer` for truncation), GAE advantages and targets, as a
   :class:`RolloutBatch`.
3. :meth:`PPO.update` — ``update_epochs`` passes over shuffled minibatches. The scale of Â, hence of ΔR
   (eq. 29), is ``adv_norm``: z-scored per minibatch by :func:`normalize_advantages` (the default), over the
   rollout, divided by a running mean of |Â| (:class:`AdvantageScale`), or raw (:func:`rollout_advantages`).
   f is not invariant to rescaling ΔR (MLA-PPO's ``f_MLA(αo, αr)``, Appendix C.2), so this choice is part
   of the update rule a run trains with; ``ppo_loss`` takes Â as given. The loss of a minibatch is the pure function
   :func:`ppo_loss`; its policy part is

   ``upi_loss(scale, log π_θ, H, ΔO, ΔR, β)`` with ``ΔO = log π_θ − log π_old`` and
   ``ΔR = Â − α (log π_θ + H)`` (eq. 29),

   i.e. ``−mean_b[f(ΔO, ΔR) ∇log π_θ + β ∇H]``, with ``f`` evaluated on the detached ΔO, ΔR as a per-
   sample coefficient. With ``f = ppo(ε)`` and α = 0 its gradient is the clipped-surrogate gradient
   (Theorem 4.3); with ``f = mla_ppo(αo, αr, ε)`` it is the paper's MLA-PPO (Appendix C.2). The value loss
   is ``½ (V − target)²`` (optionally clipped around the old value, :func:`value_loss_fn`), the optimiser
   is Adam on the sum,
   with a global gradient-norm clip and a linearly annealed learning rate.
   A NaN or inf in the advantages, the loss or the gradient norm stops the run (:func:`non_finite`).

The trainer accepts the scale only as a :class:`~pgcheck.certificate.CheckedScale`; there is no way to
hand it a raw callable.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import ItemsView, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import gymnasium as gym
import numpy as np
import torch

from agents.algos import registry
from agents.buffer import RolloutBuffer, compute_gae, monte_carlo_returns
from agents.config import PPOConfig
from agents.envs import get_env_states, make_vector_env, require_same_step, set_env_states
from agents.normalize import ObsNormalizer, RewardScaler
from agents.optim import FlatAdam, clip_grad_norm
from agents.policy import ActorCritic, flatten_parameters
from agents.tasks import TASKS
from pgcheck.certificate import CheckedScale
from pgcheck.errors import PgcheckError, UserError
from pgcheck.updates import delta_o, delta_r_pi, upi_loss

__all__ = ["PPO", "AdvantageScale", "Callback", "NonFiniteLossError", "PPOConfig", "RolloutBatch", "non_finite",
           "policy_kl", "ppo_loss", "rollout_advantages"]


class RolloutBatch(NamedTuple):
    """A rollout ready for the update, flat over (step, env) — or a minibatch of it, or (lanes) with a lane
    axis in front. Built by :meth:`PPO.evaluate_rollout`."""

    obs: torch.Tensor          # normalised observations s, (n, obs_dim)
    actions: torch.Tensor      # sampled actions a before clipping to the box, (n, act_dim)
    log_prob: torch.Tensor     # log π_old(a|s), (n,)
    values: torch.Tensor       # V_old(s), (n,)
    advantages: torch.Tensor   # GAE Â (not normalised), (n,)
    targets: torch.Tensor      # value targets Â + V_old, (n,)

    def take(self, index: Any) -> RolloutBatch:
        """Every tensor indexed by ``index`` (a permutation, a slice of a minibatch, a lane)."""
        return RolloutBatch(*(t[index] for t in self))

    def items(self) -> ItemsView[str, torch.Tensor]:
        """(name, tensor) pairs, as from the mapping the trainer returned before (the proof suite reads it)."""
        return self._asdict().items()


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("device 'cuda' asked for, but torch sees no CUDA device (use 'cpu' or 'auto')")
    return torch.device(name)


def normalize_advantages(advantages: torch.Tensor, minibatch_size: int) -> torch.Tensor:
    """Â normalised within each consecutive block of ``minibatch_size`` (each minibatch): minus the block's
    mean, divided by its standard deviation (unbiased, n − 1) plus 1e-8 (``adv_norm = "minibatch"``: CleanRL's
    ``norm_adv``; ACME's PPO learner of 93a6a15, Oct 2021, z-scores each minibatch the same way but with the
    biased standard deviation, ``jnp.std``)."""
    a = advantages.view(-1, minibatch_size)
    return ((a - a.mean(1, keepdim=True)) / (a.std(1, keepdim=True) + 1e-8)).view(-1)


class AdvantageScale:
    """The running scale of ``adv_norm = "scale"``: ACME's ``normalize_advantage`` (``acme/agents/jax/ppo/
    learning.py`` since 300c780, Aug 2022). Once per update, with ``t`` the number of updates so far,
    ``m_t = τ m_{t−1} + (1 − τ) mean|Â|`` over the rollout (``m_0 = 0``), the scale is the zero-debiased
    ``s_t = m_t / (1 − τ^t)``, and Â is divided by ``max(s_t, 1e-6)``, without centring.

    ``m_t`` and ``t`` are training state: checkpointed (:meth:`state_dict`) so that a resumed run is bitwise.
    Both are Python floats (double), as the trainers' other scalar state."""

    def __init__(self, tau: float) -> None:
        self.tau = float(tau)
        self.count = 0
        self.biased = 0.0

    @property
    def scale(self) -> float:
        """``s_t`` (nan before the first update)."""
        return self.biased / (1.0 - self.tau ** self.count) if self.count else math.nan

    def __call__(self, advantages: torch.Tensor) -> torch.Tensor:
        """Fold this rollout's ``mean|Â|`` into the running mean, then return ``Â / max(s_t, 1e-6)``."""
        self.count += 1
        self.biased = self.tau * self.biased + (1.0 - self.tau) * float(advantages.abs().mean().item())
        return advantages / max(self.scale, 1e-6)

    def state_dict(self) -> dict[str, Any]:
        return {"tau": self.tau, "count": self.count, "biased": self.biased}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tau, self.count, self.biased = float(state["tau"]), int(state["count"]), float(state["biased"])


def rollout_advantages(advantages: torch.Tensor, mode: str, running: AdvantageScale) -> torch.Tensor:
    """A rollout's Â as the update's epochs see it, under ``adv_norm = mode`` (before any shuffling; the
    single-run trainer and each lane of :class:`agents.lanes.LaneTrainer` call this once per update on the
    lane's own (n,) advantages): ``batch``: minus the rollout's mean, divided by its standard deviation
    (unbiased) plus 1e-8; ``scale``: :class:`AdvantageScale` (its running state advances); ``minibatch`` (z-scored
    later, per minibatch, by :func:`normalize_advantages`) and ``none``: unchanged.

    Every mode changes only the Â that :func:`ppo_loss` receives, so ΔR = Â' − α (log π + H) with Â' this
    function's output: the proof suite's ``ppo-trainer`` claim checks the loss against eq. 30 for the
    per-minibatch Â' (``minibatch``, the default); for the other modes the same loss is fed another Â', and
    f (not scale-invariant in ΔR for MLA-PPO) is then a different update rule in effect."""
    if mode == "batch":
        return (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    if mode == "scale":
        return running(advantages)
    if mode in ("minibatch", "none"):
        return advantages
    raise ValueError(f"unknown adv_norm {mode!r}")


def value_loss_fn(values: torch.Tensor, old_values: torch.Tensor, targets: torch.Tensor,
                  clip: float | None) -> torch.Tensor:
    """``½ mean (V − target)²``; with ``clip``, the pessimistic clipped form
    ``½ mean max((V − target)², (V_old + clip(V − V_old, −clip, clip) − target)²)``. The mean is over the last
    axis (the samples), so a batch with a lane axis in front gives one loss per lane."""
    if clip is not None:
        clipped = old_values + (values - old_values).clamp(-clip, clip)
        return 0.5 * torch.maximum((values - targets) ** 2, (clipped - targets) ** 2).mean(-1)
    return 0.5 * ((values - targets) ** 2).mean(-1)


class PolicyHeads(Protocol):
    """What :func:`ppo_loss` needs of a policy: :class:`~agents.policy.ActorCritic`, or one lane's outputs of a
    lane-batched forward pass (:mod:`agents.lanes`)."""

    def log_prob_entropy(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def value(self, obs: torch.Tensor) -> torch.Tensor: ...


def ppo_loss(policy: PolicyHeads, scale: CheckedScale, c: PPOConfig,
             mb: RolloutBatch | Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The loss of one minibatch ``mb`` (obs, actions, log_prob = log π_old, advantages — already normalised
    if the config says so —, targets, values = the rollout's V) and its parts (detached).

    Policy: ``Uπ(f)`` of eq. (30) with ``ΔO = log π_θ − log π_old`` (eq. 25) and ``ΔR = Â − α (log π_θ + H)``
    (eq. 29), i.e. the gradient of the loss is ``−mean_b [f(ΔO, ΔR) ∇log π_θ + β ∇H]``. Value: ``vf_coef`` times
    :func:`value_loss_fn` (clipped when ``clip_vloss``). This is the one place the trainer's loss is computed;
    the proof suite's claim ``ppo-trainer`` differentiates this function.

    Means are over the last axis (the samples): the tensors of ``mb`` and of ``policy`` may carry a lane axis
    in front, (G, B), for G lanes that share ``scale`` and the loss fields of ``c`` (:mod:`agents.lanes`);
    the loss and its parts are then (G,), one per lane, each what the lane's (B,) minibatch alone gives.
    """
    if not isinstance(mb, RolloutBatch):  # a mapping with the same names (the proof suite builds one)
        mb = RolloutBatch(**mb)
    obs, actions, old_log_prob = mb.obs, mb.actions, mb.log_prob
    adv, targets, old_values = mb.advantages, mb.targets, mb.values

    # policy: Uπ(f) with ΔO = log π_θ − log π_old and ΔR from eq. 29
    log_prob, entropy = policy.log_prob_entropy(obs, actions)
    d_o = delta_o(log_prob, old_log_prob)
    d_r = delta_r_pi(adv, log_prob, entropy, c.alpha)
    policy_loss = upi_loss(scale, log_prob, entropy, d_o, d_r, c.ent_coef)

    # value: squared error, optionally clipped around the rollout's value
    value_loss = value_loss_fn(policy.value(obs), old_values, targets, c.value_clip if c.clip_vloss else None)

    loss = policy_loss + c.vf_coef * value_loss
    return loss, {"policy_loss": policy_loss.detach(), "value_loss": value_loss.detach(),
                  "log_prob": log_prob.detach()}


@torch.no_grad()
def policy_kl(policy: ActorCritic, batch: RolloutBatch) -> float:
    """KL(π_old ‖ π_new) between the policy that collected ``batch`` and ``policy`` after the update, by the
    unbiased estimator ``E_{a∼π_old}[(r − 1) − log r]``, r = π_new(a|s)/π_old(a|s), over the rollout's samples
    (seed 001 §6, Figure 5; Schulman's k3). Logged as ``policy_kl`` by both trainers and every algorithm."""
    log_prob, _ = policy.log_prob_entropy(batch.obs, batch.actions)
    log_ratio = log_prob - batch.log_prob
    return float(((log_ratio.exp() - 1.0) - log_ratio).mean().item())


class NonFiniteLossError(PgcheckError, RuntimeError):
    """A loss or gradient became NaN or infinite; the update that produced it was not applied."""


def non_finite(update: int, epoch: int = 0, *, batch: RolloutBatch | None = None, loss: torch.Tensor | None = None,
               parts: Mapping[str, torch.Tensor] | None = None, grad_norm: torch.Tensor | None = None) -> str | None:
    """The NaN/inf check of both trainers: what is not finite, in words, or None. ``update`` and ``epoch`` are
    1-based, for the message. The batch's advantages and targets are checked before any epoch because f may
    be 0 at NaN (τ's comparisons are false), so a NaN there would not reach the loss."""
    if batch is not None:
        for key in ("advantages", "targets"):
            if not torch.isfinite(getattr(batch, key)).all():
                return f"the {key} of update {update} contain NaN or inf"
    if loss is not None and not torch.isfinite(loss):
        detail = "" if parts is None else \
            f" (policy loss {parts['policy_loss'].item()}, value loss {parts['value_loss'].item()})"
        return f"the loss became {loss.item()} at update {update}, epoch {epoch}{detail}"
    if grad_norm is not None and not torch.isfinite(grad_norm):
        return f"the gradient norm became {grad_norm.item()} at update {update}, epoch {epoch}"
    return None


class Callback:
    """Hooks into training (SB3-style seams). Override what you need."""

    def on_episode(self, trainer: PPO, step: int, episode_return: float, length: int) -> None:
        """An episode finished at environment step ``step`` with this undiscounted return."""

    def on_update(self, trainer: PPO, metrics: dict[str, float]) -> None:
        """An update was applied; ``metrics`` describes the rollout and the update."""


def evaluate_rollout(policy: ActorCritic, buf: RolloutBuffer, c: PPOConfig, obs_dim: int, act_dim: int,
                     dev: torch.device) -> RolloutBatch:
    """A finished rollout with its behaviour log-probabilities, values and advantages and targets (the
    single-run trainer and every lane of :class:`agents.lanes.LaneTrainer` go through this one function): GAE
    (``advantage = "gae"``), or REINFORCE's Monte Carlo return-to-go :func:`agents.buffer.monte_carlo_returns`
    as both (``"return"``)."""
    n = c.batch_size
    obs = torch.from_numpy(buf.obs.reshape(n, obs_dim)).to(dev)
    actions = torch.from_numpy(buf.actions.reshape(n, act_dim)).to(dev)
    with torch.no_grad():
        log_prob, _ = policy.log_prob_entropy(obs, actions)
        values = policy.value(obs)
        last_value = policy.value(torch.from_numpy(buf.last_obs).to(dev))
        if buf.truncations:
            finals = torch.from_numpy(np.stack([f for _, _, f in buf.truncations])).to(dev)
            trunc_values = policy.value(finals).cpu().numpy()
        else:
            trunc_values = np.zeros(0, dtype=np.float32)
    values_np = values.cpu().numpy().reshape(c.num_steps, c.num_envs)
    if c.advantage == "return":   # REINFORCE (seed 001 §4.1): Â = G_t, no baseline; the critic's target is G_t too
        adv = monte_carlo_returns(buf.rewards, buf.dones, c.gamma)
        targets = adv.copy()
    else:
        next_values = buf.next_values(values_np, last_value.cpu().numpy(), trunc_values)
        adv, targets = compute_gae(buf.rewards, values_np, next_values, buf.terminated, buf.dones,
                                   c.gamma, c.gae_lambda)
    return RolloutBatch(obs, actions, log_prob, values, torch.from_numpy(adv.reshape(n)).to(dev),
                        torch.from_numpy(targets.reshape(n)).to(dev))


class PPO:
    """The trainer. ``learn()`` runs updates until ``config.total_steps`` steps are taken."""

    def __init__(self, config: PPOConfig, scale: CheckedScale,
                 envs: gym.vector.VectorEnv | None = None) -> None:
        if not isinstance(scale, CheckedScale):
            raise TypeError("PPO takes its scale only as a CheckedScale from pgcheck.check.checked_scale")
        problems = config.problems()
        if problems:
            raise ValueError("; ".join(problems))
        if config.engine != "mujoco":
            raise UserError(f"engine {config.engine!r} steps batched MuJoCo tasks on the lane trainer only: use a "
                            f"batched MuJoCo task ({', '.join(TASKS)})")
        if config.algo != "ppo" and registry()[config.algo].build is not None:
            raise UserError(f"algo {config.algo!r} has its own update, which runs on the lane trainer only: use a "
                            f"batched MuJoCo task ({', '.join(TASKS)})")
        self.config = c = config
        self.scale = scale
        self.device = resolve_device(c.device)
        torch.set_num_threads(c.torch_threads)
        torch.manual_seed(c.seed)
        seeds = np.random.SeedSequence(c.seed).spawn(2)
        self.act_rng = np.random.Generator(np.random.PCG64(seeds[0]))
        self.mb_rng = np.random.Generator(np.random.PCG64(seeds[1]))

        self.envs = envs if envs is not None else make_vector_env(c.env_id, c.num_envs, c.vector_env)
        require_same_step(self.envs)
        if self.envs.num_envs != c.num_envs:
            raise ValueError(f"config says num_envs={c.num_envs}, the vector env has {self.envs.num_envs}")
        obs_space: Any = self.envs.single_observation_space
        act_space: Any = self.envs.single_action_space
        self.obs_dim = int(np.prod(obs_space.shape))
        self.act_dim = int(np.prod(act_space.shape))
        self.act_low = act_space.low.astype(np.float32)
        self.act_high = act_space.high.astype(np.float32)

        self.policy = ActorCritic(self.obs_dim, self.act_dim, c.hidden_sizes, c.log_std_init).to(self.device)
        self.flat_params, self.flat_grad = flatten_parameters(self.policy)  # one tensor for Adam and clip
        self.optimizer = FlatAdam(self.flat_params, self.flat_grad, lr=c.learning_rate, eps=c.adam_eps)
        self.obs_norm = ObsNormalizer((self.obs_dim,), c.obs_clip, enabled=c.norm_obs)
        self.rew_scale = RewardScaler(c.num_envs, c.gamma, c.reward_clip, enabled=c.norm_reward)
        self.buffer = RolloutBuffer(c.num_steps, c.num_envs, self.obs_dim, self.act_dim)
        self.adv_scale = AdvantageScale(c.adv_scale_tau)   # adv_norm = "scale" only

        self.global_step = 0
        self.update_index = 0
        self.elapsed = 0.0                   # training seconds, summed over resumed sessions
        obs, _ = self.envs.reset(seed=c.seed * 1000)
        self.obs = np.asarray(obs, dtype=np.float64)
        self.ep_return = np.zeros(c.num_envs, dtype=np.float64)
        self.ep_length = np.zeros(c.num_envs, dtype=np.int64)
        self.recent_returns: deque[float] = deque(maxlen=20)
        self.exact_env_state = True          # False if a resume could not restore the envs bitwise

    # -----------------------------------------------------------------------------------------------
    # 1. rollout

    def collect_rollout(self, callbacks: Sequence[Callback] = ()) -> list[tuple[int, float, int]]:
        """Fill the buffer; return the episodes that finished: (step, return, length)."""
        buf, n_envs = self.buffer, self.config.num_envs
        buf.reset()
        actor = self.policy.numpy_actor()   # the weights are fixed during a rollout
        std, low, high = actor.std, self.act_low, self.act_high
        obs, finished = self.obs, []
        for t in range(buf.num_steps):
            obs_n = self.obs_norm(obs)
            buf.obs[t] = obs_n
            action = actor.mean(obs_n)
            action += std * self.act_rng.standard_normal(action.shape, dtype=np.float32)
            buf.actions[t] = action
            obs, reward, terminated, truncated, info = self.envs.step(np.clip(action, low, high))
            done = terminated | truncated
            self.global_step += n_envs
            self.ep_return += reward
            self.ep_length += 1
            buf.rewards[t] = self.rew_scale(reward, done)
            buf.terminated[t] = terminated
            buf.dones[t] = done
            if done.any():
                for i in np.flatnonzero(done):
                    if truncated[i] and not terminated[i]:
                        final = np.asarray(info["final_obs"][i], dtype=np.float64)[None]
                        buf.truncations.append((t, int(i), self.obs_norm(final, update=False)[0]))
                    episode = (self.global_step, float(self.ep_return[i]), int(self.ep_length[i]))
                    finished.append(episode)
                    self.recent_returns.append(episode[1])
                    for cb in callbacks:
                        cb.on_episode(self, *episode)
                    self.ep_return[i], self.ep_length[i] = 0.0, 0
        self.obs = np.asarray(obs, dtype=np.float64)
        buf.last_obs[:] = self.obs_norm(self.obs, update=False)
        return finished

    # -----------------------------------------------------------------------------------------------
    # 2. values, behaviour log-probabilities, advantages

    def evaluate_rollout(self) -> RolloutBatch:
        return evaluate_rollout(self.policy, self.buffer, self.config, self.obs_dim, self.act_dim, self.device)

    # -----------------------------------------------------------------------------------------------
    # 3. the update

    def update(self, batch: RolloutBatch) -> dict[str, float]:
        c, policy, opt = self.config, self.policy, self.optimizer
        n, mb, u = c.batch_size, c.minibatch_size, self.update_index + 1
        if (why := non_finite(u, batch=batch)) is not None:
            raise NonFiniteLossError(why)
        batch = batch._replace(advantages=rollout_advantages(batch.advantages, c.adv_norm, self.adv_scale))
        losses: list[torch.Tensor] = []       # (policy loss, value loss, grad norm) per minibatch
        kls: list[torch.Tensor] = []
        clip_fracs: list[torch.Tensor] = []
        new_log_prob = torch.empty(n, device=self.device)
        for epoch in range(c.update_epochs):
            # shuffle once per epoch; minibatches are then contiguous slices (views, no copies)
            perm = torch.from_numpy(self.mb_rng.permutation(n)).to(self.device)
            b = batch.take(perm)
            if c.adv_norm == "minibatch":  # per-minibatch normalisation, all minibatches at once
                b = b._replace(advantages=normalize_advantages(b.advantages, mb))
            for start in range(0, n, mb):
                sl = slice(start, start + mb)
                loss, parts = ppo_loss(policy, self.scale, c, b.take(sl))
                if (why := non_finite(u, epoch + 1, loss=loss, parts=parts)) is not None:
                    raise NonFiniteLossError(why)
                self.flat_grad.zero_()
                loss.backward()  # type: ignore[no-untyped-call]
                grad_norm = clip_grad_norm(self.flat_grad, c.max_grad_norm)
                if (why := non_finite(u, epoch + 1, grad_norm=grad_norm)) is not None:
                    raise NonFiniteLossError(why)
                opt.step()
                losses.append(torch.stack([parts["policy_loss"], parts["value_loss"], grad_norm]))
                new_log_prob[sl] = parts["log_prob"]

            with torch.no_grad():  # diagnostics over the epoch, before each minibatch's step
                log_ratio = new_log_prob - b.log_prob
                ratio = log_ratio.exp()
                kls.append(((ratio - 1.0) - log_ratio).mean())  # k3 estimator of KL(π_old ‖ π_θ)
                clip_fracs.append(((ratio - 1.0).abs() > c.clip_eps_diagnostic).float().mean())
            if c.target_kl is not None and kls[-1].item() > c.target_kl:
                break
        mean_losses = torch.stack(losses).mean(0).tolist()
        with torch.no_grad():
            entropy_now = self.policy.log_prob_entropy(batch.obs[:1], batch.actions[:1])[1].item()
        targets_all, values_all = batch.targets, batch.values
        var_t = targets_all.var().item()
        explained = float("nan") if var_t == 0 else 1.0 - (targets_all - values_all).var().item() / var_t
        return {"policy_loss": mean_losses[0], "value_loss": mean_losses[1], "grad_norm": mean_losses[2],
                "entropy": entropy_now, "approx_kl": torch.stack(kls).mean().item(),
                "clip_fraction": torch.stack(clip_fracs).mean().item(), "explained_variance": explained,
                "epochs": float(epoch + 1)}

    # -----------------------------------------------------------------------------------------------
    # the loop

    def learning_rate(self, update_index: int) -> float:
        """The rate for update ``update_index`` (0-based): linear from lr to lr/num_updates."""
        c = self.config
        if not c.anneal_lr:
            return c.learning_rate
        return c.learning_rate * (1.0 - update_index / c.num_updates)

    def train_one_update(self, callbacks: Sequence[Callback] = ()) -> dict[str, float]:
        t0 = time.perf_counter()
        lr = self.learning_rate(self.update_index)
        self.optimizer.lr = lr
        start_step = self.global_step
        finished = self.collect_rollout(callbacks)
        batch = self.evaluate_rollout()
        metrics = self.update(batch)
        metrics["policy_kl"] = policy_kl(self.policy, batch)
        self.update_index += 1
        seconds = time.perf_counter() - t0
        self.elapsed += seconds
        returns = [r for _, r, _ in finished]
        metrics.update({
            "global_step": float(self.global_step), "update": float(self.update_index),
            "time": self.elapsed, "sps": (self.global_step - start_step) / seconds,
            "episodes": float(len(finished)),
            "episodic_return": float(np.mean(returns)) if returns else math.nan,
            "episodic_length": float(np.mean([n for _, _, n in finished])) if finished else math.nan,
            "recent_return": float(np.mean(self.recent_returns)) if self.recent_returns else math.nan,
            "learning_rate": lr, "log_std": float(self.policy.log_std.mean().item()),
        })
        for cb in callbacks:
            cb.on_update(self, metrics)
        return metrics

    def learn(self, callbacks: Sequence[Callback] = (), max_updates: int | None = None) -> None:
        """Train until ``total_steps`` (or ``max_updates`` more updates, for tests of interruption)."""
        done = 0
        while self.update_index < self.config.num_updates and (max_updates is None or done < max_updates):
            self.train_one_update(callbacks)
            done += 1

    # -----------------------------------------------------------------------------------------------
    # state for checkpoints

    def state_dict(self) -> dict[str, Any]:
        return {
            "global_step": self.global_step, "update_index": self.update_index, "elapsed": self.elapsed,
            "policy": self.policy.state_dict(), "optimizer": self.optimizer.state_dict(),
            "obs_norm": self.obs_norm.state_dict(), "rew_scale": self.rew_scale.state_dict(),
            "act_rng": self.act_rng.bit_generator.state, "mb_rng": self.mb_rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(), "obs": self.obs.copy(), "ep_return": self.ep_return.copy(),
            "ep_length": self.ep_length.copy(), "recent_returns": list(self.recent_returns),
            "env_states": get_env_states(self.envs), "adv_scale": self.adv_scale.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.global_step = int(state["global_step"])
        self.update_index = int(state["update_index"])
        self.elapsed = float(state["elapsed"])
        self.policy.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.obs_norm.load_state_dict(state["obs_norm"])
        self.rew_scale.load_state_dict(state["rew_scale"])
        if "adv_scale" in state:   # checkpoints from before adv_norm had no scale mode, so no state
            self.adv_scale.load_state_dict(state["adv_scale"])
        self.act_rng.bit_generator.state = state["act_rng"]
        self.mb_rng.bit_generator.state = state["mb_rng"]
        torch.set_rng_state(state["torch_rng"])
        self.recent_returns = deque((float(r) for r in state["recent_returns"]), maxlen=20)
        if state["env_states"] is not None and get_env_states(self.envs) is not None:
            set_env_states(self.envs, state["env_states"])
            self.obs = np.array(state["obs"], dtype=np.float64)
            self.ep_return = np.array(state["ep_return"], dtype=np.float64)
            self.ep_length = np.array(state["ep_length"], dtype=np.int64)
        else:  # the environments cannot be restored: start fresh episodes (the run is no longer bitwise)
            self.exact_env_state = False
            self.rew_scale.returns[:] = 0.0

    def close(self) -> None:
        self.envs.close()
