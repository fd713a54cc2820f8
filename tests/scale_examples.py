"""Trusted callables for testing ``pgcheck validate module:function`` (vectorised over numpy)."""

from __future__ import annotations

import numpy as np


def good(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """e^x tanh(y): valid, but a black box can only be tested."""
    return np.asarray(np.exp(x) * np.tanh(y))


def shifted(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Breaks property 1a: f(x, 0) = 0.5."""
    return np.asarray(y + 0.5)


def scalar_only(x: float, y: float) -> float:
    """Not vectorised: refused with a clear message."""
    return float(x) + float(y)


def fails_on_large_arrays(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Passes the two-point probe, then raises inside the search: a one-line error, not a traceback."""
    if np.size(x) > 2:
        raise ValueError("late failure")
    return np.asarray(y)


def drops_at_a_round_threshold(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Breaks property 1b only at y = 1e5, far out and narrow: f drops by 1 there."""
    return np.asarray(np.where(y > 1e5, y - 1.0, y))


def complex_valued(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Not real for x < 0: sqrt of a negative number as a complex array."""
    return np.asarray(np.sqrt(x.astype(complex)) * 0 + y + np.where(x < 0, 1j, 0))


def nan_everywhere(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """No value anywhere: comparisons with NaN are all False, so a naive search sees no violation."""
    return np.full(np.broadcast(x, y).shape, np.nan)


def exits(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Passes the two-point probe, then ends the process with status 0 inside the search."""
    if np.size(x) > 2:
        raise SystemExit(0)
    return np.asarray(y)


def hard_exit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Passes the two-point probe, then ends the process at once (no exception to catch)."""
    import os

    if np.size(x) > 2:
        os._exit(0)
    return np.asarray(y)


def sleeps(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Passes the two-point probe, then never returns in reasonable time."""
    import time

    if np.size(x) > 2:
        time.sleep(3600)
    return np.asarray(y)
