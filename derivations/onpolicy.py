"""Shared pieces of the on-policy claims of seed 001 (Lehmann, "The Definitive Guide to Policy Gradients in
Deep RL", §4.1–§4.6, Table 1): batches of samples from a policy and its behaviour policy, scale functions
written as expressions, and the validator's verdict as a step.

Two policies are used: a diagonal *Gaussian* policy (continuous actions; linear mean on fixed state features,
learned log σ) and a *softmax MLP* over a finite action set (:func:`derivations.autograd.mlp`). A batch holds
the differentiable ``log πθ(a|s)``, the behaviour's ``log π_old(a|s)`` (detached), the entropy
``H(πθ(·|s))`` and advantages; the behaviour is πθ itself (``shift = 0``: ΔO = 0, on-policy) or a perturbed
copy (ΔO ≠ 0: later epochs of TRPO/PPO, eq. 25). Reference sides compute everything here from definitions;
pgcheck's code (``pgcheck.updates``, ``pgcheck.check``) enters only on the side under test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from derivations import autograd as ag
from derivations import logic
from derivations.core import Evidence
from pgcheck import check
from pgcheck.certificate import CheckedScale

_EXPRESSIONS: dict[tuple[str, tuple[tuple[str, str], ...]], CheckedScale] = {}


def expression_scale(text: str, **params: str) -> CheckedScale:
    """``checked_scale(text)`` for a scale written as an expression (validated, never from the cache)."""
    key = (text, tuple(sorted(params.items())))
    if key not in _EXPRESSIONS:
        _EXPRESSIONS[key] = check.checked_scale(text, params, check.Options(use_cache=False))
    return _EXPRESSIONS[key]


def verdict_step(ev: Evidence, ref: str, what: str, text: str, expected: str, params: dict[str, str] | None = None,
                 printed: bool = False) -> bool:
    """Run pgcheck's validator on ``text`` and record a step that holds when its overall verdict is ``expected``."""
    cert = logic.validate(text, params)
    props = "; ".join(f"{p.prop}: {p.verdict}" for p in cert.properties)
    shown = ", ".join(f"{k} = {v}" for k, v in sorted((params or {}).items()))
    statement = f"{what}: pgcheck validate '{text}'" + (f" ({shown})" if shown else "") + f" is {expected}"
    return ev.step(ref, statement, f"pgcheck validate: {props}", cert.overall == expected, printed=printed,
                   detail=f"overall {cert.overall}")


@dataclass
class Batch:
    """One batch of samples: log-probabilities (πθ differentiable, π_old detached), entropies, advantages."""

    params: list[torch.Tensor]
    log_prob: torch.Tensor
    log_prob_old: torch.Tensor
    entropy: torch.Tensor
    adv: torch.Tensor
    # per sample: the old policy's parameters of the action distribution (Gaussian: mean, std; softmax: probs)
    old: list[tuple[torch.Tensor, torch.Tensor]]
    # per sample: the current policy's (mean, std) or (logits, unused)
    new: list[tuple[torch.Tensor, torch.Tensor]]
    kind: str


def gaussian_batch(g: torch.Generator, n: int, shift: float, n_states: int = 6, dim: int = 2) -> Batch:
    """``n`` samples a ∼ π_old of a diagonal Gaussian policy; π_old = πθ moved by ``shift`` (0: on-policy)."""
    phi = ag.randn(g, n_states, 3)
    w = ag.randn(g, 3, dim, scale=0.7).requires_grad_(True)
    b = ag.randn(g, dim, scale=0.3).requires_grad_(True)
    log_std = ag.randn(g, dim, scale=0.2).requires_grad_(True)
    lp, lpo, ent, old, new = [], [], [], [], []
    for i in range(n):
        s = i % n_states
        mean = phi[s] @ w + b
        std = log_std.exp()
        o_mean = mean.detach() + ag.randn(g, dim, scale=shift)
        o_std = std.detach() * ag.randn(g, dim, scale=shift / 2).exp()
        action = o_mean + o_std * ag.randn(g, dim)
        lp.append(ag.gaussian_log_prob(mean, std, action))
        lpo.append(ag.gaussian_log_prob(o_mean, o_std, action))
        ent.append(ag.gaussian_entropy(std))
        old.append((o_mean, o_std))
        new.append((mean, std))
    adv = ag.randn(g, n)
    return Batch([w, b, log_std], torch.cat(lp), torch.cat(lpo).detach(), torch.cat(ent), adv, old, new,
                 f"Gaussian policy (2-d actions, linear mean on 3 state features, learned log σ), {n} samples "
                 f"over {n_states} states")


def softmax_batch(g: torch.Generator, n: int, shift: float, n_states: int = 6, n_actions: int = 4) -> Batch:
    """``n`` samples a ∼ π_old of a softmax MLP policy; π_old = softmax(logits + shift·noise) (0: on-policy)."""
    model = ag.mlp(g, n_states, n_actions)
    states = ag.index(*[i % n_states for i in range(n)])
    logits = model(states)
    old_probs = torch.softmax(logits.detach() + ag.randn(g, n, n_actions, scale=shift), -1)
    a = torch.multinomial(old_probs, 1, generator=g).squeeze(-1)
    log_prob = torch.log_softmax(logits, -1).gather(-1, a[:, None]).squeeze(-1)
    log_prob_old = torch.log(old_probs.gather(-1, a[:, None]).squeeze(-1))
    old = [(old_probs[i], old_probs[i]) for i in range(n)]
    new = [(logits[i], logits[i]) for i in range(n)]
    return Batch(model.params, log_prob, log_prob_old, ag.entropy(logits), ag.randn(g, n), old, new,
                 f"softmax MLP policy (3-6-{n_actions}, tanh) over {n_states} states, {n} samples")


def batches(g: torch.Generator, n: int, shifts: tuple[float, ...]) -> Iterator[tuple[float, Batch]]:
    """A Gaussian and a softmax batch of ``n`` samples for each behaviour shift, with the shift."""
    for make in (gaussian_batch, softmax_batch):
        for shift in shifts:
            yield shift, make(g, n, shift)


def discounted_returns(rewards: list[float], gamma: float) -> list[float]:
    """G_t = Σ_{k≥0} γ^k r_{t+k+1} for t = 0 … T−1 (rewards r_1 … r_T of one episode), by a forward sum."""
    n = len(rewards)
    return [sum(gamma ** k * rewards[t + k] for k in range(n - t)) for t in range(n)]
