"""The four update forms of the paper (eqs. 31-34) as torch surrogate losses.

Each function returns a scalar *loss* whose autograd gradient is **minus** the batch mean of the
update, so ``loss.backward(); optimizer.step()`` with plain SGD moves θ along the update. The scale
enters only as a :class:`~pgcheck.certificate.CheckedScale` and as a per-sample coefficient:
``f(ΔO, ΔR)`` is evaluated on detached signals and carries no gradient (eqs. 31-34 multiply the
gradient by the value of f).

Discrete forms take logits ``q`` of shape (B, A) (the model ``q_θ(s, ·)``, whose softmax is π_θ) and
actions of shape (B,):

* ``UQ(f) = f ∇q(s,a)``                                             (eq. 31)
* ``UV(f) = f (∇q(s,a) − E_{u∼π}[∇q(s,u)])``                         (eq. 32)
* ``UP(f) = UV(f) + ∇ E_{u∼π_θ}[q̂(s,u)]``                           (eq. 33)

and for any policy (continuous actions too) from log-probabilities and entropies of shape (B,):

* ``Uπ(f) = f ∇log π_θ(a|s) + β ∇H(π_θ(·|s))``                        (eq. 34)
"""

from __future__ import annotations

import torch

from pgcheck.certificate import CheckedScale


def _require_checked(scale: object) -> CheckedScale:
    if not isinstance(scale, CheckedScale):
        raise TypeError("updates accept only a CheckedScale (from pgcheck.check.checked_scale); "
                        f"got {type(scale).__name__}")
    return scale


def scale_weights(scale: CheckedScale, delta_o: torch.Tensor, delta_r: torch.Tensor) -> torch.Tensor:
    """``f(ΔO, ΔR)`` per sample, detached (the coefficient of every form)."""
    return _require_checked(scale).torch(delta_o.detach(), delta_r.detach())


def delta_o(log_prob: torch.Tensor, behaviour_log_prob: torch.Tensor) -> torch.Tensor:
    """ΔO = log π_θ(a|s) − log π_b(a|s) (eq. 25), detached."""
    return (log_prob - behaviour_log_prob).detach()


def delta_r_q(target: torch.Tensor, q_sa: torch.Tensor) -> torch.Tensor:
    """ΔR = T̂(s,a) − q_θ(s,a) (eq. 14), detached."""
    return (target - q_sa).detach()


def delta_r_pi(advantage: torch.Tensor, log_prob: torch.Tensor, entropy: torch.Tensor,
               alpha: float) -> torch.Tensor:
    """ΔR = Â − α (log π(a|s) + H(π(·|s))) for a direct policy (eq. 29), detached."""
    return (advantage - alpha * (log_prob + entropy)).detach()


def _taken(q: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    return q.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)


def uq_loss(scale: CheckedScale, q: torch.Tensor, actions: torch.Tensor,
            delta_o: torch.Tensor, delta_r: torch.Tensor) -> torch.Tensor:
    """Loss whose gradient is −mean_b f ∇q(s_b, a_b) (UQ, eq. 31)."""
    w = scale_weights(scale, delta_o, delta_r)
    return -(w * _taken(q, actions)).mean()


def uv_loss(scale: CheckedScale, q: torch.Tensor, actions: torch.Tensor,
            delta_o: torch.Tensor, delta_r: torch.Tensor) -> torch.Tensor:
    """Loss whose gradient is −mean_b f (∇q(s,a) − E_{u∼π}[∇q(s,u)]) (UV, eq. 32).

    The expectation's weights π(u|s) are held fixed: only ∇q is differentiated.
    """
    w = scale_weights(scale, delta_o, delta_r)
    pi = torch.softmax(q, dim=-1).detach()
    centred = _taken(q, actions) - (pi * q).sum(-1)
    return -(w * centred).mean()


def up_loss(scale: CheckedScale, q: torch.Tensor, actions: torch.Tensor,
            delta_o: torch.Tensor, delta_r: torch.Tensor) -> torch.Tensor:
    """Loss whose gradient is −mean_b [UV(f) + ∇ E_{u∼π_θ}[q̂(s,u)]] (UP, eq. 33).

    In the last term the policy π_θ is differentiated and the values q̂ are not; by Theorem 3.5 it
    equals −∇H(π_θ), which is what turns UV(y) into the PGPB gradient.
    """
    pi = torch.softmax(q, dim=-1)
    baseline = (pi * q.detach()).sum(-1)
    return uv_loss(scale, q, actions, delta_o, delta_r) - baseline.mean()


def upi_loss(scale: CheckedScale, log_prob: torch.Tensor, entropy: torch.Tensor,
             delta_o: torch.Tensor, delta_r: torch.Tensor, beta: float = 0.0) -> torch.Tensor:
    """Loss whose gradient is −mean_b [f ∇log π_θ(a|s) + β ∇H(π_θ(·|s))] (Uπ, eq. 34).

    With ``scale = ppo(ε)``, ΔO = log ρ and ΔR = Â this is the gradient of PPO's clipped surrogate
    (Theorem 4.3) away from its measure-zero kinks. The mean is over the last axis, so (G, B) inputs (G
    independent batches, e.g. lanes of :mod:`agents.lanes`) give G losses.
    """
    w = scale_weights(scale, delta_o, delta_r)
    return -(w * log_prob).mean(-1) - beta * entropy.mean(-1)
