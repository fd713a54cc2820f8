"""PPO with a KL penalty (seed 003, "Adaptive KL penalty coefficient"; the penalty family of seed 001 §4.3–§4.4):
the gradient of ``L = (1/|D|) Σ_D [rθ Â − β KL(π_old(·|s) ‖ πθ(·|s))]``, rθ = πθ(a|s)/π_old(a|s), per sample.

Seed 003's formula for the penalised objective was lost in the text extraction (only "optimize the
KL-penalized objective:" and the adaptive rule "β ← β/2 if d < d_targ/1.5, β ← 2β if d > 1.5 d_targ"
survive); the objective above is Schulman et al. (2017)'s L^KLPEN, with the KL direction of seed 001's TRPO
constraint (17) and of its Figure 5 estimator. The adaptive rule changes β between updates and is not part
of the gradient.

Derived, per sample (s, a), a ∼ π_old:

* ``∇θ[rÂ − βKL] = e^{ΔO}Â∇θ log πθ(a|s) + β E_{u∼π_old}[∇θ log πθ(u|s)]``: the surrogate part is Uπ(f_SQ)
  with ΔR = Â (as TRPO's); the penalty part does not involve the sampled action at all. It is **an extra
  term outside the class**: in general it is not a multiple of ∇log πθ(a|s) for any sampled a (exact
  rational instance below), so no f(ΔO, ΔR) absorbs it — like eq. (34)'s β∇H it is a per-state term, but it
  is not the entropy term: it is the gradient of the cross-entropy −E_{π_old} log πθ. It vanishes at
  θ = θ_old (E_{u∼π}∇log π = 0), so the first step of each batch is TRPO's/A2C's gradient.
* With the KL *estimated* from the sampled action, the penalty becomes pointwise: seed 001's unbiased
  estimator (§6, Figure 5) ``k3 = (r − 1) − log r`` has ``∇k3 = (r − 1)∇log πθ``, so the rule is Uπ(f) with
  ``f(x, y) = eˣy − β(eˣ − 1)``; the naive ``k1 = −log r`` gives ``f = eˣy + β``. Both gradients are unbiased
  for ∇KL, and both scales are **INVALID** under Assumption 5.1 (f(x, 0) ≠ 0: the penalty pulls log πθ back
  towards π_old regardless of the advantage), which pgcheck's validator finds, so pgcheck refuses to build
  them as a CheckedScale.

Symbolic: the softmax calculus of :mod:`derivations.softmax` (general |A|, any model q_θ by the chain rule)
with π_old as the fixed softmax p̂ of eq. (22); sympy chain rule for the ratio and k3; exact rank tests.
Cross-checks: autograd of the penalised objective with the analytic KL (softmax: definition; Gaussian:
closed form) against pgcheck's ``upi_loss(sq)`` plus the derived extra term computed from its closed form
(negative control: the reversed KL), k3 against ``upi_loss(sq)`` plus the derived (r − 1)∇log π term
(negative control: k1's −∇log π), and at θ = θ_old against ``upi_loss(q)``.

Through the trainer: the loss of ``algo = ppo-kl`` (preset ``s001-ppo-kl``), ``agents.ppo.ppo_loss`` with
scale ``sq`` plus ``agents.algos.onpolicy.kl_penalty`` (the named term outside the class, the analytic
Gaussian KL) on a float64 ActorCritic off its behaviour, against autograd of ``mean_b[rÂ] − β mean_b
KL(π_old‖πθ)`` with the density and the KL's closed form written here (negative control: the reversed KL).
"""

from __future__ import annotations

from collections.abc import Callable

import sympy
import torch

from derivations import autograd as ag
from derivations import logic
from derivations import onpolicy as op
from derivations import softmax as sx
from derivations.core import Control, Evidence, record
from pgcheck import updates

ID = "s001-t1-ppo-kl"
TITLE = "PPO with a KL penalty (seed 003): the penalty is a term outside the scale class"
REFERENCE = "seed 003 (adaptive KL penalty); seed 001 §4.3 (17), §6 Figure 5 estimator; paper eqs. (25), (34)"
STATEMENT = ("∇θ[rÂ − βKL(π_old‖πθ)] = e^{ΔO}Â∇log πθ(a|s) + βE_{u∼π_old}∇log πθ(u|s): Uπ(f_SQ) plus a per-state "
             "term no f(ΔO, ΔR) absorbs; with the k3 = (r−1) − log r estimate it is Uπ(eˣy − β(eˣ−1)), INVALID")

BETA = 1.0  # Schulman et al.'s initial β; any β > 0 behaves the same
K3 = "exp(x) * y - beta * (exp(x) - 1)"
K1 = "exp(x) * y + beta"


def derive(ev: Evidence) -> None:
    sm = sx.Softmax()

    def t(ab: bool) -> sympy.Expr:
        return sx.TB if ab else sx.TA

    def log_old(ab: bool) -> sympy.Expr:
        return t(ab) - sm.FT

    kl = sm.E_a(lambda ab: log_old(ab) - sm.log_pi(ab), weight="phat")
    extra = sm.E_a(lambda ab: sx.d(sm.log_pi(ab)), weight="phat")
    ev.lemma("penalty gradient", "−∇θKL(π_old(·|s)‖πθ(·|s)) = E_{u∼π_old}[∇θ log πθ(u|s)] (general |A|, any q_θ)",
             sx.METHOD, sx.identity(-sx.d(kl), extra))
    theta, adv, l_old = sympy.symbols("theta A l_old", real=True)
    ell = sympy.Function("l")(theta)
    ratio = sympy.exp(ell - l_old)
    ev.lemma("surrogate gradient", "∂θ(rÂ) = e^{ΔO}Â ∂θ log πθ(a|s): Uπ(f_SQ) with ΔR = Â (as TRPO's)",
             "sympy: derivative with log πθ an undetermined function of θ",
             logic.zero(sympy.diff(ratio * adv, theta) - ratio * adv * sympy.diff(ell, theta)))
    ev.lemma("at θ = θ_old", "E_{u∼π}[∇θ log π(u|s)] = 0, so the penalty's gradient vanishes at π_old = πθ",
             sx.METHOD, sx.identity(sm.E_a(lambda ab: sx.d(sm.log_pi(ab))), sympy.S.Zero))
    _outside(ev)

    def e_old(with_r: Callable[[bool], sympy.Expr], rest: Callable[[bool], sympy.Expr]) -> sympy.Expr:
        """E_{a∼π_old}[r(a)·with_r(a) + rest(a)], r = πθ/π_old, with π_old(a)·r(a) = πθ(a) term by term."""
        return (sm.pi(True) * with_r(True) + sm.phat(True) * rest(True)
                + sm.others(sm.pi(False) * with_r(False) + sm.phat(False) * rest(False)))

    k3 = e_old(lambda ab: sympy.S.One, lambda ab: -1 - (sm.log_pi(ab) - log_old(ab)))
    ev.step("seed 001 §6 (Figure 5)", "D̂_KL(π_old‖π_new) = E_{A∼π_old}[(π_new/π_old − 1) − ln(π_new/π_old)] is "
            "unbiased: it equals KL(π_old(·|s)‖π_new(·|s))", "sympy: softmax expectations, general |A| "
            "(sums over the other actions as free symbols)", sx.identity(k3, kl))
    k3_sample = (ratio - 1) - (ell - l_old)
    ev.lemma("k3 gradient", "∂θ[(r − 1) − log r] = (r − 1)∂θ log πθ(a|s): with k3 the penalised rule is "
             "Uπ(f), f(x, y) = eˣy − β(eˣ − 1)", "sympy: derivative with log πθ an undetermined function of θ",
             logic.zero(sympy.diff(k3_sample, theta) - (ratio - 1) * sympy.diff(ell, theta)))
    unbiased = e_old(lambda ab: sx.d(sm.log_pi(ab)), lambda ab: -sx.d(sm.log_pi(ab)))
    ev.lemma("k3 gradient", "E_{a∼π_old}[(r − 1)∇log πθ(a|s)] = ∇KL(π_old‖πθ): the k3 term is an unbiased "
             "estimate of the exact penalty's gradient", sx.METHOD, sx.identity(unbiased, sx.d(kl)))
    ev.lemma("k1 gradient", "E_{a∼π_old}[−∇log πθ(a|s)] = ∇KL(π_old‖πθ) (k1 = −log r; rule f = eˣy + β)",
             sx.METHOD, sx.identity(sm.E_a(lambda ab: -sx.d(sm.log_pi(ab)), weight="phat"), sx.d(kl)))
    op.verdict_step(ev, "Assumption 5.1", "the k3-penalised rule", K3, "INVALID", {"beta": str(BETA)})
    op.verdict_step(ev, "Assumption 5.1", "the k1-penalised rule", K1, "INVALID", {"beta": str(BETA)})
    ev.note("seed 003's adaptive rule (β/2 when d < d_targ/1.5, 2β when d > 1.5 d_targ) only rescales the "
            "penalty between updates; for β > 0 every statement above holds unchanged")
    ev.scope = ("every finite action set and model q_θ (softmax calculus; any differentiable policy for the "
                "chain-rule steps); 'outside the class' on an exact tabular instance; validator at β = 1")
    ev.complete = True
    _cross_check(ev)
    _trainer_check(ev)


def _outside(ev: Evidence) -> None:
    """Tabular logits at π = (1/2, 1/4, 1/4), π_old = (1/2, 1/3, 1/6): ∇_q E_{π_old} log πθ = π_old − π, and
    ∇_q log πθ(a) = e_a − π; the penalty term is a multiple of ∇log πθ(a|s) iff the 3×2 matrix has rank 1."""
    pi = sympy.Matrix([sympy.Rational(1, 2), sympy.Rational(1, 4), sympy.Rational(1, 4)])
    old = sympy.Matrix([sympy.Rational(1, 2), sympy.Rational(1, 3), sympy.Rational(1, 6)])
    extra = old - pi
    ranks = [sympy.Matrix.hstack(extra, sympy.eye(3)[:, a] - pi).rank() for a in range(3)]
    control = sympy.Matrix.hstack(2 * (sympy.eye(3)[:, 0] - pi), sympy.eye(3)[:, 0] - pi).rank()
    record("exact rank", (extra, pi, tuple(ranks)), f"ranks {ranks}", control=control == 1)
    ev.lemma("outside the class", "the penalty term is not f·∇θ log πθ(a|s) for any sampled a and any number f: "
             "tabular logits, π = (1/2, 1/4, 1/4), π_old = (1/2, 1/3, 1/6): π_old − π = (0, 1/12, −1/12) is not "
             "parallel to any e_a − π", "exact rank of [π_old − π, e_a − π] for a = 0, 1, 2 (negative control: "
             "a parallel pair has rank 1)", ranks == [2, 2, 2], detail=f"ranks {ranks}")


def _cross_check(ev: Evidence) -> None:
    exact, exact_control, k3, k3_control, at_old = (ag.MaxErr() for _ in range(5))
    kinds = []
    with ag.single_thread():
        g = ag.generator(1005)
        for shift, b in op.batches(g, 32, (0.5, 0.0)):
            ratio = torch.exp(b.log_prob - b.log_prob_old)
            kl, kl_rev, extra = _kl_terms(b)
            d_o = updates.delta_o(b.log_prob, b.log_prob_old)
            sq = -ag.flat_grad(updates.upi_loss(ag.scale("sq"), b.log_prob, b.entropy, d_o, b.adv), b.params)
            reference = ag.flat_grad((ratio * b.adv - BETA * kl).mean(), b.params)
            if not shift:
                q = -ag.flat_grad(updates.upi_loss(ag.scale("q"), b.log_prob, b.entropy, d_o, b.adv), b.params)
                at_old.add(reference, q)
                continue
            kinds.append(b.kind)
            reversed_kl = ag.flat_grad((ratio * b.adv - BETA * kl_rev).mean(), b.params)
            derived = sq + BETA * ag.flat_grad(extra.mean(), b.params)
            exact.add(reference, derived)
            exact_control.add(reversed_kl, derived)
            k3_ref = ag.flat_grad((ratio * b.adv - BETA * ((ratio - 1) - torch.log(ratio))).mean(), b.params)
            r_fixed = ratio.detach()
            k3.add(k3_ref, sq - BETA * ag.flat_grad(((r_fixed - 1) * b.log_prob).mean(), b.params))
            k3_control.add(k3_ref, sq + BETA * ag.flat_grad(b.log_prob.mean(), b.params))
    inst = f"behaviour shifted by 0.5, 32 samples each, β = {BETA}: {'; '.join(kinds)}"
    ev.check("penalised gradient, exact KL", "autograd of mean_D[rÂ − βKL(π_old‖πθ)] vs −∇upi_loss(sq) + β·mean_D "
             "E_{u∼π_old}∇log πθ(u|s) (closed form: Jᵀ(π_old − π) for softmax logits; (μ_old − μ)/σ², "
             "(σ_old² + (μ_old − μ)²)/σ² − 1 for a Gaussian's μ, log σ)", inst, exact.error, 1e-12, exact.magnitude,
             control=Control("the reversed KL(πθ‖π_old)", exact_control.error))
    ev.check("penalised gradient, k3 estimate", "autograd of mean_D[rÂ − β((r − 1) − log r)] vs −∇upi_loss(sq) − "
             "β·mean_D (r − 1)∇log πθ", inst, k3.error, 1e-12, k3.magnitude,
             control=Control("k1's gradient −∇log πθ in place of (r − 1)∇log πθ", k3_control.error))
    ev.check("at θ = θ_old", "autograd of mean_D[rÂ − βKL(π_old‖πθ)] at π_old = πθ vs −∇upi_loss(q)",
             "the same policies with π_old = πθ, 32 samples each", at_old.error, 1e-12, at_old.magnitude)


def _kl_terms(b: op.Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per sample: KL(π_old‖πθ) and KL(πθ‖π_old) from their definitions, and a surrogate whose gradient is the
    derived extra term E_{u∼π_old}∇log πθ(u|s) (its closed form, coefficients detached)."""
    kl, kl_rev, extra = [], [], []
    for (o1, o2), (n1, n2) in zip(b.old, b.new, strict=True):
        if b.kind.startswith("softmax"):
            p, logits = o1, n1
            log_pi = torch.log_softmax(logits, -1)
            pi = log_pi.exp()
            kl.append((p * (torch.log(p) - log_pi)).sum())
            kl_rev.append((pi * (log_pi - torch.log(p))).sum())
            extra.append((logits * (p - pi).detach()).sum())
        else:
            m_old, s_old, mean, std = o1, o2, n1, n2
            kl.append((torch.log(std / s_old) + (s_old ** 2 + (m_old - mean) ** 2) / (2 * std ** 2) - 0.5).sum())
            kl_rev.append((torch.log(s_old / std) + (std ** 2 + (mean - m_old) ** 2) / (2 * s_old ** 2) - 0.5).sum())
            c_mean = ((m_old - mean) / std ** 2).detach()
            c_log_std = ((s_old ** 2 + (m_old - mean) ** 2) / std ** 2 - 1).detach()
            extra.append((mean * c_mean + torch.log(std) * c_log_std).sum())
    return torch.stack(kl), torch.stack(kl_rev), torch.stack(extra)


def _trainer_check(ev: Evidence) -> None:
    from agents.algos.onpolicy import kl_penalty
    from agents.ppo import ppo_loss
    from derivations.s001_a2c import ACT_DIM, MINIBATCH, OBS_DIM, s001_config, trainer_minibatch

    beta = 0.7   # any β > 0; the trainer starts at kl_beta_init = 1 and halves or doubles it

    def closed_form(m1: torch.Tensor, ls1: torch.Tensor, m2: torch.Tensor, ls2: torch.Tensor) -> torch.Tensor:
        """KL(N(m1, e^{2 ls1}) ‖ N(m2, e^{2 ls2})) per sample, summed over the action dimensions."""
        return (ls2 - ls1 + (torch.exp(2 * ls1) + (m1 - m2) ** 2) / (2 * torch.exp(2 * ls2)) - 0.5).sum(-1)

    with ag.single_thread():
        t = trainer_minibatch(1006)
        c = s001_config("ppo-kl")
        ratio = torch.exp(t.log_prob - t.mb.log_prob)
        surrogate = (ratio * t.mb.advantages).mean()
        kl = closed_form(t.mu_old, t.log_std_old, t.mean, t.log_std).mean()
        kl_rev = closed_form(t.mean, t.log_std, t.mu_old, t.log_std_old).mean()
        reference = ag.flat_grad(surrogate - beta * kl, t.actor)
        reversed_kl = ag.flat_grad(surrogate - beta * kl_rev, t.actor)
        penalty, _ = kl_penalty(beta, t.mu_old, t.log_std_old, t.policy.mean(t.mb.obs), t.policy.log_std)
        update = -ag.flat_grad(ppo_loss(t.policy, ag.scale("sq"), c, t.mb)[0] + penalty, t.actor)
        size = float(kl.detach())
    ev.check("through the trainer", f"−∇θ[agents.ppo.ppo_loss(sq) + agents.algos.onpolicy.kl_penalty(β = {beta})] — "
             "the loss of algo ppo-kl — vs autograd of mean_b[rÂ] − β mean_b KL(π_old‖πθ) (density, actor forward "
             "pass and the Gaussian KL's closed form written here)", f"float64 ActorCritic ({OBS_DIM} observations, "
             f"{ACT_DIM} actions, 64 × 64 tanh) off its behaviour, mean KL {size:.3f}, {MINIBATCH} samples",
             ag.max_abs(reference, update), 1e-12, float(reference.abs().max()),
             control=Control("the reversed KL(πθ‖π_old)", ag.max_abs(reversed_kl, update)))
