"""Seed 001 §4.1 and §4.6 Table 1, REINFORCE: ``G_t ∇θ ln πθ(a_t|s_t)`` is the paper's Uπ(f) (eq. 34; the
trainer form eq. 30) with ``f = y`` (pgcheck's ``q``), ``ΔR = G_t`` and ΔO = 0.

Setting: one episode ``s_0, a_0, r_1, s_1, …, s_T`` sampled from πθ (on-policy: π_b = πθ, so ΔO = 0 by
eq. 25), the Monte-Carlo return ``G_t = Σ_{k=0}^{T−t−1} γ^k r_{t+k+1}``. In eq. (29),
``ΔR = T̂ − q̂ = Â − α(log π + H)``, ``Â = T̂ − V(s)``: REINFORCE has no baseline (V ≡ 0), takes T̂ = G_t and
α = 0, so ΔR = G_t; the entropy coefficient β of eq. (34) is 0.

Symbolic: pgcheck's registry ``q`` is f(x, y) = y for every (x, y) (z3, exact); ΔR of eq. (29) at α = 0,
V ≡ 0 is G_t (sympy); the coefficient f(0, G_t) of ∇log π is G_t, so Uπ(q) = G_t∇log π for every
differentiable policy; the validator's verdict on q. Cross-check: the batch mean over an episode of
``G_t log πθ(a_t|s_t)`` (returns computed here by a forward sum, autograd) against pgcheck's ``upi_loss``
with ``q``, ΔO from ``updates.delta_o`` and ΔR from ``updates.delta_r_pi(G, …, α = 0)`` — Gaussian and
softmax policies; negative control: the undiscounted return in place of G_t.

Through the trainer: the return the trainers compute for ``advantage = "return"``
(``agents.buffer.monte_carlo_returns``, called by ``agents.ppo.evaluate_rollout``) on a rollout of several
episodes — ended by a termination, a time-limit truncation and the rollout's end — against the forward sums of
each episode separately (negative control: one sum over the whole rollout, through the episode ends); then
``agents.ppo.ppo_loss`` with preset ``s001-reinforce`` (scale q, β = 0, Â = G unnormalised) on a float64
ActorCritic against autograd of ``mean_t G_t log πθ(a_t|s_t)`` written here (negative control: the
undiscounted return).

Algorithm 3 of the seed prints ``G_t ← Σ_{k=t}^{T} γ^{k−t} r_k`` for ``t = 1, …, T`` and the update
``αG_t ∇ln π(a_t|s_t)``: with the seed's own trajectory ``s_0, a_0, r_1, …, s_T`` this pairs a_t with a
return that starts at r_t, the reward of the *previous* action, skips t = 0, and at t = T needs an action
a_T the trajectory does not have. Erratum E1 checks the consequence exactly on a two-step chain.
"""

from __future__ import annotations

import numpy as np
import sympy
import torch

from derivations import autograd as ag
from derivations import logic
from derivations import onpolicy as op
from derivations.core import Control, Evidence
from pgcheck import updates
from pgcheck.expr import X, Y

ID = "s001-t1-reinforce"
TITLE = "Seed 001 §4.6 Table 1: REINFORCE as Uπ(f = y) with ΔR = G"
REFERENCE = "seed 001 §4.1, Algorithm 3, §4.6 Table 1; paper eqs. (29), (30), (34)"
STATEMENT = ("G_t∇θ ln πθ(a_t|s_t) = Uπ(f)(ΔO, ΔR) with f(x, y) = y (pgcheck q), ΔR = G_t (eq. 29: α = 0, no "
             "baseline), ΔO = 0 (on-policy), β = 0")

GAMMA = 0.9  # the cross-check's discount


def derive(ev: Evidence) -> None:
    f_q = logic.registry("q")
    same = logic.prove(logic.eq(f_q, Y))
    ev.lemma("Table 1, REINFORCE", "pgcheck's registry q(x, y) = y for every real x, y", same.method, same.proved)
    g_t, v, alpha, log_pi, ent = sympy.symbols("G_t V alpha log_pi H", real=True)
    adv = g_t - v  # Â = T̂ − V with T̂ = G_t
    delta_r = adv - alpha * (log_pi + ent)  # eq. (29)
    ev.lemma("eq. (29)", "ΔR = Â − α(log π + H) with T̂ = G_t, no baseline (V = 0) and α = 0 is G_t",
             "sympy simplify", logic.zero(delta_r.subs({v: 0, alpha: 0}) - g_t))
    ev.lemma("eq. (34)", "the coefficient of ∇θ log πθ(a|s) in Uπ(q) at (ΔO, ΔR) = (0, G_t) is G_t, so "
             "Uπ(q) with β = 0 is REINFORCE's G_t∇θ ln πθ(a_t|s_t) (Table 1, Algorithm 3's update)",
             "sympy simplify", logic.zero(f_q.subs({X: 0, Y: g_t}) - g_t))
    op.verdict_step(ev, "Assumption 5.1", "the scale used, f = y", "q", "VALID")
    _algorithm_3(ev)
    ev.scope = ("every differentiable policy πθ and every return G_t (registry q = y for all x, y by z3); "
                "Algorithm 3's index erratum exactly on a two-step chain with tabular softmax policies")
    ev.complete = True
    _cross_check(ev)
    _trainer_check(ev)


def _algorithm_3(ev: Evidence) -> None:
    """Algorithm 3's loop on a two-step chain s_0 → s_1 → end (two actions, tabular logits θ_s ∈ ℝ² at 0, so
    π = ½ exactly; rewards r_1 = R_0[a_0], r_2 = R_1[a_1]). The exact policy gradient is
    E[Σ_{t=0}^{1} G_t ∇log π(a_t|s_t)], G_0 = r_1 + γr_2, G_1 = r_2; the printed loop (t = 1, …, T = 2) gives
    E[(r_1 + γr_2)∇log π(a_1|s_1)] at t = 1 and needs the non-existent a_2 at t = 2. Even with the t = T term
    dropped, its expectation differs from ∇J (the t = 0 term is missing)."""
    half = sympy.Rational(1, 2)
    r0 = (sympy.Integer(1), sympy.Integer(0))   # reward of a_0 in s_0
    r1 = (sympy.Integer(0), sympy.Integer(2))   # reward of a_1 in s_1
    g = sympy.S.One  # γ = 1: no γ^t weighting question (see the note), only the indices differ

    def grad_log_pi(state: int, a: int) -> sympy.Matrix:
        """∇θ log π(a|s) for tabular logits θ = (θ_{s0,0}, θ_{s0,1}, θ_{s1,0}, θ_{s1,1}) at θ = 0: e_a − π."""
        v = [sympy.S.Zero] * 4
        for u in range(2):
            v[2 * state + u] = (1 if u == a else 0) - half
        return sympy.Matrix(v)

    true_grad = sympy.zeros(4, 1)
    printed = sympy.zeros(4, 1)
    for a0 in range(2):
        for a1 in range(2):
            p = half * half
            ret0, ret1 = r0[a0] + g * r1[a1], r1[a1]
            true_grad += p * (ret0 * grad_log_pi(0, a0) + ret1 * grad_log_pi(1, a1))
            # printed t = 1: G_1 = Σ_{k=1}^{2} γ^{k−1} r_k = r_1 + γ r_2, paired with a_1 (the t = 2 term needs a_2)
            printed += p * ((r0[a0] + g * r1[a1]) * grad_log_pi(1, a1))
    # ∇J by differentiating J(θ) = E[r_1 + γ r_2] directly (an independent computation of the true gradient)
    th = sympy.symbols("t0:4", real=True)

    def pi(state: int, a: int) -> sympy.Expr:
        return sympy.exp(th[2 * state + a]) / (sympy.exp(th[2 * state]) + sympy.exp(th[2 * state + 1]))

    j = sum(pi(0, a0) * pi(1, a1) * (r0[a0] + g * r1[a1]) for a0 in range(2) for a1 in range(2))
    at_zero = {t: 0 for t in th}
    grad_j = sympy.Matrix([sympy.diff(j, t).subs(at_zero) for t in th])
    ok_true = logic.zero(sympy.simplify((grad_j - true_grad).norm() ** 2))
    ev.lemma("§4.1, with the trajectory's indices", "E[Σ_{t=0}^{T−1} G_t∇log π(a_t|s_t)] with "
             "G_t = Σ_{k=0}^{T−t−1} γ^k r_{t+k+1} is ∇J (two-step chain, γ = 1, exact)",
             "sympy: exact expectation over the four action pairs against ∂J/∂θ of J = E[r_1 + γr_2]", ok_true,
             detail=f"∇J = {list(grad_j)}")
    diff = list(grad_j - printed)
    ev.step("Algorithm 3", "for t = 1, …, T: G_t ← Σ_{k=t}^{T} γ^{k−t} r_k; θ ← θ + αG_t∇ln πθ(a_t|s_t)  "
            "(as printed; its t = T term needs a_T, absent from s_0, a_0, r_1, …, s_T, and is left out here)",
            "exact evaluation of the expected update against ∇J",
            logic.fact("printed expected update equals ∇J", (tuple(diff),), all(d == 0 for d in diff)),
            erratum="E1", detail=f"printed E[update] = {list(printed)}, ∇J = {list(grad_j)}")
    ev.add_erratum(
        "E1", "seed 001 §4.1, Algorithm 3 (REINFORCE)",
        "for t = 1, …, T do G_t ← Σ_{k=t}^{T} γ^{k−t} r_k; θ ← θ + αG_t∇θ ln πθ(a_t|s_t), with the trajectory "
        "s_0, a_0, r_1, s_1, …, s_T",
        f"two-step chain, γ = 1, rewards R(s_0,·) = (1, 0), R(s_1,·) = (0, 2), tabular softmax at θ = 0: the "
        f"printed t = 1 update has expectation {list(printed)} but ∇J = {list(grad_j)} (the return paired "
        "with a_1 starts at r_1, the reward of a_0; t = 0 is never updated; t = T needs a non-existent a_T)",
        "for t = 0, …, T − 1: G_t ← Σ_{k=t+1}^{T} γ^{k−t−1} r_k (the text's G_t = Σ_k γ^k r_{t+k+1}, summed to "
        "k = T − t − 1, not T); θ ← θ + αG_t∇θ ln πθ(a_t|s_t) — the corrected loop's expectation is ∇J (step above)",
        ok_true and any(d != 0 for d in diff))
    ev.note("with γ < 1, Σ_t G_t∇ln π(a_t|s_t) over one episode (Algorithm 3, and every batch estimator of Table 1) "
            "weights the states by their undiscounted visitation; the exact gradient of the discounted return "
            "needs γ^t G_t. The seed samples s from the discounted state distribution in its policy gradient "
            "theorem, where G_t∇ln π is exact, so this is the usual practice and not recorded as an erratum; "
            "E1 is checked at γ = 1, where only the indices matter")


def _cross_check(ev: Evidence) -> None:
    gamma = GAMMA
    err, control = ag.MaxErr(), ag.MaxErr()
    kinds = []
    with ag.single_thread():
        g = ag.generator(1001)
        for make in (op.gaussian_batch, op.softmax_batch):
            b = make(g, 16, 0.0)  # one episode of T = 16 steps from πθ itself (ΔO = 0)
            rewards = [float(r) for r in ag.randn(g, 16)]
            returns = torch.tensor(op.discounted_returns(rewards, gamma), dtype=ag.DTYPE)
            undiscounted = torch.tensor(op.discounted_returns(rewards, 1.0), dtype=ag.DTYPE)
            reference = ag.flat_grad((returns * b.log_prob).mean(), b.params)
            wrong = ag.flat_grad((undiscounted * b.log_prob).mean(), b.params)
            d_o = updates.delta_o(b.log_prob, b.log_prob_old)
            d_r = updates.delta_r_pi(returns, b.log_prob, b.entropy, 0.0)
            loss = updates.upi_loss(ag.scale("q"), b.log_prob, b.entropy, d_o, d_r, beta=0.0)
            update = -ag.flat_grad(loss, b.params)
            err.add(reference, update)
            control.add(wrong, update)
            kinds.append(b.kind)
    ev.check("Table 1, REINFORCE", "autograd of mean_t G_t log πθ(a_t|s_t) vs pgcheck upi_loss(q) with ΔR = "
             "delta_r_pi(G, α = 0), ΔO = delta_o (= 0)", f"one episode of 16 steps each, γ = 0.9: {'; '.join(kinds)}",
             err.error, 1e-12, err.magnitude, control=Control("the undiscounted return Σ_k r_{t+k+1}", control.error))


# episode ends of the trainer check's rollout of 64 steps: (step, kind); the rollout's end cuts a fourth episode
ENDS = ((9, "termination"), (30, "time-limit truncation"), (47, "termination"))


def _trainer_check(ev: Evidence) -> None:
    from agents.buffer import monte_carlo_returns
    from agents.ppo import ppo_loss
    from derivations.s001_a2c import MINIBATCH, s001_config, trainer_minibatch

    c = s001_config("reinforce")
    with ag.single_thread():
        g = ag.generator(1004)
        rewards = [float(r) for r in ag.randn(g, MINIBATCH)]
        dones = np.zeros((MINIBATCH, 1), dtype=bool)
        for t, _ in ENDS:
            dones[t] = True
        got = torch.from_numpy(monte_carlo_returns(np.array(rewards)[:, None], dones, c.gamma)[:, 0])
        starts = [0, *(t + 1 for t, _ in ENDS)]
        stops = [t + 1 for t, _ in ENDS] + [MINIBATCH]
        by_episode = torch.tensor([x for a, b in zip(starts, stops, strict=True)
                                   for x in op.discounted_returns(rewards[a:b], c.gamma)], dtype=ag.DTYPE)
        through = torch.tensor(op.discounted_returns(rewards, c.gamma), dtype=ag.DTYPE)
        ev.check("through the trainer: G", f"agents.buffer.monte_carlo_returns (γ = {c.gamma}, as evaluate_rollout "
                 "calls it for advantage = return) vs the forward sum of each episode (op.discounted_returns)",
                 f"a rollout of {MINIBATCH} steps, episodes ended by {', '.join(k for _, k in ENDS)} and the "
                 "rollout's end", ag.max_abs(by_episode, got), 1e-12, float(by_episode.abs().max()),
                 control=Control("one sum through the episode ends", ag.max_abs(through, got)))
        undiscounted = torch.tensor([x for a, b in zip(starts, stops, strict=True)
                                     for x in op.discounted_returns(rewards[a:b], 1.0)], dtype=ag.DTYPE)
        t_mb = trainer_minibatch(1004, advantages=got)
        reference = ag.flat_grad((got * t_mb.log_prob).mean(), t_mb.actor)
        wrong = ag.flat_grad((undiscounted * t_mb.log_prob).mean(), t_mb.actor)
        update = -ag.flat_grad(ppo_loss(t_mb.policy, ag.scale("q"), c, t_mb.mb)[0], t_mb.actor)
    ev.check("through the trainer: the gradient", "−∇θ agents.ppo.ppo_loss(q, β = 0, α = 0) with Â = G — the loss "
             "of algo reinforce, preset s001-reinforce — vs autograd of mean_t G_t log πθ(a_t|s_t) (density and actor "
             "forward pass written here)", f"float64 ActorCritic (Hopper's sizes, 64 × 64 tanh), {MINIBATCH} "
             "samples, the returns above", ag.max_abs(reference, update), 1e-12, float(reference.abs().max()),
             control=Control("the undiscounted return", ag.max_abs(wrong, update)))
