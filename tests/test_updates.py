"""pgcheck.updates: each surrogate's autograd gradient equals its update form, sample by sample.

The closed forms below are written out by hand from the paper's sec. 5, eqs. 31-34, with the scale
functions re-typed as plain numpy formulas, so that neither the form nor the scale is taken from the
code under test. Everything is float64; shapes and values come from hypothesis.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pgcheck import updates
from pgcheck.certificate import CheckedScale
from pgcheck.check import checked_scale


def _mla(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # eq. 35, written independently of the registry's text
    return np.where((y <= -(1 + x)) & (-(1 + x) <= 0), -((1 + x) ** 2) / 2, y * np.maximum(1 + x + y / 2, 0))


# name, params, the same function typed out by hand
SCALES: list[tuple[str, dict[str, str], Callable[[np.ndarray, np.ndarray], np.ndarray]]] = [
    ("q", {}, lambda x, y: y),
    ("sq", {}, lambda x, y: np.exp(x) * y),
    ("ml", {}, lambda x, y: np.exp(x) * (np.exp(y) - 1)),
    ("sil", {}, lambda x, y: np.exp(x) * np.maximum(y, 0)),
    ("mla", {}, _mla),
    ("mla_param", {"ao": "0.3", "ar": "0.7"},
     lambda x, y: y * np.maximum(1 + 0.3 * x + 0.7 * y, np.maximum(1 + 0.3 * x, 0) / 2)),
    ("huber", {"delta": "0.5"}, lambda x, y: np.clip(y, -0.5, 0.5)),
]
_CHECKED: dict[int, CheckedScale] = {}


def scale(i: int) -> tuple[CheckedScale, Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    if i not in _CHECKED:
        name, params, _ = SCALES[i]
        _CHECKED[i] = checked_scale(name, params)
    return _CHECKED[i], SCALES[i][2]


finite = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False)


@st.composite
def discrete_batches(draw: st.DrawFn) -> dict[str, np.ndarray]:
    """Logits (B, A), actions, ΔO and ΔR away from the kinks of the piecewise scales."""
    B = draw(st.integers(1, 6))
    A = draw(st.integers(2, 6))
    q = draw(arrays(np.float64, (B, A), elements=finite))
    a = draw(arrays(np.int64, (B,), elements=st.integers(0, A - 1)))
    d_o = draw(arrays(np.float64, (B,), elements=finite))
    d_r = draw(arrays(np.float64, (B,), elements=finite))
    return {"q": q, "a": a, "d_o": d_o, "d_r": d_r}


def _kink_free(d_o: np.ndarray, d_r: np.ndarray) -> bool:
    # The piecewise scales switch branch at y = 0, y = ±0.5, y = -(1+x) and where a max() ties; the
    # forms are linear in f, so a value exactly on a switch is not a test of the form.
    for x, y in zip(d_o, d_r, strict=True):
        for g in (y, y - 0.5, y + 0.5, 1 + x + y, 1 + x, 1 + x + y / 2, 1 + 0.3 * x, 0.5 + 0.3 * x / 2 + 0.7 * y):
            if abs(g) < 1e-6:
                return False
    return True


def _grads(loss_fn: Callable[..., torch.Tensor], sc: CheckedScale, batch: dict[str, np.ndarray]) -> np.ndarray:
    q = torch.tensor(batch["q"], requires_grad=True)
    loss = loss_fn(sc, q, torch.tensor(batch["a"]), torch.tensor(batch["d_o"]), torch.tensor(batch["d_r"]))
    (g,) = torch.autograd.grad(loss, q)
    return g.numpy()


def _softmax(q: np.ndarray) -> np.ndarray:
    e = np.exp(q - q.max(-1, keepdims=True))
    out: np.ndarray = e / e.sum(-1, keepdims=True)
    return out


@settings(max_examples=60)
@given(discrete_batches(), st.integers(0, len(SCALES) - 1))
def test_discrete_forms_per_sample(batch: dict[str, np.ndarray], i: int) -> None:
    """With one logit row per sample as the parameters, row b of −∇loss is (1/B) × sample b's update."""
    assume(_kink_free(batch["d_o"], batch["d_r"]))
    sc, f_np = scale(i)
    q, a = batch["q"], batch["a"]
    B, A = q.shape
    f = f_np(batch["d_o"], batch["d_r"])  # the scale typed out by hand
    onehot = np.eye(A)[a]
    pi = _softmax(q)
    uq = f[:, None] * onehot  # eq. 31: ∇q(s,a) = e_a in the logits
    uv = f[:, None] * (onehot - pi)  # eq. 32
    up = uv + pi * (q - (pi * q).sum(-1, keepdims=True))  # eq. 33: ∇ E_{u∼π} q̂ = π ⊙ (q − q̄)
    for loss_fn, expected in ((updates.uq_loss, uq), (updates.uv_loss, uv), (updates.up_loss, up)):
        np.testing.assert_allclose(-B * _grads(loss_fn, sc, batch), expected, rtol=1e-10, atol=1e-12)


@settings(max_examples=30)
@given(discrete_batches())
def test_up_bias_term_is_minus_entropy_gradient(batch: dict[str, np.ndarray]) -> None:
    """Theorem 3.5: UP(f) − UV(f) = −∇H(π_θ), so UP(y) = ΔR ∇log π − ∇H = G_PGPB (eq. 5)."""
    sc, _ = scale(0)
    diff = _grads(updates.up_loss, sc, batch) - _grads(updates.uv_loss, sc, batch)  # = −(UP − UV)/B
    q = torch.tensor(batch["q"], requires_grad=True)
    logp = torch.log_softmax(q, -1)
    entropy = -(logp.exp() * logp).sum(-1).mean()
    (g_h,) = torch.autograd.grad(entropy, q)
    np.testing.assert_allclose(diff, g_h.numpy(), rtol=1e-9, atol=1e-12)


@settings(max_examples=40)
@given(st.integers(1, 5), st.integers(2, 5), st.integers(1, 4), st.integers(0, 2**31 - 1),
       st.integers(0, len(SCALES) - 1))
def test_discrete_forms_with_a_shared_linear_model(B: int, A: int, d: int, seed: int, i: int) -> None:
    """q = Φθ shares θ across samples: −∇loss is the batch mean of f ∇q, with ∇q(s,u) = Φ[s,u]."""
    rng = np.random.default_rng(seed)
    phi = rng.normal(size=(B, A, d))
    theta0 = rng.normal(size=d)
    a = rng.integers(0, A, B)
    d_o, d_r = rng.normal(size=B), rng.normal(size=B)
    assume(_kink_free(d_o, d_r))
    sc, f_np = scale(i)
    f = f_np(d_o, d_r)
    q = phi @ theta0
    pi = _softmax(q)
    phi_a = phi[np.arange(B), a]
    phi_bar = (pi[..., None] * phi).sum(1)
    uq = f[:, None] * phi_a
    uv = f[:, None] * (phi_a - phi_bar)
    up = uv + (pi[..., None] * (q - (pi * q).sum(-1, keepdims=True))[..., None] * phi).sum(1)
    for loss_fn, per_sample in ((updates.uq_loss, uq), (updates.uv_loss, uv), (updates.up_loss, up)):
        theta = torch.tensor(theta0, requires_grad=True)
        loss = loss_fn(sc, torch.tensor(phi) @ theta, torch.tensor(a), torch.tensor(d_o), torch.tensor(d_r))
        (g,) = torch.autograd.grad(loss, theta)
        np.testing.assert_allclose(-g.numpy(), per_sample.mean(0), rtol=1e-10, atol=1e-12)


@settings(max_examples=25)
@given(discrete_batches(), st.integers(0, len(SCALES) - 1))
def test_delta_signals_are_detached(batch: dict[str, np.ndarray], i: int) -> None:
    """ΔO and ΔR built from q with autograd history change nothing: f is a coefficient (eqs. 31-33)."""
    sc, _ = scale(i)
    q0 = torch.tensor(batch["q"])
    a = torch.tensor(batch["a"])
    target = torch.tensor(batch["d_r"]) + q0.gather(-1, a[:, None])[:, 0]
    for loss_fn in (updates.uq_loss, updates.uv_loss, updates.up_loss):
        q = q0.clone().requires_grad_(True)
        q_sa = q.gather(-1, a[:, None])[:, 0]
        logp = torch.log_softmax(q, -1).gather(-1, a[:, None])[:, 0]
        live_o, live_r = logp - math.log(0.25), target - q_sa  # still attached to q
        (g_live,) = torch.autograd.grad(loss_fn(sc, q, a, live_o, live_r), q)
        q2 = q0.clone().requires_grad_(True)
        d_o = updates.delta_o(live_o.detach() + math.log(0.25), torch.full_like(live_o, math.log(0.25)))
        d_r = updates.delta_r_q(target, q_sa.detach())
        assert not d_o.requires_grad and not d_r.requires_grad
        (g_det,) = torch.autograd.grad(loss_fn(sc, q2, a, d_o, d_r), q2)
        np.testing.assert_allclose(g_live.numpy(), g_det.numpy(), rtol=1e-12, atol=1e-14)


@settings(max_examples=50)
@given(st.integers(1, 6), st.integers(0, 2**31 - 1), st.integers(0, len(SCALES) - 1),
       st.floats(0.0, 0.5), st.floats(0.0, 0.3))
def test_upi_gaussian_per_sample(B: int, seed: int, i: int, beta: float, alpha: float) -> None:
    """Uπ(f) = f ∇log π + β ∇H (eq. 34) for a Normal policy with per-sample (μ, log σ) leaves,
    with ΔR from eq. 29: ΔR = Â − α (log π(a|s) + H(π(·|s)))."""
    rng = np.random.default_rng(seed)
    mu0, ls0 = rng.normal(size=B), rng.normal(scale=0.5, size=B)
    act, adv = rng.normal(size=B) * 1.5, rng.normal(size=B)
    old_logp = rng.normal(size=B) - 1.0
    mu, ls = torch.tensor(mu0, requires_grad=True), torch.tensor(ls0, requires_grad=True)
    dist = torch.distributions.Normal(mu, ls.exp())
    # torch leaves Distribution.log_prob/entropy unannotated
    logp: torch.Tensor = dist.log_prob(torch.tensor(act))  # type: ignore[no-untyped-call]
    ent: torch.Tensor = dist.entropy()  # type: ignore[no-untyped-call]
    d_o = updates.delta_o(logp, torch.tensor(old_logp))
    d_r = updates.delta_r_pi(torch.tensor(adv), logp, ent, alpha)
    assume(_kink_free(d_o.numpy(), d_r.numpy()))
    sc, f_np = scale(i)
    gm, gs = torch.autograd.grad(updates.upi_loss(sc, logp, ent, d_o, d_r, beta=beta), (mu, ls))
    sigma = np.exp(ls0)
    logp_np = -0.5 * ((act - mu0) / sigma) ** 2 - ls0 - 0.5 * math.log(2 * math.pi)
    ent_np = 0.5 + 0.5 * math.log(2 * math.pi) + ls0
    f = f_np(logp_np - old_logp, adv - alpha * (logp_np + ent_np))
    dlogp_dmu = (act - mu0) / sigma**2
    dlogp_dls = ((act - mu0) / sigma) ** 2 - 1.0
    np.testing.assert_allclose(-B * gm.numpy(), f * dlogp_dmu, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(-B * gs.numpy(), f * dlogp_dls + beta * 1.0, rtol=1e-9, atol=1e-12)


@settings(max_examples=40)
@given(discrete_batches(), st.integers(0, len(SCALES) - 1), st.floats(0.0, 1.0))
def test_upi_categorical_per_sample(batch: dict[str, np.ndarray], i: int, beta: float) -> None:
    """Uπ(f) for a Categorical policy: ∇_z log π(a) = e_a − π and ∇_z H = −π ⊙ (log π + H)."""
    assume(_kink_free(batch["d_o"], batch["d_r"]))
    sc, f_np = scale(i)
    z = torch.tensor(batch["q"], requires_grad=True)
    dist = torch.distributions.Categorical(logits=z)
    a = torch.tensor(batch["a"])
    # torch leaves Distribution.log_prob/entropy unannotated
    logp: torch.Tensor = dist.log_prob(a)  # type: ignore[no-untyped-call]
    ent: torch.Tensor = dist.entropy()  # type: ignore[no-untyped-call]
    loss = updates.upi_loss(sc, logp, ent, torch.tensor(batch["d_o"]), torch.tensor(batch["d_r"]), beta=beta)
    (g,) = torch.autograd.grad(loss, z)
    B, A = batch["q"].shape
    pi = _softmax(batch["q"])
    logpi = np.log(pi)
    ent = -(pi * logpi).sum(-1, keepdims=True)
    f = f_np(batch["d_o"], batch["d_r"])
    expected = f[:, None] * (np.eye(A)[batch["a"]] - pi) + beta * (-pi * (logpi + ent))
    np.testing.assert_allclose(-B * g.numpy(), expected, rtol=1e-9, atol=1e-12)


@settings(max_examples=60)
@given(st.integers(1, 8), st.integers(0, 2**31 - 1), st.sampled_from(["0.1", "0.2", "0.3"]))
def test_upi_ppo_equals_clipped_surrogate_gradient(B: int, seed: int, eps: str) -> None:
    """Theorem 4.3: Uπ(ppo(ε)) with ΔO = log ρ, ΔR = Â (α = 0) is the gradient of PPO's clipped
    surrogate mean_b min(ρ Â, clip(ρ, 1−ε, 1+ε) Â), away from its kinks."""
    rng = np.random.default_rng(seed)
    e = float(eps)
    mu0, ls0 = rng.normal(size=(B, 2)), rng.normal(scale=0.3, size=(B, 2))
    act = mu0 + np.exp(ls0) * rng.normal(size=(B, 2))
    # old log-probabilities put ρ on both sides of the clip range
    old_shift = rng.uniform(-0.6, 0.6, size=B)
    adv = rng.normal(size=B)

    def dist(mu: torch.Tensor, ls: torch.Tensor) -> torch.distributions.Distribution:
        return torch.distributions.Independent(torch.distributions.Normal(mu, ls.exp()), 1)

    with torch.no_grad():
        old_logp = dist(torch.tensor(mu0), torch.tensor(ls0)).log_prob(torch.tensor(act)) + torch.tensor(old_shift)
    rho = np.exp(dist(torch.tensor(mu0), torch.tensor(ls0)).log_prob(torch.tensor(act)).numpy() - old_logp.numpy())
    assume(np.all(np.abs(rho - (1 + e)) > 1e-6) and np.all(np.abs(rho - (1 - e)) > 1e-6))
    assume(np.all(np.abs(adv) > 1e-9))

    mu, ls = torch.tensor(mu0, requires_grad=True), torch.tensor(ls0, requires_grad=True)
    d = dist(mu, ls)
    logp = d.log_prob(torch.tensor(act))
    ratio = torch.exp(logp - old_logp)
    a_t = torch.tensor(adv)
    surrogate = torch.minimum(ratio * a_t, torch.clamp(ratio, 1 - e, 1 + e) * a_t).mean()
    g_ppo = torch.autograd.grad(-surrogate, (mu, ls))

    mu2, ls2 = torch.tensor(mu0, requires_grad=True), torch.tensor(ls0, requires_grad=True)
    d2 = dist(mu2, ls2)
    logp2, ent2 = d2.log_prob(torch.tensor(act)), d2.entropy()
    loss = updates.upi_loss(checked_scale("ppo", {"eps": eps}), logp2, ent2, updates.delta_o(logp2, old_logp),
                            updates.delta_r_pi(a_t, logp2, ent2, alpha=0.0), beta=0.0)
    g_upi = torch.autograd.grad(loss, (mu2, ls2))
    for a_, b_ in zip(g_ppo, g_upi, strict=True):
        np.testing.assert_allclose(a_.numpy(), b_.numpy(), rtol=1e-10, atol=1e-13)


def test_scale_weights_are_detached_and_typed() -> None:
    sc = checked_scale("sq")
    x = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    w = updates.scale_weights(sc, x, y)
    assert not w.requires_grad and w.dtype == torch.float64  # dtype follows ΔO; no autograd history
    np.testing.assert_allclose(w.numpy(), np.exp([0.5, -1.0]) * [1.0, 2.0])


@pytest.mark.parametrize("fn", [updates.uq_loss, updates.uv_loss, updates.up_loss])
def test_forms_refuse_a_raw_function(fn: Callable[..., torch.Tensor]) -> None:
    q = torch.zeros(2, 3, requires_grad=True)
    with pytest.raises(TypeError, match="CheckedScale"):
        fn(lambda x, y: y, q, torch.tensor([0, 1]), torch.zeros(2), torch.ones(2))


def test_upi_refuses_a_raw_function() -> None:
    with pytest.raises(TypeError, match="CheckedScale"):
        updates.upi_loss(lambda x, y: y, torch.zeros(2, requires_grad=True), torch.zeros(2),  # type: ignore
                         torch.zeros(2), torch.ones(2))
