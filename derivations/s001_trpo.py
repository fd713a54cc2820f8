"""Seed 001 §4.3 and §4.6 Table 1, TRPO: the surrogate gradient ``g = (1/|D|) Σ_D Â∇θ (πθ(a|s)/π_old(a|s))`` is the
batch mean of the paper's Uπ(f_SQ) (eq. 34) with ``f_SQ(x, y) = eˣ y`` (pgcheck's ``sq``), ΔO = log πθ − log π_old
(eq. 25), ΔR = Â (α = 0 in eq. 29), β = 0 — at π = π_old (where f_SQ(0, y) = y: A2C's update, the gradient
TRPO's natural-gradient step starts from) and away from it (the line search's later iterates).

Symbolic: ∇θ(e^{ℓθ − ℓ_old})Â = e^{ℓθ − ℓ_old}Â∇θℓθ for ℓθ = log πθ(a|s) (sympy, chain rule with ℓ an
undetermined function of θ); pgcheck's registry sq = eˣy for every (x, y) (z3); f_SQ(0, y) = q(0, y) = y
(z3); the validator's verdict on sq. TRPO's KL constraint and conjugate-gradient step postprocess g (an
optimiser, not a scale) and are not part of this claim.

Cross-check: autograd of the batch mean of ``(πθ/π_old)Â`` against pgcheck's ``upi_loss(sq)``, Gaussian and
softmax policies, behaviour π_old ≠ πθ (negative control: the inverted ratio π_old/πθ) and π_old = πθ, where
it is also compared with ``upi_loss(q)`` (negative control: upi_loss(q) against the off-policy surrogate, which
must fail: f = y equals f_SQ only at ΔO = 0).

Through the trainer's code (:mod:`agents.algos.trpo`, the lane trainer's TRPO, seed 001 Algorithm 5): the g its
update builds — ``−∇`` of :func:`agents.algos.trpo.surrogate`'s loss with the checked scale ``sq`` — equals the
autograd gradient of mean_D (πθ/π_old)Â at θ_old (negative control: the inverted ratio π_old/πθ) and away from it
(negative control: the same code with the scale q, whose gradient differs there, where the line search evaluates
the surrogate), and the surrogate's value is mean_D (πθ/π_old)Â; its analytic KL̄
(:func:`agents.algos.trpo.gaussian_kl`) equals torch.distributions' KL(π_old ‖ πθ) of the Gaussians (negative
control: the reversed direction KL(πθ ‖ π_old)); its Fisher-vector products
(:func:`agents.algos.trpo.fisher_vector_product`, several lanes at once) equal the explicit Hessian of
torch.distributions' KL̄ at θ_old (by ``torch.autograd.functional.hessian``, per lane) times v plus λv (negative
control: the products without the damping term).
"""

from __future__ import annotations

import sympy
import torch

from derivations import autograd as ag
from derivations import logic
from derivations import onpolicy as op
from derivations.core import Control, Evidence
from pgcheck import updates
from pgcheck.expr import X, Y

ID = "s001-t1-trpo"
TITLE = "Seed 001 §4.6 Table 1: TRPO's surrogate gradient as Uπ(f_SQ = eˣy)"
REFERENCE = "seed 001 §4.3, Algorithm 5, §4.6 Table 1; paper eqs. (25), (29), (34)"
STATEMENT = ("(1/|D|)Σ_D Â∇θ(πθ(a|s)/π_old(a|s)) = mean_D Uπ(f_SQ), f_SQ(x, y) = eˣy (pgcheck sq), ΔO = log πθ − "
             "log π_old, ΔR = Â; at π = π_old it is Uπ(q) (A2C)")


def derive(ev: Evidence) -> None:
    theta, adv, l_old = sympy.symbols("theta A l_old", real=True)
    ell = sympy.Function("l")(theta)  # log πθ(a|s) as a function of one coordinate of θ
    ratio = sympy.exp(ell - l_old)
    grad = sympy.diff(ratio * adv, theta)
    ev.lemma("Table 1, TRPO", "∂θ[(πθ/π_old)Â] = (πθ/π_old)Â ∂θ log πθ(a|s) (chain rule, every coordinate of θ)",
             "sympy: derivative with log πθ an undetermined function of θ",
             logic.zero(grad - sympy.exp(ell - l_old) * adv * sympy.diff(ell, theta)))
    f_sq = logic.registry("sq")
    same = logic.prove(logic.eq(f_sq, sympy.exp(X) * Y))
    ev.lemma("Table 1, TRPO", "pgcheck's registry sq(x, y) = eˣy for every real x, y, so the coefficient "
             "(πθ/π_old)Â = e^{ΔO}ΔR is f_SQ(ΔO, ΔR) with ΔR = Â", same.method, same.proved)
    at_old = logic.prove(logic.eq(f_sq.subs(X, 0), logic.registry("q").subs(X, 0)))
    ev.lemma("at π = π_old", "f_SQ(0, y) = q(0, y) = y: at θ = θ_old TRPO's g is A2C's update Uπ(q)",
             at_old.method, at_old.proved)
    op.verdict_step(ev, "Assumption 5.1", "the scale used, f_SQ = eˣy", "sq", "VALID")
    ev.scope = ("every differentiable policy, every ΔO and Â (chain rule by sympy; registry sq = eˣy for all x, y "
                "by z3); TRPO's constraint and natural-gradient step are outside the claim (the trainer's KL̄ and "
                "Fisher-vector products are cross-checked)")
    ev.complete = True
    _cross_check(ev)
    _trainer_cross_check(ev)


def _cross_check(ev: Evidence) -> None:
    away, away_control = ag.MaxErr(), ag.MaxErr()
    at, at_q, q_off = ag.MaxErr(), ag.MaxErr(), ag.MaxErr()
    kinds = []
    with ag.single_thread():
        g = ag.generator(1003)
        for shift, b in op.batches(g, 24, (0.4, 0.0)):
            ratio = torch.exp(b.log_prob - b.log_prob_old)
            reference = ag.flat_grad((ratio * b.adv).mean(), b.params)
            d_o = updates.delta_o(b.log_prob, b.log_prob_old)
            sq = -ag.flat_grad(updates.upi_loss(ag.scale("sq"), b.log_prob, b.entropy, d_o, b.adv), b.params)
            q = -ag.flat_grad(updates.upi_loss(ag.scale("q"), b.log_prob, b.entropy, d_o, b.adv), b.params)
            if shift:
                inverted = ag.flat_grad((torch.exp(b.log_prob_old - b.log_prob) * b.adv).mean(), b.params)
                away.add(reference, sq)
                away_control.add(inverted, sq)
                q_off.add(reference, q)
                kinds.append(b.kind)
            else:
                at.add(reference, sq)
                at_q.add(reference, q)
    inst = f"behaviour π_old = πθ perturbed (shift 0.4), 24 samples each: {'; '.join(kinds)}"
    ev.check("Table 1, TRPO (π ≠ π_old)", "autograd of mean_D (πθ/π_old)Â vs pgcheck upi_loss(sq) with ΔO = delta_o",
             inst, away.error, 1e-12, away.magnitude,
             control=Control("the inverted ratio π_old/πθ", away_control.error))
    ev.check("Table 1, TRPO (π = π_old)", "autograd of mean_D (πθ/π_old)Â at π_old = πθ vs pgcheck upi_loss(sq)",
             "the same policies with π_old = πθ (ΔO = 0), 24 samples each", at.error, 1e-12, at.magnitude)
    ev.check("TRPO at π = π_old is A2C", "autograd of mean_D (πθ/π_old)Â at π_old = πθ vs pgcheck upi_loss(q)",
             "the same policies with π_old = πθ (ΔO = 0), 24 samples each", at_q.error, 1e-12, at_q.magnitude,
             control=Control("upi_loss(q) against the off-policy surrogate (π_old ≠ πθ)", q_off.error))


# ---------------------------------------------------------------------------------------------------
# the lane trainer's TRPO (agents.algos.trpo): its g, its KL̄ and its Fisher-vector products


LANES = 3
DAMPING = (0.1, 0.5, 0.02)


def _lane_policies(g: torch.Generator, n: int, act: int = 2, features: int = 3, hidden: int = 4
                   ) -> tuple[list[torch.Tensor], torch.Tensor]:
    """LANES independent Gaussian policies stacked along a lane axis, as the trainer stacks them: μ_l(s) =
    tanh(φ(s) W1_l + b1_l) W2_l + b2_l, a state-independent log σ_l; and the features φ of n states per lane."""
    shapes = [(features, hidden), (hidden,), (hidden, act), (act,), (act,)]
    params = [ag.randn(g, LANES, *sh, scale=0.6).requires_grad_(True) for sh in shapes]
    return params, ag.randn(g, LANES, n, features)


def _mean(params: list[torch.Tensor], phi: torch.Tensor) -> torch.Tensor:
    w1, b1, w2, b2, _ = params
    return torch.tanh(phi @ w1 + b1.unsqueeze(-2)) @ w2 + b2.unsqueeze(-2)


def _reference_kl(mu_old: torch.Tensor, log_std_old: torch.Tensor, mu: torch.Tensor,
                  log_std: torch.Tensor) -> torch.Tensor:
    """mean_s KL(π_old(·|s) ‖ πθ(·|s)) per lane by torch.distributions (not the trainer's formula)."""
    def normal(m: torch.Tensor, ls: torch.Tensor) -> torch.distributions.Normal:
        return torch.distributions.Normal(m, ls.exp().unsqueeze(-2).expand_as(m))

    return torch.distributions.kl_divergence(normal(mu_old, log_std_old), normal(mu, log_std)).sum(-1).mean(-1)


def _trainer_cross_check(ev: Evidence) -> None:
    from agents.algos import trpo

    grad_at, grad_away, value_err, q_away = ag.MaxErr(), ag.MaxErr(), ag.MaxErr(), ag.MaxErr()
    inverted_at = ag.MaxErr()
    kl_err, kl_reverse, fvp_err, fvp_undamped = ag.MaxErr(), ag.MaxErr(), ag.MaxErr(), ag.MaxErr()
    with ag.single_thread():
        g = ag.generator(1103)
        # g and J: trpo.surrogate on (lanes, samples) rows of the Gaussian and softmax batches
        for shift, b in op.batches(g, 24, (0.0, 0.4)):
            ratio = torch.exp(b.log_prob - b.log_prob_old)
            reference = ag.flat_grad((ratio * b.adv).mean(), b.params)
            loss, value = trpo.surrogate(ag.scale("sq"), b.log_prob.unsqueeze(0), b.entropy.unsqueeze(0),
                                         b.log_prob_old.unsqueeze(0), b.adv.unsqueeze(0), 0.0)
            ours = -ag.flat_grad(loss.sum(), b.params)
            (grad_away if shift else grad_at).add(reference, ours)
            if not shift:
                inverted = ag.flat_grad((torch.exp(b.log_prob_old - b.log_prob) * b.adv).mean(), b.params)
                inverted_at.add(inverted, ours)
            value_err.add((ratio * b.adv).mean().detach().reshape(1), value)
            if shift:
                q_loss, _ = trpo.surrogate(ag.scale("q"), b.log_prob.unsqueeze(0), b.entropy.unsqueeze(0),
                                           b.log_prob_old.unsqueeze(0), b.adv.unsqueeze(0), 0.0)
                q_away.add(reference, -ag.flat_grad(q_loss.sum(), b.params))
        # KL̄ and the Fisher-vector products on stacked lanes
        for n in (8, 24):
            params, phi = _lane_policies(g, n)
            mu = _mean(params, phi)
            mu_old, log_std_old = mu.detach(), params[4].detach()
            moved = mu_old + ag.randn(g, *mu.shape, scale=0.3)
            log_std_moved = log_std_old + ag.randn(g, *log_std_old.shape, scale=0.2)
            ours_kl = trpo.gaussian_kl(mu_old, log_std_old, moved, log_std_moved)
            kl_err.add(_reference_kl(mu_old, log_std_old, moved, log_std_moved), ours_kl)
            kl_reverse.add(_reference_kl(moved, log_std_moved, mu_old, log_std_old), ours_kl)
            damping = torch.tensor(DAMPING, dtype=ag.DTYPE)
            kl = trpo.gaussian_kl(mu_old, log_std_old, mu, params[4])
            v = ag.randn(g, LANES, sum(p[0].numel() for p in params))
            products = trpo.fisher_vector_product(kl, params, damping)(v)
            undamped = trpo.fisher_vector_product(kl, params, torch.zeros(LANES, dtype=ag.DTYPE))(v)
            for lane in range(LANES):
                hessian = _explicit_fisher(params, phi, lane)
                expected = hessian @ v[lane] + DAMPING[lane] * v[lane]
                fvp_err.add(expected, products[lane])
                fvp_undamped.add(expected, undamped[lane])
    ev.check("trainer's g at θ_old (agents.algos.trpo)", "−∇ of trpo.surrogate's loss (scale sq) vs autograd of "
             "mean_D (πθ/π_old)Â at π_old = πθ", "a Gaussian and a softmax batch, 24 samples each, ΔO = 0",
             grad_at.error, 1e-12, grad_at.magnitude,
             control=Control("the inverted ratio π_old/πθ at θ_old", inverted_at.error))
    ev.check("trainer's surrogate away from θ_old (the line search)", "−∇ of trpo.surrogate's loss (scale sq) vs "
             "autograd of mean_D (πθ/π_old)Â", "the same policies with π_old perturbed (shift 0.4), 24 samples each",
             grad_away.error, 1e-12, grad_away.magnitude,
             control=Control("trpo.surrogate with the scale q (f = y) away from θ_old", q_away.error))
    ev.check("trainer's surrogate value", "trpo.surrogate's value vs mean_D (πθ/π_old)Â",
             "the same batches, at and away from θ_old", value_err.error, 1e-12, value_err.magnitude)
    ev.check("trainer's analytic KL̄", "trpo.gaussian_kl vs torch.distributions mean_s KL(π_old ‖ πθ)",
             f"{LANES} stacked tanh-MLP Gaussian policies (2-d actions), 8 and 24 states, mean and log σ moved",
             kl_err.error, 1e-12, kl_err.magnitude,
             control=Control("the reversed direction KL(πθ ‖ π_old)", kl_reverse.error))
    ev.check("trainer's Fisher-vector products", "trpo.fisher_vector_product (all lanes in one double-backward) "
             "vs (explicit Hessian of torch.distributions' KL̄ at θ_old, per lane) v + λv",
             f"{LANES} stacked tanh-MLP Gaussian policies, damping λ = {', '.join(map(str, DAMPING))}, 8 and 24 "
             "states, random v", fvp_err.error, 1e-12, fvp_err.magnitude,
             control=Control("the products without the damping term λv", fvp_undamped.error))


def _explicit_fisher(params: list[torch.Tensor], phi: torch.Tensor, lane: int) -> torch.Tensor:
    """The Hessian of lane ``lane``'s mean_s KL(π_old ‖ πθ) (torch.distributions) w.r.t. its parameters at
    θ_old, by torch.autograd.functional.hessian on its flat parameter vector."""
    shapes = [p.shape[1:] for p in params]
    theta = torch.cat([p[lane].detach().reshape(-1) for p in params])
    mu_old = _mean(params, phi)[lane:lane + 1].detach()
    log_std_old = params[4][lane:lane + 1].detach()

    def kl_of(flat: torch.Tensor) -> torch.Tensor:
        parts, k = [], 0
        for sh in shapes:
            size = int(torch.Size(sh).numel())
            parts.append(flat[k:k + size].reshape(1, *sh))
            k += size
        return _reference_kl(mu_old, log_std_old, _mean(parts, phi[lane:lane + 1]), parts[4]).sum()

    hessian = torch.autograd.functional.hessian(kl_of, theta)  # type: ignore[no-untyped-call]
    assert isinstance(hessian, torch.Tensor)
    return hessian
