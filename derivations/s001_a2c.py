"""Seed 001 §4.2 and §4.6 Table 1, A3C/A2C: ``(1/|D|) Σ_D [Â∇θ ln πθ(a|s) + β∇θ H(πθ(·|s))]`` is the batch mean
of the paper's Uπ(f) (eq. 34) with ``f = y`` (pgcheck's ``q``), ``ΔR = Â`` and the same entropy coefficient β.

Setting: transitions D sampled from πθ (ΔO = 0), the k-step advantage of the seed's eq. (14),
``Â(s_t, a_t) = Σ_{i=0}^{k−1} γ^i r_{t+i} + γ^k V̂(s_{t+k}) − V̂(s_t)`` (indices as printed), and α = 0 in
eq. (29) so that ΔR = Â. The seed's entropy-augmented gradient (end of §4.2) has the form of eq. (34)'s
β∇H term exactly, so A3C is Uπ(q) with β — no term outside the class.

Symbolic: registry q = y (z3, all x, y); ΔR = Â at α = 0 (sympy); the coefficient of ∇log π is Â and the
entropy terms coincide (sympy, as linear forms in the symbols ∇log π, ∇H); the validator's verdict on q.
Cross-check: the batch mean of ``Â log πθ + βH`` (advantages computed here from eq. (14) on a rollout with a
random value function; autograd) against pgcheck's ``upi_loss(q, β)`` with ΔR from ``delta_r_pi(Â, …, α = 0)``,
Gaussian and softmax policies; negative control: the entropy bonus with the wrong sign.

Through the trainer: ``agents.ppo.ppo_loss`` — the loss the trainers call for ``algo = a2c`` (PPO's loop,
preset ``s001-a2c``: scale q, β = 0.1) — on a float64 :class:`agents.policy.ActorCritic` moved off its
behaviour policy (ΔO ≠ 0, as at every minibatch after the first step of an epoch), against autograd of
``mean_b[Â log πθ + βH]`` with the density, entropy and actor forward pass written here from the parameter
tensors; negative control: the same loss with the importance-weighted f_SQ (``sq``), which A2C is not.
:func:`trainer_minibatch` is shared by the REINFORCE and PPO-KL claims' checks through the trainer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sympy
import torch

from derivations import autograd as ag
from derivations import logic
from derivations import onpolicy as op
from derivations.core import Control, Evidence
from pgcheck import updates
from pgcheck.expr import X, Y

ID = "s001-t1-a2c"
TITLE = "Seed 001 §4.6 Table 1: A3C/A2C as Uπ(f = y) with ΔR = Â and the entropy bonus as eq. (34)'s β"
REFERENCE = "seed 001 §4.2 eq. (14), Algorithm 4, §4.6 Table 1; paper eqs. (29), (30), (34)"
STATEMENT = ("(1/|D|)Σ_D[Â∇θ ln πθ(a|s) + β∇θH(πθ(·|s))] = mean_D Uπ(f) with f(x, y) = y (pgcheck q), ΔR = Â "
             "(eq. 29, α = 0), ΔO = 0, the same β")

BETA = 0.01
K_STEPS = 3


def derive(ev: Evidence) -> None:
    f_q = logic.registry("q")
    same = logic.prove(logic.eq(f_q, Y))
    ev.lemma("Table 1, A3C", "pgcheck's registry q(x, y) = y for every real x, y", same.method, same.proved)
    adv, alpha, log_pi, ent = sympy.symbols("A alpha log_pi H", real=True)
    ev.lemma("eq. (29)", "ΔR = Â − α(log π + H) at α = 0 is Â", "sympy simplify",
             logic.zero((adv - alpha * (log_pi + ent)).subs(alpha, 0) - adv))
    g_logpi, g_h, beta = sympy.symbols("grad_log_pi grad_H beta", real=True)
    seed = adv * g_logpi + beta * g_h                      # seed 001 §4.2, one transition
    upi = f_q.subs({X: 0, Y: adv}) * g_logpi + beta * g_h  # eq. (34) with ΔO = 0, ΔR = Â
    ev.lemma("eq. (34)", "Â∇ln π + β∇H (seed 001 §4.2, the entropy-augmented A3C gradient) = Uπ(q) at "
             "(ΔO, ΔR) = (0, Â) with the same β, as linear forms in ∇log π and ∇H",
             "sympy simplify", logic.zero(seed - upi))
    op.verdict_step(ev, "Assumption 5.1", "the scale used, f = y", "q", "VALID")
    ev.note("indices: eq. (14) and the GAE eq. (19) write the reward after a_t as r_t; §4.1 and Algorithms 3–4 "
            "sample s_{t+1}, r_{t+1} ∼ P(s_t, a_t). The cross-check uses eq. (14)'s convention; Algorithm 4's loop "
            "R ← r_j + γR for j = t − 1, …, t_start pairs r_j with a_j in the first convention only")
    ev.scope = "every differentiable policy πθ, every advantage estimate Â and every β (registry q = y for all x, y)"
    ev.complete = True
    _cross_check(ev)
    _trainer_check(ev)


def _advantages(rewards: list[float], values: list[float], gamma: float, k: int) -> list[float]:
    """Eq. (14) of seed 001 for t = 0 … T−1, with the rollout truncated at T (fewer than k rewards left: the
    bootstrap is V̂(s_T)); rewards[t] is the reward after a_t, values has T + 1 entries."""
    n = len(rewards)
    out = []
    for t in range(n):
        steps = min(k, n - t)
        ret = sum(gamma ** i * rewards[t + i] for i in range(steps)) + gamma ** steps * values[t + steps]
        out.append(ret - values[t])
    return out


def _cross_check(ev: Evidence) -> None:
    gamma = 0.99
    err, control = ag.MaxErr(), ag.MaxErr()
    kinds = []
    with ag.single_thread():
        g = ag.generator(1002)
        for make in (op.gaussian_batch, op.softmax_batch):
            b = make(g, 16, 0.0)
            rewards = [float(r) for r in ag.randn(g, 16)]
            values = [float(v) for v in ag.randn(g, 17, scale=0.5)]
            adv = torch.tensor(_advantages(rewards, values, gamma, K_STEPS), dtype=ag.DTYPE)
            reference = ag.flat_grad((adv * b.log_prob + BETA * b.entropy).mean(), b.params)
            wrong = ag.flat_grad((adv * b.log_prob - BETA * b.entropy).mean(), b.params)
            d_o = updates.delta_o(b.log_prob, b.log_prob_old)
            d_r = updates.delta_r_pi(adv, b.log_prob, b.entropy, 0.0)
            loss = updates.upi_loss(ag.scale("q"), b.log_prob, b.entropy, d_o, d_r, beta=BETA)
            update = -ag.flat_grad(loss, b.params)
            err.add(reference, update)
            control.add(wrong, update)
            kinds.append(b.kind)
    ev.check("Table 1, A3C", f"autograd of mean_D[Â log πθ + βH] vs pgcheck upi_loss(q, β = {BETA}) with ΔR = "
             "delta_r_pi(Â, α = 0)", f"{K_STEPS}-step advantages (eq. 14, γ = 0.99) on a 16-step rollout each: "
             f"{'; '.join(kinds)}", err.error, 1e-12, err.magnitude,
             control=Control("the entropy bonus with the wrong sign (−βH)", control.error))


# ---------------------------------------------------------------------------------------------------
# through the trainer's loss code (agents.ppo.ppo_loss, as the lane and single-run trainers call it)

OBS_DIM, ACT_DIM, MINIBATCH = 11, 3, 64   # Hopper-v5's sizes, the trainer's 64 × 64 networks


@dataclass
class TrainerBatch:
    """A float64 :class:`agents.policy.ActorCritic` off its behaviour policy, and a minibatch sampled from the
    behaviour: ``mb`` as the trainer's :class:`agents.ppo.RolloutBatch`; the behaviour's mean and log σ per
    sample; ``log_prob`` and ``entropy``: log πθ(a|s) and H(πθ(·|s)) computed here (differentiable)."""

    policy: Any
    actor: list[torch.Tensor]      # the actor's parameters and log σ, in the policy's order
    mb: Any
    mu_old: torch.Tensor
    log_std_old: torch.Tensor
    mean: torch.Tensor             # μθ(s), computed here
    log_std: torch.Tensor
    log_prob: torch.Tensor
    entropy: torch.Tensor


def _actor_mean(params: Mapping[str, torch.Tensor], obs: torch.Tensor) -> torch.Tensor:
    """The tanh MLP from the parameter tensors (not agents.policy's forward pass)."""
    layers = sorted({int(k.split(".")[1]) for k in params if k.startswith("actor.")})
    h = obs
    for n, i in enumerate(layers):
        h = h @ params[f"actor.{i}.weight"].T + params[f"actor.{i}.bias"]
        if n < len(layers) - 1:
            h = torch.tanh(h)
    return h


def _log_density(mean: torch.Tensor, log_std: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    return (-0.5 * ((actions - mean) / torch.exp(log_std)) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)


def trainer_minibatch(offset: int, advantages: torch.Tensor | None = None) -> TrainerBatch:
    """A seeded instance: the policy is the behaviour moved by a perturbation of its parameters (log σ too);
    Â standard normal unless given."""
    from agents.policy import ActorCritic
    from agents.ppo import RolloutBatch

    g = ag.generator(offset)
    torch.manual_seed(ag.SEED + offset)   # the network's initialisation (agents.policy draws from torch's RNG)
    policy = ActorCritic(OBS_DIM, ACT_DIM).to(ag.DTYPE)
    params = dict(policy.named_parameters())
    obs = ag.randn(g, MINIBATCH, OBS_DIM)
    with torch.no_grad():
        mu_old = _actor_mean(params, obs)
        log_std_old = params["log_std"].clone()
        actions = mu_old + torch.exp(log_std_old) * ag.randn(g, MINIBATCH, ACT_DIM)
        log_prob_old = _log_density(mu_old, log_std_old, actions)
        for name, p in params.items():
            if not name.startswith("critic."):
                p.add_(ag.randn(g, *p.shape, scale=0.1 if name == "log_std" else 0.05))
    adv = ag.randn(g, MINIBATCH) if advantages is None else advantages
    zeros = torch.zeros(MINIBATCH, dtype=ag.DTYPE)
    mean, log_std = _actor_mean(params, obs), params["log_std"]
    entropy = (log_std.sum() + 0.5 * ACT_DIM * (1 + math.log(2 * math.pi))).expand(MINIBATCH)
    return TrainerBatch(policy, [p for n, p in policy.named_parameters() if not n.startswith("critic.")],
                        RolloutBatch(obs, actions, log_prob_old, zeros, adv, zeros), mu_old, log_std_old, mean,
                        log_std, _log_density(mean, log_std, actions), entropy)


def s001_config(algo: str) -> Any:
    """The trainer's config of preset ``s001-ALGO`` (Hopper-v5), with ``vf_coef = 0``: the checks compare the
    actor's coordinates only."""
    from agents.config import PPOConfig
    from agents.presets import preset

    return PPOConfig(**{**preset(f"s001-{algo}", "Hopper-v5"), "vf_coef": 0.0})


def _trainer_check(ev: Evidence) -> None:
    from agents.ppo import ppo_loss

    with ag.single_thread():
        t = trainer_minibatch(1003)
        c = s001_config("a2c")
        reference = ag.flat_grad((t.mb.advantages * t.log_prob + c.ent_coef * t.entropy).mean(), t.actor)
        got = -ag.flat_grad(ppo_loss(t.policy, ag.scale("q"), c, t.mb)[0], t.actor)
        weighted = -ag.flat_grad(ppo_loss(t.policy, ag.scale("sq"), c, t.mb)[0], t.actor)
        spread = float((t.log_prob - t.mb.log_prob).detach().abs().max())
    ev.check("through the trainer", f"−∇θ agents.ppo.ppo_loss(q, β = {c.ent_coef}, α = 0) — the loss of algo a2c, "
             "preset s001-a2c — vs autograd of mean_b[Â log πθ + βH] (density, entropy and actor forward pass "
             "written here)", f"float64 ActorCritic ({OBS_DIM} observations, {ACT_DIM} actions, 64 × 64 tanh) moved "
             f"off its behaviour, max |ΔO| = {spread:.2f}, {MINIBATCH} samples", ag.max_abs(reference, got), 1e-12,
             float(reference.abs().max()),
             control=Control("the importance-weighted f_SQ = eˣy (sq) in place of q", ag.max_abs(reference, weighted)))
