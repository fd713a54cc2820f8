"""The Stable-Baselines3 peer that the speed benchmarks measure pgcheck against, defined once.

SB3's PPO on Hopper-v5 with the hyperparameters of pgcheck's ``ppo`` preset (2048 steps per rollout,
minibatches of 64, 10 epochs, lr 3e-4, γ 0.99, λ 0.95, clip 0.2, grad-norm clip 0.5, 64-64 tanh ``MlpPolicy``,
observation and reward normalisation by ``VecNormalize``), one environment, one torch thread, CPU.
Stable-Baselines3 is a benchmark-only dependency, in no extra: callers check that it imports first.
"""

from __future__ import annotations

import itertools
import time
from typing import NamedTuple

ROLLOUT = 2048


class PeerTiming(NamedTuple):
    """One SB3 training call: the steps per wall second of every rollout+update cycle, and the totals."""

    cycle_sps: list[float]
    wall_seconds: float
    cpu_seconds: float
    steps: int


def train_sb3_ppo(steps: int, env_id: str = "Hopper-v5", seed: int = 0) -> PeerTiming:
    """Train SB3's PPO for ``steps`` environment steps and time each cycle (rollout start to rollout start;
    the last cycle ends when ``learn`` returns)."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    torch.set_num_threads(1)
    env = VecNormalize(make_vec_env(env_id, n_envs=1, seed=seed), gamma=0.99)
    model = PPO("MlpPolicy", env, n_steps=ROLLOUT, batch_size=64, n_epochs=10, learning_rate=3e-4, gamma=0.99,
                gae_lambda=0.95, clip_range=0.2, max_grad_norm=0.5, device="cpu", seed=seed, verbose=0)
    stamps: list[float] = []

    # without stable_baselines3 installed BaseCallback is Any (misc: subclassing Any); with it, typed
    class Record(BaseCallback):  # type: ignore[misc, unused-ignore]
        def _on_rollout_start(self) -> None:
            stamps.append(time.perf_counter())

        def _on_step(self) -> bool:
            return True

    t0, c0 = time.perf_counter(), time.process_time()
    model.learn(total_timesteps=steps, callback=Record())
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    stamps.append(t0 + wall)
    cycle_sps = [ROLLOUT / (b - a) for a, b in itertools.pairwise(stamps)]
    return PeerTiming(cycle_sps, wall, cpu, int(model.num_timesteps))
