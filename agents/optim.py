"""Adam and global-norm gradient clipping on one flat parameter tensor (see
:func:`agents.policy.flatten_parameters`).

The arithmetic is PyTorch's ``torch.optim.Adam`` (no weight decay, no amsgrad)::

    m ← β1 m + (1 − β1) g          v ← β2 v + (1 − β2) g²
    θ ← θ − lr/(1 − β1ᵗ) · m / (sqrt(v)/sqrt(1 − β2ᵗ) + eps)

written as five in-place tensor operations: for a 64-unit actor-critic the generic optimiser's
per-call bookkeeping costs more than the update itself (measured: ~110 µs against ~65 µs per step, and
~110 µs against ~35 µs for ``clip_grad_norm_``). ``tests/test_ppo.py`` checks it against
``torch.optim.Adam`` step by step.
"""

from __future__ import annotations

import math
from typing import Any

import torch


class FlatAdam:
    """Adam for a single tensor ``param`` whose gradient is ``grad`` (a tensor of the same shape)."""

    def __init__(self, param: torch.Tensor, grad: torch.Tensor, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.param, self.grad = param, grad
        self.lr, self.betas, self.eps = lr, betas, eps
        self.step_count = 0
        self.exp_avg = torch.zeros_like(param, memory_format=torch.preserve_format)
        self.exp_avg_sq = torch.zeros_like(param, memory_format=torch.preserve_format)

    @torch.no_grad()
    def step(self) -> None:
        b1, b2 = self.betas
        self.step_count += 1
        g = self.grad
        self.exp_avg.lerp_(g, 1.0 - b1)
        self.exp_avg_sq.mul_(b2).addcmul_(g, g, value=1.0 - b2)
        bias1 = 1.0 - b1 ** self.step_count
        bias2 = 1.0 - b2 ** self.step_count
        denom = (self.exp_avg_sq.sqrt() / math.sqrt(bias2)).add_(self.eps)
        self.param.addcdiv_(self.exp_avg, denom, value=-self.lr / bias1)

    def state_dict(self) -> dict[str, Any]:
        return {"lr": self.lr, "betas": self.betas, "eps": self.eps, "step": self.step_count,
                "exp_avg": self.exp_avg.clone(), "exp_avg_sq": self.exp_avg_sq.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.lr, self.eps = float(state["lr"]), float(state["eps"])
        self.betas = (float(state["betas"][0]), float(state["betas"][1]))
        self.step_count = int(state["step"])
        self.exp_avg.copy_(state["exp_avg"])
        self.exp_avg_sq.copy_(state["exp_avg_sq"])


@torch.no_grad()
def clip_grad_norm(grad: torch.Tensor, max_norm: float) -> torch.Tensor:
    """Scale ``grad`` in place so its 2-norm is at most ``max_norm``; return the norm before clipping
    (``torch.nn.utils.clip_grad_norm_``'s rule: coefficient ``min(1, max_norm / (norm + 1e-6))``)."""
    norm: torch.Tensor = torch.linalg.vector_norm(grad)
    grad.mul_(torch.clamp(max_norm / (norm + 1e-6), max=1.0))
    return norm
