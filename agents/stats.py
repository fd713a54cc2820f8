"""Statistics across seeds, through rliable (Agarwal et al., "Deep RL at the edge of the statistical precipice",
NeurIPS 2021): interquartile mean, stratified bootstrap intervals, probability of improvement, performance profiles.

From rliable 1.2.0 (a dependency; it needs arch<8, and arch 7.2.0 does not import under pandas 3, hence the
``pandas<3`` pin in pyproject.toml):

* the **stratified bootstrap** (``rliable.library.StratifiedBootstrap`` for one group,
  ``StratifiedIndependentBootstrap`` for two groups resampled independently) with percentile intervals;
* the **probability of improvement** P(X > Y) (``rliable.metrics.probability_of_improvement``: the Mann–Whitney
  U statistic over n·m, ties counting ½, so P(X > Y) + P(Y > X) = 1);
* **performance profiles** (``rliable.library.create_performance_profile``: the fraction of runs scoring above
  each threshold τ, with pointwise intervals).

Ours: the IQM's point definition. rliable's ``aggregate_iqm`` is ``scipy.stats.trim_mean(x, 0.25)``, which drops
whole runs, ⌊n/4⌋ from each end: with 3 runs it is the plain mean, with 5 to 7 the mean of the middle n − 2.
Here the sorted sample gets fractional weights, the mass of the middle 50% of the empirical distribution
(3 runs: 1/6, 2/3, 1/6; 5 runs: 0, 0.3, 0.4, 0.3, 0), which moves continuously with n; the two agree when n is a
multiple of 4 (tests/test_stats.py checks both). The same ``iqm`` is the function rliable's bootstrap
evaluates, so a point estimate and its interval always use one definition.

Reproducibility: rliable's bootstraps draw their indices from NumPy's global generator (``np.random.choice`` in
their ``update_indices``) and leave ``random_state`` unused for those draws, so each estimate here seeds the
global generator and restores its state afterwards.

**No interval below** ``MIN_RUNS`` = 5 runs per group: a percentile bootstrap over 2 values has 3 distinct
resampled means and returns an interval inside the sample's range however wide the truth (2 seeds excluding 0
was the case that prompted the rule). Estimates then carry a point value and the reason there is no interval.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

MIN_RUNS = 5
LEVEL = 0.95
REPS = 10_000  # scalar estimates
CURVE_REPS = 2_000  # learning-curve bands and performance profiles (one interval per point)

Stat = Callable[..., np.ndarray]


# ---------------------------------------------------------------------------------------------- point estimates
def iqm_weights(n: int) -> np.ndarray:
    """Weights of the sorted sample in the interquartile mean of ``n`` values (they sum to 1)."""
    edges = np.arange(n + 1) / n
    lo, hi = np.clip(edges[:-1], 0.25, 0.75), np.clip(edges[1:], 0.25, 0.75)
    return (hi - lo) / 0.5


def iqm(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Interquartile mean along ``axis``."""
    x = np.sort(np.asarray(values, dtype=np.float64), axis=axis)
    w = iqm_weights(x.shape[axis])
    return np.asarray(np.moveaxis(x, axis, -1) @ w)


def mean(values: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.asarray(np.mean(values, axis=axis))


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) for a run X of the first sample against a run Y of the second, ties counting ½ (rliable)."""
    return _probability_of_improvement(_column(x), _column(y))


def _probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    from rliable import metrics

    return float(metrics.probability_of_improvement(x, y))


def pairwise_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) by counting: the fraction of pairs (x_i, y_j) with x_i > y_j, ties counting ½."""
    a, b = np.asarray(x, dtype=np.float64)[:, None], np.asarray(y, dtype=np.float64)[None, :]
    return float(np.mean(a > b) + 0.5 * np.mean(a == b))


# --------------------------------------------------------------------------------------------------- estimates
@dataclass(frozen=True)
class Estimate:
    """A point estimate and its ``LEVEL`` interval; ``lo``/``hi`` are None, and ``reason`` says why, without one."""

    value: float
    lo: float | None
    hi: float | None
    n: tuple[int, ...]  # runs behind it, per group
    reason: str = ""

    @property
    def has_interval(self) -> bool:
        return self.lo is not None and self.hi is not None

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "ci": [self.lo, self.hi] if self.has_interval else None, "n": list(self.n),
                "reason": self.reason or None}


@dataclass(frozen=True)
class Curve:
    """A pointwise statistic over runs (a learning curve or a performance profile) and its pointwise band."""

    x: np.ndarray
    value: np.ndarray
    lo: np.ndarray | None
    hi: np.ndarray | None
    n: int
    reason: str = ""


def no_interval_reason(*ns: int, min_runs: int = MIN_RUNS) -> str:
    """Why groups of ``ns`` runs get no interval ('' when every group has at least ``min_runs``)."""
    if min(ns, default=0) >= min_runs:
        return ""
    if len(ns) == 1:
        return f"n = {ns[0]} < {min_runs} seeds: no interval"
    return f"n = {', '.join(map(str, ns))}: {min(ns)} < {min_runs} seeds: no interval"


def finite(values: np.ndarray) -> np.ndarray:
    """The finite values of a 1-D sample of per-run scores (a run without a return is NaN and is left out)."""
    x = np.asarray(values, dtype=np.float64).ravel()
    return x[np.isfinite(x)]


def estimate(values: np.ndarray, stat: Stat = iqm, *, level: float = LEVEL, reps: int = REPS, seed: int = 0,
             min_runs: int = MIN_RUNS) -> Estimate:
    """``stat`` of one group's per-run scores, with a stratified-bootstrap percentile interval from ``min_runs``."""
    x = finite(values)
    if x.size == 0:
        return Estimate(float("nan"), None, None, (0,), "no run has a return")
    return pooled_estimate(_column(x), stat, level=level, reps=reps, seed=seed, min_runs=min_runs)


def difference(x: np.ndarray, y: np.ndarray, stat: Stat = iqm, *, level: float = LEVEL, reps: int = REPS,
               seed: int = 0, min_runs: int = MIN_RUNS) -> Estimate:
    """stat(x) − stat(y), the two groups resampled independently (each stratified over its runs)."""
    a, b = finite(x), finite(y)
    if not a.size or not b.size:
        return Estimate(float("nan"), None, None, (a.size, b.size), "a group has no run with a return")
    return pooled_difference(_column(a), _column(b), stat, level=level, reps=reps, seed=seed, min_runs=min_runs)


def improvement(x: np.ndarray, y: np.ndarray, *, level: float = LEVEL, reps: int = REPS, seed: int = 0,
                min_runs: int = MIN_RUNS) -> Estimate:
    """P(X > Y) with a stratified independent bootstrap interval (rliable's probability of improvement).

    The point is rliable's metric; each bootstrap resample evaluates ``pairwise_improvement``, the same number
    by counting pairs (tests/test_stats.py checks they agree, ties included): rliable's metric calls
    ``scipy.stats.mannwhitneyu`` once per resample, 5 s for 10 000 resamples of 6 × 7 runs, against 0.3 s.
    """
    a, b = finite(x), finite(y)
    if not a.size or not b.size:
        return Estimate(float("nan"), None, None, (a.size, b.size), "a group has no run with a return")
    return pooled_improvement(_column(a), _column(b), level=level, reps=reps, seed=seed, min_runs=min_runs)


# ------------------------------------------------------------------------------- several tasks: (runs, tasks)
# rliable's aggregate view: a score matrix per group, one column per task (scores normalised so that tasks are
# comparable: the caller's job), every bootstrap resampling the runs within each task (the tasks as strata).
def pooled_estimate(scores: np.ndarray, stat: Stat = iqm, *, level: float = LEVEL, reps: int = REPS, seed: int = 0,
                    min_runs: int = MIN_RUNS) -> Estimate:
    """``stat`` over every run of every task of a finite (runs, tasks) matrix (rliable's aggregate IQM when
    ``stat`` is :func:`iqm`), with a stratified-bootstrap interval from ``min_runs`` runs per task."""
    m = _matrix(scores)
    value = float(stat(m.ravel()))
    reason = no_interval_reason(m.shape[0], min_runs=min_runs)
    if reason:
        return Estimate(value, None, None, (m.shape[0],), reason)
    lo, hi = _interval(m, lambda s: np.array([stat(s.ravel())]), level, reps, seed)
    return Estimate(value, float(lo[0]), float(hi[0]), (m.shape[0],))


def pooled_difference(x: np.ndarray, y: np.ndarray, stat: Stat = iqm, *, level: float = LEVEL, reps: int = REPS,
                      seed: int = 0, min_runs: int = MIN_RUNS) -> Estimate:
    """stat(x) − stat(y) over all runs and tasks of two (runs, tasks) matrices with the same tasks, the groups
    resampled independently, each stratified over its tasks."""
    a, b = _matrix(x), _matrix(y)
    _same_tasks(a, b)
    value = float(stat(a.ravel()) - stat(b.ravel()))
    reason = no_interval_reason(a.shape[0], b.shape[0], min_runs=min_runs)
    if reason:
        return Estimate(value, None, None, (a.shape[0], b.shape[0]), reason)
    lo, hi = _interval((a, b), lambda s, t: np.array([stat(s.ravel()) - stat(t.ravel())]), level, reps, seed)
    return Estimate(value, float(lo[0]), float(hi[0]), (a.shape[0], b.shape[0]))


def pooled_improvement(x: np.ndarray, y: np.ndarray, *, level: float = LEVEL, reps: int = REPS, seed: int = 0,
                       min_runs: int = MIN_RUNS) -> Estimate:
    """The average over tasks of P(X > Y) on that task (rliable's probability of improvement of two (runs, tasks)
    matrices), with a stratified independent bootstrap interval; a scale-free statistic: it needs no
    normalisation across tasks."""
    a, b = _matrix(x), _matrix(y)
    _same_tasks(a, b)
    value = _probability_of_improvement(a, b)
    reason = no_interval_reason(a.shape[0], b.shape[0], min_runs=min_runs)
    if reason:
        return Estimate(value, None, None, (a.shape[0], b.shape[0]), reason)
    lo, hi = _interval((a, b), lambda s, t: np.array([np.mean([pairwise_improvement(s[:, j], t[:, j])
                                                               for j in range(s.shape[1])])]), level, reps, seed)
    return Estimate(value, float(lo[0]), float(hi[0]), (a.shape[0], b.shape[0]))


def performance_profile(values: np.ndarray, taus: np.ndarray, *, level: float = LEVEL, reps: int = CURVE_REPS,
                        seed: int = 0, min_runs: int = MIN_RUNS) -> Curve:
    """The fraction of runs scoring above each τ in ``taus`` (a score distribution), with pointwise intervals."""
    x, t = finite(values), np.asarray(taus, dtype=np.float64)
    frac = (x[:, None] > t[None, :]).mean(axis=0) if x.size else np.full(t.shape, np.nan)
    reason = no_interval_reason(x.size, min_runs=min_runs)
    if reason:
        return Curve(t, frac, None, None, x.size, reason)
    from rliable import library

    with _global_seed(seed):
        _, cis = library.create_performance_profile({"x": _column(x)}, t, reps=reps, confidence_interval_size=level)
    return Curve(t, frac, np.asarray(cis["x"][0], dtype=np.float64), np.asarray(cis["x"][1], dtype=np.float64),
                 x.size)


def band(curves: np.ndarray, *, level: float = LEVEL, reps: int = CURVE_REPS, seed: int = 0,
         min_runs: int = MIN_RUNS) -> Curve:
    """Mean over runs of ``curves`` (runs, points), NaNs ignored, with a pointwise bootstrap band from ``min_runs``.

    Each point resamples the runs (rliable's stratified bootstrap, the points as its strata): the band is
    pointwise, as drawn, not a simultaneous band over the whole curve. It is NaN where some run has no return
    yet (the start of the runs).
    """
    c = np.asarray(curves, dtype=np.float64)
    points = np.arange(c.shape[1], dtype=np.float64)
    with warnings.catch_warnings():  # points before any episode has finished are NaN, on purpose
        warnings.simplefilter("ignore", RuntimeWarning)
        m = np.nanmean(c, axis=0) if c.shape[0] else np.full(c.shape[1], np.nan)
        reason = no_interval_reason(c.shape[0], min_runs=min_runs)
        if reason:
            return Curve(points, m, None, None, c.shape[0], reason)
        full = np.isfinite(c).all(axis=0)  # where some run has no return yet, no band (and no all-NaN resample)
        lo, hi = np.full(m.shape, np.nan), np.full(m.shape, np.nan)
        if full.any():
            lo[full], hi[full] = _interval(c[:, full], lambda s: np.mean(s, axis=0), level, reps, seed)
    return Curve(points, m, lo, hi, c.shape[0])


# ----------------------------------------------------------------------------------------------------- helpers
def _column(x: np.ndarray) -> np.ndarray:
    """Per-run scores as rliable's (runs, tasks) matrix with one task."""
    return np.asarray(x, dtype=np.float64).reshape(-1, 1)


def _matrix(scores: np.ndarray) -> np.ndarray:
    """A (runs, tasks) score matrix: 2-D, at least one run and one task, every entry finite."""
    m = np.asarray(scores, dtype=np.float64)
    if m.ndim != 2 or 0 in m.shape or not np.isfinite(m).all():
        raise ValueError(f"scores must be a finite (runs, tasks) matrix with a run and a task; got shape {m.shape}")
    return m


def _same_tasks(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"the two groups' score matrices have {a.shape[1]} and {b.shape[1]} tasks")


@contextmanager
def _global_seed(seed: int) -> Iterator[None]:
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _interval(scores: np.ndarray | tuple[np.ndarray, ...], func: Callable[..., np.ndarray], level: float, reps: int,
              seed: int) -> tuple[np.ndarray, np.ndarray]:
    """rliable's stratified bootstrap percentile interval of ``func`` (one array: one group; a tuple: independent)."""
    from rliable import library

    with _global_seed(seed):
        _, cis = library.get_interval_estimates({"x": scores}, func, method="percentile", reps=reps,
                                                confidence_interval_size=level)
    ci = np.asarray(cis["x"], dtype=np.float64)
    return ci[0], ci[1]
