"""Seed 001's A2C and REINFORCE, and PPO with seed 003's adaptive KL penalty, on the lane trainer.

All three are PPO's minibatch loop (:meth:`agents.lanes.LaneTrainer.update`) with other settings, each policy
loss built from the lane's :class:`~pgcheck.certificate.CheckedScale` by :func:`agents.ppo.ppo_loss`:

* **A2C** (seed 001 §4.2, Algorithm 4, Table 1: ``Â ∇log π``): Uπ(f = y) — pgcheck's scale ``q`` — with
  ΔR = Â (GAE, eq. 29 at α = 0), one epoch of 8 minibatches, entropy coefficient β = 0.1 (eq. 34's β∇H).
  No code of its own: the name only selects the preset and is recorded (``derivations/s001_a2c.py``).
* **REINFORCE** (seed 001 §4.1, Algorithm 3, Table 1: ``G ∇log π``, "modified to average gradients over
  batches of transitions", §6): Uπ(q) with ΔR = the Monte Carlo return-to-go G_t (``advantage = "return"``,
  :func:`agents.buffer.monte_carlo_returns`), one env, one epoch of one minibatch, β = 0; the critic is not
  trained (``vf_coef = 0``; ``derivations/s001_reinforce.py``).
* **PPO-KL** (seed 003, "Adaptive KL penalty coefficient"; ``derivations/s001_ppo_kl.py``): the surrogate part
  Uπ(f_SQ) — scale ``sq``, ΔR = Â — **plus a penalty term outside the class**, β · KL(π_old(·|s) ‖ πθ(·|s)), the
  analytic KL of the two diagonal Gaussians per state (:func:`gaussian_kl`), mean over the minibatch
  (:func:`kl_penalty`). The derivation shows that this term is not f(ΔO, ΔR)∇log π for any f, and that the
  sampled k3 estimate would make it Uπ(eˣy − β(eˣ − 1)), which Assumption 5.1 rejects (f(x, 0) ≠ 0): so the
  penalty stays an explicit, named term beside the checked Uπ(f_SQ). β is per lane and adapts after each
  update by seed 003's rule (:func:`adapt_beta`), with d the update's mean analytic KL over the rollout.
  metrics.csv gets ``kl_beta`` (the β the update was penalised with) and ``kl_mean`` (d: the mean analytic
  KL(π_old ‖ π_new) over the rollout's states after the update, what the rule reads). The penalty's μθ is a
  second actor forward pass per minibatch (:meth:`agents.lanes.StackedActorCritic.actor_mean`), beside the
  one inside the trainer's ``heads``: the actor is small next to the critic, and ``heads`` stays unchanged.

Every algorithm also gets ``policy_kl`` (the k3 estimate of KL between consecutive policies, seed 001 §6,
Figure 5) from the trainer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from agents.algos import AlgorithmSpec
from agents.presets import S001_A2C, S001_PPO_KL, S001_REINFORCE

if TYPE_CHECKING:
    from agents.lanes import LaneTrainer
    from agents.ppo import RolloutBatch


def gaussian_kl(mu_old: torch.Tensor, log_std_old: torch.Tensor, mu: torch.Tensor,
                log_std: torch.Tensor) -> torch.Tensor:
    """``KL(N(μ_old, σ_old²) ‖ N(μ, σ²))`` per sample for diagonal Gaussians with state-independent σ:
    ``Σ_d [log σ − log σ_old + (σ_old² + (μ_old − μ)²) / (2σ²) − ½]``. ``mu_old``, ``mu``: (..., B, d);
    ``log_std_old``, ``log_std``: (..., d) (one per lane); returns (..., B)."""
    # with δ = log σ_old − log σ the σ part is ½(e^{2δ} − 1 − 2δ): written with expm1, so that a small KL (the
    # regime of a trust region, ~1e-3) is not the difference of O(1) terms in float32
    delta = (log_std_old - log_std).unsqueeze(-2)
    return (0.5 * (torch.expm1(2.0 * delta) - 2.0 * delta)
            + 0.5 * (mu_old - mu) ** 2 * torch.exp(-2.0 * log_std.unsqueeze(-2))).sum(-1)


def kl_penalty(beta: torch.Tensor | float, mu_old: torch.Tensor, log_std_old: torch.Tensor, mu: torch.Tensor,
               log_std: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO-KL's penalty, the term outside Uπ(f) (seed 003): ``β · mean_b KL(π_old(·|s_b) ‖ πθ(·|s_b))`` and the
    mean KL itself (detached), each (...,) — one per lane with a lane axis in front (``beta`` then (L,)).
    Added to :func:`agents.ppo.ppo_loss` with scale ``sq`` it is the loss whose gradient is
    ``−mean_b[rÂ ∇log πθ] + β ∇ mean_b KL``: the gradient of ``−mean_b(rÂ) + β mean_b KL``."""
    kl = gaussian_kl(mu_old, log_std_old, mu, log_std).mean(-1)
    return beta * kl, kl.detach()


def adapt_beta(beta: float, d: float, target: float) -> float:
    """Seed 003's rule after an update with mean KL ``d``: β/2 if d < d_targ/1.5, 2β if d > 1.5 d_targ, else β."""
    if d < target / 1.5:
        return beta / 2.0
    if d > target * 1.5:
        return beta * 2.0
    return beta


class PPOKL:
    """PPO-KL for all lanes of a trainer: the trainer's PPO loop with :func:`kl_penalty` as its extra loss."""

    def __init__(self, trainer: LaneTrainer) -> None:
        self.trainer = trainer
        self.beta = [float(ln.config.kl_beta_init) for ln in trainer.lanes]

    def update(self, batches: dict[int, RolloutBatch]) -> dict[int, dict[str, float]]:
        t = self.trainer
        lanes = [i for i in t.active if i in batches]
        if not lanes:
            return {}
        L = t.num_lanes
        arange = torch.arange(L, device=t.device).unsqueeze(1)
        # lanes not trained get a trained lane's observations (computed, never applied), as LaneTrainer.update
        obs = torch.stack([batches[i if i in lanes else lanes[0]].obs for i in range(L)])
        log_std = t.stack.params["log_std"]
        with torch.no_grad():   # π_old at every sample of each lane's rollout, before the update's first step
            mu_old = t.stack.actor_mean(obs)
            log_std_old = log_std.detach().clone()
        beta = torch.tensor(self.beta, dtype=obs.dtype, device=t.device)

        def penalty(mbs: RolloutBatch, index: torch.Tensor) -> torch.Tensor:
            return kl_penalty(beta, mu_old[arange, index], log_std_old, t.stack.actor_mean(mbs.obs), log_std)[0]

        out = t.update(batches, extra_loss=penalty)
        with torch.no_grad():   # d of seed 003's rule: the mean KL(π_old ‖ π_new) over the rollout
            d = gaussian_kl(mu_old, log_std_old, t.stack.actor_mean(obs), log_std).mean(-1).tolist()
        for i, metrics in out.items():
            metrics["kl_beta"] = self.beta[i]    # the β this update was penalised with
            metrics["kl_mean"] = d[i]
            self.beta[i] = adapt_beta(self.beta[i], d[i], t.lanes[i].config.kl_target)
        return out

    def lane_state(self, i: int) -> dict[str, Any]:
        return {"beta": self.beta[i]}

    def load_lane_state(self, i: int, state: dict[str, Any]) -> None:
        self.beta[i] = float(state["beta"])


ALGORITHMS: dict[str, AlgorithmSpec] = {
    "a2c": AlgorithmSpec("seed 001's A2C: Uπ(q), ΔR = GAE Â, one epoch of 8 minibatches, entropy 0.1 (Table 1)",
                         preset=S001_A2C),
    "reinforce": AlgorithmSpec("seed 001's REINFORCE: Uπ(q), ΔR = the Monte Carlo return G_t, one env, one "
                               "minibatch, one epoch (Table 1, §6)", preset=S001_REINFORCE),
    "ppo-kl": AlgorithmSpec("PPO with seed 003's adaptive KL penalty: Uπ(sq) + β·KL(π_old ‖ πθ) (analytic), β "
                            "adapted per update towards kl_target", build=PPOKL, metrics=("kl_beta", "kl_mean"),
                            preset=S001_PPO_KL),
}
