"""The trainer users run is the paper's update: ``agents.ppo.ppo_loss`` on a real rollout minibatch.

Claim: on a minibatch of a real Hopper-v5 rollout collected and evaluated by the trainer's own code
(:class:`agents.ppo.PPO`: observation normalisation, reward scaling, GAE), with the trainer's per-minibatch
advantage normalisation (:func:`agents.ppo.normalize_advantages`), ``−∇θ`` of the trainer's minibatch loss
(:func:`agents.ppo.ppo_loss`, evaluated on a float64 copy of the trainer's :class:`agents.policy.ActorCritic`
— the same code path the float32 trainer runs, in float64 so the comparison can be tight) equals the
paper's update computed from first principles in float64:

* actor and log σ: ``mean_b[f(ΔO_b, ΔR_b)∇θ log πθ(a_b|s_b)] + β∇θ H`` (eq. 30) with ``ΔO = log πθ − log π_old``
  (eq. 25) and ``ΔR = Â − α(log πθ + H)`` (eq. 29), f from a sympy expression of the paper's formula; for
  ``f = ppo(ε)`` with α = 0 the reference is instead the gradient of the clipped surrogate
  ``mean_b min(ρÂ, clip(ρ, 1−ε, 1+ε)Â)``, ρ = e^{ΔO} (Theorem 4.3); for MLA-PPO f is C.2's
  ``f_MLA(αo,αr)·τ_ε``; for the plain case eq. (35)'s f_MLA;
* critic: ``−vf_coef ∇θ ½ mean_b (V − target)²``, or with value clipping
  ``−vf_coef ∇θ ½ mean_b max((V − target)², (V_old + clip(V − V_old, −c, c) − target)²)``.

Independence: the reference side uses none of the code under test — its own tanh-MLP forward pass from the
parameter tensors, its own diagonal-Gaussian log-density and entropy, its own advantage normalisation
(numpy, unbiased standard deviation), its own ΔO and ΔR, f built with sympy directly (not pgcheck's parser)
and evaluated per sample; only the rollout data (observations, actions, π_old, V_old, GAE advantages and
targets) is shared. The behaviour log-probabilities and values the trainer stored are themselves checked
against the reference density and critic at the rollout's parameters. The policy is moved away from the
rollout's (seeded perturbation, log σ ≠ 0) so that ΔO spreads over every region of τ_ε and the value clip
is active for part of the minibatch; coverage is a recorded step. Each comparison has a negative control
that must fail: the inverted importance ratio (ΔO → −ΔO) for the actor, the optimistic value clip (min for
max) or a missing ½ for the critic.

Every loss function of the project that trains a policy is listed in :data:`LOSSES` and checked the same
way; a lane-batched trainer registers its per-lane minibatch loss there.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy
import torch

from derivations import autograd as ag
from derivations import logic
from derivations.core import Control, Evidence
from pgcheck.certificate import CheckedScale

ID = "ppo-trainer"
TITLE = "The trainer's minibatch loss is the paper's update"
REFERENCE = "eqs. (25), (29), (30); Theorem 4.3; Appendix C.2; eq. (35)"
STATEMENT = ("On a real Hopper-v5 rollout minibatch, −∇θ of the trainer's loss (agents.ppo.ppo_loss: normalised Â, "
             "ΔO, ΔR with α, value loss clipped or not) = mean_b[f(ΔO,ΔR)∇log π] + β∇H − c_V∇L_V computed from "
             "first principles in float64")

MINIBATCH = 64
NUM_STEPS = 256
SEED = 11
TOLERANCE = 1e-10
LOG_2PI = math.log(2 * math.pi)

LossFn = Callable[..., tuple[torch.Tensor, dict[str, torch.Tensor]]]


def _losses() -> tuple[tuple[str, LossFn], ...]:
    from agents import ppo

    return (("agents.ppo.ppo_loss", ppo.ppo_loss),)


@dataclass(frozen=True)
class Case:
    label: str
    scale: str
    params: dict[str, str]
    alpha: float
    beta: float
    clip_vloss: bool
    surrogate: bool  # reference: PPO's clipped surrogate (Theorem 4.3) instead of f∇log π


CASES = (
    Case("ppo(ε = 0.2), Theorem 4.3, value clip on", "ppo", {"eps": "0.2"}, 0.0, 0.0, True, True),
    Case("ppo(ε = 0.2) with β = 0.01, value clip off", "ppo", {"eps": "0.2"}, 0.0, 0.01, False, True),
    Case("MLA-PPO (C.2, Table 2 Hopper: αo = 0.1, αr = 1, ε = 0.2, α = 0.01), β = 0.01, value clip on",
         "mla_ppo", {"ao": "0.1", "ar": "1.0", "eps": "0.2"}, 0.01, 0.01, True, False),
    Case("Uπ(f_MLA) (eq. 30 with eq. 35), α = 0.1, β = 0.01, value clip off", "mla", {}, 0.1, 0.01, False, False),
)


# ---------------------------------------------------------------------------------------------------
# the paper's scale functions, written with sympy directly (not pgcheck's parser or registry)


def printed_scale(case: Case) -> sympy.Expr:
    """f(x, y) of the paper for ``case``: eq. (35), or C.2's f_MLA(αo,αr)·τ_ε (eq. 36 times Theorem 4.3's τ_ε)."""
    x, y = sympy.symbols("x y", real=True)
    if case.scale == "mla":
        return sympy.Piecewise((-(1 + x) ** 2 / 2, sympy.And(y <= -(1 + x), -(1 + x) <= 0)),
                               (y * sympy.Max(1 + x + y / 2, 0), True))
    p = {k: sympy.Rational(v) for k, v in case.params.items()}
    tau = sympy.Piecewise((1, sympy.Or(sympy.And(y > 0, x < sympy.log(1 + p["eps"])),
                                       sympy.And(y < 0, x > sympy.log(1 - p["eps"])))), (0, True))
    if case.scale == "ppo":
        return sympy.exp(x) * y * tau
    mla_param = y * sympy.Max(1 + p["ao"] * x + p["ar"] * y, sympy.Max(1 + p["ao"] * x, 0) / 2)
    return mla_param * tau


def _evaluate(f: sympy.Expr, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    x, y = sorted(f.free_symbols, key=lambda s: s.name)
    fn = sympy.lambdify((x, y), f, modules="math")
    return torch.tensor([float(fn(float(a), float(b))) for a, b in zip(xs, ys, strict=True)], dtype=ag.DTYPE)


# ---------------------------------------------------------------------------------------------------
# the reference model: the same parameter tensors, our own forward pass and densities


def _mlp(layers: list[tuple[torch.Tensor, torch.Tensor]], h: torch.Tensor) -> torch.Tensor:
    for i, (w, b) in enumerate(layers):
        h = h @ w.T + b
        if i < len(layers) - 1:
            h = torch.tanh(h)
    return h


def _layers(params: dict[str, torch.Tensor], prefix: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    idx = sorted({int(k.split(".")[1]) for k in params if k.startswith(prefix + ".")})
    return [(params[f"{prefix}.{i}.weight"], params[f"{prefix}.{i}.bias"]) for i in idx]


def gaussian_log_density(mean: torch.Tensor, log_std: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """log N(a; µ, diag(σ²)) = −½Σ((a − µ)/σ)² − Σ log σ − (d/2) log 2π, per sample."""
    z = (actions - mean) / torch.exp(log_std)
    return -0.5 * (z ** 2).sum(-1) - log_std.sum() - 0.5 * mean.shape[-1] * LOG_2PI


def gaussian_entropy(log_std: torch.Tensor, n: int) -> torch.Tensor:
    """H(N(µ, diag(σ²))) = Σ log σ + (d/2)(1 + log 2π), the same for every state."""
    return (log_std.sum() + 0.5 * log_std.shape[0] * (1 + LOG_2PI)).expand(n)


def normalised(adv: torch.Tensor) -> torch.Tensor:
    """(Â − mean)/(std + 1e-8) over the minibatch, std with n − 1 (numpy, independent of the trainer)."""
    a = adv.detach().cpu().numpy().astype(np.float64)
    return torch.from_numpy((a - a.mean()) / (a.std(ddof=1) + 1e-8))


@dataclass
class Reference:
    actor: torch.Tensor   # the reference update, actor + log σ coordinates
    critic: torch.Tensor  # the reference update, critic coordinates
    actor_control: torch.Tensor
    critic_control: torch.Tensor
    tau_on: int
    tau_off: int
    vclip_active: int


def reference_update(case: Case, params: dict[str, torch.Tensor], names: list[str], mb: dict[str, torch.Tensor],
                     vf_coef: float, vf_clip: float) -> Reference:
    """The paper's update on ``mb`` from first principles, split into actor/log σ and critic coordinates."""
    actor_names = [k for k in names if not k.startswith("critic.")]
    critic_names = [k for k in names if k.startswith("critic.")]
    obs, actions = mb["obs"], mb["actions"]
    log_std = params["log_std"]
    log_prob = gaussian_log_density(_mlp(_layers(params, "actor"), obs), log_std, actions)
    entropy = gaussian_entropy(log_std, obs.shape[0])
    adv = normalised(mb["advantages"])
    d_o = (log_prob - mb["log_prob"]).detach()
    d_r = (adv - case.alpha * (log_prob + entropy)).detach()
    f = printed_scale(case)

    def actor_objective(sign: float) -> torch.Tensor:  # sign −1: the inverted ratio (negative control)
        if case.surrogate:
            eps = float(case.params["eps"])
            ratio = torch.exp(sign * (log_prob - mb["log_prob"]))
            j = torch.minimum(ratio * adv, ratio.clamp(1 - eps, 1 + eps) * adv).mean()
        else:
            j = (_evaluate(f, sign * d_o, d_r) * log_prob).mean()
        return j + case.beta * entropy.mean()

    values = _mlp(_layers(params, "critic"), obs).squeeze(-1)
    targets, old_values = mb["targets"], mb["values"]

    def critic_objective(control: bool) -> torch.Tensor:
        unclipped = (values - targets) ** 2
        if case.clip_vloss:
            clipped = (old_values + (values - old_values).clamp(-vf_clip, vf_clip) - targets) ** 2
            pick = torch.minimum if control else torch.maximum  # control: the optimistic direction
            return -vf_coef * 0.5 * pick(unclipped, clipped).mean()
        return -vf_coef * (1.0 if control else 0.5) * unclipped.mean()  # control: without the ½

    def grad(out: torch.Tensor, keys: list[str]) -> torch.Tensor:
        return ag.flat_grad(out, [params[k] for k in keys])

    tau = _evaluate(printed_scale(dataclasses.replace(case, scale="ppo", params={"eps": case.params.get(
        "eps", "0.2")})), d_o, d_r) != 0
    return Reference(
        actor=grad(actor_objective(1.0), actor_names), critic=grad(critic_objective(False), critic_names),
        actor_control=grad(actor_objective(-1.0), actor_names),
        critic_control=grad(critic_objective(True), critic_names),
        tau_on=int(tau.sum()), tau_off=int((~tau).sum()),
        vclip_active=int(((values - old_values).abs() > vf_clip).sum()))


# ---------------------------------------------------------------------------------------------------


def _rollout() -> tuple[object, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """A seeded Hopper-v5 rollout through the trainer's own code; its batch in float64 and the rollout's
    parameters (float64)."""
    from agents.ppo import PPO, PPOConfig

    config = PPOConfig(env_id="Hopper-v5", total_steps=NUM_STEPS, num_steps=NUM_STEPS, minibatch_size=MINIBATCH,
                       update_epochs=1, seed=SEED, torch_threads=1, device="cpu")
    trainer = PPO(config, ag.scale("ppo", eps="0.2"))
    try:
        trainer.collect_rollout()
        batch = {k: v.detach().to(ag.DTYPE) for k, v in trainer.evaluate_rollout().items()}
        rollout_params = {k: v.detach().to(ag.DTYPE) for k, v in trainer.policy.state_dict().items()}
    finally:
        trainer.close()
    return config, batch, rollout_params


def _lanes_against_single_run() -> tuple[float, float]:
    """The lane-batched trainer (:class:`agents.lanes.LaneTrainer`) against the single-run one after one rollout
    and one update: the largest |difference| of lane 0's parameters from :class:`agents.ppo.PPO`'s with the
    same config and seed, and of lane 1's (another seed and scale: the negative control)."""
    from agents.lanes import LaneTrainer
    from agents.ppo import PPO, PPOConfig

    config = PPOConfig(env_id="Hopper-v5", total_steps=NUM_STEPS, num_steps=NUM_STEPS, minibatch_size=MINIBATCH,
                       update_epochs=1, seed=SEED, torch_threads=1, device="cpu")
    other = dataclasses.replace(config, seed=SEED + 1, scale="mla_ppo", alpha=0.01,
                                scale_params={"ao": "1", "ar": "0.5", "eps": "0.2"})
    ppo_scale = ag.scale("ppo", eps="0.2")
    lanes = LaneTrainer([(config, ppo_scale), (other, ag.scale("mla_ppo", ao="1", ar="0.5", eps="0.2"))],
                        exact=True)   # the bitwise mode (the batched-GEMM one is within float32 rounding)
    single = PPO(config, ppo_scale)
    try:
        lanes.train_one_update()
        single.train_one_update()
        ref = single.flat_params.detach().to(ag.DTYPE)
        stacked = lanes.stack.flat.detach().to(ag.DTYPE)
        return ag.max_abs(stacked[0], ref), ag.max_abs(stacked[1], ref)
    finally:
        single.close()
        lanes.close()


def derive(ev: Evidence) -> None:
    from agents.policy import ActorCritic
    from agents.ppo import PPOConfig, normalize_advantages

    with ag.single_thread():
        config, batch, rollout_params = _rollout()
        assert isinstance(config, PPOConfig)
        # the trainer's stored behaviour data against our density and critic at the rollout's parameters
        old_lp = gaussian_log_density(_mlp(_layers(rollout_params, "actor"), batch["obs"]),
                                      rollout_params["log_std"], batch["actions"])
        old_v = _mlp(_layers(rollout_params, "critic"), batch["obs"]).squeeze(-1)
        behaviour = max(ag.max_abs(old_lp, batch["log_prob"]), ag.max_abs(old_v, batch["values"]))
        shifted = gaussian_log_density(_mlp(_layers(rollout_params, "actor"), batch["obs"]),
                                       rollout_params["log_std"], batch["actions"] + 0.1)
        ev.check("behaviour data", "log π_old and V_old stored by PPO.evaluate_rollout (float32) vs our Gaussian "
                 "density and critic at the rollout's parameters (float64)", f"the whole rollout, {NUM_STEPS} steps",
                 behaviour, 1e-4, float(batch["log_prob"].abs().max()),
                 control=Control("the density at the actions shifted by 0.1", ag.max_abs(shifted, batch["log_prob"])))

        # move the policy away from the rollout's (seeded), as after some updates; log σ ≠ 0
        g = ag.generator(1100)
        policy = ActorCritic(int(batch["obs"].shape[1]), int(batch["actions"].shape[1]), config.hidden_sizes)
        policy = policy.to(ag.DTYPE)
        policy.load_state_dict({k: v.clone() for k, v in rollout_params.items()})
        with torch.no_grad():
            for name, p in policy.named_parameters():
                size = {"log_std": 0.15}.get(name, 0.08 if name.startswith("critic") else 0.04)
                p.add_(ag.randn(g, *p.shape, scale=size))
        names = [k for k, _ in policy.named_parameters()]
        params: dict[str, torch.Tensor] = dict(policy.named_parameters())
        k = 1  # the second minibatch of the (unshuffled) batch
        sl = slice(k * MINIBATCH, (k + 1) * MINIBATCH)
        raw = {key: v[sl] for key, v in batch.items()}

        for loss_name, loss_fn in _losses():
            for case in CASES:
                cfg = dataclasses.replace(config, alpha=case.alpha, ent_coef=case.beta, clip_vloss=case.clip_vloss)
                scale: CheckedScale = ag.scale(case.scale, **case.params)
                mb = dict(raw)
                mb["advantages"] = normalize_advantages(batch["advantages"], MINIBATCH)[sl]
                loss, _parts = loss_fn(policy, scale, cfg, mb)
                actor = -ag.flat_grad(loss, [params[n] for n in names if not n.startswith("critic.")])
                critic = -ag.flat_grad(loss, [params[n] for n in names if n.startswith("critic.")])
                ref = reference_update(case, params, names, raw, cfg.vf_coef, cfg.value_clip)
                inst = (f"{loss_name}, minibatch {k + 1} ({MINIBATCH} samples) of a seeded Hopper-v5 rollout of "
                        f"{NUM_STEPS} steps; τ_ε = 1 for {ref.tau_on}, 0 for {ref.tau_off}; |V − V_old| > "
                        f"{cfg.value_clip} for {ref.vclip_active}")
                ev.lemma(f"coverage: {case.label}", "the minibatch has samples inside and outside PPO's trust region "
                         "(τ_ε = 1 and 0) and, with value clipping, samples where the clip is active and where not",
                         "count on the minibatch",
                         logic.fact("coverage counts", (case.label, ref.tau_on, ref.tau_off, ref.vclip_active),
                                    ref.tau_on >= 8 and ref.tau_off >= 8
                                    and (not case.clip_vloss or 8 <= ref.vclip_active <= MINIBATCH - 8)),
                         detail=inst)
                what = ("clipped surrogate min(ρÂ, clip(ρ,1−ε,1+ε)Â) (Theorem 4.3)" if case.surrogate
                        else "f(ΔO, ΔR)∇log π with f from sympy")
                ev.check(f"actor: {case.label}", f"−∇ of {loss_name} vs mean_b {what} + β∇H, own density, own "
                         "normalised Â, own ΔO and ΔR (float64)", inst, ag.max_abs(actor, ref.actor), TOLERANCE,
                         float(ref.actor.abs().max()),
                         control=Control("the inverted ratio ΔO → −ΔO", ag.max_abs(actor, ref.actor_control)))
                vwhat = ("½ max((V − T)², (V_old + clip(V − V_old) − T)²)" if case.clip_vloss else "½ (V − T)²")
                ev.check(f"critic: {case.label}", f"−∇ of {loss_name} vs −c_V ∇ mean_b {vwhat}, own critic (float64)",
                         inst, ag.max_abs(critic, ref.critic), TOLERANCE, float(ref.critic.abs().max()),
                         control=Control("min instead of max (the optimistic clip)" if case.clip_vloss
                                         else "without the ½", ag.max_abs(critic, ref.critic_control)))
        # the lane-batched trainer runs the same code per lane: its lane equals PPO bitwise, so the checks
        # above cover it (its own tests pin this over several updates, resume and NaN isolation)
        lane_error, lane_control = _lanes_against_single_run()
        ev.check("lanes: one update", "parameters of lane 0 of agents.lanes.LaneTrainer (ppo, seed "
                 f"{SEED}, beside an MLA-PPO lane) vs agents.ppo.PPO with the same config and seed, after one rollout "
                 "and one update (bitwise)", f"Hopper-v5, {NUM_STEPS} steps, minibatches of {MINIBATCH}",
                 lane_error, 0.0, 1.0, control=Control("lane 1 (MLA-PPO, another seed) against the same PPO run",
                                                       lane_control))
    ev.scope = ("one seeded Hopper-v5 minibatch of 64 samples per case (ppo with and without β, MLA-PPO of Table 2, "
                "f_MLA with α), value clipping on and off; numerical (float64), against first-principles references")
    ev.complete = False
