"""The bandit's return ``J(θ) = E_x Σ_a π(a|x) r(x, a)`` (sec. 6.1; its landscape is Figure 8), by
quadrature, for the softmax policy π_θ (eq. 4) and for the greedy policy ``argmax_a q_θ(x, a)``; its
maximiser by compass search, and an independent Monte Carlo check.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from agents.bandit.model import COS, N_ACTIONS, SIN, Array, logits, rewards, sigmoid


def expected_return(thetas: Array, policy: str = "softmax", n_phi: int = 32, n_rho: int = 48) -> Array:
    """``J(θ) = E_{x∼N(0,I)} Σ_a π(a|x) σ(⟨x, Ψ(a)⟩)`` for each row of ``thetas`` (N, 2).

    ``policy`` is ``"softmax"`` (π_θ of eq. 4) or ``"greedy"`` (``argmax_a q_θ(x, a)``).

    Why polar coordinates: ``q_θ(x, ·) = ⟨v, Ψ(·)⟩`` with ``v = θ ⊙ (x − c)`` and apex
    ``c = 1/θ − 1``, so along a ray from c the greedy action is constant and the softmax sharpens
    smoothly; the greedy action changes only across the 8 rays that map to the sector boundaries
    ``(2k+1)π/8``. Integrating over each angular sector separately (Gauss-Legendre in angle and in
    radius, radius range where the Gaussian density exceeds e^{-81/2}) avoids the discontinuities
    that make a Cartesian Gauss-Hermite rule converge slowly for the greedy policy or a large |θ|.
    Components with |θ_i| < 1e-6 are moved to ±1e-6 (J is continuous in θ; the change is below 1e-6).
    """
    if policy not in ("softmax", "greedy"):
        raise ValueError(f"policy must be 'softmax' or 'greedy', not {policy!r}")
    th = np.atleast_2d(np.asarray(thetas, dtype=np.float64))
    out = np.empty(len(th))
    per_theta = 9 * n_phi * n_rho * (N_ACTIONS if policy == "softmax" else 1)
    chunk = max(1, 4_000_000 // per_theta)
    for i in range(0, len(th), chunk):
        out[i:i + chunk] = _polar_return(th[i:i + chunk], policy == "softmax", n_phi, n_rho)
    return out


_RADIUS = 9.0  # the standard normal density beyond radius 9 carries e^{-40.5} < 3e-18 of the mass


def _sector_pieces(th: Array, c: Array) -> tuple[Array, Array, npt.NDArray[np.bool_]]:
    """The angular pieces around the apex ``c`` (n, 2) of each θ in ``th`` (n, 2): start and end angles
    (n, 9) of the greedy-action sectors intersected with the directions that carry Gaussian mass, and
    which pieces are not empty."""
    n = len(th)
    beta = (2 * np.arange(N_ACTIONS) + 1) * np.pi / N_ACTIONS  # sector boundaries of angle(v)
    bounds = np.sort(np.mod(np.arctan2(np.sin(beta) / th[:, 1:2], np.cos(beta) / th[:, 0:1]), 2 * np.pi), -1)
    length = np.mod(np.roll(bounds, -1, axis=-1) - bounds, 2 * np.pi)  # arc lengths, summing to 2π
    # Directions that carry Gaussian mass: all of them if the apex is within the radius, else a cone.
    cn = np.hypot(c[:, 0], c[:, 1])
    far = cn > _RADIUS
    half = np.arcsin(np.minimum(_RADIUS / np.maximum(cn, _RADIUS), 1.0))
    w0 = np.where(far, np.arctan2(-c[:, 1], -c[:, 0]) - half, bounds[:, 0])
    width = np.where(far, 2 * half, 2 * np.pi)
    lo = np.mod(bounds - w0[:, None], 2 * np.pi)
    lo = np.where(np.isclose(lo, 2 * np.pi, rtol=0, atol=1e-12), 0.0, lo)
    # Each arc intersected with the window [0, width]; at most one arc wraps past 2π.
    starts = [lo, np.zeros((n, 1))]
    wrap = np.argmax(lo + length, axis=-1)
    wrap_end = (lo + length)[np.arange(n), wrap] - 2 * np.pi
    ends = [np.minimum(lo + length, width[:, None]), np.minimum(wrap_end, width)[:, None]]
    s = np.concatenate(starts, -1)
    e = np.concatenate(ends, -1)
    ok = e > s
    s, e = np.where(ok, s, 0.0), np.where(ok, e, 0.0)
    return s + w0[:, None], e + w0[:, None], ok  # back to absolute angles


def _polar_return(theta: Array, soft: bool, n_phi: int, n_rho: int) -> Array:
    """J for each θ (n, 2): Gauss-Legendre in angle over each sector piece, and in radius along each ray."""
    th = np.where(np.abs(theta) < 1e-6, np.where(theta < 0, -1e-6, 1e-6), theta)
    c = 1.0 / th - 1.0  # the apex: v = θ ⊙ (x − c) vanishes there
    s, e, ok = _sector_pieces(th, c)
    zp, wp = np.polynomial.legendre.leggauss(n_phi)
    zr, wr = np.polynomial.legendre.leggauss(n_rho)
    phi = 0.5 * (s + e)[..., None] + 0.5 * (e - s)[..., None] * zp  # (n, 9, n_phi)
    w_phi = 0.5 * (e - s)[..., None] * wp
    ex, ey = np.cos(phi), np.sin(phi)
    c0, c1 = c[:, 0, None, None], c[:, 1, None, None]
    mean = -(c0 * ex + c1 * ey)  # the ray's closest approach to the origin is at radius `mean`
    perp2 = (c0 * ey - c1 * ex) ** 2  # squared distance of the ray's line from the origin
    r0 = np.maximum(0.0, mean - _RADIUS)[..., None]
    r1 = np.maximum(0.0, mean + _RADIUS)[..., None]
    rho = 0.5 * (r0 + r1) + 0.5 * (r1 - r0) * zr  # (n, 9, n_phi, n_rho)
    w_rho = 0.5 * (r1 - r0) * wr
    dens = rho * np.exp(-0.5 * ((rho - mean[..., None]) ** 2 + perp2[..., None])) / (2 * np.pi)
    x0 = c0[..., None] + rho * ex[..., None]
    x1 = c1[..., None] + rho * ey[..., None]
    if soft:
        u0 = (th[:, 0, None, None] * ex)[..., None] * rho  # v = ρ θ ⊙ e along the ray
        u1 = (th[:, 1, None, None] * ey)[..., None] * rho
        q = u0[..., None] * COS + u1[..., None] * SIN
        q -= q.max(-1, keepdims=True)
        p = np.exp(q)
        p /= p.sum(-1, keepdims=True)
        g = (p * sigmoid(x0[..., None] * COS + x1[..., None] * SIN)).sum(-1)
    else:
        mid = 0.5 * (s + e)
        va = np.arctan2(th[:, 1:2] * np.sin(mid), th[:, 0:1] * np.cos(mid))
        act = np.mod(np.rint(va / (2 * np.pi / N_ACTIONS)), N_ACTIONS).astype(np.int64)
        g = sigmoid(x0 * COS[act][..., None, None] + x1 * SIN[act][..., None, None])
    inner = (g * dens * w_rho).sum(-1)
    total: Array = np.where(ok, (inner * w_phi).sum(-1), 0.0).sum(-1)
    return total


def maximise(policy: str, start: tuple[float, float], step: float = 0.25, tol: float = 1e-5,
             n_phi: int = 48, n_rho: int = 64) -> tuple[tuple[float, float], float]:
    """A compass search for the maximiser of ``J`` from ``start``: (θ̂, J(θ̂))."""
    best = np.array(start, dtype=np.float64)
    f_best = float(expected_return(best[None], policy, n_phi, n_rho)[0])
    dirs = np.array([[1, 0], [-1, 0], [0, 1], [0, -1], [1, 1], [1, -1], [-1, 1], [-1, -1]], dtype=np.float64)
    while step > tol:
        cand = best + step * dirs
        vals = expected_return(cand, policy, n_phi, n_rho)
        i = int(np.argmax(vals))
        if vals[i] > f_best:
            best, f_best = cand[i], float(vals[i])
        else:
            step /= 2
    return (float(best[0]), float(best[1])), f_best


def returns_unique(points: Array, policy: str, n_phi: int, n_rho: int) -> Array:
    """J at many θ, each distinct θ evaluated once (all rules start at the same θ)."""
    uniq, inverse = np.unique(points, axis=0, return_inverse=True)
    vals = expected_return(uniq, policy, n_phi, n_rho)
    out: Array = vals[np.asarray(inverse).reshape(-1)]
    return out


def monte_carlo_return(theta: tuple[float, float], policy: str, n: int = 1_000_000,
                       seed: int = 7) -> tuple[float, float]:
    """An independent check of :func:`expected_return`: mean and standard error over n fixed contexts."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2))
    q = logits(np.asarray(theta), x)
    r = rewards(x)
    if policy == "greedy":
        v = np.take_along_axis(r, np.argmax(q, axis=-1)[:, None], -1)[:, 0]
    else:
        p = np.exp(q - q.max(-1, keepdims=True))
        v = (p / p.sum(-1, keepdims=True) * r).sum(-1)
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(n))

