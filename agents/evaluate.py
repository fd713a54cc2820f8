"""Evaluate a saved run: deterministic actions (the mean of π), the run's saved normalisation statistics.

Evaluation episodes use their own seeds (``10**6 + config seed``, then consecutive), so they never
replay training episodes, and statistics are frozen (nothing is updated while evaluating).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.envs import make_env
from agents.normalize import ObsNormalizer
from agents.policy import ActorCritic
from agents.ppo import PPOConfig
from agents.rundir import CHECKPOINT, load_checkpoint, read_config, restoring, write_json
from pgcheck.errors import UserError


def load_policy(run: Path) -> tuple[PPOConfig, ActorCritic, ObsNormalizer, dict[str, Any]]:
    """The run's config, policy (on CPU) and frozen observation normaliser, from its checkpoint."""
    config = read_config(run)
    state = load_checkpoint(run)
    if state is None:
        raise UserError(f"{run} has no checkpoint yet (the run has not completed an update)")
    with restoring(run / CHECKPOINT):
        policy_state = state["policy"]
        obs_dim = int(policy_state["actor.0.weight"].shape[1])
        act_dim = int(policy_state["log_std"].shape[0])
        policy = ActorCritic(obs_dim, act_dim, config.hidden_sizes, config.log_std_init)
        policy.load_state_dict(policy_state)
        norm = ObsNormalizer((obs_dim,))
        norm.load_state_dict(state["obs_norm"])
        int(state["global_step"])
    return config, policy, norm, state


def evaluate_run(run: Path, episodes: int = 10, seed: int | None = None) -> dict[str, Any]:
    """:func:`evaluate_policy`, its result written to RUN/evaluation.json."""
    result = evaluate_policy(run, episodes, seed)
    save_evaluation(run, result)
    return result


def save_evaluation(run: Path, result: dict[str, Any]) -> Path:
    write_json(run / "evaluation.json", result)
    return run / "evaluation.json"


def evaluate_policy(run: Path, episodes: int = 10, seed: int | None = None) -> dict[str, Any]:
    """The run's policy over ``episodes`` deterministic episodes; writes nothing."""
    config, policy, norm, state = load_policy(run)
    env = make_env(config.env_id)
    actor = policy.numpy_actor()
    space: Any = env.action_space
    low, high = space.low.astype(np.float32), space.high.astype(np.float32)
    base = 10**6 + config.seed if seed is None else seed
    returns, lengths = [], []
    t0 = time.perf_counter()
    with torch.inference_mode():
        for k in range(episodes):
            obs, _ = env.reset(seed=base + k)
            total, n, done = 0.0, 0, False
            while not done:
                a = actor.mean(norm(np.asarray(obs, dtype=np.float64)[None], update=False))[0]
                obs, r, term, trunc, _ = env.step(np.clip(a, low, high))
                total += float(r)
                n += 1
                done = bool(term or trunc)
            returns.append(total)
            lengths.append(n)
    env.close()
    result = {"run": str(run), "env_id": config.env_id, "checkpoint_step": int(state["global_step"]),
              "episodes": episodes, "seed": base, "deterministic": True,
              "mean_return": float(np.mean(returns)), "std_return": float(np.std(returns)),
              "returns": returns, "lengths": lengths, "seconds": time.perf_counter() - t0}
    return result
