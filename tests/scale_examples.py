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
