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
