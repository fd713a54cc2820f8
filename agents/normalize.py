"""Running observation normalisation and reward scaling, in float64 numpy, with saveable state.

* :class:`RunningMeanStd` keeps a mean and variance over everything it has seen (Chan et al.'s
  parallel update, so a batch of one and a batch of many give the same statistics).
* :class:`ObsNormalizer` maps an observation to ``clip((o − mean) / sqrt(var + eps), −c, c)``.
* :class:`RewardScaler` divides rewards by the standard deviation of the running *discounted return*
  (not of the reward), as PPO implementations usually do, and clips; its return accumulator restarts
  whenever an episode ends.

Every class has ``state_dict()`` / ``load_state_dict()`` so a checkpoint restores them exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class RunningMeanStd:
    """Mean and (population) variance of a stream of vectors of shape ``shape``."""

    def __init__(self, shape: tuple[int, ...], epsilon: float = 1e-4) -> None:
        self.mean = np.zeros(shape, dtype=np.float64)
        self.var = np.ones(shape, dtype=np.float64)
        self.count = float(epsilon)  # a tiny prior count keeps the first division finite

    def update(self, batch: np.ndarray) -> None:
        """Fold in ``batch`` of shape (n, *shape)."""
        b = np.asarray(batch, dtype=np.float64)
        n = b.shape[0]
        if n == 1:
            self._update_one(b[0])
            return
        self._merge(b.mean(axis=0), b.var(axis=0), float(n))

    def _update_one(self, x: np.ndarray) -> None:
        # the n = 1 case of _merge, written out: it runs once per environment step
        total = self.count + 1.0
        delta = x - self.mean
        self.mean = self.mean + delta / total
        self.var = (self.var * self.count + delta * delta * (self.count / total)) / total
        self.count = total

    def _merge(self, mean: np.ndarray, var: np.ndarray, n: float) -> None:
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        m2 = self.var * self.count + var * n + delta * delta * (self.count * n / total)
        self.var = m2 / total
        self.count = total

    def state_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mean = np.array(state["mean"], dtype=np.float64)
        self.var = np.array(state["var"], dtype=np.float64)
        self.count = float(state["count"])


class ObsNormalizer:
    """``clip((o − mean) / sqrt(var + eps), −clip, clip)`` with running statistics (or identity)."""

    def __init__(self, shape: tuple[int, ...], clip: float = 10.0, eps: float = 1e-8,
                 enabled: bool = True) -> None:
        self.rms = RunningMeanStd(shape)
        self.clip = clip
        self.eps = eps
        self.enabled = enabled

    def __call__(self, obs: np.ndarray, update: bool = True) -> np.ndarray:
        """Normalise a batch of observations (n, *shape); fold them into the statistics if ``update``."""
        if not self.enabled:
            return np.asarray(obs, dtype=np.float32)
        if update:
            self.rms.update(obs)
        out = (obs - self.rms.mean) / np.sqrt(self.rms.var + self.eps)
        return np.clip(out, -self.clip, self.clip).astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        return {"rms": self.rms.state_dict(), "clip": self.clip, "eps": self.eps, "enabled": self.enabled}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rms.load_state_dict(state["rms"])
        self.clip = float(state["clip"])
        self.eps = float(state["eps"])
        self.enabled = bool(state["enabled"])


class RewardScaler:
    """Scale rewards by the running standard deviation of the discounted return, per environment."""

    def __init__(self, num_envs: int, gamma: float, clip: float = 10.0, eps: float = 1e-8,
                 enabled: bool = True) -> None:
        self.rms = RunningMeanStd(())
        self.returns = np.zeros(num_envs, dtype=np.float64)
        self.gamma = gamma
        self.clip = clip
        self.eps = eps
        self.enabled = enabled

    def __call__(self, reward: np.ndarray, done: np.ndarray) -> np.ndarray:
        """Scaled rewards for one vector step; ``done`` restarts the accumulator of finished episodes."""
        r = np.asarray(reward, dtype=np.float64)
        if not self.enabled:
            return r.astype(np.float32)
        self.returns = self.returns * self.gamma + r
        self.rms.update(self.returns)
        self.returns[np.asarray(done, dtype=bool)] = 0.0
        return np.clip(r / np.sqrt(self.rms.var + self.eps), -self.clip, self.clip).astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        return {"rms": self.rms.state_dict(), "returns": self.returns.copy(), "gamma": self.gamma,
                "clip": self.clip, "eps": self.eps, "enabled": self.enabled}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rms.load_state_dict(state["rms"])
        self.returns = np.array(state["returns"], dtype=np.float64)
        self.gamma = float(state["gamma"])
        self.clip = float(state["clip"])
        self.eps = float(state["eps"])
        self.enabled = bool(state["enabled"])
