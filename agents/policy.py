"""The actor-critic: separate tanh MLPs, orthogonal initialisation, a state-independent log-std.

The policy is a diagonal Gaussian ``π_θ(a|s) = N(a; μ_θ(s), diag(exp(2 log σ)))`` whose ``log σ`` is a
free parameter vector (it does not depend on s), so its entropy ``H(π(·|s)) = Σ_i (log σ_i + ½ log 2πe)``
is the same in every state. Log-densities are written out rather than built with
``torch.distributions`` (same values, a fraction of the overhead on small batches).

For acting, :meth:`ActorCritic.numpy_actor` snapshots the actor's weights into numpy: during a rollout
the weights do not change, and a numpy forward pass of a 64-unit MLP on one observation costs a few
microseconds where a torch call costs tens. Values and behaviour log-probabilities of the rollout are
computed afterwards in one batched torch pass with the same parameters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

LOG_2PI = math.log(2.0 * math.pi)


def _layer(n_in: int, n_out: int, gain: float) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


def mlp(n_in: int, hidden: Sequence[int], n_out: int, out_gain: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    last = n_in
    for h in hidden:
        layers += [_layer(last, h, math.sqrt(2.0)), nn.Tanh()]
        last = h
    layers.append(_layer(last, n_out, out_gain))
    return nn.Sequential(*layers)


class ActorCritic(nn.Module):
    """Actor MLP (mean, output gain 0.01), critic MLP (value, gain 1) and a log-std vector."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int] = (64, 64),
                 log_std_init: float = 0.0) -> None:
        super().__init__()
        self.actor = mlp(obs_dim, hidden, act_dim, 0.01)
        self.critic = mlp(obs_dim, hidden, 1, 1.0)
        self.log_std = nn.Parameter(torch.full((act_dim,), float(log_std_init)))

        self._actor_layers = [m for m in self.actor if isinstance(m, nn.Linear)]
        self._critic_layers = [m for m in self.critic if isinstance(m, nn.Linear)]

    @staticmethod
    def _forward(layers: list[nn.Linear], x: torch.Tensor) -> torch.Tensor:
        # the Sequential's computation without nn.Module call overhead (tens of µs per minibatch)
        last = len(layers) - 1
        for i, layer in enumerate(layers):
            x = torch.addmm(layer.bias, x, layer.weight.t())
            if i < last:
                x = torch.tanh(x)
        return x

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self._forward(self._critic_layers, obs).squeeze(-1)

    def mean(self, obs: torch.Tensor) -> torch.Tensor:
        return self._forward(self._actor_layers, obs)

    def log_prob_entropy(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``log π_θ(a|s)`` and ``H(π_θ(·|s))`` per sample, both differentiable."""
        mu = self.mean(obs)
        log_std = self.log_std
        z = (actions - mu) * torch.exp(-log_std)
        log_prob = -0.5 * (z * z).sum(-1) - log_std.sum() - 0.5 * LOG_2PI * mu.shape[-1]
        entropy = (log_std.sum() + 0.5 * (1.0 + LOG_2PI) * mu.shape[-1]).expand(mu.shape[0])
        return log_prob, entropy

    def numpy_actor(self) -> NumpyActor:
        linears = [m for m in self.actor if isinstance(m, nn.Linear)]
        return NumpyActor([lin.weight.detach().cpu().numpy().T.copy() for lin in linears],
                          [lin.bias.detach().cpu().numpy().copy() for lin in linears],
                          self.log_std.detach().cpu().numpy().copy())


class NumpyActor:
    """A frozen copy of the actor for acting: ``mean(obs)`` on a (n, obs_dim) float32 batch."""

    def __init__(self, weights: list[np.ndarray], biases: list[np.ndarray], log_std: np.ndarray) -> None:
        self.weights = weights
        self.biases = biases
        self.std = np.exp(log_std).astype(np.float32)

    def mean(self, obs: np.ndarray) -> np.ndarray:
        h = obs
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w + b
            if i < last:
                np.tanh(h, out=h)
        return h


def flatten_parameters(module: nn.Module) -> tuple[nn.Parameter, torch.Tensor]:
    """Make every parameter of ``module`` (and its gradient) a view into one flat tensor.

    Returns the flat parameter and its flat gradient. Adam and the global-norm gradient clip are
    elementwise or global, so running them on the flat tensor is the same arithmetic as on the 13
    separate tensors, with a fraction of the per-tensor Python overhead (which dominates for 64-unit
    MLPs on a CPU). Autograd accumulates into the preset ``.grad`` views in place; zero them with
    ``grad.zero_()`` (never ``set_to_none``, which would detach the views).
    """
    params = list(module.parameters())
    flat = nn.Parameter(torch.cat([p.detach().reshape(-1) for p in params]))
    grad = torch.zeros_like(flat)
    offset = 0
    for p in params:
        k = p.numel()
        p.data = flat.data[offset:offset + k].view_as(p)
        p.grad = grad[offset:offset + k].view_as(p)
        offset += k
    flat.grad = grad
    return flat, grad
