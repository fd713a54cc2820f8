"""V-MPO (seed 001 §4.5, eqs. 20–22, Algorithm 8) on the lane trainer, its policy loss through a checked rule.

V-MPO's policy weight — the softmax of Â/η over D̃, the half of the batch with the largest advantages
(eq. 20) — is **not** a scale function (``derivations/s001_vmpo.py``, claim ``s001-t1-vmpo``): it depends on
the batch through its normaliser and its selection. For a batch without ties its coefficients (as a batch
mean of Uπ, paper eq. 34) are ``c_i = C_B · h(Â_i − m_B)``, m_B = min_{D̃} Â, with a positive batch step size
C_B and the pointwise ``h(y) = 1[y ≥ 0] e^{y/η}``, which is INVALID (it is not centred: h(0) = 1). This
module trains with the nearest VALID pointwise rule instead, named as such:

    VMPO_RULE  f(x, y) = e^x · max(e^y − 1, 0)       (checked once by pgcheck, no parameters)

applied to ``ΔO = log πθ − log π_old`` (eq. 25) and ``ΔR = (Â − t_B)/η``, and multiplied by V-MPO's step size
``C_B = |B| e^{t_B/η} / Σ_{D̃} e^{Â/η}`` (computed as ``exp(log|B| − logsumexp_{D̃} ΔR)``, never forming
e^{Â/η}). The temperature η is the (positive, learned) scale of ΔR, so the checked function never changes
while η does. Per minibatch B (Table 2: 8 minibatches, as Algorithm 8 computes D̃ where it computes the
losses):

* **t_B** is the lower median of Â over B (``torch.median``): the largest advantage *outside* D̃, so that on a
  tie-free batch ``ΔR > 0 ⟺ i ∈ D̃`` and the selected samples are exactly V-MPO's top half (with the
  derivation's m_B instead, the smallest selected sample would get e^0 − 1 = 0; V-MPO's own coefficients
  ``|B| e^{Â_i/η}/Σ_{D̃} e^{Â/η}`` do not depend on where the shift is taken, only the centring does);
* on-policy (ΔO = 0, the first minibatch of an update) the coefficient of sample i is
  ``C_B (e^{ΔR_i} − 1)⁺ = |B| w_i − C_B 1[i ∈ D̃]`` with V-MPO's exact weight ``w_i = e^{Â_i/η}/Σ_{D̃} e^{Â/η}``:
  the policy gradient is eq. (20)'s ``Σ_{D̃} w_i ∇log πθ`` minus exactly ``(e^{t_B/η}/Σ_{D̃}e^{Â/η}) Σ_{D̃}
  ∇log πθ`` (``tests/test_vmpo.py`` and the proof suite check this through :func:`vmpo_policy_loss`);
* off-policy (later minibatches and epochs) the importance weight e^{ΔO} keeps the −1 centring
  expectation-neutral: ``E_{a∼π_old}[e^{ΔO}(e^{ΔR} − 1)∇log πθ] = E_{a∼πθ}[e^{ΔR}∇log πθ]`` (the derivation's
  off-policy cross-check). V-MPO's eq. (20) has no importance weight (seed 001 mentions one as an option).

**Replaced by the checked rule** (and why): the centring "− 1" (e^{y} alone is INVALID: f(x, 0) ≠ 0,
Assumption 5.1; on-policy E_{a∼π}[∇log π] = 0, so without the selection the centring leaves the expected
update unchanged; with it, it subtracts the C_B-weighted sum above), and the selection, by the pointwise
threshold ΔR > 0 at the batch's median instead of a top-k (the same set on a tie-free batch; on ties at the
median the tied samples get 0). With ΔR measured from t_B the exponent is at most (max Â − t_B)/η, evaluated
in float64: finite unless η < (max Â − t_B)/709; a lane beyond that fails alone (``LaneTrainer._fail``).

**Kept exactly**: the temperature loss ``L_η = η ε_η + η log mean_{D̃} e^{Â/η}`` (eq. 21, by logsumexp over
D̃, Â detached); the decoupled trust-region losses (eq. 22 split as seed 001 §4.5 and MPO do for Gaussian
policies): ``L_ν = ν_μ(ε_νμ − sg[KL_μ]) + sg[ν_μ] KL_μ + ν_σ(ε_νσ − sg[KL_σ]) + sg[ν_σ] KL_σ`` with
``KL_μ = mean_s KL(N(μ_old, σ_old) ‖ N(μθ, σ_old))`` and ``KL_σ = KL(N(μ_old, σ_old) ‖ N(μ_old, σθ))`` (σ is a
state-independent parameter here, so KL_σ is the same for every state), π_old the policy that collected the
rollout; the multipliers are plain parameters **projected** to ``η ≥ η_min``, ``ν ≥ ν_min`` after every step,
as seed 001 says (§4.5, "projecting the computed values to small positive values"; not softplus). η, ν_μ, ν_σ
are per-lane state, stepped by their own :class:`~agents.lanes.LaneAdam` (the lane's learning rate and its
schedule, Adam's ε; no gradient-norm clip, which stays the network's) once per minibatch with the network, on
Algorithm 8's gradients (dη = ∂L_η/∂η, dν = ∂L_ν/∂ν); they are checkpointed as the lane's algorithm state.
The value loss is the trainer's (:func:`agents.ppo.value_loss_fn`, ``vf_coef``, clipped iff ``clip_vloss``);
β∇H of ``ent_coef`` is added unscaled (V-MPO: β = 0).

Not as in Algorithm 8: the advantages are computed once per update (GAE on the rollout, as PPO's epochs),
not once per epoch; the policy loss is eq. (20)'s normalised weights (Algorithm 8's extra 1/|D̃| is a step
size, see the derivation's note); α of eq. 29 must be 0 (ΔR here is Â/η).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from agents.algos import AlgorithmSpec
from agents.config import PPOConfig
from agents.lanes import LaneAdam, clip_grad_norm_rows
from agents.ppo import RolloutBatch, non_finite, normalize_advantages, rollout_advantages, value_loss_fn
from agents.presets import S001_COMMON
from pgcheck.certificate import CheckedScale
from pgcheck.errors import UserError
from pgcheck.updates import delta_o, delta_r_pi, upi_loss

if TYPE_CHECKING:
    from agents.lanes import LaneTrainer

# the nearest VALID pointwise rule to V-MPO's weight (derivations/s001_vmpo.py): e^x·(e^y − 1)⁺ = f_ML's
# top half, applied to ΔR = (Â − t_B)/η
VMPO_RULE = "exp(x) * max(exp(y) - 1, 0)"
METRICS = ("vmpo_eta", "vmpo_nu_mu", "vmpo_nu_sigma", "vmpo_kl_mu", "vmpo_kl_sigma", "vmpo_selected")
# float64's largest exponent: e^{ΔR} is finite below it
MAX_EXP = math.log(torch.finfo(torch.float64).max)


def _spaceless(text: str) -> str:
    return "".join(text.split())


def config_problems(c: PPOConfig, scale: CheckedScale) -> list[str]:
    """What keeps lane config ``c`` with ``scale`` from being a V-MPO lane, in words (empty when it can be)."""
    out = []
    if scale.certificate.input.get("kind") != "expression" or \
            _spaceless(str(scale.certificate.input.get("text"))) != _spaceless(VMPO_RULE):
        out.append(f"V-MPO's policy loss is the checked rule {VMPO_RULE!r} (scale={VMPO_RULE}, no scale_params), "
                   f"not {scale.name!r}")
    if c.alpha != 0:
        out.append(f"V-MPO's ΔR is (Â − median Â)/η: alpha must be 0, not {c.alpha}")
    if not c.vmpo_eta_min > 0 or not c.vmpo_nu_min > 0:
        out.append(f"vmpo_eta_min and vmpo_nu_min must be positive, not {c.vmpo_eta_min} and {c.vmpo_nu_min}")
    if not (c.vmpo_eta_init >= c.vmpo_eta_min and c.vmpo_nu_mu_init >= c.vmpo_nu_min
            and c.vmpo_nu_sigma_init >= c.vmpo_nu_min):
        out.append(f"the V-MPO multipliers must start at least at their minimums: vmpo_eta_init "
                   f"{c.vmpo_eta_init} (≥ {c.vmpo_eta_min}), vmpo_nu_mu_init {c.vmpo_nu_mu_init} and "
                   f"vmpo_nu_sigma_init {c.vmpo_nu_sigma_init} (≥ {c.vmpo_nu_min})")
    for name in ("vmpo_eps_eta", "vmpo_eps_nu_mu", "vmpo_eps_nu_sigma"):
        if not getattr(c, name) > 0:
            out.append(f"{name} must be positive, not {getattr(c, name)}")
    return out


def vmpo_policy_loss(scale: CheckedScale, log_prob: torch.Tensor, entropy: torch.Tensor,
                     old_log_prob: torch.Tensor, advantages: torch.Tensor, eta: torch.Tensor,
                     beta: float = 0.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """V-MPO's policy loss through the checked rule, per row of (G, B) inputs (``eta``: (G,)); returns the (G,)
    losses and their parts (detached).

    The loss is ``C_B · upi_loss(scale, log πθ, H, ΔO, ΔR) − β mean H`` with ΔO = log πθ − log π_old,
    ΔR = (Â − t_B)/η, t_B the lower median of the row's Â and ``C_B = |B| / Σ_{D̃} e^{ΔR}`` (D̃: the row's
    ⌊B/2⌋ largest Â), so its gradient is ``−mean_b[C_B f(ΔO, ΔR) ∇log πθ] − β∇H`` with f the lane's checked
    scale (eq. 34 times a positive batch step size). f is evaluated in float64; the loss is float64.
    Parts: ``coefficient`` (C_B f per sample), ``threshold`` (t_B), ``log_step`` (log C_B), ``selected`` (the
    fraction with a positive coefficient), ``policy_loss``, ``log_prob``."""
    n = advantages.shape[-1]
    adv = advantages.detach().double()
    threshold = adv.median(-1, keepdim=True).values           # the lower median: the largest Â outside D̃
    d_o = delta_o(log_prob, old_log_prob).double()
    d_r = delta_r_pi(adv - threshold, log_prob, entropy, 0.0) / eta.detach().double().unsqueeze(-1)
    log_step = math.log(n) - torch.logsumexp(d_r.topk(n // 2, -1).values, -1)   # log C_B, stably
    step = log_step.exp()
    policy_loss = step * upi_loss(scale, log_prob.double(), entropy, d_o, d_r) - beta * entropy.mean(-1)
    coefficient = step.unsqueeze(-1) * scale.torch(d_o, d_r)
    return policy_loss, {"coefficient": coefficient, "threshold": threshold.squeeze(-1), "log_step": log_step,
                         "selected": (coefficient > 0).double().mean(-1), "policy_loss": policy_loss.detach(),
                         "max_exponent": d_r.max(-1).values, "log_prob": log_prob.detach()}


def temperature_loss(eta: torch.Tensor, advantages: torch.Tensor, eps_eta: torch.Tensor) -> torch.Tensor:
    """Eq. (21) per row: ``L_η = η ε_η + η log((1/|D̃|) Σ_{D̃} e^{Â/η})`` over the row's ⌊B/2⌋ largest Â (detached),
    by logsumexp (finite for every η > 0); differentiable in ``eta`` (G,)."""
    k = advantages.shape[-1] // 2
    top = advantages.detach().topk(k, -1).values
    return eta * eps_eta + eta * (torch.logsumexp(top / eta.unsqueeze(-1), -1) - math.log(k))


def decoupled_kl(mu: torch.Tensor, log_std: torch.Tensor, mu_old: torch.Tensor,
                 log_std_old: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """KL(π_old ‖ πθ) of diagonal Gaussians split into its mean and std parts (seed 001 §4.5; MPO):
    ``KL_μ = mean_s ½ Σ_d (μθ − μ_old)²/σ_old²`` (πθ's mean with the old σ) and ``KL_σ = Σ_d [log(σθ/σ_old) +
    σ_old²/(2σθ²) − ½]`` (the old mean with πθ's σ, state-independent). ``mu``: (G, B, A), ``log_std``: (G, A)."""
    kl_mu = 0.5 * ((mu - mu_old) ** 2 * torch.exp(-2.0 * log_std_old).unsqueeze(1)).sum(-1).mean(-1)
    kl_sigma = (log_std - log_std_old + 0.5 * torch.exp(2.0 * (log_std_old - log_std)) - 0.5).sum(-1)
    return kl_mu, kl_sigma


class VMPO:
    """V-MPO for every lane of a :class:`~agents.lanes.LaneTrainer` (step 3 of its loop, in the style of
    :meth:`LaneTrainer.update`). Per lane it keeps ``dual`` = (η, ν_μ, ν_σ), always ≥ (η_min, ν_min, ν_min)."""

    def __init__(self, trainer: LaneTrainer) -> None:
        problems = [f"lane {ln.index} (seed {ln.config.seed}): {p}" for ln in trainer.lanes
                    for p in config_problems(ln.config, ln.scale)]
        if problems:
            raise UserError("; ".join(problems))
        self.trainer = trainer
        configs = [ln.config for ln in trainer.lanes]
        dev = trainer.device
        self.dual = torch.tensor([[c.vmpo_eta_init, c.vmpo_nu_mu_init, c.vmpo_nu_sigma_init] for c in configs],
                                 device=dev)
        self.dual_grad = torch.zeros_like(self.dual)
        self.floor = torch.tensor([[c.vmpo_eta_min, c.vmpo_nu_min, c.vmpo_nu_min] for c in configs], device=dev)
        self.bounds = torch.tensor([[c.vmpo_eps_eta, c.vmpo_eps_nu_mu, c.vmpo_eps_nu_sigma] for c in configs],
                                   device=dev)
        self.optimizer = LaneAdam(self.dual, self.dual_grad, [c.learning_rate for c in configs],
                                  [c.adam_eps for c in configs])

    def update(self, batches: dict[int, RolloutBatch]) -> dict[int, dict[str, float]]:
        t = self.trainer
        c = t.config
        n, mb, L = c.batch_size, c.minibatch_size, t.num_lanes
        for i, batch in batches.items():
            if t.lanes[i].failed is None and (why := non_finite(t.lanes[i].update_index + 1, batch=batch)) is not None:
                t._fail(i, why)
        lanes = [i for i in t.active if i in batches]
        if not lanes:
            return {}
        for i in lanes:   # the multipliers follow the network's learning-rate schedule (set for this update)
            self.optimizer.lr[i] = t.optimizer.lr[i]
        batches = {i: b._replace(advantages=rollout_advantages(b.advantages, c.adv_norm, t.lanes[i].adv_scale))
                   if i in lanes else b for i, b in batches.items()}
        stacked = RolloutBatch(*(torch.stack([batches[i if i in lanes else lanes[0]][k] for i in range(L)])
                                 for k in range(len(RolloutBatch._fields))))
        with torch.no_grad():   # π_old: the policy that collected the rollout (the trust region's centre)
            mu_old = t.stack.heads_with_mean(stacked.obs, stacked.actions)[3]
            log_std_old = t.stack.params["log_std"].detach().clone()
        # per lane and minibatch: policy loss, value loss, grad norm, KL_μ, KL_σ, selected fraction
        record = torch.zeros(L, c.update_epochs * (n // mb), 6, device=t.device, dtype=torch.float64)
        kls = torch.zeros(L, c.update_epochs, device=t.device)
        clip_fracs = torch.zeros(L, c.update_epochs, device=t.device)
        count = dict.fromkeys(lanes, 0)
        epochs = dict.fromkeys(lanes, 0)
        training = list(lanes)
        new_log_prob = torch.empty(L, n, device=t.device)
        lane_loss = torch.empty(L, device=t.device, dtype=torch.float64)
        policy_loss = torch.empty(L, device=t.device, dtype=torch.float64)
        value_loss = torch.empty(L, device=t.device)
        selected = torch.empty(L, device=t.device, dtype=torch.float64)
        max_exponent = torch.empty(L, device=t.device, dtype=torch.float64)
        arange = torch.arange(L, device=t.device).unsqueeze(1)
        k = 0
        for epoch in range(c.update_epochs):
            perm = np.tile(np.arange(n), (L, 1))
            for i in training:
                perm[i] = t.lanes[i].mb_rng.permutation(n)
            index = (arange, torch.from_numpy(perm).to(t.device))
            b, mu_old_b = stacked.take(index), mu_old[index]
            if c.adv_norm == "minibatch":
                b = b._replace(advantages=normalize_advantages(b.advantages.reshape(-1), mb).view(L, n))
            for start in range(0, n, mb):
                sl = slice(start, start + mb)
                mbs = b.take((slice(None), sl))
                log_prob, entropy, value, mu = t.stack.heads_with_mean(mbs.obs, mbs.actions)
                dual = self.dual.detach().requires_grad_(True)
                eta, nu_mu, nu_sigma = dual.unbind(1)
                total = torch.zeros((), device=t.device, dtype=torch.float64)
                for g in t.groups:   # the lanes sharing the loss fields (all share VMPO_RULE: config_problems)
                    loss, parts = vmpo_policy_loss(g.scale, log_prob[g.rows], entropy[g.rows], mbs.log_prob[g.rows],
                                                   mbs.advantages[g.rows], eta[g.rows], g.config.ent_coef)
                    v_loss = value_loss_fn(value[g.rows], mbs.values[g.rows], mbs.targets[g.rows],
                                           g.config.value_clip if g.config.clip_vloss else None)
                    loss = loss + g.config.vf_coef * v_loss
                    total = total + loss.sum()
                    lane_loss[g.rows] = loss.detach()
                    policy_loss[g.rows] = parts["policy_loss"]
                    value_loss[g.rows] = v_loss.detach()
                    selected[g.rows] = parts["selected"]
                    max_exponent[g.rows] = parts["max_exponent"]
                    new_log_prob[g.rows, sl] = parts["log_prob"]
                kl_mu, kl_sigma = decoupled_kl(mu, t.stack.params["log_std"], mu_old_b[:, sl], log_std_old)
                eps_eta, eps_mu, eps_sigma = self.bounds.unbind(1)
                trust = (nu_mu * (eps_mu - kl_mu.detach()) + nu_mu.detach() * kl_mu
                         + nu_sigma * (eps_sigma - kl_sigma.detach()) + nu_sigma.detach() * kl_sigma)   # eq. 22
                duals = trust + temperature_loss(eta, mbs.advantages, eps_eta)
                total = total + duals.sum()
                self._check_exponent(training, epoch, max_exponent)
                t._check(training, epoch, loss=lane_loss + duals.detach(), parts=(policy_loss, value_loss))
                if not training:
                    break
                t.stack.zero_grad()
                total.backward()  # type: ignore[no-untyped-call]
                assert dual.grad is not None
                self.dual_grad.copy_(dual.grad)
                norms = clip_grad_norm_rows(t.stack.grad, t.max_grad_norm)
                t._check(training, epoch, grad_norm=norms)
                self._check_dual(training, epoch)
                if not training:
                    break
                t.optimizer.step(training)
                self.optimizer.step(training)
                with torch.no_grad():
                    torch.maximum(self.dual, self.floor, out=self.dual)   # the projection of seed 001 §4.5
                record[:, k] = torch.stack([policy_loss, value_loss.double(), norms.double(), kl_mu.detach().double(),
                                            kl_sigma.detach().double(), selected], 1)
                k += 1
                for i in training:
                    count[i] = k
            t.end_epoch(training, epoch, epochs, new_log_prob, b.log_prob, kls, clip_fracs)
            if not training:
                break
        out: dict[int, dict[str, float]] = {}
        for i in lanes:
            if t.lanes[i].failed is not None:
                continue
            means = record[i, :count[i]].mean(0).tolist()
            eta_i, nu_mu_i, nu_sigma_i = self.dual[i].tolist()
            out[i] = {"policy_loss": means[0], "value_loss": means[1], "grad_norm": means[2],
                      **t.epoch_metrics(i, batches[i], kls, clip_fracs, epochs[i]),
                      "vmpo_eta": eta_i, "vmpo_nu_mu": nu_mu_i,
                      "vmpo_nu_sigma": nu_sigma_i, "vmpo_kl_mu": means[3], "vmpo_kl_sigma": means[4],
                      "vmpo_selected": means[5]}
        return out

    def _check_exponent(self, training: list[int], epoch: int, max_exponent: torch.Tensor) -> None:
        """A lane whose largest ΔR = (Â − t_B)/η reaches float64's exponent range fails alone, with η named."""
        if not bool((max_exponent[training] >= MAX_EXP).any()):
            return
        for i in [i for i in training if max_exponent[i].item() >= MAX_EXP]:
            self.trainer._fail(i, f"V-MPO's ΔR = (Â − median Â)/η reached {max_exponent[i].item():.6g} (η = "
                                  f"{self.dual[i, 0].item():.6g}) at update {self.trainer.lanes[i].update_index + 1}, "
                                  f"epoch {epoch + 1}: e^ΔR overflows float64")
            training.remove(i)

    def _check_dual(self, training: list[int], epoch: int) -> None:
        """A lane whose multipliers' gradient is not finite fails alone (its loss was finite: _check passed)."""
        bad = [i for i in training if not bool(torch.isfinite(self.dual_grad[i]).all())]
        for i in bad:
            self.trainer._fail(i, f"the V-MPO multipliers' gradient became {self.dual_grad[i].tolist()} at update "
                                  f"{self.trainer.lanes[i].update_index + 1}, epoch {epoch + 1}")
            training.remove(i)

    def lane_state(self, i: int) -> dict[str, Any]:
        """Lane ``i``'s (η, ν_μ, ν_σ) and their Adam state, as plain data."""
        eta, nu_mu, nu_sigma = self.dual[i].clone().unbind(0)
        return {"eta": eta, "nu_mu": nu_mu, "nu_sigma": nu_sigma, "optimizer": self.optimizer.lane_state(i)}

    def load_lane_state(self, i: int, state: dict[str, Any]) -> None:
        with torch.no_grad():
            self.dual[i] = torch.stack([torch.as_tensor(state[k], dtype=self.dual.dtype)
                                        for k in ("eta", "nu_mu", "nu_sigma")]).to(self.dual.device)
        self.optimizer.load_lane_state(i, state["optimizer"])


ALGORITHMS: dict[str, AlgorithmSpec] = {
    "vmpo": AlgorithmSpec(
        summary="V-MPO (seed 001 §4.5): C_B·Uπ(e^x·(e^y − 1)⁺) at ΔR = (Â − median Â)/η, learned temperature η "
                "(eq. 21) and decoupled KL multipliers ν_μ, ν_σ (eq. 22), projected to their minimums",
        build=VMPO, metrics=METRICS,
        # seed 001 Appendix A, Table 2 (V-MPO column): 8 environments, unroll 2048, 8 minibatches, 10 epochs,
        # lr 3e-4, grad-norm clip 0.5, advantages not normalised, no entropy bonus; the multipliers' values are
        # PPOConfig's defaults. Algorithm 8's value loss is the plain squared error (no clip).
        # (the machinery shared with seed 001's other presets, S001_COMMON, is read from its code)
        preset={**S001_COMMON, "algo": "vmpo", "scale": VMPO_RULE, "scale_params": {}, "update_epochs": 10,
                "adv_norm": "none"},
    ),
}
