"""Adversarial search for counterexamples to Assumption 5.1 on a numeric form of f.

The search only *proposes* candidates; the caller re-checks each one (exactly for expressions, by
re-evaluation for black-box callables) before calling anything refuted. Two searches run:

* seeded random sampling of a mixture that reaches far from the origin (|x|, |y| up to 1e6, and
  magnitudes down to 1e-6), plus a grid of special values;
* hypothesis, steering towards large violations with ``target()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # hypothesis is imported only when a search needs it (validation stays light)
    import hypothesis

ArrayFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
REACH = 1e6
SPECIAL = np.array([0.0, 1e-6, 1e-3, 0.1, 0.5, 1.0, 2.0, 10.0, 100.0, 1e3, 1e6])
SPECIAL = np.concatenate([SPECIAL, -SPECIAL[1:]])
# round numbers (1, 2 and 5 times a power of ten, both signs): thresholds people write, e.g. 'y > 1e5'
ROUND = np.array([m * 10.0**k for k in range(-6, 7) for m in (1.0, 2.0, 5.0)])
ROUND = np.concatenate([ROUND, -ROUND])


@dataclass(frozen=True)
class Budget:
    samples: int = 100_000
    hypothesis_examples: int = 200
    seed: int = 0

    def describe(self) -> dict[str, str]:
        return {
            "random": f"{self.samples} seeded points (seed {self.seed}): uniform on [-3, 3] and log-uniform "
                      f"magnitudes 1e-6..1e6 of both signs, plus a grid of {SPECIAL.size}^2 special values and, "
                      f"for property 1b, pairs of y straddling {ROUND.size} round numbers (1, 2, 5 x 10^k)",
            "hypothesis": f"{self.hypothesis_examples} examples per property (domain, 1a, 1b, 2) steered by "
                          "target() towards the largest violation",
        }


def mixture(rng: np.random.Generator, n: int) -> np.ndarray:
    third = max(n // 3, 1)
    uniform = rng.uniform(-3.0, 3.0, third)
    far = rng.choice([-1.0, 1.0], third) * 10.0 ** rng.uniform(-6.0, 6.0, third)
    near = rng.choice([-1.0, 1.0], n - 2 * third) * 10.0 ** rng.uniform(-6.0, 1.0, n - 2 * third)
    return np.concatenate([uniform, far, near])


def _call(f: ArrayFn, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        out = np.asarray(f(x, y), dtype=np.float64)
    shaped: np.ndarray = np.broadcast_to(out, np.broadcast(x, y).shape)
    return shaped


def _rank(score: np.ndarray, keep: int) -> np.ndarray:
    score = np.where(np.isfinite(score), score, -np.inf)
    idx = np.argsort(-score)[:keep]
    return idx[score[idx] > 0]


def _tol(*values: np.ndarray) -> np.ndarray:
    """A violation smaller than this is float noise, not a candidate."""
    total = np.ones(np.broadcast(*values).shape)
    for v in values:
        total = total + np.abs(v)
    return 1e-9 * total


def undefined_points(f: ArrayFn, budget: Budget, keep: int = 8) -> list[tuple[float, float]]:
    """Points where the numeric f is not finite (candidates against the domain property)."""
    rng = np.random.default_rng(budget.seed)
    x, y = mixture(rng, budget.samples), mixture(rng, budget.samples)
    gx, gy = np.meshgrid(SPECIAL, SPECIAL)
    x, y = np.concatenate([gx.ravel(), x]), np.concatenate([gy.ravel(), y])
    bad = ~np.isfinite(_call(f, x, y))
    found = [(float(a), float(b)) for a, b in zip(x[bad][:keep], y[bad][:keep], strict=True)]
    return found + _hypothesis_domain(f, budget)


def _settings(budget: Budget) -> hypothesis.settings:
    """The hypothesis settings every search shares: the budget's examples, deterministic, no database,
    generation and targeting only (nothing to shrink: candidates are re-checked exactly anyway)."""
    from hypothesis import HealthCheck, Phase, settings

    return settings(max_examples=budget.hypothesis_examples, database=None, deadline=None, derandomize=True,
                    phases=[Phase.generate, Phase.target], suppress_health_check=list(HealthCheck))


def _hypothesis_domain(f: ArrayFn, budget: Budget) -> list[tuple[float, float]]:
    """Points where f is not finite, steered by target() towards large |f| (a pole or a log's edge)."""
    from hypothesis import given, target
    from hypothesis import strategies as st

    found: list[tuple[float, float]] = []
    coord = st.floats(-REACH, REACH, allow_nan=False)

    @_settings(budget)
    @given(coord, coord)
    def probe(x: float, y: float) -> None:
        v = float(_call(f, np.array([x]), np.array([y]))[0])
        if np.isfinite(v):
            target(float(np.log1p(abs(v))))
        elif len(found) < 4:
            found.append((x, y))

    probe()
    return found


def nonzero_at_zero(f: ArrayFn, budget: Budget, keep: int = 8) -> list[float]:
    """x values with f(x, 0) != 0 numerically (candidates against property 1a)."""
    rng = np.random.default_rng(budget.seed + 1)
    x = np.concatenate([SPECIAL, mixture(rng, budget.samples)])
    v = _call(f, x, np.zeros_like(x))
    found = [float(x[i]) for i in _rank(np.abs(v), keep)]
    found += _hypothesis_1a(f, budget)
    return found


def decreasing_in_y(f: ArrayFn, budget: Budget, keep: int = 8) -> list[tuple[float, float, float]]:
    """Triples (x, y1, y2), y1 < y2, with f(x, y1) > f(x, y2) numerically (against property 1b)."""
    rng = np.random.default_rng(budget.seed + 2)
    n = budget.samples
    x = mixture(rng, n)
    y1 = mixture(rng, n)
    gap = 10.0 ** rng.uniform(-6.0, 6.0, n)
    y2 = y1 + gap
    gx, g1, g2 = np.meshgrid(SPECIAL, SPECIAL, SPECIAL, indexing="ij")
    order = g1 < g2
    # pairs straddling each round number closely, so a drop at a threshold such as y = 1e5 is seen
    sx, sv = np.meshgrid(SPECIAL, ROUND, indexing="ij")
    lo, hi = sv.ravel() - 1e-9 * np.abs(sv.ravel()), sv.ravel() + 1e-9 * np.abs(sv.ravel())
    x = np.concatenate([gx[order], sx.ravel(), x])
    y1 = np.concatenate([g1[order], lo, y1])
    y2 = np.concatenate([g2[order], hi, y2])
    f1, f2 = _call(f, x, y1), _call(f, x, y2)
    with np.errstate(all="ignore"):
        score = (f1 - f2) - _tol(f1, f2)
    found = [(float(x[i]), float(y1[i]), float(y2[i])) for i in _rank(score, keep)]
    found += _hypothesis_1b(f, budget)
    return found


def decreasing_abs_in_x(f: ArrayFn, budget: Budget, keep: int = 8) -> list[float]:
    """y values where |f(., y)| decreases through x = 0 at every tested scale (against property 2)."""
    rng = np.random.default_rng(budget.seed + 3)
    y = np.concatenate([SPECIAL, mixture(rng, max(budget.samples // 20, 100))])
    centre = np.abs(_call(f, np.zeros_like(y), y))
    bad = np.ones(y.shape, dtype=bool)
    score = np.zeros(y.shape)
    for h in (1e-3, 1e-5, 1e-7):
        right = np.abs(_call(f, np.full_like(y, h), y))
        left = np.abs(_call(f, np.full_like(y, -h), y))
        tol = _tol(centre, right, left)
        with np.errstate(all="ignore"):
            drop = np.maximum(centre - right, left - centre)
        bad &= drop > tol
        score = np.maximum(score, drop)
    score = np.where(bad, score, 0.0)
    return [float(y[i]) for i in _rank(score, keep)] + _hypothesis_2(f, budget)


def _hypothesis_2(f: ArrayFn, budget: Budget) -> list[float]:
    """y values where |f(., y)| drops across x = 0 at every one of three scales, steered by target()
    towards the largest drop."""
    from hypothesis import given, target
    from hypothesis import strategies as st

    best: list[tuple[float, float]] = []
    steps = np.array([1e-3, 1e-5, 1e-7])

    @_settings(budget)
    @given(st.floats(-REACH, REACH, allow_nan=False))
    def probe(y: float) -> None:
        xs = np.concatenate([[0.0], steps, -steps])
        v = np.abs(_call(f, xs, np.full_like(xs, y)))
        if not np.isfinite(v).all():
            return
        drop = np.maximum(v[0] - v[1:4], v[4:7] - v[0])  # right of 0 lower, or left of 0 higher
        worst = float(drop.min())
        target(worst)
        if worst > float(_tol(v).max()):
            best.append((worst, y))

    probe()
    return [y for _, y in sorted(best, reverse=True)[:4]]


def _hypothesis_1a(f: ArrayFn, budget: Budget) -> list[float]:
    from hypothesis import given, target
    from hypothesis import strategies as st

    best: list[tuple[float, float]] = []

    @_settings(budget)
    @given(st.floats(-REACH, REACH, allow_nan=False))
    def probe(x: float) -> None:
        v = float(_call(f, np.array([x]), np.array([0.0]))[0])
        if np.isfinite(v):
            target(abs(v))
            if v != 0.0:
                best.append((abs(v), x))

    probe()
    return [x for _, x in sorted(best, reverse=True)[:4]]


def _hypothesis_1b(f: ArrayFn, budget: Budget) -> list[tuple[float, float, float]]:
    from hypothesis import given, target
    from hypothesis import strategies as st

    best: list[tuple[float, tuple[float, float, float]]] = []
    coord = st.floats(-REACH, REACH, allow_nan=False)

    @_settings(budget)
    @given(coord, coord, st.floats(0.0, REACH, allow_nan=False, exclude_min=True))
    def probe(x: float, y1: float, gap: float) -> None:
        y2 = y1 + gap
        if not y1 < y2:
            return
        f1, f2 = (float(v) for v in _call(f, np.array([x, x]), np.array([y1, y2])))
        drop = f1 - f2  # Python floats: an overflow to inf is no warning, and inf is skipped below
        if np.isfinite(drop):
            target(drop)
            if drop > 1e-9 * (1 + abs(f1) + abs(f2)):
                best.append((drop, (x, y1, y2)))

    probe()
    return [t for _, t in sorted(best, reverse=True)[:4]]
