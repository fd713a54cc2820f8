"""Aggregate statistics across seeds: interquartile mean and percentile-bootstrap confidence intervals.

The interquartile mean (IQM) is the mean of the middle 50% of the empirical distribution, with
fractional weights when the number of runs is not a multiple of 4 (with 3 runs the weights are 1/6,
2/3, 1/6; trimming whole runs would leave the plain mean). Confidence intervals resample runs with
replacement (stratified per group) and take percentiles; with few seeds they are wide and approximate,
which is the honest answer.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np


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


def bootstrap_ci(values: np.ndarray, stat: Callable[..., np.ndarray], level: float = 0.95,
                 resamples: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``stat`` over the runs in ``values`` (1-D)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(resamples, x.size))
    stats = stat(x[idx], axis=-1)
    a = (1.0 - level) / 2.0
    return float(np.quantile(stats, a)), float(np.quantile(stats, 1.0 - a))


def bootstrap_diff_ci(a: np.ndarray, b: np.ndarray, stat: Callable[..., np.ndarray], level: float = 0.95,
                      resamples: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of stat(b) − stat(a), resampling each group independently."""
    rng = np.random.default_rng(seed)
    xa, xb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    sa = stat(xa[rng.integers(0, xa.size, size=(resamples, xa.size))], axis=-1)
    sb = stat(xb[rng.integers(0, xb.size, size=(resamples, xb.size))], axis=-1)
    d = sb - sa
    q = (1.0 - level) / 2.0
    return float(np.quantile(d, q)), float(np.quantile(d, 1.0 - q))


def band(curves: np.ndarray, level: float = 0.95, resamples: int = 2000,
         seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean curve and a bootstrap band over runs for ``curves`` of shape (runs, points); NaNs ignored."""
    c = np.asarray(curves, dtype=np.float64)
    with warnings.catch_warnings():  # points before any episode has finished are NaN, on purpose
        warnings.simplefilter("ignore", RuntimeWarning)
        m = np.nanmean(c, axis=0)
        if c.shape[0] < 2:
            return m, m.copy(), m.copy()
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, c.shape[0], size=(resamples, c.shape[0]))
        means = np.nanmean(c[idx], axis=1)  # (resamples, points)
        q = (1.0 - level) / 2.0
        lo, hi = np.nanquantile(means, q, axis=0), np.nanquantile(means, 1.0 - q, axis=0)
    return m, lo, hi
