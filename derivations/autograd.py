"""Random float64 instances for the autograd cross-checks, and pgcheck's own updates as gradients.

Two discrete models ``q_θ(s, ·)`` (the paper's state-action models, secs. 2-3) are used throughout: *tabular*
logits (θ is the |S|×|A| table itself) and a small *MLP* on fixed random state features (two layers, tanh).
Every update is obtained from pgcheck's code — a loss of :mod:`pgcheck.updates` with a scale from
:func:`pgcheck.check.checked_scale` — and differentiated with ``torch.autograd``; the other side of an
identity is computed independently from its mathematical definition. Seeds are fixed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from pgcheck import check, scales
from pgcheck.certificate import CheckedScale

DTYPE = torch.float64
SEED = 20220717  # fixed: certificates must not change from run to run

_SCALES: dict[tuple[str, str, tuple[tuple[str, str], ...]], CheckedScale] = {}


def scale(name: str, **params: str) -> CheckedScale:
    """``checked_scale(name)`` (validated, never from the user's cache), memoised on its definition."""
    d = scales.get(name)
    key = (name, d.source + repr(d.defaults), tuple(sorted(params.items())))
    if key not in _SCALES:
        _SCALES[key] = check.checked_scale(name, params, check.Options(use_cache=False))
    return _SCALES[key]


def generator(offset: int = 0) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(SEED + offset)
    return g


def randn(g: torch.Generator, *shape: int, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(*shape, generator=g, dtype=DTYPE)


@contextmanager
def single_thread() -> Iterator[None]:
    """One torch thread while a derivation runs (small tensors; reproducible and polite on 2 cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class QModel:
    """A model ``q_θ(s, ·)`` of action logits: tabular or a small MLP."""

    name: str
    params: list[torch.Tensor]
    forward: Callable[[torch.Tensor], torch.Tensor]

    def __call__(self, states: torch.Tensor) -> torch.Tensor:
        return self.forward(states)


def tabular(g: torch.Generator, n_states: int, n_actions: int) -> QModel:
    theta = randn(g, n_states, n_actions).requires_grad_(True)
    return QModel("tabular logits", [theta], lambda s: theta[s])


def mlp(g: torch.Generator, n_states: int, n_actions: int, hidden: int = 6, features: int = 3) -> QModel:
    phi = randn(g, n_states, features)
    w1 = randn(g, features, hidden, scale=0.8).requires_grad_(True)
    b1 = randn(g, hidden, scale=0.3).requires_grad_(True)
    w2 = randn(g, hidden, n_actions, scale=0.8).requires_grad_(True)
    b2 = randn(g, n_actions, scale=0.3).requires_grad_(True)

    def forward(s: torch.Tensor) -> torch.Tensor:
        return torch.tanh(phi[s] @ w1 + b1) @ w2 + b2

    return QModel("MLP q_θ(s,a) (3-6-|A|, tanh)", [w1, b1, w2, b2], forward)


def models(offset: int, n_states: int, n_actions: int) -> list[QModel]:
    g = generator(offset)
    return [tabular(g, n_states, n_actions), mlp(g, n_states, n_actions)]


def flat_grad(out: torch.Tensor, params: Sequence[torch.Tensor]) -> torch.Tensor:
    """∇θ out as one flat vector (zeros for parameters ``out`` does not depend on)."""
    grads = torch.autograd.grad(out, list(params), retain_graph=True, allow_unused=True)
    return torch.cat([(torch.zeros_like(p) if gr is None else gr).reshape(-1)
                      for gr, p in zip(grads, params, strict=True)])


def index(*values: int) -> torch.Tensor:
    return torch.tensor(list(values), dtype=torch.long)


def scalar(v: float | torch.Tensor) -> torch.Tensor:
    """A batch of one value (shape (1,)), detached."""
    if isinstance(v, torch.Tensor):
        return v.detach().reshape(1).to(DTYPE)
    return torch.tensor([float(v)], dtype=DTYPE)


def max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


def gaussian_log_prob(mean: torch.Tensor, std: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """log N(action; mean, diag(std²)), summed over the action dimensions, shape (1,)."""
    z = (action - mean) / std
    return (-0.5 * z ** 2 - torch.log(std) - 0.5 * math.log(2 * math.pi)).sum().reshape(1)


def gaussian_entropy(std: torch.Tensor) -> torch.Tensor:
    """H(N(·, diag(std²))) = Σ_d (½ log(2πe) + log std_d), shape (1,)."""
    return (0.5 * math.log(2 * math.pi * math.e) + torch.log(std)).sum().reshape(1)


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """H(softmax(logits)) along the last axis, computed from its definition −Σ π log π."""
    logp = torch.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(-1)


class MaxErr:
    """Running maximum of absolute errors and of magnitudes (the size of what was compared)."""

    def __init__(self) -> None:
        self.error = 0.0
        self.magnitude = 0.0
        self.count = 0

    def add(self, a: torch.Tensor, b: torch.Tensor) -> None:
        self.error = max(self.error, max_abs(a, b))
        self.magnitude = max(self.magnitude, float(a.abs().max()), float(b.abs().max()))
        self.count += 1


# ---------------------------------------------------------------------------------------------------
# one sample (s, a): pgcheck's updates and the independent reference gradients


@dataclass
class Reference:
    """Independent autograd gradients at one (s, a) for a discrete model (no pgcheck code involved)."""

    grad_q: torch.Tensor        # ∇θ q(s, a)
    grad_log_pi: torch.Tensor   # ∇θ log π(a|s)
    grad_entropy: torch.Tensor  # ∇θ H(π(·|s))
    mean_grad_q: torch.Tensor   # Σ_u π(u|s) ∇θ q(s, u)          (π held fixed)
    grad_baseline: torch.Tensor  # ∇θ E_{u∼πθ}[q̂(s, u)]          (q̂ held fixed)


def reference(model: QModel, s: int, a: int) -> Reference:
    logits = model(index(s))[0]
    pi = torch.softmax(logits, -1)
    return Reference(
        grad_q=flat_grad(logits[a], model.params),
        grad_log_pi=flat_grad(torch.log_softmax(logits, -1)[a], model.params),
        grad_entropy=flat_grad(entropy(logits), model.params),
        mean_grad_q=flat_grad((pi.detach() * logits).sum(), model.params),
        grad_baseline=flat_grad((pi * logits.detach()).sum(), model.params),
    )


def pgcheck_update(form: str, model: QModel, s: int, a: int, delta_o: float | torch.Tensor,
                   delta_r: float | torch.Tensor, f: CheckedScale) -> torch.Tensor:
    """The update of pgcheck's form ``uq``/``uv``/``up`` (eqs. 31–33) at one sample: −∇θ loss."""
    from pgcheck import updates

    loss_fn = {"uq": updates.uq_loss, "uv": updates.uv_loss, "up": updates.up_loss}[form]
    logits = model(index(s))
    loss = loss_fn(f, logits, index(a), scalar(delta_o), scalar(delta_r))
    return -flat_grad(loss, model.params)
