"""TRPO on the lane trainer: seed 001 §4.3, Algorithm 5 (Schulman et al. 2015, seed 001's [69]), every lane at once.

Per update, each lane solves seed 001's trust-region problem (17)

    max_θ J(θ) = mean_D (πθ(a|s) / π_old(a|s)) Â + β mean_D H(πθ(·|s))
    subject to  KL̄(θ) = mean_s KL(π_old(·|s) ‖ πθ(·|s)) ≤ δ

in the steps of Algorithm 5, top to bottom in :meth:`TRPO.update`:

1. **g**, the surrogate's gradient at θ_old: ``−∇`` of ``upi_loss(f, ...)`` (paper eq. 34) with the lane's
   checked scale f = f_SQ(x, y) = eˣy (pgcheck's ``sq``), ΔO = log πθ − log π_old, ΔR = Â (seed 001 Table 1; the
   claim ``s001-t1-trpo`` proves Uπ(f_SQ) = ∇J at and away from θ_old and cross-checks :func:`surrogate`).
   A lane whose scale is not sq (by its canonical form) or whose α is not 0 is a :class:`UserError`; β
   (``ent_coef``) is J's entropy bonus, 0 in Table 2;
2. **x ≈ F⁻¹g** by :func:`conjugate_gradient` with the damped Fisher-vector products of
   :func:`fisher_vector_product`: ``(F + λI)v = ∇(∇KL̄ · v) + λv``, F the Hessian of the analytic Gaussian KL̄
   (:func:`gaussian_kl`) at θ_old (seed 001's Ĥ);
3. the full step ``β x`` with ``β = sqrt(2δ / xᵀ(F + λI)x)`` (seed 001 §4.3: θ_new = θ_old + sqrt(2δ/gᵀĤ⁻¹g) Ĥ⁻¹g,
   with x for Ĥ⁻¹g and the damped F the conjugate gradient solved with);
4. :func:`line_search`: θ_m = θ_old + b^m β x for m = 0, 1, ..., K − 1; the first m with KL̄(θ_m) ≤ δ and
   J(θ_m) − J(θ_old) > 0 is taken. The acceptance rule is seed 001's plain improvement (Algorithm 5, "until
   sample loss improves and KL constraint satisfied", and §4.3: "the smallest non-negative integer such that
   the trust region constraint is satisfied and the surrogate objective improves"), not the expected-
   improvement ratio of Schulman's reference code. A lane for which no m is accepted keeps θ_old;
5. the critic: ``update_epochs`` passes of shuffled ``minibatch_size`` minibatches of Adam on the value loss
   (Algorithm 5's dϕ; Table 2: 10 epochs × 8 minibatches for the value network), each with the lane's
   gradient-norm clip.

All lanes at once: the parameters are the trainer's (L, P) rows, lanes are independent, so one double-backward
of ``Σ_l ∇KL̄_l · v_l`` gives every lane's F_l v_l; the conjugate gradient's scalars, β, and the line search's
accept/reject are per lane (a lane that accepted keeps its step while the others shrink). Vectors of the
policy step live in *policy coordinates*: the actor's and log σ's slots of a row, concatenated in slot order
(the critic's slots are not in them, so the policy step cannot move the critic).

The critic is stepped by the trainer's own :class:`~agents.lanes.LaneAdam` (so its learning-rate schedule and
checkpoint are the trainer's) with the policy's gradient slots at exactly zero: their Adam moments start at
zero and stay zero (m ← β₁m, v ← β₂v with g = 0), so each Adam step adds −lr·0/(0 + ε) = 0 to the policy's
parameters, which move only by the TRPO step. TRPO keeps no state of its own between updates
(:meth:`TRPO.lane_state` is empty); everything it reads is in the trainer's checkpoint.

A lane whose advantages, g, x, β, value loss or critic gradient norm is not finite fails alone
(:meth:`~agents.lanes.LaneTrainer._fail`); the others go on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from agents.algos import AlgorithmSpec
from agents.config import PPOConfig
from agents.lanes import LaneTrainer
from agents.ppo import RolloutBatch, non_finite, normalize_advantages, rollout_advantages, value_loss_fn
from agents.presets import S001_COMMON
from pgcheck.certificate import CheckedScale
from pgcheck.check import checked_scale
from pgcheck.errors import UserError
from pgcheck.updates import delta_o, delta_r_pi, scale_weights, upi_loss

Fvp = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class TRPOConfig:
    """A lane's TRPO settings, read from its :class:`~agents.config.PPOConfig` (seed 001 Appendix A, Table 2:
    δ 0.01, damping 0.1, 10 conjugate-gradient iterations, 10 line-search steps, shrink 0.8)."""

    max_kl: float              # δ
    cg_damping: float          # λ
    cg_iters: int
    line_search_steps: int     # K
    backtrack: float           # b

    @classmethod
    def of(cls, c: PPOConfig) -> TRPOConfig:
        """The settings of ``c``; a value TRPO cannot run with is a :class:`UserError` naming it."""
        if not (c.trpo_max_kl > 0 and math.isfinite(c.trpo_max_kl)):
            raise UserError(f"trpo_max_kl must be a positive number, not {c.trpo_max_kl}")
        if not (c.trpo_cg_damping >= 0 and math.isfinite(c.trpo_cg_damping)):
            raise UserError(f"trpo_cg_damping must be a non-negative number, not {c.trpo_cg_damping}")
        for name in ("trpo_cg_iters", "trpo_line_search_steps"):
            if getattr(c, name) < 1:
                raise UserError(f"{name} must be at least 1, not {getattr(c, name)}")
        if not 0 < c.trpo_backtrack < 1:
            raise UserError(f"trpo_backtrack must be in (0, 1), not {c.trpo_backtrack}")
        if c.alpha != 0:
            raise UserError(f"algo trpo takes ΔR = Â (seed 001 Table 1), so alpha must be 0, not {c.alpha}")
        return cls(c.trpo_max_kl, c.trpo_cg_damping, c.trpo_cg_iters, c.trpo_line_search_steps, c.trpo_backtrack)


# ---------------------------------------------------------------------------------------------------
# the pieces, each on (L, ...) tensors with one independent problem per row


def surrogate(scale: CheckedScale, log_prob: torch.Tensor, entropy: torch.Tensor, old_log_prob: torch.Tensor,
              advantages: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """TRPO's surrogate per row (the last axis is the samples): the loss ``upi_loss(f, log π, H, ΔO, ΔR, β)``
    whose −gradient is Uπ(f) + β∇H (paper eq. 34), and the value ``J = mean_b f(ΔO, ΔR) + β mean_b H``, with
    ΔO = log πθ − log π_old (eq. 25), ΔR = Â. With the lane's f = f_SQ = eˣy the value is seed 001's
    J(θ) = mean_b r_b Â_b + β mean H (r = πθ/π_old, problem (17)) and the −gradient of the loss is ∇J, at θ_old
    (the g of Algorithm 5) and away from it (the claim ``s001-t1-trpo``). The value carries no gradient."""
    d_o = delta_o(log_prob, old_log_prob)
    d_r = delta_r_pi(advantages, log_prob, entropy, 0.0)
    loss = upi_loss(scale, log_prob, entropy, d_o, d_r, beta)
    value = scale_weights(scale, d_o, d_r).mean(-1) + beta * entropy.detach().mean(-1)
    return loss, value


def gaussian_kl(mu_old: torch.Tensor, log_std_old: torch.Tensor, mu: torch.Tensor,
                log_std: torch.Tensor) -> torch.Tensor:
    """KL̄ = mean_s KL(N(μ_old(s), σ_old²) ‖ N(μ(s), σ²)) per row, analytic for diagonal Gaussians with a state-
    independent σ: Σ_d [log σ_d − log σ_old,d + (σ_old,d² + (μ_old,d − μ_d)²) / (2σ_d²) − ½] (seed 001
    Definition D.5 for two Gaussians). ``mu``: (L, B, d), ``log_std``: (L, d); returns (L,)."""
    var = torch.exp(2.0 * log_std).unsqueeze(1)
    var_old = torch.exp(2.0 * log_std_old).unsqueeze(1)
    per_dim = (log_std - log_std_old).unsqueeze(1) + (var_old + (mu_old - mu) ** 2) / (2.0 * var) - 0.5
    return per_dim.sum(-1).mean(-1)


def flat_grad(out: torch.Tensor, params: Sequence[torch.Tensor], create_graph: bool = False) -> torch.Tensor:
    """∇ of the scalar ``out`` w.r.t. the (L, ...) leaves ``params``, as one (L, Σ numel/L) tensor whose row l
    is lane l's gradient (the leaves' lane rows, concatenated in order)."""
    grads = torch.autograd.grad(out, list(params), create_graph=create_graph, retain_graph=True)
    return torch.cat([gr.reshape(gr.shape[0], -1) for gr in grads], 1)


def fisher_vector_product(kl: torch.Tensor, params: Sequence[torch.Tensor], damping: torch.Tensor) -> Fvp:
    """``v ↦ (F_l + λ_l I) v_l`` per row, F_l the Hessian of lane l's KL̄ ``kl[l]`` (at θ_old, where the first
    derivative vanishes: seed 001's Ĥ, the Fisher information of the batch) w.r.t. its row of ``params``:
    ``∇(∇KL̄ · v) + λv``. The lanes are independent, so one double-backward of Σ_l ∇KL̄_l · v_l gives every
    lane's product; ∇KL̄ is built once (with its graph) and reused by every product."""
    grad_kl = flat_grad(kl.sum(), params, create_graph=True)

    def fvp(v: torch.Tensor) -> torch.Tensor:
        return flat_grad((grad_kl * v).sum(), params) + damping.unsqueeze(1) * v

    return fvp


def conjugate_gradient(fvp: Fvp, g: torch.Tensor, iters: int | torch.Tensor,
                       residual_tol: float = 1e-10) -> torch.Tensor:
    """x_l ≈ A_l⁻¹ g_l for each row l, A the symmetric positive-definite operator ``fvp`` (seed 001 §4.3:
    "d ≈ Ĥ⁻¹g via conjugate gradient", Hestenes and Stiefel, seed 001's [30]), starting from x = 0. Every
    scalar (step length, direction update) is per row; a row stops after ``iters[l]`` iterations or once its
    squared residual is at most ``residual_tol`` (then it keeps its x). Exact after P iterations in exact
    arithmetic, P the row length."""
    L = g.shape[0]
    limit = torch.as_tensor(iters, device=g.device).expand(L)
    x = torch.zeros_like(g)
    r = g.clone()
    p = g.clone()
    rr = (r * r).sum(1)
    for k in range(int(limit.max())):
        active = (k < limit) & (rr > residual_tol)
        if not bool(active.any()):
            break
        Ap = fvp(p)
        pAp = (p * Ap).sum(1)
        alpha = torch.where(active, rr / torch.where(active, pAp, 1.0), 0.0).unsqueeze(1)
        x = x + alpha * p
        r = r - alpha * Ap
        rr_new = (r * r).sum(1)
        coef = torch.where(active, rr_new / torch.where(active, rr, 1.0), 0.0).unsqueeze(1)
        p = torch.where(active.unsqueeze(1), r + coef * p, p)
        rr = torch.where(active, rr_new, rr)
    return x


@dataclass
class LineSearch:
    """What :func:`line_search` found, per row: the parameters, the accepted fraction b^m of the full step (0
    where none was accepted), how many fractions it tried, and KL̄ and J − J_old at the parameters (0, 0 where
    none was accepted: θ_old)."""

    theta: torch.Tensor
    fraction: torch.Tensor
    steps: torch.Tensor
    kl: torch.Tensor
    gain: torch.Tensor


def line_search(evaluate: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]], theta_old: torch.Tensor,
                full_step: torch.Tensor, surrogate_old: torch.Tensor, max_kl: torch.Tensor, backtrack: torch.Tensor,
                max_steps: torch.Tensor, searching: torch.Tensor) -> LineSearch:
    """Algorithm 5's backtracking loop per row: θ_m = θ_old + b^m · full_step for m = 0, 1, ..., and the first m
    with KL̄(θ_m) ≤ δ and J(θ_m) − J(θ_old) > 0 is accepted (a NaN fails both tests); rows that found none in
    ``max_steps`` keep θ_old. ``evaluate(θ)`` returns (KL̄, J) of every row at the (L, P) parameters θ; rows
    not ``searching`` (and rows that accepted) are evaluated at their current parameters and left as they are."""
    theta = theta_old.clone()
    zeros = torch.zeros_like(surrogate_old)
    fraction, kl_at, gain = zeros.clone(), zeros.clone(), zeros.clone()
    steps = torch.zeros_like(max_steps)
    searching = searching.clone()
    for m in range(int(max_steps.max())):
        trying = searching & (m < max_steps)
        if not bool(trying.any()):
            break
        frac = backtrack ** m
        candidate = torch.where(trying.unsqueeze(1), theta_old + frac.unsqueeze(1) * full_step, theta)
        kl, value = evaluate(candidate)
        accept = trying & (kl <= max_kl) & (value - surrogate_old > 0)
        steps += trying.to(steps.dtype)
        theta = torch.where(accept.unsqueeze(1), candidate, theta)
        fraction = torch.where(accept, frac, fraction)
        kl_at = torch.where(accept, kl, kl_at)
        gain = torch.where(accept, value - surrogate_old, gain)
        searching &= ~accept
    return LineSearch(theta, fraction, steps, kl_at, gain)


# ---------------------------------------------------------------------------------------------------
# the algorithm


class TRPO:
    """TRPO's update (seed 001 Algorithm 5) for every lane of ``trainer``; see the module docstring."""

    def __init__(self, trainer: LaneTrainer) -> None:
        self.trainer = trainer
        sq = checked_scale("sq", {}).certificate.canonical
        for lane in trainer.lanes:
            if lane.scale.certificate.canonical != sq:
                raise UserError(f"algo trpo needs the scale sq (f_SQ = exp(x) * y, seed 001 Table 1), not "
                                f"{lane.scale.name!r} (seed {lane.config.seed})")
        settings = [TRPOConfig.of(lane.config) for lane in trainer.lanes]
        dev = trainer.device
        self.max_kl = torch.tensor([s.max_kl for s in settings], device=dev)
        self.damping = torch.tensor([s.cg_damping for s in settings], device=dev)
        self.backtrack = torch.tensor([s.backtrack for s in settings], device=dev)
        self.cg_iters = torch.tensor([s.cg_iters for s in settings], device=dev)
        self.line_search_steps = torch.tensor([s.line_search_steps for s in settings], device=dev)
        stack = trainer.stack
        # policy coordinates: the actor's and log σ's slots, in slot order (the critic's are left out)
        self.slots = [s for s in stack.slots if not s.name.startswith("critic.")]
        self.params = [stack.params[s.name] for s in self.slots]

    # --- policy coordinates ------------------------------------------------------------------------

    def policy_rows(self) -> torch.Tensor:
        """The policy's parameters of every lane, (L, P_π), a copy."""
        flat = self.trainer.stack.flat
        return torch.cat([flat[:, s.offset:s.offset + s.numel] for s in self.slots], 1).clone()

    @torch.no_grad()
    def set_policy_rows(self, theta: torch.Tensor) -> None:
        """Write (L, P_π) policy coordinates into the trainer's parameter rows (the critic's slots untouched)."""
        flat, k = self.trainer.stack.flat, 0
        for s in self.slots:
            flat[:, s.offset:s.offset + s.numel].copy_(theta[:, k:k + s.numel])
            k += s.numel

    # --- the update --------------------------------------------------------------------------------

    def update(self, batches: dict[int, RolloutBatch]) -> dict[int, dict[str, float]]:
        t = self.trainer
        for i, batch in batches.items():
            if t.lanes[i].failed is None and (why := non_finite(t.lanes[i].update_index + 1, batch=batch)):
                t._fail(i, why)
        lanes = [i for i in t.active if i in batches]
        if not lanes:
            return {}
        batches = {i: b._replace(advantages=self.advantages(i, b)) if i in lanes else b for i, b in batches.items()}
        # lanes that are not trained (failed) get a copy of a trained lane's data: computed, never applied
        stacked = RolloutBatch(*(torch.stack([batches[i if i in lanes else lanes[0]][k] for i in range(t.num_lanes)])
                                 for k in range(len(RolloutBatch._fields))))
        policy = self.policy_step(stacked, lanes)
        lanes = [i for i in lanes if t.lanes[i].failed is None]
        value_loss, epochs = self.critic_epochs(stacked, lanes)
        out: dict[int, dict[str, float]] = {}
        for i in lanes:
            if t.lanes[i].failed is not None:
                continue
            batch, net = batches[i], t.lanes[i].policy
            with torch.no_grad():
                entropy_now = net.log_prob_entropy(batch.obs[:1], batch.actions[:1])[1].item()
            var_t = batch.targets.var().item()
            explained = float("nan") if var_t == 0 else 1.0 - (batch.targets - batch.values).var().item() / var_t
            out[i] = {**{k: float(v[i].item()) for k, v in policy.items()},
                      "value_loss": value_loss[i], "entropy": entropy_now, "explained_variance": explained,
                      "epochs": float(epochs[i])}
        return out

    def advantages(self, i: int, batch: RolloutBatch) -> torch.Tensor:
        """Lane i's Â for the policy step: the rollout's scale (``adv_norm``, as PPO's update); the policy step's
        one minibatch is the whole rollout, so ``minibatch`` z-scores over the rollout (= ``batch``)."""
        lane = self.trainer.lanes[i]
        adv = rollout_advantages(batch.advantages, lane.config.adv_norm, lane.adv_scale)
        return normalize_advantages(adv, adv.shape[0]) if lane.config.adv_norm == "minibatch" else adv

    def evaluate(self, b: RolloutBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per lane at the trainer's current parameters: the loss and value of :func:`surrogate` (L,) and
        ``μ_θ(s)``, ``log π_θ(a|s)`` of the rollout, each differentiable (under grad mode)."""
        t = self.trainer
        mu, log_prob, entropy = t.stack.policy(b.obs, b.actions)
        loss = torch.empty(t.num_lanes, device=t.device)
        value = torch.empty(t.num_lanes, device=t.device)
        for g in t.groups:   # lanes sharing the scale and loss fields: one call on their (G, n) rows
            g_loss, g_value = surrogate(g.scale, log_prob[g.rows], entropy[g.rows], b.log_prob[g.rows],
                                        b.advantages[g.rows], g.config.ent_coef)
            loss[g.rows], value[g.rows] = g_loss, g_value
        return loss, value, mu, log_prob

    def policy_step(self, b: RolloutBatch, lanes: list[int]) -> dict[str, torch.Tensor]:
        """Steps 1–4 (module docstring) for ``lanes``; returns the per-lane (L,) metrics of the step."""
        t = self.trainer
        theta_old = self.policy_rows()
        log_std_old = t.stack.params["log_std"].detach().clone()
        # 1. g at θ_old, and KL̄'s graph at θ_old (value 0, gradient 0, Hessian F)
        loss, value_old, mu, _ = self.evaluate(b)
        g = -flat_grad(loss.sum(), self.params)
        kl = gaussian_kl(mu.detach(), log_std_old, mu, t.stack.params["log_std"])
        fvp = fisher_vector_product(kl, self.params, self.damping)
        # 2.–3. x ≈ (F + λI)⁻¹g, β = sqrt(2δ / xᵀ(F + λI)x)
        x = conjugate_gradient(fvp, g, self.cg_iters)
        xFx = (x * fvp(x)).sum(1).detach()
        beta = torch.where(xFx > 0, torch.sqrt(2.0 * self.max_kl / torch.where(xFx > 0, xFx, 1.0)), 0.0)
        full_step = (beta.unsqueeze(1) * x).detach()
        mu_old = mu.detach()
        del fvp, kl, mu, loss   # the graphs at θ_old: the line search writes the parameters in place
        finite = torch.isfinite(g).all(1) & torch.isfinite(full_step).all(1) & torch.isfinite(xFx)
        searching = torch.zeros(t.num_lanes, dtype=torch.bool, device=t.device)
        searching[lanes] = True
        for i in lanes:
            if not bool(finite[i]):
                t._fail(i, f"the TRPO step of update {t.lanes[i].update_index + 1} is not finite (‖g‖ = "
                           f"{g[i].norm().item()}, xᵀFx = {xFx[i].item()}, β = {beta[i].item()})")
        searching &= finite
        full_step = torch.where(searching.unsqueeze(1), full_step, 0.0)   # a failed lane's NaN stays out

        # 4. the line search on KL̄ ≤ δ and J(θ) − J(θ_old) > 0
        @torch.no_grad()
        def at(theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            self.set_policy_rows(theta)
            _, value, mu_new, _ = self.evaluate(b)
            return gaussian_kl(mu_old, log_std_old, mu_new, t.stack.params["log_std"]), value

        found = line_search(at, theta_old, full_step, value_old.detach(), self.max_kl, self.backtrack,
                            self.line_search_steps, searching)
        self.set_policy_rows(torch.where(searching.unsqueeze(1), found.theta, theta_old))
        with torch.no_grad():   # diagnostics at the accepted parameters
            _, value_new, _, log_prob = self.evaluate(b)
            log_ratio = log_prob - b.log_prob
            ratio = log_ratio.exp()
            approx_kl = ((ratio - 1.0) - log_ratio).mean(-1)             # k3, as PPO's approx_kl
            clip_fraction = ((ratio - 1.0).abs() > t.clip_eps_diagnostic).float().mean(-1)
        return {"policy_loss": -value_new, "grad_norm": torch.linalg.vector_norm(g, dim=1), "approx_kl": approx_kl,
                "clip_fraction": clip_fraction, "trpo_kl": found.kl, "line_search_steps": found.steps.float(),
                "step_size": found.fraction, "surrogate_gain": found.gain}

    def critic_epochs(self, b: RolloutBatch, lanes: list[int]) -> tuple[dict[int, float], dict[int, int]]:
        """Step 5: ``update_epochs`` passes of Adam on the value loss over shuffled minibatches (each lane its own
        order, from its minibatch stream), with the lane's gradient-norm clip; the policy's gradient slots stay
        zero (module docstring). Returns each lane's mean value loss and the epochs it completed."""
        t, c = self.trainer, self.trainer.config
        n, mb, L = c.batch_size, c.minibatch_size, t.num_lanes
        training = list(lanes)
        losses: dict[int, list[float]] = {i: [] for i in lanes}
        epochs = dict.fromkeys(lanes, 0)
        lane_loss = torch.empty(L, device=t.device)
        arange = torch.arange(L, device=t.device).unsqueeze(1)
        for epoch in range(c.update_epochs):
            perm = np.tile(np.arange(n), (L, 1))
            for i in training:
                perm[i] = t.lanes[i].mb_rng.permutation(n)
            shuffled = b.take((arange, torch.from_numpy(perm).to(t.device)))
            for start in range(0, n, mb):
                mbs = shuffled.take((slice(None), slice(start, start + mb)))
                value = t.stack.value(mbs.obs)
                total = torch.zeros((), device=t.device)
                for g in t.groups:
                    clip = g.config.value_clip if g.config.clip_vloss else None
                    loss = g.config.vf_coef * value_loss_fn(value[g.rows], mbs.values[g.rows], mbs.targets[g.rows],
                                                            clip)
                    total = total + loss.sum()
                    lane_loss[g.rows] = loss.detach()
                t._check(training, epoch, loss=lane_loss)
                if not training:
                    break
                t.backward_and_step(total, training, epoch)
                if not training:
                    break
                for i in training:
                    losses[i].append(float(lane_loss[i].item()))
            for i in training:
                epochs[i] += 1
            if not training:
                break
        return {i: float(np.mean(v)) if v else math.nan for i, v in losses.items()}, epochs

    # --- state -------------------------------------------------------------------------------------

    def lane_state(self, i: int) -> dict[str, Any]:
        """Empty: TRPO keeps nothing between updates (the critic's Adam state is the trainer's)."""
        return {}

    def load_lane_state(self, i: int, state: dict[str, Any]) -> None:
        if state:
            raise ValueError(f"lane {i}: TRPO keeps no state, but the checkpoint has {sorted(state)}")


ALGORITHMS: dict[str, AlgorithmSpec] = {
    "trpo": AlgorithmSpec(
        summary="TRPO (seed 001 §4.3, Algorithm 5): natural-gradient step on Uπ(f_SQ) by conjugate gradient, "
                "backtracking line search on KL(π_old ‖ πθ) ≤ δ; critic by Adam epochs",
        build=TRPO,
        metrics=("trpo_kl", "line_search_steps", "step_size", "surrogate_gain"),
        # seed 001 Appendix A, Table 2 (TRPO column), as far as PPOConfig expresses it (it cannot: separate 4×32 /
        # 5×256 swish networks, tanh-squashed actions). "Unroll length 2048" with 8 environments is read here as
        # 2048 steps per environment (16384 samples per update, 8 critic minibatches of 2048); the machinery
        # shared with seed 001's other presets (S001_COMMON: no lr decay, Adam ε 1e-8, ...) is read from its code
        preset={**S001_COMMON, "algo": "trpo", "scale": "sq", "scale_params": {}, "update_epochs": 10,
                "adv_norm": "batch", "trpo_max_kl": 0.01, "trpo_cg_damping": 0.1, "trpo_cg_iters": 10,
                "trpo_line_search_steps": 10, "trpo_backtrack": 0.8},
    ),
}
