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


# ---------------------------------------------------------------------------------------------------
# the same statistics for L lanes at once (agents.lanes): row l is bitwise the single-run object fed lane l's
# batches, because every operation below is RunningMeanStd's, elementwise, with a lane axis in front (and
# the batch reductions run over the same axis in the same order per lane)


class LaneRunningMeanStd:
    """L independent :class:`RunningMeanStd` of vectors of shape ``shape``: mean and var (L, *shape), count (L,)."""

    def __init__(self, lanes: int, shape: tuple[int, ...], epsilon: float = 1e-4) -> None:
        self.mean = np.zeros((lanes, *shape), dtype=np.float64)
        self.var = np.ones((lanes, *shape), dtype=np.float64)
        self.count = np.full(lanes, float(epsilon))
        self._lane_axes = (slice(None),) + (None,) * len(shape)   # count[:, None, ...] against (L, *shape)

    def update(self, batch: np.ndarray) -> None:
        """Fold in ``batch`` (L, n, *shape): lane l's n vectors into row l (:meth:`RunningMeanStd.update`)."""
        count = self.count[self._lane_axes]
        n = batch.shape[1]
        if n == 1:        # RunningMeanStd._update_one, per lane
            total = count + 1.0
            delta = batch[:, 0] - self.mean
            self.mean = self.mean + delta / total
            self.var = (self.var * count + delta * delta * (count / total)) / total
        else:             # RunningMeanStd._merge of the batch's mean and (population) variance, per lane
            total = count + float(n)
            delta = batch.mean(axis=1) - self.mean
            self.mean = self.mean + delta * (float(n) / total)
            m2 = self.var * count + batch.var(axis=1) * float(n) + delta * delta * (count * float(n) / total)
            self.var = m2 / total
        self.count = total.reshape(-1)

    def lane_state(self, i: int) -> dict[str, Any]:
        """Row ``i`` in :meth:`RunningMeanStd.state_dict`'s format."""
        return {"mean": self.mean[i].copy(), "var": self.var[i].copy(), "count": float(self.count[i])}

    def load_lane_state(self, i: int, state: dict[str, Any]) -> None:
        self.mean[i] = np.asarray(state["mean"], dtype=np.float64)
        self.var[i] = np.asarray(state["var"], dtype=np.float64)
        self.count[i] = float(state["count"])


class LaneObsNormalizer:
    """:class:`ObsNormalizer` for L lanes with their own statistics, clip and ``enabled`` flag."""

    def __init__(self, lanes: int, shape: tuple[int, ...], clips: list[float], enabled: list[bool],
                 eps: float = 1e-8) -> None:
        self.rms = LaneRunningMeanStd(lanes, shape)
        self.clip = np.array(clips, dtype=np.float64)
        self.enabled = np.array(enabled, dtype=bool)
        self.eps = eps

    def __call__(self, obs: np.ndarray, update: bool = True) -> np.ndarray:
        """Normalise lane l's observations ``obs[l]`` (L, n, *shape) with lane l's statistics, float32."""
        if update:
            if self.enabled.all():
                self.rms.update(obs)
            elif self.enabled.any():   # a lane without normalisation keeps its initial statistics
                before = (self.rms.mean.copy(), self.rms.var.copy(), self.rms.count.copy())
                self.rms.update(obs)
                off = ~self.enabled
                self.rms.mean[off], self.rms.var[off], self.rms.count[off] = (b[off] for b in before)
        lanes = (slice(None),) + (None,) * (obs.ndim - 1)
        out = (obs - self.rms.mean[:, None]) / np.sqrt(self.rms.var[:, None] + self.eps)
        clip = self.clip[lanes]
        normalised = np.clip(out, -clip, clip).astype(np.float32)
        if not self.enabled.all():
            normalised[~self.enabled] = np.asarray(obs[~self.enabled], dtype=np.float32)
        return normalised

    def lane(self, i: int, obs: np.ndarray) -> np.ndarray:
        """Lane ``i``'s normalisation of ``obs`` (n, *shape) without updating: ``ObsNormalizer(obs, update=False)``."""
        if not self.enabled[i]:
            return np.asarray(obs, dtype=np.float32)
        out = (obs - self.rms.mean[i]) / np.sqrt(self.rms.var[i] + self.eps)
        clipped: np.ndarray = np.clip(out, -self.clip[i], self.clip[i]).astype(np.float32)
        return clipped

    def lane_state(self, i: int) -> dict[str, Any]:
        """Lane ``i`` in :meth:`ObsNormalizer.state_dict`'s format."""
        return {"rms": self.rms.lane_state(i), "clip": float(self.clip[i]), "eps": self.eps,
                "enabled": bool(self.enabled[i])}

    def load_lane_state(self, i: int, state: dict[str, Any]) -> None:
        if float(state["eps"]) != self.eps:
            raise ValueError(f"lane {i}: observation normaliser eps {state['eps']} differs from {self.eps}")
        self.rms.load_lane_state(i, state["rms"])
        self.clip[i] = float(state["clip"])
        self.enabled[i] = bool(state["enabled"])


class LaneRewardScaler:
    """:class:`RewardScaler` for L lanes of ``num_envs`` environments, with their own γ, clip and flag."""

    def __init__(self, lanes: int, num_envs: int, gammas: list[float], clips: list[float], enabled: list[bool],
                 eps: float = 1e-8) -> None:
        self.rms = LaneRunningMeanStd(lanes, ())
        self.returns = np.zeros((lanes, num_envs), dtype=np.float64)
        self.gamma = np.array(gammas, dtype=np.float64)
        self.clip = np.array(clips, dtype=np.float64)
        self.enabled = np.array(enabled, dtype=bool)
        self.eps = eps

    def __call__(self, reward: np.ndarray, done: np.ndarray) -> np.ndarray:
        """Scaled rewards (L, n) for one vector step of every lane (:meth:`RewardScaler.__call__`, per lane)."""
        r = np.asarray(reward, dtype=np.float64)
        self.returns = self.returns * self.gamma[:, None] + r
        before = None if self.enabled.all() else (self.rms.mean.copy(), self.rms.var.copy(), self.rms.count.copy())
        self.rms.update(self.returns)   # lane l's n returns: RewardScaler's rms.update(returns)
        self.returns[np.asarray(done, dtype=bool)] = 0.0
        scaled = np.clip(r / np.sqrt(self.rms.var[:, None] + self.eps), -self.clip[:, None], self.clip[:, None])
        out = scaled.astype(np.float32)
        if before is not None:
            off = ~self.enabled
            self.rms.mean[off], self.rms.var[off], self.rms.count[off] = (b[off] for b in before)
            self.returns[off] = 0.0
            out[off] = r[off].astype(np.float32)
        return out

    def lane_state(self, i: int) -> dict[str, Any]:
        """Lane ``i`` in :meth:`RewardScaler.state_dict`'s format."""
        return {"rms": self.rms.lane_state(i), "returns": self.returns[i].copy(), "gamma": float(self.gamma[i]),
                "clip": float(self.clip[i]), "eps": self.eps, "enabled": bool(self.enabled[i])}

    def load_lane_state(self, i: int, state: dict[str, Any]) -> None:
        if float(state["eps"]) != self.eps:
            raise ValueError(f"lane {i}: reward scaler eps {state['eps']} differs from {self.eps}")
        self.rms.load_lane_state(i, state["rms"])
        self.returns[i] = np.asarray(state["returns"], dtype=np.float64)
        self.gamma[i] = float(state["gamma"])
        self.clip[i] = float(state["clip"])
        self.enabled[i] = bool(state["enabled"])
