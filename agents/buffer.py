"""The rollout buffer (preallocated numpy arrays) and generalised advantage estimation.

Truncation is handled here, in one place. For step t of environment i:

* ``terminated``: the episode really ended (the next state is absorbing), so nothing is bootstrapped:
  ``δ_t = r_t − V(s_t)``.
* ``truncated`` (a time limit cut the episode; not terminated): the episode could have gone on, so the
  target bootstraps from the value of the *final observation* ``s_T`` that the environment returned
  before it was reset: ``δ_t = r_t + γ V(s_T) − V(s_t)``.
* either way the advantage recursion stops at the episode boundary:
  ``A_t = δ_t + γλ (1 − done_t) A_{t+1}``, ``done = terminated or truncated``.

``next_values[t, i]`` holds the value to bootstrap from: ``V(s_{t+1})`` inside an episode, ``V(s_T)`` at
a truncation, anything (ignored) at a termination.
"""

from __future__ import annotations

import numpy as np


def compute_gae(rewards: np.ndarray, values: np.ndarray, next_values: np.ndarray, terminated: np.ndarray,
                dones: np.ndarray, gamma: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Advantages and value targets (advantage + value), arrays of shape (T, n_envs)."""
    steps = rewards.shape[0]
    adv = np.zeros_like(rewards, dtype=np.float32)
    not_term = 1.0 - terminated.astype(np.float32)
    not_done = 1.0 - dones.astype(np.float32)
    deltas = rewards + gamma * not_term * next_values - values
    last = np.zeros(rewards.shape[1], dtype=np.float32)
    for t in range(steps - 1, -1, -1):
        last = deltas[t] + gamma * lam * not_done[t] * last
        adv[t] = last
    return adv, adv + values


def monte_carlo_returns(rewards: np.ndarray, dones: np.ndarray, gamma: float) -> np.ndarray:
    """REINFORCE's return-to-go (seed 001 §4.1, ``G_t = Σ_k γ^k r_{t+k+1}`` in the seed's indices; here
    ``rewards[t]`` is the reward after the action at step t): ``G_t = r_t + γ (1 − done_t) G_{t+1}``, with
    ``G = 0`` after the rollout's last step. Arrays of shape (T, n_envs).

    Nothing is bootstrapped, because REINFORCE has no critic (seed 001 Table 2 gives it no λ): the sum stops
    at a termination (exact), at a time-limit truncation (the rewards after the limit are not part of the
    episode: G is the return of the episode as it was run, as seed 001's code computes it), and at the
    rollout's end (an episode still running there is cut: its last steps get the rewards seen so far only).
    The result has the rewards' dtype.
    """
    out = np.zeros_like(rewards)            # the rewards' dtype: float32 from the buffer, float64 in the proofs
    not_done = 1.0 - dones.astype(rewards.dtype)
    acc = np.zeros(rewards.shape[1], dtype=rewards.dtype)
    for t in range(rewards.shape[0] - 1, -1, -1):
        acc = rewards[t] + gamma * not_done[t] * acc
        out[t] = acc
    return out


class RolloutBuffer:
    """One rollout of ``num_steps`` vector steps over ``num_envs`` environments."""

    def __init__(self, num_steps: int, num_envs: int, obs_dim: int, act_dim: int) -> None:
        self.num_steps, self.num_envs = num_steps, num_envs
        self.obs = np.zeros((num_steps, num_envs, obs_dim), dtype=np.float32)
        self.actions = np.zeros((num_steps, num_envs, act_dim), dtype=np.float32)
        self.rewards = np.zeros((num_steps, num_envs), dtype=np.float32)
        self.terminated = np.zeros((num_steps, num_envs), dtype=bool)
        self.dones = np.zeros((num_steps, num_envs), dtype=bool)
        # truncations inside the rollout: (t, env index, normalised final observation)
        self.truncations: list[tuple[int, int, np.ndarray]] = []
        self.last_obs = np.zeros((num_envs, obs_dim), dtype=np.float32)  # s_{T}: after the last step

    def reset(self) -> None:
        self.truncations.clear()

    def next_values(self, values: np.ndarray, last_value: np.ndarray, trunc_values: np.ndarray) -> np.ndarray:
        """Bootstrap values per step: V(s_{t+1}) shifted from ``values``, V(final obs) at truncations."""
        nv = np.empty_like(values)
        nv[:-1] = values[1:]
        nv[-1] = last_value
        for k, (t, i, _) in enumerate(self.truncations):
            nv[t, i] = trunc_values[k]
        nv[self.terminated] = 0.0
        return nv


ROW_BYTES = 64


def lane_rows(lanes: int, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """Zeros of shape (lanes, *shape) whose row l is a C-contiguous block starting a multiple of ROW_BYTES
    after row 0 (rows are padded), so that every row is at least as aligned as a separately allocated array:
    BLAS picks its kernel by alignment, and a lane's observations at another alignment than the single run's
    give other bits in the value forward pass (measured: two environments per lane, 88-byte offsets)."""
    item = np.dtype(dtype).itemsize
    count = int(np.prod(shape))
    stride = -(-count * item // ROW_BYTES) * ROW_BYTES // item
    rows: np.ndarray = np.zeros((lanes, stride), dtype=dtype)[:, :count].reshape(lanes, *shape)
    return rows


class LaneBuffers:
    """The rollout buffers of L lanes as stacked arrays (L, num_steps, num_envs, ...), written for all lanes at
    once; ``lanes[l]`` is an ordinary :class:`RolloutBuffer` whose arrays are the (contiguous, aligned) views
    of row l (:func:`lane_rows`), so each lane's rollout is evaluated by the single-run code."""

    def __init__(self, lanes: int, num_steps: int, num_envs: int, obs_dim: int, act_dim: int) -> None:
        shape = (num_steps, num_envs)
        self.obs = lane_rows(lanes, (*shape, obs_dim), np.float32)
        self.actions = lane_rows(lanes, (*shape, act_dim), np.float32)
        self.rewards = lane_rows(lanes, shape, np.float32)
        self.terminated = lane_rows(lanes, shape, np.bool_)
        self.dones = lane_rows(lanes, shape, np.bool_)
        self.last_obs = lane_rows(lanes, (num_envs, obs_dim), np.float32)
        self.lanes: list[RolloutBuffer] = []
        for i in range(lanes):
            buf = RolloutBuffer(0, num_envs, obs_dim, act_dim)
            buf.num_steps = num_steps
            buf.obs, buf.actions, buf.rewards = self.obs[i], self.actions[i], self.rewards[i]
            buf.terminated, buf.dones, buf.last_obs = self.terminated[i], self.dones[i], self.last_obs[i]
            self.lanes.append(buf)

    def reset(self) -> None:
        for buf in self.lanes:
            buf.reset()
